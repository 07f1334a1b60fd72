#!/usr/bin/env bash
# Fault injection in memx.ko (a module built with fault injection: ci/test
# builds one into $MEMX_BUILD/kmod-fault/, used here unless MEMX_KO is set; or
# a -Dfault_injection=true build; skipped when the module has no fault points,
# failed when the kmod-fault one has none): fail_submit fails exactly
# the next N requests with EIO and then I/O works again, fail_commit likewise
# for engine results, fail_timeout makes a request time out and fail; a bad
# value is refused; no data is corrupted and the volume is removed cleanly.
user_ko=${MEMX_KO:-}
. "$(dirname "$0")/common.sh"
need_memx_ko "a test of memx.ko itself"
fault_ko=$MEMX_BUILD/kmod-fault/memx.ko
[ -z "$user_ko" ] && [ -r "$fault_ko" ] && MEMX_KO=$fault_ko
log "module: $MEMX_KO"

P=/sys/module/memx/parameters
dd_read() { dd if="$DEV" of="$TEST_TMP/rd" bs=4k count=1 skip="$1" iflag=direct status=none 2>"$TEST_TMP/dd.err"; }
dd_write() { dd if="$2" of="$DEV" bs=4k count=1 seek="$1" oflag=direct conv=notrunc status=none 2>"$TEST_TMP/dd.err"; }
# left NAME: the fault's remaining <times>.
left() { cut -d, -f4 "$P/$1"; }
# region_ok: the first 4 MiB of $DEV equal $TEST_TMP/ref.
region_ok() { cmp -s -n $((4 << 20)) <(dd if="$DEV" bs=1M count=4 iflag=direct status=none) "$TEST_TMP/ref"; }

! kmod_loaded || fail "memx already loaded before the test"
load_kmod
on_exit "WAIT_S=15 wait_for unload_kmod"
wait_for test -c /dev/memx-control || fail "/dev/memx-control did not appear"
if [ ! -e $P/fail_submit ]; then
	[ "$MEMX_KO" != "$fault_ko" ] || fail "$MEMX_KO was built for fault injection but has no $P/fail_submit"
	skip "$MEMX_KO has no fault injection (build with -Dfault_injection=true, or ci/test's $fault_ko)"
fi
for f in fail_commit fail_timeout; do [ -e $P/$f ] || fail "$P/fail_submit exists but $f does not"; done
on_exit "for f in fail_submit fail_commit fail_timeout; do echo 1,0,0,0 > $P/\$f; done"

start_ramd ramd --size 64M --queues 1 --depth 16 --timeout-ms 1000
RP=$(bg_pid ramd)
log "$DEV ready (engine pid $RP)"
head -c 4M /dev/urandom > "$TEST_TMP/ref"
dd if="$TEST_TMP/ref" of="$DEV" bs=1M oflag=direct status=none || fail "initial write"
region_ok || fail "initial data does not read back"

log "a bad value is refused and leaves the point as it was"
before=$(cat $P/fail_submit) || fail "fail_submit unreadable"
[ "$(left fail_submit)" != "" ] || fail "fail_submit unreadable"
for bad in nonsense 1,100,0 1,100,0,3,4 1,100,0,3x 1,101,0,1 1,100,0,-2 1,100,-1,1 -1,100,0,1; do
	! echo "$bad" > $P/fail_submit 2>/dev/null || fail "fail_submit accepted '$bad'"
	[ "$(cat $P/fail_submit)" = "$before" ] || fail "refused '$bad' changed fail_submit to $(cat $P/fail_submit)"
done

log "fail_submit: the next 3 requests fail with EIO, then I/O works"
echo 1,100,0,3 > $P/fail_submit || fail "set fail_submit"
[ "$(left fail_submit)" = 3 ] || fail "fail_submit reads back $(cat $P/fail_submit)"
for i in 1 2 3; do
	! dd_read 5 || fail "read $i succeeded under fail_submit"
	grep -q 'Input/output error' "$TEST_TMP/dd.err" || fail "read $i: $(cat "$TEST_TMP/dd.err"), want EIO"
