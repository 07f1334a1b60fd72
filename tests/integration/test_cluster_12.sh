#!/usr/bin/env bash
# A lost slab is not lost for ever: once every replica of a slab is gone its
# reads and writes fail with EIO (never zeros, never old data), and a DISCARD
# of the whole slab gives its data up: it then reads as zeros and takes new
# writes on the donors that are left. (Before, a lost slab failed every read
# and write until the volume was made again, even a full overwrite after a
# discard.)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd blkdiscard
load_kmod

start_donor d1 "$IP2" 64M
start_client vol --size 16M --slab 4M --replicas 1 --bind "$IP1" --donor "$IP2"
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=4 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "first write failed"
kill -9 "$(bg_pid d1)"
d1_dead() { [ "$(donor_state "$IP2" 2>/dev/null)" = dead ]; }
WAIT_S=30 wait_for d1_dead || fail "the client did not notice the donor die"
dd if="$MEMX_DEV" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null &&
	fail "a read of a lost slab succeeded"
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "a write to a lost slab succeeded (its other blocks are still lost)"

start_donor d2 "$IP3" 64M
"$MEMXCTL" donor add "$IP3" --socket /run/memx/client-vol.sock || fail "donor add failed"
# -f: blkdiscard probes the device first, and that read of the lost slab fails.
blkdiscard -f -o 0 -l $((4 << 20)) "$MEMX_DEV" || fail "discard of the lost slab failed"
cmp -s <(dd if="$MEMX_DEV" bs=1M count=4 iflag=direct status=none) <(head -c $((4 << 20)) /dev/zero) ||
	fail "a discarded lost slab does not read as zeros"
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "writes after the discard failed"
cmp -s <(dd if="$MEMX_DEV" bs=1M count=4 iflag=direct status=none) "$TEST_TMP/pat" ||
	fail "the slab written again reads back wrong"
[ "$(status_get '[x["volumes"][0]["slabs_lost"] for x in s if x and x["role"]=="client"][0]')" = 0 ] ||
	fail "slabs_lost did not come back to 0"

# The operator's way: memxctl volume forget-lost gives up every lost slab at once.
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M seek=4 oflag=direct status=none || fail "write of slab 1 failed"
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M seek=8 oflag=direct status=none || fail "write of slab 2 failed"
kill -9 "$(bg_pid d2)"
d2_dead() { [ "$(donor_state "$IP3" 2>/dev/null)" = dead ]; }
WAIT_S=30 wait_for d2_dead || fail "the client did not notice d2 die"
lost=$(status_get '[x["volumes"][0]["slabs_lost"] for x in s if x and x["role"]=="client"][0]')
[ "$lost" = 3 ] || fail "$lost slabs lost with d2, not 3"
dd if="$MEMX_DEV" of=/dev/null bs=4k count=1 skip=1024 iflag=direct status=none 2>/dev/null &&
	fail "a read of a lost slab succeeded"
"$MEMXCTL" volume forget-lost vol | tee "$TEST_TMP/forget.txt" || fail "memxctl volume forget-lost failed"
grep -q "3 lost slab(s) forgotten" "$TEST_TMP/forget.txt" || fail "forget-lost did not count 3 slabs"
[ "$(status_get '[x["volumes"][0]["slabs_lost"] for x in s if x and x["role"]=="client"][0]')" = 0 ] ||
	fail "slabs_lost is not 0 after forget-lost"
cmp -s <(dd if="$MEMX_DEV" bs=1M count=12 iflag=direct status=none) <(head -c $((12 << 20)) /dev/zero) ||
	fail "forgotten slabs do not read as zeros"
start_donor d3 "$IP4" 64M
"$MEMXCTL" donor add "$IP4" --socket /run/memx/client-vol.sock || fail "donor add d3 failed"
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M seek=4 oflag=direct status=none || fail "a write after forget-lost failed"
cmp -s <(dd if="$MEMX_DEV" bs=1M skip=4 count=4 iflag=direct status=none) "$TEST_TMP/pat" ||
	fail "a forgotten slab written again reads back wrong"
log "forget-lost: 3 lost slabs given up, read as zeros, written again"
stop_bg vol || fail "client did not stop"
