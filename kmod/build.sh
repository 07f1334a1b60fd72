#!/bin/sh
# build.sh KDIR SRCDIR INCDIR OUTDIR FAULT: builds memx.ko with Kbuild in a copy
# of the sources under OUTDIR (Kbuild writes objects beside the sources).
set -eu
kdir=$1 src=$2 inc=$3 out=$4 fault=$5
work=$out/kbuild
mkdir -p "$work"
for f in "$src"/Kbuild "$src"/Makefile "$src"/*.c "$src"/*.h; do
	cmp -s "$f" "$work/$(basename "$f")" || cp "$f" "$work/"
done
make -s -C "$kdir" M="$work" MEMX_INCLUDE="$inc" MEMX_FAULT_INJECTION="$fault" modules
cp "$work/memx.ko" "$out/memx.ko"
