#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A local S3-compatible server for tests and benchmarks: SeaweedFS (`weed
# mini`-style single process: master + volume + filer + s3 gateway) built from
# the Go module proxy into a versioned cache directory outside the repo, and
# reused from there. Listens on loopback only; its own data dir; credentials
# come from a generated s3 identity config (never from argv).
#
#   scripts/s3-server.sh build            build/cache the binary, print its path
#   scripts/s3-server.sh start DIR [PORT] start, data in DIR, wait until ready;
#                                         prints "export ..." lines for the endpoint
#   scripts/s3-server.sh stop DIR         stop the server started with DIR
#
# Environment: TIDEFS_S3_ACCESS_KEY / TIDEFS_S3_SECRET_KEY (defaults are
# test-only values), TIDEFS_CACHE (default /var/cache/tidefs).
set -eu

WEED_MODULE_ROOT=github.com/seaweedfs/seaweedfs
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
CACHE=${TIDEFS_CACHE:-/var/cache/tidefs}
WEED_DIR=$CACHE/seaweedfs-$WEED_VERSION
WEED=$WEED_DIR/weed
ACCESS_KEY=${TIDEFS_S3_ACCESS_KEY:-tidefstestaccess}
SECRET_KEY=${TIDEFS_S3_SECRET_KEY:-tidefstestsecret0123456789}

die() { echo "s3-server.sh: $*" >&2; exit 1; }

build() {
    if [ -x "$WEED" ]; then echo "$WEED"; return 0; fi
    command -v go >/dev/null 2>&1 || die "go not found (needed to build SeaweedFS $WEED_VERSION)"
    mkdir -p "$WEED_DIR"
    echo "s3-server.sh: building SeaweedFS $WEED_VERSION into $WEED_DIR (takes minutes, once)" >&2
    tmp=$WEED_DIR/.build.$$
    mkdir -p "$tmp"
    # The module's go.mod has replace directives, so `go install mod@ver` is
    # refused: download the module and build inside it instead. CGO off: a
    # self-contained binary; nice: the machine is shared.
    src=$(GOFLAGS=-mod=mod go mod download -json "$WEED_MODULE_ROOT@$WEED_VERSION" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$src/weed" ] || { rm -rf "$tmp"; die "downloading $WEED_MODULE_ROOT@$WEED_VERSION failed"; }
    if ! (cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false nice -n 10 \
        go build -trimpath -ldflags "-s -w" -o "$tmp/weed" ./weed >&2); then
        rm -rf "$tmp"
        die "building SeaweedFS $WEED_VERSION failed"
    fi
    mv "$tmp/weed" "$WEED" && rmdir "$tmp"
    echo "$WEED"
}

free_ports() { # $1 = how many distinct free loopback ports
    /usr/bin/python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

write_config() { # $1 = file
    umask 077
    cat >"$1" <<EOF
{"identities": [{"name": "tidefs-test",
  "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
}

wait_ready() { # $1 = port, $2 = pid, $3 = log
    i=0
    while [ $i -lt 600 ]; do
        kill -0 "$2" 2>/dev/null || { tail -20 "$3" >&2; die "server exited during start-up (log: $3)"; }
        # Any HTTP answer from the s3 port (403 without credentials) means ready.
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null || true)
        case $code in 2??|3??|4??) return 0 ;; esac
        sleep 0.1
        i=$((i + 1))
    done
    die "server not ready after 60 s (log: $3)"
}

start() { # $1 = dir, $2 = port (optional)
    dir=$1
    build >/dev/null
    mkdir -p "$dir/data"
    [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && die "already running in $dir"
    write_config "$dir/s3.json"
    # Every port is a free loopback port, so that parallel test runs and
    # other services on the machine never collide; the extra listeners
    # (Iceberg, Lance) and telemetry are off: tests reach loopback only.
    # shellcheck disable=SC2046
    set -- $(free_ports 8) "${2:-}"
    port=${9:-$1}
    setsid "$WEED" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$dir/data" \
        -master.port="$2" -master.port.grpc="$3" -master.telemetry=false \
        -volume.port="$4" -volume.port.grpc="$5" -filer.port="$6" -filer.port.grpc="$7" \
        -master.volumeSizeLimitMB=256 -volume.max=64 \
        -filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock" \
        -s3 -s3.port="$port" -s3.port.grpc="$8" -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$dir/s3.json" \
        >"$dir/weed.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    echo "$3 $5 $7 $8" >"$dir/grpc_ports" # weed adds /tmp/seaweedfs-*-grpc-PORT.sock
    echo "$port" >"$dir/port"
    wait_ready "$port" "$(cat "$dir/pid")" "$dir/weed.log"
    echo "export TIDEFS_S3_ENDPOINT=http://127.0.0.1:$port"
    echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY"
    echo "export AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
    echo "export AWS_REGION=us-east-1"
}

stop() { # $1 = dir
    [ -f "$1/pid" ] || return 0
    pid=$(cat "$1/pid")
    # setsid made the server its own process group: end that group only.
    kill -s TERM -- "-$pid" 2>/dev/null || true
    i=0
    # weed does not always exit on TERM: 3 s of grace, then KILL.
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    kill -s KILL -- "-$pid" 2>/dev/null || true
    for p in $(cat "$1/grpc_ports" 2>/dev/null); do rm -f /tmp/seaweedfs-*-grpc-"$p".sock; done
    rm -f "$1/pid"
}

case ${1:-} in
build) build ;;
start) [ $# -ge 2 ] || die "usage: $0 start DIR [PORT]"; start "$2" "${3:-}" ;;
stop) [ $# -ge 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
*) die "usage: $0 build | start DIR [PORT] | stop DIR" ;;
esac
