#!/usr/bin/env bash
# Replication and failover: three donors, two replicas per slab. kill -9 of one
# donor while fio writes and verifies: zero I/O errors, zero verify failures,
# and re-replication (pipelined, under those writes) brings every slab back to
# two live replicas. Every copy is then read back whole: the scrub checks each
# block of every replica against the CRC32C of what was last written there,
# and finds none bad (reads alone would look at one replica of each slab).
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_donor d3 "$IP4" 256M
start_client vol --size 128M --slab 4M --replicas 2 --scrub-rate 64M --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4"

fio --name=failover --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite \
	--bs=4k --iodepth=16 --numjobs=2 --size=48M --offset_increment=64M \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
	--output="$TEST_TMP/fio.out" &
fio_pid=$!
# Kill it once it holds slabs (not after a fixed time: on a loaded host fio may
# not have written anything yet, and then there would be nothing to recover).
d2_holds_slabs() { [ "$(donor_slabs "$IP3" 2>/dev/null || echo 0)" -gt 2 ]; }
WAIT_S=120 wait_for d2_holds_slabs || fail "donor 2 got no slabs"
kill -9 "$(bg_pid d2)"
log "killed donor 2 during the run"
timeout 300 tail --pid=$fio_pid -f /dev/null || fail "fio hung"
wait $fio_pid || { cat "$TEST_TMP/fio.out"; fail "fio saw errors or verify failures after the kill"; }
grep -E 'err= *0' "$TEST_TMP/fio.out" | head -n 2

WAIT_S=120 wait_for status_is '[x["volumes"][0]["rereplication_backlog"] for x in s if x and x["role"]=="client"][0]' 0 \
	|| { "$MEMXCTL" status; fail "re-replication backlog did not drain"; }
"$MEMXCTL" status
status_json > "$TEST_TMP/st.json"
"$MEMXCTL" status --json --slabs --socket /run/memx/client-vol.sock > "$TEST_TMP/slabs.json"
python3 - "$TEST_TMP/st.json" "$TEST_TMP/slabs.json" <<'PY' || fail "state after recovery is wrong"
import json, sys
st = json.load(open(sys.argv[1]))
client = [x for x in st if x and x["role"] == "client"][0]
vol = client["volumes"][0]
assert vol["io"]["errors"] == 0, vol
assert vol["slabs_lost"] == 0, vol
assert vol["slabs_rereplicated"] > 0, vol
states = {d["address"].split(":")[0]: d["state"] for d in client["donors"]}
assert states["10.77.0.3"] == "dead", states
slabs = json.load(open(sys.argv[2]))["slabs"]
for s in slabs:
    assert len(s["replicas"]) == 2, s
    assert len(set(s["replicas"])) == 2, s        # never two replicas on one donor
    assert not any(r.startswith("10.77.0.3:") for r in s["replicas"]), s
print("%d slabs, each on two live donors; %d re-replicated" % (len(slabs), vol["slabs_rereplicated"]))
PY
scrub_get() { status_get '[x["volumes"][0]["scrub"]["'"$1"'"] for x in s if x and x["role"]=="client"][0]'; }
# Two more passes: one whole pass begun after the repair ended.
passes=$(scrub_get passes)
scrubbed() { [ "$(scrub_get passes 2>/dev/null || echo 0)" -ge $((passes + 2)) ]; }
WAIT_S=240 wait_for scrubbed || { "$MEMXCTL" status; fail "the scrub did not pass over the copies"; }
[ "$(scrub_get bad_blocks)" = 0 ] ||
	{ "$MEMXCTL" status; fail "the scrub found $(scrub_get bad_blocks) bad blocks after re-replication"; }
log "scrub: $(scrub_get passes) passes, $(scrub_get bytes) bytes read back, no bad block"
# The data is still all there: verify again, reading only.
fio --name=failover --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite \
	--bs=4k --iodepth=16 --numjobs=2 --size=48M --offset_increment=64M \
	--verify=crc32c --verify_fatal=1 --verify_only --group_reporting \
	--output="$TEST_TMP/fio2.out" || { cat "$TEST_TMP/fio2.out"; fail "verify after re-replication failed"; }
stop_bg vol || fail "client did not stop"
