#!/usr/bin/env bash
# A donor cannot promise more memory than its machine has: `--memory 100T` on
# a guest with a few GiB is refused with the figures and the way out, and
# starts only with --force. (Before, it started and advertised 100 TiB, won
# every placement by power of two choices, and failed the grants.)
. "$(dirname "$0")/common.sh"
need_rxe

if timeout 30 "$MEMXD" donor --listen "$IP2" --memory 100T > "$TEST_TMP/out" 2> "$TEST_TMP/err"; then
	fail "a donor with --memory 100T started"
fi
grep -q 'more than this machine can lend: it has [0-9]* MiB of RAM' "$TEST_TMP/err" ||
	{ cat "$TEST_TMP/err"; fail "no clear message for --memory 100T"; }
grep -q -- '--force' "$TEST_TMP/err" || fail "the message does not say how to go on anyway"
! grep -q '^listening' "$TEST_TMP/out" || fail "it listened"
log "refused: $(cat "$TEST_TMP/err")"

total_mib=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
start_donor ok "$IP2" "$((total_mib / 2))M"
stop_bg ok || fail "a donor lending half the machine did not stop cleanly"
start_donor forced "$IP3" 100T --force
"$MEMXCTL" status --json --socket "/run/memx/donor-$IP3-7471.sock" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["memory_total"] == 100 << 40, d' || fail "--force did not lend what it was told"
stop_bg forced || fail "the forced donor did not stop cleanly"
