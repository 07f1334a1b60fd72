#!/usr/bin/env bash
# A host that dies leaves its volume to be attached from the donors alone,
# when the volume was at rest (rest.c). Engine a (10.77.0.1, --rest-after 1,
# state key 2) writes a 32 MiB fio pattern, then zeros over its second 8 MiB:
# same-filled blocks, recorded in the engine only, so the donors still hold
# the pattern there. After 1 s without a write the volume rests: its sealed
# state is left on both donors. Then the host "dies": kill -9 of the engine
# and its state file gone (/run is lost with a host). Engine b, from another
# address with --attach and no state file, rebuilds it from the donors: the
# pattern reads back exact and the zeros read back as zeros (a map rebuilt
# from the donors' bytes would return the old pattern there: stale data).
# b writes 4 MiB more (the first write waits while the donors drop the state)
# and dies at once, before it rests: c, with --attach and no file, must
# refuse (the donors say the volume changed after their last state) rather
# than serve stale data; with b's state file back, c takes it over and every
# block reads back.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
"$MEMXCTL" keygen "$TEST_TMP/state.key" --id 2 > /dev/null || fail "memxctl keygen failed"
(umask 077; cat "$MEMX_KEY" "$TEST_TMP/state.key" > "$TEST_TMP/client.key")
common=(--name rest --size 64M --slab 4M --replicas 2 --donor "$IP2" --donor "$IP3"
	--recovery-timeout 60 --key-file "$TEST_TMP/client.key" --state-key 2 --rest-after 1)
