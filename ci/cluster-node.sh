#!/usr/bin/env bash
# ci/cluster-node.sh ROLE: one guest's part of ci/cluster's scenario, run as
# root in a guest booted with ci/vm.sh --net/--node/--share (guest N is
# 10.88.0.N). ROLE is "donor" (lends memory until the host says stop) or
# "client" (guest 1: a 2-replica volume on donors 10.88.0.2 and .3, fio
# verified writes, and mid-run asks the host to power off the guest of donor
# .3). Guests and host meet through files in the common share:
#   up.N                  guest N booted, its NIC and rxe0 are up
#   donor.N               the donor on guest N listens
#   netem.N / netem-on.N  the client asks donor N to put `tc netem` (the
#                         file's arguments) on its NIC / donor N did
#   netem-off.N / netem-clear.N   ... to take it off again / donor N did
#   poweroff.N / off.N    the client asks the host to power guest N off / done
#   stop                  the client is done: donors exit
#   results               the client's figures, for the host to print
set -uo pipefail
role=$1
share=${MEMX_SHARE:?run in a guest booted with ci/vm.sh --share}
n=${MEMX_NET_NODE:?run in a guest booted with ci/vm.sh --net --node}
# One cluster key for every guest (the host made it): peers authenticate with it.
mkdir -p /etc/memx && chmod 700 /etc/memx
install -m 600 "$share/cluster.key" /etc/memx/cluster.key
# shellcheck source=tests/integration/common.sh
. "$MEMX_ROOT/tests/integration/common.sh"
touch "$share/up.$n"

# wait_file PATH SECONDS: polls for PATH (the share is uncached).
wait_file() { WAIT_S=$2 wait_for test -e "$1"; }
# result LINE: a figure for the host to print.
result() { log "$*"; echo "$*" >> "$share/results"; }
# fio_iops FILE: "write N IOPS, read M IOPS" from fio's output.
fio_iops() {
	awk '/^ *(write|read): IOPS=/ { sub(/,$/, "", $2); printf "%s%s %s", sep, $1, $2; sep=", " }' "$1"
}

if [ "$role" = donor ]; then
	need_rxe
	start_donor "donor$n" "10.88.0.$n" 192M --host "node$n"
	touch "$share/donor.$n"
	log "donor listening on 10.88.0.$n"
	# Until the client is done: a bad link on request (netem on this host's NIC).
	end=$((SECONDS + 900))
	until [ -e "$share/stop" ]; do
		[ $SECONDS -lt $end ] || fail "no stop from the client"
		if [ -e "$share/netem.$n" ] && [ ! -e "$share/netem-on.$n" ]; then
			# shellcheck disable=SC2046 # the file holds netem's arguments
			tc qdisc add dev eth0 root netem $(cat "$share/netem.$n") || fail "tc netem"
			log "netem on eth0: $(tc qdisc show dev eth0)"
			touch "$share/netem-on.$n"
		fi
		if [ -e "$share/netem-off.$n" ] && [ ! -e "$share/netem-clear.$n" ]; then
			tc qdisc del dev eth0 root || fail "tc qdisc del"
			touch "$share/netem-clear.$n"
		fi
		sleep 0.2
	done
	exit 0
fi

[ "$role" = client ] || { echo "cluster-node.sh: ROLE is donor or client" >&2; exit 2; }
trap 'touch "$share/stop"; _run_cleanups' EXIT
need_rxe
need_cmd fio
load_kmod
wait_file "$share/donor.2" 300 && wait_file "$share/donor.3" 300 || fail "the donors did not come up"
lost=10.88.0.3
# The scrubber runs (4 MiB/s by default): its reads on this lossy emulated
# link may outlast MEMXD_MSG_TIMEOUT_MS; they are abandoned, not their donor.
start_client vol --size 128M --slab 4M --replicas 2 --bind 10.88.0.1 \
	--donor 10.88.0.2 --donor 10.88.0.3
