#!/usr/bin/env bash
# ci/cluster-node.sh ROLE: one guest's part of ci/cluster, run as root in a
# guest booted with ci/vm.sh --net/--node/--share (guest N is 10.88.0.N).
# ROLE is "donor" (lends memory until the host says stop; puts tc netem on its
# NIC on request), "client" (guest 1: a 2-replica volume on donors 10.88.0.2
# and .3, fio verified writes, then the scenarios in MEMX_CLUSTER_SCENARIOS:
# netem, poweroff, reboot, directory, migrate; see ci/cluster; or, for the
# scenario pair alone, on a donor of its own and 10.88.0.2), "dirdonor"
# (guest 5: a donor that lists itself in guest 1's etcd, named to nobody) or
# "attach" (guest 4: the volume guest 1 detached, attached here with no state
# file, from the sealed state on the donors; every region written reads back exact). Guests and host meet through
# files in the common share:
#   up.N                  guest N booted, its NIC and rxe0 are up
#   donor.N               the donor on guest N listens
#   netem.N / netem-on.N  the client asks donor N to put `tc netem` (the
#                         file's arguments) on its NIC / donor N did
#   netem-off.N / netem-clear.N   ... to take it off again / donor N did
#   poweroff.N / off.N    the client asks the host to power guest N off / done
#   boot.N                the client asks the host to boot a fresh guest N
#                         (the file holds its role)
#   regions               "OFFSET SIZE" of each verified region written
#   detached              guest 1 detached the volume (migrate)
#   attached.rc           guest 4's verdict, for guest 1 to exit with
#   stop                  the client is done: donors exit
#   results               the figures, for the host to print
set -uo pipefail
role=$1
share=${MEMX_SHARE:?run in a guest booted with ci/vm.sh --share}
n=${MEMX_NET_NODE:?run in a guest booted with ci/vm.sh --net --node}
scenarios=" ${MEMX_CLUSTER_SCENARIOS:-netem poweroff reboot directory migrate} "
# One cluster key for every guest (the host made it): peers authenticate with it.
mkdir -p /etc/memx && chmod 700 /etc/memx
install -m 600 "$share/cluster.key" /etc/memx/cluster.key
# Clients also hold the state key (id 2), which seals a detached volume's state on the donors.
(umask 077; cat "$share/cluster.key" "$share/state.key" > /etc/memx/client.key)
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
scenario() { [[ "$scenarios" == *" $1 "* ]]; }
# vol_get PATH: a field of the volume in memxctl status --json (PATH: ['io']['errors']).
# memxctl waits while the control thread waits out a slow transfer (pings of 5 s): retried.
vol_get() {
	local v
	for _ in $(seq 60); do
		v=$(status_get "[x['volumes'][0]$1 for x in s if x and x['role']=='client'][0]" 2>/dev/null) &&
			[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 1
	done
	echo "?"
	return 1
}
# is_state IP STATE: the client's view of the donor at IP is STATE (a dead one never comes back).
is_state() { [ "$(donor_state "$1" 2>/dev/null)" = "$2" ]; }
# write_region OFFSET SIZE WHAT: verified random writes, then the region is recorded.
write_region() {
	local t=$SECONDS out=$TEST_TMP/wr-$1.out
	fio_write_verify "$MEMX_DEV" "$1" "$2" "$out" > /dev/null || { cat "$out"; fail "verify: $3"; }
	echo "$1 $2" >> "$share/regions"
	result "fio 4k randwrite+verify $2 at $1, $3: $(fio_iops "$out") ($((SECONDS - t)) s)"
}
# verify_regions WHAT: every region written so far reads back exact.
verify_regions() {
	local off size k=0
	while read -r off size; do
		fio_verify_only "$MEMX_DEV" "$off" "$size" > /dev/null || fail "region $off+$size does not read back exact ($1)"
		k=$((k + 1))
	done < "$share/regions"
	result "$k region(s) read back exact ($1)"
}
# The donor directory of the directory scenario: etcd on guest 1.
directory=etcd://10.88.0.1:2379/memxcluster
# The client's view of the donor at IP: the last slot naming it.
common_client=(--size 128M --slab 4M --replicas 2 --donor 10.88.0.2 --donor 10.88.0.3
	--recovery-timeout 600 --key-file /etc/memx/client.key --state-key 2)
# pair (two guests, ci/test's case): guest 1 lends memory too, one replica on each host.
scenario pair && common_client=(--size 128M --slab 4M --replicas 2 --donor 10.88.0.1 --donor 10.88.0.2
	--recovery-timeout 600 --key-file /etc/memx/client.key --state-key 2)

if [ "$role" = donor ]; then
	need_rxe
	# --lease 600: a detached volume's memory outlives the boot of the guest it moves to.
	start_donor "donor$n" "10.88.0.$n" 192M --host "node$n" --lease 600
	touch "$share/donor.$n"
	log "donor listening on 10.88.0.$n"
	# Until the client is done: a bad link on request (netem on this host's NIC).
	end=$((SECONDS + 1800))
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

if [ "$role" = dirdonor ]; then
	# Guest 5: a donor nobody names; it lists itself in guest 1's etcd.
	need_rxe
	start_donor "donor$n" "10.88.0.$n" 192M --host "node$n" --directory "$directory"
	touch "$share/donor.$n"
	log "donor listening on 10.88.0.$n, listed in $directory"
	wait_file "$share/stop" 1800 || fail "no stop from the client"
	exit 0
fi

if [ "$role" = attach ]; then
	# Guest 4: the volume guest 1 detached, attached on this host.
	trap 'echo $? > "$share/attached.rc"; _run_cleanups' EXIT
	need_rxe
	need_cmd fio
	load_kmod
	touch "$share/attach-ready.$n"
	# The client's stop without a detach: it failed before (its own log says why).
	WAIT_S=600 wait_for eval '[ -e "$share/detached" ] || [ -e "$share/stop" ]' ||
		fail "guest 1 did not detach the volume"
	[ -e "$share/detached" ] || fail "guest 1 stopped without detaching the volume"
	t=$SECONDS
	[ ! -e /run/memx/client-vol.state ] || fail "guest $n has a state file before the attach"
	start_client vol "${common_client[@]}" --bind "10.88.0.$n" --attach
	grep -q "attaching the detached volume" "$TEST_TMP/vol.log" || fail "the engine did not say it attached"
	result "attached on guest $n (10.88.0.$n) as $MEMX_DEV $((SECONDS - t)) s after the detach, with no state file: $(grep -o 'rebuilt from the sealed state of generation .*' "$TEST_TMP/vol.log" | head -n 1)"
	verify_regions "after the attach on guest $n"
	write_region 112M 8M "from guest $n after the attach"
	verify_regions "on guest $n, with its own writes"
	errors=$(vol_get "['io']['errors']")
	result "after the attach: I/O errors $errors, backlog $(vol_get "['rereplication_backlog']"), donors $(donor_state 10.88.0.2)/$(donor_state 10.88.0.3)"
	[ "$errors" = 0 ] || fail "I/O errors after the attach"
	stop_bg vol || fail "the attached client did not stop"
	result "attach: PASS"
	exit 0
fi

[ "$role" = client ] || { echo "cluster-node.sh: ROLE is donor, dirdonor, client or attach" >&2; exit 2; }
trap 'touch "$share/stop"; _run_cleanups' EXIT
need_rxe
need_cmd fio
load_kmod
if scenario pair; then
	start_donor donor1 10.88.0.1 192M --host node1
	wait_file "$share/donor.2" 300 || fail "donor 2 did not come up"
else
	wait_file "$share/donor.2" 300 && wait_file "$share/donor.3" 300 || fail "the donors did not come up"
fi
# The scrubber runs (4 MiB/s by default): its reads on this lossy emulated
# link may outlast MEMXD_MSG_TIMEOUT_MS; they are abandoned, not their donor.
client_extra=()
if scenario directory; then
	# etcd for the whole cluster, on this host's NIC (10.88.0.1), nothing else reachable.
	need_cmd etcd
	need_cmd etcdctl
	start_bg etcd etcd --name memxcluster --data-dir "$TEST_TMP/etcd" \
		--listen-client-urls http://10.88.0.1:2379 --advertise-client-urls http://10.88.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster memxcluster=http://127.0.0.1:2380 --logger zap --log-outputs stderr
	WAIT_S=60 wait_for eval 'ETCDCTL_API=3 etcdctl --endpoints 10.88.0.1:2379 endpoint health >/dev/null 2>&1' \
		|| { bg_log etcd; fail "etcd did not start on guest 1"; }
	client_extra=(--directory "$directory")
fi
start_client vol "${common_client[@]}" --bind 10.88.0.1 "${client_extra[@]}"
log "volume $MEMX_DEV: ${common_client[*]}"
: > "$share/regions"
if scenario pair; then
	write_region 0 4M "both donors up"
else
	write_region 0 16M "both donors up"
fi

if scenario netem; then
	# A bad link to donor 2 (delay and loss on its NIC) while verified writes go on, then a
	# good one. No jitter: netem's jitter reorders packets, and rxe's go-back-N then
	# retransmits 1 MiB READs for tens of seconds and starved donor 2's heartbeat past 5 s.
	bad="delay 20ms loss 0.5%"
	echo "$bad" > "$share/netem.2"
	wait_file "$share/netem-on.2" 60 || fail "donor 2 did not put netem on its NIC"
	write_region 32M 8M "netem '$bad' on donor 2's NIC"
	touch "$share/netem-off.2"
	wait_file "$share/netem-clear.2" 60 || fail "donor 2 did not take netem off"
	WAIT_S=60 wait_for is_state 10.88.0.2 live || { "$MEMXCTL" status; fail "donor 2 is not live after the bad link"; }
	WAIT_S=60 wait_for is_state 10.88.0.3 live || { "$MEMXCTL" status; fail "donor 3 is not live after the bad link"; }
	verify_regions "after the bad link"
	result "after the bad link: both donors live, scrub read $(vol_get "['scrub']['bytes']") bytes, $(vol_get "['copy_timeouts']") slow copies abandoned, I/O errors $(vol_get "['io']['errors']")"
fi

# power_off N: the host powers off donor N's guest; the client sees it dead.
power_off() {
	touch "$share/poweroff.$1"
	wait_file "$share/off.$1" 120 || fail "the host did not power off donor $1's guest"
	local t=$SECONDS
	WAIT_S=120 wait_for is_state "10.88.0.$1" dead ||
		{ "$MEMXCTL" status; fail "the client did not see donor $1 die"; }
	result "powered-off donor seen dead after $((SECONDS - t)) s (from the power-off, 0.2 s polls)"
}

# power_off_under_io N: verified writes keep going while the host powers off donor N's guest:
# no error, every region exact, its slabs in the re-replication backlog (no donor to take them).
power_off_under_io() {
	fio --name=during --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randwrite --bs=4k \
		--iodepth=16 --offset=64M --size=16M --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$TEST_TMP/during.out" > /dev/null &
	fio_pid=$!
	sleep 3
	kill -0 $fio_pid 2>/dev/null || { cat "$TEST_TMP/during.out"; fail "fio ended before the power-off"; }
	power_off "$1"
	"$MEMXCTL" status
	wait $fio_pid || { cat "$TEST_TMP/during.out"; fail "fio failed across the power-off"; }
	echo "64M 16M" >> "$share/regions"
	result "fio 4k randwrite+verify 16M at 64M across the power-off: $(fio_iops "$TEST_TMP/during.out")"
	verify_regions "after the power-off"
	errors=$(vol_get "['io']['errors']")
	backlog=$(vol_get "['rereplication_backlog']")
	result "after the power-off: donor 10.88.0.$1 $(donor_state "10.88.0.$1"), re-replication backlog $backlog slab(s), I/O errors $errors, $(vol_get "['copy_timeouts']") slow copies abandoned"
	[ "$errors" = 0 ] || fail "I/O errors across the power-off"
	[ "$backlog" -gt 0 ] || fail "no re-replication backlog with one of two donors gone"
}

scenario poweroff && power_off_under_io 3
scenario pair && power_off_under_io 2

if scenario reboot; then
	# Donor 3's host reboots: a fresh guest, empty memory, same address; its donor rejoins.
	WAIT_S=30 wait_for is_state 10.88.0.3 dead || power_off 3
	backlog=$(vol_get "['rereplication_backlog']")
	[ "$backlog" -gt 0 ] || fail "no backlog before the reboot"
	before=$(vol_get "['slabs_rereplicated']")
	rm -f "$share/donor.3"
	t=$SECONDS
	echo donor > "$share/boot.3"
	wait_file "$share/donor.3" 300 || fail "the rebooted donor 3 did not come up"
	result "donor 3's host rebooted (a fresh guest): its donor listens $((SECONDS - t)) s after the request"
	t=$SECONDS
	"$MEMXCTL" donor add 10.88.0.3 || fail "memxctl donor add of the rebooted donor"
	WAIT_S=60 wait_for is_state 10.88.0.3 live || { "$MEMXCTL" status; fail "the rebooted donor is not live"; }
	# A hang detector, not a speed bound (the time is a figure below): on three TCG guests
	# sharing two cores, 4 MiB copies onto the fresh donor are often abandoned as slow and
	# retried (10 slabs took 310 s in one passing run; 5 in 300 s in a failing one).
	WAIT_S=900 wait_for status_is "[x['volumes'][0]['rereplication_backlog'] for x in s if x and x['role']=='client'][0]" 0 ||
		{ "$MEMXCTL" status; fail "the backlog was not copied onto the rebooted donor"; }
	copied=$(( $(vol_get "['slabs_rereplicated']") - before ))
	result "rejoined: backlog of $backlog slab(s) copied onto the empty donor in $((SECONDS - t)) s ($copied re-replicated; donor 3 holds $(donor_slabs 10.88.0.3))"
	verify_regions "after the rejoin"
	write_region 96M 8M "after the rejoin, both donors"
	errors=$(vol_get "['io']['errors']")
	result "after the rejoin: I/O errors $errors, backlog $(vol_get "['rereplication_backlog']"), $(vol_get "['copy_timeouts']") slow copies abandoned"
	[ "$errors" = 0 ] || fail "I/O errors across the reboot"
fi

# listed IP: how many entries etcd holds for a donor at IP (0 or 1), "error" if it did not answer.
listed() {
	local out
	out=$(ETCDCTL_API=3 etcdctl --endpoints 10.88.0.1:2379 --command-timeout=2s \
		get --prefix /memxcluster/ --keys-only 2>/dev/null) || { echo error; return; }
	grep -c "^/memxcluster/$1:" <<< "$out"
}
listed_is() { [ "$(listed "$1")" = "$2" ]; }

if scenario directory; then
	# A new host's donor, never named to the client, found through etcd.
	rm -f "$share/donor.5"
	t=$SECONDS
	echo dirdonor > "$share/boot.5"
	wait_file "$share/donor.5" 300 || fail "guest 5's donor did not come up"
	result "guest 5's donor listens $((SECONDS - t)) s after the request"
	t=$SECONDS
	WAIT_S=30 wait_for listed_is 10.88.0.5 1 || fail "guest 5's donor is not listed in etcd on guest 1"
	WAIT_S=60 wait_for is_state 10.88.0.5 live || { "$MEMXCTL" status; fail "the client did not join the listed donor"; }
	grep -q "donor 10.88.0.5:7471 joined (listed in the directory" "$TEST_TMP/vol.log" ||
		fail "the client did not say the directory brought guest 5's donor"
	result "guest 5's donor listed in etcd and joined by the client $((SECONDS - t)) s after it listened"
	write_region 48M 16M "with guest 5's donor joined"
	n5=$(donor_slabs 10.88.0.5)
	result "guest 5's donor holds $n5 slab(s)"
	[ "$n5" -gt 0 ] || fail "the donor found through the directory received no slabs"
	# Its host powered off: no revoke; the lease (10 s) takes the entry away.
	touch "$share/poweroff.5"
	wait_file "$share/off.5" 120 || fail "the host did not power off guest 5"
	t=$(date +%s.%N)
	sleep 1
	[ "$(listed 10.88.0.5)" = 1 ] || fail "guest 5's entry went at once (expected: at its lease's end)"
	WAIT_S=20 wait_for listed_is 10.88.0.5 0 || fail "guest 5's entry still listed 20 s after its power-off"
	result "guest 5 powered off: its etcd entry gone $(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t" "$(date +%s.%N)") s after (lease 10 s)"
	WAIT_S=60 wait_for is_state 10.88.0.5 dead || { "$MEMXCTL" status; fail "the client did not see guest 5's donor die"; }
	verify_regions "after guest 5's power-off"
	errors=$(vol_get "['io']['errors']")
	result "after guest 5's power-off: I/O errors $errors, backlog $(vol_get "['rereplication_backlog']")"
	[ "$errors" = 0 ] || fail "I/O errors across guest 5's power-off"
