#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages tidefs needs to build, test and run, when any
# are missing. Idempotent and quiet when nothing is missing, so every make
# target may call it. Add a package to the list below, never a second script.
set -eu

PACKAGES="
build-essential pkg-config make git
fuse3 libfuse3-dev
libsqlite3-dev sqlite3
libcurl4-openssl-dev libssl-dev
liblz4-dev libzstd-dev
libjansson-dev libyaml-dev
libhiredis-dev redis-server
libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler libprotobuf-dev
python3-grpcio python3-protobuf valgrind
python3 python3-pytest python3-hypothesis
debootstrap jq iproute2
fio attr util-linux
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages:$missing (run as root or install them)" >&2
    exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/tidefs-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
    apt-get update -qq >&2
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
