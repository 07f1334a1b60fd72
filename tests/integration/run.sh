#!/usr/bin/env bash
# tests/integration/run.sh [TEST...]: runs the integration tests (all
# test_*.sh by default) as root on a machine that can load memx.ko and has an
# RDMA device (the guest, or a real host). Each test runs under a time limit;
# after each, the kernel log is scanned for BUG/WARNING/Oops/lockdep reports.
# Prints TAP and a closing 'N passed, N failed, N skipped' line; writes the
# counts to $MEMX_OUT/integration.counts when MEMX_OUT is set.
# MEMX_UBLK_TESTS="test_x.sh ...": run those again afterwards with their
# engines on the kernel's ublk (MEMX_TEST_BACKEND=ublk, common.sh), named
# ublk/test_x (logs ublk-test_x.log); ci/test sets it on kernels with ublk.
set -u
here=$(cd "$(dirname "$0")" && pwd)
per_test_timeout=${MEMX_TEST_TIMEOUT:-300}

if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=("$here"/test_*.sh)
fi

for t in ${MEMX_UBLK_TESTS:-}; do
	tests+=("ublk:$t")
done

pass=0 fail=0 skip=0 n=0
echo "1..${#tests[@]}"
for t in "${tests[@]}"; do
	backend=
	case $t in ublk:*) backend=ublk t=${t#ublk:} ;; esac
	[ -f "$t" ] || t=$here/$t
	name=$(basename "$t" .sh)
	[ -z "$backend" ] || name=$backend/$name
	log=/tmp/${name//\//-}.log
	n=$((n + 1))
	dmesg -C 2>/dev/null
	start=$SECONDS
	timeout -k 10 "$per_test_timeout" env MEMX_TEST_BACKEND="${backend:-${MEMX_TEST_BACKEND:-}}" bash "$t" \
		> "$log" 2>&1
	rc=$?
	secs=$((SECONDS - start))
	kernel=$(dmesg 2>/dev/null | grep -E 'BUG:|WARNING:|Oops|general protection|possible circular locking|INFO: task .* blocked|Call Trace' | head -n 20)
	if [ -n "$kernel" ] && [ "$rc" != 77 ]; then
		echo "# kernel reported problems during $name:"
		echo "$kernel" | sed 's/^/#   /'
		rc=1
	fi
	case $rc in
	0) pass=$((pass + 1)); echo "ok $n - $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "ok $n - $name # SKIP $(grep -m1 '^SKIP' "$log")" ;;
	*)
		fail=$((fail + 1))
		[ "$rc" = 124 ] && echo "# $name timed out after ${per_test_timeout}s"
		echo "# --- output of $name (exit $rc) ---"
		tail -n 60 "$log" | sed 's/^/# /'
		echo "# --- kernel log ---"
		dmesg 2>/dev/null | tail -n 30 | sed 's/^/# /'
		echo "not ok $n - $name (exit $rc, ${secs}s)"
		;;
	esac
	if [ -n "${MEMX_OUT:-}" ]; then
		cp "$log" "$MEMX_OUT/" 2>/dev/null
	fi
done
[ -n "${MEMX_OUT:-}" ] && echo "$pass $fail $skip" > "$MEMX_OUT/integration.counts"
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
