#!/usr/bin/env bash
# Engine restart through ublk (UBLK_F_USER_RECOVERY): kill -9 of `memxd client`
# during a verified fio (QD32, mixed sizes, 2 replicas), then the same command
# again: it takes the device over (the same /dev/ublkbN, "ready" again), ublk
# hands it the held requests, and fio ends with zero errors and every block
# verified; in between, with no engine, `memxctl list` shows the volume
# quiesced. An engine that never comes back: held I/O fails with EIO once
# --recovery-timeout ends, and the device goes (the window keeper).
# Skips on kernels without ublk_drv (Debian 12's 6.1).
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
need_ublk

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
args=(--size 64M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
	--kernel-backend ublk --recovery-timeout 60)
start_client vol "${args[@]}"
first=$MEMX_DEV
[[ $first =~ ^/dev/ublkb[0-9]+$ ]] || fail "ready line names $first, not /dev/ublkbN"
start_bg fio fio --name=r --filename="$first" --direct=1 --ioengine=libaio --rw=randwrite \
	--bsrange=4k-128k --iodepth=32 --size=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-r.out"
FP=$(bg_pid fio)
sleep 3
exited "$FP" && { cat "$TEST_TMP/fio-r.out"; fail "fio ended before the kill"; }
kill -9 "$(bg_pid vol)" || fail "kill -9 the engine"
sleep 1
exited "$FP" && { cat "$TEST_TMP/fio-r.out"; fail "fio ended when the engine died: ublk did not hold its I/O"; }
# No engine answers: memxctl list still shows the volume, from ublk and /run/memx.
WAIT_S=10 wait_for listed "$first" vol 64 "(quiesced|live) \\(ublk; no engine" ||
	{ cat "$TEST_TMP/list.out"; fail "memxctl list does not show vol on $first, with no engine"; }
# The window is no part of the volume: this engine's is 5 s, for the end of the test.
start_client vol "${args[@]}" --recovery-timeout 5
[ "$MEMX_DEV" = "$first" ] || fail "the new engine serves $MEMX_DEV, not $first"
grep -q "taking over $first" "$TEST_TMP/vol.log" || fail "the new engine did not say it took over"
[ "$(status_get '[x["volumes"][0]["resumed"] for x in s if x and x["role"]=="client"][0]')" = True ] ||
	fail "status does not say the engine took the volume over"
WAIT_S=120 wait_for exited "$FP" || fail "fio did not finish after the new engine took over"
wait "$FP"; rc=$?
grep -E "err=|IOPS" "$TEST_TMP/fio-r.out" | head -n 4
[ "$rc" = 0 ] || { cat "$TEST_TMP/fio-r.out"; fail "fio failed across the engine restart (exit $rc)"; }
log "fio wrote and verified 64 MiB across kill -9 of the engine, through ublk"

# No engine comes back: after the window, EIO and the device goes.
kill -9 "$(bg_pid vol)" || fail "kill -9 the second engine"
id=${first#/dev/ublkb}
t0=$SECONDS
if dd if="$first" of=/dev/null bs=4k count=1 iflag=direct status=none 2> "$TEST_TMP/dd.err"; then
	fail "a read succeeded with no engine"
fi
log "a read with no engine failed after $((SECONDS - t0)) s: $(cat "$TEST_TMP/dd.err")"
[ $((SECONDS - t0)) -ge 3 ] || fail "the read failed before the recovery window ended"
wait_for test ! -e "/dev/ublkc$id" || fail "/dev/ublkc$id is still there after the window"
grep -q "no engine took it over" "$TEST_TMP/vol.log" || fail "the window keeper did not say why"
