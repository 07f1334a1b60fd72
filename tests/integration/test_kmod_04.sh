#!/usr/bin/env bash
# ext4 on a memx_ramd volume: files survive umount/remount; SIGTERM to the
# engine while the volume is mounted (and later while it is swap) is refused
# with a 'busy' message and the engine keeps serving; after umount/swapoff
# SIGTERM removes the volume and the module unloads.
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"

need_cmd mkfs.ext4
need_cmd mkswap
need_cmd swapon

busy_count() { grep -c 'is busy' "$TEST_TMP/ramd.log"; }
# term_refused WHAT: SIGTERM to the engine is answered 'busy' and it lives on.
term_refused() {
	local before
	before=$(busy_count)
	kill -TERM "$RP" || fail "kill -TERM engine ($1)"
	WAIT_S=10 wait_for eval '[ "$(busy_count)" -gt '"$before"' ]' \
		|| { bg_log ramd; fail "engine did not report busy on SIGTERM while $1"; }
	sleep 1
	! exited "$RP" || { bg_log ramd; fail "engine exited on SIGTERM while $1"; }
	[ -b "$DEV" ] || fail "$DEV disappeared on SIGTERM while $1"
	log "SIGTERM while $1 refused: $(grep 'is busy' "$TEST_TMP/ramd.log" | tail -n 1)"
}

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"

start_ramd ramd --size 128M --queues 2 --depth 64
RP=$(bg_pid ramd)
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
log "$DEV ready (engine pid $RP)"

mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 $DEV"
mount "$DEV" "$mnt" || fail "mount $DEV"
on_exit "umount -l $mnt"
mkdir -p "$mnt/d"
for i in 1 2 3 4 5; do
	head -c $((i * 3))M /dev/urandom > "$mnt/d/f$i" || fail "write f$i"
done
cp -a /etc/hostname "$mnt/small" 2>/dev/null || echo small > "$mnt/small"
sync || fail sync
(cd "$mnt" && sha256sum d/* small) > "$TEST_TMP/sums"

term_refused mounted
# The engine still serves: new data reaches the disk.
head -c 2M /dev/urandom > "$mnt/after" && sync || fail "write after refused SIGTERM"
(cd "$mnt" && sha256sum after) >> "$TEST_TMP/sums"

umount "$mnt" || fail "umount $DEV"
echo 3 > /proc/sys/vm/drop_caches
mount "$DEV" "$mnt" || fail "remount $DEV"
(cd "$mnt" && sha256sum -c --quiet "$TEST_TMP/sums") || fail "checksums differ after remount"
umount "$mnt" || fail "second umount"
log "checksums equal after remount"

mkswap "$DEV" > /dev/null || fail "mkswap $DEV"
swapon "$DEV" || fail "swapon $DEV"
on_exit "swapoff $DEV"
grep -q "^$DEV " /proc/swaps || fail "$DEV not in /proc/swaps"
term_refused "swap"
swapoff "$DEV" || fail "swapoff $DEV"

log "SIGTERM: clean removal"
stop_ramd
log "passed"
