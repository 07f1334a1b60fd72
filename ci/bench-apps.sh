# shellcheck shell=bash
# Its globals come from ci/bench-run.sh, which sources it (and uses $apps):
# shellcheck disable=SC2154,SC2034
# ci/bench-apps.sh: ci/bench's application runs, sourced by ci/bench-run.sh (its say, rec,
# note, why, $raw, $cg, $swap_pattern, $memxctl, $here) when MEMX_BENCH_APPS is 1 (after each
# device's fio and swap jobs) or "only" (instead of them). On each device, as swap:
#   - Redis: redis-server alone in a memory cgroup, filled with MEMX_BENCH_REDIS_KEYS keys of
#     MEMX_BENCH_REDIS_SIZE incompressible bytes (ci/bench-redis.py), its footprint measured
#     (memory.current, and memory.stat's anon), then memory.max set to 100% (no limit), 75%
#     and 50% of the footprint of the boot's first load: every device gets the same cgroup
#     (a footprint measured on each varied by up to 10 MiB over a boot, and memx, early in
#     it, got 2-7% less memory than the peers after it),
#     and at each fit redis-benchmark's GETs over the whole key space (4 connections) with a
#     SET client alongside (1 connection, a ninth as many requests): throughput (all requests
#     over the wall time), the GETs' p50 and p99; MEMX_BENCH_REDIS_ROUNDS runs at each fit
#     (1; more show the spread, and the tables take the median). At the end every key is
#     counted and a sample of 4000 read back against its expected value: a device that loses
#     or mixes up pages fails there and its figures do not count.
#   - A batch job: swap_pattern (writes a unique pattern to every page, then checks every page)
#     over MEMX_BENCH_BATCH_MIB in a cgroup of 100% (no limit), 75% and 50% of it; wall time.
#   - On memx as shipped, vm.page-cluster (swap readahead: 2^N pages) 0, 1 and 3 with Redis and
#     the batch job at 50%.
#   - On memx, the same-filled pages the engine recorded and the bytes it did not move
#     (memxctl status), for each application; on zram, its same_pages (mm_stat) at the end.
# "noswap" runs both at 100% with no swap at all: the reference.
apps=${MEMX_BENCH_APPS:-0}
redis_keys=${MEMX_BENCH_REDIS_KEYS:-98304}
redis_size=${MEMX_BENCH_REDIS_SIZE:-1000}
redis_gets=${MEMX_BENCH_REDIS_GETS:-8000}
# Redis runs at each fit, one after the other on the same server; the tables take the median.
redis_rounds=${MEMX_BENCH_REDIS_ROUNDS:-1}
batch_mib=${MEMX_BENCH_BATCH_MIB:-64}
app_fits=${MEMX_BENCH_FITS:-100 75 50}
# vm.page-cluster values tried on memx at 50% (empty: none).
app_pcs=${MEMX_BENCH_PAGE_CLUSTERS-0 1 3}
redis_port=16379
redis_seed=17
redis_resp=/run/memx-bench-redis.resp
apps_cg=/sys/fs/cgroup/memx-bench-app

# One RESP file of SETs for every device's load (generated once: Python is slow under TCG).
apps_prepare() {
	[ -s "$redis_resp" ] && return 0
	python3 "$here/bench-redis.py" gen "$redis_keys" "$redis_size" "$redis_seed" > "$redis_resp"
}

vmstat_val() { awk -v k="$1" '$1==k{print $2}' /proc/vmstat; }

# cpu_now NAME: "busy_ticks all_ticks engine_ticks" (the guest's CPUs from /proc/stat; memx's
# engine, user + system, 0 for other devices): where a run's CPU went.
cpu_now() {
	local e=0
	case "$1" in memx*) [ -n "${engine_pid:-}" ] && [ -r "/proc/$engine_pid/stat" ] &&
		e=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$engine_pid/stat") ;; esac
	awk -v e="$e" '$1=="cpu"{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t, e}' /proc/stat
}

