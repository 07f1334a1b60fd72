#!/usr/bin/env bash
# Donor memory pressure: a donor whose low watermark is above the memory its
# machine has available asks the client to move slabs away; they move to the
# other donors and verification passes.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_donor d3 "$IP4" 256M
start_client vol --size 128M --slab 4M --replicas 1 --rereplicate-rate 256M --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4"
fio_write_verify "$MEMX_DEV" 0 64M || fail "initial verify"
before=$(donor_slabs "$IP4")
log "donor 3 holds $before slabs"
[ "$before" -gt 1 ] || fail "donor 3 holds too little to test with"

# A fourth donor simulates pressure: its watermark is far above what is available.
avail=$(awk '/MemAvailable/ { printf "%d", $2 * 1024 }' /proc/meminfo)
start_donor d4 "$IP5" 256M --low-watermark $((avail * 4))
"$MEMXCTL" donor add "$IP5" || fail "memxctl donor add"
fio_write_verify "$MEMX_DEV" 64M 32M || fail "verify while the pressured donor takes slabs"
WAIT_S=60 wait_for grep -q 'memory pressure' "$TEST_TMP/d4.log" || fail "donor 4 never felt pressure"
WAIT_S=120 wait_for status_is 'sum(d["slabs"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$IP5"':"))' 0 \
	|| { "$MEMXCTL" status; fail "slabs did not move off the pressured donor"; }
grep -q 'short of memory' "$TEST_TMP/vol.log" || fail "client did not log the request"
fio_verify_only "$MEMX_DEV" 0 96M || fail "verify after the slabs moved"
"$MEMXCTL" status
stop_bg vol || fail "client did not stop"
