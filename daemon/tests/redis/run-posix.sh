#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The whole POSIX integration suite (daemon/tests/integration) and the Redis
# tests of this directory (two mounts of one volume, kill -9 of
# redis-server), on the Redis metadata engine, against a private
# redis-server this script starts on a free loopback port with appendonly
# yes / appendfsync always, and stops at the end. Needs root (FUSE mounts)
# and a built tree (make daemon). Extra arguments go to pytest, e.g.
#   daemon/tests/redis/run-posix.sh -x -k rename
# TIDEFS_REDIS_ONLY=integration|redis runs only one of the two parts.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
command -v redis-server >/dev/null 2>&1 || {
    echo "run-posix.sh: SKIPPED: redis-server is not installed (scripts/deps.sh installs it)"; exit 0; }
dir=$(mktemp -d /tmp/tidefs-redis-XXXXXX)
port=$(( 20000 + $$ % 20000 ))
trap '"$here/redis-stop.sh" "$dir/server"; rm -rf "$dir"' EXIT INT TERM
"$here/redis-start.sh" "$dir/server" "$port" always
export TIDEFS_TEST_META=redis
export TIDEFS_TEST_REDIS_URL="redis://127.0.0.1:$port"
export TIDEFS_REDIS_SERVER_DIR="$dir/server" TIDEFS_REDIS_PORT="$port"
export TIDEFS_BIN="${TIDEFS_BIN:-$repo/build/bin/tidefs}"
echo "run-posix.sh: redis-server on 127.0.0.1:$port (dir $dir/server)"
rc=0
if [ "${TIDEFS_REDIS_ONLY:-}" != redis ]; then
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$repo/daemon/tests/integration" "$@" || rc=$?
fi
if [ "${TIDEFS_REDIS_ONLY:-}" != integration ]; then
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$here" "$@" || rc=$?
fi
exit $rc