# cpu_fields BEFORE AFTER: key=value words for rec: the share of the guest's CPU time that was
# busy, and the engine's CPU seconds.
cpu_fields() {
	local a b
	read -r -a a <<< "$1"
	read -r -a b <<< "$2"
	echo "cpu_busy=$(echo "scale=3; (${b[0]} - ${a[0]}) / (${b[1]} - ${a[1]} + 1)" | bc | sed 's/^\./0./')" \
		"engine_cpu_s=$(echo "scale=2; (${b[2]} - ${a[2]}) / $(getconf CLK_TCK)" | bc | sed 's/^\./0./')"
}

# engine_threads NAME: "comm:user_ticks:sys_ticks ..." for each thread of memx's engine (nothing
# for other devices): which thread's CPU a run cost, user and system apart.
engine_threads() {
	case "$1" in memx*) ;; *) return 0 ;; esac
	[ -n "${engine_pid:-}" ] || return 0
	local t
	for t in /proc/"$engine_pid"/task/*/stat; do
		awk '{c=$0; sub(/^[^(]*\(/, "", c); sub(/\).*/, "", c); gsub(/ /, "_", c);
			sub(/.*\) /, ""); print c ":" $12 ":" $13}' "$t" 2>/dev/null
	done | sort | tr '\n' ' '
}

# thread_fields BEFORE AFTER: engine_threads="comm=user_s+sys_s ..." over a run, for rec; the
# same thread name twice (two threads of one name) adds up.
thread_fields() {
	[ -n "$2" ] || return 0
	echo "engine_threads=$(python3 - "$1" "$2" "$(getconf CLK_TCK)" <<'PY'
import sys
def parse(s):
    d = {}
    for w in s.split():
        c, u, k = w.rsplit(":", 2)
        a = d.setdefault(c, [0, 0])
        a[0] += int(u); a[1] += int(k)
    return d
a, b, hz = parse(sys.argv[1]), parse(sys.argv[2]), int(sys.argv[3])
print(",".join("%s=%.2f+%.2f" % (c, (v[0] - a.get(c, [0, 0])[0]) / hz,
                                  (v[1] - a.get(c, [0, 0])[1]) / hz) for c, v in sorted(b.items())))
PY
)"
}

# perf_start NAME FIT TAG: with FIT in MEMX_BENCH_APP_PERF (fits, such as "50"; a diagnosis: it
# costs the engine CPU), a perf profile of memx's engine (call graphs, kernel included) over
# one Redis run, into $raw/perf-TAG.data; perf_stop TAG prints its top.
perf_start() {
	perf_pid=
	case "$1" in memx*) ;; *) return 0 ;; esac
	case " ${MEMX_BENCH_APP_PERF:-} " in *" $2 "*) ;; *) return 0 ;; esac
	[ -n "${engine_pid:-}" ] && command -v perf > /dev/null || return 0
	perf record -q -g -e cpu-clock -F 1000 -p "$engine_pid" -o "$raw/perf-$3.data" \
		> "$raw/perf-$3.log" 2>&1 &
	perf_pid=$!
}
perf_stop() {
	[ -n "${perf_pid:-}" ] || return 0
	kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null
	echo "--- perf $1: engine threads"
	perf report -q -i "$raw/perf-$1.data" --no-children --sort comm --stdio -g none \
		2>/dev/null | head -8
	echo "--- perf $1: engine symbols"
	perf report -q -i "$raw/perf-$1.data" --no-children --sort comm,dso,sym --stdio -g none \
		2>/dev/null | head -45
	perf report -q -i "$raw/perf-$1.data" --children --sort sym --stdio -g none \
		2>/dev/null | head -45 > "$raw/perf-$1-children.txt"
	perf_pid=
}

