#!/usr/bin/env bash
# ci/net-setup.sh N: in a guest booted with ci/vm.sh --net/--node N, brings up
# its virtio-net NIC as host N of 10.88.0.0/24 and Soft-RoCE (rxe0) on it:
# the recipe that works for separate guests (shared/notes/test-machine.md).
set -eu
n=$1
hostname "memx-node$n"
modprobe virtio_net
for _ in $(seq 50); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.1; done
ip link set eth0 up
ip addr add "10.88.0.$n/24" dev eth0
modprobe -a rdma_rxe rdma_ucm ib_uverbs
rdma link add rxe0 type rxe netdev eth0
ibv_devices | grep -q rxe0
