#!/usr/bin/env bash
# ci/rxe-setup.sh: brings up Soft-RoCE the way that works on Debian 12's 6.1
# (shared/notes/test-machine.md): one dummy netdev with IPs 10.77.0.1-6 and
# one rxe device on it; each memx process binds its own IP. Idempotent.
set -eu
if ip link show mxnet0 >/dev/null 2>&1 && rdma link show rxe0/1 >/dev/null 2>&1; then
	exit 0
fi
modprobe dummy numdummies=0
ip link add mxnet0 type dummy
ip link set mxnet0 mtu 4200 up
for i in 1 2 3 4 5 6; do ip addr add 10.77.0.$i/24 dev mxnet0; done
modprobe -a rdma_rxe rdma_ucm ib_uverbs
rdma link add rxe0 type rxe netdev mxnet0
ibv_devices | grep -q rxe0
