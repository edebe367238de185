#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Deletes the e2e kind cluster and stops the project's docker engine.
# Idempotent. Cached artifacts (binaries, images in the engine's data root)
# are kept; `e2e/cluster-down.sh --purge-cache` removes the whole versioned
# cache as well.
. "$(dirname "$0")/lib.sh"

trap 'e2e_timings_exit $?' EXIT
e2e_lock

delete_cluster() {
    if [ "$E2E_OFFLINE" = 1 ] && ! "$E2E_DIR/engine.sh" status >/dev/null 2>&1; then
        e2e_log "engine not running: no cluster to delete"
        return 0
    fi
    if [ -x "$E2E_KIND" ]; then
        e2e_kind delete cluster --name "$E2E_CLUSTER" --kubeconfig "$E2E_KUBECONFIG"
    fi
    # A node container left behind by a failed kind run (--retain).
    local left
    left=$(e2e_docker ps -aq --filter "label=io.x-k8s.kind.cluster=$E2E_CLUSTER")
    [ -z "$left" ] || e2e_docker rm -f -v $left >/dev/null
    # kind's network (a bridge on the host) is ours (engine.sh made it);
    # the next engine.sh up makes it again.
    if [ "$E2E_OFFLINE" = 1 ] && e2e_docker network inspect kind >/dev/null 2>&1; then
        e2e_docker network rm kind >/dev/null
    fi
    rm -f "$E2E_KUBECONFIG"
}
e2e_phase "delete cluster" delete_cluster

if [ "$E2E_OFFLINE" = 1 ]; then
    e2e_phase "engine down" "$E2E_DIR/engine.sh" down
fi

if [ "${1:-}" = --purge-cache ]; then
    e2e_log "removing $E2E_CACHE"
    rm -rf "$E2E_CACHE"
fi
