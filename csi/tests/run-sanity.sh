#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs csi-sanity (kubernetes-csi/csi-test v5) against tidefs-csi --mode all
# on a fresh tidefs volume (SQLite metadata + file store), prints
# "csi-sanity: N passed, N failed, N skipped" and exits non-zero on any
# failure. VALGRIND=1 runs the plugin under valgrind memcheck and also fails
# on any memory error or leak it reports.
#   BUILD=/work/main/build csi/tests/run-sanity.sh
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$(cd "$HERE/../.." && pwd)/build}
SANITY_VERSION=v5.4.0
TOOLS=${TIDEFS_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/tidefs-tools}
SANITY=$TOOLS/csi-sanity-$SANITY_VERSION
SANITY_TIMEOUT=${SANITY_TIMEOUT:-1500}

if [ ! -x "$SANITY" ]; then
    # built from the Go module proxy into a cache outside the repository
    echo "run-sanity: installing csi-sanity $SANITY_VERSION into $TOOLS" >&2
    mkdir -p "$TOOLS/bin"
    GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod nice go install \
        "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$SANITY_VERSION" >&2
    mv "$TOOLS/bin/csi-sanity" "$SANITY"
fi

WORK=$(mktemp -d /tmp/tidefs-csi-sanity.XXXXXX)
PLUGIN_PID=
cleanup() {
    if [ -n "$PLUGIN_PID" ] && kill -0 "$PLUGIN_PID" 2>/dev/null; then
        kill -TERM "$PLUGIN_PID" 2>/dev/null || true
        wait "$PLUGIN_PID" 2>/dev/null || true
    fi
    # a failed node test may leave a mount behind: never leave one
    grep " $WORK/" /proc/self/mountinfo | awk '{print $5}' | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

KUBELET=$WORK/kubelet
mkdir -p "$WORK/blocks" "$KUBELET/pods/sanity"
URL="sqlite3://$WORK/meta.db"
"$BUILD/bin/tidefs" format --bucket "$WORK/blocks" "$URL" sanityvol >/dev/null
cat >"$WORK/secrets.yaml" <<YAML
CreateVolumeSecret: &s
  metaurl: $URL
  name: sanityvol
DeleteVolumeSecret: *s
ControllerValidateVolumeCapabilitiesSecret: *s
ControllerExpandVolumeSecret: *s
NodePublishVolumeSecret: *s
YAML

RUNNER=
if [ -n "${VALGRIND:-}" ]; then
    RUNNER="valgrind --quiet --child-silent-after-fork=yes --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
        --suppressions=$HERE/grpc-absl.supp --log-file=$WORK/valgrind.log"
fi
# shellcheck disable=SC2086
$RUNNER "$BUILD/bin/tidefs-csi" --endpoint "unix://$WORK/csi/csi.sock" --nodeid sanity-node \
    --mode all --log-level "${LOG_LEVEL:-4}" --kubelet-dir "$KUBELET" --tidefs "$BUILD/bin/tidefs" \
    >"$WORK/plugin.log" 2>&1 &
PLUGIN_PID=$!
i=0
while [ ! -S "$WORK/csi/csi.sock" ]; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 $PLUGIN_PID 2>/dev/null; then
        echo "run-sanity: tidefs-csi did not start:" >&2
        tail -20 "$WORK/plugin.log" >&2
        exit 1
    fi
    sleep 0.1
done

set +e
timeout "$SANITY_TIMEOUT" nice "$SANITY" \
    --csi.endpoint="unix://$WORK/csi/csi.sock" \
    --csi.mountdir="$KUBELET/pods/sanity/mount" \
    --csi.stagingdir="$KUBELET/pods/sanity/staging" \
    --csi.secrets="$WORK/secrets.yaml" \
    --csi.testvolumesize=1073741824 \
    --ginkgo.skip='[Ss]napshot' \
    --ginkgo.no-color ${SANITY_ARGS:-} >"$WORK/sanity.log" 2>&1
sanity_rc=$?
kill -TERM $PLUGIN_PID
wait $PLUGIN_PID
plugin_rc=$?
PLUGIN_PID=
set -e

[ -n "${VERBOSE:-}" ] && cat "$WORK/sanity.log"
grep -E '^\s*\[FAIL\]' "$WORK/sanity.log" | sed 's/^ */run-sanity: FAIL /' || true
line=$(grep -E '[0-9]+ Passed \| [0-9]+ Failed' "$WORK/sanity.log" | tail -1)
passed=$(echo "$line" | sed -nE 's/.* ([0-9]+) Passed.*/\1/p')
failed=$(echo "$line" | sed -nE 's/.* ([0-9]+) Failed.*/\1/p')
skipped=$(echo "$line" | sed -nE 's/.* ([0-9]+) Skipped.*/\1/p')
status=0
if [ -z "$passed" ]; then
    echo "run-sanity: csi-sanity produced no summary (rc $sanity_rc):" >&2
    tail -30 "$WORK/sanity.log" >&2
    passed=0 failed=1 skipped=0 status=1
fi
[ "$sanity_rc" -eq 0 ] || status=1
if [ "$plugin_rc" -ne 0 ]; then
    echo "run-sanity: tidefs-csi exited with $plugin_rc after SIGTERM" >&2
    [ -n "${VALGRIND:-}" ] && cat "$WORK/valgrind.log" >&2
    failed=$((failed + 1)) status=1
fi
if [ -n "${VALGRIND:-}" ]; then
    echo "run-sanity: valgrind: $(grep -cE "^==[0-9]+==" "$WORK/valgrind.log" || true) lines of error reports (0 expected)"
fi
echo "csi-sanity: $passed passed, $failed failed, $skipped skipped"
exit $status
