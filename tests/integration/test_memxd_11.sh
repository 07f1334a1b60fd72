#!/usr/bin/env bash
# One engine per volume name: a second `memxd client --name dup` while dup
# runs is refused with a clear error, and the first keeps its control socket,
# its device and its data. (Before, the second made another device and
# unlinked the first one's control socket, so memxctl lost the first.)
# Control sockets: made 0600 in a 0700 directory, and --ctl never deletes
# what is not a socket (before, it unlinked any file at that path).
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 128M
start_client dup --size 32M --slab 4M --bind "$IP1" --donor "$IP2"
first=$MEMX_DEV
fio_write_verify "$first" 0 8M || fail "fio write failed"

"$MEMXD" client --name dup --size 32M --slab 4M --bind "$IP1" --donor "$IP2" \
	> "$TEST_TMP/second.log" 2>&1 &
second=$!
on_exit "kill -9 $second 2>/dev/null; wait $second 2>/dev/null"
for _ in $(seq 50); do exited "$second" && break; sleep 0.2; done
exited "$second" || { cat "$TEST_TMP/second.log"; fail "the second client with the same name still runs"; }
wait "$second" && fail "the second client exited 0"
grep -q 'volume dup is already served by another memxd client' "$TEST_TMP/second.log" ||
	{ cat "$TEST_TMP/second.log"; fail "no clear error for the duplicate name"; }
! grep -q '^ready' "$TEST_TMP/second.log" || fail "the second client made a device"
[ "$(ls /dev/memx[0-9]* | wc -l)" = 1 ] || { ls -l /dev/memx*; fail "more than one memx device"; }

"$MEMXCTL" status --socket /run/memx/client-dup.sock > "$TEST_TMP/status" ||
	fail "the first client's control socket is gone"
grep -q "volume dup: $first" "$TEST_TMP/status" || { cat "$TEST_TMP/status"; fail "status is not dup's"; }
fio_verify_only "$first" 0 8M || fail "the first client's data did not verify"
[ "$(stat -c %a /run/memx)" = 700 ] || fail "/run/memx is $(stat -c %a /run/memx), not 700"
[ "$(stat -c %a /run/memx/client-dup.sock)" = 600 ] || fail "the control socket is not 0600"
stop_bg dup || fail "the first client did not stop cleanly"

echo precious > "$TEST_TMP/not-a-socket"
start_client ctlfile --size 16M --slab 4M --bind "$IP1" --donor "$IP2" --ctl "$TEST_TMP/not-a-socket"
[ "$(cat "$TEST_TMP/not-a-socket")" = precious ] || fail "--ctl replaced a regular file"
grep -q 'control socket .*not-a-socket' "$TEST_TMP/ctlfile.log" || fail "no word about the unusable --ctl path"
stop_bg ctlfile || fail "the client with an unusable --ctl did not stop cleanly"
log "a second client named dup was refused; the first kept its socket and its data"
