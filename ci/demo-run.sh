#!/usr/bin/env bash
# ci/demo-run.sh: the main job, run as root on a machine with memx.ko built and
# Soft-RoCE up (ci/demo runs it in the guest). Two donors lend memory over
# RDMA; a client turns it into /dev/memx0; it becomes swap for a program that
# needs four times the memory its cgroup allows; then fio measures 4 KiB
# random reads and writes at queue depth 1 and 32 on a second volume.
set -euo pipefail
# shellcheck source=ci/run-lib.sh
. "$(dirname "$0")/run-lib.sh"
runtime=${MEMX_DEMO_RUNTIME:-10}

cleanup() {
	swapoff /dev/memx0 2>/dev/null || true
	rmdir /sys/fs/cgroup/memx-demo 2>/dev/null || true
	memx_run_cleanup
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

insmod "$build/kmod/memx.ko"
say "a cluster key that every memx host holds: only its holders can lend or borrow"
rm -f "$memx_key"
memx_key_setup
ls -l "$memx_key"
say "two donors lend 768 MiB each over Soft-RoCE"
start_donor 10.77.0.2 768M
start_donor 10.77.0.3 768M

say "a client makes /dev/memx0 (512 MiB) from their memory"
"$memxd" client --name swap --size 512M --slab 16M --queues 2 --depth 32 --bind 10.77.0.1 \
	--donor 10.77.0.2 --donor 10.77.0.3 > "$work/swap.log" 2>&1 & pids+=($!)
wait_line "$work/swap.log" '^ready'
grep '^ready' "$work/swap.log"
mkswap /dev/memx0 > /dev/null
swapon /dev/memx0
swapon --show

say "a program that needs 384 MiB runs in a cgroup limited to 96 MiB"
mkdir -p /sys/fs/cgroup/memx-demo
echo 96M > /sys/fs/cgroup/memx-demo/memory.max
out0=$(awk '$1=="pswpout"{print $2}' /proc/vmstat); in0=$(awk '$1=="pswpin"{print $2}' /proc/vmstat)
start=$(date +%s.%N)
( echo $BASHPID > /sys/fs/cgroup/memx-demo/cgroup.procs; exec "$build/tests/integration/swap_pattern" 384 )
end=$(date +%s.%N)
out1=$(awk '$1=="pswpout"{print $2}' /proc/vmstat); in1=$(awk '$1=="pswpin"{print $2}' /proc/vmstat)
printf 'every page verified in %.1f s; swapped out %d pages, swapped in %d pages\n' \
	"$(echo "$end - $start" | bc)" $((out1 - out0)) $((in1 - in0))
"$memxctl" status
swapoff /dev/memx0
kill -TERM "${pids[2]}"; wait "${pids[2]}" || true

say "fio on a fresh volume: 4 KiB random I/O, ${runtime} s per job"
"$memxd" client --name bench --size 256M --slab 16M --queues 2 --poll-queues 1 --depth 64 \
	--bind 10.77.0.1 --donor 10.77.0.2 --donor 10.77.0.3 > "$work/bench.log" 2>&1 & pids+=($!)
wait_line "$work/bench.log" '^ready'
dev=$(sed -n 's/^ready //p' "$work/bench.log")
# Precondition: reads of never-written slabs would be served locally and flatter memx.
fio --name=fill --filename="$dev" --rw=write --bs=1M --direct=1 --ioengine=io_uring \
	--iodepth=8 --size=256M > /dev/null
sock=/run/memx/client-bench.sock
engine_pid=${pids[-1]}
# CPU time (user + system, in clock ticks) the engine has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$engine_pid/stat"; }
hz=$(getconf CLK_TCK)
counters() { "$memxctl" status --json --socket "$sock" | python3 -c '
import json,sys; io=json.load(sys.stdin)["volumes"][0]["io"]
print(io["reads"]+io["writes"], io["wakeups"]+io["commits"]+io["rdma_posts"]+io["cq_arms"])'; }
printf '%-16s %4s %10s %12s %12s %14s %16s\n' job qd IOPS "mean us" "p99 us" "syscalls/req" "engine CPU us/req"
# The last two jobs are polled (io_uring IOPOLL on the volume's poll queue): fio spins.
for job in randread:1 randread:32 randwrite:1 randwrite:32 randread:1:polled randwrite:1:polled; do
	IFS=: read -r rw qd polled <<< "$job"
	read -r r0 s0 < <(counters)
	c0=$(cpu_ticks)
	fio --name=bench --filename="$dev" --rw="$rw" --bs=4k --direct=1 --ioengine=io_uring \
		--hipri="$([ -n "$polled" ] && echo 1 || echo 0)" --iodepth="$qd" --size=256M \
		--time_based --runtime="$runtime" --numjobs=1 --output-format=json --eta=never \
		--output="$work/fio.json"
	read -r r1 s1 < <(counters)
	c1=$(cpu_ticks)
	python3 - "$work/fio.json" "$rw${polled:+-polled}" "$qd" "$((r1 - r0))" "$((s1 - s0))" \
		"$((c1 - c0))" "$hz" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
side = j["read"] if sys.argv[2].startswith("randread") else j["write"]
lat = side["clat_ns"]
reqs, calls = int(sys.argv[4]), int(sys.argv[5])
cpu_us = int(sys.argv[6]) * 1e6 / int(sys.argv[7])
print("%-16s %4s %10.0f %12.1f %12.1f %14.2f %16.1f" % (sys.argv[2], sys.argv[3], side["iops"],
      lat["mean"] / 1000, lat["percentile"]["99.000000"] / 1000, calls / max(reqs, 1),
      cpu_us / max(reqs, 1)))
PY
done
echo "(polled: fio --hipri, io_uring IOPOLL on the volume's poll queue: fio spins instead of"
echo " sleeping; syscalls/req: the engine's io_uring waits, commit ioctls, RDMA post doorbells and CQ arms"
echo " per request, from memxctl's counters; engine CPU: memxd's user+system time over the"
echo " requests it served; under QEMU TCG absolute numbers are meaningless)"
