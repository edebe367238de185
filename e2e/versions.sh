# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034
# Pinned versions of everything the offline e2e cluster is built from.
# Bump E2E_CACHE_VERSION whenever a pin changes in a way that must not reuse
# old cached artifacts (each artifact's cache key also includes its own pin).

E2E_CACHE_VERSION=v1

# Kubernetes 1.34 is the last minor whose kubelet runs on cgroup v1 by default
# and the last one that works with Debian 12's containerd 1.6.
K8S_VERSION=v1.34.4
KIND_VERSION=v0.30.0
HELM_VERSION=v3.19.5
# crictl in the node: `kind export logs` and debugging use it.
CRICTL_VERSION=v1.34.0
# etcd/coredns/pause: exactly what `kubeadm config images list` asks for in
# $K8S_VERSION (constants.go: etcd 3.6.5-0, coredns v1.12.1, pause 3.10.1).
ETCD_VERSION=v3.6.5
COREDNS_VERSION=v1.12.1
PAUSE_VERSION=3.10.1
# CSI sidecars. Only external-provisioner is served by this machine's Go
# module proxy; node-driver-registrar and livenessprobe are refused at every
# version (403 "not available", checked 2026-11-25), so e2e cannot build
# them. See README.md "CSI sidecars" for what the node plugin does instead.
CSI_PROVISIONER_MODULE=github.com/kubernetes-csi/external-provisioner/v5
CSI_PROVISIONER_VERSION=v5.3.0
# S3-compatible server for the tests (Apache-2.0); its tags are not
# semver-compatible with its module path, so a pseudo-version is pinned.
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
# Debian release for every rootfs we make with debootstrap.
DEBIAN_SUITE=bookworm
