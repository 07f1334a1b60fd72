#!/usr/bin/env bash
# A memx_ramd volume through memx.ko: fio data verification (io_uring with
# mixed sizes on two jobs, libaio 4k randrw), discard and write-zeroes reach
# the engine, and SIGTERM removes the volume cleanly so the module unloads.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

need_cmd fio
need_cmd blkdiscard

# fio_ok LOG: every job in fio's --minimal output has error 0 and did I/O.
fio_ok() {
	awk -F';' 'NF > 100 { n++; if ($5 != 0) bad = 1; io += $6 + $47 }
		END { exit !(n > 0 && !bad && io > 0) }' "$1"
}
# is_zero OFF LEN (MiB): that range of $DEV reads back as zeroes.
is_zero() {
	cmp -s -n $(($2 << 20)) \
		<(dd if="$DEV" bs=1M skip="$1" count="$2" iflag=direct status=none) /dev/zero
}

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"

start_ramd ramd --size 256M --queues 2 --depth 64 --max-io 128K
RP=$(bg_pid ramd)
q=/sys/block/$(basename "$DEV")/queue
log "$DEV ready (engine pid $RP)"
[ "$(blockdev --getsize64 "$DEV")" = $((256 << 20)) ] || fail "$DEV size is $(blockdev --getsize64 "$DEV")"
[ "$(cat $q/max_hw_sectors_kb)" = 128 ] || fail "max_hw_sectors_kb $(cat $q/max_hw_sectors_kb), want 128"
[ "$(cat $q/discard_max_bytes)" != 0 ] || fail "discard not enabled"
[ "$(cat $q/write_zeroes_max_bytes)" != 0 ] || fail "write zeroes not enabled"

log "fio io_uring randwrite 4k-128k, 2 jobs, crc32c verify"
timeout 50 fio --name=uring --filename="$DEV" --ioengine=io_uring --direct=1 \
	--rw=randwrite --bsrange=4k-128k --iodepth=32 --numjobs=2 \
	--size=32M --offset_increment=32M --verify=crc32c --verify_fatal=1 \
	--minimal > "$TEST_TMP/fio1.log" 2>&1
rc=$?
fio_ok "$TEST_TMP/fio1.log" && [ $rc = 0 ] || { cat "$TEST_TMP/fio1.log"; fail "fio io_uring verify (exit $rc)"; }

log "fio libaio randrw 4k, crc32c verify"
timeout 50 fio --name=aio --filename="$DEV" --ioengine=libaio --direct=1 \
	--rw=randrw --bs=4k --iodepth=32 --numjobs=1 --offset=128M --size=16M \
	--verify=crc32c --verify_fatal=1 --minimal > "$TEST_TMP/fio2.log" 2>&1
rc=$?
fio_ok "$TEST_TMP/fio2.log" && [ $rc = 0 ] || { cat "$TEST_TMP/fio2.log"; fail "fio libaio verify (exit $rc)"; }

# The engine zeroes discarded ranges, so discards that reach it read back as 0.
log "blkdiscard"
! is_zero 0 4 || fail "first 4 MiB are zero before discard: fio wrote nothing there?"
blkdiscard "$DEV" || fail "blkdiscard $DEV"
is_zero 0 4 || fail "discarded range does not read back as zeroes"
is_zero 128 4 || fail "discarded range at 128 MiB does not read back as zeroes"

log "blkdiscard -z"
head -c 2M /dev/urandom > "$TEST_TMP/rand"
dd if="$TEST_TMP/rand" of="$DEV" bs=1M seek=8 oflag=direct status=none || fail "write before -z"
blkdiscard -z -o $((8 << 20)) -l $((1 << 20)) "$DEV" || fail "blkdiscard -z $DEV"
is_zero 8 1 || fail "write-zeroes range does not read back as zeroes"
cmp -s <(dd if="$DEV" bs=1M skip=9 count=1 iflag=direct status=none) <(tail -c 1M "$TEST_TMP/rand") \
	|| fail "data next to the write-zeroes range changed"

log "SIGTERM: clean removal"
stop_ramd
log "passed"
