#!/usr/bin/env bash
# Engine restart (memx.ko's recovery window): kill -9 of the engine during a
# verified fio, with requests in its hands, fails nothing; a new engine that
# attaches to the volume by name (same /dev/memxN) serves the held requests and
# fio verifies every block. Without an engine the held I/O fails with EIO once
# the window ends and the volume goes away; attach refuses a wrong name, a
# wrong geometry and a volume whose engine lives; names are unique.
# /sys/block/memxN/memx/ follows it all (name, state, engine_pid,
# recovery_timeout_ms), and udev's rule (udev/60-memx.rules) names the
# volume /dev/memx/NAME.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

need_cmd fio

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"

geo=(--size 64M --queues 2 --depth 32)
store=$TEST_TMP/store
# sysfs_is DEV ATTR VALUE: /sys/block/memxN/memx/ATTR reads VALUE.
sysfs_is() { [ "$(cat "/sys/block/${1#/dev/}/memx/$2" 2>/dev/null)" = "$3" ]; }

# --- kill -9 during verified fio, then attach ------------------------------
start_ramd ramd "${geo[@]}" --name r1 --recovery-ms 60000 --store "$store" --slow-ms 2
first=$DEV
sysfs_is "$first" name r1 && sysfs_is "$first" state live &&
	sysfs_is "$first" engine_pid "$(bg_pid ramd)" && sysfs_is "$first" recovery_timeout_ms 60000 ||
	fail "sysfs of $first: $(grep -r . "/sys/block/${first#/dev/}/memx/" 2>&1 | tr '\n' ' ')"
# The udev rule, as udevd would apply it (the guest runs no udevd).
if command -v udevadm > /dev/null && mkdir -p /etc/udev/rules.d 2>/dev/null &&
	cp "$MEMX_ROOT/udev/60-memx.rules" /etc/udev/rules.d/ 2>/dev/null; then
	udevadm test --action=add "/sys/block/${first#/dev/}" > "$TEST_TMP/udev.out" 2>&1
	grep -q "^DEVLINKS=.*/dev/memx/r1" "$TEST_TMP/udev.out" ||
		{ tail -n 20 "$TEST_TMP/udev.out"; fail "the udev rule does not name $first /dev/memx/r1"; }
	rm -f /etc/udev/rules.d/60-memx.rules
	log "sysfs names $first r1, and the udev rule links /dev/memx/r1 to it"
else
	log "sysfs names $first r1 (no writable /etc/udev/rules.d here: the udev rule is not checked)"
fi
start_bg fio fio --name=r --filename="$DEV" --direct=1 --ioengine=libaio --rw=randwrite \
	--bs=4k --iodepth=32 --size=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-r.out"
FP=$(bg_pid fio)
sleep 2
exited "$FP" && { cat "$TEST_TMP/fio-r.out"; fail "fio ended before the kill"; }
kill -9 "$(bg_pid ramd)" || fail "kill -9 engine"
orphaned() { dmesg | grep -q "(r1): engine gone; holding"; }
WAIT_S=10 wait_for orphaned \
	|| { dmesg | tail; fail "memx.ko did not orphan the volume"; }
dmesg | grep "engine gone; holding" | tail -n 1
sleep 3
exited "$FP" && { cat "$TEST_TMP/fio-r.out"; fail "fio ended while the volume waited for an engine"; }
[ -b "$first" ] || fail "$first went away with its engine"
sysfs_is "$first" state recovering && sysfs_is "$first" engine_pid 0 ||
	fail "sysfs of the orphan $first: state $(cat "/sys/block/${first#/dev/}/memx/state"), engine_pid $(cat "/sys/block/${first#/dev/}/memx/engine_pid")"

# Attach errors, while the volume is orphaned.
"$MEMX_TEST_BIN/memx_ramd" "${geo[@]}" --name nosuch --attach --recovery-ms 1000 \
	> "$TEST_TMP/a1.log" 2>&1 && fail "attach to a name nobody has succeeded"
grep -q "No such file" "$TEST_TMP/a1.log" || { cat "$TEST_TMP/a1.log"; fail "attach to an unknown name: wrong error"; }
"$MEMX_TEST_BIN/memx_ramd" --size 32M --queues 2 --depth 32 --name r1 --attach \
	> "$TEST_TMP/a2.log" 2>&1 && fail "attach with another size succeeded"
grep -q "Invalid argument" "$TEST_TMP/a2.log" || { cat "$TEST_TMP/a2.log"; fail "attach with another size: wrong error"; }
"$MEMX_TEST_BIN/memx_ramd" "${geo[@]}" --name r1 \
	> "$TEST_TMP/a3.log" 2>&1 && fail "a second volume named r1 was added"
grep -q "File exists" "$TEST_TMP/a3.log" || { cat "$TEST_TMP/a3.log"; fail "duplicate name: wrong error"; }

start_ramd ramd2 "${geo[@]}" --name r1 --recovery-ms 60000 --store "$store" --attach
[ "$DEV" = "$first" ] || fail "the new engine got $DEV, not $first"
sysfs_is "$first" state live && sysfs_is "$first" engine_pid "$(bg_pid ramd2)" ||
	fail "sysfs of $first does not show the new engine"
"$MEMX_TEST_BIN/memx_ramd" "${geo[@]}" --name r1 --attach \
	> "$TEST_TMP/a4.log" 2>&1 && fail "attach to a volume with a live engine succeeded"
grep -q "Device or resource busy" "$TEST_TMP/a4.log" || { cat "$TEST_TMP/a4.log"; fail "attach to a served volume: wrong error"; }
WAIT_S=120 wait_for exited "$FP" || fail "fio did not finish after the new engine attached"
wait "$FP"; rc=$?
grep -E "err=|IOPS" "$TEST_TMP/fio-r.out" | head -n 4
[ "$rc" = 0 ] || { cat "$TEST_TMP/fio-r.out"; fail "fio failed across the engine restart (exit $rc)"; }
log "fio wrote and verified 64 MiB across kill -9 of the engine and an attach"
RP=$(bg_pid ramd2)
cp "$TEST_TMP/ramd2.log" "$TEST_TMP/ramd.log"
kill -TERM "$RP"
WAIT_S=15 wait_for exited "$RP" || fail "the new engine did not stop"
WAIT_S=15 wait_for test ! -e "$first" || fail "$first still present after a clean stop"

# --- no engine comes back: EIO once the window ends -------------------------
start_ramd ramd3 --size 16M --name r2 --recovery-ms 3000 --slow-ms 1
second=$DEV
dd if=/dev/urandom of="$second" bs=4k count=16 oflag=direct status=none || fail "write before the kill"
kill -9 "$(bg_pid ramd3)"
WAIT_S=10 wait_for exited "$(bg_pid ramd3)" || fail "the engine did not die"
t0=$SECONDS
if dd if="$second" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
	fail "a read succeeded with no engine"
fi
waited=$((SECONDS - t0))
log "a read with no engine failed after ${waited}s (window 3 s)"
[ "$waited" -ge 1 ] || fail "the read failed at once: nothing was held"
[ "$waited" -le 20 ] || fail "the read was held ${waited}s, past the 3 s window"
WAIT_S=15 wait_for test ! -e "$second" || fail "$second still present after the window"
dmesg | grep -q "r2): no engine attached within 3000 ms" || fail "no log of the window ending"
