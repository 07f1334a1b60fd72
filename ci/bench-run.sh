#!/usr/bin/env bash
# ci/bench-run.sh: ci/bench's measuring half, run as root on a machine with memx.ko built and
# Soft-RoCE up (ci/bench runs it in the QEMU guest). In one boot, on one rxe device, it measures
#   - the link's limit: perftest ib_write_bw, ib_read_bw, ib_write_lat, ib_read_lat, 4 KiB, -R;
#   - memx (one client, two donors) twice: as shipped (2 replicas with two donors, every write
#     crosses the link twice) and with --replicas 1 (one copy, like every peer), and as shipped
#     through the kernel's own ublk instead of memx.ko (memx_ublk; kernels with ublk_drv, such
#     as 6.12: ci/bench's MEMX_BENCH_KERNEL), NVMe over Fabrics on RDMA (nvmet-rdma exporting a brd RAM
#     disk), md RAID1 over two NVMe-oF/RDMA targets (nvmeof_raid1: two copies over two RDMA
#     connections, the peer with memx's resilience), NBD over TCP on loopback (nbd-server
#     exporting a brd RAM disk), zram (lz4), brd;
# and on each device: fio 4 KiB random read/write at QD 1 and 32 after writing the whole
# device once, the same at QD 1 polled (fio --hipri) where the device has poll queues (memx
# and NVMe-oF get one each), 128 KiB sequential read/write, then the swap workload (swap_pattern in a cgroup
# whose memory.max is a quarter of its footprint). Each device is torn down before the next one.
# A device that cannot be set up is recorded as "setup failed: why".
#
# Records go to $MEMX_OUT/results.jsonl (ci/bench-report.py turns them into results.md, .json
# and chart.png), raw outputs to $MEMX_OUT/raw/. Knobs: MEMX_BENCH_RUNTIME (s per fio job, 6),
# MEMX_BENCH_SIZE (device size, 256M), MEMX_BENCH_SWAP_MIB (256), MEMX_BENCH_SWAP_LIMIT (64M),
# MEMX_BENCH_SWAP_RUNS (2; the best run counts),
# MEMX_BENCH_ONLY (space-separated subset of: perftest noswap memx memx_r1 memx_ublk nvmeof
# nvmeof_raid1 nbd zram brd), MEMX_BENCH_APPS (0: none; 1: the application runs of ci/bench-apps.sh after each
# device's fio and swap jobs; only: the application runs alone, no perftest) and its
# knobs there.
#
# memx's fio and swap jobs run with --no-same-filled: fio's and swap_pattern's data hold no
# same-filled block, so the engine's check could only cost, and no peer but zram has one. The
# application runs use memx as shipped (a fresh engine and volume).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/ci
build=${MEMX_BUILD:-$root/build}
memxd=$build/daemon/memxd
memxctl=$build/daemon/memxctl
swap_pattern=$build/tests/integration/swap_pattern
# memx authenticates its peers with a cluster key (README, "Security"): one for this run.
if [ ! -s /etc/memx/cluster.key ]; then
	mkdir -p /etc/memx && chmod 700 /etc/memx && "$memxctl" keygen /etc/memx/cluster.key >/dev/null
fi
out=${MEMX_OUT:?MEMX_OUT: where results go}
runtime=${MEMX_BENCH_RUNTIME:-6}
size=${MEMX_BENCH_SIZE:-256M}
swap_mib=${MEMX_BENCH_SWAP_MIB:-256}
swap_limit=${MEMX_BENCH_SWAP_LIMIT:-64M}
# Swap times swing by a third between runs: each device runs it this often, the best counts.
swap_runs=${MEMX_BENCH_SWAP_RUNS:-2}
only=${MEMX_BENCH_ONLY:-perftest noswap memx memx_r1 memx_ublk nvmeof nvmeof_raid1 nbd zram brd}
pt_depth=32
mkdir -p "$out/raw"
recs=$out/results.jsonl
: > "$recs"
raw=$out/raw
work=$(mktemp -d /tmp/memx-bench.XXXXXX)
cg=/sys/fs/cgroup/memx-bench
nqn=nqn.2026-01.io.memx:bench
nvcfg=/sys/kernel/config/nvmet
t_start=$(date +%s)
# shellcheck source=ci/bench-apps.sh
. "$here/bench-apps.sh"
# fio and the swap workload on each device, then (MEMX_BENCH_APPS) the applications.
fio_phase() { [ "$apps" != only ]; }
apps_phase() { [ "$apps" = 1 ] || [ "$apps" = only ]; }

