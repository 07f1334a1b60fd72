#!/usr/bin/env bash
# A peer that has stolen a victim volume's 16-byte id must get nothing from
# the donors (protocol v3, "Trust" in <memx/proto.h>), and a donor nobody
# invited must not be adopted by the victim client. The victim (2 donors,
# --replicas 2, --listen) writes 32 MiB of random bytes; memx_attack, from
# another address, then tries at each donor:
#  1. the stolen id without the key: a DATA connect with a zero and a random
#     ticket (refused: "bad data ticket"); a CLIENT connect naming key 1 with
#     random key bytes, then FREE_SLAB 1..32 (refused: "authentication
#     failed"); a CLIENT connect dropped at once (knock);
#  2. the stolen id WITH the cluster key: a CLIENT connect with a random
#     volume secret (refused: the volume has its owner); our own volume's good
#     ticket presented for the victim's id (refused: tickets are per volume);
#  3. a handshake recorded with the key, replayed without it (the AUTH does
#     not open under the donor's new challenge; the ticket died with its
#     connection).
#  4. fake donors (--insecure, and another cluster's key) --join the victim:
#     refused, never adopted, given nothing.
# After each attack the donor's (or client's) log must say why it refused.
# Then: the victim's bytes read back exactly (cmp, O_DIRECT), the donors freed
# nothing, the victim counted no I/O error. Every check runs; the test fails
# at the end naming each attack that worked and each check that failed.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod
ATTACK=$MEMX_TEST_BIN/memx_attack
broken=()
attack_worked() { broken+=("$*"); log "PROBLEM: $*"; }

# The donors log grants at debug level (proto): that is where addr/rkey come from.
export MEMXD_DEBUG=16
start_donor d1 "$IP2" 64M
start_donor d2 "$IP3" 64M
unset MEMXD_DEBUG
start_client vol --size 48M --slab 4M --replicas 2 --bind "$IP1" --listen "$IP1" \
	--donor "$IP2" --donor "$IP3"
dd if=/dev/urandom of="$TEST_TMP/pat" bs=1M count=48 status=none
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M count=32 oflag=direct status=none ||
	fail "victim write failed"
slabs_before="$(donor_slabs "$IP2") $(donor_slabs "$IP3")"
log "victim wrote 32 MiB; slabs at the donors: $slabs_before"

# The stolen id. Donors log only its first 8 hex digits; the rest is taken
# from the victim client's memory (as a leak would give it to an attacker):
# the 16 bytes that most often follow that prefix in its writable memory.
SHORT=$(sed -n 's/.*volume \([0-9a-f]\{8\}\): control connection from .* authenticated.*/\1/p' \
	"$TEST_TMP/d1.log" | head -n 1)
