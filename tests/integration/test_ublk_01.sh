#!/usr/bin/env bash
# memxd client through the kernel's own ublk (no memx.ko): the backend is
# chosen on its own and says why, the ready line names /dev/ublkbN, status
# says "ublk"; fio verifies random writes of 4 KiB and of mixed sizes at QD32;
# discard gives zeros back; the swap pattern program (32 MiB through a 12 MiB
# cgroup) verifies every page; SIGTERM is refused while the disk is swap; a slab
# whose only donor was killed fails with EIO (never other data) while the rest
# reads back exactly; SIGTERM then removes /dev/ublkbN and /dev/ublkcN.
# Skips on kernels without ublk_drv (Debian 12's 6.1).
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
need_ublk

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_client vol --size 128M --slab 4M --replicas 1 --queues 2 --depth 32 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3"
log "volume $MEMX_DEV ready"
[[ $MEMX_DEV =~ ^/dev/ublkb[0-9]+$ ]] || fail "ready line names $MEMX_DEV, not /dev/ublkbN"
id=${MEMX_DEV#/dev/ublkb}
[ -c "/dev/ublkc$id" ] || fail "/dev/ublkc$id is missing"
grep -q 'kernel backend ublk: memx.ko is not loaded' "$TEST_TMP/vol.log" \
	|| fail "the client did not say it took ublk and why"
[ "$(status_get '[x["volumes"][0]["backend"] for x in s if x and x["role"]=="client"][0]')" = ublk ] \
	|| fail "status does not say backend ublk"
[ "$(status_get '[x["volumes"][0]["device"] for x in s if x and x["role"]=="client"][0]')" = "$MEMX_DEV" ] \
	|| fail "status does not name $MEMX_DEV"

fio_verify "$MEMX_DEV" --rw=randwrite --bs=4k --iodepth=32 --numjobs=2 --size=16M \
	--offset_increment=32M || fail "fio 4k verify failed"
fio_verify "$MEMX_DEV" --rw=randwrite --bsrange=4k-128k --iodepth=32 --size=32M \
	--offset=64M || fail "fio mixed-size verify failed"

# A discarded slab reads as zeros again.
head -c 4M /dev/urandom > "$TEST_TMP/slab"
dd if="$TEST_TMP/slab" of="$MEMX_DEV" bs=1M seek=120 oflag=direct status=none || fail "write slab 30"
blkdiscard -o $((120 << 20)) -l $((4 << 20)) "$MEMX_DEV" || fail "blkdiscard"
cmp -n $((4 << 20)) <(dd if="$MEMX_DEV" bs=1M skip=120 count=4 iflag=direct status=none) /dev/zero \
	|| fail "a discarded slab does not read as zeros"

# In use as swap: SIGTERM is refused and the engine serves on.
mkswap "$MEMX_DEV" > /dev/null && swapon "$MEMX_DEV" || fail "swapon $MEMX_DEV"
on_exit "swapoff $MEMX_DEV"
# The swap pattern through ublk: every page of 32 MiB written and verified from
# a 12 MiB cgroup, so most of them go out to the donors and back.
out0=$(vmstat pswpout) in0=$(vmstat pswpin)
run_in_memcg memx-ublk-swap 12M "$MEMX_TEST_BIN/swap_pattern" 32 > "$TEST_TMP/pattern.out" 2>&1 \
	|| { cat "$TEST_TMP/pattern.out"; fail "swap_pattern through ublk failed (or was killed)"; }
cat "$TEST_TMP/pattern.out"
grep -q ', 0 bad pages$' "$TEST_TMP/pattern.out" || fail "swap_pattern did not report every page verified"
out1=$(vmstat pswpout) in1=$(vmstat pswpin)
log "swap through $MEMX_DEV: every page verified; pswpout +$((out1 - out0)) pswpin +$((in1 - in0))"
[ $((out1 - out0)) -gt 4000 ] && [ $((in1 - in0)) -gt 2000 ] \
	|| fail "too little went through swap: pswpout +$((out1 - out0)), pswpin +$((in1 - in0))"
kill -TERM "$(bg_pid vol)"
WAIT_S=10 wait_for grep -q "in use" "$TEST_TMP/vol.log" || fail "SIGTERM of a swap volume not refused"
kill -0 "$(bg_pid vol)" || fail "the client exited while its volume was swap"
[ -b "$MEMX_DEV" ] || fail "$MEMX_DEV went away while it was swap"
swapoff "$MEMX_DEV" || fail "swapoff"

# One replica per slab: killing a donor loses its slabs. Each reads back exactly or fails with EIO.
head -c 64M /dev/urandom > "$TEST_TMP/src"
dd if="$TEST_TMP/src" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "write 64M"
on_d2=$(donor_slabs "$IP3")
s=$(status_get '[x["volumes"][0]["io"]["errors"] for x in s if x and x["role"]=="client"][0]')
[ "$s" = 0 ] || fail "$s I/O errors before any failure"
kill -9 "$(bg_pid d2)"
WAIT_S=20 wait_for status_is '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$IP3"':")][0]' dead \
	|| fail "the client did not see donor 2 die"
eio=0 good=0
for i in $(seq 0 15); do
	if dd if="$MEMX_DEV" of="$TEST_TMP/chunk" bs=4M skip="$i" count=1 iflag=direct status=none 2> "$TEST_TMP/dd.err"; then
		cmp -s "$TEST_TMP/chunk" <(dd if="$TEST_TMP/src" bs=4M skip="$i" count=1 status=none) \
			|| fail "slab $i returned data that is not what was written"
		good=$((good + 1))
	else
		grep -q "Input/output error" "$TEST_TMP/dd.err" || fail "slab $i: $(cat "$TEST_TMP/dd.err")"
		eio=$((eio + 1))
	fi
done
log "after the kill: $good slabs verified, $eio fail with EIO (donor 2 held $on_d2 slabs in all)"
[ "$eio" -gt 0 ] && [ "$good" -gt 0 ] || fail "expected some slabs lost and some kept ($eio, $good)"
[ "$eio" -le "$on_d2" ] || fail "$eio slabs fail but donor 2 held only $on_d2"

stop_bg vol || { bg_log vol; fail "client did not exit cleanly on SIGTERM"; }
[ ! -e "$MEMX_DEV" ] || fail "$MEMX_DEV still exists after the client stopped"
wait_for test ! -e "/dev/ublkc$id" || fail "/dev/ublkc$id still exists after the client stopped"
[ ! -e "/sys/class/ublk-char/ublkc$id" ] || fail "ublk still has device $id"
bg_log vol | tail -n 5