say() { printf '\n== %s (%ss)\n' "$*" $(( $(date +%s) - t_start )); }
rec() { python3 "$here/bench-report.py" rec "$recs" "$@"; }
note() { rec kind=note device="$1" text="$2"; echo "note: $1: $2"; }
setup_ok() { rec kind=setup device="$1" ok=true detail="$2"; echo "$1: set up: $2"; }
setup_failed() { rec kind=setup device="$1" ok=false why="$2"; echo "$1: SETUP FAILED: $2"; }
wants() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
wait_line() { for _ in $(seq 300); do grep -q "$2" "$1" && return 0; sleep 0.2; done; return 1; }
bytes() { numfmt --from=iec "$1"; }
# The last line of a log, for "setup failed: why".
why() { { tail -n 3 "$1" 2>/dev/null || true; } | tr '\n' ' ' | tr -d '"\\' | cut -c1-200; }

rec kind=meta date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" kernel="$(uname -r)" cpus="$(nproc)" \
	fio="$(fio --version)" runtime="$runtime" size="$size" swap_mib="$swap_mib" \
	swap_limit="$swap_limit" swap_runs="$swap_runs" pt_depth="$pt_depth" \
	where="$([ -n "${MEMX_GUEST:-}" ] && echo 'QEMU TCG guest' || echo native)" \
	mem_mib="$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 ))" apps="$apps"
apps_phase && rec kind=meta redis_keys="$redis_keys" redis_size="$redis_size" \
	redis_gets="$redis_gets" batch_mib="$batch_mib" fits="$app_fits" \
	page_cluster="$(cat /proc/sys/vm/page-cluster)" redis="$(redis-server --version | cut -c1-60)"

# --- the link's limit ----------------------------------------------------------------------
# perftest 4.5 binds the rdma_cm listener to --source_ip; the client names its own address
# with --source_ip and the server's as the positional argument.
perftest_one() {
	local t=$1 port=$2 extra=$3 spid rc try
	# perftest itself sometimes crashes on rxe (a segfault in the client was seen): one more
	# try, on a fresh port, and the failure is recorded if that fails too.
	for try in 1 2; do
		# shellcheck disable=SC2086
		timeout 90 "$t" -R -d rxe0 -F -s 4096 -p "$port" --source_ip 10.77.0.5 $extra \
			> "$raw/perftest-$t-server.txt" 2>&1 &
		spid=$!
		sleep 2
		# shellcheck disable=SC2086
		timeout 90 "$t" -R -d rxe0 -F -s 4096 -p "$port" --source_ip 10.77.0.6 $extra \
			10.77.0.5 > "$raw/perftest-$t.txt" 2>&1
		rc=$?
		[ "$rc" = 0 ] || kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		[ "$rc" = 0 ] && break
		echo "$t: try $try: exit $rc: $(why "$raw/perftest-$t.txt")" >&2
		port=$((port + 100))
	done
	python3 "$here/bench-report.py" perftest "$recs" "$raw/perftest-$t.txt" "$t"
	grep -A1 '#bytes' "$raw/perftest-$t.txt" | tail -n 1 | sed "s/^/$t: /"
}

if wants perftest && fio_phase; then
	say "link limit: perftest 4 KiB, rdma_cm, 10.77.0.6 -> 10.77.0.5"
	perftest_one ib_write_bw 18515 "-D $runtime -t $pt_depth"
	perftest_one ib_read_bw 18516 "-D $runtime -t $pt_depth"
	perftest_one ib_write_lat 18517 "-n 10000"
	perftest_one ib_read_lat 18518 "-n 10000"
fi

# --- the measurements, the same on every device ----------------------------------------------
set_scheduler() {
	local q
	q=/sys/block/$(basename "$(readlink -f "$1")")/queue/scheduler
	[ -w "$q" ] && echo none > "$q" 2>/dev/null
	true
}

# counters DEV: prints "requests syscalls user_ticks system_ticks" for memx (the engine's
# counters and its CPU time from /proc), nothing for the others.
engine_pid=
counters() {
	case "$1" in memx*) ;; *) return 0 ;; esac
	"$memxctl" status --json --socket "/run/memx/client-$1.sock" 2>/dev/null | python3 -c '
import json,sys; io=json.load(sys.stdin)["volumes"][0]["io"]
st=open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print(io["reads"]+io["writes"], io["wakeups"]+io["commits"]+io["rdma_posts"]+io["cq_arms"],
      st[11], st[12])' "$engine_pid"
}

