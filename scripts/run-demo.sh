#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make run`: the main job on the embedded default. Formats a demo volume
# under ./.tidefs-demo/ (SQLite metadata + local block store) unless one is
# there, mounts it in the background at ./.tidefs-demo/mnt, writes and
# reads back a sample file, and says where it is and how to unmount it.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="${TIDEFS_BIN:-$ROOT/build/bin/tidefs}"
DEMO="$ROOT/.tidefs-demo"
META="sqlite3://$DEMO/meta.db"
MNT="$DEMO/mnt"

mkdir -p "$DEMO/blocks" "$MNT"
if [ ! -e "$DEMO/meta.db" ]; then
    "$BIN" format --bucket "$DEMO/blocks" "$META" demo
fi
if grep -qs " $MNT fuse.tidefs " /proc/mounts; then
    echo "tidefs: demo volume already mounted at $MNT"
else
    "$BIN" mount -d --log "$DEMO/tidefs.log" "$META" "$MNT"
fi

sample="$MNT/hello.txt"
printf 'hello from tidefs, written %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$sample"
head -c 8388608 /dev/urandom > "$DEMO/sample.bin"
cp "$DEMO/sample.bin" "$MNT/sample.bin"
sync "$MNT/sample.bin" 2>/dev/null || true
want=$(sha256sum < "$DEMO/sample.bin" | cut -d' ' -f1)
got=$(sha256sum < "$MNT/sample.bin" | cut -d' ' -f1)
rm -f "$DEMO/sample.bin"
if [ "$want" != "$got" ]; then
    echo "tidefs: read-back of $MNT/sample.bin does not match what was written" >&2
    exit 1
fi
cat "$sample"
echo "tidefs: wrote and read back 8 MiB (sha256 $got)"
echo "tidefs: volume 'demo' is mounted at $MNT (metadata $DEMO/meta.db, blocks $DEMO/blocks)"
echo "tidefs: status:  $BIN status $META"
echo "tidefs: unmount: $BIN umount $MNT"
