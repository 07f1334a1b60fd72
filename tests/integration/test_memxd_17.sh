#!/usr/bin/env bash
# A request that waits in the engine has a deadline. The control thread,
# which maps slabs, is held up for 10 s: `memxctl donor add` of a peer that
# never answers its connect (memx_stall --listen). A first write to a new slab
# meanwhile waits for its mapping; with --io-deadline 4 it fails with EIO
# after half of that (2 s) instead of waiting out the stall, while reads and
# writes of mapped slabs go on, and memx.ko does not declare the engine dead.
# Once the control thread is free, the same write maps its slab and succeeds.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

start_donor d1 "$IP2" 64M
start_client vol --size 32M --slab 4M --replicas 1 --io-deadline 4 --bind "$IP1" --donor "$IP2"
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=8 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=4 oflag=direct status=none || fail "first write"

"$MEMX_TEST_BIN/memx_stall" --listen "$IP5:7479" --hold 40 > "$TEST_TMP/mute.out" 2>&1 &
mute=$!
on_exit "kill $mute"
wait_for grep -q '^listening' "$TEST_TMP/mute.out" || { cat "$TEST_TMP/mute.out"; fail "no mute listener"; }
"$MEMXCTL" donor add "$IP5:7479" > "$TEST_TMP/add.out" 2>&1 &
add=$!
sleep 1
start=$SECONDS
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=4 seek=4 skip=4 oflag=direct status=none \
	2> "$TEST_TMP/dd.err" && fail "a write to an unmapped slab succeeded while nothing could map it"
took=$((SECONDS - start))
grep -q 'Input/output error' "$TEST_TMP/dd.err" || { cat "$TEST_TMP/dd.err"; fail "not EIO"; }
add_done() { grep -q "donor $IP5:7479: cannot connect\|donor $IP5:7479 refused us" "$TEST_TMP/vol.log"; }
add_done && fail "the control thread was not held up during the write"
log "the parked write failed with EIO after ${took} s (deadline 4 s: half is 2 s)"
[ "$took" -le 5 ] || fail "the parked write took ${took} s to fail"
grep -q 'waited [0-9]* ms for slab 1 (the control thread is stuck or far behind)' \
	"$TEST_TMP/vol.log" || fail "the engine did not say why the write failed"
cmp <(head -c 4M "$TEST_TMP/pat") <(dd if="$MEMX_DEV" bs=1M count=4 iflag=direct status=none) ||
	fail "a mapped slab did not read back during the stall"

# memxctl may give up waiting first: the engine's own line says when the connect ended.
WAIT_S=30 wait_for add_done || fail "the donor add never ended"
wait "$add" && fail "donor add of a peer that never answers succeeded"
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=4 seek=4 skip=4 oflag=direct status=none ||
	fail "the write failed again once the control thread was free"
cmp "$TEST_TMP/pat" <(dd if="$MEMX_DEV" bs=1M count=8 iflag=direct status=none) ||
	fail "the volume did not read back"
dmesg | grep -q 'treating it as dead' && fail "memx.ko declared a live engine dead"
stop_bg vol || fail "the client did not stop"
