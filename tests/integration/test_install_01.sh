#!/usr/bin/env bash
# Installed and run as an operator would, on a machine with no systemd:
# `meson install --destdir` lays out the whole install (programs, units,
# examples, udev rule, the DKMS source tree); DKMS adds, builds (against this
# kernel's headers) and installs memx.ko, and the client unit's ExecStartPre
# (`modprobe memx`) loads that module. Two donors and a client then run the
# installed units' ExecStart lines with /etc/memx config files, talking
# sd_notify to a stand-in for systemd (READY=1, STATUS=, WATCHDOG=1). The
# device is named by sysfs and by the installed udev rule; `memxctl status -o
# json` parses with the client and both donors up on a volume of 2000 slabs, and
# the metrics unit's command writes a Prometheus file that parses. A drain
# with --wait shows its progress (and STATUS= too). A clean stop gives the
# donors their memory back, and `modprobe -r` unloads the module.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd dkms
need_cmd meson
need_cmd modprobe
kver=$(uname -r)
[ -f "/lib/modules/$kver/build/Makefile" ] || skip "no kernel headers for $kver (linux-headers-$kver)"
! kmod_loaded || fail "memx already loaded before the test"

# --- meson install --destdir ------------------------------------------------
stage=$TEST_TMP/stage
builddir=$MEMX_BUILD
[ -f "$builddir/build.ninja" ] || builddir=$MEMX_ROOT/build	# another kernel's MEMX_BUILD
meson install -C "$builddir" --no-rebuild --destdir "$stage" > "$TEST_TMP/install.out" 2>&1 ||
	{ tail -n 20 "$TEST_TMP/install.out"; fail "meson install --destdir failed"; }
