# SPDX-License-Identifier: Apache-2.0
"""tidefs stats and mount --metrics through a real mount.

1. the --metrics endpoint speaks Prometheus text 0.0.4 (a strict parser
   below: HELP/TYPE before each family, `name{labels} value` samples,
   known types); counters never go back between scrapes and the byte
   counters grow by exactly what the test wrote and at least what it read
2. anything but GET /metrics is refused (404, 405, oversized request 431)
3. tidefs stats --count 2 prints two sane lines while I/O runs
4. a bad or busy --metrics address, and stats on a non-tidefs directory:
   one-line error, non-zero exit, nothing mounted
"""

import http.client
import os
import re
import socket
import threading

from opslib import ok, one_line_error, write

MIB = 1 << 20
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(rf"^({NAME})(\{{(?:{LABEL}(?:,{LABEL})*)?\}})? (\S+)$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_prometheus(text):
    """{(name, labels): value}; raises AssertionError on any malformed line."""
    assert text.endswith("\n"), "exposition must end with a newline"
    helps, types, samples = set(), {}, {}
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {n}: {line!r}"
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert re.fullmatch(NAME, name) and name not in helps, where
            helps.add(name)
        elif line.startswith("# TYPE "):
            parts = line.split(" ")
            assert len(parts) == 4 and parts[3] in TYPES and parts[2] not in types, where
            assert not any(k[0] == parts[2] for k in samples), f"TYPE after samples, {where}"
            types[parts[2]] = parts[3]
        else:
            m = SAMPLE.match(line)
            assert m, where
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            assert name in types and name in helps, f"sample without HELP/TYPE, {where}"
            v = float(value)  # raises on garbage
            assert v >= 0 or types[name] == "gauge", where
            assert (name, labels) not in samples, f"duplicate sample, {where}"
            samples[(name, labels)] = v
    return samples, types


def scrape(port, path="/metrics", method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read().decode()
    finally:
        c.close()


def metrics(port):
    status, ctype, body = scrape(port)
    assert status == 200, body
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    return parse_prometheus(body)


def test_metrics_endpoint(volume_factory):
    port = free_port()
    vol = volume_factory(mount_args=("--metrics", f"127.0.0.1:{port}"))
    first, types = metrics(port)
    for fam in ("tidefs_fuse_ops_total", "tidefs_fuse_read_bytes_total", "tidefs_fuse_written_bytes_total",
                "tidefs_object_requests_total", "tidefs_cache_hits_total"):
        assert types.get(fam) == "counter", fam
    assert types["tidefs_memory_used_bytes"] == "gauge"
    assert ("tidefs_fuse_ops_total", '{op="write"}') in first

    data = os.urandom(5 * MIB + 123)
    assert write(vol.mnt / "f", data) == 0
    with open(vol.mnt / "f", "rb") as f:
        assert f.read() == data
    second, _ = metrics(port)

    for key, v in first.items():
        if types[key[0]] == "counter":
            assert second[key] >= v, f"counter {key} went back: {v} -> {second[key]}"
    grew = {k[0] + k[1]: second[k] - first.get(k, 0) for k in second}
    assert grew["tidefs_fuse_written_bytes_total"] == len(data)
    assert len(data) <= grew["tidefs_fuse_read_bytes_total"] <= 2 * len(data)
    assert grew['tidefs_fuse_ops_total{op="write"}'] >= 1
    assert grew['tidefs_fuse_ops_total{op="create"}'] == 1
    assert grew['tidefs_fuse_ops_total{op="fsync"}'] >= 1
    assert grew['tidefs_fuse_op_seconds_total{op="write"}'] > 0
    assert grew['tidefs_object_requests_total{type="put"}'] >= 2  # 5 MiB: two 4 MiB blocks at least
    assert second[("tidefs_slices_committed_total", "")] >= 1


def test_metrics_refuses_other_requests(volume_factory):
    port = free_port()
    volume_factory(mount_args=("--metrics", str(port)))  # a bare port: loopback
    assert scrape(port, "/")[0] == 404
    assert scrape(port, "/metricsx")[0] == 404
    assert scrape(port, "/metrics", method="POST")[0] == 405
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
        except OSError:
            pass  # the server may close before reading it all
        assert s.recv(100).startswith(b"HTTP/1.1 431 ")
    # a client that connects and says nothing does not stop the next one
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        assert metrics(port)[0]
    finally:
        idle.close()


def test_stats_lines(volume_factory):
    vol = volume_factory()
    stop = threading.Event()

    def load():
        i = 0
        while not stop.is_set():
            write(vol.mnt / f"w{i % 4}", os.urandom(MIB), fsync=False)
            i += 1

    t = threading.Thread(target=load)
    t.start()
    try:
        r = ok(vol, "stats", "--count", "2", vol.mnt, timeout=30)
    finally:
        stop.set()
        t.join()
    lines = r.stdout.splitlines()
    assert len(lines) == 2, r.stdout
    line = re.compile(r"^\d\d:\d\d:\d\d  ops/s (\d+)(?: \(([a-z_]+ \d+(?: [a-z_]+ \d+)*)\))?  read ([\d.]+) MiB/s"
                      r"  write ([\d.]+) MiB/s  cache hit (-|[\d.]+%)  GET (\d+)/s  PUT (\d+)/s$")
    total_write = 0.0
    for text in lines:
        m = line.match(text)
        assert m, text
        ops = dict(zip(m.group(2).split()[::2], map(int, m.group(2).split()[1::2]))) if m.group(2) else {}
        assert sum(ops.values()) <= int(m.group(1)) + len(ops), text  # rounding
        total_write += float(m.group(4))
        assert float(m.group(3)) < 10000 and float(m.group(4)) < 10000, text
    assert total_write > 0, r.stdout
    assert "write" in r.stdout


def test_bad_metrics_address_and_stats_target(volume_factory, tmp_path):
    vol = volume_factory(mount=False)
    vol.mnt.mkdir(exist_ok=True)
    for addr, words in (("nope:99999", ("--metrics", "nope:99999")), ("127.0.0.1:", ("--metrics",)),
                        ("::1:80", ("--metrics",)), ("no-such-host.invalid:80", ("--metrics", "resolve"))):
        r = ok(vol, "mount", "-d", "--metrics", addr, vol.meta_url, vol.mnt, code=2)
        one_line_error(r, *words)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        addr = f"127.0.0.1:{busy.getsockname()[1]}"
        r = ok(vol, "mount", "-d", "--metrics", addr, vol.meta_url, vol.mnt, code=1)
        one_line_error(r, "--metrics", addr, "in use")
    assert not os.path.ismount(vol.mnt)
    r = ok(vol, "stats", "--count", "1", tmp_path, code=1)
    one_line_error(r, "not a tidefs mount point")
    r = ok(vol, "stats", "--count", "x", tmp_path, code=2)
    one_line_error(r, "--count")
