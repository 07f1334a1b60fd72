#!/usr/bin/env bash
# Engine death: kill -9 of memx_ramd during fio fails the outstanding and
# later I/O promptly (fio ends with errors, no hang), the volume is removed
# and the module unloads; the same with polled I/O (fio --hipri spinning on a
# poll queue must not spin forever); kill -9 while ext4 is mounted: I/O
# fails, umount works, the disk goes away, the module unloads.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

need_cmd fio
need_cmd mkfs.ext4

# ios DEV: reads + writes completed on DEV so far.
ios() { awk '{ print $1 + $5 }' "/sys/block/$(basename "$1")/stat"; }

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"

# --- kill -9 during fio ---------------------------------------------------
start_ramd ramd --size 256M --queues 2 --depth 32
RP=$(bg_pid ramd)
log "$DEV ready (engine pid $RP)"
start_bg fio timeout 90 fio --name=k --filename="$DEV" --ioengine=libaio --direct=1 \
	--rw=randrw --bs=4k --iodepth=32 --numjobs=2 --size=128M --offset_increment=128M \
	--time_based --runtime=60 --minimal
FP=$(bg_pid fio)
WAIT_S=20 wait_for eval '[ "$(ios "$DEV")" -gt 2000 ]' \
	|| { bg_log fio; fail "fio did not get going ($(ios "$DEV") I/Os)"; }
log "fio running ($(ios "$DEV") I/Os done); kill -9 engine"
t0=$SECONDS
kill -9 "$RP" || fail "kill -9 engine"
WAIT_S=30 wait_for exited "$FP"
elapsed=$((SECONDS - t0))
exited "$FP" || { bg_log fio; fail "fio still running 30 s after the engine died (hang)"; }
wait "$FP"; rc=$?
wait "$RP" 2>/dev/null
bg_log fio | tail -n 5
log "fio ended ${elapsed}s after the kill, exit $rc"
[ $rc != 0 ] || fail "fio succeeded although the engine died"
[ $rc != 124 ] || fail "fio hung until its 90 s timeout"
grep -Eq 'Input/output error|error=|err=' "$TEST_TMP/fio.log" \
	|| awk -F';' 'NF > 100 && $5 != 0 { f = 1 } END { exit !f }' "$TEST_TMP/fio.log" \
	|| fail "fio reported no I/O error"
WAIT_S=15 wait_for test ! -e "$DEV" || fail "$DEV still present after the engine died"
rmmod memx || fail "rmmod after engine death failed"
log "volume removed and module unloaded after kill -9 during fio"

# --- kill -9 during polled fio --------------------------------------------
insmod "$MEMX_KO" || fail "reload memx.ko"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear after reload"
start_ramd ramd1 --size 64M --queues 1 --poll-queues 1 --depth 16
RP=$(bg_pid ramd1)
[ "$(cat "/sys/block/$(basename "$DEV")/queue/io_poll")" = 1 ] || fail "$DEV cannot poll"
fio --name=pv --filename="$DEV" --ioengine=io_uring --hipri=1 --direct=1 --rw=randwrite \
	--bs=4k --iodepth=8 --size=16M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-pv.log" || { cat "$TEST_TMP/fio-pv.log"; fail "polled fio verify"; }
start_bg fiop timeout 90 fio --name=kp --filename="$DEV" --ioengine=io_uring --hipri=1 \
	--direct=1 --rw=randrw --bs=4k --iodepth=8 --size=64M --time_based --runtime=60 --minimal
FP=$(bg_pid fiop)
n0=$(ios "$DEV")
WAIT_S=20 wait_for eval '[ "$(ios "$DEV")" -gt $((n0 + 2000)) ]' \
	|| { bg_log fiop; fail "polled fio did not get going"; }
kill -9 "$RP" || fail "kill -9 engine (polled)"
t0=$SECONDS
WAIT_S=30 wait_for exited "$FP"
exited "$FP" || { bg_log fiop; fail "polled fio still running 30 s after the engine died"; }
wait "$FP"; rc=$?
wait "$RP" 2>/dev/null
log "polled fio ended $((SECONDS - t0))s after the kill, exit $rc"
[ $rc != 0 ] && [ $rc != 124 ] || fail "polled fio: exit $rc after the engine died"
WAIT_S=15 wait_for test ! -e "$DEV" || fail "$DEV still present after the engine died (polled)"
rmmod memx || fail "rmmod after engine death during polled I/O failed"

# --- kill -9 while mounted ------------------------------------------------
insmod "$MEMX_KO" || fail "reload memx.ko"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear after reload"
start_ramd ramd2 --size 64M
RP=$(bg_pid ramd2)
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 $DEV"
mount "$DEV" "$mnt" || fail "mount $DEV"
on_exit "umount -l $mnt"
head -c 4M /dev/urandom > "$mnt/f" && sync || fail "write before kill"
log "mounted $DEV; kill -9 engine"
kill -9 "$RP" || fail "kill -9 engine"
wait "$RP" 2>/dev/null
! timeout 30 dd if=/dev/zero of="$mnt/g" bs=1M count=1 conv=fsync status=none 2>/dev/null \
	|| fail "fsync'd write on the dead volume succeeded"
timeout 30 umount "$mnt"; rc=$?
[ $rc = 0 ] || fail "umount after engine death failed (exit $rc)"
WAIT_S=15 wait_for test ! -e "$DEV" || fail "$DEV still present after umount"
! grep -q " $(basename "$DEV")\$" /proc/partitions || fail "$DEV still in /proc/partitions"
rmmod memx || fail "rmmod after engine death while mounted failed"
log "passed"