# fio_job NAME PATH RW BS QD [polled]: "polled" submits with io_uring IOPOLL (--hipri): fio
# spins for completions instead of sleeping, on devices with poll queues.
fio_job() {
	local name=$1 path=$2 rw=$3 bs=$4 qd=$5 job=$3 hipri=0 f r0 s0 u0 k0 r1 s1 u1 k1
	[ "${6:-}" = polled ] && { job=$rw-polled; hipri=1; }
	f=$raw/fio-$name-$job-$bs-qd$qd.json
	read -r r0 s0 u0 k0 < <(counters "$name"; echo)
	timeout -k 10 $((runtime + 90)) fio --name=bench --filename="$path" --rw="$rw" --bs="$bs" \
		--direct=1 --ioengine=io_uring --hipri="$hipri" --iodepth="$qd" --size="$size" \
		--time_based --runtime="$runtime" --ramp_time=1 --norandommap --randrepeat=0 \
		--lat_percentiles=1 --output-format=json --eta=never --output="$f" \
		> "$raw/fio-$name.log" 2>&1 ||
		echo "fio $name $job $bs QD$qd failed: $(why "$raw/fio-$name.log")"
	read -r r1 s1 u1 k1 < <(counters "$name"; echo)
	if [ -n "${r0:-}" ] && [ -n "${r1:-}" ]; then
		python3 "$here/bench-report.py" fio "$recs" "$f" "$name" "$job" "$bs" "$qd" \
			$((r1 - r0)) $((s1 - s0)) $((u1 - u0)) $((k1 - k0)) "$(getconf CLK_TCK)"
	else
		python3 "$here/bench-report.py" fio "$recs" "$f" "$name" "$job" "$bs" "$qd"
	fi
	tail -n 1 "$recs" | python3 -c '
import json,sys; r=json.load(sys.stdin)
print("%-7s %-10s %4s QD%-3s %s" % (r["device"], r["job"], r["bs"], r["qd"], r.get("error") or
      "%8.0f IOPS %8.1f MB/s mean %8.1f us p99 %8.1f us%s" % (r["iops"], r["mbps"], r["mean_us"],
      r["p99_us"], " syscalls/req %.2f engine CPU us/req %.1f" % (r["syscalls_per_req"],
      r["cpu_us_per_req"]) if "syscalls_per_req" in r else "")))'
}

# swap_run NAME PATH RUN: one run of the swap workload on PATH, recorded as run RUN.
swap_run() {
	local name=$1 path=$2 run=$3 o0 i0 o1 i1 t0 t1 rc log
	log=$raw/swap-$name-$run.log
	mkswap -f "$path" > "$raw/mkswap-$name.log" 2>&1 || {
		rec kind=swap device="$name" run="$run" ok=false why="mkswap: $(why "$raw/mkswap-$name.log")"; return; }
	swapon "$path" 2> "$raw/swapon-$name.log" || {
		rec kind=swap device="$name" run="$run" ok=false why="swapon: $(why "$raw/swapon-$name.log")"; return; }
	mkdir -p "$cg"
	echo "$swap_limit" > "$cg/memory.max"
	[ -w "$cg/memory.swap.max" ] && echo max > "$cg/memory.swap.max"
	sync; echo 3 > /proc/sys/vm/drop_caches
	o0=$(awk '$1=="pswpout"{print $2}' /proc/vmstat); i0=$(awk '$1=="pswpin"{print $2}' /proc/vmstat)
	t0=$(date +%s.%N)
	( echo $BASHPID > "$cg/cgroup.procs"; exec timeout 900 "$swap_pattern" "$swap_mib" ) \
		> "$log" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	o1=$(awk '$1=="pswpout"{print $2}' /proc/vmstat); i1=$(awk '$1=="pswpin"{print $2}' /proc/vmstat)
	local events; events=$(tr '\n' ' ' < "$cg/memory.events")
	swapoff "$path" 2>> "$raw/swapon-$name.log" || echo "$name: swapoff failed: $(why "$raw/swapon-$name.log")"
	rmdir "$cg" 2>/dev/null
	local wall; wall=$(echo "$t1 - $t0" | bc)
	if [ "$rc" = 0 ]; then
		rec kind=swap device="$name" run="$run" ok=true wall_s="$wall" pswpout=$((o1 - o0)) pswpin=$((i1 - i0)) \
			output="$(tr -d '"\\' < "$log" | tr '\n' ' ')" events="$events"
	else
		rec kind=swap device="$name" run="$run" ok=false wall_s="$wall" pswpout=$((o1 - o0)) pswpin=$((i1 - i0)) \
			why="swap_pattern exit $rc: $(why "$log") memory.events: $events"
	fi
	printf '%-7s swap %s MiB in %s, run %s: %.1f s, pswpout %d, pswpin %d, exit %d: %s\n' \
		"$name" "$swap_mib" "$swap_limit" "$run" "$wall" $((o1 - o0)) $((i1 - i0)) "$rc" \
		"$(cat "$log")"
}