# secs T0 T1: T1 - T0 with a leading zero (bc prints .8), for JSON.
secs() { printf '%.3f' "$(echo "$2 - $1" | bc)"; }

# memx_io NAME: "same_filled_writes same_filled_reads same_filled_bytes_saved rdma_write_bytes
# writes" of the volume, nothing for other devices.
memx_io() {
	case "$1" in memx*) ;; *) return 0 ;; esac
	"$memxctl" status --json --socket "/run/memx/client-$1.sock" 2>/dev/null | python3 -c '
import json,sys; io=json.load(sys.stdin)["volumes"][0]["io"]
print(io["same_filled_writes"], io["same_filled_reads"], io["same_filled_bytes_saved"],
      io["rdma_write_bytes"], io["writes"])'
}

# samefill_rec NAME APP BEFORE AFTER: the engine's same-filled counters over one application.
samefill_rec() {
	local a b
	read -r -a a <<< "$3"
	read -r -a b <<< "$4"
	[ "${#a[@]}" = 5 ] && [ "${#b[@]}" = 5 ] || return 0
	rec kind=samefill device="$1" app="$2" same_filled_writes=$((b[0] - a[0])) \
		same_filled_reads=$((b[1] - a[1])) bytes_saved=$((b[2] - a[2])) \
		rdma_write_bytes=$((b[3] - a[3])) write_requests=$((b[4] - a[4]))
	echo "$1 $2: same-filled blocks written $((b[0] - a[0])), read $((b[1] - a[1])), $(((b[2] - a[2]) >> 20)) MiB not moved, $(((b[3] - a[3]) >> 20)) MiB written by RDMA"
}

cg_enter() { echo "$BASHPID" > "$1/cgroup.procs"; }

