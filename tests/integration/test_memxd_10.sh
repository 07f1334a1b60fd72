#!/usr/bin/env bash
# The engine never waits on its stderr. With stderr a FIFO that nobody reads
# (a stalled journald, a terminal scrolled back, a log reader that itself
# waits on swap-in from this device), a flood of writes that no donor can
# take (each one a log line) ends promptly with EIO instead of hanging, the
# engine counts the lines it dropped in its status, data it holds still
# verifies, and SIGTERM still stops it. (Before, once the pipe was full the
# control thread blocked in write(2) and every write to a new slab hung.)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 16M
fifo=$TEST_TMP/stderr.fifo
mkfifo "$fifo"
exec 3<>"$fifo"	# a reader that never reads: opens succeed, writes fill the pipe
"$MEMXD" client --name stall --size 1G --slab 1M --bind "$IP1" --donor "$IP2" --overcommit \
	> "$TEST_TMP/stall.log" 2> "$fifo" &
echo $! > "$TEST_TMP/stall.pid"
on_exit "kill -9 $! 2>/dev/null; wait $! 2>/dev/null"
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/stall.log" || fail "client did not start"
MEMX_DEV=$(sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/stall.log")
fio_write_verify "$MEMX_DEV" 0 8M || fail "fio on the slabs the donor can hold failed"

# 1 GiB of 1 MiB slabs on a 16 MiB donor: nearly every write is a slab no
# donor can take, and a log line about it.
timeout 120 fio --name=flood --filename="$MEMX_DEV" --direct=1 --ioengine=libaio \
	--rw=randwrite --bs=4k --offset=16M --size=1000M --iodepth=8 --time_based --runtime=8 \
	--continue_on_error=all --output="$TEST_TMP/flood.out" > /dev/null 2>&1
[ $? = 124 ] && fail "writes hung: the engine waits on its stderr"
grep -o 'err=[^,]*' "$TEST_TMP/flood.out" | head -n 1
dropped=$(timeout 10 "$MEMXCTL" status --json --socket /run/memx/client-stall.sock |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["log_dropped"])') ||
	fail "the engine does not answer its status"
log "a flood of failing writes with stderr unread ended; $dropped log lines dropped"
[ "$dropped" -gt 0 ] || fail "no line was dropped: the test did not fill the pipe"
fio_verify_only "$MEMX_DEV" 0 8M || fail "data written before the flood did not verify"
stop_bg stall || fail "client did not stop on SIGTERM with stderr unread"
