#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Creates the e2e kind cluster, building (or reusing from the versioned
# cache) everything it needs first. Idempotent: an existing healthy cluster
# is kept. Prints how long each phase took.
#
# Offline (default, E2E_OFFLINE=1): the node image and every image are built
# here and the cluster runs on the project's own docker engine (engine.sh).
# Online (E2E_OFFLINE=0): the machine's engine and kind's upstream node image.
#
# Afterwards: KUBECONFIG=$(e2e/lib.sh prints it) -> $E2E_KUBECONFIG.
. "$(dirname "$0")/lib.sh"

trap 'e2e_timings_exit $?' EXIT
e2e_lock

"$E2E_DIR/build/all.sh"

create_cluster() {
    if e2e_cluster_exists; then
        if e2e_kubectl get --raw /readyz >/dev/null 2>&1; then
            e2e_log "cluster $E2E_CLUSTER exists and is ready: kept"
            return 0
        fi
        e2e_log "cluster $E2E_CLUSTER exists but does not answer: recreating"
        e2e_kind delete cluster --name "$E2E_CLUSTER" --kubeconfig "$E2E_KUBECONFIG"
    fi
    local image=()
    [ "$E2E_OFFLINE" = 1 ] && image=(--image "$E2E_NODE_IMAGE")
    if ! e2e_kind create cluster --name "$E2E_CLUSTER" "${image[@]}" --config "$E2E_DIR/kind.yaml" \
        --kubeconfig "$E2E_KUBECONFIG" --wait 4m --retain; then
        "$E2E_DIR/collect-logs.sh" cluster-create || true
        e2e_kind delete cluster --name "$E2E_CLUSTER" --kubeconfig "$E2E_KUBECONFIG" || true
        return 1
    fi
}
e2e_phase "create cluster" create_cluster

# Test images are loaded into the node, not baked into the node image: they
# (and later the driver image) change far more often than Kubernetes.
load_images() {
    # shellcheck disable=SC2046
    if [ "$E2E_OFFLINE" = 1 ]; then
        e2e_load_image $(e2e_test_images)
    else
        e2e_kind load docker-image --name "$E2E_CLUSTER" $(e2e_test_images)
    fi
}
e2e_phase "load test images" load_images

cluster_ready() {
    e2e_kubectl wait --for=condition=Ready node --all --timeout=120s &&
        e2e_kubectl -n kube-system rollout status deployment/coredns --timeout=180s &&
        e2e_kubectl -n kube-system rollout status daemonset/kube-proxy --timeout=120s
}
if ! e2e_phase "cluster ready" cluster_ready; then
    "$E2E_DIR/collect-logs.sh" cluster-ready || true
    exit 1
fi
e2e_log "cluster $E2E_CLUSTER is up; KUBECONFIG=$E2E_KUBECONFIG"
