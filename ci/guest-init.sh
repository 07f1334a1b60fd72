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
mount -t tmpfs tmpfs /tmp
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

# Soft-RoCE the way the notes say works on 6.1: one dummy netdev with several
# IPs and one rxe device on it; each process binds its own IP.
setup_rxe() {
	modprobe dummy numdummies=0 || return 1
	ip link add mxnet0 type dummy || return 1
	ip link set mxnet0 mtu 4200 up || return 1
	for i in 1 2 3 4 5 6; do ip addr add 10.77.0.$i/24 dev mxnet0 || return 1; done
	modprobe -a rdma_rxe rdma_ucm ib_uverbs || return 1
	rdma link add rxe0 type rxe netdev mxnet0 || return 1
	ibv_devices | grep -q rxe0 || return 1
}

rc=0
if grep -q '^export MEMX_WANT_RXE=1' "$job/cmd" && ! setup_rxe; then
	echo "memx-guest: Soft-RoCE setup failed"
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
