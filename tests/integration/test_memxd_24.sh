#!/usr/bin/env bash
# Same-filled blocks never cross the wire: fio writes zeros, a repeated
# 32-bit pattern and random data (each verified); the zeros and the pattern
# are recorded in the engine, not sent (the bytes sent to the donor are the
# bytes written less those), and their reads are answered locally. A request
# of same-filled and random blocks sends only the random ones; a read
# across marked and unmarked blocks returns each block's last data, never the
# stale bytes under a mark. A discard clears marks. Then kill -9 of the
# engine: blocks overwritten same-filled -> random -> same-filled and the
# other way read back their last data from the engine that takes over (run
# with --no-same-filled: old marks still count, new writes all go out).
# Last, swap with a quarter of its pages same-filled, on two replicas: every
# page verified.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
need_cmd blkdiscard
load_kmod

MiB=$((1 << 20))
start_donor d1 "$IP2" 128M
args=(--size 32M --slab 4M --replicas 1 --bind "$IP1" --donor "$IP2" --recovery-timeout 60)
start_client vol "${args[@]}"
dev=$MEMX_DEV
vol() { status_get "[x['volumes'][0]$1 for x in s if x and x['role']=='client'][0]"; }
io() { vol "['io']['$1']"; }
blocks() { vol "['same_filled_blocks']"; }
# put FILE OFFSET_BYTES: one direct write of the whole file (split at --max-io).
put() { dd if="$1" of="$dev" bs="$(stat -c %s "$1")" count=1 seek="$2" iflag=fullblock \
	oflag=direct,seek_bytes status=none || fail "write of $1 at $2"; }
# same FILE OFFSET_BYTES: the volume holds FILE there.
same() { cmp -s <(dd if="$dev" bs=64k skip=$(($2 / 65536)) count=$(($(stat -c %s "$1") / 65536)) \
	iflag=direct status=none) "$1"; }
# sum OFFSET_MIB MIB: checksum of that range as read now.
sum() { dd if="$dev" bs=1M skip="$1" count="$2" iflag=direct status=none | md5sum; }
pattern() { head -c "$2" /dev/zero | tr '\0' "$1" > "$TEST_TMP/$3"; }

# --- fio: 8 MiB of zeros, 8 MiB of 0xdeadbeef, 8 MiB random ------------------
fio --direct=1 --ioengine=libaio --iodepth=8 --do_verify=1 --verify_fatal=1 --filename="$dev" \
	--name=zeros --offset=0 --size=8M --rw=write --bs=128k --verify=pattern \
	--verify_pattern=0x00000000 \
	--name=beef --offset=8M --size=8M --rw=write --bs=128k --verify=pattern \
	--verify_pattern=0xdeadbeef --output="$TEST_TMP/fio.out" ||
	{ cat "$TEST_TMP/fio.out"; fail "fio (zeros, pattern) failed"; }
fio --direct=1 --ioengine=libaio --iodepth=8 --do_verify=1 --verify_fatal=1 --filename="$dev" \
	--name=rand --offset=16M --size=8M --rw=randwrite --bsrange=4k-64k --verify=crc32c \
	--output="$TEST_TMP/fio-r.out" || { cat "$TEST_TMP/fio-r.out"; fail "fio (random) failed"; }
grep -hE "err=" "$TEST_TMP/fio.out" "$TEST_TMP/fio-r.out" | head -n 3
status_json > "$TEST_TMP/after-fio.json"
written=$(io write_bytes) sent=$(io rdma_write_bytes) saved=$(io same_filled_bytes_saved)
sfw=$(io same_filled_writes) sfr=$(io same_filled_reads) nb=$(blocks)
log "after fio: $((written / MiB)) MiB written, $((sent / MiB)) MiB sent to the donor, $((saved / MiB)) MiB not moved; $sfw same-filled writes and $sfr reads served locally; $nb blocks same-filled"
[ "$nb" = 4096 ] || fail "$nb blocks same-filled after 16 MiB of zeros and pattern, not 4096"
[ "$sfw" -gt 0 ] && [ "$sfr" -gt 0 ] || fail "same-filled writes $sfw, reads $sfr: both should have moved"
[ "$written" -ge $((24 * MiB)) ] || fail "only $written bytes written"
# One replica: what went to the donor is exactly what was written less the
# 16 MiB of zeros and pattern; their verify reads (16 MiB) did not move either.
[ "$saved" = $((32 * MiB)) ] || fail "$saved bytes not moved, not 16 MiB written and 16 MiB read"
[ "$sent" = $((written - 16 * MiB)) ] ||
	fail "$sent bytes sent to the donor for $written written, 16 MiB of them same-filled"
