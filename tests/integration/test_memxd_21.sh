#!/usr/bin/env bash
# A stuck engine is deposed, replaced and fenced. kill -STOP of `memxd client`
# (--io-deadline 10) during a verified fio (QD32, mixed sizes, 2 replicas):
# memx.ko deposes it after the deadline (no EIO, no hung task) and holds its
# requests; the same command again takes the volume over while the stopped
# engine still lives (its lock, its state file, its queue pairs), fencing its
# connections at both donors; fio ends with zero errors. After kill -CONT the
# old engine finds itself deposed and leaves without touching the volume: a
# second pass reads back and verifies every block.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
args=(--name vol --size 64M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
	--recovery-timeout 60 --io-deadline 10)
start_bg old "$MEMXD" client "${args[@]}"
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/old.log" || { bg_log old; fail "client did not become ready"; }
dev=$(sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/old.log")
OLD=$(bg_pid old)
fio_job=(--name=r --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite
	--bsrange=4k-128k --iodepth=32 --size=64M --verify=crc32c --verify_fatal=1)
start_bg fio fio "${fio_job[@]}" --do_verify=1 --output="$TEST_TMP/fio-r.out"
FP=$(bg_pid fio)
sleep 3
exited "$FP" && { cat "$TEST_TMP/fio-r.out"; fail "fio ended before the stop"; }
kill -STOP "$OLD" || fail "kill -STOP the engine"
t0=$(date +%s.%N)
deposed() { dmesg | grep -q "(vol): the engine committed nothing for 10000 ms while holding requests: deposing it"; }
WAIT_S=40 wait_for deposed || { dmesg | tail; fail "memx.ko did not depose the stopped engine"; }
t1=$(date +%s.%N)
log "memx.ko deposed the stopped engine $(python3 -c "print(round($t1 - $t0, 1))") s after kill -STOP (--io-deadline 10)"
dmesg | grep -q "memx.*failed [0-9]* requests" && fail "memx.ko failed requests instead of holding them"
exited "$FP" && { cat "$TEST_TMP/fio-r.out"; fail "fio ended while the volume waited for an engine"; }

start_bg new "$MEMXD" client "${args[@]}"
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/new.log" || { bg_log new; fail "the new engine did not become ready"; }
t2=$(date +%s.%N)
grep -q "^ready $dev\$" "$TEST_TMP/new.log" || fail "the new engine does not serve $dev"
grep -q "holds its lock but memx.ko deposed it" "$TEST_TMP/new.log" ||
	fail "the new engine did not say it took the lock of the deposed one"
grep -q "taking over $dev" "$TEST_TMP/new.log" || fail "the new engine did not take the volume over"
for d in d1 d2; do
	grep -q "(fenced)" "$TEST_TMP/$d.log" || fail "donor $d did not fence the stopped engine"
done
log "new engine ready $(python3 -c "print(round($t2 - $t1, 1))") s after the deposition; both donors fenced the old one"
kill -0 "$OLD" || fail "the stopped engine died before kill -CONT"

kill -CONT "$OLD"
WAIT_S=15 wait_for exited "$OLD" || fail "the deposed engine did not leave after kill -CONT"
wait "$OLD"; rc=$?
[ "$rc" != 0 ] || fail "the deposed engine exited 0 (systemd would not restart it)"
grep -q "memx.ko deposed this engine" "$TEST_TMP/old.log" || { tail "$TEST_TMP/old.log"; fail "the deposed engine did not say why it left"; }
grep -Eq "gave back [0-9]+ grant" "$TEST_TMP/old.log" && fail "the deposed engine gave grants back"
WAIT_S=180 wait_for exited "$FP" || fail "fio did not finish after the new engine took over"
wait "$FP"; rc=$?
grep -E "err=|IOPS" "$TEST_TMP/fio-r.out" | head -n 4
[ "$rc" = 0 ] || { cat "$TEST_TMP/fio-r.out"; fail "fio failed across the deposition (exit $rc)"; }
fio "${fio_job[@]}" --verify_only --output="$TEST_TMP/fio-v.out" ||
	{ cat "$TEST_TMP/fio-v.out"; fail "a second read of every block after the old engine woke failed verification"; }
log "fio wrote and verified 64 MiB across kill -STOP, a take-over and kill -CONT; a second pass verified it again"
dmesg | grep -E "blocked for more than|hung_task" && fail "a task hung"
[ "$(status_get '[x["volumes"][0]["resumed"] for x in s if x and x["role"]=="client"][0]')" = True ] ||
	fail "status does not say the engine took the volume over"
[ "$(status_get '[x["volumes"][0]["epoch"] for x in s if x and x["role"]=="client"][0]')" = 2 ] ||
	fail "the engine that took over does not have the next epoch (2)"
stop_bg new || fail "the new engine did not stop cleanly"
grep -Eq "gave back [1-9][0-9]* grant" "$TEST_TMP/new.log" || fail "a clean stop did not give the grants back"
log "passed"