[ -n "$SHORT" ] || fail "no authenticated volume in d1's log"
VOL=$(python3 - "$(bg_pid vol)" "$SHORT" <<'PY'
import collections, sys
pid, prefix = sys.argv[1], bytes.fromhex(sys.argv[2])
seen = collections.Counter()
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if not f[1].startswith("rw") or (len(f) >= 6 and f[5] not in ("[heap]", "[stack]")):
            continue
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except OSError:
            continue
        at = data.find(prefix)
        while at >= 0:
            if at + 16 <= len(data):
                seen[data[at:at + 16].hex()] += 1
            at = data.find(prefix, at + 1)
print(seen.most_common(1)[0][0] if seen else "")
PY
)
[ ${#VOL} = 32 ] || fail "could not find volume $SHORT's id in the client's memory"
log "stolen victim volume id: $VOL (donors log it as $SHORT)"

# donor_frees IP: slabs the donor at IP has freed (its own count).
donor_frees() {
	status_get 'sum(x["frees"] for x in s if x and x["role"]=="donor"
		and x["listen"].startswith("'"$1"':"))'
}
frees_before="$(donor_frees "$IP2") $(donor_frees "$IP3")"

# run_attack NAME DONOR-LOG ARGS...: runs memx_attack; exit 3 (refused) is
# what we want. Remembers where DONOR-LOG (a log name) was, for expect_log.
run_attack() {
	local name=$1 rc; LOG_NAME=$2; shift 2
	MARK=$(wc -l < "$TEST_TMP/$LOG_NAME.log")
	"$ATTACK" "$@" > "$TEST_TMP/$name.out" 2>&1
	rc=$?
	sed "s/^/[$name] /" "$TEST_TMP/$name.out"
	case $rc in
	3) log "$name: refused" ;;
	0) attack_worked "$name: the attack SUCCEEDED (exit 0)" ;;
	*) attack_worked "$name: exit $rc (an error, not a refusal)" ;;
	esac
}
# expect_log REGEX: a line that matches appears in $LOG_NAME's log after
# $MARK (within 10 s: memxd logs from a thread of its own); it is shown.
new_lines() { tail -n +"$((MARK + 1))" "$TEST_TMP/$LOG_NAME.log" | grep -E "$1"; }
expect_log() {
	if WAIT_S=10 wait_for new_lines "$1" > /dev/null; then
		new_lines "$1" | head -n 2 | sed "s/^/[$LOG_NAME log] /"
	else
		attack_worked "no '$1' in $LOG_NAME's log"
	fi
}

