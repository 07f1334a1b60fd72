#!/usr/bin/env bash
# A filesystem on remote memory, its engine started from a config file (as
# memx@.service does): mkfs.ext4, files written, unmounted, remounted,
# checksums compared. SIGTERM while mounted is refused and the
# engine keeps serving, and so is `memxctl volume remove`; after umount,
# `memxctl volume remove` removes the volume and the engine exits.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd mkfs.ext4
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
# The client's options from a config file, as memx@fs.service gives them (memx.conf(5)).
cat > "$TEST_TMP/fs.conf" <<EOF
# memx@fs.service's /etc/memx/client-fs.conf
[client]
size = 256M
slab = 4M
bind = $IP1
donor = $IP2
donor = $IP3
[donor]
memory = 1T   ; another role's section: skipped
EOF
start_client fs --config "$TEST_TMP/fs.conf"
[ "$(status_get '[x["volumes"][0]["replicas"] for x in s if x and x["role"]=="client"][0]')" = 2 ] \
	|| fail "the config file's two donors did not make two replicas"
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
mkfs.ext4 -q -F "$MEMX_DEV" || fail "mkfs.ext4"
mount "$MEMX_DEV" "$mnt" || fail "mount"
on_exit "umount $mnt"
for i in 1 2 3 4; do
	head -c $((i * 3 * 1024 * 1024 + 12345)) /dev/urandom > "$mnt/file$i" || fail "write file$i"
done
mkdir "$mnt/dir" && cp -r /usr/include/linux "$mnt/dir/" || fail "copy a tree"
(cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$TEST_TMP/sums"
umount "$mnt" || fail "umount"

# Mount again and compare.
mount "$MEMX_DEV" "$mnt" || fail "remount"
(cd "$mnt" && sha256sum --quiet -c "$TEST_TMP/sums") || fail "checksums differ after remount"
log "$(wc -l < "$TEST_TMP/sums") files verified after remount"

# SIGTERM while mounted: refused, still serving.
kill -TERM "$(bg_pid fs)"
WAIT_S=10 wait_for grep -q 'in use' "$TEST_TMP/fs.log" || fail "no refusal message"
sleep 1
kill -0 "$(bg_pid fs)" || fail "client exited while the volume was mounted"
echo more > "$mnt/after-sigterm" && sync || fail "volume stopped serving after the refused SIGTERM"
(cd "$mnt" && sha256sum --quiet -c "$TEST_TMP/sums") || fail "checksums differ after the refusal"
# memxctl volume remove while mounted: the same refusal, exit 1.
"$MEMXCTL" volume remove fs 2> "$TEST_TMP/remove.err" && fail "volume remove of a mounted volume"
grep -q 'in use' "$TEST_TMP/remove.err" || { cat "$TEST_TMP/remove.err"; fail "no refusal"; }
kill -0 "$(bg_pid fs)" || fail "client exited after a refused volume remove"
umount "$mnt" || fail "final umount"

"$MEMXCTL" volume remove fs > "$TEST_TMP/remove.out" || fail "memxctl volume remove after umount"
grep -q '^removed volume fs$' "$TEST_TMP/remove.out" || { cat "$TEST_TMP/remove.out"; fail "not removed"; }
timeout 30 tail --pid="$(bg_pid fs)" -f /dev/null || fail "client did not exit after volume remove"
wait "$(bg_pid fs)" || { bg_log fs; fail "client exited with an error after volume remove"; }
[ ! -b "$MEMX_DEV" ] || fail "$MEMX_DEV left behind"
grep 'in use' "$TEST_TMP/fs.log"
