#!/usr/bin/env bash
# A stuck engine on ublk is deposed (--io-deadline): ublk has no deadline of
# its own, so the engine's keeper (ublk_window.c) kills an engine that holds
# requests and finishes none for --io-deadline. The attack: `kill -STOP` of
# `memxd client` during a verified fio (crc32c, QD32, 2 replicas), deadline
# 10 s. The keeper must SIGKILL it within the deadline plus slack and say why;
# ublk holds the requests (user recovery); the same command again serves the
# same /dev/ublkbN; fio ends with zero errors; the stopped engine is dead
# (kill -CONT finds nothing to wake); no hung-task report. Then `memxctl
# list` with no engine: the volume, its device and ublk's state.
# Skips on kernels without ublk_drv (Debian 12's 6.1).
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
need_ublk

# A task blocked past this is reported: the held I/O must end well before.
hung=/proc/sys/kernel/hung_task_timeout_secs
if [ -w "$hung" ]; then
	old_hung=$(cat "$hung"); echo 30 > "$hung"; on_exit "echo $old_hung > $hung"
fi
dmesg_mark=$(dmesg | wc -l)

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
deadline=10
args=(--size 32M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
	--kernel-backend ublk --recovery-timeout 60 --io-deadline $deadline)
start_client vol "${args[@]}"
dev=$MEMX_DEV
start_bg fio fio --name=s --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
	--bsrange=4k-128k --iodepth=32 --size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-s.out"
FP=$(bg_pid fio)
sleep 2
exited "$FP" && { cat "$TEST_TMP/fio-s.out"; fail "fio ended before the engine was stopped"; }
old=$(bg_pid vol)
kill -STOP "$old" || fail "kill -STOP the engine"
t0=$SECONDS
if ! WAIT_S=$((deadline + 10)) wait_for exited "$old"; then
	kill -9 "$old"
	fail "the stopped engine still held the volume $((SECONDS - t0)) s after kill -STOP" \
		"(--io-deadline $deadline): nobody deposed it"
fi
took=$((SECONDS - t0))
log "the keeper killed the stopped engine $took s after kill -STOP (--io-deadline $deadline)"
[ "$took" -ge $((deadline - 1)) ] || fail "the engine was killed after $took s, before the deadline"
grep -q "finished none for --io-deadline $deadline s" "$TEST_TMP/vol.log" ||
	fail "the keeper did not say why it killed the engine"
wait "$old" 2>/dev/null; rc=$?
[ "$rc" = 137 ] || fail "the stopped engine ended with status $rc, not by SIGKILL"
exited "$FP" && { cat "$TEST_TMP/fio-s.out"; fail "fio ended when the engine died: ublk did not hold its I/O"; }

# No engine: memxctl list still shows the volume, from ublk and /run/memx.
WAIT_S=10 wait_for listed "$dev" vol 32 "(quiesced|live) \\(ublk; no engine" ||
	{ cat "$TEST_TMP/list.out"; fail "memxctl list does not show vol on $dev, with no engine"; }
cat "$TEST_TMP/list.out"

start_client vol "${args[@]}"
[ "$MEMX_DEV" = "$dev" ] || fail "the new engine serves $MEMX_DEV, not $dev"
grep -q "taking over $dev" "$TEST_TMP/vol.log" || fail "the new engine did not say it took over"
WAIT_S=90 wait_for exited "$FP" || fail "fio did not finish after the new engine took over"
wait "$FP"; rc=$?
grep -E "err=|IOPS" "$TEST_TMP/fio-s.out" | head -n 4
[ "$rc" = 0 ] || { cat "$TEST_TMP/fio-s.out"; fail "fio failed across the deposed engine (exit $rc)"; }
log "fio wrote and verified 32 MiB across a stopped engine, deposed after $took s"

# The old engine is gone for good: there is nothing left to wake.
if kill -CONT "$old" 2>/dev/null; then fail "the old engine (pid $old) still exists"; fi
listed "$dev" vol 32 "live \\(ublk\\)$" || { cat "$TEST_TMP/list.out"; fail "memxctl list does not show vol live again"; }
if dmesg | tail -n +"$((dmesg_mark + 1))" | grep -E "blocked for more than|hung_task" >&2; then
	fail "the kernel reported a hung task"
fi
stop_bg vol || fail "the new engine did not exit cleanly"
