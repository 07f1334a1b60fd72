#!/usr/bin/env bash
# Fencing: two engines never serve one volume at a donor. The volume's next
# engine proves the volume's secret to donor d1 while the old engine still
# holds its connections there (a restart before d1 saw the old one die, or an
# old engine that was only stopped): d1 closes every connection of the old
# engine, data ones too, so its RDMA into the volume's memory is cut, and the
# new owner has the volume. Here the "next engine" is memx_attack with the
# secret from the state file the running engine keeps (root can read it, as
# the next engine does). The old engine sees d1 go and serves on from d2: the
# data reads back exactly. A peer with the cluster key but not the secret
# changes nothing, and so does one with the secret whose engine epoch is not
# newer than the volume's at d1 (an old engine that was only stopped, and woke
# up): only the next epoch fences. (Before fencing, d1 refused the new engine
# with "this volume already has a control connection here" and the old one
# kept d1; before epochs, any holder of the secret fenced the live engine.)
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod
ATTACK=$MEMX_TEST_BIN/memx_attack
KEY=/etc/memx/cluster.key

start_donor d1 "$IP2" 64M
start_donor d2 "$IP3" 64M
start_client vol --size 32M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3" \
	--recovery-timeout 60
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=16 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "write failed"

# The volume's id, secret and engine epoch, as state.c lays them out (after the
# 56-byte header start).
state=/run/memx/client-vol.state
read -r VOL SECRET EPOCH < <(python3 - "$state" <<'PY'
import struct, sys
h = open(sys.argv[1], "rb").read(96)
assert h[:7] == b"MEMXST1", h[:8]
print(h[56:72].hex(), h[72:88].hex(), struct.unpack("<Q", h[88:96])[0])
PY
) || fail "cannot read the volume's identity from $state"
[ "$EPOCH" = 1 ] || fail "a new volume's engine has epoch $EPOCH, not 1"

# Without the secret (the cluster key alone): refused, nothing happens.
"$ATTACK" steal-client --bind "$IP4" --donor "$IP2" --volume "$VOL" --key-file "$KEY" \
	--handles 0 > "$TEST_TMP/nosecret.out" 2>&1
rc=$?
[ "$rc" = 3 ] || { cat "$TEST_TMP/nosecret.out"; fail "a peer without the secret was not refused (exit $rc)"; }
grep -q "wrong volume secret" "$TEST_TMP/d1.log" || fail "d1 did not say why it refused"
[ "$(donor_state "$IP2")" = live ] || fail "a refused peer cost the engine its donor"

# With the secret but an engine epoch that is not newer: an engine that was
# only stopped and woke up (older epoch), or a second engine of the same
# epoch. Refused; the engine keeps d1.
"$ATTACK" steal-client --bind "$IP4" --donor "$IP2" --volume "$VOL" --key-file "$KEY" \
	--secret "$SECRET" --epoch $((EPOCH - 1)) --handles 0 > "$TEST_TMP/older.out" 2>&1
rc=$?
[ "$rc" = 3 ] || { cat "$TEST_TMP/older.out"; fail "an older engine epoch was not refused (exit $rc)"; }
grep -q "engine epoch is older than the volume's here" "$TEST_TMP/d1.log" || fail "d1 did not say why it refused an older epoch"
"$ATTACK" steal-client --bind "$IP4" --donor "$IP2" --volume "$VOL" --key-file "$KEY" \
	--secret "$SECRET" --epoch "$EPOCH" --handles 0 > "$TEST_TMP/same.out" 2>&1
rc=$?
[ "$rc" = 3 ] || { cat "$TEST_TMP/same.out"; fail "a second engine of the same epoch was not refused (exit $rc)"; }
grep -q "this engine epoch already has a control connection here" "$TEST_TMP/d1.log" ||
	fail "d1 did not say why it refused the same epoch"
sleep 2
[ "$(donor_state "$IP2")" = live ] || fail "a stale epoch cost the engine its donor"
log "an older and an equal engine epoch were refused; the engine keeps d1"

# With the secret and the next epoch: the new owner, and the old engine fenced at d1.
"$ATTACK" steal-client --bind "$IP4" --donor "$IP2" --volume "$VOL" --key-file "$KEY" \
	--secret "$SECRET" --epoch $((EPOCH + 1)) --handles 0 > "$TEST_TMP/successor.out" 2>&1
rc=$?
cat "$TEST_TMP/successor.out"
[ "$rc" = 0 ] || fail "d1 refused the engine that proved the volume's secret (exit $rc)"
grep -q "a new engine at $IP4:[0-9]* proved the volume's secret: closing the old engine's connections (fenced)" \
	"$TEST_TMP/d1.log" || fail "d1 did not fence the old engine"
grep -Eq "data connection from $IP1:[0-9]+ closed \(replaced by a new engine\)" "$TEST_TMP/d1.log" ||
	fail "d1 did not close the old engine's data connections"
d1_gone() { [ "$(donor_state "$IP2" 2>/dev/null)" != live ]; }
WAIT_S=30 wait_for d1_gone || fail "the old engine still uses d1 after it was fenced"
log "the old engine lost d1 ($(donor_state "$IP2")); it serves from d2"
dd if="$MEMX_DEV" of="$TEST_TMP/back" bs=1M count=16 iflag=direct status=none || fail "read back failed"
cmp -s "$TEST_TMP/pat" "$TEST_TMP/back" || fail "data changed"
stop_bg vol || fail "the engine did not stop cleanly"
