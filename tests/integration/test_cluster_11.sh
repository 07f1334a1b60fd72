#!/usr/bin/env bash
# Quotas keep room for repair: three donors with --max-per-client 32M hold a
# 2-replica volume's 40M (20 slab copies, about 28M per donor). When one dies,
# its copies must be restored on the other two, past their quota: copies that
# restore a lost replica (MEMX_ALLOC_F_REPAIR) may use a quarter more, so the
# backlog drains to zero, while new slabs (first mappings) stay refused at the
# quota.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

for d in 1 2 3; do
	ip_var=IP$((d + 1))
	start_donor "d$d" "${!ip_var}" 128M --max-per-client 32M
done
start_client vol --size 128M --slab 4M --replicas 2 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4" --rereplicate-rate 64M --overcommit
fio_write_verify "$MEMX_DEV" 0 40M || fail "the first 40M did not fit the quotas"
log "before: $(donor_slabs "$IP2"), $(donor_slabs "$IP3"), $(donor_slabs "$IP4") slabs"
kill -9 "$(bg_pid d3)"
backlog() { status_get '[x["volumes"][0]["rereplication_backlog"] for x in s if x and x["role"]=="client"][0]'; }
WAIT_S=120 wait_for status_is '[x["volumes"][0]["rereplication_backlog"] for x in s if x and x["role"]=="client"][0]' 0 ||
	{ "$MEMXCTL" status; fail "the backlog did not drain: repairs were refused at the quota ($(backlog) left)"; }
log "after: $(donor_slabs "$IP2"), $(donor_slabs "$IP3") slabs; backlog 0"
[ $(( $(donor_slabs "$IP2") + $(donor_slabs "$IP3") )) = 20 ] || fail "20 copies expected on the two donors left"
fio_verify_only "$MEMX_DEV" 0 40M || fail "data did not survive"
# A first mapping is still held to the quota (both donors are past 32M now).
if dd if=/dev/urandom of="$MEMX_DEV" bs=4M seek=20 count=1 oflag=direct status=none 2>/dev/null; then
	fail "a new slab was mapped past the quota"
fi
stop_bg vol || fail "client did not stop"
