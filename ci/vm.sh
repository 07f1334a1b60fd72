#!/usr/bin/env bash
# ci/vm.sh: run one command as root inside a QEMU guest that boots Debian's own
# kernel, and exit with that command's exit status.
#
# Why: the build machines' kernel cannot load modules and has no RDMA, so every
# kernel and RDMA test runs in a guest (see shared/notes/test-machine.md).
#
# How: a tiny busybox initramfs loads virtio + 9p + overlay, mounts the host's /
# read-only over virtio-9p, lays a tmpfs overlay on top and switch_roots into
# it; ci/guest-init.sh then sets up /proc, /sys, cgroup2, configfs, Soft-RoCE
# (when asked) and runs the command from a writable 9p share that also carries
# the exit status back. QEMU runs under TCG: /dev/kvm cannot run this kernel here.
# The kernel is Debian's default (linux-image-amd64's, 6.1 on Debian 12) unless
# --kernel names a version or a series (--kernel 6.12); memx.ko must be built
# for it (ci/test does so for each kernel it tests).
#
# Usage: ci/vm.sh [--timeout SEC] [--mem MIB] [--cpus N] [--rxe] [--keep-console]
#                 [--kernel VERSION|SERIES] [--net GROUP:PORT --node N]
#                 [--share DIR] [--monitor SOCKET] [--no-lock] [--] COMMAND...
# Several guests as separate hosts (ci/cluster): --net gives the guest a
# virtio-net NIC on a QEMU multicast socket network (GROUP:PORT, always on the
# host's loopback, so nothing leaves this machine); --node N gives it MAC
# 52:54:00:00:00:N, IP 10.88.0.N/24 on eth0 and Soft-RoCE (rxe0) on eth0.
# --share DIR: a writable 9p share every guest sees at /mnt/memxshare,
# uncached, for guests to coordinate through files. --monitor SOCKET: a QEMU
# monitor on that unix socket (`quit` there powers the guest off). --no-lock:
# the caller already holds /tmp/memx-vm.lock (one run of several guests).
# Exit: the command's status; 124 on time-out; 125 when the guest did not boot
# or did not report a status. On any failure the console log is kept and its
# path printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
timeout_s=900
mem=4096
cpus=2
rxe=0
keep=0
kver=""
net=""
node=""
share=""
monitor=""
lock=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) timeout_s=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--rxe) rxe=1; shift ;;
	--keep-console) keep=1; shift ;;
	--kernel) kver=$2; shift 2 ;;
	--net) net=$2; shift 2 ;;
	--node) node=$2; shift 2 ;;
	--share) share=$2; shift 2 ;;
	--monitor) monitor=$2; shift 2 ;;
	--no-lock) lock=0; shift ;;
	-h|--help) usage 0 ;;
	--) shift; break ;;
	-*) echo "vm.sh: unknown option $1" >&2; usage 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "vm.sh: no command given" >&2; exit 2; }
case "$timeout_s$mem$cpus$node" in *[!0-9]*) echo "vm.sh: --timeout, --mem, --cpus, --node take numbers" >&2; exit 2 ;; esac
if [ -n "$net$node" ]; then
	[[ "$net" =~ ^2(2[4-9]|3[0-9])\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+$ ]] ||
		{ echo "vm.sh: --net takes a multicast GROUP:PORT (224-239.x.x.x:PORT)" >&2; exit 2; }
	[ -n "$node" ] && [ "$node" -ge 1 ] && [ "$node" -le 99 ] ||
		{ echo "vm.sh: --net needs --node N (1-99)" >&2; exit 2; }
fi
[ -z "$share" ] || [ -d "$share" ] || { echo "vm.sh: --share $share is not a directory" >&2; exit 2; }

# shellcheck source=ci/lib.sh
. "$here/lib.sh"
[ -n "$kver" ] || kver=$(memx_guest_kernel) || { echo "vm.sh: no Debian kernel (linux-image-amd64) installed" >&2; exit 125; }
# --kernel 6.12: the newest installed kernel of that series.
[ -r "/boot/vmlinuz-$kver" ] || kver=$(memx_guest_kernel "$kver") || { echo "vm.sh: no such kernel installed" >&2; exit 125; }
vmlinuz=/boot/vmlinuz-$kver
[ -r "$vmlinuz" ] || { echo "vm.sh: $vmlinuz missing" >&2; exit 125; }

