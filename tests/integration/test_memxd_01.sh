#!/usr/bin/env bash
# End to end: a volume spread over two donors passes fio verification
# (random 4 KiB and 64 KiB writes, then verified reads, several jobs at QD32),
# memxctl reports it, and SIGTERM removes it cleanly.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_client vol --size 256M --slab 4M --queues 2 --depth 32 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3"
log "volume $MEMX_DEV ready"

fio_verify "$MEMX_DEV" --rw=randwrite --bs=4k --iodepth=32 --numjobs=2 --size=32M \
	--offset_increment=64M || fail "fio 4k verify failed"
fio_verify "$MEMX_DEV" --rw=randwrite --bs=64k --iodepth=32 --numjobs=2 --size=32M \
	--offset=128M --offset_increment=64M || fail "fio 64k verify failed"

"$MEMXCTL" status || fail "memxctl status failed"
"$MEMXCTL" status --json > "$TEST_TMP/status.json" || fail "memxctl status --json failed"
python3 - "$TEST_TMP/status.json" <<'PY' || fail "status JSON is wrong"
import json, sys
everyone = json.load(open(sys.argv[1]))
client = [s for s in everyone if s and s["role"] == "client"][0]
vol = client["volumes"][0]
assert vol["slabs_mapped"] > 0, vol
assert vol["io"]["writes"] > 0 and vol["io"]["reads"] > 0, vol
assert vol["io"]["errors"] == 0, vol
donors = client["donors"]
assert len(donors) == 2 and all(d["state"] == "live" for d in donors), donors
# Both donors got slabs (power of two choices over equal donors).
assert all(d["slabs"] > 0 for d in donors), donors
assert vol["replicas"] == 2, vol  # the default with two donors
assert sum(d["slabs"] for d in donors) == vol["replicas"] * vol["slabs_mapped"], (donors, vol)
donor_side = [s for s in everyone if s and s["role"] == "donor"]
assert len(donor_side) == 2, donor_side
PY

stop_bg vol || { bg_log vol; fail "client did not exit cleanly on SIGTERM"; }
[ ! -b "$MEMX_DEV" ] || fail "$MEMX_DEV still exists after the client stopped"
bg_log vol | tail -n 5
