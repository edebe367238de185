#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes the Debian base images that docker/Dockerfile and the e2e images
# build FROM, without a registry: debootstrap a minbase Debian rootfs from
# the Debian archive and `docker import` it as
#   debian:$SUITE       minbase, like the official image
#   debian:$SUITE-slim  the same with documentation, man pages and locales
#                       left out by dpkg (as the official -slim does)
# into the engine DOCKER_HOST points at (the machine's engine by default).
#
# The rootfs tarballs are cached in $TIDEFS_BASE_CACHE (outside the repo);
# an image already carrying the current key is left alone, so a warm run
# takes a second. Needs root, debootstrap, docker.
#
# Usage: docker/base/build.sh [--force]
#   SUITE=bookworm MIRROR=http://deb.debian.org/debian TIDEFS_BASE_CACHE=...
set -euo pipefail

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=${TIDEFS_BASE_CACHE:-/var/cache/tidefs-e2e/v1/base}
FORCE=0
[ "${1:-}" = --force ] && FORCE=1

log() { printf '[base %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap)"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install -y debootstrap"; exit 1; }

# Changing this script changes the key, which rebuilds the tarballs.
KEY=$(cat "$0" | sha256sum | cut -c1-16)-$SUITE
FULL_TAR=$CACHE/$SUITE-$KEY.tar
SLIM_TAR=$CACHE/$SUITE-slim-$KEY.tar

image_key() { docker image inspect -f '{{index .Config.Labels "io.tidefs.base.key"}}' "$1" 2>/dev/null || true; }

# Files the official slim image leaves out; kept copyright files for licences.
write_slim_excludes() {
    cat >"$1/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
}

# Container-friendly apt settings, as in the official images: no cached
# .debs, no recommends, no interactive prompts.
configure_apt() {
    local root=$1
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
    echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
    echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<CFG
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
    rm -f "$root/etc/apt/sources.list"
}

# Leave no host identity, caches or logs in the image.
scrub() {
    local root=$1
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/root/.bash_history
    : >"$root/etc/hostname"
    : >"$root/etc/resolv.conf"
    rm -f "$root/etc/machine-id"
    : >"$root/etc/machine-id"
}

make_rootfs() {
    local work=$CACHE/work
    rm -rf "$work"
    mkdir -p "$work/root" "$CACHE/debs"
    log "debootstrap $SUITE minbase from $MIRROR"
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    configure_apt "$work/root"
    scrub "$work/root"
    # Numeric owners, no atime noise; a fixed mtime is not needed because the
    # tarball is cached and reused as-is.
    tar --numeric-owner -C "$work/root" -cf "$FULL_TAR.tmp" .
    mv "$FULL_TAR.tmp" "$FULL_TAR"

    write_slim_excludes "$work/root"
    (cd "$work/root/usr/share" && rm -rf man/* groff/* info/* lintian/* linda/* locale/* &&
        find doc -mindepth 1 -not -name copyright -not -type d -delete && find doc -mindepth 1 -type d -empty -delete)
    tar --numeric-owner -C "$work/root" -cf "$SLIM_TAR.tmp" .
    mv "$SLIM_TAR.tmp" "$SLIM_TAR"
    rm -rf "$work"
}

import() {
    local tar=$1 tag=$2
    if [ $FORCE = 0 ] && [ "$(image_key "$tag")" = "$KEY" ]; then
        log "$tag: current"
        return 0
    fi
    log "importing $tag"
    docker import \
        --change "LABEL io.tidefs.base.key=$KEY" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        "$tar" "$tag" >/dev/null
}

mkdir -p "$CACHE"
if [ $FORCE = 1 ] || [ ! -f "$FULL_TAR" ] || [ ! -f "$SLIM_TAR" ]; then
    rm -f "$CACHE/$SUITE"-*.tar
    make_rootfs
fi
import "$FULL_TAR" "debian:$SUITE"
import "$SLIM_TAR" "debian:$SUITE-slim"
docker run --rm "debian:$SUITE-slim" sh -c ". /etc/os-release && test \"\$VERSION_CODENAME\" = $SUITE" ||
    { log "debian:$SUITE-slim does not run"; exit 1; }
log "debian:$SUITE and debian:$SUITE-slim ready"
