#!/usr/bin/env bash
# One client cannot starve the others: with --max-per-client 64M a donor of
# 128M gives a greedy client (a 128M volume written end to end) 64M, refuses
# its further slabs with a quota error (its writes there fail with EIO, the
# first 64M stay intact), and a second client from another address still gets
# memory. The donor's free memory as told to a client is what its quota leaves,
# so the greedy client stops asking. (Before there was no quota: the first
# client took the whole donor and the second got EIO on its first write.)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 128M --max-per-client 64M
start_client hog --size 128M --slab 4M --bind "$IP1" --donor "$IP2" --overcommit
hog=$MEMX_DEV
fio_write_verify "$hog" 0 64M || fail "the first 64M of the greedy client failed"
if dd if=/dev/urandom of="$hog" bs=4M seek=20 count=1 oflag=direct status=none 2>/dev/null; then
	fail "a write past the client's quota succeeded"
fi
# The donor tells this client it has no room left (its quota), so the client asks no more.
grep -q 'no donor can take slab .*no live donor has free memory' "$TEST_TMP/hog.log" ||
	{ bg_log hog | tail; fail "no word of the refused slab in the client's log"; }
fio_verify_only "$hog" 0 64M || fail "the greedy client's data did not survive its quota"

start_client other --size 32M --slab 4M --bind "$IP4" --donor "$IP2"
fio_write_verify "$MEMX_DEV" 0 32M || fail "the second client got no memory"
"$MEMXCTL" status --json --socket "/run/memx/donor-$IP2-7471.sock" > "$TEST_TMP/d1.json"
python3 - "$TEST_TMP/d1.json" <<'PY' || fail "donor state is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["memory_total"] - d["memory_free"] == 96 << 20, d  # 64M + 32M lent
PY
stop_bg other || fail "second client did not stop"
stop_bg hog || fail "greedy client did not stop"