"$MEMXCTL" status -o prometheus | grep -q '^memx_volume_same_filled_blocks{.*} 4096$' ||
	fail "prometheus does not show the 4096 same-filled blocks"
"$MEMXCTL" status | grep "same-filled:"

# --- mixed request, and a read over marked and unmarked blocks ----------------
# 128 KiB at 31 MiB: random (so the donor holds stale non-zero bytes), then
# zeros (marked, not sent), then 64 KiB over its second half: zeros, random,
# zeros, random (16 KiB each): only the random blocks go out, in two runs, and
# lose their marks. Reading the 128 KiB must give zeros, then the mix.
head -c $((128 << 10)) /dev/urandom > "$TEST_TMP/r128"
head -c $((128 << 10)) /dev/zero > "$TEST_TMP/z128"
for _ in 1 2; do head -c $((16 << 10)) /dev/zero; head -c $((16 << 10)) /dev/urandom; done \
	> "$TEST_TMP/mix"
put "$TEST_TMP/r128" $((31 * MiB))
b0=$(blocks) s0=$(io rdma_write_bytes)
put "$TEST_TMP/z128" $((31 * MiB))
[ "$(blocks)" = $((b0 + 32)) ] || fail "zeros over random data: $(blocks) blocks marked, not $((b0 + 32))"
[ "$(io rdma_write_bytes)" = "$s0" ] || fail "128 KiB of zeros went to the donor"
put "$TEST_TMP/mix" $((31 * MiB + 64 * 1024))
[ "$(blocks)" = $((b0 + 24)) ] || fail "a mixed write left $(blocks) blocks marked, not $((b0 + 24))"
[ "$(io rdma_write_bytes)" = $((s0 + (32 << 10))) ] ||
	fail "a mixed write sent $(( $(io rdma_write_bytes) - s0 )) bytes, not its 32 KiB of random blocks"
{ head -c $((64 << 10)) /dev/zero; cat "$TEST_TMP/mix"; } > "$TEST_TMP/want128"
same "$TEST_TMP/want128" $((31 * MiB)) || fail "a read over marked and unmarked blocks returned wrong data"
same "$TEST_TMP/z128" 0 || fail "the zeros fio wrote do not read back"
log "mixed write: only its random blocks sent; a read across marked and unmarked blocks is right"

# --- discards clear marks -----------------------------------------------------
b0=$(blocks)
blkdiscard -o $((4 * MiB)) -l "$MiB" "$dev" || fail "blkdiscard of 1 MiB"
[ "$(blocks)" = $((b0 - 256)) ] || fail "a 1 MiB discard left $(blocks) blocks marked, not $((b0 - 256))"
blkdiscard -o $((8 * MiB)) -l $((8 * MiB)) "$dev" || fail "blkdiscard of two slabs"
[ "$(blocks)" = $((b0 - 256 - 2048)) ] || fail "discarding two slabs left $(blocks) blocks marked"
log "discards cleared their blocks' marks: $(blocks) left"

