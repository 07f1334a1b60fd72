#!/bin/sh
# build.sh KDIR SRCDIR INCDIR OUTDIR FAULT: builds memx.ko with Kbuild in a copy
# of the sources under OUTDIR (Kbuild writes objects beside the sources).
# Warnings are errors here (MEMX_WERROR=1, the project's own builds), unlike in
# the DKMS build (dkms.conf); MEMX_WERROR=0 in the environment turns that off.
# The module's version is meson's project version (MEMX_VERSION overrides it).
set -eu
kdir=$1 src=$2 inc=$3 out=$4 fault=$5
version=${MEMX_VERSION:-$(sed -n "s/^[[:space:]]*version: *'\([^']*\)'.*/\1/p" "$src/../meson.build" | head -n 1)}
work=$out/kbuild
mkdir -p "$work"
for f in "$src"/Kbuild "$src"/Makefile "$src"/*.c "$src"/*.h; do
	cmp -s "$f" "$work/$(basename "$f")" || cp "$f" "$work/"
done
make -s -C "$kdir" M="$work" MEMX_INCLUDE="$inc" MEMX_FAULT_INJECTION="$fault" \
	MEMX_WERROR="${MEMX_WERROR:-1}" MEMX_VERSION="$version" modules
cp "$work/memx.ko" "$out/memx.ko"
