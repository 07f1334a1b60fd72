#!/usr/bin/env bash
# The grant pool (--grant-pool): each live donor holds grants of ours obtained
# ahead, and first writes map from them without a round trip. Three donors, 2
# replicas, 1 MiB slabs: the pools fill (and the donors count them as memory
# in use), strided first writes map from the pool (slabs_mapped_from_pool),
# what the pool gave reads as zeros where nothing was written; a donor killed
# while it holds pooled grants takes them along (dropped, no slab lost); fio
# then writes 2 more slabs at QD16 (crc32c); kill -9 of the engine and the same
# command: the donors give back the dead engine's pooled grants (CLAIM, PRUNE) and
# lend what the new engine counts; a clean stop gives everything back: the donors
# hold nothing of ours afterwards.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 96M
start_donor d2 "$IP3" 96M
start_donor d3 "$IP4" 96M
args=(--size 16M --slab 1M --replicas 2 --grant-pool 2 --bind "$IP1" --donor "$IP2" --donor "$IP3"
	--donor "$IP4")
start_client vol "${args[@]}"

vol() { status_get '[x["volumes"][0]["'"$1"'"] for x in s if x and x["role"]=="client"][0]'; }
pooled() { # IP: the client's pooled grants on that donor
	status_get '[d["pooled"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$1"':")][0]'
}
donor_used() { # IP: bytes the donor there has granted, its own count
	status_get '[x["memory_total"] - x["memory_free"] for x in s if x and x["role"]=="donor" and x["listen"].startswith("'"$1"':")][0]'
}
ours_on() { # IP: the client's slabs and pooled grants on that donor, in bytes (1 MiB slabs)
	status_get '[(d["slabs"] + d["pooled"]) << 20 for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$1"':")][0]'
}

WAIT_S=20 wait_for status_is '[x["volumes"][0]["grants_pooled"] for x in s if x and x["role"]=="client"][0]' 6 ||
	{ "$MEMXCTL" status; fail "the pools did not fill: $(vol grants_pooled) pooled, not 2 per donor"; }
for ip in "$IP2" "$IP3" "$IP4"; do
	[ "$(pooled "$ip")" = 2 ] || fail "donor $ip: $(pooled "$ip") pooled, not 2"
	[ "$(donor_used "$ip")" = $((2 << 20)) ] || fail "donor $ip lends $(donor_used "$ip") bytes, not the 2 pooled slabs"
done
[ "$(vol slabs_mapped)" = 0 ] || fail "slabs mapped before any write"
log "pools full, 2 per donor, counted by the donors (${SECONDS} s)"

# One 4 KiB write at the start of each of 12 slabs, 100 ms apart: the pools refill between them.
fio --name=first --filename="$MEMX_DEV" --direct=1 --ioengine=psync --rw=write:1020k --bs=4k \
	--size=12M --io_size=48k --thinktime=100ms --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-first.out" || { cat "$TEST_TMP/fio-first.out"; fail "strided first writes"; }
mapped=$(vol slabs_mapped) from_pool=$(vol slabs_mapped_from_pool)
log "12 first writes: $mapped slabs mapped, $from_pool with every replica from the pool ($(vol grants_from_pool) grants taken, $(vol pool_refills) refills)"
[ "$mapped" = 12 ] || fail "$mapped slabs mapped, not 12"
[ "$from_pool" -ge 9 ] || { "$MEMXCTL" status; fail "only $from_pool of 12 slabs mapped from the pool"; }
# A pooled grant is fresh: past the written block, slab 0 and slab 11 read as zeros.
for s in 0 11; do
	dd if="$MEMX_DEV" bs=4k skip=$((s * 256 + 1)) count=255 iflag=direct status=none |
		cmp -s - <(head -c $((255 * 4096)) /dev/zero) || fail "slab $s: unwritten blocks are not zeros"
done
# A donor that dies takes its pooled grants along; the pool forgets them, no slab is lost.
WAIT_S=10 wait_for status_is '[x["volumes"][0]["grants_pooled"] for x in s if x and x["role"]=="client"][0]' 6 ||
	fail "the pools were not refilled: $(vol grants_pooled) pooled"
