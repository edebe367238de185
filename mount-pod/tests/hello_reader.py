# SPDX-License-Identifier: Apache-2.0
"""A reader that loops over handoff_hellofs's files while daemons are killed
and replaced under it. Every read goes to a daemon (the files are direct_io).
It stops at the first error (printing which), or when the stop file appears,
and prints one JSON line: iterations, bytes, the daemon pids it saw in /pid,
the slowest single read, and the error if any.

    hello_reader.py MOUNTPOINT STOPFILE
"""
import array
import errno
import json
import os
import sys
import time

DATA_SIZE = 16 << 20
CHUNK = 1 << 20


def expected_data():
    return array.array("Q", range(DATA_SIZE // 8)).tobytes()


def read_file(path, chunk, stats):
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while True:
            t0 = time.monotonic()
            b = os.read(fd, chunk)
            stats["max_op_s"] = max(stats["max_op_s"], time.monotonic() - t0)
            if not b:
                return b"".join(parts)
            parts.append(b)
    finally:
        os.close(fd)


def main():
    mnt, stop = sys.argv[1], sys.argv[2]
    want = expected_data()
    stats = {"iterations": 0, "bytes": 0, "pids": [], "max_op_s": 0.0, "error": None}
    try:
        while not os.path.exists(stop):
            data = read_file(os.path.join(mnt, "data"), CHUNK, stats)
            if data != want:
                stats["error"] = "data mismatch (%d bytes read)" % len(data)
                break
            pid = int(read_file(os.path.join(mnt, "pid"), 64, stats))
            if pid not in stats["pids"]:
                stats["pids"].append(pid)
            stats["iterations"] += 1
            stats["bytes"] += len(data)
    except OSError as e:
        stats["error"] = "%s (%s)" % (errno.errorcode.get(e.errno, e.errno), e.strerror)
    print(json.dumps(stats), flush=True)
    return 1 if stats["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
