#!/usr/bin/env bash
# ci/deps.sh: installs what memx needs to build and test, from Debian 12's
# archive. Idempotent and quick when everything is already there.
set -euo pipefail

pkgs=(
	# build
	build-essential meson ninja-build pkg-config
	libibverbs-dev librdmacm-dev liburing-dev libcriterion-dev
	# CRC32C of every block (ISA-L); keys and the handshake (libsodium)
	libisal-dev libsodium-dev
	# JSON answers of the control socket, memxctl status/list --json (json-c)
	libjson-c-dev
	# memxd --directory etcd://: the etcd v3 HTTP/JSON gateway through libcurl
	# (json-c above parses its answers); etcd itself for the directory's tests
	libcurl4-openssl-dev etcd-server etcd-client
	# memxd --config FILE: ini files (inih)
	libinih-dev
	# man pages: memxd(8), memxctl(8), memx.conf(5); bash completion's directory (its .pc)
	scdoc bash-completion
	# sd_notify for the units' Type=notify; systemd-analyze checks the units
	libsystemd-dev systemd
	# ci/fuzz: clang's libFuzzer and sanitizer runtimes (a Recommends of clang-14,
	# so named here), llvm-symbolizer for readable reports
	clang libclang-rt-14-dev llvm
	# kernel module and guest: ci/test boots Debian 12's default kernel (6.1) and
	# its 6.12 backport. Only the guest uses them; the host keeps its own kernel.
	# The *-6.12-amd64 meta-packages name the current ABI (6.12.N+deb12) for us.
	linux-image-amd64 linux-headers-amd64 linux-image-6.12-amd64 linux-headers-6.12-amd64
	qemu-system-x86 busybox-static cpio kmod xz-utils
	# ci/dkms-check: `dkms build` of the DKMS tree meson installs, against the headers above
	dkms
	# inside the guest (it runs the host's userspace)
	rdma-core ibverbs-utils rdmacm-utils perftest fio iproute2 e2fsprogs util-linux procps bc
	python3 cryptsetup-bin
	# ci/bench: the peers it measures memx against (mdadm: md RAID1 over two NVMe-oF
	# targets, the peer with memx's two copies), and its chart
	nvme-cli nbd-server nbd-client mdadm gnuplot-nox bc
	# ci/bench MEMX_BENCH_APPS: the application runs (redis-benchmark is in redis-tools)
	redis-server redis-tools
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# linux-headers-amd64 must match the installed linux-image-amd64 kernel.
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "ci/deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
