#!/usr/bin/env bash
# Two processes bound to two IPs connect through verbs/, exchange messages,
# and do one-sided RDMA WRITE and READ of a 1 MiB region, comparing every byte.
. "$(dirname "$0")/common.sh"
need_rxe

start_bg server "$MEMX_TEST_BIN/verbs_pingpong" server --bind "$IP1" --count 1
wait_for grep -q 'listening on' "$TEST_TMP/server.log" || { bg_log server; fail "server did not listen"; }
timeout 60 "$MEMX_TEST_BIN/verbs_pingpong" client --bind "$IP2" --server "$IP1" \
	${MEMX_CORRUPT_READBACK:+--corrupt-readback} || { bg_log server; fail "client failed"; }
wait "$(bg_pid server)" || { bg_log server; fail "server failed"; }
bg_log server
