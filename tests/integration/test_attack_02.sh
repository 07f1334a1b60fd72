#!/usr/bin/env bash
# Key rotation with a volume live across it. Two donors and a client start
# with key 1 (each memxd its own --key-file, mode 0600, so each can change
# alone); the volume writes and verifies. Then, as an operator rotates:
#  1. key 2 (memxctl keygen --id 2) is added after key 1 at both donors; reload;
#  2. key 2 goes first in the client's file (it now connects with key 2); reload;
#  3. a third donor that holds only key 2 is added (memxctl donor add): the
#     client connects to it with key 2;
#  4. key 1 leaves every file; reload;
#  5. a new client that holds only key 1 is refused by donor 1 ("unknown key id 1").
# After every step the live volume verifies with fio (crc32c), and it ends
# with no I/O or checksum error; each reload is seen in the logs ("reload: N keys").
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod
problems=()
problem() { problems+=("$*"); log "PROBLEM: $*"; }

K1=/etc/memx/cluster.key
"$MEMXCTL" keygen "$TEST_TMP/k2.key" --id 2 > /dev/null || fail "memxctl keygen --id 2"
KEY1=$(grep -E '^1 [0-9a-f]{64}$' "$K1") || fail "no key 1 in $K1"
KEY2=$(grep -E '^2 [0-9a-f]{64}$' "$TEST_TMP/k2.key") || fail "no key 2 in the new key file"

# put_keys NAME LINE...: NAME's key file ($TEST_TMP/NAME.key) becomes these lines,
# mode 0600, replaced in one rename (a reload never reads half a file).
put_keys() {
	local f=$TEST_TMP/$1.key; shift
	( umask 077; printf '%s\n' "$@" > "$f.new" ) || fail "cannot write $f.new"
	mv "$f.new" "$f" || fail "cannot rename $f.new"
}
# reload N-D1 N-D2 N-VOL [N-D3]: memxctl reload; each log then says how many keys it holds.
reload() {
	local name n i=0 names=(d1 d2 vol d3)
	declare -A mark
	for name in "${names[@]}"; do
		[ -f "$TEST_TMP/$name.log" ] && mark[$name]=$(wc -l < "$TEST_TMP/$name.log")
	done
	local out
	out=$("$MEMXCTL" reload 2>&1) || problem "memxctl reload failed: $out"
	echo "$out" | sed 's/^/[memxctl reload] /'
	for n in "$@"; do
		name=${names[i]} i=$((i + 1))
		reloaded() { tail -n +"$((mark[$name] + 1))" "$TEST_TMP/$name.log" |
			grep -m1 "reload: $n keys from"; }
		if WAIT_S=10 wait_for reloaded > /dev/null; then
			reloaded | sed "s/^/[$name log] /"
		else
			problem "$name did not log 'reload: $n keys'"
		fi
	done
}
# errors: the live volume's (I/O errors, checksum errors); check_volume WHAT: both must be 0.
errors() {
	status_get '[(v["io"]["errors"], v["io"]["checksum_errors"]) for x in s
		if x and x["role"]=="client" for v in x["volumes"] if v["name"]=="vol"][0]'
}
check_volume() {
	local e
	e=$(errors)
	[ "$e" = "(0, 0)" ] || problem "$1: volume (errors, checksum_errors) = $e"
	log "$1: volume verified; (errors, checksum_errors) = $e"
}
# write_verify / verify_only OFFSET SIZE WHAT: fio (crc32c) on the live volume; a region is
# verified with the same OFFSET and SIZE it was written with (fio replays the same I/O).
write_verify() {
	fio_write_verify "$MEMX_DEV" "$1" "$2" || problem "$3: fio write+verify of $1+$2 failed"
}
verify_only() { fio_verify_only "$MEMX_DEV" "$1" "$2" || problem "$3: fio verify of $1+$2 failed"; }

put_keys d1 "$KEY1"
put_keys d2 "$KEY1"
put_keys vol "$KEY1"
start_donor d1 "$IP2" 64M --key-file "$TEST_TMP/d1.key"
start_donor d2 "$IP3" 64M --key-file "$TEST_TMP/d2.key"
start_client vol --size 32M --slab 4M --replicas 2 --bind "$IP1" --donor "$IP2" --donor "$IP3" \
	--key-file "$TEST_TMP/vol.key"
