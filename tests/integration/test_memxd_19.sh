#!/usr/bin/env bash
# Engine restart in place: kill -9 of `memxd client` during a verified fio
# (QD32, mixed sizes, 2 replicas, then 1), then the same command again: it takes the
# volume over (same /dev/memxN, "ready" again), the donors kept its memory under
# their lease, and fio ends with zero errors and every block verified. A clean
# stop then gives the grants back at once. While no engine serves it, memxctl
# list and status count the requests memx.ko holds (from memx.ko alone). The
# 1-replica engine takes over from a state file rewritten to the format before
# same-filled marks (migrated in place). An engine that never comes back:
# I/O fails with EIO after --recovery-timeout, the volume goes, and the donors
# free its memory when the lease ends.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
args=(--size 64M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
	--recovery-timeout 60)
start_client vol "${args[@]}"
first=$MEMX_DEV
start_bg fio fio --name=r --filename="$first" --direct=1 --ioengine=libaio --rw=randwrite \
	--bsrange=4k-128k --iodepth=32 --size=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-r.out"
FP=$(bg_pid fio)
sleep 3
exited "$FP" && { cat "$TEST_TMP/fio-r.out"; fail "fio ended before the kill"; }
kill -9 "$(bg_pid vol)" || fail "kill -9 the engine"
orphaned() { dmesg | grep -q "(vol): engine gone; holding"; }
WAIT_S=10 wait_for orphaned || { dmesg | tail; fail "memx.ko did not keep the volume for a new engine"; }
dmesg | grep "engine gone; holding" | tail -n 1
kept() { grep -q "keeping its .* slabs for 60 s (lease)" "$TEST_TMP/d1.log"; }
WAIT_S=10 wait_for kept || fail "donor d1 did not keep the volume's slabs under a lease"
"$MEMXCTL" list | tee "$TEST_TMP/list.txt"
grep -Eq "^$first +vol .*recovering \(no engine: [0-9]+ s left" "$TEST_TMP/list.txt" ||
	fail "memxctl list does not show the volume waiting for an engine"
"$MEMXCTL" list --json | python3 -c '
import json, sys
v = [x for x in json.load(sys.stdin) if x["name"] == "vol"][0]
assert v["state"] == "recovering" and 0 < v["recovery_left_ms"] <= 60000, v
assert 1 <= v["held_requests"] <= 32, v' ||
	fail "memxctl list --json does not show the volume waiting with fio's requests held"
# fio's requests (QD32) wait in memx.ko: list and status count them, from memx.ko alone.
grep -Eq "^$first +vol .*recovering \(no engine: [0-9]+ s left for one to take over, [1-9][0-9]* request\(s\) held\)" \
	"$TEST_TMP/list.txt" || fail "memxctl list does not count the held requests"
"$MEMXCTL" status > "$TEST_TMP/status-dead.txt" 2>&1
grep "^memx.ko: volume vol " "$TEST_TMP/status-dead.txt"
grep -Eq "^memx.ko: volume vol \($first\) is recovering \(no engine: [0-9]+ s left for one to take over, [1-9][0-9]* request\(s\) held\)" \
	"$TEST_TMP/status-dead.txt" || fail "memxctl status does not show the waiting volume and its held requests"
t0=$(date +%s.%N)
start_client vol "${args[@]}"
t1=$(date +%s.%N)
[ "$MEMX_DEV" = "$first" ] || fail "the new engine serves $MEMX_DEV, not $first"
grep -q "taking over $first" "$TEST_TMP/vol.log" || fail "the new engine did not say it took over"
grep -q "its engine is back" "$TEST_TMP/d1.log" || fail "donor d1 did not see the engine come back"
"$MEMXCTL" list | grep -Eq "^$first +vol .* live," || fail "memxctl list does not show the volume live again"
[ "$(status_get '[x["volumes"][0]["resumed"] for x in s if x and x["role"]=="client"][0]')" = True ] ||
	fail "status does not say the engine took the volume over"
[ "$(status_get '[x["volumes"][0]["epoch"] for x in s if x and x["role"]=="client"][0]')" = 2 ] ||
	fail "the engine that took over does not have the next epoch (2)"
