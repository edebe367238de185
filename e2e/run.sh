#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make e2e`: create the cluster (building or reusing everything), run every
# scenario in e2e/scenarios/ in name order, collect logs of every component
# when anything fails, and delete the cluster.
#
# A scenario is an executable e2e/scenarios/NN-name.sh that exits 0 (pass),
# 77 (skip, e.g. what it tests has not landed yet) or anything else (fail).
# It may declare `# TIMEOUT: SECONDS` (default 600). It gets the lib.sh
# environment; KUBECONFIG points at the cluster.
#
# Environment: E2E_KEEP=1 keeps the cluster (and engine) afterwards;
# E2E_SCENARIOS='01-* 03-*' runs only matching scenarios.
. "$(dirname "$0")/lib.sh"

passed=0 failed=0 skipped=0 failures=""
e2e_lock

finish() {
    local rc=$?
    if [ $rc -ne 0 ] || [ $failed -ne 0 ]; then
        "$E2E_DIR/collect-logs.sh" e2e-failure || true
    fi
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        e2e_log "E2E_KEEP=1: cluster kept; KUBECONFIG=$E2E_KUBECONFIG; e2e/cluster-down.sh deletes it"
    else
        e2e_phase "teardown" "$E2E_DIR/cluster-down.sh" || true
    fi
    e2e_timings
    echo "e2e: $passed passed, $failed failed, $skipped skipped${failures:+ (failed:$failures)}"
    [ $rc -eq 0 ] && [ $failed -eq 0 ] && exit 0
    exit 1
}
trap finish EXIT

e2e_phase "cluster up" "$E2E_DIR/cluster-up.sh"
export KUBECONFIG=$E2E_KUBECONFIG

run_scenario() {
    local s=$1 limit
    limit=$(sed -n 's/^# TIMEOUT: *\([0-9]*\).*/\1/p' "$s" | head -1)
    timeout --kill-after=10 "${limit:-600}" "$s"
}

selected() {
    local name=$1 pat
    [ -z "${E2E_SCENARIOS:-}" ] && return 0
    for pat in $E2E_SCENARIOS; do
        # shellcheck disable=SC2053
        [[ $name == $pat ]] && return 0
    done
    return 1
}

for s in "$E2E_DIR"/scenarios/[0-9]*.sh; do
    [ -x "$s" ] || continue
    name=$(basename "$s" .sh)
    selected "$name" || continue
    rc=0
    e2e_phase "scenario $name" run_scenario "$s" || rc=$?
    case $rc in
    0) passed=$((passed + 1)); e2e_log "PASS $name" ;;
    77) skipped=$((skipped + 1)); e2e_log "SKIP $name" ;;
    *) failed=$((failed + 1)); failures="$failures $name"; e2e_log "FAIL $name (rc=$rc)" ;;
    esac
done
[ $((passed + failed + skipped)) -gt 0 ] || e2e_die "no scenario ran"
