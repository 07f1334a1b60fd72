# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# ci/run-lib.sh: sourced by the scripts that run memx to measure it (demo-run.sh,
# profile-run.sh, bench-ab-run.sh, bench-cluster-run.sh), as root where memx.ko is
# built and Soft-RoCE is up: where things are, the processes a script starts and
# their teardown on exit, and waiting for a line in a log.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MEMX_BUILD:-$root/build}
memxd=$build/daemon/memxd
memxctl=$build/daemon/memxctl
work=$(mktemp -d /tmp/memx-run.XXXXXX)
pids=()	# every background process to stop on exit

# memx_run_cleanup: SIGTERM to every process in pids, SIGKILL a second later, then
# memx.ko out. A script with more to undo calls it from its own EXIT trap.
memx_run_cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	if grep -q '^memx ' /proc/modules; then rmmod memx 2>/dev/null || true; fi
}
trap memx_run_cleanup EXIT

# memx_key: every memxd authenticates its peers with the cluster key (README,
# "Security"), made once with memxctl keygen and copied to every host; here all
# of memx runs on one machine (the guest, whose /etc is a throwaway overlay).
memx_key=/etc/memx/cluster.key
memx_key_setup() {
	[ -s "$memx_key" ] && return 0
	mkdir -p /etc/memx && chmod 700 /etc/memx
	"$memxctl" keygen "$memx_key"
}
memx_key_setup > /dev/null

# wait_line FILE PATTERN: waits up to 60 s for PATTERN in FILE; prints FILE if it never comes.
wait_line() {
	for _ in $(seq 300); do grep -q "$2" "$1" && return 0; sleep 0.2; done
	cat "$1"
	return 1
}

# start_donor ADDR MEMORY: memxd donor in the background (log: $work/donor-ADDR.log),
# back once it listens.
start_donor() {
	# One guest plays several hosts: each donor is its own (replicas never share a host).
	"$memxd" donor --listen "$1" --memory "$2" --host "h-$1" > "$work/donor-$1.log" 2>&1 &
	pids+=($!)
	wait_line "$work/donor-$1.log" '^listening'
}
