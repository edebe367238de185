#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# A fault-injecting HTTP/1.1 proxy for the S3 tests: sits between tidefs and
# a real S3-compatible server on loopback, forwards requests on keep-alive
# connections, and, by rules set at run time, answers some requests itself
# with an error status (503 SlowDown, 500, 502, 504, 429, 400, 403, 404),
# resets the connection, stalls a response mid-body, flips a bit in a GET
# body, or answers 200 with an <Error> body. It counts every request per
# "METHOD path" so the tests can check attempts per request.
#
# Control (never forwarded): POST /__proxy/rules with a JSON list of rules,
# GET /__proxy/stats, POST /__proxy/reset (clears rules and counts).
# A rule: {"method": "PUT"|"GET"|...|"*", "path": substring or "",
#          "prob": 0..1, "limit": max times (0 = no limit),
#          "action": "status"|"reset"|"stall"|"flip"|"error200",
#          "status": 503, "code": "SlowDown", "stall_s": 30}
# Rules are tried in order; each matching rule draws once (seeded RNG).
#
#   faultproxy.py --listen PORT --upstream PORT [--seed N] [--port-file F]
import argparse
import json
import random
import socket
import socketserver
import struct
import sys
import threading
import time

MAX_HEAD = 64 * 1024


class State:
    """Rules and counters, shared by all connections (under lock)."""

    def __init__(self, seed):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.rules = []
        self.fired = []
        self.counts = {}
        self.faults = {}

    def reset(self):
        with self.lock:
            self.rules, self.fired, self.counts, self.faults = [], [], {}, {}

    def set_rules(self, rules):
        with self.lock:
            self.rules = rules
            self.fired = [0] * len(rules)

    def count(self, method, path):
        with self.lock:
            k = method + " " + path
            self.counts[k] = self.counts.get(k, 0) + 1

    def pick(self, method, path):
        """The rule that fires for this request, or None."""
        with self.lock:
            for i, r in enumerate(self.rules):
                if r.get("method", "*") not in ("*", method):
                    continue
                if r.get("path", "") not in path:
                    continue
                if r.get("limit", 0) and self.fired[i] >= r["limit"]:
                    continue
                if self.rng.random() < r.get("prob", 1.0):
                    self.fired[i] += 1
                    name = r["action"] + ("" if r["action"] != "status" else " %d" % r.get("status", 503))
                    self.faults[name] = self.faults.get(name, 0) + 1
                    return r
            return None

    def stats(self):
        with self.lock:
            return {"requests": dict(self.counts), "faults": dict(self.faults)}


def read_head(rfile):
    """Reads a request or response head; returns (first line, [(name, value)]) or None at EOF."""
    lines, size = [], 0
    while True:
        line = rfile.readline(MAX_HEAD)
        if not line:
            return None
        size += len(line)
        if size > MAX_HEAD:
            raise ValueError("header too large")
        if line in (b"\r\n", b"\n"):
            break
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))
    if not lines:
        return None
    headers = []
    for h in lines[1:]:
        name, _, value = h.partition(":")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def header(headers, name):
    for n, v in headers:
        if n.lower() == name.lower():
            return v
    return None


def read_body(rfile, headers):
    """The body as bytes (Content-Length or chunked, chunked is re-encoded raw)."""
    n = header(headers, "Content-Length")
    if n is not None:
        return rfile.read(int(n))
    if (header(headers, "Transfer-Encoding") or "").lower() == "chunked":
        out = bytearray()
        while True:
            line = rfile.readline(1024)
            out += line
            size = int(line.split(b";")[0].strip(), 16)
            chunk = rfile.read(size + 2)
            out += chunk
            if size == 0:
                # trailers end with an empty line (already read as chunk's CRLF)
                return bytes(out)
    return b""


def head_bytes(first, headers):
    return (first + "\r\n" + "".join("%s: %s\r\n" % h for h in headers) + "\r\n").encode("latin-1")


def error_xml(code):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            "<Message>injected by faultproxy</Message><RequestId>fault</RequestId></Error>" % code).encode()


