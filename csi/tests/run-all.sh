#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every CSI test, in order: the C unit programs, the pytest suites (real
# plugin, real gRPC client, real tidefs volumes and mounts), csi-sanity, and
# csi-sanity again with the plugin under valgrind (skipped for sanitizer
# builds: ASan already watches that run). Ends with one line
# "N passed, N failed" that sums every test case of every part.
#   make -C csi test BUILD=/work/main/build
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$(cd "$HERE/../.." && pwd)/build}
export BUILD
pass=0
fail=0
LOG=$(mktemp /tmp/tidefs-csi-tests.XXXXXX)
trap 'rm -f "$LOG"' EXIT

# add_counts PASSED FAILED: from the last "... N passed, N failed" style line
add_counts() {
    p=${1:-0}
    f=${2:-0}
    pass=$((pass + p))
    fail=$((fail + f))
}

echo "== csi unit tests"
for t in "$BUILD"/csi/tests/test_*; do
    [ -x "$t" ] || continue
    "$t" >"$LOG" 2>&1
    rc=$?
    cat "$LOG"
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$LOG" | tail -1)
    if [ -z "$line" ]; then
        add_counts 0 1
        continue
    fi
    add_counts "$(echo "$line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')" \
        "$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')"
    [ $rc -eq 0 ] || [ -n "$(echo "$line" | grep -v ' 0 failed')" ] || add_counts 0 1
done

echo "== csi pytest suites"
(cd "$HERE" && timeout 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider .) >"$LOG" 2>&1
rc=$?
tail -15 "$LOG"
line=$(tail -1 "$LOG")
p=$(echo "$line" | sed -nE 's/.*[^0-9]([0-9]+) passed.*/\1/p; s/^([0-9]+) passed.*/\1/p' | head -1)
f=$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')
e=$(echo "$line" | sed -nE 's/.* ([0-9]+) errors?.*/\1/p')
add_counts "${p:-0}" $((${f:-0} + ${e:-0}))
[ $rc -eq 0 ] || [ -n "$f$e" ] || add_counts 0 1

sanity() {
    "$HERE/run-sanity.sh" >"$LOG" 2>&1
    rc=$?
    cat "$LOG"
    line=$(grep -E '^csi-sanity: ' "$LOG" | tail -1)
    add_counts "$(echo "$line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')" \
        "$(echo "$line" | sed -nE 's/.* ([0-9]+) failed.*/\1/p')"
    [ $rc -eq 0 ] || [ -n "$line" ] || add_counts 0 1
}

echo "== csi-sanity"
sanity
if [ -z "${SANITIZER:-}" ]; then
    if command -v valgrind >/dev/null 2>&1; then
        echo "== csi-sanity with tidefs-csi under valgrind"
        VALGRIND=1 sanity
    else
        echo "run-all: valgrind is not installed" >&2
        add_counts 0 1
    fi
fi

echo "csi: $pass passed, $fail failed"
[ $fail -eq 0 ]
