#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every mount-pod test of issue 9: the C unit programs given as
# arguments, then the pytest suites in kube/tests (the Kubernetes client
# against a recording HTTP(S) server; the mount-pod mounter of tidefs-csi
# against a local API server + kubelet stand-in). Ends with one line
# "mount-pod kube: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:?BUILD must name the build directory}"
pass=0
fail=0
for t in "$@"; do
    out=$("$t" 2>&1)
    echo "$out" | tail -n 20
    line=$(echo "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    [ -n "$line" ] || { p=0; f=1; echo "FAILED (no summary): $t"; }
    pass=$((pass + p))
    fail=$((fail + f))
done
log=$(mktemp)
BUILD=$BUILD timeout 1200 /usr/bin/python3 -m pytest -q -p no:cacheprovider kube/tests 2>&1 | tee "$log"
# pytest's summary line; warnings (e.g. its temp-dir cleanup) may follow it
summary=$(grep -E '(passed|failed|error|errors|skipped|no tests ran).* in [0-9.]+s' "$log" | tail -n 1)
rm -f "$log"
p=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
f=$(echo "$summary" | grep -oE '[0-9]+ (failed|error|errors)' | awk '{s += $1} END {print s + 0}')
[ -n "$p" ] || p=0
[ -n "$f" ] || f=0
echo "$summary" | grep -qE 'passed|failed|skipped|no tests ran' || f=$((f + 1))
pass=$((pass + p))
fail=$((fail + f))
echo "mount-pod kube: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