fi

if scenario migrate; then
	# The volume leaves this host with its state sealed on the donors; guest 4 attaches it
	# from them, no file carried.
	rm -f "$share/attached.rc" "$share/detached"
	t=$SECONDS
	echo attach > "$share/boot.4"
	wait_file "$share/attach-ready.4" 600 || fail "guest 4 did not come up"
	result "guest 4 booted and ready to attach $((SECONDS - t)) s after the request"
	t=$SECONDS
	# A control thread waiting out a slow copy keeps the detach for after it ("wait:" on stderr).
	"$MEMXCTL" volume detach vol 2> "$TEST_TMP/detach.err" | tee "$TEST_TMP/detach.txt" ||
		{ cat "$TEST_TMP/detach.err"; fail "memxctl volume detach failed"; }
	cat "$TEST_TMP/detach.err"
	grep -q "memxd says wait:" "$TEST_TMP/detach.err" &&
		result "memxctl volume detach was kept for after a slow transfer ($((SECONDS - t)) s)"
	WAIT_S=30 wait_for exited "$(bg_pid vol)" || fail "the engine did not leave after the detach"
	wait "$(bg_pid vol)" || fail "the engine exited non-zero after the detach"
	grep -q "detached: sealed state of generation" "$TEST_TMP/vol.log" ||
		{ bg_log vol; fail "the detach left no sealed state on the donors"; }
	touch "$share/detached"
	result "detached on guest 1 in $((SECONDS - t)) s: $(grep -o 'detached: sealed state of generation .*' "$TEST_TMP/vol.log" | tail -n 1)"
	t=$SECONDS
	wait_file "$share/attached.rc" 600 || fail "guest 4 did not report"
	rc=$(cat "$share/attached.rc")
	result "guest 4 attached, verified, wrote and stopped in $((SECONDS - t)) s (exit $rc)"
	[ "$rc" = 0 ] || fail "the attach on guest 4 failed"
	result "client: PASS"
	exit 0
fi
"$MEMXCTL" status
stop_bg vol || fail "client did not stop"
result "client: PASS"
