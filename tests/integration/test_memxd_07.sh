#!/usr/bin/env bash
# A donor facing a misbehaving client: malformed control messages are dropped
# and the connection keeps serving; bad requests get an errno; a granted slab
# is zeros; another client volume cannot reach it with its rkey; a freed
# slab's rkey stops working. The donor stays up throughout.
. "$(dirname "$0")/common.sh"
need_rxe

start_donor d1 "$IP2" 16M
timeout 120 "$MEMX_TEST_BIN/memx_badmsg" --bind "$IP1" --donor "$IP2" --memory $((16 << 20)) \
	|| fail "memx_badmsg found a broken promise"
kill -0 "$(bg_pid d1)" || fail "donor died"
grep -q 'bad control message' "$TEST_TMP/d1.log" || fail "donor did not log the malformed messages"
stop_bg d1 || fail "donor did not stop on SIGTERM"
