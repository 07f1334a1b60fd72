#!/usr/bin/env bash
# A stopped engine cannot hang the host's I/O. The engine of a volume with no
# recovery window (--recovery-timeout 0; with one, the stopped engine is
# deposed and replaced instead: test_memxd_21) is SIGSTOPped under fio with
# --io-deadline 10: memx.ko sees it hold requests without finishing any for
# 10 s, treats it as dead and fails them, so fio ends with errors
# within the deadline plus slack, instead of hanging for as long as the stop
# lasts (before: the whole stop, with only a warning every 30 s). After
# SIGCONT the old engine finds its volume dead and exits; its late results
# are refused, and a read of the device is an error, never stale data.
# Stray signals (HUP, QUIT, USR1, USR2) kill neither role.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

deadline=10
start_donor d1 "$IP2" 128M
start_donor d2 "$IP3" 128M
start_client vol --size 64M --slab 4M --replicas 2 --io-deadline "$deadline" --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --recovery-timeout 0
client=$(bg_pid vol)

for sig in HUP QUIT USR1 USR2; do
	kill -s "$sig" "$client" "$(bg_pid d1)"
done
sleep 1
kill -0 "$client" && kill -0 "$(bg_pid d1)" || fail "a stray signal killed a memxd"
grep -q 'Quit ignored' "$TEST_TMP/vol.log" || fail "the client did not say it ignored SIGQUIT"
grep -q 'reload: ' "$TEST_TMP/d1.log" || fail "the donor did not re-read its keys on SIGHUP"
fio_write_verify "$MEMX_DEV" 0 16M || fail "fio before the stop failed"

fio --name=stop --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite --bs=4k \
	--iodepth=16 --size=48M --offset=16M --time_based --runtime=120 \
	--output="$TEST_TMP/fio.out" > /dev/null 2>&1 &
fio_pid=$!
on_exit "kill -9 $fio_pid"
sleep 3
kill -STOP "$client"
on_exit "kill -CONT $client"
stopped=$SECONDS
log "engine stopped under fio (deadline ${deadline}s)"
fio_ended() { exited "$fio_pid"; }
WAIT_S=$((3 * deadline + 15)) wait_for fio_ended || fail "fio still hangs $((SECONDS - stopped)) s after the stop"
took=$((SECONDS - stopped))
wait "$fio_pid" && fail "fio ended without an error though its engine is stopped"
log "I/O failed ${took} s after the engine stopped (deadline ${deadline} s)"
[ "$took" -le $((2 * deadline + 10)) ] || fail "I/O took ${took} s to fail: over twice the deadline plus slack"
dmesg | grep -q 'committed nothing for 10000 ms while holding requests: treating it as dead' ||
	fail "memx.ko did not say why it failed the requests"

kill -CONT "$client"
client_gone() { exited "$client"; }
WAIT_S=30 wait_for client_gone || fail "the old engine did not exit after it woke to a dead volume"
grep -q 'declared /dev/memx[0-9]* dead' "$TEST_TMP/vol.log" || fail "the engine did not say why it exited"
if [ -b "$MEMX_DEV" ]; then
	dd if="$MEMX_DEV" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null &&
		fail "a read of the dead volume returned data"
fi
# The old engine gave its memory back on its way out (grant by grant, or the
# donors freed it when it disconnected): every donor lends nothing any more.
donors_empty() {
	[ "$(status_get 'all(x["memory_free"] == x["memory_total"] for x in s if x and x["role"] == "donor")' 2>/dev/null)" = True ]
}
WAIT_S=20 wait_for donors_empty || { status_json; fail "the donors kept the dead engine's slabs"; }
