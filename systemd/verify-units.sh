#!/bin/sh
# verify-units.sh MEMXD UNIT.in...: `systemd-analyze verify` on each unit template,
# its @sbindir@/memxd replaced by MEMXD (verify checks that ExecStart= exists), in a
# temporary directory. It reads unit files only: no root, no talking to systemd.
# A unit fails on a non-zero exit or on any complaint that names it (others' units,
# such as network-online.target's, are the host's business). TAP output; every unit
# is skipped, saying why, where systemd-analyze is missing.
set -u
memxd=$1
shift
echo "1..$#"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
for in in "$@"; do
	n=$((n + 1))
	unit=$(basename "$in" .in)
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		echo "ok $n - $unit # SKIP systemd-analyze not found (Debian package systemd)"
		continue
	fi
	sed "s|@sbindir@/memxd|$memxd|g" "$in" > "$tmp/$unit"
	if grep -n '@[a-z_]*@' "$tmp/$unit"; then
		echo "not ok $n - $unit: a @variable@ the check does not substitute"
		continue
	fi
	out=$(systemd-analyze verify --man=no --recursive-errors=no "$tmp/$unit" 2>&1)
	rc=$?
	name=${unit%@.service}
	if [ "$rc" != 0 ] || printf '%s\n' "$out" | grep -q "$name@"; then
		printf '%s\n' "$out" | sed 's/^/# /'
		echo "not ok $n - $unit: systemd-analyze verify (exit $rc)"
	else
		echo "ok $n - $unit"
	fi
done
