#!/usr/bin/env bash
# ci/bench-cluster-run.sh: replication's cost and recovery speed, run as root
# where memx.ko is built and Soft-RoCE is up (ci/bench-cluster runs it in the
# guest). Prints: the link's 1 MiB RDMA READ and WRITE bandwidth (perftest),
# 4 KiB random write QD32 IOPS with one and two replicas, and the time to
# re-replicate a dead donor's slabs, per GiB, against the time the link needs
# to carry them: once with nothing else running, once under fio 4 KiB random
# writes QD32 (whose IOPS during the repair are set against those before it).
# MEMX_BENCH_RATE sets --rereplicate-rate (default 1G: above the link, so that
# the copy itself is what is measured, not the limiter).
set -euo pipefail
# shellcheck source=ci/run-lib.sh
. "$(dirname "$0")/run-lib.sh"
runtime=${MEMX_BENCH_RUNTIME:-10}
rate=${MEMX_BENCH_RATE:-1G}
slab_mib=16
sock=/run/memx/client-bench.sock

backlog() {
	"$memxctl" status --json --socket "$sock" | python3 -c \
		'import json,sys; print(json.load(sys.stdin)["volumes"][0]["rereplication_backlog"])'
}

# slabs_on ADDR: how many slab replicas the donor at ADDR holds for us.
slabs_on() {
	"$memxctl" status --json --socket "$sock" | python3 -c '
import json,sys; d=json.load(sys.stdin)["donors"]
print([x["slabs"] for x in d if x["address"].startswith(sys.argv[1] + ":")][0])' "$1"
}

# link_bw TOOL PORT: 256 messages of 1 MiB, 10.77.0.6 -> 10.77.0.5 on rxe0; prints the
# average MB/s (perftest's MB: 2^20 bytes), or 0 when perftest failed; its result line
# goes to stderr.
link_bw() {
	local t=$1 port=$2 spid
	timeout 120 "$t" -R -d rxe0 -F -s 1048576 -n 256 -p "$port" --source_ip 10.77.0.5 \
		> "$work/$t-server.txt" 2>&1 &
	spid=$!
	sleep 2
	timeout 120 "$t" -R -d rxe0 -F -s 1048576 -n 256 -p "$port" --source_ip 10.77.0.6 \
		10.77.0.5 > "$work/$t.txt" 2>&1 || true
	wait "$spid" 2>/dev/null || true
	grep -A1 '#bytes' "$work/$t.txt" | sed "s/^/$t: /" >&2
	grep -A1 '#bytes' "$work/$t.txt" | tail -n 1 | awk 'NF >= 4 { print $4; ok = 1 } END { if (!ok) print 0 }'
}