measure() {
	local name=$1 path=$2
	set_scheduler "$path"
	# Precondition: reads of never-written blocks would flatter every device.
	timeout -k 10 600 fio --name=fill --filename="$path" --rw=write --bs=1M --direct=1 \
		--ioengine=io_uring --iodepth=8 --size="$size" > "$raw/fill-$name.log" 2>&1 ||
		note "$name" "precondition write failed: $(why "$raw/fill-$name.log")"
	for rw in randread randwrite; do
		for qd in 1 32; do fio_job "$name" "$path" "$rw" 4k "$qd"; done
	done
	if [ "$(cat "/sys/block/$(basename "$(readlink -f "$path")")/queue/io_poll" 2>/dev/null)" = 1 ]
	then
		fio_job "$name" "$path" randread 4k 1 polled
		fio_job "$name" "$path" randwrite 4k 1 polled
	else
		note "$name" "no poll queues: no polled (fio --hipri) figures"
	fi
	fio_job "$name" "$path" read 128k 8
	fio_job "$name" "$path" write 128k 8
	for run in $(seq "$swap_runs"); do swap_run "$name" "$path" "$run"; done
}

# brd_load [N [KIB]]: N RAM disks /dev/ram0.. of KIB KiB each (default: one of the bench size).
brd_load() {
	local n=${1:-1} kib=${2:-$(( $(bytes "$size") / 1024 ))}
	grep -q '^brd ' /proc/modules && rmmod brd
	modprobe brd rd_nr="$n" rd_size="$kib" max_part=0 || return 1
	for _ in $(seq 50); do [ -b "/dev/ram$((n - 1))" ] && return 0; sleep 0.1; done
	return 1
}
brd_unload() {
	for _ in $(seq 20); do
		grep -q '^brd ' /proc/modules || return 0
		rmmod brd 2>/dev/null && return 0
		sleep 0.5
	done
	echo "brd: rmmod failed: $(rmmod brd 2>&1)"
}

# --- memx ----------------------------------------------------------------------------------
# bench_engine SHIM NAME PHASE [client options...]: NAME is the device key and the volume's
# name; SHIM is memx (memx.ko, with a poll queue) or ublk (the kernel's ublk: no poll queues);
# PHASE fio (fio and swap jobs, --no-same-filled) or apps (the applications, memx as shipped).
bench_engine() {
	local shim=$1 name=$2 phase=$3 pids=() dev reps shim_opts shim_text tag=$2
	shift 3
	# The application phase's engine logs apart from the fio phase's.
	[ "$phase" = apps ] && tag=$name-apps
	[ "$phase" = fio ] && set -- "$@" --no-same-filled
	# MEMX_BENCH_APP_CLIENT_ARGS: more client options for the application runs (a diagnosis,
	# such as "--scrub-rate 0"); recorded in the device's setup line.
	# shellcheck disable=SC2086
	[ "$phase" = apps ] && set -- "$@" ${MEMX_BENCH_APP_CLIENT_ARGS:-}
	say "$name: one client (10.77.0.1), two donors (10.77.0.2, 10.77.0.3), $shim $*"
	if [ "$shim" = ublk ]; then
		modprobe ublk_drv 2>/dev/null
		if [ ! -c /dev/ublk-control ]; then
			setup_failed "$name" "no ublk_drv in kernel $(uname -r) (MEMX_BENCH_KERNEL=6.12 has it)"
			return
		fi
		shim_opts=(--kernel-backend ublk) shim_text="ublk, 2 queues"
	else
		if ! insmod "$build/kmod/memx.ko" 2> "$work/insmod.log"; then
			setup_failed "$name" "insmod: $(why "$work/insmod.log")"; return
		fi
		shim_opts=(--kernel-backend memx --poll-queues 1) shim_text="memx.ko, 2 queues + 1 polled"
	fi
	# Donors lend twice the volume each: with 2 replicas each holds a full copy.
	"$memxd" donor --listen 10.77.0.2 --memory 512M --host h2 > "$raw/$tag-d1.log" 2>&1 & pids+=($!)
	"$memxd" donor --listen 10.77.0.3 --memory 512M --host h3 > "$raw/$tag-d2.log" 2>&1 & pids+=($!)
	client_args=(client --name "$name" --size "$size" --slab 16M --queues 2 "${shim_opts[@]}"
		--depth 64 --bind 10.77.0.1 --donor 10.77.0.2 --donor 10.77.0.3 "$@")
	if wait_line "$raw/$tag-d1.log" '^listening' && wait_line "$raw/$tag-d2.log" '^listening'; then
		"$memxd" "${client_args[@]}" > "$raw/$tag-client.log" 2>&1 &
		pids+=($!)
		engine_pid=$!
		if wait_line "$raw/$tag-client.log" '^ready'; then
			dev=$(sed -n 's/^ready //p' "$raw/$tag-client.log")
			reps=$("$memxctl" status --json --socket "/run/memx/client-$name.sock" 2>/dev/null |
				python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["replicas"])')
			if [ "$phase" = fio ]; then
				setup_ok "$name" "$dev, ${reps:-?} replicas, $shim_text, depth 64, 16M slabs, donors 512M each"
				measure "$name" "$dev"
				[ "$name" = memx ] && restart_pause "$name" "$dev"
			else
				fio_phase || setup_ok "$name" "$dev, ${reps:-?} replicas, $shim_text, depth 64, 16M slabs, donors 512M each"
				[ -n "${MEMX_BENCH_APP_CLIENT_ARGS:-}" ] &&
					note "$name" "application runs with client options: $MEMX_BENCH_APP_CLIENT_ARGS"
				apps_run "$name" "$dev"
			fi
			"$memxctl" status --json --socket "/run/memx/client-$name.sock" \
				> "$raw/$tag-status.json" 2>&1
		else
			setup_failed "$name" "client not ready: $(why "$raw/$tag-client.log")"
		fi
	else
		setup_failed "$name" "donor not listening: $(why "$raw/$tag-d1.log") $(why "$raw/$tag-d2.log")"
	fi
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ "$shim" = memx ] || return 0
	for _ in $(seq 20); do rmmod memx 2>/dev/null && break; sleep 0.5; done
	grep -q '^memx ' /proc/modules && echo "$name: rmmod memx failed"
}
# engine_phases SHIM NAME [options]: the fio phase and the application phase, each with its own
# engine and volume (the application runs use memx as shipped, same-filled pages recorded).
engine_phases() {
	fio_phase && bench_engine "$1" "$2" fio "${@:3}"
	apps_phase && bench_engine "$1" "$2" apps "${@:3}"
	true
}
bench_memx() { engine_phases memx memx; }
bench_memx_r1() { engine_phases memx memx_r1 --replicas 1; }
bench_memx_ublk() { engine_phases ublk memx_ublk; }
bench_noswap() { apps_phase && apps_run noswap; true; }

