#!/usr/bin/env bash
# No peer can stall a donor. A program that starts a handshake with each of
# the two donors of a 2-replica volume and never finishes it (memx_stall)
# leaves both donors serving: fio keeps verifying, no donor is lost, no
# replica or slab is lost, and each donor drops the half-open connection at
# its deadline. (Before, each donor sat in accept for 10 s, the client's 5 s
# heartbeat declared it lost, and the donor freed every slab of the volume:
# with both stalled, every slab was lost.) Then a flood of handshakes from one
# address gets only DONOR_HALF_OPEN_PER_SOURCE (8) slots; the rest are refused
# at once, and a client from another address still gets in.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_client vol --size 128M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
fio_write_verify "$MEMX_DEV" 0 32M || fail "fio before the stall failed"

"$MEMX_TEST_BIN/memx_stall" --bind "$IP4" --server "$IP2" --hold 20 > "$TEST_TMP/s1.out" 2>&1 &
s1=$!
"$MEMX_TEST_BIN/memx_stall" --bind "$IP4" --server "$IP3" --hold 20 > "$TEST_TMP/s2.out" 2>&1 &
s2=$!
on_exit "kill $s1 $s2 2>/dev/null"
wait_for grep -q '^stalling 1' "$TEST_TMP/s1.out" || { cat "$TEST_TMP/s1.out"; fail "staller 1 did not start"; }
wait_for grep -q '^stalling 1' "$TEST_TMP/s2.out" || { cat "$TEST_TMP/s2.out"; fail "staller 2 did not start"; }
log "two handshakes left half-open, one per donor"
# 16 s of I/O across the donors' deadlines (10 s) and the client's heartbeats.
fio --name=stall --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite \
	--bs=4k --iodepth=16 --offset=32M --size=64M --time_based --runtime=16 \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --output="$TEST_TMP/fio-stall.out" ||
	{ cat "$TEST_TMP/fio-stall.out"; fail "fio failed while handshakes were stalled"; }
fio_verify_only "$MEMX_DEV" 0 32M || fail "data written before the stall did not verify"
wait $s1 $s2

! grep -q 'lost' "$TEST_TMP/vol.log" || { grep lost "$TEST_TMP/vol.log"; fail "the client lost a donor"; }
for d in d1 d2; do
	grep -q 'did not finish its handshake' "$TEST_TMP/$d.log" ||
		{ bg_log "$d"; fail "$d did not drop the half-open connection"; }
done
status_json > "$TEST_TMP/st.json"
python3 - "$TEST_TMP/st.json" <<'PY' || fail "state after the stall is wrong"
import json, sys
st = json.load(open(sys.argv[1]))
client = [x for x in st if x and x["role"] == "client"][0]
vol = client["volumes"][0]
assert vol["slabs_lost"] == 0 and vol["io"]["errors"] == 0, vol
assert vol["rereplication_backlog"] == 0, vol
assert all(d["state"] == "live" for d in client["donors"]), client["donors"]
PY

# A flood from one address: 8 half-open slots, the rest refused; others still get in.
"$MEMX_TEST_BIN/memx_stall" --bind "$IP4" --server "$IP2" --count 20 --hold 6 \
	> "$TEST_TMP/flood.out" 2>&1 &
flood=$!
wait_for grep -q '^stalling 20' "$TEST_TMP/flood.out" || { cat "$TEST_TMP/flood.out"; fail "flood did not start"; }
start_client other --size 16M --slab 4M --bind "$IP1" --donor "$IP2"
fio_write_verify "$MEMX_DEV" 0 8M || fail "a client from another address failed during the flood"
wait $flood
cat "$TEST_TMP/flood.out"
grep -q '^refused 12 of 20' "$TEST_TMP/flood.out" || fail "the flood was not capped at 8 half-open"
grep -q 'too many handshakes in progress from this address' "$TEST_TMP/d1.log" ||
	fail "the donor did not say why it refused"
stop_bg other || fail "the second client did not stop"
stop_bg vol || fail "the client did not stop"
