#!/usr/bin/env bash
# kmod_fuzz: random ioctl sequences and random COMMITs at memx.ko with real
# I/O in between, from several processes, for MEMX_KFUZZ_SECONDS (default
# 30 in ci/test, which must stay under 30 minutes; MEMX_FUZZ_KERNEL_SECONDS=600
# ci/fuzz runs it for minutes). MEMX_KFUZZ_SEED picks the seed (default: random,
# printed), MEMX_KFUZZ_THREADS the worker processes (default 4),
# MEMX_KFUZZ_ARGS more options (--worker-seed W, --no-kill). Then: the
# fuzzer's own invariants held (documented errnos only, no success for
# invalid input, no hang), every /dev/memxN is gone once every fd is closed,
# and `rmmod memx` succeeds (no leaked reference). run.sh scans dmesg for
# BUG/WARNING/Oops after the test.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

secs=${MEMX_KFUZZ_SECONDS:-30}
threads=${MEMX_KFUZZ_THREADS:-4}
seed_arg=()
[ -n "${MEMX_KFUZZ_SEED:-}" ] && seed_arg=(--seed "$MEMX_KFUZZ_SEED")
# MEMX_KFUZZ_ARGS: more kmod_fuzz options, e.g. "--worker-seed W --no-kill"
# to replay one worker seed printed in a VIOLATION line.
read -r -a extra_args <<< "${MEMX_KFUZZ_ARGS:-}"

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"

log "kmod_fuzz for ${secs}s with $threads workers"
# The fuzzer bounds its own waits (workers 200 s past the deadline at most,
# then 30 s for stragglers and 20 s for volumes to go); this is the backstop.
timeout -k 10 $((secs + 400)) "$MEMX_TEST_BIN/kmod_fuzz" --seconds "$secs" --threads "$threads" \
	"${seed_arg[@]}" "${extra_args[@]}" > "$TEST_TMP/kfuzz.log" 2>&1
rc=$?
cat "$TEST_TMP/kfuzz.log"
grep -m1 '^kmod_fuzz: seed' "$TEST_TMP/kfuzz.log" | sed 's/^/# /'
case $rc in
0) ;;
124|137) fail "kmod_fuzz hung (killed by timeout)" ;;
2) fail "kmod_fuzz reported a hang" ;;
77) fail "kmod_fuzz skipped although memx.ko is loaded" ;;
*) fail "kmod_fuzz exited $rc" ;;
esac
grep -q '^kmod_fuzz: PASS' "$TEST_TMP/kfuzz.log" || fail "kmod_fuzz did not report PASS"
! grep -Eq '^(VIOLATION|HANG)' "$TEST_TMP/kfuzz.log" || fail "kmod_fuzz printed violations"
# It must have done real work: volumes served, commits taken, disk I/O.
for what in 'serve rounds' 'soup rounds' 'commit entries taken'; do
	n=$(sed -n "s/^  $what  *\([0-9]*\)$/\1/p" "$TEST_TMP/kfuzz.log")
	[ "${n:-0}" -gt 0 ] || fail "kmod_fuzz did no '$what'"
done
grep -Eq '^  disk (read|write) +[0-9]+ calls +[1-9]' "$TEST_TMP/kfuzz.log" \
	|| fail "kmod_fuzz did no successful disk I/O"

# Every volume goes once its fds are closed, and nothing holds the module.
WAIT_S=20 wait_for eval '! ls /dev/memx[0-9]* >/dev/null 2>&1' \
	|| fail "volumes left behind: $(ls /dev/memx[0-9]* 2>&1)"
[ "$(cat /sys/module/memx/refcnt 2>/dev/null || echo 0)" = 0 ] \
	|| WAIT_S=20 wait_for eval '[ "$(cat /sys/module/memx/refcnt)" = 0 ]' \
	|| fail "memx refcnt $(cat /sys/module/memx/refcnt) after the fuzzer ended"
WAIT_S=20 wait_for rmmod memx || fail "rmmod memx after kmod_fuzz failed (leaked reference?)"
! kmod_loaded || fail "memx still loaded after rmmod"
if dmesg | grep -Eq 'BUG:|WARNING:|Oops|general protection|Call Trace'; then
	dmesg | grep -E -B2 -A20 'BUG:|WARNING:|Oops|general protection' | head -n 60
	fail "kernel reported problems during the fuzz run"
fi
log "passed ($(grep -c '' "$TEST_TMP/kfuzz.log") lines of fuzzer output)"
