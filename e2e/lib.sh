# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Common helpers for the e2e scripts: logging and per-phase timing, the
# versioned artifact cache outside the repository, the Go environment used to
# build tools from the module proxy, and the project's own docker engine that
# the kind cluster runs on (see e2e/README.md, "Which docker engine").
#
# Source it from bash scripts: `. "$(dirname "$0")/lib.sh"`.

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_DIR/.." && pwd)
# shellcheck source=e2e/versions.sh
. "$E2E_DIR/versions.sh"

# Everything built is kept here, never in the repository. A new
# E2E_CACHE_VERSION starts from an empty directory.
E2E_CACHE_ROOT=${E2E_CACHE_ROOT:-/var/cache/tidefs-e2e}
E2E_CACHE=${E2E_CACHE:-$E2E_CACHE_ROOT/$E2E_CACHE_VERSION}
E2E_BIN=$E2E_CACHE/bin
E2E_KIND=$E2E_BIN/kind-$KIND_VERSION/kind
E2E_HELM=$E2E_BIN/helm-$HELM_VERSION/helm
E2E_KUBECTL=$E2E_BIN/k8s-$K8S_VERSION/kubectl
E2E_CLUSTER=${E2E_CLUSTER:-tidefs-e2e}
E2E_NODE_IMAGE=${E2E_NODE_IMAGE:-tidefs-e2e/node:$K8S_VERSION}
E2E_ARTIFACTS=${E2E_ARTIFACTS:-$E2E_CACHE/artifacts}
E2E_KUBECONFIG=$E2E_CACHE/kubeconfig
# Set E2E_OFFLINE=0 on a machine that can pull images: the scripts then use
# the machine's own docker engine and upstream images (see README).
E2E_OFFLINE=${E2E_OFFLINE:-1}

