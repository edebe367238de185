#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Starts a private redis-server for tests: loopback only, its own port and
# directory, append-only file on. Usage:
#   redis-start.sh DIR PORT [FSYNC]     FSYNC: always (default) | everysec | no
# Prints nothing on success; the server's pid is in DIR/redis.pid, its log in
# DIR/redis.log. Exit status 3 when redis-server is not installed.
set -eu
dir=$1 port=$2 fsync=${3:-always}
command -v redis-server >/dev/null 2>&1 || { echo "redis-start.sh: redis-server is not installed" >&2; exit 3; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cat > "$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
databases 16
save ""
appendonly yes
appendfsync $fsync
maxmemory-policy noeviction
CONF
redis-server "$dir/redis.conf"
i=0
until redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "redis-start.sh: redis-server on port $port did not answer within 10 s; log:" >&2
        tail -n 20 "$dir/redis.log" >&2 || true
        exit 1
    fi
    sleep 0.1
done
