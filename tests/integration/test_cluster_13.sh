#!/usr/bin/env bash
# Copysets: two donors failing at once lose nothing unless they form a
# copyset. Six donors, 2 replicas, --scatter-width 2: every slab's replicas
# are one of the copysets the status lists; two donors that are not a copyset
# are killed together, and no slab is lost and every byte verifies. (With
# replicas placed anywhere, two of six donors share some of 24 slabs with a
# chance of about 80%: ci/sim.)
# Then two donors that are a copyset die at once, on a second volume on six
# fresh donors with the default copysets: the slabs lost are exactly those
# whose two replicas the status listed on the pair, the engine counts and
# lists them, the placement's losses per pair fit memx-sim --one-volume's
# distributions for the same cluster, every lost block reads EIO and every
# other block reads back exact.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

# Six donors on three addresses, two ports each (the guest has six addresses in all).
addrs=()
n=0
for ip in "$IP2" "$IP3" "$IP4"; do
	for port in 7471 7472; do
		n=$((n + 1))
		start_donor "d$n" "$ip:$port" 64M
		addrs+=("$ip:$port")
	done
done
donor_args=()
for a in "${addrs[@]}"; do donor_args+=(--donor "$a"); done
start_client vol --size 96M --slab 4M --replicas 2 --scatter-width 2 --rereplicate-rate 1M \
	--bind "$IP1" "${donor_args[@]}"
fio_write_verify "$MEMX_DEV" 0 96M || fail "fio failed"
"$MEMXCTL" status --json --slabs --socket /run/memx/client-vol.sock > "$TEST_TMP/st.json"
pair=$(python3 - "$TEST_TMP/st.json" <<'PY'
import itertools, json, sys
st = json.load(open(sys.argv[1]))
groups = {frozenset(g) for g in st["copysets"]}
assert groups, "no copysets in force"
for s in st["slabs"]:
    assert frozenset(s["replicas"]) in groups, ("slab off its copysets", s, sorted(map(sorted, groups)))
donors = [d["address"] for d in st["donors"]]
free = [p for p in itertools.combinations(donors, 2) if frozenset(p) not in groups]
assert free, "every pair is a copyset"
print(" ".join(free[0]))
PY
) || fail "placement is off its copysets"
log "killing $pair together: not a copyset"
for a in $pair; do
	for i in "${!addrs[@]}"; do
		[ "${addrs[$i]}" = "$a" ] && kill -9 "$(bg_pid "d$((i + 1))")"
	done
done
state_of() { status_get '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"]=="'"$1"'"][0]'; }
both_dead() { for a in $pair; do [ "$(state_of "$a" 2>/dev/null)" = dead ] || return 1; done; }
WAIT_S=30 wait_for both_dead || fail "the client did not see both donors die"
fio_verify_only "$MEMX_DEV" 0 96M || fail "data lost with two donors that were not a copyset"
[ "$(status_get '[x["volumes"][0]["slabs_lost"] for x in s if x and x["role"]=="client"][0]')" = 0 ] ||
	fail "slabs were lost"
stop_bg vol || fail "client did not stop"

# Phase 2: six fresh donors (32 MiB each, new ports), 24 slabs of 1 MiB at 2
# replicas with the default copysets (scatter width 4), written in full.
# The simulator's distributions for this cluster, computed meanwhile.
"$MEMX_BUILD/sim/memx-sim" --one-volume 6,24,2,32 --scatter-width 4 --trials 2000 \
	> "$TEST_TMP/sim2.txt" &
sim_pid=$!
addrs2=()
n=6
for ip in "$IP2" "$IP3" "$IP4"; do
	for port in 7473 7474; do
		n=$((n + 1))
		start_donor "d$n" "$ip:$port" 32M
		addrs2+=("$ip:$port")
	done
done
donor_args=()
for a in "${addrs2[@]}"; do donor_args+=(--donor "$a"); done
start_client vol2 --size 24M --slab 1M --replicas 2 --rereplicate-rate 1M \
	--bind "$IP1" "${donor_args[@]}"
sock2=/run/memx/client-vol2.sock
head -c $((24 << 20)) /dev/urandom > "$TEST_TMP/pat2"
dd if="$TEST_TMP/pat2" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "writing vol2 failed"
"$MEMXCTL" status --json --slabs --socket "$sock2" > "$TEST_TMP/st2.json"
wait "$sim_pid" || fail "memx-sim --one-volume failed"
cat "$TEST_TMP/sim2.txt"
# From the replica sets: the pair that holds the most slabs (killed next) and
# the slabs it loses; the placement held against the simulator's.
python3 - "$TEST_TMP/st2.json" "$TEST_TMP/sim2.txt" > "$TEST_TMP/plan2.txt" <<'PY' ||
import itertools, json, sys
st = json.load(open(sys.argv[1]))
sim = {}
for line in open(sys.argv[2]):
    f = line.split()
    if f and f[0] in ("lost", "losing_pairs", "worst_pair"):
        sim[f[0]] = dict(x.split("=") for x in f[1:])