state=/run/memx/client-rest.state
rest_state() { status_get '[x["volumes"][0]["rest"]["state"] for x in s if x and x["role"]=="client"][0]'; }
at_rest() { [ "$(rest_state 2>/dev/null)" = at_rest ]; }	# for wait_for: asked again at each try
ready_dev() { sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/$1.log"; }
job=(--name=rest --direct=1 --ioengine=libaio --rw=write --bs=64k --iodepth=16
	--verify=crc32c --verify_fatal=1)
zeros_read_back() {
	cmp -s <(dd if="$1" bs=1M skip=8 count=8 iflag=direct status=none) <(head -c 8M /dev/zero)
}

start_bg a "$MEMXD" client "${common[@]}" --bind "$IP1"
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/a.log" || { bg_log a; fail "engine a did not become ready"; }
dev=$(ready_dev a)
fio "${job[@]}" --filename="$dev" --size=16M --do_verify=0 --output="$TEST_TMP/fio-w1.out" ||
	{ cat "$TEST_TMP/fio-w1.out"; fail "writing the pattern failed"; }
dd if=/dev/zero of="$dev" bs=1M seek=8 count=8 oflag=direct status=none || fail "writing zeros failed"
fio "${job[@]}" --filename="$dev" --offset=16M --size=16M --do_verify=0 --output="$TEST_TMP/fio-w3.out" ||
	{ cat "$TEST_TMP/fio-w3.out"; fail "writing the pattern failed"; }
zeros_read_back "$dev" || fail "engine a: the zeros did not read back"
[ "$(status_get '[x["volumes"][0]["same_filled_blocks"] for x in s if x and x["role"]=="client"][0]')" -ge 2048 ] ||
	fail "the zeros were not recorded as same-filled blocks (the test needs them)"
WAIT_S=20 wait_for at_rest || { "$MEMXCTL" status; fail "the volume did not come to rest"; }
grep -Eq "at rest: sealed state of generation 1\.[0-9]+ .* left on 2 of 2 donor" "$TEST_TMP/a.log" ||
	{ grep -i "rest" "$TEST_TMP/a.log"; fail "engine a did not leave its state on both donors at rest"; }
"$MEMXCTL" status | grep -q "at rest: yes" || fail "memxctl status does not say the volume is at rest"
log "a at rest: $(grep -o 'at rest: sealed state of generation .*' "$TEST_TMP/a.log" | tail -n 1)"

# The host dies: the engine and its /run with it.
kill -9 "$(bg_pid a)" || fail "kill -9 engine a"
WAIT_S=10 wait_for exited "$(bg_pid a)" || fail "engine a did not die"
rm -f "$state"
start_bg b "$MEMXD" client "${common[@]}" --bind "$IP4" --attach
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/b.log" || { bg_log b; fail "engine b did not attach from the donors"; }
grep -Eq "state file rebuilt from the sealed state of generation 1\.[0-9]+ on donor" "$TEST_TMP/b.log" ||
	{ grep -i "state" "$TEST_TMP/b.log"; fail "engine b did not rebuild the state file from the donors"; }
dev=$(ready_dev b)
fio "${job[@]}" --filename="$dev" --size=8M --verify_only --output="$TEST_TMP/fio-v1.out" ||
	{ cat "$TEST_TMP/fio-v1.out"; fail "the pattern did not read back after the host died at rest"; }
fio "${job[@]}" --filename="$dev" --offset=16M --size=16M --verify_only --output="$TEST_TMP/fio-v3.out" ||
	{ cat "$TEST_TMP/fio-v3.out"; fail "the pattern did not read back after the host died at rest"; }
zeros_read_back "$dev" || fail "the zeros written at rest read back as something else (stale data from the donors)"
log "host died at rest: b attached from $IP4 with no state file: 24 MiB of pattern and 8 MiB of zeros read back exact"

# A write ends the rest: the donors drop the state first. b dies before it
# rests again: the donors keep no copy, and the generation they dropped tells
# an attach that the volume changed after it.
WAIT_S=20 wait_for at_rest || fail "engine b's volume did not come to rest"
fio "${job[@]}" --filename="$dev" --offset=32M --size=4M --do_verify=0 --output="$TEST_TMP/fio-w4.out" ||
	{ cat "$TEST_TMP/fio-w4.out"; fail "writing after the rest failed"; }
grep -Eq "no longer at rest \(a write came\): its state of generation 2\.[0-9]+ dropped on 2 donor\(s\) in" "$TEST_TMP/b.log" ||
	{ grep -iE "rest" "$TEST_TMP/b.log"; fail "the first write did not drop the state on both donors first"; }
kill -9 "$(bg_pid b)" || fail "kill -9 engine b"
WAIT_S=10 wait_for exited "$(bg_pid b)" || fail "engine b did not die"
mv "$state" "$TEST_TMP/client-rest.state.b"
"$MEMXD" client "${common[@]}" --bind "$IP1" --attach > "$TEST_TMP/attach-stale.log" 2>&1 &&
	fail "--attach from the donors succeeded after the volume changed since its last rest"
grep -q "the last one was dropped because the volume changed after it: only its state file can attach it" "$TEST_TMP/attach-stale.log" ||
	{ cat "$TEST_TMP/attach-stale.log"; fail "--attach after a change did not say why it refused"; }
log "b wrote and died before resting: --attach from the donors refused (their floor: generation $(grep -o 'state of generation 2\.[0-9]* dropped' "$TEST_TMP/b.log" | tail -n 1 | cut -d' ' -f4))"
mv "$TEST_TMP/client-rest.state.b" "$state"
start_bg c "$MEMXD" client "${common[@]}" --bind "$IP1" --attach
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/c.log" || { bg_log c; fail "engine c did not take over with the state file"; }
dev=$(ready_dev c)
fio "${job[@]}" --filename="$dev" --offset=32M --size=4M --verify_only --output="$TEST_TMP/fio-v4.out" ||
	{ cat "$TEST_TMP/fio-v4.out"; fail "b's last write did not read back"; }
fio "${job[@]}" --filename="$dev" --size=8M --verify_only --output="$TEST_TMP/fio-v5.out" ||
	{ cat "$TEST_TMP/fio-v5.out"; fail "the pattern did not read back"; }
zeros_read_back "$dev" || fail "the zeros did not read back after the take-over"
stop_bg c || fail "engine c did not stop cleanly"
log "passed"
