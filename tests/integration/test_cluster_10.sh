#!/usr/bin/env bash
# Donor slots are reused: a client's table holds 16 donors, and a cluster
# where donors come and go sees more arrivals than that over a volume's life.
# 18 donors arrive one after another (memxctl donor add) and die (kill -9);
# every arrival is taken, those past the 16th in slots of dead donors, and
# the last one, in a reused slot, takes replicas of new slabs that keep
# verifying after it dies too. (Before, the 15th arrival on top of two
# donors was refused: "No space left on device".)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 128M
start_donor d2 "$IP3" 128M
start_client vol --size 64M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
fio_write_verify "$MEMX_DEV" 0 16M || fail "fio before the arrivals failed"

t_is_dead() { [ "$(donor_state "$IP4" 2>/dev/null)" = dead ]; }
for i in $(seq 1 19); do
	# More memory than d1 and d2: placement (power of two choices on free memory) prefers it.
	start_donor "t$i" "$IP4" 256M --host T
	"$MEMXCTL" donor add "$IP4" --socket /run/memx/client-vol.sock > "$TEST_TMP/add.out" 2>&1 ||
		{ cat "$TEST_TMP/add.out"; fail "arrival $i was refused"; }
	[ "$i" = 19 ] && break
	kill -9 "$(bg_pid "t$i")"
	WAIT_S=30 wait_for t_is_dead || fail "the client did not notice arrival $i die"
done
log "19 arrivals taken; $(grep -c 'takes slot' "$TEST_TMP/vol.log") in reused slots"
[ "$(grep -c 'takes slot' "$TEST_TMP/vol.log")" -ge 3 ] || fail "no slot was reused"

fio_write_verify "$MEMX_DEV" 16M 32M || fail "fio with a donor in a reused slot failed"
on_t=$(donor_slabs "$IP4")
log "the donor in a reused slot holds $on_t slabs"
[ "$on_t" -gt 0 ] || fail "the donor in a reused slot got no slabs"
kill -9 "$(bg_pid t19)"
WAIT_S=30 wait_for t_is_dead || fail "the client did not notice the last arrival die"
fio_verify_only "$MEMX_DEV" 0 48M || fail "data did not survive the last arrival's death"
status_json > "$TEST_TMP/st.json"
python3 - "$TEST_TMP/st.json" <<'PY' || fail "state after the arrivals is wrong"
import json, sys
st = json.load(open(sys.argv[1]))
vol = [x for x in st if x and x["role"] == "client"][0]
v = vol["volumes"][0]
assert v["slabs_lost"] == 0 and v["io"]["errors"] == 0, v
assert len(vol["donors"]) <= 16, len(vol["donors"])
PY
stop_bg vol || fail "client did not stop"
