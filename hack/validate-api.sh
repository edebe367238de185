#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Validates Kubernetes objects against a real API server, offline: starts a
# throwaway etcd + kube-apiserver (the e2e suite's v1.34 binaries from its
# cache, built by e2e/build/*.sh when missing) on loopback ports in a
# temporary directory, and there:
#   * applies the first argument for real (a kustomize directory or a
#     file): schemas, defaulting and admission all run;
#   * dry-runs every further file (--dry-run=server);
#   * checks the chart's promises that only a server can judge: the mount
#     pod namespace enforces Pod Security "restricted" (a privileged pod is
#     refused, a restricted one accepted), and each ServiceAccount can do
#     exactly what rbac-*.yaml say (kubectl auth can-i).
# Then stops both and removes everything. No cluster, no registry, no
# network beyond 127.0.0.1.
#
# Usage: hack/validate-api.sh MANIFEST_DIR_OR_FILE [MORE_FILES...]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=e2e/versions.sh
. "$ROOT/e2e/versions.sh"
CACHE=${E2E_CACHE_ROOT:-/var/cache/tidefs-e2e}/$E2E_CACHE_VERSION
K8S_BIN=$CACHE/bin/k8s-$K8S_VERSION
ETCD=$CACHE/bin/etcd-$ETCD_VERSION/etcd
KUBECTL=$K8S_BIN/kubectl

