#!/usr/bin/env bash
# Out of donor memory: a volume larger than its donors is refused unless
# --overcommit. With it, a write to a new slab that no donor can take fails with
# EIO and memxd says which volume and why; mapped slabs keep working. Reads of
# never-written space are zeros without network traffic. DISCARD of whole slabs
# gives memory back to the donor.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

start_donor d1 "$IP2" 8M
# A volume its donors cannot hold is refused, saying what it needs and what
# they have, and leaves nothing behind: unless --overcommit says it is meant.
if "$MEMXD" client --name small --size 64M --slab 4M --bind "$IP1" --donor "$IP2" \
	> "$TEST_TMP/refused.out" 2>&1; then
	fail "a 64M volume on an 8M donor started without --overcommit"
fi
grep -q 'needs 16 slabs of 4 MiB, the donors have room for 2 (free: .* 8 MiB).*--overcommit' \
	"$TEST_TMP/refused.out" || { cat "$TEST_TMP/refused.out"; fail "the refusal does not say why"; }
! ls /dev/memx[0-9]* > /dev/null 2>&1 || fail "the refused volume left a device"
log "refused: $(grep -o 'needs 16 slabs.*room for 2' "$TEST_TMP/refused.out")"
start_client small --size 64M --slab 4M --bind "$IP1" --donor "$IP2" --overcommit
[ "$(status_get '[x["volumes"][0]["shortfall_bytes"] for x in s if x and x["role"]=="client"][0]')" = $((56 << 20)) ] ||
	fail "status shows no 56 MiB shortfall: $(status_json)"
head -c 8M /dev/urandom > "$TEST_TMP/src"
dd if="$TEST_TMP/src" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "writes within donor memory"
if dd if="$TEST_TMP/src" of="$MEMX_DEV" bs=1M count=1 seek=32 oflag=direct status=none 2>/dev/null; then
	fail "a write beyond donor memory succeeded"
fi
grep -q 'no donor can take slab' "$TEST_TMP/small.log" || fail "no log line saying why"
grep 'no donor can take slab' "$TEST_TMP/small.log" | head -n 1
dd if="$MEMX_DEV" of="$TEST_TMP/back" bs=1M count=8 iflag=direct status=none || fail "read of mapped slabs"
cmp "$TEST_TMP/src" "$TEST_TMP/back" || fail "mapped slabs changed"

# WRITE_ZEROES of a range inside mapped slabs: zeros there, the rest untouched.
blkdiscard -z -o 1M -l 2M "$MEMX_DEV" || fail "blkdiscard -z (write zeroes)"
dd if="$MEMX_DEV" of="$TEST_TMP/back" bs=1M count=8 iflag=direct status=none || fail "read after write zeroes"
cmp -s <(head -c 1M "$TEST_TMP/back") <(head -c 1M "$TEST_TMP/src") || fail "write zeroes touched data before its range"
cmp -s <(dd if="$TEST_TMP/back" bs=1M skip=1 count=2 status=none) <(head -c 2M /dev/zero) || fail "write zeroes range is not zeros"
cmp -s <(dd if="$TEST_TMP/back" bs=1M skip=3 status=none) <(dd if="$TEST_TMP/src" bs=1M skip=3 status=none) \
	|| fail "write zeroes touched data after its range"
dd if="$TEST_TMP/back" of="$TEST_TMP/src" bs=1M count=8 status=none	# the new expected content

# Never-written space reads as zeros, and costs no RDMA.
zr0=$(status_get '[x["volumes"][0]["io"]["zero_reads"] for x in s if x and x["role"]=="client"][0]')
dd if="$MEMX_DEV" of="$TEST_TMP/z" bs=1M skip=40 count=4 iflag=direct status=none || fail "read of unwritten space"
cmp -s "$TEST_TMP/z" <(head -c 4M /dev/zero) || fail "unwritten space is not zeros"
zr1=$(status_get '[x["volumes"][0]["io"]["zero_reads"] for x in s if x and x["role"]=="client"][0]')
[ "$zr1" -gt "$zr0" ] || fail "zero reads were not served locally"

# Discard of whole slabs returns them to the donor; they then read as zeros.
free0=$(status_get '[x["memory_free"] for x in s if x and x["role"]=="donor"][0]')
blkdiscard -o 0 -l 8M "$MEMX_DEV" || fail "blkdiscard"
WAIT_S=10 wait_for status_is '[x["memory_free"] for x in s if x and x["role"]=="donor"][0]' $((8 << 20)) \
	|| { "$MEMXCTL" status; cat "$TEST_TMP/small.log"; fail "donor memory not returned after discard (free was $free0)"; }
dd if="$MEMX_DEV" of="$TEST_TMP/z" bs=1M count=4 iflag=direct status=none || fail "read after discard"
cmp -s "$TEST_TMP/z" <(head -c 4M /dev/zero) || fail "discarded slab does not read as zeros"
# And the memory can be used again.
dd if="$TEST_TMP/src" of="$MEMX_DEV" bs=1M count=4 seek=32 oflag=direct status=none || fail "write after discard"
stop_bg small || fail "client did not stop"
