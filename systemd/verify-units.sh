#!/bin/sh
# verify-units.sh MEMXD MEMXCTL UNIT...: `systemd-analyze verify` on each unit (a
# template UNIT.in, its @sbindir@/memxd and @bindir@/memxctl replaced by MEMXD and
# MEMXCTL, since verify checks that ExecStart= exists; or a plain unit), all of
# them copied into one temporary directory so that a timer finds its service.
# It reads unit files only: no root, no talking to systemd.
# A unit fails on a non-zero exit or on any complaint that names it (others' units,
# such as network-online.target's, are the host's business). TAP output; every unit
# is skipped, saying why, where systemd-analyze is missing.
set -u
memxd=$1
memxctl=$2
shift 2
echo "1..$#"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for in in "$@"; do
	sed -e "s|@sbindir@/memxd|$memxd|g" -e "s|@bindir@/memxctl|$memxctl|g" "$in" \
		> "$tmp/$(basename "$in" .in)"
done
n=0
for in in "$@"; do
	n=$((n + 1))
	unit=$(basename "$in" .in)
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		echo "ok $n - $unit # SKIP systemd-analyze not found (Debian package systemd)"
		continue
	fi
	if grep -n '@[a-z_]*@' "$tmp/$unit"; then
		echo "not ok $n - $unit: a @variable@ the check does not substitute"
		continue
	fi
	out=$(systemd-analyze verify --man=no --recursive-errors=no "$tmp/$unit" 2>&1)
	rc=$?
	# A template's complaints name its instance (memx@i.service), others the unit.
	case $unit in
	*@.service) name=${unit%@.service}@ ;;
	*) name=$unit ;;
	esac
	if [ "$rc" != 0 ] || printf '%s\n' "$out" | grep -qF "$name"; then
		printf '%s\n' "$out" | sed 's/^/# /'
		echo "not ok $n - $unit: systemd-analyze verify (exit $rc)"
	else
		echo "ok $n - $unit"
	fi
done
