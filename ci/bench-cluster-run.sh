#!/usr/bin/env bash
# ci/bench-cluster-run.sh: replication's cost and recovery speed, run as root
# where memx.ko is built and Soft-RoCE is up (ci/bench-cluster runs it in the
# guest). Prints: 4 KiB random write QD32 IOPS with one and two replicas, and
# the time to re-replicate a dead donor's slabs, per GiB.
set -euo pipefail
# shellcheck source=ci/run-lib.sh
. "$(dirname "$0")/run-lib.sh"
runtime=${MEMX_BENCH_RUNTIME:-10}
rate=${MEMX_BENCH_RATE:-1G}

backlog() {
	"$memxctl" status --json --socket /run/memx/client-bench.sock | python3 -c \
		'import json,sys; print(json.load(sys.stdin)["volumes"][0]["rereplication_backlog"])'
}

insmod "$build/kmod/memx.ko"
for i in 2 3 4; do start_donor 10.77.0.$i 1G; done
declare -A donor_pid=([2]=${pids[0]} [3]=${pids[1]} [4]=${pids[2]})

printf '%-28s %10s\n' "4 KiB randwrite QD32" IOPS
for r in 1 2; do
	"$memxd" client --name bench --size 512M --slab 16M --replicas $r --queues 2 --depth 32 \
		--rereplicate-rate "$rate" --bind 10.77.0.1 \
		--donor 10.77.0.2 --donor 10.77.0.3 --donor 10.77.0.4 > "$work/c$r.log" 2>&1 &
	cpid=$!
	wait_line "$work/c$r.log" '^ready'
	dev=$(sed -n 's/^ready //p' "$work/c$r.log")
	fio --name=fill --filename="$dev" --rw=write --bs=1M --direct=1 --ioengine=io_uring \
		--iodepth=8 --size=512M > /dev/null
	fio --name=w --filename="$dev" --rw=randwrite --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=32 --size=512M --time_based --runtime="$runtime" --eta=never \
		--output-format=json --output="$work/w$r.json"
	iops=$(python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' "$work/w$r.json")
	printf '%-28s %10s\n' "replicas=$r" "$iops"
	if [ "$r" = 2 ]; then
		# Kill one donor; time until every slab has two live replicas again.
		held=$("$memxctl" status --json --socket /run/memx/client-bench.sock | python3 -c '
import json,sys; d=json.load(sys.stdin)["donors"]; print([x["slabs"] for x in d if x["address"].startswith("10.77.0.3:")][0])')
		start=$(date +%s.%N)
		kill -9 "${donor_pid[3]}"
		wait "${donor_pid[3]}" 2>/dev/null || true
		sleep 0.5
		until [ "$(backlog)" = 0 ]; do sleep 0.2; done
		end=$(date +%s.%N)
		python3 - "$start" "$end" "$held" <<'PY'
import sys
start, end, slabs = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
gib = slabs * 16 / 1024
secs = end - start
print("re-replication of a dead donor's %d slabs (%.2f GiB): %.1f s, %.1f s per GiB" % (slabs, gib, secs, secs / gib if gib else 0))
PY
		echo "(rate limit --rereplicate-rate $rate; the copy goes through the client's 1 MiB bounce buffer)"
	fi
	kill -TERM $cpid; wait $cpid || true
done
