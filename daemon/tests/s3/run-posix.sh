#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The whole POSIX integration suite (daemon/tests/integration) on volumes
# whose blocks live in a real S3-compatible server (SeaweedFS, started and
# stopped here by scripts/s3-server.sh; credentials travel only in the
# environment), then the S3 mount tests of this directory (fault proxy:
# SlowDown, 5xx, resets, flipped bits, an outage). Needs root and a built
# tree. Extra arguments go to pytest.
#   daemon/tests/s3/run-posix.sh -x -k rename
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
work=$(mktemp -d /tmp/tidefs-s3posix.XXXXXX)
trap '"$repo/scripts/s3-server.sh" stop "$work/server" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM
t0=$(date +%s)
eval "$("$repo/scripts/s3-server.sh" start "$work/server")"
echo "run-posix.sh: S3 server ready in $(($(date +%s) - t0)) s at $TIDEFS_S3_ENDPOINT"
export TIDEFS_TEST_STORAGE=s3
export TIDEFS_TEST_S3_ENDPOINT="$TIDEFS_S3_ENDPOINT/tidefs-posix"
export TIDEFS_BIN="${TIDEFS_BIN:-$repo/build/bin/tidefs}"
# every small close is a PUT: give slow S3 round trips room
export TIDEFS_TEST_TIMEOUT="${TIDEFS_TEST_TIMEOUT:-900}"
rc=0
/usr/bin/python3 -m pytest -q -p no:cacheprovider -m "not slow" "$repo/daemon/tests/integration" "$@" || rc=$?
/usr/bin/python3 -m pytest -q -p no:cacheprovider "$here/test_s3_mount.py" "$@" || rc=$?
exit $rc
