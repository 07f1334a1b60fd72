#!/usr/bin/env bash
# A peer that connects with a malformed or oversized hello is rejected with a
# clear reason, and the listener keeps serving a well-formed client after it.
. "$(dirname "$0")/common.sh"
need_rxe

start_bg server "$MEMX_TEST_BIN/verbs_pingpong" server --bind "$IP1" --count 1
# Not a fixed sleep: on a loaded machine the listener took longer than 0.5 s.
wait_for grep -q 'listening on' "$TEST_TMP/server.log" || { bg_log server; fail "server did not listen"; }
timeout 60 "$MEMX_TEST_BIN/verbs_badhello" --bind "$IP3" --server "$IP1" \
	|| { bg_log server; fail "bad hellos were not all rejected as expected"; }
kill -0 "$(bg_pid server)" || fail "listener died after bad hellos"
timeout 60 "$MEMX_TEST_BIN/verbs_pingpong" client --bind "$IP2" --server "$IP1" \
	|| { bg_log server; fail "good client failed after bad hellos"; }
wait "$(bg_pid server)" || { bg_log server; fail "server failed"; }
grep -qi 'reject' "$TEST_TMP/server.log" || fail "server did not log the rejections"
bg_log server
