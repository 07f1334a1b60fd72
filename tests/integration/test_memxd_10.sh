#!/usr/bin/env bash
# The engine never waits on its stderr: with stderr a FIFO that nobody reads
# (a stalled journald, a terminal scrolled back, a log reader that is itself
# waiting on swap-in from this device) and debug logging of every request,
# fio verification still completes, the engine counts the lines it dropped
# in its status, and SIGTERM still stops it. (Before, the first queue thread
# to fill the pipe blocked in write(2) and every request hung.)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 128M
fifo=$TEST_TMP/stderr.fifo
mkfifo "$fifo"
exec 3<>"$fifo"	# a reader that never reads: opens succeed, writes fill the pipe
MEMXD_DEBUG=0x3 "$MEMXD" client --name stall --size 64M --slab 4M --bind "$IP1" \
	--donor "$IP2" > "$TEST_TMP/stall.log" 2> "$fifo" &
echo $! > "$TEST_TMP/stall.pid"
on_exit "kill -9 $! 2>/dev/null; wait $! 2>/dev/null"
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/stall.log" || fail "client did not start"
MEMX_DEV=$(sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/stall.log")

timeout 120 fio --name=stall --filename="$MEMX_DEV" --direct=1 --ioengine=libaio \
	--rw=randwrite --bs=4k --iodepth=16 --size=32M --verify=crc32c --verify_fatal=1 \
	--do_verify=1 --output="$TEST_TMP/fio.out" || { cat "$TEST_TMP/fio.out"; fail "fio failed or hung"; }
dropped=$("$MEMXCTL" status --json --socket /run/memx/client-stall.sock |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["log_dropped"])') ||
	fail "no status"
log "fio verified 32 MiB with stderr unread; $dropped log lines dropped"
[ "$dropped" -gt 0 ] || fail "no line was dropped: the test did not fill the pipe"
stop_bg stall || fail "client did not stop on SIGTERM with stderr unread"
