# SPDX-License-Identifier: Apache-2.0
# Pinned versions of everything the offline e2e cluster is built from.
# Bump E2E_CACHE_VERSION whenever a pin changes in a way that must not reuse
# old cached artifacts (each artifact's cache key also includes its own pin).

E2E_CACHE_VERSION=v1

# Kubernetes 1.34 is the last minor whose kubelet runs on cgroup v1 by default
# and the last one that works with Debian 12's containerd 1.6.
K8S_VERSION=v1.34.4
KIND_VERSION=v0.30.0
HELM_VERSION=v3.19.5
# etcd/coredns/pause: exactly what `kubeadm config images list` asks for in
# $K8S_VERSION (constants.go: etcd 3.6.5-0, coredns v1.12.1, pause 3.10.1).
ETCD_VERSION=v3.6.5
COREDNS_VERSION=v1.12.1
PAUSE_VERSION=3.10.1
# CSI sidecars. livenessprobe and node-driver-registrar have no /v2 in their
# module path, so only pseudo-versions resolve; the comment names the tag.
CSI_PROVISIONER_MODULE=github.com/kubernetes-csi/external-provisioner/v5
CSI_PROVISIONER_VERSION=v5.3.0
CSI_REGISTRAR_MODULE=github.com/kubernetes-csi/node-driver-registrar
CSI_REGISTRAR_VERSION=v1.3.1-0.20250530170219-8bd83d14abc6   # tag v2.14.0
CSI_REGISTRAR_TAG=v2.14.0
CSI_LIVENESS_MODULE=github.com/kubernetes-csi/livenessprobe
CSI_LIVENESS_VERSION=v1.1.1-0.20250529112817-9b46a131aa33     # tag v2.16.0
CSI_LIVENESS_TAG=v2.16.0
# S3-compatible server for the tests (Apache-2.0); its tags are not
# semver-compatible with its module path, so a pseudo-version is pinned.
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
# Debian release for every rootfs we make with debootstrap.
DEBIAN_SUITE=bookworm
