#!/usr/bin/env bash
# kmod_badioctl: every bad control-device input gets its documented errno and
# the module keeps working (serves I/O, deletes a volume, fails I/O when the
# engine dies); then the module unloads.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"

timeout 60 "$MEMX_TEST_BIN/kmod_badioctl" > "$TEST_TMP/badioctl.log" 2>&1
rc=$?
cat "$TEST_TMP/badioctl.log"
case $rc in
0) ;;
124) fail "kmod_badioctl hung (killed after 60 s)" ;;
77) fail "kmod_badioctl skipped although memx.ko is loaded" ;;
*) fail "kmod_badioctl exited $rc" ;;
esac
grep -Eq '^kmod_badioctl: all [0-9]+ checks passed' "$TEST_TMP/badioctl.log" \
	|| fail "kmod_badioctl did not report all checks passed"
! grep -q '^FAIL' "$TEST_TMP/badioctl.log" || fail "kmod_badioctl printed failures"

# No volume may be left behind: the module must unload now.
WAIT_S=10 wait_for test ! -e /dev/memx0 || fail "a volume was left behind: $(ls /dev/memx[0-9]* 2>&1)"
rmmod memx || fail "rmmod after kmod_badioctl failed"
log "kmod_badioctl passed, module unloaded"
