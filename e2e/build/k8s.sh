#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy, kubelet, kubeadm, kubectl) of $K8S_VERSION from
# the Go module proxy into $E2E_BIN/k8s-$K8S_VERSION/.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces every
# k8s.io/* staging module with ./staging/src/..., which does not exist in the
# module zip. A wrapper module requires it and replaces each staging module
# with its published v0.x release instead. The version -X flags matter:
# kubeadm derives image tags and version-skew checks from its own version.
. "$(dirname "$0")/../lib.sh"

out=$E2E_BIN/k8s-$K8S_VERSION
# K8S_CMDS=kubectl builds only kubectl (online mode needs nothing else).
read -r -a cmds <<<"${K8S_CMDS:-kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl}"
key=$(e2e_hash "$K8S_VERSION" "$0" "${cmds[*]}")
e2e_cached "$key" "$out" && { e2e_log "k8s binaries $K8S_VERSION: cached"; exit 0; }

e2e_go_env
src=$E2E_CACHE/src/k8sbin-$K8S_VERSION
rm -rf "$src" "$out"
mkdir -p "$src" "$out"

gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
[ -f "$gomod" ] || e2e_die "k8s.io/kubernetes@$K8S_VERSION: no go.mod from the proxy"
staging_version=v0.${K8S_VERSION#v1.}
{
    echo "module tidefs.io/e2e/k8sbin"
    echo
    grep -E '^go [0-9]' "$gomod"
    grep -E '^godebug ' "$gomod" || true
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    sed -nE "s#^[[:space:]]*(k8s\.io/[^ ]+) => \./staging/src/.*#replace \1 => \1 $staging_version#p" "$gomod"
} >"$src/go.mod"
nrepl=$(grep -c '^replace' "$src/go.mod")
[ "$nrepl" -gt 20 ] || e2e_die "expected the staging replace lines in k8s.io/kubernetes go.mod, found $nrepl"

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

cd "$src" || e2e_die "cannot enter $src"
pkgs=()
for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
e2e_log "building ${cmds[*]} $K8S_VERSION (cold: about 20-30 min on 2 cores)"
GOFLAGS="$GOFLAGS -mod=mod" $E2E_NICE go build -trimpath -ldflags "$ldflags" -o "$out/" "${pkgs[@]}"

got=$("$out/kubectl" version --client -o json | jq -r .clientVersion.gitVersion)
[ "$got" = "$K8S_VERSION" ] || e2e_die "kubectl reports version $got, want $K8S_VERSION"
e2e_mark_done "$key" "$out"
e2e_log "k8s binaries $K8S_VERSION: built"