KEY=/etc/memx/cluster.key
for d in d1:"$IP2" d2:"$IP3"; do
	name=${d%%:*} ip=${d#*:}
	grant=$(sed -E -n "s/.*volume $SHORT: slab ([0-9]+) granted as handle ([0-9]+) at \
(0x[0-9a-f]+) rkey (0x[0-9a-f]+).*/\1 \2 \3 \4/p" "$TEST_TMP/$name.log" | head -n 1)
	[ -n "$grant" ] || fail "$name logged no grant (MEMXD_DEBUG=16)"
	read -r slab handle addr rkey <<< "$grant"
	log "$name: victim slab $slab is handle $handle at $addr rkey $rkey"
	at=(--bind "$IP4" --donor "$ip")
	target=(--addr "$addr" --rkey "$rkey" --len 4096)

	# 1. The stolen id, no key.
	for t in zero random; do
		run_attack "steal-data-$t-$name" "$name" steal-data "${at[@]}" --volume "$VOL" \
			--ticket "$t" "${target[@]}"
		expect_log "data connection from $IP4:[0-9]+ not admitted: bad data ticket"
	done
	run_attack "steal-client-nokey-$name" "$name" steal-client "${at[@]}" --volume "$VOL" \
		--key-id 1 --handles 32
	expect_log "refused control connection from $IP4:[0-9]+: authentication failed"
	grep -q 'FREED' "$TEST_TMP/steal-client-nokey-$name.out" &&
		attack_worked "steal-client-nokey-$name freed a slab"
	run_attack "knock-$name" "$name" knock "${at[@]}" --volume "$VOL"
	expect_log "control connection from $IP4:[0-9]+ closed"

	# 2. The stolen id with the cluster key.
	run_attack "steal-client-key-$name" "$name" steal-client "${at[@]}" --volume "$VOL" \
		--key-file "$KEY" --handles 32
	expect_log "refused control connection from $IP4:[0-9]+: \
(this volume already has a control connection|wrong volume secret)"
	run_attack "ticket-swap-$name" "$name" ticket-swap "${at[@]}" --volume "$VOL" \
		--key-file "$KEY" "${target[@]}"
	expect_log "data connection from $IP4:[0-9]+ not admitted: bad data ticket"
	grep -q "^attack: our own volume's data connection: CONNECTED" \
		"$TEST_TMP/ticket-swap-$name.out" || attack_worked "ticket-swap-$name: own ticket unused"

	# 3. A recorded handshake, replayed without the key.
	"$ATTACK" record "${at[@]}" --key-file "$KEY" --file "$TEST_TMP/rec-$name.bin" \
		> "$TEST_TMP/record-$name.out" 2>&1 || {
		cat "$TEST_TMP/record-$name.out"; fail "record at $name failed"; }
	sed "s/^/[record-$name] /" "$TEST_TMP/record-$name.out"
	run_attack "replay-$name" "$name" replay "${at[@]}" --file "$TEST_TMP/rec-$name.bin"
	expect_log "refused control connection from $IP4:[0-9]+: authentication failed"
	expect_log "data connection from $IP4:[0-9]+ not admitted: \
(no authenticated volume with this id here|bad data ticket|expired data ticket)"
done

# verify_victim MIB WHAT: the first MIB MiB read back exactly; no slab freed; no I/O error.
verify_victim() {
	if ! dd if="$MEMX_DEV" of="$TEST_TMP/back" bs=1M count="$1" iflag=direct status=none \
		2> "$TEST_TMP/cmp.out" ||
		! cmp -n $(($1 << 20)) "$TEST_TMP/pat" "$TEST_TMP/back" >> "$TEST_TMP/cmp.out" 2>&1; then
		attack_worked "$2: victim data damaged: $(head -c 300 "$TEST_TMP/cmp.out" | tr '\n' ' ')"
	else
		log "$2: the victim's $1 MiB read back exactly"
	fi
	frees="$(donor_frees "$IP2") $(donor_frees "$IP3")"
	[ "$frees" = "$frees_before" ] || attack_worked "$2: donor frees went $frees_before -> $frees"
	grep -h 'freed its' "$TEST_TMP/d1.log" "$TEST_TMP/d2.log" &&
		attack_worked "$2: a donor freed the victim's slabs"
	errs=$(status_get '[(v["io"]["errors"], v["io"]["checksum_errors"])
		for x in s if x and x["role"]=="client" for v in x["volumes"]][0]')
	[ "$errs" = "(0, 0)" ] || attack_worked "$2: victim I/O errors, checksum errors: $errs"
	log "$2: donor frees $frees, victim (errors, checksum_errors) $errs"
}
verify_victim 32 "after attacks 1-3"
slabs_after="$(donor_slabs "$IP2") $(donor_slabs "$IP3")"
[ "$slabs_after" = "$slabs_before" ] ||
	attack_worked "victim slabs went $slabs_before -> $slabs_after"

# 4. Fake donors join the victim client (it listens with --listen).
"$MEMXCTL" keygen "$TEST_TMP/other.key" > /dev/null || fail "memxctl keygen"
start_donor evil-insecure "$IP5" 64M --insecure --join "$IP1"
LOG_NAME=vol MARK=0
expect_log "refused a join from $IP5:[0-9]+: .*(needs a cluster key|no keys)"
start_donor evil-key "$IP4" 64M --key-file "$TEST_TMP/other.key" --join "$IP1"
expect_log "refused a join from $IP4:[0-9]+: join not signed with the key it names"
grep -h "refused our join" "$TEST_TMP/evil-insecure.log" "$TEST_TMP/evil-key.log" |
	sed 's/^/[fake donor log] /'
dd if="$TEST_TMP/pat" of="$MEMX_DEV" bs=1M skip=32 seek=32 count=16 oflag=direct status=none ||
	attack_worked "victim write after the joins failed"
sleep 2
if grep -E "donor ($IP4|$IP5):[0-9]+ joined" "$TEST_TMP/vol.log"; then
	attack_worked "a fake donor was adopted"
fi
for ip in "$IP4" "$IP5"; do
	n=$(donor_slabs "$ip")
	[ "${n:-0}" = 0 ] || attack_worked "fake donor $ip holds $n of the victim's slabs"
done
verify_victim 48 "after attack 4"

stop_bg vol || true
if [ ${#broken[@]} -gt 0 ]; then
	log "${#broken[@]} problem(s):"
	printf '  - %s\n' "${broken[@]}"
	fail "attacks succeeded or went unexplained"
fi
log "every attack was refused with its reason logged; the victim's data and slabs are intact"
