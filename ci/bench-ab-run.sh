#!/usr/bin/env bash
# ci/bench-ab-run.sh: ci/bench-ab's measuring half, run as root with memx.ko built and
# Soft-RoCE up. MEMX_AB_A: the directory of engine A's memxd and memxctl; engine B is
# $MEMX_BUILD/daemon's.
set -euo pipefail
# shellcheck source=ci/run-lib.sh
. "$(dirname "$0")/run-lib.sh"
a_dir=${MEMX_AB_A:?MEMX_AB_A: engine A\'s directory}
a_name=${MEMX_AB_A_NAME:-A}
runtime=${MEMX_AB_RUNTIME:-5}
rounds=${MEMX_AB_ROUNDS:-2}
swap_mib=${MEMX_AB_SWAP_MIB:-256}
jobs=${MEMX_AB_JOBS-randread:1 randwrite:1 randread:32 randwrite:32 randread:1:polled randwrite:1:polled}
# shellcheck disable=SC2206 # lists of options
extra=(${MEMX_AB_CLIENT_ARGS:-})
# shellcheck disable=SC2206
a_args=(${MEMX_AB_A_ARGS:-})
# shellcheck disable=SC2206
b_args=(${MEMX_AB_B_ARGS:---poll-queues 1})

insmod "$build/kmod/memx.ko"
start_donor 10.77.0.2 512M
start_donor 10.77.0.3 512M

# snap DIR PID: "requests syscalls user_ticks system_ticks" of the engine serving volume ab.
snap() {
	"$1/memxctl" status --json --socket /run/memx/client-ab.sock | python3 -c '
import json, sys
io = json.load(sys.stdin)["volumes"][0]["io"]
st = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print(io["reads"] + io["writes"], io["wakeups"] + io["commits"] + io["rdma_posts"] + io["cq_arms"],
      st[11], st[12])' "$2"
}

# engine_run LABEL DIR [client options]: one engine, one fresh volume, every job.
engine_run() {
	local label=$1 dir=$2 pid dev hipri job rw qd polled r0 s0 u0 k0 r1 s1 u1 k1
	shift 2
	"$dir/memxd" client --name ab --size 384M --slab 16M --queues 2 --depth 64 --replicas 1 \
		--bind 10.77.0.1 --donor 10.77.0.2 --donor 10.77.0.3 "${extra[@]}" "$@" \
		> "$work/client.log" 2>&1 &
	pid=$!
	wait_line "$work/client.log" '^ready'
	dev=$(sed -n 's/^ready //p' "$work/client.log")
	fio --name=fill --filename="$dev" --rw=write --bs=1M --direct=1 --ioengine=io_uring \
		--iodepth=8 --size=384M > /dev/null
	for job in $jobs; do
		IFS=: read -r rw qd polled think <<< "$job"
		hipri=0
		if [ -n "$polled" ]; then
			[ "$(cat "/sys/block/${dev#/dev/}/queue/io_poll")" = 1 ] || continue
			hipri=1
		fi
		read -r r0 s0 u0 k0 < <(snap "$dir" "$pid")
		fio --name=ab --filename="$dev" --rw="$rw" --bs=4k --direct=1 --ioengine=io_uring \
			--hipri="$hipri" --iodepth="$qd" --thinktime="${think:-0}" --time_based --runtime="$runtime" \
			--ramp_time=1 --output-format=json --eta=never --output="$work/fio.json"
		read -r r1 s1 u1 k1 < <(snap "$dir" "$pid")
		python3 - "$work/fio.json" "$label" "$rw${polled:+ polled}${think:+ think $think}" "$qd" $((r1 - r0)) \
			$((s1 - s0)) $((u1 - u0)) $((k1 - k0)) "$(getconf CLK_TCK)" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
rw = sys.argv[3]
s = j["read"] if rw.startswith("randread") else j["write"]
reqs, calls, user, system, hz = (int(x) for x in sys.argv[5:10])
per = 1e6 / hz / max(reqs, 1)
print("%-12s %-17s QD%-3s %8.0f %9.1f %10.2f %9.1f %9.1f" % (
    sys.argv[2], rw, sys.argv[4], s["iops"], s["lat_ns"]["mean"] / 1000, calls / max(reqs, 1),
    user * per, system * per))
PY
	done
	# The swap workload: every page of swap_mib MiB written then verified, in a cgroup
	# allowed a quarter of it.
	if [ "$swap_mib" -gt 0 ]; then
		local cg=/sys/fs/cgroup/memx-ab t0 t1 o0 o1
		mkswap -f "$dev" > /dev/null && swapon "$dev"
		mkdir -p "$cg"
		echo $((swap_mib / 4))M > "$cg/memory.max"
		o0=$(awk '$1=="pswpout"{print $2}' /proc/vmstat)
		t0=$(date +%s.%N)
		( echo $BASHPID > "$cg/cgroup.procs"; exec "$build/tests/integration/swap_pattern" \
			"$swap_mib" ) > "$work/swap.log" 2>&1 || echo "swap_pattern failed: $(cat "$work/swap.log")"
		t1=$(date +%s.%N)
		o1=$(awk '$1=="pswpout"{print $2}' /proc/vmstat)
		swapoff "$dev"
		rmdir "$cg"
		printf '%-12s %-17s %s MiB in %s MiB: %.1f s, %d pages out\n' "$label" "swap workload" \
			"$swap_mib" $((swap_mib / 4)) "$(echo "$t1 - $t0" | bc)" $((o1 - o0))
	fi
	kill -TERM "$pid"
	wait "$pid" || true
}

printf '%-12s %-17s %-5s %8s %9s %10s %9s %9s\n' engine job QD IOPS "mean us" "calls/req" \
	"user us" "sys us"
for _ in $(seq "$rounds"); do
	engine_run "$a_name" "$a_dir" "${a_args[@]}"
	engine_run "working-tree" "$build/daemon" "${b_args[@]}"
done
echo "(per request: the engine's system calls (io_uring waits, commits, RDMA posts, CQ arms)"
echo " and CPU time; its system time includes Soft-RoCE's packet work, done inside its RDMA"
echo " system calls; --replicas 1, 2 queues, depth 64; under QEMU TCG compare ratios only)"