# Images the tests use besides Kubernetes' own (built by build/images.sh and
# loaded into the node by cluster-up.sh). Never :latest, whose pull policy is
# Always.
E2E_TOOLS_IMAGE=tidefs-e2e/tools:$DEBIAN_SUITE-1
E2E_REDIS_IMAGE=tidefs-e2e/redis:$DEBIAN_SUITE-1
E2E_S3_IMAGE=tidefs-e2e/seaweedfs:${SEAWEEDFS_VERSION##*-}
E2E_CSI_PROVISIONER_IMAGE=registry.k8s.io/sig-storage/csi-provisioner:$CSI_PROVISIONER_VERSION

e2e_test_images() {
    echo "$E2E_TOOLS_IMAGE $E2E_REDIS_IMAGE $E2E_S3_IMAGE $E2E_CSI_PROVISIONER_IMAGE"
}

# Host commands the scripts need; scripts/deps.sh installs their packages.
e2e_host_packages() {
    local c missing=""
    for c in debootstrap jq ip gcc go docker dockerd; do
        command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
    done
    if [ -n "$missing" ] && [ -x "$E2E_REPO/scripts/deps.sh" ]; then
        "$E2E_REPO/scripts/deps.sh"
        missing=""
        for c in debootstrap jq ip gcc go docker dockerd; do
            command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
        done
    fi
    [ -z "$missing" ] || e2e_die "missing commands:$missing (Debian: debootstrap jq iproute2 gcc docker.io; Go in PATH)"
}

# Long builds run at lower priority: the machine is shared.
E2E_NICE=${E2E_NICE:-nice -n 10}

e2e_log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
e2e_die() { e2e_log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------- timing ---
# e2e_phase NAME CMD... runs CMD and records how long it took; e2e_timings
# prints the table. Timings are appended to $E2E_TIMINGS so that nested
# scripts contribute to the caller's summary.
if [ -z "${E2E_TIMINGS:-}" ]; then
    E2E_TIMINGS=$(mktemp /tmp/tidefs-e2e-timings.XXXXXX)
    E2E_TIMINGS_OWNER=$$
    export E2E_TIMINGS
fi

e2e_phase() {
    local name=$1 start rc=0
    shift
    start=$(date +%s)
    e2e_log "phase $name: start"
    "$@" || rc=$?
    local secs=$(($(date +%s) - start))
    local status="FAILED rc=$rc"
    [ $rc -eq 0 ] && status=ok
    [ $rc -eq 77 ] && status=skipped
    printf '%-34s %5ds  %s\n' "$name" "$secs" "$status" >>"$E2E_TIMINGS"
    e2e_log "phase $name: $status in ${secs}s"
    return $rc
}

# Only the outermost script prints the table (and removes the file).
e2e_timings() {
    [ "${E2E_TIMINGS_OWNER:-}" = $$ ] || return 0
    if [ -s "$E2E_TIMINGS" ]; then
        echo "---- e2e phase timings ----" >&2
        cat "$E2E_TIMINGS" >&2
    fi
    rm -f "$E2E_TIMINGS"
}

# ------------------------------------------------------------------ cache ---
# A cache entry is a directory with a `.done` stamp holding the key it was
# built for. e2e_cached KEY DIR reports whether DIR is complete for KEY.
e2e_cached() {
    [ -f "$2/.done" ] && [ "$(cat "$2/.done")" = "$1" ]
}

e2e_mark_done() {
    printf '%s\n' "$1" >"$2/.done"
}

# Content hash of files (and of extra strings) used as part of cache keys so
# that editing a build script or a Dockerfile rebuilds what it produces.
e2e_hash() {
    {
        local a
        for a in "$@"; do
            if [ -f "$a" ]; then cat "$a"; else printf '%s\n' "$a"; fi
        done
    } | sha256sum | cut -c1-16
}

# ------------------------------------------------------------------ lock ---
# There is one e2e engine and one cluster name per machine (and cache), and
# several people may run e2e on one machine: the scripts that change them
# run one at a time. Nested scripts inherit the lock (E2E_LOCKED).
e2e_lock() {
    [ "${E2E_LOCKED:-}" = 1 ] && return 0
    mkdir -p "$E2E_CACHE"
    exec 9>>"$E2E_CACHE/e2e.lock"
    if ! flock -n 9; then
        e2e_log "another e2e run holds $E2E_CACHE/e2e.lock; waiting for it"
        flock 9
    fi
    export E2E_LOCKED=1
}

# ---------------------------------------------------------------- Go env ---
# Tools are built with a module and build cache of their own inside the
# versioned cache, so that a warm run needs no download and no compile.
e2e_go_env() {
    export GOMODCACHE=$E2E_CACHE/go/mod
    export GOCACHE=$E2E_CACHE/go/build
    export GOFLAGS=-modcacherw
    export CGO_ENABLED=0
    export GOTOOLCHAIN=local
    mkdir -p "$GOMODCACHE" "$GOCACHE" "$E2E_BIN"
}

# e2e_go_mod_dir MODULE@VERSION: prints the unpacked module directory.
e2e_go_mod_dir() {
    local out dir
    out=$(go mod download -json "$1") || e2e_die "go mod download $1 failed: $out"
    dir=$(jq -r '.Dir // empty' <<<"$out")
    [ -n "$dir" ] || e2e_die "go mod download $1: $(jq -r '.Error' <<<"$out")"
    printf '%s\n' "$dir"
}

# ---------------------------------------------------------------- docker ---
# The cluster runs on an engine of our own (socket, data root, exec root,
# bridge and address range all separate from the machine's engine), whose
# default runtime is the runc wrapper in e2e/engine/. Its data root is in the
# cache, so images built once survive between runs.
E2E_ENGINE_DIR=$E2E_CACHE/engine
E2E_DOCKER_SOCK=$E2E_ENGINE_DIR/run/docker.sock
E2E_DOCKER_HOST=unix://$E2E_DOCKER_SOCK

# e2e_docker ARGS...: docker against the engine the cluster uses.
e2e_docker() {
    if [ "$E2E_OFFLINE" = 1 ]; then
        DOCKER_HOST=$E2E_DOCKER_HOST docker "$@"
    else
        docker "$@"
    fi
}

# e2e_image_key IMAGE: the io.tidefs.e2e.key label of IMAGE, empty if absent.
e2e_image_key() {
    e2e_docker image inspect -f '{{index .Config.Labels "io.tidefs.e2e.key"}}' "$1" 2>/dev/null || true
}

e2e_image_current() {
    [ "$(e2e_image_key "$1")" = "$2" ]
}

# ------------------------------------------------------------------ kind ---
e2e_kind() {
    if [ "$E2E_OFFLINE" = 1 ]; then
        DOCKER_HOST=$E2E_DOCKER_HOST KIND_EXPERIMENTAL_PROVIDER=docker "$E2E_KIND" "$@"
    else
        "$E2E_KIND" "$@"
    fi
}

e2e_kubectl() {
    "$E2E_KUBECTL" --kubeconfig "$E2E_KUBECONFIG" "$@"
}

e2e_helm() {
    "$E2E_HELM" --kubeconfig "$E2E_KUBECONFIG" "$@"
}

e2e_cluster_exists() {
    e2e_kind get clusters 2>/dev/null | grep -qx "$E2E_CLUSTER"
}

e2e_node_name() {
    echo "$E2E_CLUSTER-control-plane"
}

# e2e_load_image IMAGE...: make IMAGEs (from the cluster's engine) available
# to the node's containerd, the way `kind load` does it but without crictl.
# One archive for all of them, so layers they share are sent once.
# Images the node already has with the same image ID are skipped.
e2e_load_image() {
    local node img want have todo=()
    node=$(e2e_node_name)
    for img in "$@"; do
        want=$(e2e_docker image inspect -f '{{.Id}}' "$img")
        have=$(e2e_docker exec "$node" crictl inspecti -o go-template --template '{{.status.id}}' "$img" 2>/dev/null || true)
        [ "$want" = "$have" ] || todo+=("$img")
    done
    [ ${#todo[@]} -gt 0 ] || return 0
    e2e_log "loading ${todo[*]} into $node"
    e2e_docker save "${todo[@]}" | e2e_docker exec -i "$node" \
        ctr --namespace=k8s.io images import --digests --snapshotter=overlayfs - >/dev/null
}

# e2e_wait SECONDS DESCRIPTION CMD...: retry CMD once a second until it
# succeeds or SECONDS pass.
e2e_wait() {
    local limit=$1 what=$2 t=0
    shift 2
    until "$@" >/dev/null 2>&1; do
        t=$((t + 1))
        [ $t -lt "$limit" ] || { e2e_log "timed out after ${limit}s waiting for $what"; return 1; }
        sleep 1
    done
}

# ------------------------------------------------------------- scenarios ---
# Helpers for e2e/scenarios/*.sh. A scenario creates its own namespace with
# e2e_test_ns, which is deleted when the scenario exits.

# e2e_test_ns NAME: creates namespace e2e-NAME (recreated if an earlier run
# left it) and sets E2E_NS to it. When the scenario passes or skips, the
# namespace is deleted on exit; when it fails, it is kept for collect-logs.sh
# (the cluster is deleted afterwards anyway). Call it in the scenario's own
# shell, not in $(...), or the exit trap would belong to a subshell.
e2e_test_ns() {
    E2E_NS=e2e-$1
    e2e_kubectl delete namespace "$E2E_NS" --ignore-not-found --wait=true --timeout=120s >/dev/null
    e2e_kubectl create namespace "$E2E_NS" >/dev/null
    trap 'e2e_test_ns_exit $?' EXIT
}

e2e_test_ns_exit() {
    if [ "$1" -eq 0 ] || [ "$1" -eq 77 ]; then
        e2e_kubectl delete namespace "$E2E_NS" --wait=false >/dev/null 2>&1 || true
    else
        e2e_log "scenario failed: namespace $E2E_NS kept for the logs"
    fi
    exit "$1"
}

# e2e_render FILE: prints FILE with @VAR@ replaced by the value of shell
# variable VAR for the image names and namespaces scenarios use.
e2e_render() {
    sed -e "s#@E2E_TOOLS_IMAGE@#$E2E_TOOLS_IMAGE#g" \
        -e "s#@E2E_REDIS_IMAGE@#$E2E_REDIS_IMAGE#g" \
        -e "s#@E2E_S3_IMAGE@#$E2E_S3_IMAGE#g" \
        -e "s#@NAMESPACE@#${E2E_NS:-default}#g" "$1"
}

# e2e_apply NS FILE: renders FILE for namespace NS and applies it.
e2e_apply() {
    E2E_NS=$1 e2e_render "$2" | e2e_kubectl apply -n "$1" -f - >/dev/null
}

# e2e_deploy_services NS: Redis and the S3 server (SeaweedFS) as pods with
# services `redis:6379` and `s3:8333` in NS; returns once both are ready.
# Later scenarios point tidefs at redis://redis.NS:6379/1 and
# http://s3.NS:8333 (no credentials needed: the server runs without IAM).
e2e_deploy_services() {
    e2e_apply "$1" "$E2E_DIR/manifests/redis.yaml"
    e2e_apply "$1" "$E2E_DIR/manifests/s3.yaml"
    e2e_kubectl -n "$1" rollout status deployment/redis --timeout=180s >/dev/null &&
        e2e_kubectl -n "$1" rollout status deployment/s3 --timeout=300s >/dev/null
}

# e2e_expect WHAT GOT WANT: fails the scenario unless GOT equals WANT.
e2e_expect() {
    if [ "$2" != "$3" ]; then
        e2e_log "FAIL: $1: got '$2', want '$3'"
        return 1
    fi
    e2e_log "ok: $1"
}

# For `trap 'e2e_timings_exit $?' EXIT`: print the table, keep the status.
e2e_timings_exit() {
    e2e_timings
    exit "$1"
}
