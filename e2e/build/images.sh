#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds, into the e2e engine, every image the offline cluster needs:
#   registry.k8s.io/{kube-apiserver,kube-controller-manager,kube-scheduler,
#     kube-proxy}:$K8S_VERSION, etcd, coredns, pause   (control plane)
#   registry.k8s.io/sig-storage/csi-provisioner        (CSI sidecar)
#   tidefs-e2e/tools, tidefs-e2e/redis, tidefs-e2e/seaweedfs (test services)
#   debian:bookworm, debian:bookworm-slim               (docker/base/build.sh)
#   $E2E_NODE_IMAGE                                     (the kind node)
# Images are tagged exactly as kubeadm and the chart name them, so nothing is
# ever pulled. Each image carries an io.tidefs.e2e.key label derived from its
# inputs; an image whose label matches is not rebuilt. Debian root
# filesystems are made with debootstrap and cached as tarballs.
#
# Needs the binaries from build/k8s.sh and build/tools.sh and a running
# engine (engine.sh up). Usage: images.sh [NAME...]  (default: all)
. "$(dirname "$0")/../lib.sh"

K8S_BIN=$E2E_BIN/k8s-$K8S_VERSION
CRICTL=$E2E_BIN/crictl-$CRICTL_VERSION/crictl
ROOTFS=$E2E_CACHE/rootfs
DEBS=$E2E_CACHE/base/debs
MIRROR=${MIRROR:-http://deb.debian.org/debian}
export DOCKER_BUILDKIT=0
SELF_HASH=$(e2e_hash "$0")

# ------------------------------------------------------------ rootfs -------
# rootfs NAME PACKAGES: prints the path of a cached tarball of a minbase
# Debian rootfs with PACKAGES (comma-separated), made by debootstrap.
rootfs() {
    local name=$1 pkgs=$2 key tar work
    key=$(e2e_hash "$DEBIAN_SUITE" "$pkgs" "$MIRROR")
    tar=$ROOTFS/$name-$key.tar
    if [ ! -f "$tar" ]; then
        work=$ROOTFS/work-$name
        rm -rf "$work" "$ROOTFS/$name"-*.tar
        mkdir -p "$work" "$DEBS"
        e2e_log "debootstrap $name: $pkgs"
        $E2E_NICE debootstrap --variant=minbase --include="$pkgs" --cache-dir="$DEBS" \
            "$DEBIAN_SUITE" "$work/root" "$MIRROR" >"$work.log" 2>&1 ||
            { tail -20 "$work.log" >&2; e2e_die "debootstrap $name failed"; }
        rm -rf "$work"/root/var/lib/apt/lists/* "$work"/root/var/cache/apt/*.bin \
            "$work"/root/var/cache/apt/archives/*.deb "$work"/root/var/log/*.log
        : >"$work/root/etc/machine-id"
        tar --numeric-owner -C "$work/root" -cf "$tar.tmp" .
        mv "$tar.tmp" "$tar"
        rm -rf "$work" "$work.log"
    fi
    printf '%s\n' "$tar"
}

# ------------------------------------------------------- image helpers -----
# build_image TAG KEY DOCKERFILE FILE...: docker build TAG from DOCKERFILE
# (text) with FILEs copied into the context, unless TAG already has KEY.
build_image() {
    local tag=$1 key=$2 dockerfile=$3 ctx f
    shift 3
    if e2e_image_current "$tag" "$key"; then
        e2e_log "$tag: current"
        return 0
    fi
    ctx=$(mktemp -d "$E2E_CACHE/ctx.XXXXXX")
    for f in "$@"; do cp -a "$f" "$ctx/"; done
    printf '%s\nLABEL io.tidefs.e2e.key=%s\n' "$dockerfile" "$key" >"$ctx/Dockerfile"
    e2e_log "building $tag"
    # The legacy builder (no BuildKit in docker 20.10 without buildx) warns
    # about its deprecation on every build: show its output only on failure.
    if ! e2e_docker build -t "$tag" "$ctx" >"$ctx.log" 2>&1; then
        cat "$ctx.log" >&2
        rm -rf "$ctx" "$ctx.log"
        e2e_die "docker build $tag failed"
    fi
    rm -rf "$ctx" "$ctx.log"
}

# import_rootfs TAG KEY TAR CHANGES...: docker import TAR as TAG.
import_rootfs() {
    local tag=$1 key=$2 tar=$3
    shift 3
    if e2e_image_current "$tag" "$key"; then
        e2e_log "$tag: current"
        return 0
    fi
    local changes=(--change "LABEL io.tidefs.e2e.key=$key")
    local c
    for c in "$@"; do changes+=(--change "$c"); done
    e2e_log "importing $tag"
    e2e_docker import "${changes[@]}" "$tar" "$tag" >/dev/null
}

# scratch_image TAG BINARY [ENTRYPOINT]: a FROM-scratch image holding one
# static binary in /usr/local/bin, which is on PATH (kubeadm's static pods
# run control-plane binaries by bare name).
scratch_image() {
    local tag=$1 bin=$2 entry=${3:-} df key
    df="FROM scratch
COPY $(basename "$bin") /usr/local/bin/
ENV PATH=/usr/local/bin:/usr/bin:/bin"
    [ -n "$entry" ] && df="$df
ENTRYPOINT [\"$entry\"]"
    key=$(e2e_hash "$df" "$(sha256sum <"$bin")")
    build_image "$tag" "$key" "$df" "$bin"
}

# ------------------------------------------------------------- images ------
image_base() {
    if [ "$E2E_OFFLINE" = 1 ]; then
        TIDEFS_BASE_CACHE=$E2E_CACHE/base DOCKER_HOST=$E2E_DOCKER_HOST "$E2E_REPO/docker/base/build.sh"
    else
        TIDEFS_BASE_CACHE=$E2E_CACHE/base "$E2E_REPO/docker/base/build.sh"
    fi
}

image_control_plane() {
    local c
    for c in kube-apiserver kube-controller-manager kube-scheduler; do
        scratch_image "registry.k8s.io/$c:$K8S_VERSION" "$K8S_BIN/$c"
    done
    scratch_image "registry.k8s.io/etcd:${ETCD_VERSION#v}-0" "$E2E_BIN/etcd-$ETCD_VERSION/etcd"
    scratch_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$E2E_BIN/coredns-$COREDNS_VERSION/coredns" /usr/local/bin/coredns
    scratch_image "registry.k8s.io/pause:$PAUSE_VERSION" "$E2E_BIN/pause-$PAUSE_VERSION/pause" /usr/local/bin/pause
}

# The tools image is a small Debian with what kube-proxy needs (iptables,
# conntrack) and what the test services and client pods need (redis,
# curl). One rootfs for all of them keeps the node's image store small.
TOOLS_PKGS=iptables,nftables,conntrack,iproute2,procps,redis-server,curl,ca-certificates,coreutils
TOOLS_TAG=$E2E_TOOLS_IMAGE

image_tools() {
    local tar
    tar=$(rootfs tools "$TOOLS_PKGS")
    import_rootfs "$TOOLS_TAG" "$(e2e_hash "$tar")" "$tar" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["bash"]'
}

image_kube_proxy() {
    local df key
    df="FROM $TOOLS_TAG
COPY kube-proxy /usr/local/bin/kube-proxy"
    key=$(e2e_hash "$df" "$(e2e_image_key "$TOOLS_TAG")" "$(sha256sum <"$K8S_BIN/kube-proxy")")
    build_image "registry.k8s.io/kube-proxy:$K8S_VERSION" "$key" "$df" "$K8S_BIN/kube-proxy"
}

REDIS_TAG=$E2E_REDIS_IMAGE
image_redis() {
    local df key
    df="FROM $TOOLS_TAG
USER 65534:65534
ENTRYPOINT [\"/usr/bin/redis-server\"]
CMD [\"--protected-mode\", \"no\", \"--save\", \"\", \"--appendonly\", \"no\", \"--dir\", \"/tmp\"]"
    key=$(e2e_hash "$df" "$(e2e_image_key "$TOOLS_TAG")")
    build_image "$REDIS_TAG" "$key" "$df"
}

SEAWEEDFS_TAG=$E2E_S3_IMAGE
image_seaweedfs() {
    local df key bin=$E2E_BIN/weed-$SEAWEEDFS_VERSION/weed
    "$bin" version >/dev/null 2>&1 || e2e_die "$bin does not run"
    df="FROM debian:$DEBIAN_SUITE-slim
COPY weed /usr/bin/weed
ENTRYPOINT [\"/usr/bin/weed\"]"
    key=$(e2e_hash "$df" "$(docker_base_key)" "$(sha256sum <"$bin")")
    build_image "$SEAWEEDFS_TAG" "$key" "$df" "$bin"
}

docker_base_key() {
    e2e_docker image inspect -f '{{index .Config.Labels "io.tidefs.base.key"}}' "debian:$DEBIAN_SUITE-slim"
}

CSI_PROVISIONER_TAG=$E2E_CSI_PROVISIONER_IMAGE
image_csi_sidecars() {
    scratch_image "$CSI_PROVISIONER_TAG" "$E2E_BIN/csi-provisioner-$CSI_PROVISIONER_VERSION/csi-provisioner" \
        /usr/local/bin/csi-provisioner
}

# ---------------------------------------------------------- kind node ------
# The node base: what kind's images/base Dockerfile makes, from Debian
# packages instead of git clones (containerd 1.6, runc, CNI plugins), with
# kind's own files (entrypoint, units) from the sigs.k8s.io/kind module.
NODE_PKGS=systemd,systemd-sysv,dbus,iproute2,iptables,nftables,conntrack,ethtool,mount,util-linux,kmod,procps,containerd,runc,containernetworking-plugins,fuse3,jq,ca-certificates,libseccomp2,pigz,bash,curl,e2fsprogs,socat

# containerd settings for the node. restrict_oom_score_adj must be true:
# without CAP_SYS_RESOURCE (missing on these machines) negative OOM scores,
# which containerd gives every sandbox, fail. The sandbox image is the pause
# image we build.
write_containerd_config() {
    cat >"$1" <<EOF
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:$PAUSE_VERSION"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  discard_unpacked_layers = true
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "/etc/containerd/cri-base.json"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/opt/cni/bin"
  conf_dir = "/etc/cni/net.d"
EOF
}

# kind's default CNI (kindnetd) is an image we cannot pull; a single node
# needs only a static point-to-point network on the node's pod CIDR.
write_cni_config() {
    cat >"$1" <<'EOF'
{
  "cniVersion": "1.0.0",
  "name": "tidefs-e2e",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": true,
      "mtu": 1400,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.244.0.0/24" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

customize_node_rootfs() {
    local root=$1 kind
    kind=$(e2e_go_env && e2e_go_mod_dir "sigs.k8s.io/kind@$KIND_VERSION")/images/base/files
    install -m 0755 "$kind"/usr/local/bin/* "$root/usr/local/bin/"
    mkdir -p "$root/kind/bin" "$root/etc/containerd" "$root/etc/systemd/system/kubelet.service.d" \
        "$root/etc/kubernetes/manifests" "$root/etc/cni/net.d" "$root/opt/cni" "$root/LICENSES"
    install -m 0755 "$kind"/kind/bin/* "$root/kind/bin/"
    install -m 0644 "$kind"/etc/crictl.yaml "$root/etc/"
    install -m 0644 "$kind"/etc/default/* "$root/etc/default/"
    install -m 0644 "$kind"/etc/sysctl.d/* "$root/etc/sysctl.d/"
    install -m 0644 "$kind"/etc/systemd/system/*.service "$kind"/etc/systemd/system/*.slice "$root/etc/systemd/system/"
    install -m 0644 "$kind"/etc/systemd/system/kubelet.service.d/* "$root/etc/systemd/system/kubelet.service.d/"
    # The prune list of kind's base Dockerfile: no getty, udev, timers...
    find "$root/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
    rm -f "$root"/lib/systemd/system/multi-user.target.wants/* "$root"/etc/systemd/system/*.wants/* \
        "$root"/lib/systemd/system/local-fs.target.wants/* "$root"/lib/systemd/system/sockets.target.wants/*udev* \
        "$root"/lib/systemd/system/sockets.target.wants/*initctl* "$root"/lib/systemd/system/basic.target.wants/*
    echo "ReadKMsg=no" >>"$root/etc/systemd/journald.conf"
    chroot "$root" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
    chroot "$root" systemctl mask systemd-binfmt.service >/dev/null 2>&1
    # kind's units expect containerd in /usr/local/bin; Debian ships it in
    # /usr/bin, and its CNI plugins in /usr/lib/cni.
    ln -sf /usr/bin/containerd "$root/usr/local/bin/containerd"
    ln -sfn /usr/lib/cni "$root/opt/cni/bin"
    write_containerd_config "$root/etc/containerd/config.toml"
    write_cni_config "$root/etc/cni/net.d/10-tidefs-e2e.conflist"
    # Base OCI spec for pods: containerd's default plus kind's hook that
    # gives each node its own product_uuid, without rlimits (raising hard
    # limits needs CAP_SYS_RESOURCE).
    chroot "$root" ctr oci spec |
        jq '.hooks.createContainer += [{"path": "/kind/bin/mount-product-files.sh"}] | del(.process.rlimits)' \
            >"$root/etc/containerd/cri-base.json"
    [ -s "$root/etc/containerd/cri-base.json" ] || e2e_die "could not generate cri-base.json"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log
}

NODE_BASE_TAG=tidefs-e2e/node-base:$DEBIAN_SUITE-1
NODE_BASE_IMPORT_TAG=tidefs-e2e/node-base-import:$DEBIAN_SUITE-1
image_node_base() {
    local tar key root
    tar=$(rootfs node "$NODE_PKGS")
    key=$(e2e_hash "$tar" "$SELF_HASH" "$KIND_VERSION" "$PAUSE_VERSION")
    if e2e_image_current "$NODE_BASE_TAG" "$key"; then
        e2e_log "$NODE_BASE_TAG: current"
        return 0
    fi
    root=$ROOTFS/work-node-base
    rm -rf "$root"
    mkdir -p "$root"
    tar --numeric-owner -C "$root" -xf "$tar"
    customize_node_rootfs "$root"
    e2e_log "importing $NODE_BASE_TAG"
    tar --numeric-owner -C "$root" -c . | e2e_docker import \
        --change 'ENV container=docker' \
        --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
        - "$NODE_BASE_IMPORT_TAG" >/dev/null
    rm -rf "$root"
    # `docker import --change` rejects STOPSIGNAL; systemd stops cleanly on
    # SIGRTMIN+3 only.
    build_image "$NODE_BASE_TAG" "$key" "FROM $NODE_BASE_IMPORT_TAG
STOPSIGNAL SIGRTMIN+3"
    e2e_docker rmi "$NODE_BASE_IMPORT_TAG" >/dev/null
}

# The images kubeadm will ask for: checked against what we build, so that a
# version bump that changes them fails here and not in a pull at boot.
node_preload_images() {
    "$K8S_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null
}

# The node image: kind's `build node-image`, redone without any registry
# pull: kube binaries into /usr/bin, crictl (kind's `export logs` and `load`
# call it), /kind/version, and the control-plane
# images imported (pinned, not unpacked) into the node's containerd store,
# which docker copies into each node's /var volume at creation.
image_node() {
    local images key img ctr
    images=$(node_preload_images)
    [ -n "$images" ] || e2e_die "kubeadm config images list printed nothing"
    for img in $images; do
        e2e_docker image inspect "$img" >/dev/null 2>&1 || e2e_die "kubeadm wants $img, which is not built"
    done
    key=$(e2e_hash "$(e2e_image_key "$NODE_BASE_TAG")" "$SELF_HASH" "$(sha256sum "$K8S_BIN"/kubeadm "$K8S_BIN"/kubelet "$K8S_BIN"/kubectl "$CRICTL")" \
        "$(for img in $images registry.k8s.io/kube-proxy:$K8S_VERSION; do e2e_docker image inspect -f '{{.Id}}' "$img"; done)")
    if e2e_image_current "$E2E_NODE_IMAGE" "$key"; then
        e2e_log "$E2E_NODE_IMAGE: current"
        return 0
    fi
    e2e_log "assembling $E2E_NODE_IMAGE"
    ctr=tidefs-e2e-node-build
    e2e_docker rm -f "$ctr" >/dev/null 2>&1 || true
    e2e_docker run -d --name "$ctr" --entrypoint=sleep "$NODE_BASE_TAG" infinity >/dev/null
    # shellcheck disable=SC2064
    trap "e2e_docker rm -f $ctr >/dev/null 2>&1 || true" RETURN
    local b
    for b in kubeadm kubelet kubectl; do e2e_docker cp "$K8S_BIN/$b" "$ctr:/usr/bin/$b"; done
    e2e_docker cp "$CRICTL" "$ctr:/usr/local/bin/crictl"
    e2e_docker exec "$ctr" sh -c "echo $K8S_VERSION >/kind/version"
    e2e_docker exec -d "$ctr" sh -c 'containerd >/var/log/containerd-build.log 2>&1'
    e2e_wait 30 "containerd in the node build container" e2e_docker exec "$ctr" ctr version
    # shellcheck disable=SC2086
    e2e_docker save $images | e2e_docker exec -i "$ctr" ctr --namespace=k8s.io images import \
        --all-platforms --no-unpack --digests - >/dev/null
    # Pinned images are never garbage-collected by the kubelet (ctr 1.6's
    # import has no --label, so label them afterwards).
    for img in $images; do
        e2e_docker exec "$ctr" ctr --namespace=k8s.io images label "$img" io.cri-containerd.pinned=pinned >/dev/null
    done
    e2e_docker exec "$ctr" pkill containerd
    e2e_wait 30 "containerd to stop" sh -c "! DOCKER_HOST=$E2E_DOCKER_HOST docker exec $ctr pgrep -x containerd"
    e2e_docker commit \
        --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
        --change 'CMD []' \
        --change "LABEL io.tidefs.e2e.key=$key" \
        "$ctr" "$E2E_NODE_IMAGE" >/dev/null
}

all=(base control_plane tools kube_proxy redis seaweedfs csi_sidecars node_base node)
[ $# -gt 0 ] && all=("$@")
for i in "${all[@]}"; do
    e2e_phase "image ${i//_/-}" "image_${i//-/_}"
done
# Images replaced by a rebuild stay as untagged layers; on our own engine
# nothing else can need them.
if [ "$E2E_OFFLINE" = 1 ]; then
    e2e_docker image prune -f >/dev/null
fi
