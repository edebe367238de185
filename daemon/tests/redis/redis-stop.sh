#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Stops the redis-server that redis-start.sh started in DIR (by its pid
# file), and waits until it is gone. Usage: redis-stop.sh DIR
set -eu
pidfile=$1/redis.pid
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
kill "$pid" 2>/dev/null || exit 0
i=0
while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && { kill -9 "$pid" 2>/dev/null || true; break; }
    sleep 0.1
done
rm -f "$pidfile"
