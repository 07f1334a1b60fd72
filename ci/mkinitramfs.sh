#!/usr/bin/env bash
# ci/mkinitramfs.sh KVER OUT: builds the guest's tiny busybox initramfs. Its
# /init loads just enough modules to mount the host's / over virtio-9p, puts a
# tmpfs overlay over it and switch_roots into the overlay, where the script
# named by memxci.init= on the kernel command line takes over as PID 1.
set -euo pipefail
kver=$1 out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,lower,upper,newroot,lib/modules}
cp /bin/busybox "$tmp/bin/busybox"
for a in sh mount mkdir insmod switch_root sleep echo cat; do ln -s busybox "$tmp/bin/$a"; done

# Module files in load order, dependencies first, each once.
mods=$(for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++')
: > "$tmp/modules.list"
for f in $mods; do
	base=$(basename "$f")
	case "$base" in
	*.ko.xz) xz -dc "$f" > "$tmp/lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$f" > "$tmp/lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*) cp "$f" "$tmp/lib/modules/$base" ;;
	esac
	echo "$base" >> "$tmp/modules.list"
done

cat > "$tmp/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do insmod /lib/modules/$m || echo "initramfs: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower \
	|| { echo "initramfs: cannot mount host root"; echo o > /proc/sysrq-trigger; sleep 10; }
mount -t tmpfs -o size=75% tmpfs /upper
mkdir -p /upper/up /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/up,workdir=/upper/work overlay /newroot \
	|| { echo "initramfs: overlay failed"; echo o > /proc/sysrq-trigger; sleep 10; }
init=$(sed -n 's/.*memxci\.init=\([^ ]*\).*/\1/p' /proc/cmdline)
umount /proc /sys 2>/dev/null
mount -o move /dev /newroot/dev
exec switch_root /newroot "$init"
INIT
chmod +x "$tmp/init"
mkdir -p "$(dirname "$out")"
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
