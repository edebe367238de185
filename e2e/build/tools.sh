#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds every Go program the offline cluster needs besides Kubernetes itself,
# each from the Go module proxy at the version pinned in e2e/versions.sh:
#   kind, helm                 host tools, into $E2E_BIN
#   crictl                     into the kind node image
#   etcd, coredns              control-plane images' binaries
#   csi-provisioner            CSI sidecar
#   weed (SeaweedFS)           the S3-compatible server the tests use
#                              (shared with scripts/s3-server.sh)
# and the pause binary from the k8s.io/kubernetes module's C source.
# Usage: tools.sh [NAME...]   (default: all)
. "$(dirname "$0")/../lib.sh"
e2e_go_env

# go_install NAME MODULE@VERSION PACKAGE [LDFLAGS]: for modules without
# replace directives, `go install` of a package at a version just works.
go_install() {
    local name=$1 modver=$2 pkg=$3 ldflags=${4:-} out=$E2E_BIN/$1-${2##*@}
    local key
    key=$(e2e_hash "$modver" "$pkg" "$ldflags")
    e2e_cached "$key" "$out" && { e2e_log "$name: cached"; return 0; }
    rm -rf "$out"
    mkdir -p "$out"
    GOBIN=$out $E2E_NICE go install -trimpath -ldflags "-s -w $ldflags" "$pkg@${modver##*@}"
    e2e_mark_done "$key" "$out"
}

# go_build_src NAME MODULE@VERSION PACKAGE [LDFLAGS]: for modules whose
# go.mod has replace directives (ignored by `go install`), build inside a
# writable copy of the module itself. vendor/ is not in module zips, hence
# -mod=mod.
go_build_src() {
    local name=$1 modver=$2 pkg=$3 ldflags=${4:-} out=$E2E_BIN/$1-${2##*@}
    local key dir src
    key=$(e2e_hash "$modver" "$pkg" "$ldflags")
    e2e_cached "$key" "$out" && { e2e_log "$name: cached"; return 0; }
    rm -rf "$out"
    mkdir -p "$out"
    dir=$(e2e_go_mod_dir "$modver")
    src=$E2E_CACHE/src/$name
    rm -rf "$src"
    cp -r "$dir" "$src"
    chmod -R u+w "$src"
    (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" $E2E_NICE go build -trimpath -ldflags "-s -w $ldflags" -o "$out/" "$pkg")
    rm -rf "$src"
    e2e_mark_done "$key" "$out"
}

# go_build_wrapped NAME MODULE VERSION PACKAGE: for a main package inside a
# module whose replace directives point at sibling directories of its
# repository (etcd): a one-line wrapper module requiring it resolves those
# siblings from the proxy at the versions its go.mod requires.
go_build_wrapped() {
    local name=$1 mod=$2 ver=$3 pkg=$4 out=$E2E_BIN/$1-$3
    local key src
    key=$(e2e_hash "$mod@$ver" "$pkg")
    e2e_cached "$key" "$out" && { e2e_log "$name: cached"; return 0; }
    rm -rf "$out"
    mkdir -p "$out"
    src=$E2E_CACHE/src/$name-$ver
    rm -rf "$src"
    mkdir -p "$src"
    printf 'module tidefs.io/e2e/%s\n\ngo 1.24\n\nrequire %s %s\n' "$name" "$mod" "$ver" >"$src/go.mod"
    (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" $E2E_NICE go build -trimpath -ldflags "-s -w" -o "$out/$name" "$pkg")
    e2e_mark_done "$key" "$out"
}

build_crictl() {
    go_install crictl "sigs.k8s.io/cri-tools@$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl \
        "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
}
build_kind() { go_install kind "sigs.k8s.io/kind@$KIND_VERSION" sigs.k8s.io/kind; }
build_helm() {
    go_install helm "helm.sh/helm/v3@$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
        "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
}
build_etcd() { go_build_wrapped etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3; }
build_coredns() { go_install coredns "github.com/coredns/coredns@$COREDNS_VERSION" github.com/coredns/coredns; }
build_csi_provisioner() {
    go_build_src csi-provisioner "$CSI_PROVISIONER_MODULE@$CSI_PROVISIONER_VERSION" ./cmd/csi-provisioner \
        "-X main.version=$CSI_PROVISIONER_VERSION"
}
# The project's own tests run SeaweedFS from scripts/s3-server.sh, which
# builds the same pinned version into its own cache: reuse that binary
# rather than compiling it twice on a cold machine.
build_seaweedfs() {
    local shared=$E2E_REPO/scripts/s3-server.sh out=$E2E_BIN/weed-$SEAWEEDFS_VERSION weed
    if [ -x "$shared" ] && grep -q "^WEED_VERSION=$SEAWEEDFS_VERSION\$" "$shared"; then
        weed=$("$shared" build)
        [ -x "$weed" ] || e2e_die "scripts/s3-server.sh build printed '$weed'"
        mkdir -p "$out"
        cp "$weed" "$out/weed.tmp" && mv "$out/weed.tmp" "$out/weed"
        return 0
    fi
    go_build_src weed "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" ./weed
}

# pause: the tiny C program every pod sandbox runs, built static from the
# source shipped in the k8s.io/kubernetes module.
build_pause() {
    local out=$E2E_BIN/pause-$PAUSE_VERSION key dir
    key=$(e2e_hash "$K8S_VERSION" "$PAUSE_VERSION" pause)
    e2e_cached "$key" "$out" && { e2e_log "pause: cached"; return 0; }
    dir=$(e2e_go_mod_dir "k8s.io/kubernetes@$K8S_VERSION")
    rm -rf "$out"
    mkdir -p "$out"
    gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-tidefs" -o "$out/pause" "$dir/build/pause/linux/pause.c"
    strip "$out/pause"
    e2e_mark_done "$key" "$out"
}

all=(kind helm crictl pause etcd coredns csi_provisioner seaweedfs)
[ $# -gt 0 ] && all=("$@")
for t in "${all[@]}"; do
    e2e_phase "tool ${t//_/-}" "build_${t//-/_}"
done