log "new engine ready $(python3 -c "print(round($t1 - $t0, 1))") s after it was started"
WAIT_S=180 wait_for exited "$FP" || fail "fio did not finish after the new engine took over"
wait "$FP"; rc=$?
grep -E "err=|IOPS" "$TEST_TMP/fio-r.out" | head -n 4
[ "$rc" = 0 ] || { cat "$TEST_TMP/fio-r.out"; fail "fio failed across the engine restart (exit $rc)"; }
log "fio wrote and verified 64 MiB across kill -9 of the engine"
stop_bg vol || fail "the new engine did not stop cleanly"
grep -Eq "gave back [1-9][0-9]* grant" "$TEST_TMP/vol.log" || { tail "$TEST_TMP/vol.log"; fail "a clean stop did not give the grants back"; }
for d in d1 d2; do
	grep -Eq "released by its engine: freed its [1-9][0-9]* slabs" "$TEST_TMP/$d.log" ||
		fail "donor $d was not released at the clean stop"
done
[ ! -e /run/memx/client-vol.state ] || fail "a clean stop left its state file"

# --- the same with one replica (every slab on one donor) ---------------------
one=(--size 32M --slab 4M --replicas 1 --bind "$IP1" --donor "$IP2" --donor "$IP3"
	--recovery-timeout 60)
start_client one "${one[@]}"
start_bg fio1 fio --name=r1 --filename="$MEMX_DEV" --direct=1 --ioengine=libaio --rw=randwrite \
	--bsrange=4k-128k --iodepth=32 --size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-1.out"
sleep 2
exited "$(bg_pid fio1)" && { cat "$TEST_TMP/fio-1.out"; fail "fio (1 replica) ended before the kill"; }
kill -9 "$(bg_pid one)"
WAIT_S=10 wait_for exited "$(bg_pid one)" || fail "the 1-replica engine did not die"
# An upgrade across a state format: the file as a memxd before same-filled
# marks (state format 1) would have left it: no format field, nothing after
# the checksums. The new engine migrates it in place and takes the volume over.
python3 - /run/memx/client-one.state <<'PY' || fail "could not rewrite the state file to format 1"
import struct, sys
path = sys.argv[1]
with open(path, "r+b") as f:
    hdr = bytearray(f.read(4096))
    # format 2, 4 sections, the first (the slab map) on the second page
    at = [i for i in range(0, 4096 - 72, 8) if struct.unpack_from("<IIQ", hdr, i) == (2, 4, 4096)]
    assert len(at) == 1, at
    sec = [struct.unpack_from("<QQ", hdr, at[0] + 8 + 16 * k) for k in range(4)]
    f.seek(sec[2][0])
    assert not any(f.read(sec[2][1])), "same-filled marks, which format 1 cannot hold"
    hdr[at[0]:at[0] + 72] = bytes(72)
    f.seek(0)
    f.write(hdr)
    f.truncate(sec[2][0])    # format 1 ends where the same-filled marks begin
PY
start_client one "${one[@]}"
grep -q "is of state format 1 (no format field): now format 2 in place" "$TEST_TMP/one.log" ||
	fail "the new engine did not say it migrated the format-1 state file"
grep -q "taking over" "$TEST_TMP/one.log" || fail "the new engine did not take the format-1 volume over"
WAIT_S=180 wait_for exited "$(bg_pid fio1)" || fail "fio (1 replica) did not finish"
wait "$(bg_pid fio1)" || { cat "$TEST_TMP/fio-1.out"; fail "fio (1 replica) failed across the restart"; }
log "1 replica: fio wrote and verified 32 MiB across kill -9 of the engine and a state file rewritten to format 1"
stop_bg one || fail "the 1-replica engine did not stop cleanly"

# --- an engine that never comes back ---------------------------------------
start_client gone --size 16M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3" \
	--recovery-timeout 3
dev=$MEMX_DEV
dd if=/dev/urandom of="$dev" bs=1M count=8 oflag=direct status=none || fail "write before the kill"
kill -9 "$(bg_pid gone)"
WAIT_S=10 wait_for exited "$(bg_pid gone)" || fail "the engine did not die"
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null \
	&& fail "a read succeeded with no engine"
WAIT_S=15 wait_for test ! -e "$dev" || fail "$dev still present after the window"
freed() { grep -q "lease ended without its engine: freeing its [1-9]" "$TEST_TMP/d1.log"; }
WAIT_S=15 wait_for freed || fail "donor d1 did not free the volume when its lease ended"
log "without an engine: EIO after the window, the volume removed, the lease ended on the donors"
