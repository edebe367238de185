# SPDX-License-Identifier: Apache-2.0
"""Starts and signals the fake kubelet's container processes on behalf of
the test process. The test process holds files open on the FUSE mounts it
tests, and a child forked from it would close them (FUSE FLUSH) while the
daemon that has to answer is the very process being started: a deadlock no
real kubelet has, since it is a separate process. This launcher is started
before any mount exists. JSON lines on stdin:
  {"op": "spawn", "id": N, "argv": [...], "env": {...}, "log": PATH}
  {"op": "signal", "pid": P, "sig": S}
and on stdout: {"id": N, "pid": P} once started, {"exit": P, "rc": R} at exit."""
import json
import os
import subprocess
import sys
import threading

lock = threading.Lock()


def say(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def watch(p):
    say({"exit": p.pid, "rc": p.wait()})


for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "spawn":
        with open(req["log"], "wb") as log:
            p = subprocess.Popen(req["argv"], env=req["env"], stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        say({"id": req["id"], "pid": p.pid})
        threading.Thread(target=watch, args=(p,), daemon=True).start()
    elif req["op"] == "signal":
        try:
            os.kill(req["pid"], req["sig"])
        except ProcessLookupError:
            pass