# dev_stat_file DEV: the /sys stat file that counts DEV's requests (nothing for no swap), with
# counting switched on where a driver counts only when asked to.
dev_stat_file() {
	[ -n "$1" ] || return 0
	local b f p
	b=$(basename "$(readlink -f "$1")")
	[ -w "/sys/class/block/$b/queue/iostats" ] && echo 1 > "/sys/class/block/$b/queue/iostats"
	f="/sys/class/block/$b/stat"
	# NVMe's multipath node (nvme0n1) counts nothing on 6.1: its path (nvme0c0n1) does.
	case $b in nvme*n*) for p in /sys/class/nvme/*/"${b%n*}"c*n"${b##*n}"/stat; do
		[ -r "$p" ] && f=$p; done ;; esac
	[ -r "$f" ] && echo "$f"
}

# dev_stat: "reads read_sectors read_ms writes write_sectors write_ms" of the swap device
# ($apps_stat, set by apps_run): the block layer's own count.
dev_stat() {
	[ -z "${apps_stat:-}" ] || awk '{print $1, $3, $4, $5, $7, $8}' "$apps_stat"
}

# dev_fields BEFORE AFTER: key=value words for rec: requests, mean time a request spent in the
# block layer (queue + device), and KiB moved each way: what a page-in waited for, per device.
dev_fields() {
	local a b
	read -r -a a <<< "$1"
	read -r -a b <<< "$2"
	[ "${#a[@]}" = 6 ] && [ "${#b[@]}" = 6 ] || return 0
	local r=$((b[0] - a[0])) w=$((b[3] - a[3]))
	# brd counts nothing at all (a bio driver that does no accounting): no figures, not zeros.
	[ $((r + w)) -gt 0 ] || return 0
	echo "dev_reads=$r dev_read_kib=$(((b[1] - a[1]) / 2)) dev_read_us=$((r ? (b[2] - a[2]) * 1000 / r : 0))" \
		"dev_writes=$w dev_write_kib=$(((b[4] - a[4]) / 2)) dev_write_us=$((w ? (b[5] - a[5]) * 1000 / w : 0))"
}

redis_cli() { timeout 600 redis-cli -p "$redis_port" "$@"; }

# redis_mix NAME FIT PC ROUND [pc_run]: one GET + SET run (round ROUND of the fit) against the
# running redis-server, recorded
# ("pc_run": one of the page-cluster runs).
redis_mix() {
	local name=$1 fit=$2 pc=$3 round=$4 pc_run=${5:+true} base o0 i0 o1 i1 t0 t1 gpid rc=0 sets c0 c1 th0 th1 d0 d1
	base=$raw/redis-$name-$fit-pc$pc${pc_run:+-r}
	[ "$round" = 1 ] || base=$base-round$round
	sets=$((redis_gets / 9))
	o0=$(vmstat_val pswpout); i0=$(vmstat_val pswpin); c0=$(cpu_now "$name")
	th0=$(engine_threads "$name"); d0=$(dev_stat)
	perf_start "$name" "$fit" "${base##*/}"
	t0=$(date +%s.%N)
	timeout 900 redis-benchmark -p "$redis_port" -t get -r "$redis_keys" -n "$redis_gets" -c 4 \
		-q --csv > "$base-get.csv" 2> "$base-get.err" &
	gpid=$!
	timeout 900 redis-benchmark -p "$redis_port" -r "$redis_keys" -n "$sets" -c 1 -q --csv \
		SET 'key:__rand_int__' "$redis_xval" > "$base-set.csv" 2> "$base-set.err" || rc=$?
	wait "$gpid" || rc=$?
	t1=$(date +%s.%N)
	o1=$(vmstat_val pswpout); i1=$(vmstat_val pswpin); c1=$(cpu_now "$name")
	th1=$(engine_threads "$name"); d1=$(dev_stat)
	perf_stop "${base##*/}"
	# shellcheck disable=SC2046
	python3 "$here/bench-report.py" redis "$recs" "$base-get.csv" "$base-set.csv" \
		device="$name" fit="$fit" round="$round" page_cluster="$pc" pc_run="${pc_run:-false}" rc="$rc" \
		wall_s="$(secs "$t0" "$t1")" requests=$((redis_gets + sets)) $(cpu_fields "$c0" "$c1") \
		$(thread_fields "$th0" "$th1") $(dev_fields "$d0" "$d1") \
		pswpout=$((o1 - o0)) pswpin=$((i1 - i0)) limit="$(cat "$apps_cg/memory.max")"
	tail -n 1 "$recs" | python3 -c '
import json,sys; r=json.load(sys.stdin)
print("%-8s redis %3s%% fit page-cluster %s%s: %s" % (r["device"], r["fit"], r["page_cluster"],
      "" if r.get("round", 1) == 1 else " round %d" % r["round"],
      r.get("error") or "%.0f req/s, GET p50 %.0f us p99 %.0f us, pswpout %d pswpin %d, "
      "CPU busy %.0f%%, engine %.1f s %s, device: %s reads of %s us, %s writes of %s us" % (
      r["rps"], r["p50_us"], r["p99_us"], r["pswpout"], r["pswpin"], 100 * r["cpu_busy"],
      r["engine_cpu_s"], r.get("engine_threads", ""), r.get("dev_reads", "-"),
      r.get("dev_read_us", "-"), r.get("dev_writes", "-"), r.get("dev_write_us", "-"))))'
}

