#!/usr/bin/env bash
# Memory given back piece by piece: a slab discarded all over in pieces (as
# swap discards a cluster at a time) goes back to its donor like a slab
# discarded whole; one written in between stays, with that write's data; the
# rest of the volume is untouched. Then swap with --discard=pages: swap's
# discards give slabs back while it runs (counted, must be some), swapoff gives
# nothing more, and a discard of the whole volume afterwards gives it all back.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd blkdiscard
need_cmd mkswap
load_kmod

start_donor d1 "$IP2" 128M
start_client vol --size 64M --slab 4M --replicas 1 --bind "$IP1" --donor "$IP2"
held() { status_get '[x["donors"][0]["slabs"] for x in s if x and x["role"]=="client"][0]'; }
# The control thread frees a slab given back a moment after the discard ends.
holds() { [ "$(held 2>/dev/null)" = "$1" ]; }
given() { status_get '[x["volumes"][0]["slabs_given_back"] for x in s if x and x["role"]=="client"][0]'; }
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=32 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "write failed"
[ "$(held)" = 8 ] || fail "the donor holds $(held) slabs after 32 MiB, not 8"

# Slabs 0-3 (16 MiB), 1 MiB at a time: each goes back with its last piece.
for off in $(seq 0 15); do
	blkdiscard -o $((off << 20)) -l $((1 << 20)) "$MEMX_DEV" || fail "discard at ${off} MiB failed"
done
WAIT_S=10 wait_for holds 4 || fail "the donor holds $(held) slabs after 4 slabs were discarded piece by piece, not 4"
[ "$(given)" = 4 ] || fail "status counts $(given) slabs given back, not 4"
cmp -s <(dd if="$MEMX_DEV" bs=1M count=16 iflag=direct status=none) <(head -c $((16 << 20)) /dev/zero) ||
	fail "slabs given back do not read as zeros"
cmp -s <(dd if="$MEMX_DEV" bs=1M skip=16 count=16 iflag=direct status=none) \
	<(tail -c $((16 << 20)) "$TEST_TMP/pat") || fail "the slabs not discarded changed"
log "4 slabs discarded 1 MiB at a time went back to the donor; the others are intact"

# Slab 4: discarded all over, but one block of it is written again between
# the discards: that block holds data, so the slab must stay.
blkdiscard -o $((16 << 20)) -l $((3 << 20)) "$MEMX_DEV" || fail "discard failed"
dd if=/dev/urandom of="$TEST_TMP/blk" bs=4k count=1 status=none
dd if="$TEST_TMP/blk" of="$MEMX_DEV" bs=4k seek=$(((18 << 20) / 4096)) oflag=direct status=none || fail "write failed"
blkdiscard -o $((19 << 20)) -l $((1 << 20)) "$MEMX_DEV" || fail "discard failed"
[ "$(held)" = 4 ] || fail "a slab with a block written after its discard was given back"
cmp -s <(dd if="$MEMX_DEV" bs=4k skip=$(((18 << 20) / 4096)) count=1 iflag=direct status=none) "$TEST_TMP/blk" ||
	fail "the block written between the discards reads back wrong"
log "a slab with a block written between its discards stays, with that block"

# Swap with --discard=pages on a fresh volume.
stop_bg vol || fail "client did not stop"
start_client swp --size 64M --slab 4M --replicas 1 --bind "$IP1" --donor "$IP2"
mkswap "$MEMX_DEV" > /dev/null || fail "mkswap"
swapon --discard=pages "$MEMX_DEV" || fail "swapon --discard=pages"
on_exit "swapoff $MEMX_DEV 2>/dev/null"
run_in_memcg memx-discard-swap 16M "$MEMX_TEST_BIN/swap_pattern" 48 > "$TEST_TMP/pattern.out" 2>&1 ||
	{ cat "$TEST_TMP/pattern.out"; fail "swap_pattern failed"; }
after_run=$(held) back=$(given)
swapoff "$MEMX_DEV" || fail "swapoff"
after_off=$(held)
log "swap --discard=pages: $back slab(s) of 4 MiB went back during the workload; the donor holds $after_run after it, $after_off after swapoff"
[ "$back" -gt 0 ] || fail "swap's discards gave nothing back to the donor"
# swapoff discards nothing: one discard of the whole volume gives the rest back.
blkdiscard -f "$MEMX_DEV" || fail "blkdiscard of the volume after swapoff failed"
WAIT_S=10 wait_for holds 0 || fail "the donor still holds $(held) slabs after the volume was discarded whole"
log "blkdiscard after swapoff: the donor holds nothing of the volume"
stop_bg swp || fail "client did not stop"
log "passed"
