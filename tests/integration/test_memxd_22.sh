#!/usr/bin/env bash
# Detach and attach elsewhere (MemX's migration): a volume written by one
# engine (from 10.77.0.1) is handed off with `memxctl volume detach` (refused
# while the device is open): its device goes, the engine leaves without giving
# the grants back, seals its state and leaves a copy on each donor, and the
# donors keep all of it under the lease. Another engine, from another address
# (10.77.0.4), started with --attach and NO state file (it is moved away),
# rebuilds the file from the donors' sealed copies and serves the volume: a
# 256 MiB fio pattern reads back exact. The engines seal with a state key
# (--state-key 2) that only the clients' key file holds: the donors hold the
# cluster key alone. Before the attach, a peer with the cluster key, as a
# donor is (memx_attack state-forge), leaves on d1 a copy properly sealed
# under the cluster key, claiming a newer epoch (generation 99.1), under the volume's tag: the
# donor cannot tell, engine b must refuse it by name and take d2's copy. --attach with nothing to attach
# (no state file and none on the donors, another size) fails with a clear
# error and leaves the state file alone; a clean stop afterwards gives the
# grants back. Then back to the first address, whose own state file is now
# stale (epoch 1): the donors' newer copy (epoch 2) replaces it. (A state's
# generation is its engine's epoch and a count: 1.N, 2.N.)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 512M
start_donor d2 "$IP3" 512M
# The clients' keys: the cluster key (it connects), then a state key the donors lack.
"$MEMXCTL" keygen "$TEST_TMP/state.key" --id 2 > /dev/null || fail "memxctl keygen failed"
(umask 077; cat "$MEMX_KEY" "$TEST_TMP/state.key" > "$TEST_TMP/client.key")
keys=(--key-file "$TEST_TMP/client.key" --state-key 2)
common=(--name mig --size 256M --slab 4M --replicas 2 --donor "$IP2" --donor "$IP3"
	--recovery-timeout 60 "${keys[@]}")
