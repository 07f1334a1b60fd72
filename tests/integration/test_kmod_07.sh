#!/usr/bin/env bash
# Hardening of memx.ko (kmod_harden): the volume commands need CAP_SYS_ADMIN
# (an unprivileged process with a control fd, passed to it or opened through a
# 0666 copy of the node, gets EPERM; GET_FEATURES/GET_INFO stay open); only the
# volume owner's thread group binds its queues; the queue mapping is never
# executable and is not copied into a forked child, and an engine that dies
# with a forked child alive still fails its I/O at once; per-queue buffers are
# charged to the caller's memory cgroup. Then the module unloads.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"

# harden_ok MODE RC: kmod_harden MODE (log in $TEST_TMP/harden-MODE.log) exited
# RC and must have reported all checks passed.
harden_ok() {
	local mode=$1 rc=$2
	sed "s/^/  [$mode] /" "$TEST_TMP/harden-$mode.log"
	[ "$rc" != 124 ] || fail "kmod_harden $mode hung (killed after 90 s)"
	[ "$rc" = 0 ] || fail "kmod_harden $mode exited $rc"
	grep -Eq "^kmod_harden $mode: all [0-9]+ checks passed" "$TEST_TMP/harden-$mode.log" \
		|| fail "kmod_harden $mode did not report all checks passed"
}
# harden MODE [ARGS]: runs kmod_harden MODE and checks it with harden_ok.
harden() {
	timeout 90 "$MEMX_TEST_BIN/kmod_harden" "$@" > "$TEST_TMP/harden-$1.log" 2>&1
	harden_ok "$1" $?
}

log "unprivileged callers get EPERM"
harden perm
# A 0666 copy of the node, opened by uid 65534 itself.
chmod 711 "$TEST_TMP"
mknod -m 666 "$TEST_TMP/ctl" c "$(cut -d: -f1 /sys/class/misc/memx-control/dev)" \
	"$(cut -d: -f2 /sys/class/misc/memx-control/dev)" || fail "mknod a copy of /dev/memx-control"
harden unpriv-open "$TEST_TMP/ctl"

log "only the owner binds its queues"
harden bind-other

log "the queue mapping is not executable"
harden mmap-exec

log "an engine dying with a forked child alive: I/O fails at once"
harden fork

log "the same with a volume that outlives its engine: held, then served by a new one"
harden fork-recovery

log "an engine that stops committing while it lives is deposed; the next one gets new buffers"
harden depose

log "queue buffers are charged to the caller's memory cgroup"
run_in_memcg memx-harden 128M timeout 90 "$MEMX_TEST_BIN/kmod_harden" memcg \
	> "$TEST_TMP/harden-memcg.log" 2>&1
harden_ok memcg $?

WAIT_S=15 wait_for eval '! ls /dev/memx[0-9]* >/dev/null 2>&1' \
	|| fail "a volume was left behind: $(ls /dev/memx[0-9]* 2>&1)"
WAIT_S=15 wait_for rmmod memx || fail "rmmod after kmod_harden failed"
log "passed"
