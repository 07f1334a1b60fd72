#!/usr/bin/env bash
# ci/build.sh [BUILDDIR] [meson options...]: configures (once) and builds
# memx into BUILDDIR (default build/). The kernel module is built against the
# guest kernel when this host cannot run the product itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"
builddir=${1:-$root/build}
shift || true

opts=()
if ! memx_can_run_native; then
	kver=$(memx_guest_kernel) || { echo "ci/build.sh: no guest kernel installed" >&2; exit 1; }
	opts+=("-Dkdir=/lib/modules/$kver/build")
fi
[ "${CI:-}" = true ] && opts+=(-Dwerror=true)

if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" "$root" "${opts[@]}" "$@" >/dev/null
else
	meson configure "$builddir" "${opts[@]}" "$@" >/dev/null
fi
ninja -C "$builddir" >/dev/null
