# ci/lib.sh: helpers shared by the ci/ scripts (sourced, not run).

# memx_guest_kernel [LINE]: prints the version of an installed Debian kernel
# that has a vmlinuz, its modules and its headers (found, never hard-coded).
# Without LINE: the default guest kernel, the one Debian's linux-image-amd64
# depends on (6.1 on Debian 12), else the newest. With LINE (a series such as
# 6.12, or an exact version): the newest installed kernel of that series.
memx_guest_kernel() {
	local want=${1:-} v best=""
	if [ -z "$want" ]; then
		v=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
			sed -n 's/^.*linux-image-\([^ ,|]*\).*$/\1/p')
		if [ -n "$v" ] && memx_kernel_usable "$v"; then
			echo "$v"; return 0
		fi
	fi
	for v in $(ls /lib/modules 2>/dev/null | sort -V); do
		case "$v" in "$want"|"$want".*|"$want"-*) ;; *) [ -z "$want" ] || continue ;; esac
		memx_kernel_usable "$v" && best=$v
	done
	[ -n "$best" ] && echo "$best"
}

# memx_kernel_usable VERSION: a vmlinuz, its modules and its build tree are installed.
memx_kernel_usable() {
	[ -r "/boot/vmlinuz-$1" ] && [ -d "/lib/modules/$1/kernel" ] && [ -d "/lib/modules/$1/build" ]
}

# memx_kernel_series VERSION: 6.1.0-57-amd64 -> 6.1, 6.12.117+deb12-amd64 -> 6.12.
memx_kernel_series() { echo "$1" | sed 's/^\([0-9]*\.[0-9]*\).*/\1/'; }

# memx_kmod_tree ROOT KVER: builds memx.ko (and its fault-injection twin) for a guest kernel
# other than the default into ROOT/build/kmod-SERIES/ (kmod/, kmod-fault/), links the rest of
# ROOT/build/ there, and prints that directory: a MEMX_BUILD for the guest. Returns 1 if the
# module does not build.
memx_kmod_tree() {
	local root=$1 kver=$2 kb e
	kb=$root/build/kmod-$(memx_kernel_series "$kver")
	"$root/kmod/build.sh" "/lib/modules/$kver/build" "$root/kmod" "$root/include" "$kb/kmod" 0 \
		>/dev/null || return 1
	"$root/kmod/build.sh" "/lib/modules/$kver/build" "$root/kmod" "$root/include" \
		"$kb/kmod-fault" 1 >/dev/null || return 1
	find "$kb" -mindepth 1 -maxdepth 1 -type l -delete
	for e in "$root"/build/*; do
		case "${e##*/}" in
		kmod|kmod-*|integration-logs|guest|meson-*|build.ninja|compile_commands.json) continue ;;
		esac
		ln -s "../${e##*/}" "$kb/${e##*/}"
	done
	echo "$kb"
}

# True when this machine can run the product natively: it loads modules and
# has (or can get) an RDMA device.
memx_can_run_native() {
	[ -r /proc/modules ] || return 1
	[ -d "/lib/modules/$(uname -r)/build" ] || return 1
	modprobe -n rdma_rxe >/dev/null 2>&1 || ls /sys/class/infiniband/* >/dev/null 2>&1 || return 1
}

# (at N s: the script's time so far, to see where a long run's time goes)
memx_log() { printf '\033[1m==> %s\033[0m (at %d s)\n' "$*" "$SECONDS" >&2; }

# memx_bench_guest: the guest of ci/bench and ci/bench-ab (ci/vm.sh's MEMX_VM_CPU and
# MEMX_VM_APPEND, unless set), without what TCG emulates far slower than hardware runs it (the
# README's ci/bench section has the before and after): QEMU 7.2 runs each crc32 and pclmulqdq
# instruction as a 64-step bit loop, about 100 times slower than the table code software falls
# back to; and the kernel, distrusting TCG's TSC, would read its clock from the emulated HPET
# (a system call and an exit into QEMU under its global lock per read), where TCG's TSC is the
# host's clock.
memx_bench_guest() {
	export MEMX_VM_CPU=${MEMX_VM_CPU:-max,-sse4.2,-pclmulqdq} MEMX_VM_APPEND=${MEMX_VM_APPEND-tsc=reliable}
}
