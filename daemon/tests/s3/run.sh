#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The S3 store tests against a real server: builds libtidefs and
# test_s3_store, starts SeaweedFS (scripts/s3-server.sh; built once into
# /var/cache/tidefs) and the fault proxy in front of it on loopback ports,
# runs the test program, and stops both whatever happens.
#
#   daemon/tests/s3/run.sh
#   SANITIZER=address,undefined daemon/tests/s3/run.sh   (build-san/, as make does)
set -eu

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
SANITIZER=${SANITIZER:-}
BUILD=$ROOT/build${SANITIZER:+-san}
SANFLAGS=${SANITIZER:+-fsanitize=$SANITIZER -fno-omit-frame-pointer -fno-sanitize-recover=all}
PKGS="fuse3 sqlite3 libcurl openssl liblz4 libzstd jansson hiredis"

make --no-print-directory -C "$ROOT" daemon SANITIZER="$SANITIZER" >&2
mkdir -p "$BUILD/tests/s3"
# shellcheck disable=SC2046,SC2086
cc -std=gnu11 -O2 -g $SANFLAGS -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -D_GNU_SOURCE \
    -D_FILE_OFFSET_BITS=64 -pthread -I"$ROOT/daemon" $(pkg-config --cflags $PKGS) \
    -o "$BUILD/tests/s3/test_s3_store" "$ROOT/daemon/tests/s3/test_s3_store.c" "$BUILD/lib/libtidefs.a" \
    $(pkg-config --libs $PKGS) -lpthread -lm

work=$(mktemp -d /tmp/tidefs-s3.XXXXXX)
proxy_pid=""
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
    "$ROOT/scripts/s3-server.sh" stop "$work/server" || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

t0=$(date +%s)
eval "$("$ROOT/scripts/s3-server.sh" start "$work/server")"
echo "s3 server ready in $(($(date +%s) - t0)) s at $TIDEFS_S3_ENDPOINT" >&2
/usr/bin/python3 "$ROOT/daemon/tests/s3/faultproxy.py" --upstream "$(cat "$work/server/port")" \
    --port-file "$work/proxy.port" 2>"$work/proxy.log" &
proxy_pid=$!
i=0
while [ ! -s "$work/proxy.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$work/proxy.port" ] || { cat "$work/proxy.log" >&2; echo "run.sh: fault proxy did not start" >&2; exit 1; }
export TIDEFS_S3_PROXY="http://127.0.0.1:$(cat "$work/proxy.port")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
unset AWS_SESSION_TOKEN AWS_REGION
timeout 900 "$BUILD/tests/s3/test_s3_store"
