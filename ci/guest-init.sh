#!/bin/bash
# ci/guest-init.sh: PID 1 of the test guest, after the initramfs switch_root.
# Sets up the system a test expects, runs the command from the job share,
# writes its exit status back and powers off. Never exits (PID 1 must not).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb

poweroff_now() {
	sync
	echo o > /proc/sysrq-trigger
	sleep 30
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm /run /tmp /sys/fs/cgroup /mnt/memxjob
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# /tmp stays the overlay (writes land in RAM): a checkout under the host's /tmp must stay visible.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
hostname memx-guest
ip link set lo up
ip addr add 127.0.0.1/8 dev lo 2>/dev/null
ulimit -l unlimited
ulimit -n 65536

if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 memxjob /mnt/memxjob; then
	echo "memx-guest: cannot mount the job share"
	poweroff_now
fi
job=/mnt/memxjob

rc=0
if grep -q '^export MEMX_WANT_RXE=1' "$job/cmd" && ! "$(dirname "$0")/rxe-setup.sh"; then
	echo "memx-guest: Soft-RoCE setup failed"
	rc=125
fi
# ci/vm.sh --share: cache=none, so each guest sees the others' files at once.
if grep -q '^export MEMX_SHARE=' "$job/cmd"; then
	mkdir -p /mnt/memxshare
	if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none memxshare /mnt/memxshare; then
		echo "memx-guest: cannot mount the common share"
		rc=125
	fi
fi
# ci/vm.sh --net/--node: this guest is host N on the virtual network, with Soft-RoCE on its NIC.
node=$(sed -n 's/^export MEMX_NET_NODE=\([0-9]*\)$/\1/p' "$job/cmd")
if [ -n "$node" ] && [ "$rc" = 0 ] && ! "$(dirname "$0")/net-setup.sh" "$node"; then
	echo "memx-guest: network setup failed"
	rc=125
fi

echo "memx-guest: output begins"
if [ "$rc" = 0 ]; then
	export MEMX_OUT=$job/out
	bash "$job/cmd" < /dev/null
	rc=$?
fi
echo "memx-guest: output ends"
echo "$rc" > "$job/rc"
poweroff_now
