#!/usr/bin/env bash
# The donor directory (--directory etcd://): a client started with no --donor
# at all waits for the directory, and becomes ready once a donor lists itself;
# it then joins a second donor started later with --directory, whose address
# it was never told, and places new slabs on it; data written before and after
# verifies. Killed with -9 (no goodbye), that donor is unlisted by its 10 s
# etcd lease, and not at once. A client whose directory never lists enough
# donors fails after --directory-wait, leaving no device. etcd runs in the
# guest on 127.0.0.1. Then DNS SRV records (srv://, a DNS server of the
# test's own on 127.0.0.1) list the live donor and the dead one: a client
# with no --donor becomes ready on the live one and keeps knocking on the
# dead one, less and less often.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
need_cmd etcd
need_cmd etcdctl
load_kmod

read -r cport pport < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
start_bg etcd etcd --name memxtest --data-dir "$TEST_TMP/etcd" \
	--listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "memxtest=http://127.0.0.1:$pport" --logger zap --log-outputs stderr
# listed IP: how many entries the directory holds for a donor at IP (0 or 1), or
# "error" when etcd did not answer (never taken for "unlisted").
listed() {
	local out
	out=$(ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$cport" --command-timeout=2s \
		get --prefix /memxtest/ --keys-only 2>/dev/null) || { echo error; return; }
	grep -c "^/memxtest/$1:" <<< "$out"
}
# listed_is IP N: for wait_for, which must ask again on each try.
listed_is() { [ "$(listed "$1")" = "$2" ]; }
WAIT_S=30 wait_for eval 'ETCDCTL_API=3 etcdctl --endpoints 127.0.0.1:'"$cport"' endpoint health >/dev/null 2>&1' \
	|| { bg_log etcd; fail "etcd did not start"; }
DIR=etcd://127.0.0.1:$cport/memxtest

# No --donor: the client waits (and serves nothing) until the directory lists one.
start_bg vol "$MEMXD" client --name vol --size 96M --slab 4M --bind "$IP1" --replicas 1 \
	--directory "$DIR" --overcommit	# 64M of the 96M: the rest comes with the second donor
WAIT_S=15 wait_for grep -q 'waiting up to 30 s for the directory to list 1 donor' "$TEST_TMP/vol.log" \
	|| { bg_log vol; fail "the client without --donor did not wait for the directory"; }
sleep 1
! grep -q '^ready' "$TEST_TMP/vol.log" || fail "the client was ready with no donor"
! exited "$(bg_pid vol)" || { bg_log vol; fail "the client without --donor gave up at once"; }
start_donor d1 "$IP2" 64M --directory "$DIR"
WAIT_S=30 wait_for grep -q '^ready /dev/\(memx\|ublkb\)[0-9]' "$TEST_TMP/vol.log" \
	|| { bg_log vol; fail "the client did not become ready once a donor was listed"; }
MEMX_DEV=$(sed -n 's/^ready \(\/dev\/\(memx\|ublkb\)[0-9]*\)$/\1/p' "$TEST_TMP/vol.log")
[ -b "$MEMX_DEV" ] || fail "$MEMX_DEV is not a block device"
grep -q "donor $IP2:7471 joined (listed in the directory" "$TEST_TMP/vol.log" ||
	fail "the client did not say the directory brought its first donor"
fio_write_verify "$MEMX_DEV" 0 8M || fail "verify before the second donor"
[ "$(donor_slabs "$IP2")" -gt 0 ] || fail "the first listed donor holds nothing"

# The second donor lists itself; nobody tells the client its address.
start_donor d2 "$IP3" 128M --directory "$DIR"
WAIT_S=10 wait_for listed_is "$IP3" 1 || { bg_log d2; fail "donor 2 did not list itself"; }
WAIT_S=20 wait_for status_is '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"]=="'"$IP3"':7471"]' "['live']" \
	|| { "$MEMXCTL" status; bg_log vol; fail "the client did not join the listed donor"; }
grep -q "donor $IP3:7471 joined (listed in the directory" "$TEST_TMP/vol.log" ||
	fail "the client did not say the directory brought the donor"
# From the donor's "listening" to the client's "joined", on the logs' one clock (uptime).
t_listen=$(sed -n 's/^\[ *\([0-9.]*\)\] .*listening on .*/\1/p' "$TEST_TMP/d2.log" | head -n 1)
t_joined=$(sed -n "s/^\[ *\([0-9.]*\)\] .*donor $IP3:7471 joined (listed.*/\1/p" "$TEST_TMP/vol.log" | head -n 1)
log "the client joined donor 2 $(echo "$t_joined - $t_listen" | bc) s after it started listening (client reads etcd every 2 s)"
fio_write_verify "$MEMX_DEV" 32M 16M || fail "verify after the directory's donor joined"
n2=$(donor_slabs "$IP3")
log "the donor found through the directory holds $n2 slabs"
[ "$n2" -gt 0 ] || fail "the donor found through the directory received no slabs"
fio_verify_only "$MEMX_DEV" 0 8M || fail "first data no longer verifies"
status_is '[x["directory"]["state"] for x in s if x and x["role"]=="donor" and x["listen"].startswith("'"$IP3"':")][0]' registered \
	|| { "$MEMXCTL" status --json; fail "donor 2's status does not say registered"; }
status_is '[x["directory"]["joined"] for x in s if x and x["role"]=="client"][0]' 2 \
	|| { "$MEMXCTL" status --json; fail "the client's status does not count two donors joined from the directory"; }
"$MEMXCTL" status

# kill -9: no revoke; the lease (10 s) takes the entry away.
kill -9 "$(bg_pid d2)"
killed=$(date +%s.%N)
sleep 1
[ "$(listed "$IP3")" = 1 ] || fail "donor 2 was unlisted at once after kill -9 (expected: at its lease's end)"
WAIT_S=16 wait_for listed_is "$IP3" 0 || fail "donor 2 still listed 16 s after kill -9"
log "donor 2 unlisted $(echo "$(date +%s.%N) - $killed" | bc | cut -c1-4) s after kill -9 (lease 10 s, etcd polled)"
[ "$(listed "$IP2")" = 1 ] || fail "the live donor 1 dropped out of the directory"
fio_verify_only "$MEMX_DEV" 0 8M || fail "the first donor's data no longer verifies"
stop_bg vol || fail "client did not stop"

# Too few donors listed: 3 replicas, one live donor listed; the start fails
# after --directory-wait, says why, and leaves no device behind.
devs_before=$(ls /dev/memx[0-9]* /dev/ublkb[0-9]* 2>/dev/null | wc -l)
t0=$SECONDS
"$MEMXD" client --name short --size 16M --slab 4M --bind "$IP1" --replicas 3 \
	--directory "$DIR" --directory-wait 3 > "$TEST_TMP/short.log" 2>&1 && fail "a volume started with 1 of 3 donors"
cat "$TEST_TMP/short.log" | tail -n 3
grep -q 'after 3 s the directory listed 1 donor(s) and 1 joined; --replicas 3 needs 3' "$TEST_TMP/short.log" \
	|| fail "the failed start did not say how many donors were listed and joined"
[ $((SECONDS - t0)) -lt 20 ] || fail "the failed start took $((SECONDS - t0)) s with --directory-wait 3"
[ "$(ls /dev/memx[0-9]* /dev/ublkb[0-9]* 2>/dev/null | wc -l)" = "$devs_before" ] \
	|| fail "the failed start left a device behind"

# DNS SRV: a responder on 127.0.0.1 lists the live donor 1 and the dead donor 2.
dport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$TEST_TMP/dns.py" <<'PY'
import socket, struct, sys
port, targets = int(sys.argv[1]), sys.argv[2:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while q[end]:
        end += 1 + q[end]
    question = q[12:end + 5]
    answers = b""
    for t in targets:
        rdata = struct.pack("!HHH", 10, 5, 7471) + name(t)
        answers += b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, 5, len(rdata)) + rdata
    s.sendto(q[:2] + b"\x81\x80" + struct.pack("!HHHH", 1, len(targets), 0, 0) + question + answers, peer)
PY
start_bg dns python3 "$TEST_TMP/dns.py" "$dport" "$IP2" "$IP3"
start_client srvvol --size 8M --slab 4M --bind "$IP1" --replicas 1 --directory "srv://memx.test@127.0.0.1:$dport"
grep -q "joining the donors listed in srv://memx.test@127.0.0.1:$dport" "$TEST_TMP/srvvol.log" ||
	fail "the client did not say it reads the SRV records"
grep -q "donor $IP2:7471 joined (listed in the directory" "$TEST_TMP/srvvol.log" ||
	fail "the client did not join the live donor the SRV records list"
fio_write_verify "$MEMX_DEV" 0 4M || fail "verify on the volume whose donor DNS listed"
status_is '[x["directory"]["url"] for x in s if x and x["role"]=="client"][0]' "srv://memx.test@127.0.0.1:$dport" \
	|| { "$MEMXCTL" status --json; fail "status does not show the SRV directory"; }
status_is '[x["directory"]["listed"] for x in s if x and x["role"]=="client"][0]' 2 \
	|| { "$MEMXCTL" status --json; fail "status does not count the two SRV records"; }
WAIT_S=15 wait_for grep -q "donor $IP3:7471, listed in the directory, did not join" "$TEST_TMP/srvvol.log" \
	|| { bg_log srvvol; fail "the dead donor the SRV records list was not tried (or not said)"; }
stop_bg srvvol || fail "the SRV client did not stop"