# --- kill -9 and restart: the marks are in the state file -----------------------
# P1 at 28 MiB: zeros, random, then 0x5a (the donor holds the random bytes).
# P2 at 29 MiB: 0x5a, then random (the mark must go, the random bytes stand).
pattern '\132' "$MiB" p5a
head -c "$MiB" /dev/zero > "$TEST_TMP/z1m"
head -c "$MiB" /dev/urandom > "$TEST_TMP/r1"
head -c "$MiB" /dev/urandom > "$TEST_TMP/r2"
put "$TEST_TMP/z1m" $((28 * MiB)); put "$TEST_TMP/r1" $((28 * MiB)); put "$TEST_TMP/p5a" $((28 * MiB))
put "$TEST_TMP/p5a" $((29 * MiB)); put "$TEST_TMP/r2" $((29 * MiB))
same "$TEST_TMP/p5a" $((28 * MiB)) && same "$TEST_TMP/r2" $((29 * MiB)) || fail "P1/P2 wrong before the kill"
before=$(blocks) rsum=$(sum 16 8)
kill -9 "$(bg_pid vol)" || fail "kill -9 the engine"
WAIT_S=10 wait_for exited "$(bg_pid vol)" || fail "the engine did not die"
start_client vol "${args[@]}" --no-same-filled
[ "$MEMX_DEV" = "$dev" ] || fail "the new engine serves $MEMX_DEV, not $dev"
[ "$(vol "['resumed']")" = True ] || fail "the new engine did not take the volume over"
[ "$(blocks)" = "$before" ] || fail "$(blocks) blocks same-filled after the restart, not $before"
same "$TEST_TMP/p5a" $((28 * MiB)) || fail "same-filled -> random -> same-filled read stale data after kill -9"
same "$TEST_TMP/r2" $((29 * MiB)) || fail "same-filled -> random read wrong data after kill -9"
same "$TEST_TMP/want128" $((31 * MiB)) || fail "the mixed range read wrong data after kill -9"
[ "$(sum 16 8)" = "$rsum" ] || fail "fio's random data changed across kill -9"
[ "$(io same_filled_reads)" -gt 0 ] || fail "the new engine answered no read from its marks"
log "after kill -9: $before marks kept, every range reads its last data"

# --- --no-same-filled: new writes all go out; a write clears an old mark --------
s0=$(io rdma_write_bytes)
put "$TEST_TMP/z1m" $((30 * MiB))
[ "$(io same_filled_writes)" = 0 ] || fail "--no-same-filled recorded a write"
[ "$(io rdma_write_bytes)" = $((s0 + MiB)) ] || fail "--no-same-filled: 1 MiB of zeros sent $(( $(io rdma_write_bytes) - s0 )) bytes"
put "$TEST_TMP/r1" $((28 * MiB))
[ "$(blocks)" = $((before - 256)) ] || fail "a write over marked blocks left $(blocks) marks"
same "$TEST_TMP/r1" $((28 * MiB)) || fail "random over a marked range reads wrong"
same "$TEST_TMP/z1m" $((30 * MiB)) || fail "zeros written with --no-same-filled read wrong"
stop_bg vol || fail "the engine did not stop cleanly"

# --- swap: 32 MiB through a 16 MiB cgroup, a quarter of the pages same-filled,
# two replicas: each write is cut into the same runs for both ----------------
start_donor d2 "$IP3" 128M
start_client swp --size 64M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
dev=$MEMX_DEV
mkswap "$dev" > /dev/null || fail "mkswap"
swapon "$dev" || fail "swapon"
on_exit "swapoff $dev 2>/dev/null"
run_in_memcg memx-samefill-swap 16M "$MEMX_TEST_BIN/swap_pattern" 32 0x5eed 25 \
	> "$TEST_TMP/pattern.out" 2>&1 || { cat "$TEST_TMP/pattern.out"; fail "swap_pattern failed"; }
cat "$TEST_TMP/pattern.out"
swapoff "$dev" || fail "swapoff"
written=$(io write_bytes) sent=$(io rdma_write_bytes)
sfw=$(io same_filled_writes)
log "swap: $((written / 4096)) pages written in $(io writes) requests, $sfw of them same-filled and not sent, $(io same_filled_reads) read back without the network, $(($(io same_filled_bytes_saved) / MiB)) MiB not moved; $((sent / 2 / MiB)) of $((written / MiB)) MiB written went to the donors (2 replicas: twice that)"
# A quarter of the pages are same-filled; short gaps may be sent: at least a tenth is not.
[ $((sfw * 4096 * 10)) -ge "$written" ] || fail "swap: only $sfw of $((written / 4096)) pages written were same-filled"
[ "$sent" = $((2 * (written - sfw * 4096))) ] ||
	fail "swap: $sent bytes went to the donors, not twice $((written - sfw * 4096))"
[ "$(io same_filled_bytes_saved)" -ge $((2 * sfw * 4096)) ] || fail "swap: the bytes saved do not count both replicas"
stop_bg swp || fail "the swap engine did not stop cleanly"
log "passed"