# redis_fits NAME: load, then each fit (and the page-cluster runs on memx), then verify.
redis_fits() {
	local name=$1 rpid foot anon fit pc pc0 io0 io1 vrc round
	mkdir -p "$apps_cg"
	echo max > "$apps_cg/memory.max"
	[ -w "$apps_cg/memory.swap.max" ] && echo max > "$apps_cg/memory.swap.max"
	( cg_enter "$apps_cg"; exec redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
		--appendonly no --dir /run --protected-mode no --loglevel warning ) \
		> "$raw/redis-$name-server.log" 2>&1 &
	rpid=$!
	for _ in $(seq 100); do redis_cli ping > /dev/null 2>&1 && break; sleep 0.2; done
	if ! redis_cli --pipe < "$redis_resp" > "$raw/redis-$name-load.log" 2>&1 ||
		! grep -q "errors: 0, replies: $redis_keys\$" "$raw/redis-$name-load.log"; then
		rec kind=app app=redis device="$name" ok=false why="load: $(why "$raw/redis-$name-load.log") $(why "$raw/redis-$name-server.log")"
		echo "$name: redis load failed: $(why "$raw/redis-$name-load.log")"
	else
		foot=$(cat "$apps_cg/memory.current")
		anon=$(awk '$1 == "anon" {print $2}' "$apps_cg/memory.stat")
		apps_redis_foot=${apps_redis_foot:-$foot}	# the first load's, for every device
		rec kind=app app=redis device="$name" ok=true footprint="$foot" anon="$anon" keys="$redis_keys" \
			value_bytes="$redis_size" used_memory="$(redis_cli info memory | tr -d '\r' | sed -n 's/^used_memory://p')"
		echo "$name: redis holds $redis_keys keys of $redis_size bytes: $((foot >> 20)) MiB in its cgroup, $((anon >> 20)) MiB of it anonymous"
		io0=$(memx_io "$name")
		pc0=$(cat /proc/sys/vm/page-cluster)
		for fit in $app_fits; do
			[ "$name" = noswap ] && [ "$fit" != 100 ] && continue
			if [ "$fit" = 100 ]; then echo max; else echo $((apps_redis_foot * fit / 100)); fi \
				> "$apps_cg/memory.max"
			for round in $(seq "$redis_rounds"); do
				redis_mix "$name" "$fit" "$pc0" "$round"
			done
		done
		if [ "$name" = memx ] && [ "$(cat "$apps_cg/memory.max")" != max ]; then
			for pc in $app_pcs; do
				echo "$pc" > /proc/sys/vm/page-cluster
				redis_mix "$name" "$fit" "$pc" 1 pc_run
			done
			echo "$pc0" > /proc/sys/vm/page-cluster
		fi
		[ "$name" = zram ] && rec kind=zram app=redis mm_stat="$(cat /sys/block/zram0/mm_stat)"
		io1=$(memx_io "$name")
		timeout 900 python3 "$here/bench-redis.py" verify "$redis_port" "$redis_keys" \
			"$redis_size" "$redis_seed" 4000 > "$raw/redis-$name-verify.log" 2>&1
		vrc=$?
		rec kind=app_verify app=redis device="$name" ok="$([ "$vrc" = 0 ] && echo true || echo false)" \
			text="$(tr -d '"\\' < "$raw/redis-$name-verify.log" | tr '\n' ' ' | cut -c1-300)"
		echo "$name: redis $(cat "$raw/redis-$name-verify.log")"
		samefill_rec "$name" redis "$io0" "$io1"
	fi
	redis_cli shutdown nosave > /dev/null 2>&1
	for _ in $(seq 50); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.2; done
	kill -9 "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
	echo max > "$apps_cg/memory.max"
	rmdir "$apps_cg" 2>/dev/null
}