log() { printf '[validate-api %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
[ $# -ge 1 ] || die "usage: $0 MANIFEST_DIR_OR_FILE [MORE_FILES...]"

if [ ! -x "$K8S_BIN/kube-apiserver" ] || [ ! -x "$KUBECTL" ]; then
    log "Kubernetes $K8S_VERSION binaries missing: e2e/build/k8s.sh (cold: 15-25 min)"
    K8S_CMDS="kube-apiserver kubectl" "$ROOT/e2e/build/k8s.sh" >&2
fi
[ -x "$ETCD" ] || "$ROOT/e2e/build/tools.sh" etcd >&2

WORK=$(mktemp -d /tmp/tidefs-validate-api.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Three free loopback ports, chosen by the kernel.
read -r P_CLIENT P_PEER P_API < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

start_etcd() {
    "$ETCD" --name v --data-dir "$WORK/etcd" \
        --listen-client-urls "http://127.0.0.1:$P_CLIENT" --advertise-client-urls "http://127.0.0.1:$P_CLIENT" \
        --listen-peer-urls "http://127.0.0.1:$P_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$P_PEER" \
        --initial-cluster "v=http://127.0.0.1:$P_PEER" --log-level error >"$WORK/etcd.log" 2>&1 &
    PIDS+=($!)
}

start_apiserver() {
    openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
    TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s,admin,admin,"system:masters"\n' "$TOKEN" >"$WORK/tokens.csv"
    "$K8S_BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$P_CLIENT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$P_API" \
        --cert-dir "$WORK/certs" --token-auth-file "$WORK/tokens.csv" \
        --authorization-mode RBAC --allow-privileged=true \
        --service-account-issuer https://kubernetes.default.svc \
        --service-account-key-file "$WORK/sa.key" --service-account-signing-key-file "$WORK/sa.key" \
        --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none \
        >"$WORK/apiserver.log" 2>&1 &
    PIDS+=($!)
    cat >"$WORK/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: v, cluster: {server: "https://127.0.0.1:$P_API", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$TOKEN"}}]
contexts: [{name: v, context: {cluster: v, user: admin}}]
current-context: v
KC
}

k() { "$KUBECTL" --kubeconfig "$WORK/kubeconfig" "$@"; }

wait_ready() {
    local i
    for i in $(seq 1 90); do
        if k get --raw /readyz >/dev/null 2>&1 && k get namespace kube-system >/dev/null 2>&1; then
            log "API server ready after ${i}s"
            return 0
        fi
        kill -0 "${PIDS[1]}" 2>/dev/null || { tail -20 "$WORK/apiserver.log" >&2; die "kube-apiserver exited"; }
        sleep 1
    done
    tail -20 "$WORK/apiserver.log" >&2
    die "kube-apiserver not ready in 90s"
}

FAILS=0
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { log "ok: $*"; }

apply_main() {
    local out
    if [ -d "$1" ]; then
        out=$(k apply -k "$1" 2>&1) || { echo "$out" >&2; fail "kubectl apply -k $1"; return; }
    else
        out=$(k apply -f "$1" 2>&1) || { echo "$out" >&2; fail "kubectl apply -f $1"; return; }
    fi
    ok "applied $1 ($(grep -c . <<<"$out") objects)"
}

dry_run() {
    local out
    out=$(k apply --dry-run=server -f "$1" 2>&1) || { echo "$out" >&2; fail "dry-run of $1"; return; }
    ok "server dry-run of $(basename "$1") ($(grep -c . <<<"$out") objects)"
}

# The mount pod namespace of what was applied (empty when none).
mount_ns() { k get namespace -l pod-security.kubernetes.io/enforce=restricted -o name | sed 's#namespace/##' | head -1; }

# The mount pods' ServiceAccount (the throwaway server has no controllers,
# so no namespace gets a "default" one).
MOUNT_SA=tidefs-mount
pod_json() { # NAME PRIVILEGED
    local sc='"securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}'
    [ "$2" = yes ] && sc='"securityContext": {"privileged": true}'
    printf '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "%s"},
      "spec": {"serviceAccountName": "%s", "automountServiceAccountToken": false,
               "containers": [{"name": "c", "image": "tidefs/tidefs:0", %s}]}}' "$1" "$MOUNT_SA" "$sc"
}

check_pod_security() {
    local ns=$1 out
    if out=$(pod_json privileged yes | k apply -n "$ns" --dry-run=server -f - 2>&1); then
        fail "a privileged pod was admitted into $ns"
    elif grep -q 'violates PodSecurity "restricted' <<<"$out"; then
        ok "$ns refuses a privileged pod (PodSecurity restricted)"
    else
        echo "$out" >&2
        fail "privileged pod in $ns refused for another reason"
    fi
    if out=$(pod_json restricted no | k apply -n "$ns" --dry-run=server -f - 2>&1); then
        ok "$ns admits a restricted pod"
    else
        echo "$out" >&2
        fail "a restricted pod was refused in $ns"
    fi
}

# can SA_NS SA VERB RESOURCE[/SUBRESOURCE] NS WANT
can() {
    local got sub=()
    case $4 in */*) sub=(--subresource="${4#*/}") ;; esac
    got=$(k auth can-i --as="system:serviceaccount:$1:$2" "$3" "${4%%/*}" "${sub[@]}" -n "$5" 2>/dev/null || true)
    if [ "$got" = "$6" ]; then
        ok "$2 can-i $3 $4 -n $5: $got"
    else
        fail "$2 can-i $3 $4 -n $5: got '$got', want '$6'"
    fi
}

check_rbac() {
    local sys=$1 mns=$2
    can "$sys" tidefs-csi-node create pods "$mns" yes
    can "$sys" tidefs-csi-node delete secrets "$mns" yes
    can "$sys" tidefs-csi-node create pods default no
    can "$sys" tidefs-csi-node get secrets "$sys" no
    can "$sys" tidefs-csi-node list pods "$mns" yes
    can "$sys" tidefs-csi-node patch secrets "$mns" yes
    can "$sys" tidefs-csi-node patch pods "$mns" no
    can "$sys" tidefs-csi-node create events default yes
    can "$sys" tidefs-csi-node delete events default no
    can "$sys" tidefs-csi-controller create persistentvolumes "" yes
    can "$sys" tidefs-csi-controller patch persistentvolumeclaims/status default yes
    can "$sys" tidefs-csi-controller create pods "$mns" no
    can "$sys" tidefs-csi-controller create secrets "$sys" no
    can "$sys" tidefs-csi-controller get secrets "$sys" yes
    can "$mns" tidefs-mount get pods "$mns" no
    can "$mns" tidefs-mount get secrets "$mns" no
}

start=$SECONDS
start_etcd
start_apiserver
wait_ready
apply_main "$1"
shift
for f in "$@"; do dry_run "$f"; done
ns=$(mount_ns)
if [ -n "$ns" ]; then
    check_pod_security "$ns"
    check_rbac kube-system "$ns"
else
    fail "no namespace labelled pod-security.kubernetes.io/enforce=restricted was applied"
fi
log "done in $((SECONDS - start))s, $FAILS failure(s)"
[ $FAILS = 0 ]