slabs = st["slabs"]
assert len(slabs) == 24 and all(len(s["replicas"]) == 2 for s in slabs), "not 24 slabs on 2 replicas"
groups = {frozenset(g) for g in st["copysets"]}
assert groups and all(frozenset(s["replicas"]) in groups for s in slabs), "slab off its copysets"
donors = sorted(d["address"] for d in st["donors"])
per_pair = {frozenset(p): [s["slab"] for s in slabs if set(s["replicas"]) == set(p)]
            for p in itertools.combinations(donors, 2)}
losing = sum(1 for v in per_pair.values() if v)
pair, lost = max(per_pair.items(), key=lambda kv: (len(kv[1]), sorted(kv[0])))
def within(name, v):
    lo, hi = int(sim[name]["p0.5"]), int(sim[name]["p99.5"])
    print("%s: measured %d, memx-sim mean %s, 99%% of placements %d-%d"
          % (name, v, sim[name]["mean"], lo, hi), file=sys.stderr)
    assert lo <= v <= hi, "%s %d outside memx-sim's %d-%d" % (name, v, lo, hi)
print("a random pair loses: measured %.3f slabs (mean over the 15 pairs), memx-sim %s"
      % (sum(map(len, per_pair.values())) / 15, sim["lost"]["mean"]), file=sys.stderr)
within("losing_pairs", losing)
within("worst_pair", len(lost))
print(" ".join(sorted(pair)))
print(" ".join(map(str, sorted(lost))))
PY
	fail "the placement does not fit its copysets or the simulator"
pair2=$(sed -n 1p "$TEST_TMP/plan2.txt")
predicted=$(sed -n 2p "$TEST_TMP/plan2.txt")
log "killing $pair2 together, a copyset: slabs $predicted must be lost"
# Both die while the engine is stopped, so that it sees both losses at once:
# killed one after the other (tens of ms apart in the guest, even with one
# kill(1) for both), the client re-replicates a slab off the pair in between,
# and it is rightly not lost (seen: slab 1 of 5 saved, 72 ms between the two
# disconnects, once the scrub left the control thread idle). A second
# stopped, with no I/O in flight, is far inside --io-deadline.
pids2=()
for a in $pair2; do
	for i in "${!addrs2[@]}"; do
		[ "${addrs2[$i]}" = "$a" ] && pids2+=("$(bg_pid "d$((i + 7))")")
	done
done
[ ${#pids2[@]} = 2 ] || fail "the pair $pair2 is not two of the donors started"
kill -STOP "$(bg_pid vol2)" || fail "cannot stop the engine"
kill -9 "${pids2[@]}"
sleep 1
kill -CONT "$(bg_pid vol2)" || fail "cannot wake the engine"
st2() { "$MEMXCTL" status --json --slabs --socket "$sock2"; }
pair2_dead() {
	st2 | python3 -c 'import json, sys
st = json.load(sys.stdin)
sys.exit(not set(sys.argv[1:]) <= {d["address"] for d in st["donors"] if d["state"] == "dead"})' $pair2
}
WAIT_S=30 wait_for pair2_dead || fail "the client did not see both donors of the copyset die"
st2 > "$TEST_TMP/st2-after.json"
# The engine's count and its lost slabs are the prediction; every lost block
# reads EIO, every other block the bytes written.
python3 - "$TEST_TMP/st2-after.json" "$MEMX_DEV" "$TEST_TMP/pat2" $predicted <<'PY' ||
import errno, json, mmap, os, sys
st = json.load(open(sys.argv[1]))
predicted = sorted(int(x) for x in sys.argv[4:])
count = st["volumes"][0]["slabs_lost"]
listed = sorted(s["slab"] for s in st["slabs"] if s["state"] == "lost")
print("slabs lost: the engine counts %d, lists %s; predicted %s" % (count, listed, predicted))
assert count == len(predicted) and listed == predicted, "the engine's lost slabs are not the prediction"
pat = open(sys.argv[3], "rb").read()
fd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 1 << 16)
eio = good = 0
for off in range(0, 24 << 20, 1 << 16):
    lost = off >> 20 in predicted
    try:
        n = os.preadv(fd, [buf], off)
    except OSError as e:
        assert lost and e.errno == errno.EIO, "read at %d failed: %s" % (off, e)
        eio += 1
        continue
    assert not lost, "a read of lost slab %d at %d succeeded" % (off >> 20, off)
    assert n == 1 << 16 and buf[:] == pat[off:off + n], "wrong bytes at %d" % off
    good += 1
print("%d reads of 64 KiB exact, %d EIO (lost slabs)" % (good, eio))
PY
	fail "lost slabs or data differ from the prediction"
stop_bg vol2 || fail "vol2 did not stop"
