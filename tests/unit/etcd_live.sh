#!/bin/bash
# etcd_live.sh ETCD_LIVE: starts a real etcd on 127.0.0.1 at free ports with a
# data directory of its own, and runs the directory's code against it
# (etcd_live.c says what it checks). Exit 0 pass, 1 fail, 77 skip (no etcd:
# Debian's etcd-server package, which ci/deps.sh installs).
set -u
prog=$1
etcd_bin=$(command -v etcd || true)
if [ -z "$etcd_bin" ]; then
	echo "SKIP: etcd is not installed (Debian 12: apt-get install etcd-server; ci/deps.sh does)"
	exit 77
fi
tmp=$(mktemp -d /tmp/memx-etcd.XXXXXX)
etcd_pid=
cleanup() {
	[ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# Two free ports on the loopback (the kernel picks them; nothing else binds them
# before etcd does, on a machine where tests do not race for ports by thousands).
read -r cport pport < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
"$etcd_bin" --name memxtest --data-dir "$tmp/data" \
	--listen-client-urls "http://127.0.0.1:$cport" \
	--advertise-client-urls "http://127.0.0.1:$cport" \
	--listen-peer-urls "http://127.0.0.1:$pport" \
	--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "memxtest=http://127.0.0.1:$pport" \
	--logger zap --log-outputs stderr >"$tmp/etcd.out" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$cport") 2>/dev/null; then
		break
	fi
	kill -0 "$etcd_pid" 2>/dev/null || { echo "etcd did not start:"; cat "$tmp"/etcd.*; exit 1; }
	sleep 0.1
done
echo "# etcd $("$etcd_bin" --version | head -1) on 127.0.0.1:$cport"
"$prog" "127.0.0.1:$cport"
