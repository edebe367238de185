#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts or stops the docker engine the e2e cluster runs on: a dockerd of the
# project's own, separate from the machine's engine in everything (socket,
# pid file, data root, exec root, cgroup parent, bridges, subnets), whose default
# runtime is the runc wrapper in engine/runc-nosysres because kind always
# asks for --privileged (see README.md, "Which docker engine").
#
# Usage: engine.sh up|down|status
# Its data root lives in the versioned cache, so images survive restarts.
. "$(dirname "$0")/lib.sh"

RUN_DIR=$E2E_ENGINE_DIR/run
CONF=$E2E_ENGINE_DIR/daemon.json
PIDFILE=$RUN_DIR/docker.pid
LOG=$E2E_ENGINE_DIR/dockerd.log
# kind's network, created here before kind looks for it (kind uses an
# existing network named "kind" as it is), on a private subnet and bridge of
# our own that cannot overlap the machine's docker0 (172.17/16) or the
# networks of the machine's engine.
E2E_KIND_SUBNET=${E2E_KIND_SUBNET:-10.213.0.0/24}
E2E_KIND_BRIDGE=${E2E_KIND_BRIDGE:-tidefs-kind0}
# The engine's default bridge, made here because dockerd only creates one
# named docker0.
#
# WARNING: dockerd 20.10 DELETES the host interface named docker0 (the
# machine engine's bridge, whatever our own is called) at start-up when
# either "bridge" is "none", or "default-address-pools" is set and its data
# root has a default network from an earlier start. So this config sets
# neither; our networks get explicit subnets instead.
E2E_ENGINE_BRIDGE=${E2E_ENGINE_BRIDGE:-tidefs-e2e0}
E2E_ENGINE_BRIDGE_CIDR=${E2E_ENGINE_BRIDGE_CIDR:-10.213.255.1/24}

engine_alive() {
    [ -S "$E2E_DOCKER_SOCK" ] && DOCKER_HOST=$E2E_DOCKER_HOST timeout 10 docker version >/dev/null 2>&1
}

write_config() {
    local driver=$1
    install -m 0755 "$E2E_DIR/engine/runc-nosysres" "$E2E_ENGINE_DIR/runc-nosysres"
    jq -n --arg root "$E2E_ENGINE_DIR/data" --arg exec "$RUN_DIR/exec" \
        --arg pid "$PIDFILE" --arg sock "unix://$E2E_DOCKER_SOCK" \
        --arg runc "$E2E_ENGINE_DIR/runc-nosysres" \
        --arg driver "$driver" --arg bridge "$E2E_ENGINE_BRIDGE" '{
        "data-root": $root, "exec-root": $exec, "pidfile": $pid, "hosts": [$sock],
        "storage-driver": $driver,
        "bridge": $bridge, "iptables": false, "ip6tables": false, "ip-forward": false,
        "ip-masq": false, "userland-proxy": true,
        "cgroup-parent": "tidefs-e2e",
        "runtimes": {"runc-nosysres": {"path": $runc}},
        "default-runtime": "runc-nosysres",
        "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "2"},
        "mtu": 1400
    }' >"$CONF"
}

bridge_up() {
    ip link show "$E2E_ENGINE_BRIDGE" >/dev/null 2>&1 || ip link add "$E2E_ENGINE_BRIDGE" type bridge
    ip link set "$E2E_ENGINE_BRIDGE" mtu 1400
    ip -4 addr show dev "$E2E_ENGINE_BRIDGE" | grep -q "inet $E2E_ENGINE_BRIDGE_CIDR" ||
        ip addr add "$E2E_ENGINE_BRIDGE_CIDR" dev "$E2E_ENGINE_BRIDGE"
    ip link set "$E2E_ENGINE_BRIDGE" up
}

