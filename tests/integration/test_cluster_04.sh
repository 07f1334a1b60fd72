#!/usr/bin/env bash
# Two donors killed at once with two replicas per slab: reads of slabs that
# lost both replicas fail with EIO (never zeros, never stale data), every
# other slab reads back exactly.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_donor d3 "$IP4" 256M
start_client vol --size 64M --slab 4M --replicas 2 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4"
head -c 64M /dev/urandom > "$TEST_TMP/src"
dd if="$TEST_TMP/src" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "initial write"
"$MEMXCTL" status --json --slabs --socket /run/memx/client-vol.sock > "$TEST_TMP/slabs.json"
# Copysets keep replicas of a slab within a few groups of donors, so not every
# pair of donors shares a slab: kill the pair that shares the most.
read -r victim_a victim_b doomed < <(python3 -c '
import collections, json, sys
slabs = json.load(open(sys.argv[1]))["slabs"]
host = lambda r: r.rsplit(":", 1)[0]
pairs = collections.Counter(tuple(sorted(host(r) for r in s["replicas"])) for s in slabs
                            if len(s["replicas"]) == 2)
(a, b), _ = pairs.most_common(1)[0]
print(a, b, " ".join(str(s["slab"]) for s in slabs
                     if all(host(r) in (a, b) for r in s["replicas"])))' "$TEST_TMP/slabs.json")
log "slabs on donors $victim_a and $victim_b only: ${doomed:-none}"
[ -n "$doomed" ] || fail "no slab had both replicas on one pair of donors (placement?)"
declare -A donor_at=(["$IP2"]=d1 ["$IP3"]=d2 ["$IP4"]=d3)
[ -n "${donor_at[$victim_a]:-}" ] && [ -n "${donor_at[$victim_b]:-}" ] \
	|| fail "replicas on unknown donors: $victim_a $victim_b"

kill -9 "$(bg_pid "${donor_at[$victim_a]}")" "$(bg_pid "${donor_at[$victim_b]}")"
sleep 3
for i in $(seq 0 15); do
	if dd if="$MEMX_DEV" of="$TEST_TMP/chunk" bs=4M skip=$i count=1 iflag=direct status=none 2>/dev/null; then
		case " $doomed " in *" $i "*) fail "slab $i lost both replicas but a read succeeded" ;; esac
		cmp -s "$TEST_TMP/chunk" <(dd if="$TEST_TMP/src" bs=4M skip=$i count=1 status=none) \
			|| fail "slab $i returned data that is not what was written"
	else
		case " $doomed " in *" $i "*) ;; *) fail "slab $i had a surviving replica but failed" ;; esac
	fi
done
log "every slab with a surviving replica verified; the others failed with EIO"
stop_bg vol || fail "client did not stop"
