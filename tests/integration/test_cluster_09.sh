#!/usr/bin/env bash
# Failure domains: two replicas of a slab never share a host, and never a zone
# while another zone has room. Two donor processes on one host (--host A) and
# one on another: every slab has a replica on each host, and when the other
# host's donor dies, re-replication leaves slabs short rather than put both
# copies on host A. Four donors in two zones: every slab and every copyset
# spans both zones; when one zone dies, the client warns (once) that its
# copysets must now share the zone left, and the data survives.
# (Before, placement knew only donors: with two donors on one host, about a
# third of the slabs had both replicas there, lost with that one machine.)
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

# check_slabs VOL MAP PRED: every mapped slab of VOL passes the Python predicate
# PRED over `hosts`: the labels (MAP: ADDR=LABEL,...) of its live replicas' donors.
check_slabs() {
	local vol=$1 map=$2 pred=$3
	"$MEMXCTL" status --json --slabs --socket "/run/memx/client-$vol.sock" > "$TEST_TMP/slabs.json"
	python3 - "$TEST_TMP/slabs.json" "$map" "$pred" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
where = dict(kv.split("=") for kv in sys.argv[2].split(","))
bad = []
for s in st["slabs"]:
    hosts = [where[r.split(":")[0]] for r in s["replicas"]]
    if not eval(sys.argv[3]):
        bad.append((s["slab"], s["replicas"]))
print("%d slabs checked" % len(st["slabs"]))
assert st["slabs"] and not bad, bad
PY
}

start_donor a1 "$IP2" 128M --host A
start_donor a2 "$IP3" 128M --host A
start_donor b1 "$IP4" 128M --host B
start_client hosts --size 64M --slab 4M --replicas 2 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4"
fio_write_verify "$MEMX_DEV" 0 48M || fail "fio failed"
map="$IP2=A,$IP3=A,$IP4=B"
check_slabs hosts "$map" 'sorted(hosts) == ["A", "B"]' || fail "a slab has both replicas on one host"
"$MEMXCTL" status --json --socket /run/memx/client-hosts.sock | python3 -c '
import json, sys
d = json.load(sys.stdin)["donors"]
assert [x["host"] for x in d] == ["A", "A", "B"], d' || fail "status does not show the hosts"

kill -9 "$(bg_pid b1)"
WAIT_S=30 wait_for status_is '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$IP4"':")][0]' dead ||
	fail "the client did not notice the dead donor"
sleep 3	# recovery steps run; none may place a second copy on host A
check_slabs hosts "$map" 'hosts.count("A") == 1' || fail "re-replication put two copies on host A"
fio_verify_only "$MEMX_DEV" 0 48M || fail "data did not survive the loss of host B"
stop_bg hosts || fail "client did not stop"
stop_bg a1 || fail "donor a1 did not stop"
stop_bg a2 || fail "donor a2 did not stop"

start_donor z1a "$IP2" 128M --host ZA --zone z1
start_donor z1b "$IP3" 128M --host ZB --zone z1
start_donor z2a "$IP4" 128M --host ZC --zone z2
start_donor z2b "$IP5" 128M --host ZD --zone z2
start_client zones --size 64M --slab 4M --replicas 2 --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4" --donor "$IP5"
fio_write_verify "$MEMX_DEV" 0 48M || fail "fio failed"
check_slabs zones "$IP2=z1,$IP3=z1,$IP4=z2,$IP5=z2" 'sorted(hosts) == ["z1", "z2"]' ||
	fail "a slab has both replicas in one zone"
"$MEMXCTL" status --json --socket /run/memx/client-zones.sock | python3 -c '
import json, sys
zone = {"'"$IP2"'": "z1", "'"$IP3"'": "z1", "'"$IP4"'": "z2", "'"$IP5"'": "z2"}
groups = json.load(sys.stdin)["copysets"]
assert groups, "no copysets"
bad = [g for g in groups if sorted(zone[a.split(":")[0]] for a in g) != ["z1", "z2"]]
assert not bad, bad' || fail "a copyset puts two donors of one zone together"
! grep -q 'too few zones' "$TEST_TMP/zones.log" || fail "warned of too few zones with two"
# Zone z2 goes: one zone left, so copysets must share it, and the client says so once.
kill -9 "$(bg_pid z2a)" "$(bg_pid z2b)"
WAIT_S=30 wait_for grep -q 'copysets put two donors of one zone together: too few zones' \
	"$TEST_TMP/zones.log" || { bg_log zones; fail "no warning with one zone left"; }
fio_verify_only "$MEMX_DEV" 0 48M || fail "data did not survive the loss of zone z2"
stop_bg zones || fail "client did not stop"