# find_one PATTERN: the one installed file whose path (under the stage) matches.
find_one() {
	local f
	f=$(find "$stage" -path "$stage$1" | head -n 1)
	[ -n "$f" ] || fail "meson install put nothing at $1"
	echo "$f"
}
memxd=$(find_one '*/sbin/memxd') memxctl=$(find_one '*/bin/memxctl')
client_unit=$(find_one '*/systemd/system/memx@.service')
donor_unit=$(find_one '*/systemd/system/memx-donor@.service')
metrics_unit=$(find_one '*/systemd/system/memx-metrics.service')
rule=$(find_one '*/udev/rules.d/60-memx.rules')
conf=$(find_one '*/src/memx-*/dkms.conf')
find_one '*/man/man8/memxd.8' > /dev/null
find_one '*/examples/client-swap0.conf' > /dev/null
prefix=${memxd%/sbin/memxd} prefix=${prefix#"$stage"}
"$memxctl" version > /dev/null || fail "the installed memxctl does not run"
log "meson install laid out memxd, memxctl, units, udev rule and DKMS tree under prefix $prefix"

# --- DKMS: add, build against this kernel's headers, install; modprobe --------
# ci/test builds the module with DKMS on the host against this kernel's headers
# (the same /usr/src/linux-headers-* this guest sees; ci/dkms-check with
# MEMX_DKMS_KEEP): `dkms install` here installs that build. Without it, or when
# its sources are not this build's, DKMS builds here (minutes on an emulated CPU).
src=${conf%/dkms.conf} version=${src##*/memx-}
pre=${MEMX_DKMS_PREBUILT:-$MEMX_ROOT/build/dkms-prebuilt}
rm -rf "/usr/src/memx-$version" && cp -a "$src" "/usr/src/memx-$version" || fail "cannot copy the DKMS tree to /usr/src"
# (No `dkms remove` at the end: its depmod takes 40 s here, and the guest's
# /lib/modules is a throwaway overlay; later tests insmod build/'s module by path.)
# Likewise its depmod (which reads every module of the kernel, 40-60 s here):
# depmod's files made on the host for this kernel's modules with DKMS's module
# where `dkms install` puts it replace DKMS's own run.
how="built here" depmod=()
if [ -d "$pre/dkms/memx/$version/$kver" ] && diff -r -q "$pre/src/memx-$version" "$src" > /dev/null; then
	mkdir -p /var/lib/dkms && rm -rf /var/lib/dkms/memx && cp -a "$pre/dkms/memx" /var/lib/dkms/ &&
		ln -sfn "/usr/src/memx-$version" "/var/lib/dkms/memx/$version/source" || fail "cannot place DKMS's tree"
	how="built by DKMS on the host against these headers"
	[ -s "$pre/depmod/$kver/modules.dep" ] && depmod=(--no-depmod)
else
	dkms add "memx/$version" > "$TEST_TMP/dkms.out" 2>&1 || { cat "$TEST_TMP/dkms.out"; fail "dkms add failed"; }
fi
t0=$SECONDS
dkms install "${depmod[@]}" "memx/$version" -k "$kver" > "$TEST_TMP/dkms.out" 2>&1 ||
	{ tail -n 30 "$TEST_TMP/dkms.out"; tail -n 30 "/var/lib/dkms/memx/$version/build/make.log" 2>/dev/null
	  fail "dkms install memx/$version -k $kver failed"; }
if [ ${#depmod[@]} != 0 ]; then
	installed=$(cd "/lib/modules/$kver" && ls updates/dkms/memx.ko*) ||
		fail "dkms install put no memx.ko in /lib/modules/$kver/updates/dkms"
	grep -q "^$installed:" "$pre/depmod/$kver/modules.dep" ||
		fail "the host's depmod files do not list $installed, which dkms installed"
	cp "$pre/depmod/$kver"/modules.* "/lib/modules/$kver/" || fail "cannot place depmod's files"
	how+=", depmod on the host"
fi
dkms status memx | grep -q "memx/$version, $kver, .*installed" || { dkms status; fail "dkms status does not say installed"; }
log "dkms install memx/$version for $kver ($how) in $((SECONDS - t0)) s"
ko=$(modinfo -n memx 2>/dev/null) || fail "modinfo finds no memx module after dkms install"
case "$ko" in */updates/dkms/*) ;; *) fail "modprobe would load $ko, not DKMS's module" ;; esac
[ "$(modinfo -F version memx)" = "$version" ] || fail "the installed module has version $(modinfo -F version memx)"

# The unit's own ExecStartPre loads it.
pre=$(sed -n 's/^ExecStartPre=//p' "$client_unit")
[ -n "$pre" ] || fail "memx@.service has no ExecStartPre"
$pre || fail "'$pre' failed"
on_exit "WAIT_S=15 wait_for modprobe -r memx"
kmod_loaded || fail "'$pre' loaded no memx"
[ "$(cat /sys/module/memx/version 2>/dev/null)" = "$version" ] || fail "the loaded memx is not version $version"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"
log "'$pre' loaded $ko"

# --- the units' command lines with /etc/memx configs --------------------------
# exec_start UNIT INSTANCE: its ExecStart= with %i, the installed paths moved
# under the stage, and its $MEMXD_*_ARGS empty (no /etc/memx/*.env here).
exec_start() {
	sed -n 's/^ExecStart=//p' "$1" | sed -e "s|%i|$2|g" -e "s|$prefix/|$stage$prefix/|g" \
		-e 's/\$MEMXD_[A-Z]*_ARGS//' -e 's/\$\$/$/g'
}
mkdir -p /etc/memx
printf '[donor]\nlisten = %s\nmemory = 1G\nhost = %s\n' "$IP2" a > /etc/memx/donor-a.conf
printf '[donor]\nlisten = %s\nmemory = 1G\nhost = %s\n' "$IP3" b > /etc/memx/donor-b.conf
cat > /etc/memx/client-swap0.conf <<EOF
# as in the shipped example, with this guest's addresses
[client]
size = 2000M
slab = 1M
replicas = 1
bind = $IP1
donor = $IP2
donor = $IP3
EOF
on_exit "rm -f /etc/memx/donor-a.conf /etc/memx/donor-b.conf /etc/memx/client-swap0.conf"

# A stand-in for systemd's notify socket: each datagram becomes a line of notify.log.
notify_listen() { # NAME: listens on $TEST_TMP/NAME.sock
	start_bg "$1-notify" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)' "$TEST_TMP/$1.sock"
	wait_for grep -q '^bound' "$TEST_TMP/$1-notify.log" || fail "notify listener $1 did not start"
}
for d in a b; do
	notify_listen "donor-$d"
	# shellcheck disable=SC2046 # the unit's words, as systemd splits them
	start_bg "donor-$d" env NOTIFY_SOCKET="$TEST_TMP/donor-$d.sock" $(exec_start "$donor_unit" "$d")
done
wait_for grep -q '^listening' "$TEST_TMP/donor-a.log" "$TEST_TMP/donor-b.log" ||
	fail "the donors did not start from memx-donor@.service's ExecStart"
wait_for grep -q 'READY=1' "$TEST_TMP/donor-a-notify.log" || fail "donor a sent no READY=1"
notify_listen client
# shellcheck disable=SC2046
start_bg swap0 env NOTIFY_SOCKET="$TEST_TMP/client.sock" WATCHDOG_USEC=2000000 $(exec_start "$client_unit" swap0)
WAIT_S=60 wait_for grep -q '^ready /dev/memx[0-9]' "$TEST_TMP/swap0.log" ||
	fail "the client did not start from memx@.service's ExecStart"
dev=$(sed -n 's/^ready \(\/dev\/memx[0-9]*\)$/\1/p' "$TEST_TMP/swap0.log")
[ -b "$dev" ] || fail "$dev is not a block device"
wait_for grep -q 'READY=1' "$TEST_TMP/client-notify.log" || fail "the client sent no READY=1"
grep -q 'STATUS=' "$TEST_TMP/client-notify.log" || fail "the client sent no STATUS="
WAIT_S=5 wait_for grep -q 'WATCHDOG=1' "$TEST_TMP/client-notify.log" || fail "the client pings no watchdog"
log "donors and client run from the units' command lines; $dev ready; notify: $(grep -o 'STATUS=[^ ]*[^=]*' "$TEST_TMP/client-notify.log" | tail -n 1)"

# --- names: sysfs and the installed udev rule ---------------------------------
sys=/sys/block/${dev#/dev/}/memx
[ "$(cat "$sys/name")" = swap0 ] && [ "$(cat "$sys/state")" = live ] &&
	[ "$(cat "$sys/engine_pid")" = "$(bg_pid swap0)" ] ||
	fail "sysfs of $dev: $(grep -r . "$sys" | tr '\n' ' ')"
mkdir -p /etc/udev/rules.d && cp "$rule" /etc/udev/rules.d/ || fail "cannot install the udev rule"
on_exit "rm -f /etc/udev/rules.d/60-memx.rules"
udevadm test --action=add "/sys/block/${dev#/dev/}" > "$TEST_TMP/udev.out" 2>&1
grep -q '^DEVLINKS=.*/dev/memx/swap0' "$TEST_TMP/udev.out" ||
	{ tail -n 20 "$TEST_TMP/udev.out"; fail "the installed udev rule does not name $dev /dev/memx/swap0"; }

# --- a volume of 2000 slabs: one 4 KiB block in every 8th, verified -----------
# (--io_size: with holes, --size alone has fio go round the offsets until it
# wrote 2000M. A slab's first write costs a grant, about 9 ms here; all 2000
# would pin 2 GiB of this guest: tests/unit/test_status.c writes a document of
# 2000 mapped slabs through the same serializer.)
t0=$SECONDS
fio --name=slabs --filename="$dev" --direct=1 --ioengine=libaio --iodepth=32 --rw=write:8188k \
	--io_size=$((250 * 4))k --bs=4k --size=2000M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio.out" || { cat "$TEST_TMP/fio.out"; fail "fio over 250 slabs failed"; }
ctl() { "$memxctl" "$@"; }
mapped=$(ctl status -o json | python3 -c 'import json,sys; s=json.load(sys.stdin); print([x["volumes"][0]["slabs_mapped"] for x in s if x and x["role"]=="client"][0])') ||
	fail "memxctl status -o json does not parse"
[ "$mapped" = 250 ] || fail "the volume maps $mapped slabs after a write to every 8th of 2000"
log "250 of 2000 slabs written and verified in $((SECONDS - t0)) s"
ctl status --slabs -o json > "$TEST_TMP/status.json" || fail "memxctl status --slabs -o json failed"
python3 - "$TEST_TMP/status.json" <<'PY' || fail "memxctl status --slabs -o json is not the document it should be"
import json, sys
s = json.load(open(sys.argv[1]))
roles = sorted(x["role"] for x in s if x)
assert roles == ["client", "donor", "donor"], roles
c = [x for x in s if x and x["role"] == "client"][0]
slabs = c["slabs"]
assert c["volumes"][0]["slabs"] == 2000, c["volumes"][0]["slabs"]
assert sorted(x["slab"] for x in slabs) == list(range(0, 2000, 8)), [x["slab"] for x in slabs][:20]
held = sum(d["slabs"] for d in c["donors"])
assert held == 250, held
print("status: %d bytes of JSON, %d slabs listed, donors hold %s" % (
    len(open(sys.argv[1]).read()), len(slabs), [d["slabs"] for d in c["donors"]]))
PY

# --- metrics: the metrics unit's command, and the file it writes parses --------
mcmd=$(exec_start "$metrics_unit" x)
mcmd=${mcmd#/bin/sh -c \'} mcmd=${mcmd%\'}
on_exit "rm -rf /var/lib/prometheus/node-exporter"
sh -c "$mcmd" || fail "the metrics unit's command failed: $mcmd"
python3 - /var/lib/prometheus/node-exporter/memx.prom <<'PY' || fail "memx.prom is not Prometheus text exposition"
import re, sys
sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (NaN|[+-]Inf)$')
up, n = [], 0
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        continue
    assert sample.match(line), line
    n += 1
    if line.startswith("memx_up"):
        up.append(line)
assert len(up) == 3 and all(l.endswith(" 1") for l in up), up
print("memx.prom: %d samples, memx_up for 3 daemons" % n)
PY

# --- a drain with --wait shows progress, and so does STATUS= ---------------------
held=$("$memxctl" status -o json | python3 -c 'import json,sys; print(sum(d["slabs"] for x in json.load(sys.stdin) if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith(sys.argv[1] + ":")))' "$IP3")
[ "$held" -gt 0 ] || fail "donor b holds no slab to drain"
timeout 120 "$memxctl" donor drain "$IP3" --wait > "$TEST_TMP/drain.out" 2>&1 ||
	{ cat "$TEST_TMP/drain.out"; fail "memxctl donor drain $IP3 --wait failed"; }
grep -q "^drained $IP3:[0-9]*: $held slab(s) moved in " "$TEST_TMP/drain.out" ||
	{ cat "$TEST_TMP/drain.out"; fail "the drain did not end with 'drained ... $held slab(s) moved'"; }
grep -q 'donor(s) draining: [1-9][0-9]* slab(s) to move' "$TEST_TMP/client-notify.log" ||
	{ cat "$TEST_TMP/client-notify.log"; fail "the client's STATUS= never showed the slabs left to move"; }
# Drained, the donor takes no more slabs: one donor serves.
WAIT_S=5 wait_for eval 'grep STATUS= "$TEST_TMP/client-notify.log" | tail -n 1 | grep -q "STATUS=serving $dev, 1 donor(s)\$"' ||
	{ cat "$TEST_TMP/client-notify.log"; fail "the client's STATUS= did not settle after the drain"; }
log "drain: $(tail -n 1 "$TEST_TMP/drain.out"); STATUS= $(grep -o 'draining: [0-9]* slab(s) to move' "$TEST_TMP/client-notify.log" | head -n 1)"

# --- a clean stop gives everything back; modprobe -r ------------------------------
stop_bg swap0 || fail "the client did not stop cleanly on SIGTERM"
wait_for test ! -b "$dev" || fail "$dev still there after a clean stop"
donor_used() { "$memxctl" status -o json | python3 -c 'import json,sys; print(sum(x["memory_total"] - x["memory_free"] for x in json.load(sys.stdin) if x and x["role"]=="donor"))'; }
WAIT_S=10 wait_for eval '[ "$(donor_used)" = 0 ]' || fail "the donors still lend $(donor_used) bytes after the client's clean stop"
modprobe -r memx || fail "modprobe -r memx"
log "clean stop: the donors hold nothing; modprobe -r unloaded memx"
