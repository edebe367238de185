#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the tidefs image (docker/Dockerfile) into the docker engine that
# DOCKER_HOST names (the machine's engine by default), then checks it:
# `tidefs --version` and `tidefs-csi --version` run inside it, and the
# image's user is the non-root 65532.
#
# Why it does what it does:
#  * The context is only the repository's source files (tracked, plus
#    untracked ones git does not ignore), streamed as a tar: no build/
#    outputs, no .git, no .dockerignore needed at the repository root.
#  * `--network host`: on this project's machines containers on a bridge
#    network cannot reach the Debian mirror (the e2e engine runs without
#    NAT, and the machine engine's docker0 bridge may be missing), while
#    the host can; apt inside the build then works like apt on the host.
#  * The Debian base images come from a registry where there is one, else
#    from docker/base/build.sh (debootstrap + docker import), run here when
#    the engine lacks them.
#
# Usage: docker/build-image.sh [IMAGE]    (default tidefs/tidefs:$(cat VERSION))
#   SOURCE=head builds the last commit instead of the working tree (useful
#   while a shared working tree holds someone's half-written files);
#   NO_CHECK=1 skips the checks; DOCKER_NETWORK=default uses the bridge.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
IMAGE=${1:-tidefs/tidefs:$VERSION}
NETWORK=${DOCKER_NETWORK:-host}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm}
RUNTIME_IMAGE=${RUNTIME_IMAGE:-debian:bookworm-slim}
SOURCE=${SOURCE:-worktree}
case $SOURCE in worktree | head) ;; *) echo "SOURCE must be worktree or head, not '$SOURCE'" >&2; exit 2 ;; esac

log() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
docker version >/dev/null 2>&1 || die "no docker engine answers at ${DOCKER_HOST:-the default socket}"

ensure_bases() {
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 &&
        docker image inspect "$RUNTIME_IMAGE" >/dev/null 2>&1 && return 0
    log "$BASE_IMAGE or $RUNTIME_IMAGE missing: making them with docker/base/build.sh"
    "$ROOT/docker/base/build.sh"
}

# The context as a tar on stdout: the files git knows (or would add), or
# the last commit's.
context_tar() {
    if [ "$SOURCE" = head ]; then
        git -C "$ROOT" archive --format=tar HEAD
        return
    fi
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null --no-recursion -T - -cf -)
}

build() {
    local rev
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    # The working tree may hold edits that are not committed yet.
    [ "$SOURCE" = head ] || [ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
        rev="$rev-dirty"
    log "building $IMAGE (revision $rev, network $NETWORK)"
    local net=()
    [ "$NETWORK" = default ] || net=(--network "$NETWORK")
    local out
    out=$(mktemp)
    # The legacy builder (docker 20.10 without buildx) prints a deprecation
    # notice on every build: show the log only when the build fails.
    if ! context_tar | DOCKER_BUILDKIT=0 docker build "${net[@]}" -f docker/Dockerfile \
        --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
        --build-arg GITREV="$rev" --build-arg VERSION="$VERSION" \
        --build-arg MAKE_JOBS="${MAKE_JOBS:-2}" -t "$IMAGE" - >"$out" 2>&1; then
        tail -40 "$out" >&2
        rm -f "$out"
        die "docker build $IMAGE failed"
    fi
    rm -f "$out"
}

# expect WHAT GOT PATTERN: GOT must match the extended regex PATTERN.
expect() {
    if ! grep -Eq "$3" <<<"$2"; then
        die "$1: got '$2', want /$3/"
    fi
    log "ok: $1: $2"
}

check() {
    local v
    v=$(docker run --rm --network none --entrypoint tidefs "$IMAGE" --version)
    expect "tidefs --version" "$v" "^tidefs version $VERSION "
    v=$(docker run --rm --network none "$IMAGE" --version)
    expect "tidefs-csi --version" "$v" "^tidefs-csi $VERSION "
    v=$(docker run --rm --network none --entrypoint id "$IMAGE")
    expect "image user" "$v" '^uid=65532\(tidefs\) gid=65532\(tidefs\)'
    v=$(docker image inspect -f '{{.Size}}' "$IMAGE")
    log "size: $((v / 1024 / 1024)) MiB"
}

start=$(date +%s)
ensure_bases
build
[ "${NO_CHECK:-0}" = 1 ] || check
log "$IMAGE ready in $(($(date +%s) - start))s"
