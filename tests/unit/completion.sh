#!/bin/bash
# completion.sh SRCDIR: the bash completion of memxd and memxctl completes what
# they take, and memxd's option lists, in completion/memxd and in man/memxd.8.scd,
# are the parsers' (the long options of daemon/client/opts.c and
# daemon/donor/opts.c): a new option cannot be left out of either. TAP output.
set -u
src=$1
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }
echo "1..11"

# An option table's names: the lines '	{ "name", ...' of one role's opts.c.
longopts() { sed -n 's/^\t{ "\([a-z-]*\)", .*/--\1/p' "$src/daemon/$1/opts.c" | sort; }
# The options one role's list in completion/memxd holds.
completed() {
	sed -n "/local $1_opts='/,/'/p" "$src/completion/memxd" | tr -s " \t'=" '\n' |
		grep '^--' | sort
}
for role in client donor; do
	want=$(longopts $role)
	if [ "$(echo "$want" | wc -l)" -lt 10 ]; then
		not_ok "$role: found no option table in daemon/$role/opts.c"
	elif [ "$want" = "$(completed $role)" ]; then
		ok "completion/memxd completes every option of memxd $role"
	else
		not_ok "completion/memxd and memxd $role differ: $(diff <(echo "$want") \
			<(completed $role) | grep '^[<>]' | tr '\n' ' ')"
	fi
	missing=$(for o in $want; do grep -qF -- "*$o*" "$src/man/memxd.8.scd" || echo "$o"; done)
	if [ -z "$missing" ]; then
		ok "memxd(8) documents every option of memxd $role"
	else
		not_ok "memxd(8) lacks $role options: $missing"
	fi
done

if [ ! -f /usr/share/bash-completion/bash_completion ]; then
	for t in memxd memxctl memxctl-o memxctl-donor memxctl-wait memxctl-volume memxctl-socket; do
		ok "$t # SKIP bash-completion not installed (Debian package bash-completion)"
	done
	exit $failed
fi
# shellcheck disable=SC1091
. /usr/share/bash-completion/bash_completion
. "$src/completion/memxd"
. "$src/completion/memxctl"

# What bash offers for the words of $1 (the last one the word being completed).
complete_words() {
	local fn=$1 line=$2
	read -r -a COMP_WORDS <<< "$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	$fn "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect() {
	local got
	got=$(complete_words "$1" "$2")
	if [ "$got" = "$3" ]; then
		ok "'$2' completes to '$3'"
	else
		not_ok "'$2' completes to '$got', not '$3'"
	fi
}
expect _memxd "memxd cl" "client "
expect _memxd "memxd donor --mem" "--memory "
expect _memxctl "memxctl status -o " "json prometheus text "
expect _memxctl "memxctl donor " "add drain "
expect _memxctl "memxctl donor drain 10.0.0.2 --w" "--wait "
expect _memxctl "memxctl volume " "detach forget-lost remove "
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/client-a.sock" "$tmp/notes.txt"
expect _memxctl "memxctl status --socket $tmp/" "$tmp/client-a.sock "
exit $failed
