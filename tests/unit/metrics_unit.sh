#!/bin/sh
# metrics_unit.sh MEMXCTL UNIT.in: runs memx-metrics.service's ExecStart= as systemd
# would (its $$ escapes undone), with the textfile directory in a temporary one:
# memx.prom appears whole with memxctl's exposition, no temporary file stays, and
# when memxctl fails the last good memx.prom stays as it was. TAP output.
set -u
memxctl=$1
unit=$2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo "1..3"
# systemd turns $$ into $; the command line is then a shell command line.
cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed -e 's/\$\$/$/g' \
	-e "s|/var/lib/prometheus/node-exporter|$tmp/textfile|g")
run() { eval "$(printf '%s' "$cmd" | sed "s|@bindir@/memxctl|$1|g")"; }

run "$memxctl"
rc=$?
if [ "$rc" = 0 ] && grep -q '^# TYPE memx_up gauge$' "$tmp/textfile/memx.prom" &&
   [ "$(ls "$tmp/textfile")" = memx.prom ]; then
	echo "ok 1 - memx.prom written, no temporary file left"
else
	echo "not ok 1 - memx.prom written (exit $rc): $(ls "$tmp/textfile" 2>&1)"
fi
"$memxctl" status -o prometheus > "$tmp/want" 2>/dev/null
if cmp -s "$tmp/want" "$tmp/textfile/memx.prom"; then
	echo "ok 2 - memx.prom holds memxctl status -o prometheus"
else
	echo "not ok 2 - memx.prom differs from memxctl status -o prometheus"
fi
printf '#!/bin/sh\necho partial; exit 1\n' > "$tmp/fail"
chmod +x "$tmp/fail"
run "$tmp/fail" 2>/dev/null
rc=$?
if [ "$rc" != 0 ] && cmp -s "$tmp/want" "$tmp/textfile/memx.prom" &&
   [ "$(ls "$tmp/textfile")" = memx.prom ]; then
	echo "ok 3 - a failing memxctl leaves the last memx.prom and no temporary file"
else
	echo "not ok 3 - after a failing memxctl (exit $rc): $(ls "$tmp/textfile")"
fi
