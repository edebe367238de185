# SPDX-License-Identifier: Apache-2.0
"""A recording HTTP(S) server for the Kubernetes client tests.

Every request is recorded whole (method, path, decoded query, headers, raw
body); the answer comes from a function the test installs, so each test
states exactly what the API server says. TLS material (a CA, a server
certificate for 127.0.0.1/localhost, a client certificate) is made with
the openssl command once per session.
"""
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import urllib.parse


class Request:
    def __init__(self, handler, body):
        self.method = handler.command
        url = urllib.parse.urlsplit(handler.path)
        self.path = url.path
        self.raw_query = url.query
        self.query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        self.body = body
        cert = handler.connection.getpeercert() if isinstance(handler.connection, ssl.SSLSocket) else None
        self.client_cn = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        self.client_cn = v

    def json(self):
        return json.loads(self.body)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        req = Request(self, body)
        srv = self.server.recorder
        with srv.lock:
            srv.requests.append(req)
        status, payload, headers = srv.respond(req)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", (headers or {}).get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, family):
        self.address_family = family
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address):
        pass  # refused TLS handshakes are what some tests are about


class Recorder:
    """Serves on 127.0.0.1 (or ::1) on a free port until stop()."""

    def __init__(self, tls=None, host="127.0.0.1"):
        self.requests = []
        self.lock = threading.Lock()
        self.respond = lambda req: (200, {}, None)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server = _Server((host, 0), family)
        self.server.recorder = self
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def status(code, reason, message):
    """A Kubernetes Status object as the API server sends with errors."""
    return (code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "reason": reason, "message": message, "code": code}, None)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """CA, server cert (127.0.0.1, ::1, localhost), client cert CN=tidefs-test,
    and a second, unrelated CA. Returns a dict of paths."""
    os.makedirs(d, exist_ok=True)
    for ca in ("ca", "otherca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca}",
                 "-keyout", f"{ca}.key", "-out", f"{ca}.crt", cwd=d)
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n")
    for name, cn in (("server", "kube-apiserver"), ("client", "tidefs-test")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=d)
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.crt", *extra, cwd=d)
    return {k: os.path.join(d, k) for k in
            ("ca.crt", "ca.key", "otherca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def server_tls(pki, require_client=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server.crt"], pki["server.key"])
    if require_client:
        ctx.load_verify_locations(pki["ca.crt"])
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
