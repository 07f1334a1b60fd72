# ci/lib.sh: helpers shared by the ci/ scripts (sourced, not run).

# Prints the newest Debian kernel version that has a vmlinuz, its modules and
# its headers (the guest kernel; found, never hard-coded).
memx_guest_kernel() {
	local v best=""
	for v in $(ls /lib/modules 2>/dev/null | sort -V); do
		[ -r "/boot/vmlinuz-$v" ] && [ -d "/lib/modules/$v/kernel" ] && best=$v
	done
	[ -n "$best" ] && echo "$best"
}

# True when this machine can run the product natively: it loads modules and
# has (or can get) an RDMA device.
memx_can_run_native() {
	[ -r /proc/modules ] || return 1
	[ -d "/lib/modules/$(uname -r)/build" ] || return 1
	modprobe -n rdma_rxe >/dev/null 2>&1 || ls /sys/class/infiniband/* >/dev/null 2>&1 || return 1
}

memx_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