start_dockerd() {
    write_config "$1"
    bridge_up
    e2e_log "starting dockerd ($1) on $E2E_DOCKER_SOCK"
    # setsid: the engine outlives the script that started it (the cluster
    # stays up between `make e2e-cluster` and `make e2e-teardown`).
    setsid /usr/sbin/dockerd --config-file "$CONF" >>"$LOG" 2>&1 </dev/null &
    if e2e_wait 60 "dockerd to answer" engine_alive; then
        return 0
    fi
    stop_dockerd
    return 1
}

# Only a process that is our dockerd (its command line names our config) is
# ever signalled: a stale pid file may name a reused pid.
our_dockerd() {
    [ -n "$1" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "--config-file $CONF"
}

stop_dockerd() {
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if our_dockerd "$pid"; then
        kill -TERM "$pid"
        e2e_wait 60 "dockerd $pid to exit" sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}

# The storage driver is chosen once and remembered: a data root cannot
# switch drivers without losing its images. overlay2 is preferred (fast);
# fuse-overlayfs (what the machine's own engine uses) is the fallback.
# kind_network: the network kind puts its nodes on, made by us (see above).
kind_network() {
    DOCKER_HOST=$E2E_DOCKER_HOST docker network inspect kind >/dev/null 2>&1 && return 0
    DOCKER_HOST=$E2E_DOCKER_HOST docker network create --driver bridge \
        --subnet "$E2E_KIND_SUBNET" \
        --opt com.docker.network.bridge.name="$E2E_KIND_BRIDGE" \
        --opt com.docker.network.driver.mtu=1400 \
        --opt com.docker.network.bridge.enable_ip_masquerade=false \
        kind >/dev/null
}

engine_up() {
    if engine_alive; then
        e2e_log "engine already running"
        kind_network
        return 0
    fi
    mkdir -p "$RUN_DIR" "$E2E_ENGINE_DIR/data"
    stop_dockerd
    local driver
    driver=$(cat "$E2E_ENGINE_DIR/driver" 2>/dev/null || true)
    if [ -n "$driver" ]; then
        start_dockerd "$driver" || e2e_die "dockerd did not start, see $LOG"
        kind_network
        return 0
    fi
    for driver in overlay2 fuse-overlayfs; do
        if start_dockerd "$driver" && smoke_test; then
            echo "$driver" >"$E2E_ENGINE_DIR/driver"
            kind_network
            return 0
        fi
        e2e_log "storage driver $driver does not work here, see $LOG"
        stop_dockerd
        rm -rf "$E2E_ENGINE_DIR/data"
        mkdir -p "$E2E_ENGINE_DIR/data"
    done
    e2e_die "no storage driver works for the e2e engine, see $LOG"
}

# A privileged container from a one-file image proves the driver and the
# runtime wrapper both work.
smoke_test() {
    local dir rc=0
    dir=$(mktemp -d)
    gcc -static -Os -o "$dir/true" -x c - <<<'int main(void) { return 0; }' || { rm -rf "$dir"; return 1; }
    tar -C "$dir" -c true | DOCKER_HOST=$E2E_DOCKER_HOST docker import -c 'ENTRYPOINT ["/true"]' - tidefs-e2e/smoke:1 >/dev/null &&
        DOCKER_HOST=$E2E_DOCKER_HOST docker run --rm --privileged tidefs-e2e/smoke:1 >/dev/null || rc=$?
    rm -rf "$dir"
    DOCKER_HOST=$E2E_DOCKER_HOST docker rmi tidefs-e2e/smoke:1 >/dev/null 2>&1 || true
    return $rc
}

engine_down() {
    if engine_alive; then
        local n
        n=$(DOCKER_HOST=$E2E_DOCKER_HOST docker ps -q | wc -l)
        [ "$n" -eq 0 ] || e2e_log "stopping the engine with $n running container(s)"
    fi
    stop_dockerd
    ip link del "$E2E_ENGINE_BRIDGE" 2>/dev/null || true
    e2e_log "engine stopped"
}

case "${1:-}" in
up) engine_up ;;
down) engine_down ;;
status) engine_alive && echo running || { echo stopped; exit 1; } ;;
*) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