grep -h "authenticated (key 1)" "$TEST_TMP/d1.log" | head -n 1 | sed 's/^/[d1 log] /'
write_verify 0 8M "start"
check_volume "start (key 1 everywhere)"

# 1. The donors learn key 2 (after key 1: they still connect, if ever, with key 1).
put_keys d1 "$KEY1" "$KEY2"
put_keys d2 "$KEY1" "$KEY2"
reload 2 2 1
verify_only 0 8M "donors hold keys 1, 2"
check_volume "donors hold keys 1, 2"

# 2. The client connects with key 2 from now on.
put_keys vol "$KEY2" "$KEY1"
reload 2 2 2
grep -q "key 2 connects" "$TEST_TMP/vol.log" || problem "the client does not say key 2 connects"
verify_only 0 8M "client connects with key 2"
check_volume "client connects with key 2"

# 3. A new donor that holds only key 2: the client must reach it with key 2.
put_keys d3 "$KEY2"
start_donor d3 "$IP4" 64M --key-file "$TEST_TMP/d3.key"
out=$("$MEMXCTL" donor add "$IP4" 2>&1) || problem "memxctl donor add failed: $out"
echo "$out" | sed 's/^/[memxctl donor add] /'
d3_ok() { grep -q "control connection from $IP1:[0-9]* authenticated (key 2)" "$TEST_TMP/d3.log"; }
if WAIT_S=30 wait_for d3_ok; then
	grep -h "authenticated (key 2)" "$TEST_TMP/d3.log" | head -n 1 | sed 's/^/[d3 log] /'
	grep -h "donor $IP4:[0-9]*: connected" "$TEST_TMP/vol.log" | sed 's/^/[vol log] /'
else
	problem "the client did not connect to the key-2-only donor with key 2"
	grep -h "$IP4" "$TEST_TMP/vol.log" | tail -n 3 | sed 's/^/[vol log] /'
fi
states='[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"]]'
WAIT_S=20 wait_for status_is "sorted($states)" "['live', 'live', 'live']" ||
	problem "not every donor is live: $(status_get "$states")"
write_verify 8M 8M "third donor (key 2 only)"
verify_only 0 8M "third donor (key 2 only)"
check_volume "third donor (key 2 only); its slabs: $(donor_slabs "$IP4")"

# 4. Key 1 leaves every file.
put_keys d1 "$KEY2"
put_keys d2 "$KEY2"
put_keys vol "$KEY2"
reload 1 1 1 1
verify_only 0 8M "key 1 retired"
verify_only 8M 8M "key 1 retired"
write_verify 16M 8M "key 1 retired"
check_volume "key 1 retired"
keys=$(status_get 'sorted(x["keys"] for x in s if x and x["role"]=="donor")')
[ "$keys" = "[1, 1, 1]" ] || problem "donors hold $keys keys, not one each"

# 5. Whoever still holds only key 1 is refused.
put_keys old "$KEY1"
MARK=$(wc -l < "$TEST_TMP/d1.log")
start_bg old "$MEMXD" client --name old --size 8M --slab 4M --bind "$IP5" --donor "$IP2" \
	--key-file "$TEST_TMP/old.key"
refused() { tail -n +"$((MARK + 1))" "$TEST_TMP/d1.log" |
	grep -m1 -E "rejected connection from $IP5:[0-9]+: unknown key id 1"; }
if WAIT_S=30 wait_for refused > /dev/null; then
	refused | sed 's/^/[d1 log] /'
	grep -h -m1 "refused us" "$TEST_TMP/old.log" | sed 's/^/[old client log] /'
else
	problem "donor 1 did not refuse a client that holds only key 1"
fi
grep -q '^ready /dev/memx' "$TEST_TMP/old.log" && problem "the key-1 client got a volume"
stop_bg old > /dev/null 2>&1 || true

for off in 0 8M 16M; do verify_only "$off" 8M "end"; done
check_volume "end"
stop_bg vol || problem "the client did not stop cleanly"
if [ ${#problems[@]} -gt 0 ]; then
	log "${#problems[@]} problem(s):"
	printf '  - %s\n' "${problems[@]}"
	fail "key rotation with a live volume"
fi
log "keys rotated from 1 to 2 with the volume live; a key-1-only peer is refused"
