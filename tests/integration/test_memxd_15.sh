#!/usr/bin/env bash
# Encrypted swap on memx: dm-crypt in plain mode with a random key (read from
# /dev/urandom at open, never stored) over /dev/memxN, two donors, two
# replicas. A recognizable pattern written through the mapper reads back
# exact (O_DIRECT), while the raw volume, which is what the donors hold, never
# shows it (a positive control first proves the check finds the pattern when
# it is written in the clear). Then swap on the mapper: a program in a small
# memory cgroup writes a distinct pattern to every page and verifies every
# page. With MEMX_CRYPT_BENCH=1 it also logs (does not assert) fio sequential
# 1M throughput on the raw volume and on the mapper, and `cryptsetup
# benchmark`: the cost of the encryption here (the README's table; about 25 s
# of guest time, so ci/test leaves it out).
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd cryptsetup
need_cmd fio
need_cmd mkswap
modprobe dm_crypt 2>"$TEST_TMP/modprobe.err" ||
	skip "dm_crypt is not loadable in this kernel: $(cat "$TEST_TMP/modprobe.err")"
log "dm_crypt loaded ($(uname -r))"
load_kmod

CRYPT=memxcrypt-$$
MAP=/dev/mapper/$CRYPT
MARKER=MEMX-CRYPT-MARKER-7f3a9c
SIZE_MB=128

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_client vol --size ${SIZE_MB}M --slab 4M --replicas 2 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3"
log "volume $MEMX_DEV (${SIZE_MB} MiB, 2 replicas)"

# seq_mbps DEV RW: fio sequential 1M direct I/O over the first 64 MiB of DEV
# (at most 8 s); prints MB/s (10^6 bytes per second).
seq_mbps() {
	fio --name=seq --filename="$1" --direct=1 --ioengine=io_uring --rw="$2" --bs=1M \
		--iodepth=8 --size=64M --runtime=3 --output-format=json \
		--output="$TEST_TMP/fio-seq.json" >/dev/null 2>&1 || { echo fail; return 1; }
	python3 -c 'import json,sys
j = json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]
print("%.1f" % (j["bw_bytes"] / 1e6))' "$TEST_TMP/fio-seq.json" "$2"
}

bench=${MEMX_CRYPT_BENCH:-0}
if [ "$bench" = 1 ]; then
	# Every slab mapped first (a slab is mapped on its first write), so neither
	# measurement pays for placement.
	dd if=/dev/zero of="$MEMX_DEV" bs=1M count=$SIZE_MB oflag=direct status=none || fail "precondition write"
	raw_w=$(seq_mbps "$MEMX_DEV" write) || fail "fio write on $MEMX_DEV"
	raw_r=$(seq_mbps "$MEMX_DEV" read) || fail "fio read on $MEMX_DEV"
	log "raw $MEMX_DEV: seq 1M write $raw_w MB/s, read $raw_r MB/s"
fi

# 16 MiB of a repeated marker line.
yes "$MARKER" | head -c 16M > "$TEST_TMP/pat"
# count_marker DEV: lines of the first 32 MiB of DEV (read O_DIRECT) holding the marker.
count_marker() { dd if="$1" bs=1M count=32 iflag=direct status=none | grep -a -c -F "$MARKER"; }

# Positive control: written in the clear, the marker is found on the raw volume.
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "clear write"
n=$(count_marker "$MEMX_DEV")
[ "$n" -gt 100000 ] || fail "control: the marker written in the clear was found only $n times"
log "control: marker written in the clear found $n times on $MEMX_DEV"

# Plain dm-crypt, a fresh random key: cryptsetup reads --key-size bits
# (64 bytes: the XTS key) from /dev/urandom and hands them to dm-crypt unhashed.
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 \
	--key-file /dev/urandom --sector-size 4096 --allow-discards \
	"$MEMX_DEV" "$CRYPT" 2>"$TEST_TMP/cryptsetup.log" ||
	{ cat "$TEST_TMP/cryptsetup.log"; fail "cryptsetup open"; }
