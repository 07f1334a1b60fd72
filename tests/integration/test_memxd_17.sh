#!/usr/bin/env bash
# The control thread, which maps slabs, is never where a request waits for
# long, and a request that waits in the engine has a deadline.
# 1. `memxctl donor add` of a peer that never answers its connect
#    (memx_stall --listen) takes up to 10 s; meanwhile the control thread
#    serves what waits for it: a first write to a new slab (--grant-pool 0:
#    it needs a grant from a donor) maps and succeeds, `memxctl status`
#    answers, and the add ends with an error.
# 2. A donor stops (SIGSTOP) and does not answer the grant request of a
#    first write's mapping: the control thread waits up to 5 s for it. The
#    write, parked for its slab, fails with EIO after half of --io-deadline 4
#    (2 s) instead of waiting that out, while mapped slabs read back, and
#    memx.ko does not declare the engine dead; `memxctl status` is answered
#    within that wait (about once a second), not after it. Once the control thread is
#    free (the stopped donor given up), the same write maps and succeeds.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

start_donor d1 "$IP2" 64M
start_donor d2 "$IP3" 64M
start_client vol --size 32M --slab 4M --replicas 2 --grant-pool 0 --io-deadline 4 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3"
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=12 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=4 oflag=direct status=none || fail "first write"

"$MEMX_TEST_BIN/memx_stall" --listen "$IP5:7479" --hold 40 > "$TEST_TMP/mute.out" 2>&1 &
mute=$!
on_exit "kill $mute"
wait_for grep -q '^listening' "$TEST_TMP/mute.out" || { cat "$TEST_TMP/mute.out"; fail "no mute listener"; }
"$MEMXCTL" donor add "$IP5:7479" > "$TEST_TMP/add.out" 2>&1 &
add=$!
add_done() { grep -q "donor $IP5:7479: cannot connect\|donor $IP5:7479 refused us" "$TEST_TMP/vol.log"; }
sleep 1
start=$SECONDS
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=4 seek=4 skip=4 oflag=direct status=none \
	2> "$TEST_TMP/dd.err" || { cat "$TEST_TMP/dd.err"; fail "a first write failed while a donor was being connected"; }
took=$((SECONDS - start))
"$MEMXCTL" status > "$TEST_TMP/status-during.out" 2>&1 ||
	{ cat "$TEST_TMP/status-during.out"; fail "memxctl status was not answered while a donor was being connected"; }
add_done && fail "the connect ended before the write and the status: nothing was shown"
log "while the donor add waited for its peer: a first write mapped its slab in ${took} s, status answered"
[ "$took" -le 3 ] || fail "the first write took ${took} s: it waited for the connect"
WAIT_S=30 wait_for add_done || fail "the donor add never ended"
wait "$add" && fail "donor add of a peer that never answers succeeded"
kill "$mute" 2>/dev/null

# 2: the control thread held up by a donor that does not answer.
kill -STOP "$(bg_pid d2)"
on_exit "kill -CONT $(bg_pid d2)"
start=$SECONDS
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=4 seek=8 skip=8 oflag=direct status=none \
	2> "$TEST_TMP/dd.err" &
ddp=$!
sleep 0.5
"$MEMXCTL" status --socket /run/memx/client-vol.sock > "$TEST_TMP/status-stall.out" 2>&1 ||
	{ cat "$TEST_TMP/status-stall.out"; fail "memxctl status failed while a donor owed an answer"; }
grep -q "donor $IP3:7471 lost" "$TEST_TMP/vol.log" &&
	fail "memxctl status was answered only once the wait for the stopped donor was over"
wait "$ddp" && fail "a write to an unmapped slab succeeded while nothing could map it"
took=$((SECONDS - start))
grep -q 'Input/output error' "$TEST_TMP/dd.err" || { cat "$TEST_TMP/dd.err"; fail "not EIO"; }
log "the parked write failed with EIO after ${took} s (deadline 4 s: half is 2 s)"
[ "$took" -le 4 ] || fail "the parked write took ${took} s to fail"
grep -q 'waited [0-9]* ms for slab 2 (the control thread is stuck or far behind)' \
	"$TEST_TMP/vol.log" || fail "the engine did not say why the write failed"
cmp <(head -c 8M "$TEST_TMP/pat") <(dd if="$MEMX_DEV" bs=1M count=8 iflag=direct status=none) ||
	fail "the mapped slabs did not read back during the stall"
WAIT_S=15 wait_for grep -q "donor $IP3:7471 lost" "$TEST_TMP/vol.log" || fail "the stopped donor was never given up"
kill -CONT "$(bg_pid d2)"
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=4 seek=8 skip=8 oflag=direct status=none ||
	fail "the write failed again once the control thread was free"
cmp "$TEST_TMP/pat" <(dd if="$MEMX_DEV" bs=1M count=12 iflag=direct status=none) ||
	fail "the volume did not read back"
dmesg | grep -q 'treating it as dead' && fail "memx.ko declared a live engine dead"
stop_bg vol || fail "the client did not stop"
