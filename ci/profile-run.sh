#!/usr/bin/env bash
# ci/profile-run.sh: where the time goes on memx's I/O path, run as root on a
# machine with memx.ko built and Soft-RoCE up (ci/profile runs it in the
# guest). Two donors, one client volume (with a poll queue), then for each fio
# job (RW:QD[:polled], 4 KiB; by default "randread:1 randread:32
# randread:1:polled"; polled = fio --hipri) a system-wide perf profile
# (cpu-clock, the only event QEMU TCG offers). Prints, per job, the share of
# each task, the busiest symbols of the whole machine and of the engine alone.
set -euo pipefail
# shellcheck source=ci/run-lib.sh
. "$(dirname "$0")/run-lib.sh"
runtime=${MEMX_PROFILE_RUNTIME:-8}
jobs=${MEMX_PROFILE_JOBS:-"randread:1 randread:32 randread:1:polled"}
client_args=${MEMX_PROFILE_CLIENT_ARGS:-}
callers=${MEMX_PROFILE_CALLERS:-}	# symbols whose callers to print, e.g. "memset_erms"

insmod "$build/kmod/memx.ko"
start_donor 10.77.0.2 512M
start_donor 10.77.0.3 512M
# shellcheck disable=SC2086 # client_args is a list of options
"$memxd" client --name prof --size 256M --slab 16M --queues 2 --poll-queues 1 \
	--depth 64 --bind 10.77.0.1 --donor 10.77.0.2 --donor 10.77.0.3 $client_args \
	> "$work/client.log" 2>&1 & pids+=($!)
engine=${pids[-1]}
wait_line "$work/client.log" '^ready'
dev=$(sed -n 's/^ready //p' "$work/client.log")
fio --name=fill --filename="$dev" --rw=write --bs=1M --direct=1 --ioengine=io_uring \
	--iodepth=8 --size=256M > /dev/null

for job in $jobs; do
	IFS=: read -r rw qd polled <<< "$job"
	tag=$rw-qd$qd${polled:+-polled}
	perf record -q -a -g -e cpu-clock -F 2000 -o "$work/$tag.data" -- \
		fio --name=prof --filename="$dev" --rw="$rw" --bs=4k --direct=1 --ioengine=io_uring \
		--hipri="$([ -n "$polled" ] && echo 1 || echo 0)" --iodepth="$qd" --time_based \
		--runtime="$runtime" --output-format=json --eta=never --output="$work/$tag.json" \
		> /dev/null 2>&1
	python3 - "$work/$tag.json" "$tag" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
s = j["read"] if sys.argv[2].startswith("randread") else j["write"]
print("\n##### %s: %.0f IOPS, mean %.1f us" % (sys.argv[2], s["iops"], s["lat_ns"]["mean"] / 1000))
PY
	echo "--- whole machine: share of samples by task"
	perf report -q -i "$work/$tag.data" --no-children --sort comm --stdio -g none \
		2>/dev/null | head -12 || true
	echo "--- whole machine: busiest symbols"
	perf report -q -i "$work/$tag.data" --no-children --sort comm,sym --stdio -g none \
		2>/dev/null | head -40 || true
	echo "--- engine (memxd pid $engine) only: busiest symbols"
	perf report -q -i "$work/$tag.data" --no-children --pid "$engine" --sort sym --stdio \
		-g none 2>/dev/null | head -30 || true
	for sym in $callers; do
		echo "--- who calls $sym"
		perf report -q -i "$work/$tag.data" --no-children --symbols "$sym" --stdio \
			-g caller,0.5,callee,function,percent 2>/dev/null | head -40 || true
	done
done
