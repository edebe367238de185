#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Collects everything needed to debug a failed e2e run into
# $E2E_ARTIFACTS/<time>-<reason>/ and prints the path:
#   kind export logs (journal, kubelet, containerd, every container's log),
#   cluster state (objects, describe, events) and the e2e engine's log.
# Best effort: a part that cannot be collected is noted and skipped.
# Usage: collect-logs.sh [REASON]
. "$(dirname "$0")/lib.sh"

reason=${1:-manual}
dir=$E2E_ARTIFACTS/$(date +%Y%m%d-%H%M%S)-$reason
mkdir -p "$dir"
e2e_log "collecting logs into $dir"

try() {
    local out=$1
    shift
    "$@" >"$dir/$out" 2>&1 || echo "(failed: rc=$?)" >>"$dir/$out"
}

if e2e_cluster_exists; then
    try kind-export.txt e2e_kind export logs "$dir/kind" --name "$E2E_CLUSTER"
    try nodes.txt e2e_kubectl get nodes -o wide
    try all.txt e2e_kubectl get all,pvc,pv,sc,csidriver,csinode,volumeattachment -A -o wide
    try describe-pods.txt e2e_kubectl describe pods -A
    try describe-nodes.txt e2e_kubectl describe nodes
    try describe-pvc-pv.txt e2e_kubectl describe pvc,pv -A
    try events.txt e2e_kubectl get events -A --sort-by=.lastTimestamp
    node=$(e2e_node_name)
    try node-mounts.txt e2e_docker exec "$node" cat /proc/self/mountinfo
    try node-ps.txt e2e_docker exec "$node" ps auxww
    try node-images.txt e2e_docker exec "$node" ctr --namespace=k8s.io images ls
else
    echo "no cluster $E2E_CLUSTER" >"$dir/no-cluster.txt"
fi
if [ "$E2E_OFFLINE" = 1 ] && [ -f "$E2E_ENGINE_DIR/dockerd.log" ]; then
    tail -n 2000 "$E2E_ENGINE_DIR/dockerd.log" >"$dir/dockerd.log"
fi
try docker-ps.txt e2e_docker ps -a
echo "$dir"
