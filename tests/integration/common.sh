# tests/integration/common.sh: sourced by every integration test.
# Exit codes: 0 pass, 1 fail, 77 skip. Each test registers cleanup steps with
# on_exit; they run in reverse order however the test ends.
set -u

MEMX_ROOT=${MEMX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MEMX_BUILD=${MEMX_BUILD:-$MEMX_ROOT/build}
MEMX_KO=${MEMX_KO:-$MEMX_BUILD/kmod/memx.ko}
MEMX_TEST_BIN=$MEMX_BUILD/tests/integration
MEMXD=$MEMX_BUILD/daemon/memxd
MEMXCTL=$MEMX_BUILD/daemon/memxctl
# MEMX_TEST_BACKEND=ublk (run.sh's MEMX_UBLK_TESTS pass): the engines that
# start_client starts serve their volumes through the kernel's ublk
# (--kernel-backend ublk), load_kmod readies ublk_drv instead of memx.ko, and
# whatever needs memx.ko itself (need_memx_ko, memx_ramd) skips. Unset: memx.ko.
MEMX_TEST_BACKEND=${MEMX_TEST_BACKEND:-}
case $MEMX_TEST_BACKEND in
""|memx) MEMX_BACKEND_ARGS=() ;;
ublk) MEMX_BACKEND_ARGS=(--kernel-backend ublk) ;;
*) echo "common.sh: MEMX_TEST_BACKEND=$MEMX_TEST_BACKEND: memx or ublk" >&2; exit 1 ;;
esac
# Addresses on the guest's Soft-RoCE netdev (ci/guest-init.sh).
IP1=10.77.0.1 IP2=10.77.0.2 IP3=10.77.0.3 IP4=10.77.0.4 IP5=10.77.0.5
TEST_TMP=$(mktemp -d /tmp/memx-test.XXXXXX)
# No memxd runs between tests: sockets left by killed ones would only confuse memxctl.
rm -f /run/memx/*.sock 2>/dev/null
# Every memxd authenticates its peers with the cluster key: the guest makes
# one at the default place (its /etc is a throwaway overlay), as an operator
# would with `memxctl keygen`, unless one is there already.
MEMX_KEY=/etc/memx/cluster.key
if [ ! -s "$MEMX_KEY" ] && [ -x "$MEMXCTL" ] && "$MEMXCTL" --help 2>/dev/null | grep -q keygen; then
	mkdir -p /etc/memx && chmod 700 /etc/memx
	"$MEMXCTL" keygen "$MEMX_KEY" >/dev/null || echo "common.sh: cannot make $MEMX_KEY" >&2
fi

_cleanups=()
on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$TEST_TMP"
}
trap _run_cleanups EXIT

log() { echo "[$(basename "$0" .sh)] $*"; }
# fail MESSAGE: shows the end of every background process's log, then exits 1.
fail() {
	local f
	echo "FAIL: $*" >&2
	for f in "$TEST_TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "--- last lines of $(basename "$f") ---" >&2
		tail -n 25 "$f" >&2
	done
	exit 1
}
skip() { echo "SKIP: $*" >&2; exit 77; }

# need_ublk: the kernel's ublk_drv loaded (skip without it: Debian 12's 6.1),
# and memx.ko out of the way, so that the engine takes ublk.
need_ublk() {
	modprobe ublk_drv 2>/dev/null
	[ -c /dev/ublk-control ] || skip "this kernel ($(uname -r)) has no ublk_drv"
	if kmod_loaded; then rmmod memx || fail "memx.ko is loaded and will not unload"; fi
}

need_rxe() { ibv_devices 2>/dev/null | grep -q rxe || skip "no RDMA device (run with Soft-RoCE)"; }
need_cmd() { command -v "$1" >/dev/null || skip "$1 not installed"; }

kmod_loaded() { grep -q '^memx ' /proc/modules; }
# need_memx_ko WHY: skips the ublk pass of a test that needs memx.ko itself.
need_memx_ko() {
	[ "$MEMX_TEST_BACKEND" != ublk ] || skip "needs memx.ko itself ($*), not run on ublk"
}
load_kmod() {
	if [ "$MEMX_TEST_BACKEND" = ublk ]; then
		modprobe ublk_drv 2>/dev/null
		[ -c /dev/ublk-control ] || skip "MEMX_TEST_BACKEND=ublk: this kernel ($(uname -r)) has no ublk_drv"
		if kmod_loaded; then rmmod memx || fail "memx.ko is loaded and will not unload"; fi
		return 0
	fi
	[ -r "$MEMX_KO" ] || fail "module not built: $MEMX_KO"
	kmod_loaded || insmod "$MEMX_KO" || fail "insmod $MEMX_KO"
	on_exit unload_kmod
}
unload_kmod() { ! kmod_loaded || rmmod memx; }

# wait_for CMD...: retries CMD for up to ${WAIT_S:-20} seconds.
wait_for() {
	local end=$((SECONDS + ${WAIT_S:-20}))
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}

# start_bg NAME CMD...: starts CMD in the background with its output in
# $TEST_TMP/NAME.log, records its pid in $TEST_TMP/NAME.pid, kills it on exit.
# A client engine gets SIGTERM first (up to 5 s): killed, it would leave its
# volume waiting in memx.ko for --recovery-timeout, and the name taken from
# the tests after a failed one.
start_bg() {
	local name=$1; shift
	"$@" > "$TEST_TMP/$name.log" 2>&1 &
	echo $! > "$TEST_TMP/$name.pid"
	if [ "${2:-}" = client ]; then
		on_exit "kill -TERM $! 2>/dev/null; for _ in \$(seq 25); do kill -0 $! 2>/dev/null || break; sleep 0.2; done; kill -9 $! 2>/dev/null; wait $! 2>/dev/null"
	else
		on_exit "kill -9 $! 2>/dev/null; wait $! 2>/dev/null"
	fi
}
bg_pid() { cat "$TEST_TMP/$1.pid"; }
bg_log() { cat "$TEST_TMP/$1.log"; }

# ---- memx_ramd (a RAM-backed test engine, no RDMA) -------------------------------

# start_ramd NAME ARGS...: memx_ramd as background job NAME; sets DEV.
start_ramd() {
	local name=$1; shift
	need_memx_ko "memx_ramd serves memx.ko's queues"
	start_bg "$name" "$MEMX_TEST_BIN/memx_ramd" "$@"
	wait_for grep -q '^ready /dev/memx' "$TEST_TMP/$name.log" \
		|| { bg_log "$name"; fail "memx_ramd did not report ready"; }
	DEV=$(sed -n 's/^ready //p' "$TEST_TMP/$name.log")
	wait_for test -b "$DEV" || fail "$DEV did not appear"
}
# exited PID: our child PID has exited (gone, or a zombie not yet reaped).
exited() { [ ! -e /proc/$1 ] || [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" = Z ]; }

# stop_ramd: SIGTERM to memx_ramd (pid in RP, log ramd): it must exit 0, say it
# deleted the volume, the device must go and the module unload.
stop_ramd() {
	local rc
	kill -TERM "$RP"
	WAIT_S=15 wait_for exited "$RP" || { bg_log ramd; fail "memx_ramd did not exit on SIGTERM"; }
	wait "$RP"; rc=$?
	bg_log ramd
	[ $rc = 0 ] || fail "memx_ramd exited $rc on SIGTERM"
	grep -q "deleted" "$TEST_TMP/ramd.log" || fail "memx_ramd did not report the volume deleted"
	wait_for test ! -e "$DEV" || fail "$DEV still present after the engine stopped"
	rmmod memx || fail "rmmod after clean removal failed"
}

# ---- memxd helpers ----------------------------------------------------------

# start_donor NAME IP MEMORY [extra args]: starts a donor and waits until it listens.
# Each donor is its own host (--host NAME) unless the test says otherwise: the
# guest is one machine, and replicas of a slab never share a host. (An engine
# older than failure domains has no --host: the attack tests run against one.)
start_donor() {
	local name=$1 ip=$2 mem=$3 host=(--host "$1"); shift 3
	case " $* " in *" --host "*) host=() ;; esac
	"$MEMXD" donor --help 2>/dev/null | grep -q -- --host || host=()
	start_bg "$name" "$MEMXD" donor --listen "$ip" --memory "$mem" "${host[@]}" "$@"
	wait_for grep -q '^listening' "$TEST_TMP/$name.log" || { bg_log "$name"; fail "donor $name did not start"; }
}

# start_client NAME [memxd client args]: starts a client, waits for "ready /dev/memxN"
# (or /dev/ublkbN, through the kernel's ublk) and sets MEMX_DEV to that device.
start_client() {
	local name=$1; shift
	start_bg "$name" "$MEMXD" client --name "$name" "${MEMX_BACKEND_ARGS[@]}" "$@"
	WAIT_S=60 wait_for grep -q '^ready /dev/\(memx\|ublkb\)[0-9]' "$TEST_TMP/$name.log" \
		|| { bg_log "$name"; fail "client $name did not become ready"; }
	MEMX_DEV=$(sed -n 's/^ready \(\/dev\/\(memx\|ublkb\)[0-9]*\)$/\1/p' "$TEST_TMP/$name.log")
	[ -b "$MEMX_DEV" ] || fail "client $name: $MEMX_DEV is not a block device"
	if [ "$MEMX_TEST_BACKEND" = ublk ] && [[ $MEMX_DEV != /dev/ublkb* ]]; then
		fail "client $name: MEMX_TEST_BACKEND=ublk, but it serves $MEMX_DEV"
	fi
}

# listed DEV NAME MIB STATE: `memxctl list` shows volume NAME on DEV, MIB MiB,
# then STATE (an extended regex: "live \(ublk\)"); its output in $TEST_TMP/list.out.
listed() {
	"$MEMXCTL" list > "$TEST_TMP/list.out" 2>&1 &&
		grep -qE "^$1 +$2 +$3 MiB +$4" "$TEST_TMP/list.out"
}

# stop_bg NAME: SIGTERM, then wait up to 30 s for a clean exit; returns its status.
stop_bg() {
	local pid rc
	pid=$(bg_pid "$1")
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$pid" 2>/dev/null && { echo "$1 did not stop on SIGTERM"; return 1; }
	wait "$pid"; rc=$?
	return $rc
}

# fio_verify DEV [fio args]: random writes then verified reads, crc32c.
fio_verify() {
	local dev=$1; shift
	fio --name=verify --filename="$dev" --direct=1 --ioengine=io_uring \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting \
		--output="$TEST_TMP/fio.out" "$@"
	local rc=$?
	grep -E 'IOPS|err=' "$TEST_TMP/fio.out" | head -n 6
	return $rc
}

# vmstat NAME: a counter from /proc/vmstat.
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

# run_in_memcg NAME LIMIT CMD...: runs CMD in a fresh cgroup v2 group whose
# memory.max is LIMIT; the group is removed afterwards. MEMCG_LIMIT=memory.high makes LIMIT
# the group's memory.high instead: above it the kernel reclaims and throttles the program but
# never kills it, where memory.max's reclaim gives up and OOM-kills when pages wait long on
# a slow writeback (dm-crypt over the volume under TCG).
run_in_memcg() {
	local name=$1 limit=$2 cg=/sys/fs/cgroup/$1 rc; shift 2
	mkdir -p "$cg" || return 1
	echo "$limit" > "$cg/${MEMCG_LIMIT:-memory.max}" || return 1
	( echo $BASHPID > "$cg/cgroup.procs" && exec "$@" )
	rc=$?
	rmdir "$cg" 2>/dev/null
	return $rc
}

# status_json: memxctl status --json for every memxd, as a JSON array.
status_json() { "$MEMXCTL" status --json; }

# jq_py EXPR: evaluates a Python expression over the status array (as `s`).
status_get() {
	status_json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# status_is EXPR VALUE: true when status_get EXPR prints VALUE (for wait_for,
# which must re-evaluate it on each try).
status_is() { [ "$(status_get "$1" 2>/dev/null)" = "$2" ]; }

# donor_slabs IP: slabs of the client's volume that the donor at IP holds (client's view).
donor_slabs() {
	status_get 'sum(d["slabs"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$1"':"))'
}
donor_state() {
	status_get '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$1"':")][-1]'
}

# fio_write_verify DEV OFFSET SIZE [OUT]: random 4 KiB writes with crc32c, then verified reads.
fio_write_verify() {
	fio --name=wv --filename="$1" --direct=1 --ioengine=io_uring --rw=randwrite --bs=4k \
		--iodepth=16 --offset="$2" --size="$3" --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --output="${4:-$TEST_TMP/fio-wv.out}"
}
fio_verify_only() {
	fio --name=wv --filename="$1" --direct=1 --ioengine=io_uring --rw=randwrite --bs=4k \
		--iodepth=16 --offset="$2" --size="$3" --verify=crc32c --verify_fatal=1 \
		--verify_only --output="${4:-$TEST_TMP/fio-vo.out}"
}

# corrupt_slabs PID SLAB_BYTES: as a bad DIMM or a lying donor would, flips the
# byte 100 bytes into every slab of donor PID (through /proc/PID/mem) and
# prints how many: each slab is an anonymous mapping of SLAB_BYTES, and the
# kernel may merge neighbours into one mapping of a multiple of it.
corrupt_slabs() {
	python3 - "$1" "$2" <<'PY'
import sys
pid, size = sys.argv[1], int(sys.argv[2])
n = 0
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "r+b", 0) as mem:
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if (hi - lo) % size or not f[1].startswith("rw") or len(f) >= 6:
            continue
        for at in range(lo + 100, hi, size):
            mem.seek(at)
            b = mem.read(1)
            mem.seek(at)
            mem.write(bytes([b[0] ^ 0x5a]))
            n += 1
print(n)
PY
}