# repair VICTIM_IDX LABEL [fio]: kills donor VICTIM_IDX and times until every
# slab has its replicas again; with "fio", under 4 KiB random writes QD32.
repair() {
	local v=$1 label=$2 held start end fpid= told
	held=$(slabs_on "10.77.0.$v")
	if [ "${3:-}" = fio ]; then
		fio --name=w --filename="$dev" --rw=randwrite --bs=4k --direct=1 --ioengine=io_uring \
			--iodepth=32 --size=512M --time_based --runtime=3600 --eta=never \
			--output-format=json --output="$work/during-$v.json" &
		fpid=$!
		sleep 3	# fio running at full speed before the donor dies
	fi
	told=$(grep -c 'copied [0-9]* slab' "$clog" || true)
	start=$(date +%s.%N)
	kill -9 "${donor_pid[$v]}"
	wait "${donor_pid[$v]}" 2>/dev/null || true
	# The copy starts once the client noticed the death (a disconnect, a failed
	# write, or a missed heartbeat): its backlog is then above 0.
	until [ "$(backlog 2>/dev/null)" -gt 0 ] 2>/dev/null; do sleep 0.1; done
	seen=$(date +%s.%N)
	until [ "$(backlog 2>/dev/null)" = 0 ]; do sleep 0.1; done
	end=$(date +%s.%N)
	# The client's own account of the burst: copying, grants, waits, gaps.
	for _ in $(seq 30); do
		[ "$(grep -c 'copied [0-9]* slab' "$clog")" -gt "$told" ] && break
		sleep 0.1
	done
	grep 'copied [0-9]* slab' "$clog" | tail -n 1 | sed 's/^.*volume [^:]*: /  client: /'
	if [ -n "$fpid" ]; then
		kill -INT "$fpid"
		wait "$fpid" || true
	fi
	python3 - "$start" "$end" "$held" "$slab_mib" "$read_bw" "$write_bw" "$label" "$seen" <<'PY'
import sys
start, end, slabs, slab_mib = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
read_bw, write_bw, label, seen = float(sys.argv[5]), float(sys.argv[6]), sys.argv[7], float(sys.argv[8])
mib = slabs * slab_mib
secs = end - seen
per_gib = secs / (mib / 1024) if mib else 0
print("re-replication %s: donor's %d slabs (%d MiB) in %.1f s after the death was noticed "
      "(%.1f s after kill -9): %.1f s per GiB" % (label, slabs, mib, secs, seen - start, per_gib))
if read_bw and write_bw:
    # Each byte crosses the link twice (READ from a replica, WRITE to the new
    # donor). Full duplex, the two overlap: the link needs bytes / the slower of
    # the two; the stated ratio uses that. On rxe one CPU carries both, so the
    # serial sum is given too.
    duplex = 1024 / min(read_bw, write_bw)
    serial = 1024 / read_bw + 1024 / write_bw
    print("  link carries 1 GiB in %.1f s (slower of READ/WRITE) or %.1f s (READ + WRITE)" %
          (duplex, serial))
    print("  ratio: %.2fx the link's time (goal <= 1.25x); %.2fx READ+WRITE" %
          (per_gib / duplex, per_gib / serial))
PY
	if [ -n "$fpid" ]; then
		python3 - "$work/during-$v.json" "$iops2" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index("{"):])["jobs"][0]["write"]	# after fio's "terminating on signal" 
before = float(sys.argv[2])
print("  fio 4 KiB randwrite QD32 during the repair: %.0f IOPS, before: %.0f (%.0f%%; goal >= 50%%)" %
      (j["iops"], before, 100 * j["iops"] / before if before else 0))
PY
	fi
}

read_bw=$(link_bw ib_read_bw 18521)
write_bw=$(link_bw ib_write_bw 18522)
printf 'link: perftest 1 MiB on rxe0, 10.77.0.6 -> 10.77.0.5: READ %s MB/s, WRITE %s MB/s\n' \
	"$read_bw" "$write_bw"

insmod "$build/kmod/memx.ko"
for i in 2 3 4 5; do start_donor 10.77.0.$i 1G; done
declare -A donor_pid=([2]=${pids[0]} [3]=${pids[1]} [4]=${pids[2]} [5]=${pids[3]})

iops2=0
printf '%-28s %10s\n' "4 KiB randwrite QD32" IOPS
for r in 1 2; do
	"$memxd" client --name bench --size 512M --slab ${slab_mib}M --replicas $r --queues 2 \
		--depth 32 --rereplicate-rate "$rate" --bind 10.77.0.1 \
		--donor 10.77.0.2 --donor 10.77.0.3 --donor 10.77.0.4 --donor 10.77.0.5 \
		> "$work/c$r.log" 2>&1 &
	cpid=$!
	wait_line "$work/c$r.log" '^ready'
	clog=$work/c$r.log
	dev=$(sed -n 's/^ready //p' "$work/c$r.log")
	fio --name=fill --filename="$dev" --rw=write --bs=1M --direct=1 --ioengine=io_uring \
		--iodepth=8 --size=512M > /dev/null
	fio --name=w --filename="$dev" --rw=randwrite --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=32 --size=512M --time_based --runtime="$runtime" --eta=never \
		--output-format=json --output="$work/w$r.json"
	iops=$(python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' "$work/w$r.json")
	printf '%-28s %10s\n' "replicas=$r" "$iops"
	if [ "$r" = 2 ]; then
		iops2=$iops
		repair 3 "alone"
		repair 4 "under fio" fio
		echo "(--rereplicate-rate $rate, slabs of $slab_mib MiB; the copy goes through the client's bounce buffer)"
	fi
	kill -TERM $cpid; wait $cpid || true
done