dropped0=$(vol pool_dropped)
had=$(pooled "$IP4")
[ "$had" = 2 ] || fail "donor d3 pools $had, not 2"
kill -9 "$(bg_pid d3)"
WAIT_S=20 wait_for eval '[ "$(donor_state "$IP4")" = dead ]' || fail "donor d3 not declared dead"
WAIT_S=10 wait_for eval '[ "$(pooled "$IP4")" = 0 ]' || fail "the dead donor still has $(pooled "$IP4") pooled"
[ "$(vol pool_dropped)" -ge $((dropped0 + had)) ] || fail "pool_dropped $(vol pool_dropped), not $dropped0 + $had"
fio --name=first --filename="$MEMX_DEV" --direct=1 --ioengine=psync --rw=write:1020k --bs=4k \
	--size=12M --io_size=48k --verify=crc32c --verify_fatal=1 --verify_only \
	--output="$TEST_TMP/fio-first.out" || { cat "$TEST_TMP/fio-first.out"; fail "verify after the donor died"; }
[ "$(vol slabs_lost)" = 0 ] || fail "slabs lost with one donor of 2 replicas"
log "donor d3 dead: its $had pooled grants dropped, every block verified (${SECONDS} s)"

# Slabs 12 and 13 written at QD16 while the pools refill, every block verified; the pools
# stay, for the 2 slabs left unwritten.
fio --name=wv --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite --bs=64k \
	--iodepth=16 --offset=12M --size=2M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-wv.out" || { cat "$TEST_TMP/fio-wv.out"; fail "fio verify at QD16"; }
grep -q 'err= 0' "$TEST_TMP/fio-wv.out" || fail "fio reported errors"
[ "$(vol slabs_mapped)" = 14 ] || fail "$(vol slabs_mapped) slabs mapped, not 14"
log "14 slabs written and verified (${SECONDS} s)"
[ "$(vol slabs_lost)" = 0 ] || fail "slabs lost"

# kill -9 with the pools full, then the same command: the new engine takes the volume
# over, and the donors give back what the dead one held that its map does not name (its
# pooled grants, CLAIM then PRUNE): each donor then lends exactly what the engine counts.
WAIT_S=10 wait_for status_is '[x["volumes"][0]["grants_pooled"] for x in s if x and x["role"]=="client"][0]' 4 ||
	fail "$(vol grants_pooled) pooled before the kill, not 2 on each live donor"
kill -9 "$(bg_pid vol)" || fail "kill -9 the engine"
WAIT_S=10 wait_for exited "$(bg_pid vol)" || fail "the engine did not die"
start_client vol "${args[@]}"
[ "$(vol resumed)" = True ] || fail "the new engine did not take the volume over"
for ip in "$IP2" "$IP3"; do
	grep -q "donor $ip:7471 gave back 2 grant(s) the engine before us left" "$TEST_TMP/vol.log" ||
		{ bg_log vol; fail "donor $ip: the dead engine's 2 pooled grants were not given back"; }
done
WAIT_S=10 wait_for status_is '[x["volumes"][0]["grants_pooled"] for x in s if x and x["role"]=="client"][0]' 4 ||
	fail "$(vol grants_pooled) pooled after the take-over, not 2 on each live donor"
for ip in "$IP2" "$IP3"; do
	[ "$(donor_used "$ip")" = "$(ours_on "$ip")" ] ||
		fail "donor $ip lends $(donor_used "$ip") bytes, the engine counts $(ours_on "$ip") (leftovers of the dead engine)"
done
fio --name=wv --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite --bs=64k \
	--iodepth=16 --offset=12M --size=2M --verify=crc32c --verify_fatal=1 --verify_only \
	--output="$TEST_TMP/fio-wv.out" || { cat "$TEST_TMP/fio-wv.out"; fail "verify after the take-over"; }
log "kill -9 and the same command: each donor gave back the dead engine's 2 pooled grants, lends what the engine counts, every block verified (${SECONDS} s)"

# A clean stop gives back everything, the pooled grants too: the donors hold nothing of ours.
WAIT_S=10 wait_for status_is '[x["volumes"][0]["grants_pooled"] for x in s if x and x["role"]=="client"][0]' 4 ||
	fail "$(vol grants_pooled) pooled, not 2 on each live donor"
pooled_now=$(vol grants_pooled)
stop_bg vol || fail "client did not stop"
[ "$pooled_now" -ge 2 ] || fail "only $pooled_now pooled grants at the stop"
grep -q "gave back $pooled_now pooled grant(s)" "$TEST_TMP/vol.log" ||
	fail "no 'gave back $pooled_now pooled grant(s)' in the client's log"
for ip in "$IP2" "$IP3"; do
	WAIT_S=5 wait_for eval '[ "$(donor_used "$ip")" = 0 ]' || fail "donor $ip still lends $(donor_used "$ip") bytes after the client stopped"
done
log "passed (${SECONDS} s)"
