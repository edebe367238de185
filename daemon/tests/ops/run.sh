#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operator's-toolkit suite (daemon/tests/ops). Default: the SQLite
# engine. TIDEFS_TEST_META=redis: against a private redis-server started on a
# free loopback port (daemon/tests/redis/redis-start.sh) and stopped at the
# end. Needs root (FUSE mounts) and a built tree (make daemon). Extra
# arguments go to pytest, e.g. daemon/tests/ops/run.sh -x -k quota
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
export TIDEFS_BIN="${TIDEFS_BIN:-$repo/build/bin/tidefs}"
if [ "${TIDEFS_TEST_META:-sqlite}" = redis ]; then
    command -v redis-server >/dev/null 2>&1 || {
        echo "run.sh: SKIPPED: redis-server is not installed (scripts/deps.sh installs it)"; exit 0; }
    dir=$(mktemp -d /tmp/tidefs-ops-redis-XXXXXX)
    port=$(( 20000 + ($$ + 7919) % 20000 ))
    trap '"$repo/daemon/tests/redis/redis-stop.sh" "$dir/server"; rm -rf "$dir"' EXIT INT TERM
    "$repo/daemon/tests/redis/redis-start.sh" "$dir/server" "$port" always
    export TIDEFS_TEST_REDIS_URL="redis://127.0.0.1:$port"
fi
cd "$repo"
/usr/bin/python3 -m pytest -q -p no:cacheprovider daemon/tests/ops "$@"