# restart_pause NAME DEV (inside bench_engine): the pause a program sees when the engine dies and
# the same command is started again at once (systemd waits RestartSec=2s more): fio random
# writes at QD32 with crc32c verify across kill -9; its longest request is the pause.
restart_pause() {
	local name=$1 dev=$2 fpid t0 t1 rc pause
	say "$name: engine restart under fio (kill -9, the same command again at once)"
	fio --name=restart --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
		--iodepth=32 --size=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output-format=json --output="$raw/$name-restart-fio.json" > /dev/null 2>&1 &
	fpid=$!
	sleep 3
	t0=$(date +%s.%N)
	kill -9 "$engine_pid"
	wait "$engine_pid" 2>/dev/null
	"$memxd" "${client_args[@]}" > "$raw/$name-client-restarted.log" 2>&1 &
	engine_pid=$!
	pids+=($!)
	if ! wait_line "$raw/$name-client-restarted.log" '^ready'; then
		note "$name" "engine restart: the new engine did not take over: $(why "$raw/$name-client-restarted.log")"
		kill -9 "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null; return
	fi
	t1=$(date +%s.%N)
	wait "$fpid"; rc=$?
	pause=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]
print("%.0f" % (max(j["write"]["clat_ns"]["max"], j["read"]["clat_ns"]["max"]) / 1e6))' \
		"$raw/$name-restart-fio.json" 2>/dev/null || echo "?")
	note "$name" "engine restart: kill -9 under fio randwrite 4K QD32 with crc32c verify, the same command started at once: ready $(python3 -c "print(round($t1 - $t0, 2))") s after the kill, the longest request took ${pause} ms (the pause a program sees; add systemd's RestartSec=2s), fio exit ${rc} (0: every block verified)"
}