cache=${MEMX_VM_CACHE:-$root/build/guest}
mkdir -p "$cache"
initrd=$cache/initramfs-$kver.cpio.gz
if [ ! -s "$initrd" ] || [ "$here/mkinitramfs.sh" -nt "$initrd" ]; then
	"$here/mkinitramfs.sh" "$kver" "$initrd"
fi

job=$(mktemp -d /tmp/memx-vm.XXXXXX)
console=$job/console.log
cleanup() {
	local rc=$?
	if [ "$keep" = 1 ] || [ "$rc" != 0 ]; then
		echo "vm.sh: guest console kept in $console" >&2
	else
		rm -rf "$job"
	fi
}
trap cleanup EXIT

# The command and its environment travel through the writable share.
{
	printf 'cd %q\n' "$PWD"
	printf 'export MEMX_ROOT=%q MEMX_GUEST=1\n' "$root"
	# Test knobs (MEMX_*) travel into the guest.
	for v in $(compgen -e | grep '^MEMX_' | grep -v '^MEMX_VM_'); do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	[ "$rxe" = 1 ] && printf 'export MEMX_WANT_RXE=1\n'
	[ -n "$node" ] && printf 'export MEMX_NET_NODE=%d\n' "$node"
	[ -n "$share" ] && printf 'export MEMX_SHARE=/mnt/memxshare\n'
	printf '%q ' "$@"
	printf '\n'
} > "$job/cmd"
mkdir -p "$job/out"

extra=()
if [ -n "$net" ]; then
	# localaddr=127.0.0.1: the guests' multicast stays on the host's loopback.
	extra+=(-netdev "socket,id=n0,mcast=$net,localaddr=127.0.0.1"
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:$(printf %02d "$node")")
fi
[ -z "$share" ] || extra+=(-virtfs "local,path=$share,mount_tag=memxshare,security_model=none,multidevs=remap")
[ -z "$monitor" ] || extra+=(-monitor "unix:$monitor,server=on,wait=off")

# One guest at a time: the machines have two cores.
if [ "$lock" = 1 ]; then
	exec 9> /tmp/memx-vm.lock
	flock 9
fi

# The CPU model is -cpu max unless MEMX_VM_CPU says otherwise, and MEMX_VM_APPEND adds kernel
# parameters: ci/bench and ci/bench-ab use both to keep TCG's slowest emulation out of what they
# measure (they say why). Tests keep the defaults: the one CI run with the bench's model had
# 6.1's aesni_intel oops in its GCM self-test (AES without PCLMULQDQ, a mix no real CPU has).
cpu_model=${MEMX_VM_CPU:-max}

set +e
timeout --foreground -k 10 "$timeout_s" \
	qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu "$cpu_model" -smp "$cpus" -m "$mem" \
	-nodefaults -no-user-config -display none -no-reboot \
	-serial stdio \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=3 memxci.init=$here/guest-init.sh${MEMX_VM_APPEND:+ $MEMX_VM_APPEND}" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$job",mount_tag=memxjob,security_model=none,multidevs=remap \
	"${extra[@]}" \
	< /dev/null 2>&1 | tee "$console" | sed -u -n '/^memx-guest: output begins/,/^memx-guest: output ends/{/^memx-guest: output/d;p}'
qemu_rc=${PIPESTATUS[0]}
set -e
[ "$lock" = 0 ] || exec 9>&-

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	echo "vm.sh: guest timed out after ${timeout_s}s" >&2
	exit 124
fi
if [ ! -s "$job/rc" ]; then
	echo "vm.sh: guest did not report an exit status (boot failure?); last console lines:" >&2
	tail -n 30 "$console" >&2
	exit 125
fi
rc=$(cat "$job/rc")
# Copy results the command left in the share's out/ to where the caller asked.
if [ -n "${MEMX_VM_OUT:-}" ]; then
	mkdir -p "$MEMX_VM_OUT"
	cp -r "$job/out/." "$MEMX_VM_OUT/"
fi
exit "$rc"
