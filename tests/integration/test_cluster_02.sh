#!/usr/bin/env bash
# Join: a donor started with --join reaches a running client (memxd client
# --listen) mid-run and receives new slabs; `memxctl donor add` does the same
# from the client's side. Data written before and after verifies.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 128M
start_donor d2 "$IP3" 128M
# 256M at 2 replicas is more than d1 and d2 hold: the rest comes with the donors
# that join (--overcommit).
start_client vol --size 256M --slab 4M --replicas 2 --bind "$IP1" --listen "$IP1" \
	--donor "$IP2" --donor "$IP3" --overcommit
fio_write_verify "$MEMX_DEV" 0 32M || fail "verify before the join"

start_donor d3 "$IP4" 256M --join "$IP1"
WAIT_S=30 wait_for status_is '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"]=="'"$IP4"':7471"]' "['live']" \
	|| { "$MEMXCTL" status; fail "the joining donor did not become live"; }
grep -q 'joined client' "$TEST_TMP/d3.log" || fail "donor did not report the join"
fio_write_verify "$MEMX_DEV" 64M 64M || fail "verify after the join"
n3=$(donor_slabs "$IP4")
log "the joined donor holds $n3 slabs"
[ "$n3" -gt 0 ] || fail "the joined donor received no slabs"

start_donor d4 "$IP5" 256M
"$MEMXCTL" donor add "$IP5" || fail "memxctl donor add"
"$MEMXCTL" donor add "$IP5" && fail "adding the same donor twice succeeded"
fio_write_verify "$MEMX_DEV" 160M 64M || fail "verify after memxctl donor add"
n4=$(donor_slabs "$IP5")
log "the added donor holds $n4 slabs"
[ "$n4" -gt 0 ] || fail "the added donor received no slabs"
fio_verify_only "$MEMX_DEV" 0 32M || fail "first data no longer verifies"
"$MEMXCTL" status
stop_bg vol || fail "client did not stop"