# batch_run NAME FIT PC [pc_run]: swap_pattern over batch_mib in a cgroup of FIT percent of it.
batch_run() {
	local name=$1 fit=$2 pc=$3 pc_run=${4:+true} log o0 i0 o1 i1 t0 t1 rc c0 c1 th0 th1 d0 d1
	log=$raw/batch-$name-$fit-pc$pc${pc_run:+-r}.log
	mkdir -p "$apps_cg"
	if [ "$fit" = 100 ]; then echo max; else echo $((batch_mib * fit / 100))M; fi \
		> "$apps_cg/memory.max"
	[ -w "$apps_cg/memory.swap.max" ] && echo max > "$apps_cg/memory.swap.max"
	o0=$(vmstat_val pswpout); i0=$(vmstat_val pswpin); c0=$(cpu_now "$name")
	th0=$(engine_threads "$name"); d0=$(dev_stat)
	t0=$(date +%s.%N)
	( cg_enter "$apps_cg"; exec timeout 900 "$swap_pattern" "$batch_mib" ) > "$log" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	o1=$(vmstat_val pswpout); i1=$(vmstat_val pswpin); c1=$(cpu_now "$name")
	th1=$(engine_threads "$name"); d1=$(dev_stat)
	rmdir "$apps_cg" 2>/dev/null
	# shellcheck disable=SC2046
	rec kind=app app=batch device="$name" fit="$fit" page_cluster="$pc" pc_run="${pc_run:-false}" ok="$([ "$rc" = 0 ] && echo true || echo false)" \
		wall_s="$(secs "$t0" "$t1")" pswpout=$((o1 - o0)) pswpin=$((i1 - i0)) \
		$(cpu_fields "$c0" "$c1") $(thread_fields "$th0" "$th1") $(dev_fields "$d0" "$d1") mib="$batch_mib" output="$(tr -d '"\\' < "$log" | tr '\n' ' ' | cut -c1-300)"
	printf '%-8s batch %s MiB %3s%% fit page-cluster %s: %.1f s, pswpout %d, pswpin %d, %s %s %s, exit %d: %s\n' \
		"$name" "$batch_mib" "$fit" "$pc" "$(secs "$t0" "$t1")" $((o1 - o0)) $((i1 - i0)) \
		"$(cpu_fields "$c0" "$c1")" "$(thread_fields "$th0" "$th1")" "$(dev_fields "$d0" "$d1")" \
		"$rc" "$(cat "$log")"
}

batch_fits() {
	local name=$1 fit pc pc0 io0 io1
	pc0=$(cat /proc/sys/vm/page-cluster)
	io0=$(memx_io "$name")
	for fit in $app_fits; do
		[ "$name" = noswap ] && [ "$fit" != 100 ] && continue
		batch_run "$name" "$fit" "$pc0"
	done
	if [ "$name" = memx ]; then
		for pc in $app_pcs; do
			echo "$pc" > /proc/sys/vm/page-cluster
			batch_run "$name" 50 "$pc" pc_run
		done
		echo "$pc0" > /proc/sys/vm/page-cluster
	fi
	io1=$(memx_io "$name")
	samefill_rec "$name" batch "$io0" "$io1"
}

# apps_run NAME [SWAPDEV]: both applications with SWAPDEV as the only swap (none: noswap).
apps_run() {
	local name=$1 path=${2:-}
	apps_stat=$(dev_stat_file "$path")
	say "$name: applications (Redis, batch job) at ${app_fits// /%, }% fit"
	if ! apps_prepare 2> "$raw/apps-prepare.log"; then
		rec kind=app app=redis device="$name" ok=false why="ci/bench-redis.py gen: $(why "$raw/apps-prepare.log")"
		return
	fi
	redis_xval=$(head -c "$redis_size" /dev/zero | tr '\0' x)
	swapoff -a 2>/dev/null
	if [ -n "$path" ]; then
		mkswap -f "$path" > "$raw/mkswap-$name-apps.log" 2>&1 &&
			swapon "$path" 2> "$raw/swapon-$name-apps.log" || {
			rec kind=app app=redis device="$name" ok=false why="swapon: $(why "$raw/swapon-$name-apps.log") $(why "$raw/mkswap-$name-apps.log")"
			return; }
	fi
	sync; echo 3 > /proc/sys/vm/drop_caches
	redis_fits "$name"
	batch_fits "$name"
	[ -n "$path" ] && { swapoff "$path" 2>> "$raw/swapon-$name-apps.log" ||
		echo "$name: swapoff failed: $(why "$raw/swapon-$name-apps.log")"; }
	true
}