on_exit "cryptsetup close $CRYPT"
wait_for test -b "$MAP" || fail "$MAP did not appear"
cryptsetup status "$CRYPT" | sed 's/^ */  /'
drv=$(awk '/^name/ {n=$3} /^driver/ {if (n == "xts(aes)") {print $3; exit}}' /proc/crypto)
log "$MAP is open, xts(aes) driver: ${drv:-?}"
[ "$(blockdev --getsize64 "$MAP")" = $((SIZE_MB << 20)) ] ||
	fail "$MAP is $(blockdev --getsize64 "$MAP") bytes, expected the whole volume"

# (a) Through the mapper the pattern reads back exact.
dd if="$TEST_TMP/pat" of="$MAP" bs=1M oflag=direct status=none || fail "write through $MAP"
cmp "$TEST_TMP/pat" <(dd if="$MAP" bs=1M count=16 iflag=direct status=none) ||
	fail "the pattern did not read back exact through $MAP"
log "(a) 16 MiB pattern written through $MAP read back exact"
# (b) The volume itself, what the donors hold, is ciphertext: no marker left.
n=$(count_marker "$MEMX_DEV")
[ "$n" = 0 ] || fail "the marker appears $n times on the raw volume under dm-crypt"
n=$(dd if="$MEMX_DEV" bs=1M iflag=direct status=none | grep -a -c -F "$MARKER")
[ "$n" = 0 ] || fail "the marker appears $n times on the raw volume under dm-crypt"
log "(b) the raw volume $MEMX_DEV holds no marker (ciphertext only)"

if [ "$bench" = 1 ]; then
	crypt_w=$(seq_mbps "$MAP" write) || fail "fio write on $MAP"
	crypt_r=$(seq_mbps "$MAP" read) || fail "fio read on $MAP"
	log "dm-crypt $MAP: seq 1M write $crypt_w MB/s, read $crypt_r MB/s"
	# The cipher alone, in memory (no I/O), for scale; needs algif_skcipher.
	modprobe algif_skcipher 2>/dev/null
	cipher=$(cryptsetup benchmark -c aes-xts-plain64 -s 512 2>/dev/null | grep -E '^ *aes-xts' | tr -s ' ')
	log "cipher alone (cryptsetup benchmark, memory only):${cipher:- not available}"
	log "ratio dm-crypt/raw: write $(python3 -c "print('%.2f' % ($crypt_w / $raw_w))"), read $(python3 -c "print('%.2f' % ($crypt_r / $raw_r))")"
fi

# (c) Swap on the mapper.
mkswap "$MAP" >/dev/null || fail "mkswap $MAP"
swapon -p 10 "$MAP" || fail "swapon $MAP"
on_exit "swapoff $MAP"
grep -F "$(readlink -f "$MAP")" /proc/swaps | sed 's/^/  /'
out0=$(vmstat pswpout) in0=$(vmstat pswpin)
# memory.high, not memory.max: dm-crypt's writeback is slow enough here that memory.max's
# reclaim sometimes gave up and OOM-killed the program (exit 137) with nothing wrong in the
# engine or the donors; the point here is that every page comes back, which the throttled
# program still proves (and the swap counts below still require the paging).
MEMCG_LIMIT=memory.high run_in_memcg memx-crypt-swap 64M "$MEMX_TEST_BIN/swap_pattern" 128 > "$TEST_TMP/pattern.out" 2>&1
rc=$?
out1=$(vmstat pswpout) in1=$(vmstat pswpin)
cat "$TEST_TMP/pattern.out"
[ $rc = 0 ] || fail "swap_pattern exited $rc (a page did not verify, or it was killed)"
grep -q ', 0 bad pages$' "$TEST_TMP/pattern.out" || fail "swap_pattern did not report every page verified"
log "(c) swap on $MAP: every page verified; pswpout +$((out1 - out0)) pswpin +$((in1 - in0))"
[ $((out1 - out0)) -gt 10000 ] || fail "too few pages swapped out: $((out1 - out0))"
[ $((in1 - in0)) -gt 10000 ] || fail "too few pages swapped in: $((in1 - in0))"

swapoff "$MAP" || fail "swapoff $MAP"
cryptsetup close "$CRYPT" || fail "cryptsetup close"
wait_for test ! -e "$MAP" || fail "$MAP still present after close"
stop_bg vol || fail "client did not stop cleanly"
wait_for test ! -e "$MEMX_DEV" || fail "$MEMX_DEV still present after the client stopped"
log "passed"
