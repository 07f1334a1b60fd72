#!/usr/bin/env bash
# Copysets: two donors failing at once lose nothing unless they form a
# copyset. Six donors, 2 replicas, --scatter-width 2: every slab's replicas
# are one of the copysets the status lists; two donors that are not a copyset
# are killed together, and no slab is lost and every byte verifies. (With
# replicas placed anywhere, two of six donors share some of 24 slabs with a
# chance of about 80%: ci/sim.)
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
