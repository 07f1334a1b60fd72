#!/usr/bin/env bash
# Graceful leave: `memxctl donor drain --wait` mid-run moves every slab off a
# donor while fio writes and verifies, printing progress until it has left; the
# donor ends holding nothing. Then SIGTERM
# to another donor makes it ask the client to move its slabs, and it exits
# once it holds nothing. Verification passes throughout.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_donor d3 "$IP4" 256M
start_donor d4 "$IP5" 256M
start_client vol --size 128M --slab 4M --replicas 2 --rereplicate-rate 256M --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4" --donor "$IP5"
fio_write_verify "$MEMX_DEV" 0 48M || fail "initial verify"
held=$(donor_slabs "$IP2")
log "donor 1 holds $held slabs before the drain"
[ "$held" -gt 0 ] || fail "donor 1 holds nothing to drain"

fio --name=during --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite --bs=4k \
	--iodepth=16 --offset=64M --size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/during.out" &
fio_pid=$!
timeout 120 "$MEMXCTL" donor drain "$IP2" --wait > "$TEST_TMP/drain.out" ||
	{ cat "$TEST_TMP/drain.out"; fail "memxctl donor drain --wait"; }
cat "$TEST_TMP/drain.out"
grep -q "^drained $IP2:[0-9]*: [0-9]* slab(s) moved in " "$TEST_TMP/drain.out" ||
	fail "donor drain --wait did not end with 'drained'"
grep -q "^draining $IP2:[0-9]*: [0-9]* of [0-9]* slab(s) moved, " "$TEST_TMP/drain.out" ||
	fail "donor drain --wait showed no progress"
WAIT_S=5 wait_for status_is '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$IP2"':")][0]' left \
	|| { "$MEMXCTL" status; fail "donor 1 was not drained"; }
wait $fio_pid || { cat "$TEST_TMP/during.out"; fail "fio failed during the drain"; }
WAIT_S=20 wait_for status_is '[x["memory_free"] == x["memory_total"] for x in s if x and x["role"]=="donor" and x["listen"].startswith("'"$IP2"':")][0]' True \
	|| fail "donor 1 still lends memory after the drain"
fio_verify_only "$MEMX_DEV" 0 48M || fail "verify after the drain"
"$MEMXCTL" status

# SIGTERM: the donor asks to be drained and leaves once it holds nothing.
kill -TERM "$(bg_pid d2)"
start=$SECONDS
timeout 120 tail --pid="$(bg_pid d2)" -f /dev/null || fail "donor 2 did not leave"
wait "$(bg_pid d2)" || { bg_log d2; fail "donor 2 left with slabs it could not move"; }
grep -q 'left cleanly' "$TEST_TMP/d2.log" || fail "donor 2 did not say it left cleanly"
log "donor 2 left after $((SECONDS - start)) s"
fio_verify_only "$MEMX_DEV" 0 48M || fail "verify after donor 2 left"
fio_verify_only "$MEMX_DEV" 64M 32M || fail "verify of data written during the drain"
[ "$(status_get '[x["volumes"][0]["io"]["errors"] for x in s if x and x["role"]=="client"][0]')" = 0 ] \
	|| fail "I/O errors during graceful leaves"
stop_bg vol || fail "client did not stop"