# --- NVMe over Fabrics on RDMA ---------------------------------------------------------------
# nvmet_export NQN PORT TRADDR DEV: a subsystem NQN (any host) with DEV as namespace 1, on
# nvmet port PORT listening on TRADDR:4420 over RDMA.
nvmet_export() {
	local s=$nvcfg/subsystems/$1 p=$nvcfg/ports/$2
	mkdir "$s" && echo 1 > "$s/attr_allow_any_host" && mkdir "$s/namespaces/1" &&
		echo -n "$4" > "$s/namespaces/1/device_path" &&
		echo 1 > "$s/namespaces/1/enable" || { echo "configfs subsystem/namespace $1"; return 1; }
	mkdir "$p" && echo rdma > "$p/addr_trtype" && echo ipv4 > "$p/addr_adrfam" &&
		echo "$3" > "$p/addr_traddr" && echo 4420 > "$p/addr_trsvcid" &&
		ln -s "$s" "$p/subsystems/$1" || { echo "configfs port $2 ($3)"; return 1; }
}
# nvmet_unexport NQN PORT: disconnects this host from NQN and removes what nvmet_export made.
nvmet_unexport() {
	nvme disconnect -n "$1" > /dev/null 2>&1
	rm -f "$nvcfg/ports/$2/subsystems/$1" 2>/dev/null
	rmdir "$nvcfg/ports/$2" 2>/dev/null
	[ -e "$nvcfg/subsystems/$1/namespaces/1/enable" ] &&
		echo 0 > "$nvcfg/subsystems/$1/namespaces/1/enable"
	rmdir "$nvcfg/subsystems/$1/namespaces/1" 2>/dev/null
	rmdir "$nvcfg/subsystems/$1" 2>/dev/null
}
# nvmet_modules: configfs mounted, the target and host modules loaded.
nvmet_modules() {
	modprobe configfs 2>/dev/null
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config ||
		{ echo "cannot mount configfs"; return 1; }
	modprobe -a nvmet nvmet-rdma nvme-rdma 2>&1 || { echo "modprobe nvmet nvmet-rdma nvme-rdma failed"; return 1; }
}
# nvme_dev NQN: the namespace block device this host sees for subsystem NQN (waits up to 10 s).
nvme_dev() {
	local b
	for _ in $(seq 100); do
		for b in /sys/block/nvme*; do
			# nvmeXcYnZ are multipath's hidden paths, not block devices to use.
			[[ $(basename "$b") =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
			[ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$1" ] || continue
			[ -b "/dev/$(basename "$b")" ] && { echo "/dev/$(basename "$b")"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

nvmeof_teardown() {
	nvmet_unexport "$nqn" 1
	modprobe -r nvme_rdma nvmet_rdma 2>/dev/null
	modprobe -r nvmet 2>/dev/null
	brd_unload
}

nvmeof_setup() {
	local dev
	nvmet_modules || return 1
	brd_load || { echo "modprobe brd failed"; return 1; }
	nvmet_export "$nqn" 1 10.77.0.4 /dev/ram0 || return 1
	nvme connect -t rdma -a 10.77.0.4 -s 4420 -n "$nqn" --host-traddr 10.77.0.1 \
		--nr-poll-queues=1 2>&1 ||
		{ echo "nvme connect -t rdma failed"; return 1; }
	dev=$(nvme_dev "$nqn") || { echo "no namespace of $nqn after nvme connect"; return 1; }
	echo "$dev"
}

bench_nvmeof() {
	local r dev
	say "NVMe-oF/RDMA: nvmet-rdma on 10.77.0.4 exporting brd, nvme connect from 10.77.0.1"
	r=$(nvmeof_setup 2>&1)
	dev=$(echo "$r" | tail -n 1)
	if [ -b "$dev" ]; then
		setup_ok nvmeof "$dev, nvme-rdma $(cat /sys/class/nvme/*/queue_count 2>/dev/null | head -n1) queues incl. admin and 1 polled, target brd /dev/ram0"
		fio_phase && measure nvmeof "$dev"
		apps_phase && apps_run nvmeof "$dev"
	else
		setup_failed nvmeof "$(echo "$r" | tr '\n' ' ' | tr -d '"\\' | cut -c1-200)"
	fi
	nvmeof_teardown
}

# --- md RAID1 over two NVMe-oF/RDMA targets --------------------------------------------------
# The peer with memx's resilience (2 replicas on 2 donors): every block on two targets, each
# leg its own RDMA connection from 10.77.0.1, to 10.77.0.2 and 10.77.0.3 (memx's two donors'
# addresses), each target exporting its own brd disk. md writes every block to both legs and
# completes when both have; it reads from one leg (the less busy).
raid_nqns=("$nqn-leg1" "$nqn-leg2")
raid_ips=(10.77.0.2 10.77.0.3)
raid_md=/dev/md/memxbench

# raid_arrays: every md array over NVMe namespaces (in this guest only ours).
raid_arrays() {
	local m s
	for m in /sys/block/md*; do
		for s in "$m"/slaves/nvme*; do
			[ -e "$s" ] && { echo "/dev/$(basename "$m")"; break; }
		done
	done
	true
}

nvmeof_raid1_teardown() {
	local i m
	for m in $(raid_arrays); do
		mdadm --stop "$m" > "$work/mdadm-stop.log" 2>&1 ||
			echo "nvmeof_raid1: mdadm --stop $m failed: $(why "$work/mdadm-stop.log")"
	done
	for i in 0 1; do nvmet_unexport "${raid_nqns[i]}" $((i + 2)); done
	modprobe -r raid1 2>/dev/null
	modprobe -r nvme_rdma nvmet_rdma 2>/dev/null
	modprobe -r nvmet 2>/dev/null
	brd_unload
}

# nvmeof_raid1_setup: prints the legs on the line before last and the md device on the last.
nvmeof_raid1_setup() {
	local i dev kib legs=()
	kib=$(( $(bytes "$size") / 1024 ))
	command -v mdadm > /dev/null || { echo "no mdadm (ci/deps.sh installs it)"; return 1; }
	nvmet_modules || return 1
	modprobe raid1 2>&1 || { echo "modprobe raid1 failed"; return 1; }
	# 8 MiB more per leg than the array: md's superblock and data offset come first.
	brd_load 2 $((kib + 8192)) || { echo "modprobe brd rd_nr=2 failed"; return 1; }
	for i in 0 1; do
		nvmet_export "${raid_nqns[i]}" $((i + 2)) "${raid_ips[i]}" "/dev/ram$i" || return 1
		# No poll queues: md is bio-based and submits to its legs itself; it has no polled
		# path (its queue/io_poll is 0), so a leg's poll queue would never be used.
		nvme connect -t rdma -a "${raid_ips[i]}" -s 4420 -n "${raid_nqns[i]}" \
			--host-traddr 10.77.0.1 2>&1 ||
			{ echo "nvme connect -t rdma to ${raid_ips[i]} failed"; return 1; }
		dev=$(nvme_dev "${raid_nqns[i]}") ||
			{ echo "no namespace of ${raid_nqns[i]} after nvme connect"; return 1; }
		set_scheduler "$dev"
		legs+=("$dev")
	done
	# --assume-clean: both legs are fresh brd disks, all zeros, so they already hold the same
	# data, and the initial resync would copy the whole device over both RDMA connections
	# while the jobs run. --bitmap=none: with a write-intent bitmap md writes a bitmap block
	# to both legs before writing to a clean region; memx keeps no such log, and mdadm adds
	# none below 100 GB anyway. --size: the array exactly as big as every other device.
	mdadm --create "$raid_md" --run --level=1 --raid-devices=2 --metadata=1.2 \
		--assume-clean --bitmap=none --size="$kib" "${legs[@]}" < /dev/null 2>&1 ||
		{ echo "mdadm --create failed"; return 1; }
	for _ in $(seq 50); do [ -b "$raid_md" ] && break; sleep 0.1; done
	dev=$(readlink -f "$raid_md")
	[ -b "$dev" ] || { echo "no $raid_md after mdadm --create"; return 1; }
	# Debian starts md arrays auto-read-only (md_mod start_ro=1); the first write would flip it.
	mdadm --readwrite "$dev" 2>/dev/null
	[ "$(blockdev --getsize64 "$dev")" = "$(bytes "$size")" ] ||
		{ echo "$dev holds $(blockdev --getsize64 "$dev") bytes, not $size"; return 1; }
	if grep -Eq 'resync|recover' /proc/mdstat; then
		echo "md is syncing, the bench would measure that: $(grep -E 'resync|recover' /proc/mdstat)"
		return 1
	fi
	echo "${legs[*]}"
	echo "$dev"
}

bench_nvmeof_raid1() {
	local r dev legs
	say "md RAID1 over two NVMe-oF/RDMA targets: nvmet-rdma on ${raid_ips[*]} exporting one brd each, nvme connect from 10.77.0.1"
	r=$(nvmeof_raid1_setup 2>&1)
	echo "$r" > "$raw/nvmeof_raid1-setup.log"
	dev=$(echo "$r" | tail -n 1)
	legs=$(echo "$r" | tail -n 2 | head -n 1)
	if [ -b "$dev" ]; then
		{ cat /proc/mdstat; mdadm --detail "$dev"; } > "$raw/nvmeof_raid1-md.txt" 2>&1
		setup_ok nvmeof_raid1 "$dev, md RAID1 (metadata 1.2, no bitmap, assume-clean) over ${legs// / and }, nvme-rdma $(cat /sys/class/nvme/*/queue_count 2>/dev/null | sort -u | tr '\n' ' ')queues each incl. admin, no poll queues (md has no polled path), targets brd /dev/ram0 on ${raid_ips[0]} and /dev/ram1 on ${raid_ips[1]}"
		fio_phase && measure nvmeof_raid1 "$dev"
		apps_phase && apps_run nvmeof_raid1 "$dev"
		{ echo "--- after the runs"; cat /proc/mdstat; } >> "$raw/nvmeof_raid1-md.txt" 2>&1
		# Both legs still in the array: a leg that failed would have left md on one copy.
		grep -q '\[UU\]' /proc/mdstat ||
			note nvmeof_raid1 "a leg left the array during the runs: $(tr '\n' ' ' < /proc/mdstat | tr -d '"\\' | cut -c1-200)"
	else
		setup_failed nvmeof_raid1 "$(echo "$r" | tr '\n' ' ' | tr -d '"\\' | cut -c1-200)"
	fi
	nvmeof_raid1_teardown
}

# --- NBD over TCP on loopback ------------------------------------------------------------------
bench_nbd() {
	local spid="" dev=/dev/nbd0 ok=0
	say "NBD/TCP: nbd-server on 127.0.0.1:10809 exporting brd, nbd-client"
	ip addr show lo | grep -q '127.0.0.1' || ip addr add 127.0.0.1/8 dev lo
	if ! brd_load; then
		setup_failed nbd "modprobe brd failed"
	elif ! modprobe nbd nbds_max=1 2> "$work/nbd.log"; then
		setup_failed nbd "modprobe nbd: $(why "$work/nbd.log")"
	else
		cat > "$work/nbd.conf" <<-EOF
		[generic]
		listenaddr = 127.0.0.1
		port = 10809
		[bench]
		exportname = /dev/ram0
		EOF
		# -d: stay in the foreground, so that we hold its pid.
		nbd-server -C "$work/nbd.conf" -d > "$raw/nbd-server.log" 2>&1 &
		spid=$!
		for _ in $(seq 100); do
			ss -ltnH 'sport = :10809' | grep -q . && break
			sleep 0.1
		done
		if ! ss -ltnH 'sport = :10809' | grep -q .; then
			setup_failed nbd "nbd-server not listening: $(why "$raw/nbd-server.log")"
		elif ! timeout 60 nbd-client 127.0.0.1 10809 "$dev" -N bench -b 4096 \
				> "$raw/nbd-client.log" 2>&1; then
			setup_failed nbd "nbd-client: $(why "$raw/nbd-client.log")"
		else
			for _ in $(seq 50); do
				[ "$(cat /sys/block/nbd0/size 2>/dev/null)" -gt 0 ] 2>/dev/null && { ok=1; break; }
				sleep 0.1
			done
			if [ "$ok" = 1 ]; then
				setup_ok nbd "$dev, 1 TCP connection, target brd /dev/ram0"
				fio_phase && measure nbd "$dev"
				apps_phase && apps_run nbd "$dev"
			else
				setup_failed nbd "$dev has size 0 after nbd-client"
			fi
			nbd-client -d "$dev" > /dev/null 2>&1
		fi
	fi
	if [ -n "$spid" ]; then
		kill -TERM "$spid" 2>/dev/null
		for _ in $(seq 25); do kill -0 "$spid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	for _ in $(seq 20); do grep -q '^nbd ' /proc/modules || break; rmmod nbd 2>/dev/null && break; sleep 0.5; done
	brd_unload
}

# --- zram -------------------------------------------------------------------------------------
bench_zram() {
	local z=/sys/block/zram0
	say "zram: lz4, $size"
	if ! modprobe zram num_devices=1 2> "$work/zram.log"; then
		setup_failed zram "modprobe zram: $(why "$work/zram.log")"
	elif ! grep -qw lz4 "$z/comp_algorithm"; then
		setup_failed zram "no lz4 in $(cat "$z/comp_algorithm")"
	elif ! { echo lz4 > "$z/comp_algorithm" && echo "$size" > "$z/disksize"; } 2> "$work/zram.log"; then
		setup_failed zram "configure: $(why "$work/zram.log")"
	else
		setup_ok zram "/dev/zram0, $(sed -n 's/.*\[\(.*\)\].*/\1/p' "$z/comp_algorithm")"
		fio_phase && measure zram /dev/zram0
		apps_phase && apps_run zram /dev/zram0
		echo 1 > "$z/reset"
	fi
	for _ in $(seq 20); do grep -q '^zram ' /proc/modules || break; rmmod zram 2>/dev/null && break; sleep 0.5; done
}

# --- brd ----------------------------------------------------------------------------------------
bench_brd() {
	say "brd: local RAM disk, $size"
	if brd_load; then
		setup_ok brd "/dev/ram0"
		fio_phase && measure brd /dev/ram0
		# The ceiling of the application runs: swap that costs no wire and no peer.
		apps_phase && apps_run brd /dev/ram0
	else
		setup_failed brd "modprobe brd failed"
	fi
	brd_unload
}

swapoff -a 2>/dev/null
for d in noswap memx memx_r1 memx_ublk nvmeof nvmeof_raid1 nbd zram brd; do
	if wants "$d"; then
		"bench_$d"
		grep -q '^brd ' /proc/modules && brd_unload
	else
		setup_failed "$d" "not run (MEMX_BENCH_ONLY=$only)"
	fi
done
elapsed=$(( $(date +%s) - t_start ))
rec kind=meta elapsed_s="$elapsed"
say "done in ${elapsed}s"
if dmesg | grep -E 'BUG|WARNING|Oops|hung_task|blocked for more' > "$raw/dmesg-alerts.txt"; then
	echo "kernel reported problems:"; head -n 20 "$raw/dmesg-alerts.txt"
else
	rm -f "$raw/dmesg-alerts.txt"
fi
dmesg > "$raw/dmesg.txt"
rm -rf "$work"
exit 0
