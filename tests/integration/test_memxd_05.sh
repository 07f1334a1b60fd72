#!/usr/bin/env bash
# Bad input gets a clear message and a non-zero exit, and leaves nothing
# behind: CLI values, unknown options, unreachable donors, bad hellos sent to
# a donor (which keeps serving).
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

# expect_fail PATTERN CMD...: CMD must exit non-zero and say PATTERN on stderr.
expect_fail() {
	local pattern=$1; shift
	if timeout 60 "$@" > "$TEST_TMP/out" 2> "$TEST_TMP/err"; then
		fail "'$*' succeeded"
	fi
	grep -qi -- "$pattern" "$TEST_TMP/err" || { cat "$TEST_TMP/err"; fail "'$*': no message like '$pattern'"; }
	log "refused as expected: $* -> $(head -n 1 "$TEST_TMP/err")"
}

C="$MEMXD client --name bad --bind $IP1"
expect_fail "size" $C --size 0 --donor "$IP2"
expect_fail "multiple of 4K" $C --size 1000 --donor "$IP2"
expect_fail "multiple of 4K" $C --size 100T --donor "$IP2"
expect_fail "not a size" $C --size 12Q --donor "$IP2"
expect_fail "donor" $C --size 64M
expect_fail "power of two" $C --size 64M --donor "$IP2" --slab 3M
expect_fail "power of two" $C --size 64M --donor "$IP2" --max-io 3K
expect_fail "--queues" $C --size 64M --donor "$IP2" --queues 0
expect_fail "--depth" $C --size 64M --donor "$IP2" --depth 100000
expect_fail "ADDR" $C --size 64M --donor "$IP2:99999"
expect_fail "unrecognized\|unknown" $C --size 64M --donor "$IP2" --bogus
expect_fail "replicas" $C --size 64M --donor "$IP2" --replicas 2
expect_fail "memory" "$MEMXD" donor --listen "$IP2" --memory 0
expect_fail "not a size" "$MEMXD" donor --listen "$IP2" --memory lots
expect_fail "ADDR" "$MEMXD" donor --listen "$IP2:0x10" --memory 1G
expect_fail "unknown role" "$MEMXD" helper
expect_fail "unknown command" "$MEMXCTL" frobnicate

# Nobody listens there: a clear error, and no volume left behind.
expect_fail "cannot connect\|refused\|unreachable" $C --size 64M --donor "$IP4"
ls /dev/memx[0-9]* 2>/dev/null && fail "a volume was left behind by a failed start"

# A donor rejects bad hellos with a reason and keeps serving.
start_donor d1 "$IP2" 64M
timeout 60 "$MEMX_TEST_BIN/verbs_badhello" --bind "$IP3" --server "$IP2" \
	|| fail "the donor did not reject every bad hello as expected"
grep -q 'rejected connection' "$TEST_TMP/d1.log" || fail "donor did not log the rejections"
kill -0 "$(bg_pid d1)" || fail "donor died from bad hellos"
start_client good --size 64M --slab 4M --bind "$IP1" --donor "$IP2"
echo hello | dd of="$MEMX_DEV" oflag=direct conv=sync bs=4k status=none || fail "I/O after bad hellos"
stop_bg good || fail "client did not stop"
stop_bg d1 || fail "donor did not stop on SIGTERM"
"$MEMXCTL" status > /dev/null 2>&1 && fail "memxctl status succeeded with no memxd running"
rmmod memx || fail "module busy after the bad-input run"
