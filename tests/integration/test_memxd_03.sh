#!/usr/bin/env bash
# Swap on remote memory: mkswap + swapon on the volume, then a program in a
# cgroup v2 group whose memory.max is a quarter of what it allocates writes a
# distinct pattern to every page and verifies every page. The swap counters
# must show pages went out and came back.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

start_donor d1 "$IP2" 512M
start_donor d2 "$IP3" 512M
start_client swap --size 512M --slab 4M --bind "$IP1" --donor "$IP2" --donor "$IP3"
mkswap "$MEMX_DEV" > /dev/null || fail "mkswap"
swapon "$MEMX_DEV" || fail "swapon"
on_exit "swapoff $MEMX_DEV"

out0=$(vmstat pswpout) in0=$(vmstat pswpin)
run_in_memcg memx-swap-test 48M "$MEMX_TEST_BIN/swap_pattern" 192 || fail "pattern check failed (or the program was killed)"
out1=$(vmstat pswpout) in1=$(vmstat pswpin)
log "pswpout +$((out1 - out0)) pswpin +$((in1 - in0))"
[ $((out1 - out0)) -gt 10000 ] || fail "too few pages swapped out: $((out1 - out0))"
[ $((in1 - in0)) -gt 10000 ] || fail "too few pages swapped in: $((in1 - in0))"
"$MEMXCTL" status

# Removing the volume while it is swap is refused.
kill -TERM "$(bg_pid swap)"
WAIT_S=10 wait_for grep -q 'in use' "$TEST_TMP/swap.log" || fail "no refusal while swap is on"
kill -0 "$(bg_pid swap)" || fail "client exited while its volume was swap"
swapoff "$MEMX_DEV" || fail "swapoff"
stop_bg swap || fail "client did not exit after swapoff"
