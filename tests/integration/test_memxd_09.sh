#!/usr/bin/env bash
# MEMXD_DEBUG turns on debug lines by area: with queue, io and ctrl (1|2|32)
# a client logs its queue threads' sleeps, each request and the slabs its
# control thread maps, and nothing of the areas left off (proto 16); without
# MEMXD_DEBUG it logs no debug line at all.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

start_donor d1 "$IP2" 64M
export MEMXD_DEBUG=0x23
start_client dbg --size 16M --slab 4M --bind "$IP1" --donor "$IP2"
unset MEMXD_DEBUG
dd if=/dev/urandom of="$MEMX_DEV" bs=4k count=4 oflag=direct status=none || fail "write failed"
dd if="$MEMX_DEV" of=/dev/null bs=4k count=4 iflag=direct status=none || fail "read failed"
stop_bg dbg || { bg_log dbg; fail "client did not stop"; }
bg_log dbg | grep -q ' debug: queue [0-9]*: sleeps' || { bg_log dbg | tail; fail "no queue debug line"; }
bg_log dbg | grep -q ' debug: queue [0-9]* tag [0-9]*: op 1 at 0, 4096 bytes: done (0)' \
	|| { bg_log dbg | tail; fail "no io debug line for the first write"; }
bg_log dbg | grep -q ' debug: volume dbg: slab 0 mapped on 1 donor' \
	|| { bg_log dbg | tail; fail "no ctrl debug line for the mapping"; }
! bg_log dbg | grep -q ' debug: donor .*seq' || fail "proto lines without the proto area"

start_client quiet --size 16M --slab 4M --bind "$IP1" --donor "$IP2"
dd if=/dev/urandom of="$MEMX_DEV" bs=4k count=4 oflag=direct status=none || fail "write failed"
stop_bg quiet || { bg_log quiet; fail "client did not stop"; }
! bg_log quiet | grep -q ' debug: ' || fail "debug lines without MEMXD_DEBUG"
log "debug areas: $(bg_log dbg | grep -c ' debug: ') lines with 0x23, none without"
