#!/usr/bin/env bash
# Engine restart under swap: a program in a cgroup four times smaller than its
# data writes and verifies a pattern in every page while the engine behind the
# swap device is killed (kill -9) at random moments and the same command is run
# again at once, ten times in a row. Every page verifies, the program is never
# killed, and the kernel logs no swap read error.
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod

start_donor d1 "$IP2" 512M
start_donor d2 "$IP3" 512M
args=(--size 512M --slab 4M --bind "$IP1" --donor "$IP2" --donor "$IP3" --recovery-timeout 60)
start_client swap "${args[@]}"
dev=$MEMX_DEV
mkswap "$dev" > /dev/null || fail "mkswap"
swapon "$dev" || fail "swapon"
on_exit "swapoff $dev"

rounds=0 runs=0 pauses=()
start_pattern() {
	runs=$((runs + 1))
	start_bg "pat$runs" run_in_memcg "memx-restart-$runs" 48M "$MEMX_TEST_BIN/swap_pattern" 192 "$runs"
}
start_pattern
while [ $rounds -lt 10 ]; do
	sleep "$(python3 -c 'import random; print(round(random.uniform(0.5, 3.0), 2))')"
	if exited "$(bg_pid "pat$runs")"; then
		wait "$(bg_pid "pat$runs")" || { bg_log "pat$runs"; fail "the pattern failed (run $runs)"; }
		bg_log "pat$runs"
		start_pattern
		continue
	fi
	rounds=$((rounds + 1))
	kill -9 "$(bg_pid swap)"
	WAIT_S=10 wait_for exited "$(bg_pid swap)" || fail "the engine did not die (round $rounds)"
	t0=$(date +%s.%N)
	start_client swap "${args[@]}"
	pauses+=("$(python3 -c "print(round($(date +%s.%N) - $t0, 2))")")
	[ "$MEMX_DEV" = "$dev" ] || fail "round $rounds: the new engine serves $MEMX_DEV, not $dev"
done
log "10 kills; new engine ready after: ${pauses[*]} s"
WAIT_S=240 wait_for exited "$(bg_pid "pat$runs")" || fail "the last pattern did not finish"
wait "$(bg_pid "pat$runs")" || { bg_log "pat$runs"; fail "the pattern failed (run $runs)"; }
bg_log "pat$runs"
log "$runs pattern runs verified every page across 10 engine restarts"
! dmesg | grep -qi "read-error on swap-device\|write-error on swap-device" ||
	{ dmesg | grep -i "error on swap" | head; fail "the kernel saw swap I/O errors"; }
swapoff "$dev" || fail "swapoff"
stop_bg swap || fail "the last engine did not stop cleanly"
