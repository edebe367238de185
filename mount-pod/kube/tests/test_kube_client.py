# SPDX-License-Identifier: Apache-2.0
"""The Kubernetes client (mount-pod/kube) against a recording HTTPS server.

kube_tool runs one client operation per process; each test says what the
"API server" answers and checks the exact request the client made: method,
path, query, headers, body, TLS client certificate, bearer token."""
import base64
import json
import os
import subprocess
import time

import pytest

from recorder import Recorder, make_pki, server_tls, status

BUILD = os.environ.get("BUILD", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../../build")))
TOOL = os.path.join(BUILD, "tests/mount-pod/kube/tests/kube_tool")


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(str(tmp_path_factory.mktemp("pki")))


def b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(path, port, pki, user=None, namespace="ns1", ca="ca.crt", host="127.0.0.1"):
    user = user if user is not None else (
        f"    client-certificate-data: {b64(pki['client.crt'])}\n"
        f"    client-key-data: {b64(pki['client.key'])}\n")
    text = (
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        "clusters:\n- name: c1\n  cluster:\n"
        f"    server: https://{host}:{port}/\n"
        f"    certificate-authority-data: {b64(pki[ca])}\n"
        "contexts:\n- name: test\n  context:\n    cluster: c1\n    user: u1\n"
        f"    namespace: {namespace}\n"
        "- name: other\n  context: {cluster: c1, user: u1}\n"
        f"users:\n- name: u1\n  user:\n{user}")
    with open(path, "w") as f:
        f.write(text)
    return path


def run(args, stdin=None, env=None, timeout=30):
    p = subprocess.run([TOOL, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                       env=env if env is not None else {"PATH": "/usr/bin:/bin"})
    return p.returncode, p.stdout.strip(), p.stderr.strip()


@pytest.fixture
def server(pki):
    srv = Recorder(tls=server_tls(pki))
    yield srv
    srv.stop()


@pytest.fixture
def kc(tmp_path, server, pki):
    return kubeconfig(str(tmp_path / "kubeconfig"), server.port, pki)


def test_create_sends_exact_request_with_client_certificate(server, kc):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"}, "spec": {"containers": []}}
    server.respond = lambda req: (201, {**req.json(), "metadata": {"name": "p1", "uid": "u-1"}}, None)
    rc, out, err = run(["--kubeconfig", kc, "create", "ns1", "pods", json.dumps(pod)])
    assert rc == 0, err
    assert json.loads(out)["metadata"]["uid"] == "u-1"
    [req] = server.requests
    assert (req.method, req.path, req.raw_query) == ("POST", "/api/v1/namespaces/ns1/pods", "")
    assert req.headers["content-type"] == "application/json"
    assert req.headers["accept"] == "application/json"
    assert "authorization" not in req.headers
    assert req.client_cn == "tidefs-test"
    assert req.json() == pod


def test_get_list_with_selectors(server, kc):
    server.respond = lambda req: (200, {"kind": "PodList", "items": [{"metadata": {"name": "a"}}]}, None)
    rc, out, err = run(["--kubeconfig", kc, "list", "ns1", "pods", "app=x,tier in (a,b)", "spec.nodeName=n1"])
    assert rc == 0, err
    assert json.loads(out)["items"][0]["metadata"]["name"] == "a"
    req = server.requests[-1]
    assert (req.method, req.path) == ("GET", "/api/v1/namespaces/ns1/pods")
    assert req.query == {"labelSelector": "app=x,tier in (a,b)", "fieldSelector": "spec.nodeName=n1"}
    assert " " not in req.raw_query and "," not in req.raw_query  # escaped on the wire
    assert req.body == b""

    server.respond = lambda req: (200, {"kind": "Pod", "metadata": {"name": "p1"}}, None)
    rc, out, err = run(["--kubeconfig", kc, "get", "ns1", "secrets", "p1"])
    assert rc == 0, err
    assert (server.requests[-1].method, server.requests[-1].path) == ("GET", "/api/v1/namespaces/ns1/secrets/p1")


def test_list_refuses_a_non_list(server, kc):
    server.respond = lambda req: (200, {"kind": "Pod"}, None)
    rc, _, err = run(["--kubeconfig", kc, "list", "ns1", "pods"])
    assert rc == 1 and err.startswith("EBADMSG") and "not a list" in err


@pytest.mark.parametrize("kind,ctype", [("merge", "application/merge-patch+json"),
                                        ("strategic", "application/strategic-merge-patch+json"),
                                        ("json", "application/json-patch+json")])
def test_patch_types(server, kc, kind, ctype):
    patch = [{"op": "add", "path": "/metadata/labels/x", "value": "y"}] if kind == "json" else \
        {"metadata": {"ownerReferences": [{"kind": "Pod", "name": "p", "uid": "u"}]}}
    server.respond = lambda req: (200, {"kind": "Secret"}, None)
    rc, _, err = run(["--kubeconfig", kc, "patch", "ns1", "secrets", "s1", kind, json.dumps(patch)])
    assert rc == 0, err
    req = server.requests[-1]
    assert (req.method, req.path, req.headers["content-type"]) == ("PATCH", "/api/v1/namespaces/ns1/secrets/s1", ctype)
    assert req.json() == patch


def test_delete_sends_options(server, kc):
    server.respond = lambda req: (200, {"kind": "Status", "status": "Success"}, None)
    rc, out, err = run(["--kubeconfig", kc, "delete", "ns1", "pods", "p1", "0", "uid-7"])
    assert rc == 0 and out == "ok", err
    req = server.requests[-1]
    assert (req.method, req.path) == ("DELETE", "/api/v1/namespaces/ns1/pods/p1")
    assert req.json() == {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background",
                          "gracePeriodSeconds": 0, "preconditions": {"uid": "uid-7"}}
    rc, _, err = run(["--kubeconfig", kc, "delete", "ns1", "pods", "p1"])
    assert "gracePeriodSeconds" not in server.requests[-1].json()


@pytest.mark.parametrize("answer,errname,text", [
    (status(404, "NotFound", 'pods "p1" not found'), "ENOENT 404", 'pods "p1" not found'),
    (status(403, "Forbidden", 'pods is forbidden: User "x" cannot create resource "pods"'), "EPERM 403",
     "RBAC: the service account lacks this permission"),
    (status(401, "Unauthorized", "Unauthorized"), "EACCES 401", "rejected our credentials"),
    (status(409, "AlreadyExists", 'pods "p1" already exists'), "EEXIST 409", "already exists"),
    (status(409, "Conflict", "the object has been modified"), "ESTALE 409", "has been modified"),
    (status(410, "Expired", "too old resource version"), "ESTALE 410", "too old"),
    (status(422, "Invalid", 'Pod "p1" is invalid: spec.containers: Required value'), "EINVAL 422", "Required value"),
    (status(429, "TooManyRequests", "slow down"), "EAGAIN 429", "slow down"),
    (status(500, "InternalError", "etcd is sad"), "EIO 500", "etcd is sad"),
    (status(503, "ServiceUnavailable", "apiserver is shutting down"), "EAGAIN 503", "shutting down"),
    (status(504, "Timeout", "timed out"), "ETIMEDOUT 504", "timed out"),
    ((502, "<html>bad gateway</html>", {"Content-Type": "text/html"}), "EIO 502", "no Status in the response"),
    ((200, "this is not json", None), "EBADMSG 0", "not JSON"),
])
def test_http_errors_are_mapped(server, kc, answer, errname, text):
    server.respond = lambda req: answer
    rc, _, err = run(["--kubeconfig", kc, "get", "ns1", "pods", "p1"])
    assert rc == 1
    assert err.startswith(errname), err
    assert text in err
    assert "GET /api/v1/namespaces/ns1/pods/p1" in err


def test_response_size_is_capped(server, kc):
    big = {"kind": "Pod", "data": "x" * (2 << 20)}
    server.respond = lambda req: (200, big, None)
    rc, _, err = run(["--kubeconfig", kc, "--max-response", str(1 << 20), "get", "ns1", "pods", "p1"])
    assert rc == 1 and err.startswith("EFBIG") and "larger than 1048576 bytes" in err
    rc, out, err = run(["--kubeconfig", kc, "--max-response", str(4 << 20), "get", "ns1", "pods", "p1"])
    assert rc == 0, err


def test_request_timeout(server, kc):
    def slow(req):
        time.sleep(3)
        return 200, {}, None
    server.respond = slow
    t0 = time.monotonic()
    rc, _, err = run(["--kubeconfig", kc, "--timeout-ms", "500", "get", "ns1", "pods", "p1"])
    assert rc == 1 and err.startswith("ETIMEDOUT"), err
    assert time.monotonic() - t0 < 2.5


def test_bad_names_never_reach_the_server(server, kc):
    for args in (["get", "../x", "pods", "p"], ["get", "ns1", "pods", "a/b"], ["get", "ns1", "Pods", "p"],
                 ["delete", "ns1", "pods", "p?x=1"], ["get", "ns1", "pods", ""]):
        rc, _, err = run(["--kubeconfig", kc, *args])
        assert rc == 1 and err.startswith("EINVAL"), (args, err)
    assert server.requests == []


def test_tls_failures(pki, tmp_path):
    # a server certificate from a CA the kubeconfig does not trust
    srv = Recorder(tls=server_tls(pki))
    try:
        kc = kubeconfig(str(tmp_path / "kc"), srv.port, pki, ca="otherca.crt")
        rc, _, err = run(["--kubeconfig", kc, "get", "ns1", "pods", "p1"])
        assert rc == 1 and err.startswith("EPROTO"), err
        # no client certificate where the server requires one
        kc = kubeconfig(str(tmp_path / "kc2"), srv.port, pki, user="    token: abc\n")
        rc, _, err = run(["--kubeconfig", kc, "get", "ns1", "pods", "p1"])
        assert rc == 1 and (err.startswith("EPROTO") or err.startswith("EIO")), err
        assert srv.requests == []
    finally:
        srv.stop()


def test_connection_refused(pki, tmp_path):
    srv = Recorder()
    port = srv.port
    srv.stop()
    kc = kubeconfig(str(tmp_path / "kc"), port, pki)
    rc, _, err = run(["--kubeconfig", kc, "get", "ns1", "pods", "p1"])
    assert rc == 1 and err.startswith("ECONNREFUSED"), err


def test_kubeconfig_variants(tmp_path, server, pki):
    # a token user over TLS without client certificates, context by name, default namespace
    srv = Recorder(tls=server_tls(pki, require_client=False))
    try:
        kc = kubeconfig(str(tmp_path / "kc"), srv.port, pki, user="    token: s3cr3t-token\n")
        srv.respond = lambda req: (200, {"kind": "Pod"}, None)
        rc, out, err = run(["--kubeconfig", kc, "--context", "other", "namespace"])
        assert rc == 0 and json.loads(out)["namespace"] == "default", err
        rc, out, err = run(["--kubeconfig", kc, "get", "ns1", "pods", "p1"])
        assert rc == 0, err
        assert srv.requests[-1].headers["authorization"] == "Bearer s3cr3t-token"
        assert srv.requests[-1].client_cn is None
    finally:
        srv.stop()
    # files instead of data, relative to the kubeconfig's directory
    d = tmp_path / "files"
    d.mkdir()
    for k in ("ca.crt", "client.crt", "client.key"):
        (d / k).write_bytes(open(pki[k], "rb").read())
    (d / "kc").write_text(
        "apiVersion: v1\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n"
        f"    server: https://localhost:{server.port}\n    certificate-authority: ca.crt\n"
        "contexts:\n- name: t\n  context: {cluster: c, user: u}\n"
        "users:\n- name: u\n  user:\n    client-certificate: client.crt\n    client-key: client.key\n")
    server.respond = lambda req: (200, {"kind": "Pod"}, None)
    rc, out, err = run(["--kubeconfig", str(d / "kc"), "get", "ns1", "pods", "p1"])
    assert rc == 0, err
    assert server.requests[-1].client_cn == "tidefs-test"


@pytest.mark.parametrize("text,errname,needle", [
    ("apiVersion: v1\ncurrent-context: x\ncontexts: []\n", "ENOENT", 'no context "x"'),
    ("apiVersion: v1\nclusters: []\n", "EINVAL", "no current-context"),
    ("current-context: t\ncontexts:\n- name: t\n  context: {cluster: c, user: u}\nclusters:\n"
     "- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user:\n"
     "    exec: {command: aws}\n", "EOPNOTSUPP", "exec or auth-provider"),
    ("current-context: t\ncontexts:\n- name: t\n  context: {cluster: c}\nclusters:\n"
     "- name: c\n  cluster: {server: 'ftp://x'}\n", "EINVAL", "no http(s) server"),
    ("a: &x [1]\nb: *x\n", "EINVAL", "aliases are not supported"),
    ("a: [1, 2\n", "EINVAL", "line"),
    ("- just\n- a list\n", "EINVAL", "not a mapping"),
    ("current-context: t\ncontexts:\n- name: t\n  context: {cluster: c, user: u}\nclusters:\n"
     "- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user:\n"
     "    client-certificate-data: '!!notbase64'\n    client-key-data: eA==\n", "EINVAL", "not valid base64"),
])
def test_kubeconfig_errors(tmp_path, text, errname, needle):
    p = tmp_path / "kc"
    p.write_text(text)
    rc, _, err = run(["--kubeconfig", str(p), "namespace"])
    assert rc == 1 and err.startswith(errname) and needle in err, err


# ---- in-cluster ----

def sa_dir(tmp_path, pki, token, ns="tidefs-system"):
    """A service account directory laid out as the kubelet projects it:
    token -> ..data/token, ..data -> a timestamped directory."""
    d = tmp_path / "sa"
    d.mkdir(exist_ok=True)
    rotate(d, pki, token, ns, first=True)
    return d


def rotate(d, pki, token, ns="tidefs-system", first=False):
    stamp = d / f"..{time.monotonic_ns()}"
    stamp.mkdir()
    (stamp / "token").write_text(token)
    (stamp / "ca.crt").write_bytes(open(pki["ca.crt"], "rb").read())
    (stamp / "namespace").write_text(ns)
    tmp = d / "..data_tmp"
    os.symlink(stamp.name, tmp)
    os.rename(tmp, d / "..data")  # atomic swap, as the kubelet does
    if first:
        for k in ("token", "ca.crt", "namespace"):
            os.symlink(f"..data/{k}", d / k)


def incluster_env(port, host="127.0.0.1"):
    return {"PATH": "/usr/bin:/bin", "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(port)}


@pytest.fixture
def token_server(pki):
    srv = Recorder(tls=server_tls(pki, require_client=False))
    yield srv
    srv.stop()


def test_in_cluster_token_ca_namespace(tmp_path, pki, token_server):
    d = sa_dir(tmp_path, pki, "tok-1\n")
    token_server.respond = lambda req: (200, {"kind": "Pod"}, None)
    env = incluster_env(token_server.port)
    rc, out, err = run(["--in-cluster", str(d), "namespace"], env=env)
    assert rc == 0, err
    assert json.loads(out) == {"namespace": "tidefs-system", "server": f"https://127.0.0.1:{token_server.port}"}
    rc, out, err = run(["--in-cluster", str(d), "get", "tidefs-system", "pods", "p"], env=env)
    assert rc == 0, err
    assert token_server.requests[-1].headers["authorization"] == "Bearer tok-1"  # trailing newline trimmed
    # the kubelet rotates the token: the next request carries the new one
    token_server.requests.clear()
    p = subprocess.Popen([TOOL, "--in-cluster", str(d), "--times", "2", "get", "tidefs-system", "pods", "p"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    p.stdout.readline()
    rotate(d, pki, "tok-2")
    out, err = p.communicate("next\n", timeout=20)
    assert p.returncode == 0, err
    assert [r.headers["authorization"] for r in token_server.requests] == ["Bearer tok-1", "Bearer tok-2"]


def test_in_cluster_401_rereads_the_token_once(tmp_path, pki, token_server):
    d = tmp_path / "plain"
    d.mkdir()
    (d / "ca.crt").write_bytes(open(pki["ca.crt"], "rb").read())
    (d / "token").write_text("tok-A")
    token_server.respond = lambda req: (200, {"kind": "Pod"}, None) \
        if req.headers.get("authorization") == "Bearer tok-B" else status(401, "Unauthorized", "Unauthorized")
    env = incluster_env(token_server.port)
    p = subprocess.Popen([TOOL, "--in-cluster", str(d), "--times", "2", "get", "default", "pods", "p"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # the first request fails: tok-A is refused, re-read, refused again
    out, err = p.communicate(timeout=20)
    assert p.returncode == 1 and err.startswith("EACCES 401"), err
    assert [r.headers["authorization"] for r in token_server.requests] == ["Bearer tok-A"] * 2
    # same size, same mtime, same inode: only the 401 makes the client look again
    st = os.stat(d / "token")
    with open(d / "token", "r+") as f:
        f.write("tok-B")
    os.utime(d / "token", ns=(st.st_atime_ns, st.st_mtime_ns))
    token_server.requests.clear()
    rc, _, err = run(["--in-cluster", str(d), "get", "default", "pods", "p"], env=env)
    assert rc == 0, err
    auths = [r.headers["authorization"] for r in token_server.requests]
    assert auths == ["Bearer tok-B"]  # a new process reads the file at start
    # namespace file absent: "default"
    rc, out, _ = run(["--in-cluster", str(d), "namespace"], env=env)
    assert json.loads(out)["namespace"] == "default"


def test_in_cluster_401_retry_within_one_process(tmp_path, pki, token_server):
    d = tmp_path / "plain"
    d.mkdir()
    (d / "ca.crt").write_bytes(open(pki["ca.crt"], "rb").read())
    (d / "token").write_text("tok-A")
    state = {"accept": "tok-A"}
    token_server.respond = lambda req: (200, {"kind": "Pod"}, None) \
        if req.headers.get("authorization") == "Bearer " + state["accept"] else status(401, "Unauthorized", "x")
    env = incluster_env(token_server.port)
    p = subprocess.Popen([TOOL, "--in-cluster", str(d), "--times", "2", "get", "default", "pods", "p"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    p.stdout.readline()
    st = os.stat(d / "token")
    with open(d / "token", "r+") as f:
        f.write("tok-B")
    os.utime(d / "token", ns=(st.st_atime_ns, st.st_mtime_ns))
    state["accept"] = "tok-B"
    out, err = p.communicate("next\n", timeout=20)
    assert p.returncode == 0, err
    assert [r.headers["authorization"] for r in token_server.requests] == \
        ["Bearer tok-A", "Bearer tok-A", "Bearer tok-B"]


def test_in_cluster_configuration_errors(tmp_path, pki):
    d = sa_dir(tmp_path, pki, "tok")
    rc, _, err = run(["--in-cluster", str(d), "namespace"], env={"PATH": "/usr/bin"})
    assert rc == 1 and err.startswith("ENOENT") and "KUBERNETES_SERVICE_HOST" in err
    rc, _, err = run(["--in-cluster", str(d), "namespace"], env=incluster_env("443; rm"))
    assert rc == 1 and err.startswith("EINVAL")
    rc, _, err = run(["--in-cluster", str(tmp_path / "missing"), "namespace"], env=incluster_env(443))
    assert rc == 1 and err.startswith("ENOENT") and "ca.crt" in err
    (d / "..data" / "token").write_text("")
    rc, _, err = run(["--in-cluster", str(d), "namespace"], env=incluster_env(443))
    assert rc == 1 and "empty file" in err


def test_in_cluster_ipv6_host(tmp_path, pki):
    try:
        srv = Recorder(tls=server_tls(pki, require_client=False), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        d = sa_dir(tmp_path, pki, "tok6")
        srv.respond = lambda req: (200, {"kind": "Pod"}, None)
        rc, out, err = run(["--in-cluster", str(d), "get", "default", "pods", "p"], env=incluster_env(srv.port, "::1"))
        assert rc == 0, err
        assert srv.requests[-1].headers["authorization"] == "Bearer tok6"
    finally:
        srv.stop()


# ---- polling ----

def test_poll_until_condition_with_backoff(server, kc):
    phases = iter([status(503, "ServiceUnavailable", "busy"), (200, {"status": {"phase": "Pending"}}, None),
                   (200, {"status": {"phase": "Pending"}}, None), (200, {"status": {"phase": "Running"}}, None)])
    server.respond = lambda req: next(phases)
    rc, out, err = run(["--kubeconfig", kc, "poll", "ns1", "pods", "p1", "status.phase", "Running", "10000"])
    assert rc == 0, err
    assert len(server.requests) == 4
    assert all(r.method == "GET" and r.path == "/api/v1/namespaces/ns1/pods/p1" for r in server.requests)


def test_poll_gone_and_timeout_and_hard_errors(server, kc):
    server.respond = lambda req: status(404, "NotFound", "gone")
    rc, _, err = run(["--kubeconfig", kc, "poll", "ns1", "pods", "p1", "status.phase", "<gone>", "5000"])
    assert rc == 0, err
    server.respond = lambda req: (200, {"status": {"phase": "Pending"}}, None)
    t0 = time.monotonic()
    rc, _, err = run(["--kubeconfig", kc, "poll", "ns1", "pods", "p1", "status.phase", "Running", "1500"])
    assert rc == 1 and err.startswith("ETIMEDOUT") and "condition not met within 1500 ms" in err
    assert 1.4 < time.monotonic() - t0 < 5
    n = len(server.requests)
    assert 3 <= n <= 25  # backed off, not hammering
    server.respond = lambda req: status(403, "Forbidden", "no")
    rc, _, err = run(["--kubeconfig", kc, "poll", "ns1", "pods", "p1", "status.phase", "Running", "5000"])
    assert rc == 1 and err.startswith("EPERM")
