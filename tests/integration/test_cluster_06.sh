#!/usr/bin/env bash
# Missed heartbeats: a donor that stops answering (SIGSTOP: no disconnect, its
# kernel still serves one-sided RDMA) is declared lost by the client's
# heartbeat; its slabs are re-replicated and I/O goes on without an error.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_donor d3 "$IP4" 256M
start_client vol --size 128M --slab 4M --replicas 2 --rereplicate-rate 256M --bind "$IP1" \
	--donor "$IP2" --donor "$IP3" --donor "$IP4"
fio_write_verify "$MEMX_DEV" 0 32M || fail "initial verify"
kill -STOP "$(bg_pid d2)"
on_exit "kill -CONT $(bg_pid d2)"
start=$SECONDS
WAIT_S=60 wait_for grep -q "donor $IP3:7471 lost" "$TEST_TMP/vol.log" \
	|| fail "a donor that stopped answering was not declared lost"
log "donor declared lost $((SECONDS - start)) s after it stopped answering"
grep "donor $IP3:7471 lost" "$TEST_TMP/vol.log"
fio_write_verify "$MEMX_DEV" 64M 32M || fail "verify after the donor was lost"
WAIT_S=60 wait_for status_is '[x["volumes"][0]["rereplication_backlog"] for x in s if x and x["role"]=="client"][0]' 0 \
	|| fail "backlog did not drain"
fio_verify_only "$MEMX_DEV" 0 32M || fail "old data after re-replication"
[ "$(status_get '[x["volumes"][0]["io"]["errors"] for x in s if x and x["role"]=="client"][0]')" = 0 ] \
	|| fail "I/O errors"
stop_bg vol || fail "client did not stop"
