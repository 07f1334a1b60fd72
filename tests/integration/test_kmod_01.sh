#!/usr/bin/env bash
# memx.ko loads, creates its control device, and unloads cleanly; twice.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

! kmod_loaded || fail "memx already loaded before the test"
for cycle in 1 2; do
	insmod "$MEMX_KO" || fail "cycle $cycle: insmod failed"
	wait_for test -c /dev/memx-control || fail "cycle $cycle: /dev/memx-control did not appear"
	rmmod memx || fail "cycle $cycle: rmmod failed"
	! kmod_loaded || fail "cycle $cycle: still loaded after rmmod"
	[ ! -e /dev/memx-control ] || wait_for test ! -e /dev/memx-control \
		|| fail "cycle $cycle: control device left behind"
	log "cycle $cycle: load and unload ok"
done
