#!/usr/bin/env bash
# Polled I/O and the engine's sleep/wake protocol. A volume with one polled
# queue: /dev/memxN says it can poll, fio --hipri (io_uring IOPOLL) passes
# verification at QD1 and QD16 and is served by the polled queue only, while
# plain I/O goes to the other queues. The engine runs with --poll-us 0, so it
# sleeps after every request: a lost wake-up would hang fio (the timeout
# of run.sh fails the test). A bad --poll-queues is refused.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_client pq --size 128M --slab 4M --queues 2 --poll-queues 1 --poll-us 0 --depth 32 \
	--bind "$IP1" --donor "$IP2" --donor "$IP3"
dev=${MEMX_DEV#/dev/}
[ "$(cat "/sys/block/$dev/queue/io_poll")" = 1 ] || fail "$MEMX_DEV does not offer polled I/O"

# queue_requests: requests each engine queue served (the polled one last).
queue_requests() {
	"$MEMXCTL" status --json | python3 -c '
import json, sys
c = [s for s in json.load(sys.stdin) if s and s["role"] == "client"][0]["volumes"][0]
assert c["poll_queues"] == 1 and c["queues"] == 3, c
print(" ".join(str(n) for n in c["queue_requests"]))'
}

read -r a0 b0 p0 < <(queue_requests)
fio_verify "$MEMX_DEV" --rw=randwrite --bs=4k --iodepth=1 --hipri=1 --size=8M \
	|| fail "polled fio at QD1 failed verification"
fio_verify "$MEMX_DEV" --rw=randwrite --bs=4k --iodepth=16 --hipri=1 --size=16M \
	--offset=32M || fail "polled fio at QD16 failed verification"
read -r a1 b1 p1 < <(queue_requests)
log "polled runs: queue requests $((a1 - a0)) $((b1 - b0)) polled $((p1 - p0))"
# 2048 + 4096 writes, each then read back: at least 12288 requests, all polled.
[ $((p1 - p0)) -ge 12288 ] || fail "the polled queue served only $((p1 - p0)) requests"
[ $((a1 - a0 + b1 - b0)) -eq 0 ] || fail "polled I/O reached the other queues"

fio_verify "$MEMX_DEV" --rw=randwrite --bs=4k --iodepth=1 --size=8M --offset=64M \
	|| fail "plain fio at QD1 failed verification"
read -r a2 b2 p2 < <(queue_requests)
[ $((p2 - p1)) -eq 0 ] || fail "plain I/O reached the polled queue"
[ $((a2 - a1 + b2 - b1)) -ge 4096 ] || fail "plain I/O was not served by the other queues"
stop_bg pq || fail "client did not stop"

C=("$MEMXD" client --name bad --size 64M --donor "$IP2")
"${C[@]}" --queues 10 --poll-queues 7 > "$TEST_TMP/out" 2>&1 && fail "17 queues were accepted"
grep -q -- "--poll-queues" "$TEST_TMP/out" || fail "no clear error for too many queues"
"${C[@]}" --poll-us 100001 > "$TEST_TMP/out" 2>&1 && fail "--poll-us 100001 was accepted"
grep -q -- "--poll-us" "$TEST_TMP/out" || fail "no clear error for --poll-us"
true
