#!/usr/bin/env bash
# Every block a donor returns is checked. One byte flipped in every slab a
# donor holds (through /proc/PID/mem, as a bad DIMM or a lying donor would):
# on a 2-replica volume every read still returns the written data (the bad
# copy fails its CRC32C, the read moves to the other replica, and the bad
# copy is rewritten from it), the client counts and logs it, and a second
# pass finds nothing left to repair; on a 1-replica volume the bad block
# reads as EIO, never as wrong bytes. (Before, 2 of 64 MiB of a verified
# pattern read back wrong, with no error and no log line.)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

io_get() { status_get '[x["volumes"][0]["io"]["'"$1"'"] for x in s if x and x["role"]=="client"][0]'; }

start_donor d1 "$IP2" 128M
start_donor d2 "$IP3" 128M
start_client two --size 64M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
fio_write_verify "$MEMX_DEV" 0 32M || fail "fio write failed"
n=$(corrupt_slabs "$(bg_pid d1)" $((4 << 20)))
log "flipped a byte in $n slabs of donor 1"
[ "$n" -ge 4 ] || fail "found only $n slabs to corrupt on donor 1"
fio_verify_only "$MEMX_DEV" 0 32M || fail "a corrupted copy reached the reader"
errs=$(io_get checksum_errors) fixed=$(io_get repairs)
log "first pass: $errs blocks failed their checksum, $fixed copies repaired"
[ "$errs" -gt 0 ] || fail "no read met a corrupted copy: the test did not test"
[ "$fixed" -ge "$errs" ] || fail "bad copies were not all rewritten ($fixed of $errs)"
grep -q 'failed its checksum' "$TEST_TMP/two.log" || fail "no log line about the bad block"
fio_verify_only "$MEMX_DEV" 0 32M || fail "second pass failed"
[ "$(io_get checksum_errors)" = "$errs" ] || fail "repaired copies failed again"
[ "$(io_get errors)" = 0 ] || fail "I/O errors on a volume with a good replica"
stop_bg two || fail "client did not stop"

start_client one --size 16M --slab 4M --replicas 1 --bind "$IP1" --donor "$IP2"
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=4 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "write failed"
n=$(corrupt_slabs "$(bg_pid d1)" $((4 << 20)))
[ "$n" -ge 1 ] || fail "nothing to corrupt"
if dd if="$MEMX_DEV" of="$TEST_TMP/back" bs=4k count=1 iflag=direct status=none 2>/dev/null; then
	fail "a corrupted block with no other replica was read without an error"
fi
dd if="$MEMX_DEV" of="$TEST_TMP/back" bs=4k skip=1 count=1 iflag=direct status=none ||
	fail "a good block next to the bad one failed"
cmp -s "$TEST_TMP/back" <(dd if="$TEST_TMP/pat" bs=4k skip=1 count=1 status=none) ||
	fail "the good block read back wrong"
stop_bg one || fail "client did not stop"
