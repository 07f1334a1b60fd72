#!/usr/bin/env bash
# The scrub finds and repairs a bad copy that nobody reads. One byte flipped
# in every slab of donor 2 (through /proc/PID/mem); no read touches them; the
# scrub (--scrub-rate) reads every replica back, finds the bad blocks and
# rewrites them from donor 1. Then donor 1 dies, and every read, now served by
# donor 2 alone, returns the written data. (Before, nothing read a second
# replica until the first was gone, and then it handed out the bad bytes.)
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

scrub_get() { status_get '[x["volumes"][0]["scrub"]["'"$1"'"] for x in s if x and x["role"]=="client"][0]'; }

start_donor d1 "$IP2" 64M
start_donor d2 "$IP3" 64M
start_client vol --size 16M --slab 4M --replicas 2 --scrub-rate 64M --bind "$IP1" \
	--donor "$IP2" --donor "$IP3"
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=16 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "write failed"
log "flipped a byte in $(corrupt_slabs "$(bg_pid d2)" $((4 << 20))) slab-sized regions of donor 2"
scrub_repaired() { [ "$(scrub_get repaired 2>/dev/null || echo 0)" -ge 4 ]; }
WAIT_S=90 wait_for scrub_repaired ||
	{ "$MEMXCTL" status; fail "the scrub did not repair the 4 bad blocks"; }
log "scrub: $(scrub_get bad_blocks) bad blocks, $(scrub_get repaired) repaired, $(scrub_get passes) passes"
grep -q 'scrub: block at .* was bad; rewritten from donor' "$TEST_TMP/vol.log" || fail "no log line"
kill -9 "$(bg_pid d1)"
d1_dead() { [ "$(donor_state "$IP2" 2>/dev/null)" = dead ]; }
WAIT_S=30 wait_for d1_dead || fail "the client did not notice donor 1 die"
cmp "$TEST_TMP/pat" <(dd if="$MEMX_DEV" bs=1M count=16 iflag=direct status=none) ||
	fail "donor 2 alone did not return the written data"
stop_bg vol || fail "client did not stop"