log "volume $MEMX_DEV: 128M, 2 replicas on 10.88.0.2 and 10.88.0.3"
t=$SECONDS
fio_write_verify "$MEMX_DEV" 0 16M "$TEST_TMP/first.out" > /dev/null || { cat "$TEST_TMP/first.out"; fail "first verify"; }
result "fio 4k randwrite+verify 16M, both donors up: $(fio_iops "$TEST_TMP/first.out") ($((SECONDS - t)) s)"

# A bad link to donor 2 (delay and loss on its NIC) while verified writes go on, then a good one.
bad="delay 20ms 5ms loss 0.5%"
echo "$bad" > "$share/netem.2"
wait_file "$share/netem-on.2" 60 || fail "donor 2 did not put netem on its NIC"
t=$SECONDS
fio_write_verify "$MEMX_DEV" 32M 8M "$TEST_TMP/netem.out" > /dev/null ||
	{ cat "$TEST_TMP/netem.out"; fail "verify over the bad link"; }
result "fio 4k randwrite+verify 8M with netem '$bad' on donor 2's NIC: $(fio_iops "$TEST_TMP/netem.out") ($((SECONDS - t)) s)"
touch "$share/netem-off.2"
wait_file "$share/netem-clear.2" 60 || fail "donor 2 did not take netem off"
[ "$(donor_state 10.88.0.2)" = live ] || { "$MEMXCTL" status; fail "donor 2 is not live after the bad link"; }
[ "$(donor_state 10.88.0.3)" = live ] || { "$MEMXCTL" status; fail "donor 3 is not live after the bad link"; }
vol_get() { status_get "[x['volumes'][0]$1 for x in s if x and x['role']=='client'][0]"; }
result "after the bad link: both donors live, scrub read $(($(vol_get "['scrub']['bytes']") >> 20)) MiB, $(vol_get "['copy_timeouts']") slow copies abandoned, I/O errors $(vol_get "['io']['errors']")"

# Verified writes keep going while the host powers off donor 3's guest.
fio --name=during --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite --bs=4k \
	--iodepth=16 --offset=64M --size=16M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/during.out" > /dev/null &
fio_pid=$!
sleep 3
kill -0 $fio_pid 2>/dev/null || { cat "$TEST_TMP/during.out"; fail "fio ended before the power-off"; }
touch "$share/poweroff.3"
wait_file "$share/off.3" 120 || fail "the host did not power off donor 3's guest"
t=$SECONDS
WAIT_S=120 wait_for eval '[ "$(donor_state "$lost" 2>/dev/null)" = dead ]' ||
	{ "$MEMXCTL" status; fail "the client did not see donor 3 die"; }
result "powered-off donor seen dead after $((SECONDS - t)) s (from the power-off, 0.2 s polls)"
"$MEMXCTL" status
wait $fio_pid || { cat "$TEST_TMP/during.out"; fail "fio failed across the power-off"; }
result "fio 4k randwrite+verify 16M across the power-off: $(fio_iops "$TEST_TMP/during.out")"
fio_verify_only "$MEMX_DEV" 0 16M > /dev/null || fail "verify of data written before the power-off"
fio_verify_only "$MEMX_DEV" 64M 16M > /dev/null || fail "verify of data written across the power-off"
fio_verify_only "$MEMX_DEV" 32M 8M > /dev/null || fail "verify of data written over the bad link"
errors=$(status_get '[x["volumes"][0]["io"]["errors"] for x in s if x and x["role"]=="client"][0]')
backlog=$(status_get '[x["volumes"][0]["rereplication_backlog"] for x in s if x and x["role"]=="client"][0]')
result "after the power-off: donor 10.88.0.3 $(donor_state "$lost"), re-replication backlog $backlog slab(s), I/O errors $errors, $(vol_get "['copy_timeouts']") slow copies abandoned"
[ "$errors" = 0 ] || fail "I/O errors across the power-off"
[ "$backlog" -gt 0 ] || fail "no re-replication backlog with one of two donors gone"
"$MEMXCTL" status
stop_bg vol || fail "client did not stop"
result "client: PASS"