start_bg a "$MEMXD" client "${common[@]}" --bind "$IP1"
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/a.log" || { bg_log a; fail "engine a did not become ready"; }
dev=$(sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/a.log")
job=(--name=mig --direct=1 --ioengine=libaio --rw=write --bs=128k --iodepth=16 --size=256M
	--verify=crc32c --verify_fatal=1)
fio "${job[@]}" --filename="$dev" --do_verify=0 --output="$TEST_TMP/fio-w.out" ||
	{ cat "$TEST_TMP/fio-w.out"; fail "writing the pattern failed"; }

exec 3<"$dev"
"$MEMXCTL" volume detach mig > "$TEST_TMP/detach-busy.txt" 2>&1 && fail "detach succeeded while the device was open"
grep -q "in use" "$TEST_TMP/detach-busy.txt" || { cat "$TEST_TMP/detach-busy.txt"; fail "detach of an open device did not say it is in use"; }
exec 3<&-
"$MEMXCTL" volume detach mig | tee "$TEST_TMP/detach.txt" || fail "memxctl volume detach failed"
grep -q "^detached volume mig" "$TEST_TMP/detach.txt" || fail "detach did not say so"
WAIT_S=15 wait_for exited "$(bg_pid a)" || fail "engine a did not leave after the detach"
wait "$(bg_pid a)" || fail "engine a exited non-zero after a detach"
[ -e "$dev" ] && fail "$dev is still there after the detach"
grep -Eq "gave back [0-9]+ grant" "$TEST_TMP/a.log" && fail "the detached engine gave its grants back"
[ -e /run/memx/client-mig.state ] || fail "the detach removed the state file"
grep -q "on any host with the cluster key (its sealed state is on the donors)" "$TEST_TMP/detach.txt" ||
	{ cat "$TEST_TMP/detach.txt"; fail "the detach did not leave the state on the donors"; }
grep -Eq "detached: sealed state of generation 1\.[0-9]+ .* left on 2 of 2 donor" "$TEST_TMP/a.log" ||
	{ grep sealed "$TEST_TMP/a.log"; fail "engine a did not leave its sealed state on both donors"; }
for d in d1 d2; do
	WAIT_S=10 wait_for grep -q "keeping its .* slabs for 60 s (lease)" "$TEST_TMP/$d.log" ||
		fail "donor $d did not keep the volume under its lease"
	grep -Eq "keeping its sealed state of generation 1\.[0-9]+" "$TEST_TMP/$d.log" ||
		fail "donor $d did not keep the sealed state"
done
log "detached: device gone, the donors keep the data and the sealed state (lease 60 s)"
log "a: $(grep -o 'detached: sealed state of generation .*' "$TEST_TMP/a.log")"

# Nothing to attach: clear errors, and the state file stays.
"$MEMXD" client --name other --size 256M --slab 4M --donor "$IP2" --attach --bind "$IP4" "${keys[@]}" \
	> "$TEST_TMP/attach-none.log" 2>&1 && fail "--attach of a volume with no state file succeeded"
grep -q "no /run/memx/client-other.state and the donors had none either" "$TEST_TMP/attach-none.log" || { cat "$TEST_TMP/attach-none.log"; fail "--attach without a state file did not say why"; }
# Without --state-key no state is asked of the donors (the key that connects is one they hold).
"$MEMXD" client --name other --size 256M --slab 4M --donor "$IP2" --attach --bind "$IP4" \
	--key-file "$TEST_TMP/client.key" --recovery-timeout 60 > "$TEST_TMP/attach-nokey.log" 2>&1 &&
	fail "--attach with no state file and no --state-key succeeded"
grep -q "without --state-key the donors keep no state" "$TEST_TMP/attach-nokey.log" ||
	{ cat "$TEST_TMP/attach-nokey.log"; fail "--attach without --state-key did not say why"; }
"$MEMXD" client --name mig --size 128M --slab 4M --donor "$IP2" --attach --bind "$IP4" "${keys[@]}" \
	> "$TEST_TMP/attach-size.log" 2>&1 && fail "--attach with another size succeeded"
grep -q "another size" "$TEST_TMP/attach-size.log" || { cat "$TEST_TMP/attach-size.log"; fail "--attach with another size did not say why"; }
[ -e /run/memx/client-mig.state ] || fail "a refused --attach removed the state file"

# The other host has no state file: it comes from the donors. d1 also keeps
# a forged copy (sealed under the cluster key, claiming epoch 99), which it
# hands out first: it claims to be the newest.
mv /run/memx/client-mig.state "$TEST_TMP/client-mig.state.a"
"$MEMX_TEST_BIN/memx_attack" state-forge --bind "$IP1" --donor "$IP2" --key-file "$MEMX_KEY" \
	--state-key-file "$TEST_TMP/state.key" --name mig --epoch 99 > "$TEST_TMP/forge.txt" 2>&1 ||
	{ cat "$TEST_TMP/forge.txt"; fail "memx_attack could not leave a forged state on d1"; }
grep -q "keeping its sealed state of generation 99.1" "$TEST_TMP/d1.log" || fail "d1 did not keep the forged state"
start_bg b "$MEMXD" client "${common[@]}" --bind "$IP4" --attach
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/b.log" || { bg_log b; fail "engine b did not attach"; }
grep -q "donor $IP2:7471 handed out a state copy that is not sealed under our state key: refused" "$TEST_TMP/b.log" ||
	{ grep -i "state" "$TEST_TMP/b.log"; fail "engine b did not refuse d1's forged copy by name"; }
grep -Eq "state file rebuilt from the sealed state of generation 1\.[0-9]+ on donor $IP3:7471 \(2 of 2 donor\(s\) had one, 1 refused\)" "$TEST_TMP/b.log" ||
	{ grep -i "state" "$TEST_TMP/b.log"; fail "engine b did not rebuild the state file from d2's real copy"; }
log "b: $(grep -o 'state file rebuilt .*' "$TEST_TMP/b.log")"
for d in d1 d2; do
	WAIT_S=5 wait_for grep -Eq "dropping its sealed state of generation 1\.[0-9]+ \(stale now\)" "$TEST_TMP/$d.log" ||
		fail "donor $d kept the sealed state after the volume's new engine proved its secret"
done
dev=$(sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/b.log")
grep -q "attaching the detached volume" "$TEST_TMP/b.log" || fail "engine b did not say it attached"
grep -q "its engine is back" "$TEST_TMP/d1.log" || fail "donor d1 did not give the volume back to engine b"
fio "${job[@]}" --filename="$dev" --verify_only --output="$TEST_TMP/fio-v.out" ||
	{ cat "$TEST_TMP/fio-v.out"; fail "the pattern did not read back exact after the attach"; }
log "attached from $IP4: 256 MiB read back exact"

# And back: b detaches (epoch 2); the first host still has its own older file
# (epoch 1), which must lose to the donors' newer copy.
"$MEMXCTL" volume detach mig > "$TEST_TMP/detach-b.txt" 2>&1 || { cat "$TEST_TMP/detach-b.txt"; fail "detach of b failed"; }
WAIT_S=15 wait_for exited "$(bg_pid b)" || fail "engine b did not leave after the detach"
grep -Eq "detached: sealed state of generation 2\.[0-9]+ .* left on 2 of 2 donor" "$TEST_TMP/b.log" || fail "engine b did not leave its state on both donors"
mv /run/memx/client-mig.state "$TEST_TMP/client-mig.state.b"
cp "$TEST_TMP/client-mig.state.a" /run/memx/client-mig.state
start_bg c "$MEMXD" client "${common[@]}" --bind "$IP1" --attach
WAIT_S=60 wait_for grep -q '^ready /dev/memx' "$TEST_TMP/c.log" || { bg_log c; fail "engine c did not attach"; }
dev=$(sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/c.log")
grep -Eq "state file replaced \(it was older\) from the sealed state of generation 2\.[0-9]+" "$TEST_TMP/c.log" ||
	{ grep -i "state" "$TEST_TMP/c.log"; fail "engine c took the volume over from the stale file"; }
fio "${job[@]}" --filename="$dev" --verify_only --io_size=32M --output="$TEST_TMP/fio-c.out" ||
	{ cat "$TEST_TMP/fio-c.out"; fail "the pattern did not read back exact after the attach back"; }
log "attached back at $IP1 over its stale file: the first 32 MiB read back exact"
stop_bg c || fail "engine c did not stop cleanly"
grep -Eq "gave back [1-9][0-9]* grant" "$TEST_TMP/c.log" || fail "a clean stop after the attach did not give the grants back"
[ ! -e /run/memx/client-mig.state ] || fail "a clean stop left the state file"
log "passed"
