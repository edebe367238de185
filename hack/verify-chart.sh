#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks the Helm chart and the plain manifests rendered from it:
#   1. helm lint --strict, with the default values and with every optional
#      part switched on and off;
#   2. manifests/ equals `helm template` of the defaults, one file per kind
#      (--update rewrites manifests/ instead of failing);
#   3. the rendered objects are accepted by a real Kubernetes API server
#      (hack/validate-api.sh: schemas, admission, RBAC and Pod Security).
# helm is the e2e suite's (built from the Go module proxy by
# e2e/build/tools.sh into its cache, built here when missing); HELM=... uses
# another. Ends with "verify-chart: N passed, N failed".
#
# Usage: hack/verify-chart.sh [--update] [--no-api] [--lint-only]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHART=$ROOT/charts/tidefs
MANIFESTS=$ROOT/manifests
# The release the manifests are rendered as: `kubectl apply -k manifests/`
# must give what `helm install tidefs charts/tidefs -n kube-system` gives.
RELEASE=tidefs
NAMESPACE=kube-system
UPDATE=0
API=1
SYNC=1
for a in "$@"; do
    case $a in
    --update) UPDATE=1 ;;
    --no-api) API=0 ;;
    --lint-only) API=0 SYNC=0 ;;
    *) echo "verify-chart: unknown argument '$a' (use --update, --no-api, --lint-only)" >&2; exit 2 ;;
    esac
done

log() { printf '[verify-chart %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
PASSED=0
FAILED=0
# check NAME CMD...: runs one check and counts it.
check() {
    local name=$1 start=$SECONDS
    shift
    if "$@"; then
        PASSED=$((PASSED + 1))
        log "ok   $name ($((SECONDS - start))s)"
    else
        FAILED=$((FAILED + 1))
        log "FAIL $name ($((SECONDS - start))s)"
    fi
}

find_helm() {
    if [ -n "${HELM:-}" ]; then return 0; fi
    # shellcheck source=e2e/versions.sh
    . "$ROOT/e2e/versions.sh"
    HELM=${E2E_CACHE_ROOT:-/var/cache/tidefs-e2e}/$E2E_CACHE_VERSION/bin/helm-$HELM_VERSION/helm
    if [ ! -x "$HELM" ]; then
        log "helm $HELM_VERSION not built yet: e2e/build/tools.sh helm"
        "$ROOT/e2e/build/tools.sh" helm >&2
    fi
    [ -x "$HELM" ] || { log "no helm at $HELM"; exit 1; }
}

lint() {
    "$HELM" lint --strict "$CHART" "$@" >/tmp/verify-chart-lint.$$ 2>&1 ||
        { cat /tmp/verify-chart-lint.$$ >&2; rm -f /tmp/verify-chart-lint.$$; return 1; }
    rm -f /tmp/verify-chart-lint.$$
}

# Every optional part on, then every one off.
ALL_ON=(--set storageClass.create=true,storageClass.isDefault=true,secret.create=true
    --set secret.metaUrl=redis://redis.example:6379/1,secret.volumeName=vol,secret.accessKey=a,secret.secretKey=s
    --set-string storageClass.parameters.tidefs\\.io/mount-memory-limit=2Gi
    --set image.baseRepo=mirror.example/k8s,customLabels.team=storage,controller.replicas=2)
ALL_OFF=(--set mountPod.enabled=false,controller.resizer.enabled=false,controller.livenessProbe.enabled=false
    --set node.livenessProbe.enabled=false,controller.leaderElection.enabled=false,csiDriver.create=false
    --set mountPod.priorityClass.create=false,serviceAccount.create=false,rbac.create=false)

# A template that must fail, with a message naming the problem.
lint_rejects_secret_without_metaurl() {
    local out
    if out=$("$HELM" template "$RELEASE" "$CHART" --set secret.create=true 2>&1); then
        log "secret.create=true without secret.metaUrl rendered"
        return 1
    fi
    grep -q 'secret.metaUrl is empty' <<<"$out"
}

# render_split DIR [HELM ARGS]: helm template into DIR, one file per kind
# (lower case: clusterrolebinding.yaml), documents in rendering order, and
# a kustomization.yaml listing them (Namespace first, so that
# `kubectl apply -k` creates it before what lives in it).
render_split() {
    local dir=$1
    shift
    mkdir -p "$dir"
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "$@" | awk -v dir="$dir" '
        function flush() {
            if (doc != "" && kind != "") {
                f = dir "/" tolower(kind) ".yaml"
                if (f in seen) printf "---\n" >> f
                else printf "# Rendered from charts/tidefs by hack/verify-chart.sh --update: do not edit.\n" > f
                seen[f] = 1
                printf "%s", doc >> f
            }
            doc = ""; kind = ""
        }
        /^---/ { flush(); next }
        /^kind: / { kind = $2 }
        { if (doc != "" || $0 !~ /^[[:space:]]*$/) doc = doc $0 "\n" }
        END { flush() }'
    {
        echo "# Rendered from charts/tidefs by hack/verify-chart.sh --update: do not edit."
        echo "# kubectl apply -k manifests/"
        echo "apiVersion: kustomize.config.k8s.io/v1beta1"
        echo "kind: Kustomization"
        echo "resources:"
        [ -f "$dir/namespace.yaml" ] && echo "  - namespace.yaml"
        (cd "$dir" && ls -1 ./*.yaml) | sed 's#^\./##' | grep -vx -e namespace.yaml -e kustomization.yaml | sed 's/^/  - /'
    } >"$dir/kustomization.yaml"
}

manifests_in_sync() {
    local tmp
    tmp=$(mktemp -d)
    render_split "$tmp/m"
    if [ $UPDATE = 1 ]; then
        rm -rf "$MANIFESTS"
        cp -r "$tmp/m" "$MANIFESTS"
        log "manifests/ rewritten ($(ls "$MANIFESTS" | wc -l) files)"
    fi
    if ! diff -ru "$tmp/m" "$MANIFESTS" >"$tmp/diff"; then
        head -60 "$tmp/diff" >&2
        log "manifests/ drifted from charts/tidefs: run hack/verify-chart.sh --update and commit"
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "$tmp"
}


find_helm
log "helm: $("$HELM" version --short)"
check "helm lint (defaults)" lint
check "helm lint (every option on)" lint "${ALL_ON[@]}"
check "helm lint (every option off)" lint "${ALL_OFF[@]}"
check "helm template refuses secret.create without metaUrl" lint_rejects_secret_without_metaurl
[ $SYNC = 0 ] || check "manifests/ in sync with the chart" manifests_in_sync
if [ $API = 1 ]; then
    tmp=$(mktemp -d)
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "${ALL_ON[@]}" >"$tmp/all-on.yaml"
    "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "${ALL_OFF[@]}" >"$tmp/all-off.yaml"
    check "API server accepts manifests/ and both variants" \
        "$ROOT/hack/validate-api.sh" "$MANIFESTS" "$tmp/all-on.yaml" "$tmp/all-off.yaml"
    rm -rf "$tmp"
fi
echo "verify-chart: $PASSED passed, $FAILED failed"
[ $FAILED = 0 ]