done
[ "$(left fail_submit)" = 0 ] || fail "fail_submit left $(left fail_submit) faults"
dd_read 5 || fail "read after the faults ran out: $(cat "$TEST_TMP/dd.err")"
cmp -s "$TEST_TMP/rd" <(dd if="$TEST_TMP/ref" bs=4k skip=5 count=1 status=none) || fail "block 5 reads back wrong"

# A failed write must not reach the engine: the old data stays.
head -c 4k /dev/urandom > "$TEST_TMP/blk"
echo 1,100,0,1 > $P/fail_submit || fail "set fail_submit"
! dd_write 7 "$TEST_TMP/blk" || fail "write succeeded under fail_submit"
region_ok || fail "a write failed at submit changed the data"
dd_write 7 "$TEST_TMP/blk" || fail "write after the fault ran out: $(cat "$TEST_TMP/dd.err")"
dd if="$TEST_TMP/blk" of="$TEST_TMP/ref" bs=4k seek=7 conv=notrunc status=none
region_ok || fail "data wrong after the write that succeeded"

# pattern N: N reads of block 5, as a word per read: ok or err (EIO).
pattern() {
	local i out=""
	for ((i = 0; i < $1; i++)); do
		if dd_read 5; then out+="ok "; else
			grep -q 'Input/output error' "$TEST_TMP/dd.err" || fail "read: $(cat "$TEST_TMP/dd.err"), want EIO"
			out+="err "
		fi
	done
	echo "${out% }"
}
log "fail_submit <interval> and <space>"
echo 2,100,0,2 > $P/fail_submit || fail "set fail_submit 2,100,0,2"
got=$(pattern 6)
[ "$got" = "ok err ok err ok ok" ] || fail "interval 2, times 2: reads went '$got'"
echo 1,100,2,1 > $P/fail_submit || fail "set fail_submit 1,100,2,1"
got=$(pattern 4)
[ "$got" = "ok ok err ok" ] || fail "space 2, times 1: reads went '$got'"
[ "$(cat $P/fail_submit)" = "1,100,0,0" ] || fail "fail_submit reads back $(cat $P/fail_submit), want 1,100,0,0"
log "fail_submit <probability> 50, unlimited: some of 40 reads fail, some work"
echo 1,50,0,-1 > $P/fail_submit || fail "set fail_submit 1,50,0,-1"
got=$(pattern 40)
echo 1,0,0,0 > $P/fail_submit || fail "turn fail_submit off"
case $got in *ok*) ;; *) fail "probability 50: every read failed" ;; esac
case $got in *err*) ;; *) fail "probability 50: no read failed" ;; esac
[ "$(left fail_submit)" = 0 ] || fail "fail_submit left $(left fail_submit) after 1,0,0,0"
log "probability 50: $(echo "$got" | tr ' ' '\n' | grep -c err) of 40 reads failed"
region_ok || fail "data wrong after the fail_submit patterns"

log "fail_commit: the next 2 results are taken as EIO, then I/O works"
echo 1,100,0,2 > $P/fail_commit || fail "set fail_commit"
for i in 1 2; do
	! dd_read 9 || fail "read $i succeeded under fail_commit"
	grep -q 'Input/output error' "$TEST_TMP/dd.err" || fail "read $i: $(cat "$TEST_TMP/dd.err"), want EIO"
done
[ "$(left fail_commit)" = 0 ] || fail "fail_commit left $(left fail_commit) faults"
region_ok || fail "data wrong after fail_commit"

log "fail_timeout: one request times out and fails, then I/O works"
echo 1,100,0,1 > $P/fail_timeout || fail "set fail_timeout"
t0=$SECONDS
! timeout 60 dd if="$DEV" of=/dev/null bs=4k count=1 skip=11 iflag=direct status=none 2>"$TEST_TMP/dd.err" \
	|| fail "read succeeded under fail_timeout"
grep -Eq 'timed out|Input/output error' "$TEST_TMP/dd.err" || fail "timed-out read: $(cat "$TEST_TMP/dd.err")"
log "timed-out read failed after $((SECONDS - t0)) s: $(cat "$TEST_TMP/dd.err")"
[ "$(left fail_timeout)" = 0 ] || fail "fail_timeout left $(left fail_timeout) faults"
region_ok || fail "data wrong after fail_timeout"

log "SIGTERM: clean removal"
stop_ramd
log "passed"