class Handler(socketserver.StreamRequestHandler):
    rbufsize = 1 << 20

    def setup(self):
        super().setup()
        self.upstream = None
        self.up_rfile = None

    def finish(self):
        self.close_upstream()
        try:
            super().finish()
        except OSError:
            pass

    def close_upstream(self):
        if self.upstream:
            self.upstream.close()
            self.upstream = None
            self.up_rfile = None

    def ensure_upstream(self):
        if not self.upstream:
            self.upstream = socket.create_connection(("127.0.0.1", self.server.upstream_port))
            self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.up_rfile = self.upstream.makefile("rb", 1 << 20)

    def send(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def answer(self, status, reason, body, ctype="application/xml"):
        hdrs = [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Connection", "keep-alive")]
        self.send(head_bytes("HTTP/1.1 %d %s" % (status, reason), hdrs) + body)

    def control(self, method, path, body):
        st = self.server.state
        if path == "/__proxy/stats":
            self.answer(200, "OK", json.dumps(st.stats()).encode(), "application/json")
        elif path == "/__proxy/reset" and method == "POST":
            st.reset()
            self.answer(200, "OK", b"{}", "application/json")
        elif path == "/__proxy/rules" and method == "POST":
            st.set_rules(json.loads(body or b"[]"))
            self.answer(200, "OK", b"{}", "application/json")
        else:
            self.answer(404, "Not Found", b"unknown control path", "text/plain")

    def reset_connection(self):
        # SO_LINGER 0: close() sends RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def forward(self, first, headers, body, rule):
        """Sends the request upstream and relays the answer, applying rule."""
        self.ensure_upstream()
        self.upstream.sendall(head_bytes(first, headers) + body)
        got = read_head(self.up_rfile)
        if got is None:
            raise ConnectionError("upstream closed")
        rfirst, rheaders = got
        method = first.split(" ", 1)[0]
        rbody = b"" if method == "HEAD" else read_body(self.up_rfile, rheaders)
        status = int(rfirst.split(" ")[1])
        action = rule["action"] if rule else None
        if action == "flip" and 200 <= status < 300 and rbody:
            b = bytearray(rbody)
            pos = self.server.state.rng.randrange(len(b))
            b[pos] ^= 1 << self.server.state.rng.randrange(8)
            rbody = bytes(b)
        if action == "stall" and rbody:
            # Headers and half the body, then nothing until the client gives up.
            self.send(head_bytes(rfirst, rheaders) + rbody[: len(rbody) // 2])
            time.sleep(rule.get("stall_s", 30))
            return False
        self.send(head_bytes(rfirst, rheaders) + rbody)
        conn = (header(rheaders, "Connection") or "").lower()
        if conn == "close":
            self.close_upstream()
        return True

    def handle_one(self):
        got = read_head(self.rfile)
        if got is None:
            return False
        first, headers = got
        method, target = first.split(" ")[0], first.split(" ")[1]
        path = target.split("?", 1)[0]
        body = read_body(self.rfile, headers)
        if path.startswith("/__proxy/"):
            self.control(method, path, body)
            return True
        st = self.server.state
        st.count(method, path)
        rule = st.pick(method, path)
        action = rule["action"] if rule else None
        if action == "status":
            code = rule.get("status", 503)
            self.answer(code, "Injected", b"" if method == "HEAD" else error_xml(rule.get("code", "InternalError")))
            return True
        if action == "error200":
            self.answer(200, "OK", error_xml(rule.get("code", "InternalError")))
            return True
        if action == "reset":
            self.reset_connection()
            return False
        return self.forward(first, headers, body, rule)

    def handle(self):
        try:
            while self.handle_one():
                pass
        except (OSError, ValueError, ConnectionError):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.listen), Handler)
    srv.upstream_port = a.upstream
    srv.state = State(a.seed)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    print("faultproxy: 127.0.0.1:%d -> 127.0.0.1:%d" % (srv.server_address[1], a.upstream), file=sys.stderr)
    srv.serve_forever()


if __name__ == "__main__":
    main()
