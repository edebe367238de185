#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds or reuses everything the e2e cluster needs (`make e2e-images-base`):
# binaries from the Go module proxy, the e2e docker engine, and every image.
# Warm (all cached) it only checks keys and takes seconds.
. "$(dirname "$0")/../lib.sh"
trap 'e2e_timings_exit $?' EXIT
e2e_lock

e2e_phase "host packages" e2e_host_packages
if [ "$E2E_OFFLINE" = 1 ]; then
    e2e_phase "build kubernetes binaries" "$E2E_DIR/build/k8s.sh"
    e2e_phase "build tools" "$E2E_DIR/build/tools.sh"
    e2e_phase "engine up" "$E2E_DIR/engine.sh" up
    e2e_phase "build images" "$E2E_DIR/build/images.sh"
else
    e2e_phase "build kubectl" env K8S_CMDS=kubectl "$E2E_DIR/build/k8s.sh"
    e2e_phase "build tools" "$E2E_DIR/build/tools.sh" kind helm csi_provisioner seaweedfs
    e2e_phase "build images" "$E2E_DIR/build/images.sh" base tools redis seaweedfs csi_sidecars
fi
