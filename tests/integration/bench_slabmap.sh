#!/usr/bin/env bash
# Benchmark, not a test (run.sh's default set is test_*.sh): how fast slabs are
# mapped on first write, and where a grant's time goes. One client, two donors,
# --replicas 1; fio writes one 4 KiB block at the start of each of N slabs
# (--io_size: one write per slab, else fio goes round its offsets until --size
# of I/O is done), with no grant pool (bench_grantpool.sh compares it with one).
# Rates are slabs mapped per second of fio; the timeline comes
# from MEMXD_DEBUG (proto 16, ctrl 32) lines of the client and the donors:
#   sent -> donor: ALLOC_SLAB on the wire; donor: mmap + ibv_reg_mr;
#   donor -> reply: ALLOC_REPLY on the wire; reply -> next sent: the client.
# Run it in the guest:  ci/test --integration bench_slabmap.sh
. "$(dirname "$0")/common.sh"
need_rxe
load_kmod
export MEMXD_DEBUG=48
timeline() { # CLIENT_LOG DONOR_LOG...
python3 - "$@" <<'PY'
import re, sys
def lines(f):
    for l in open(f, errors='replace'):
        m = re.match(r'\[\s*(\d+)\.(\d+)\] (.*)', l)
        if m:
            yield int(m.group(1)) + int(m.group(2)) / 1000, m.group(3)
sent, reply, mailbox, mapped, got, granted = {}, {}, [], [], {}, {}
for t, s in lines(sys.argv[1]):
    m = re.search(r'donor (\S+): alloc-(slab|reply), seq (\d+)', s)
    if m:
        (sent if m.group(2) == 'slab' else reply)[int(m.group(3))] = t
    elif 'mailbox: map slab' in s:
        mailbox.append(t)
    elif re.search(r'slab \d+ mapped on', s):
        mapped.append(t)
for f in sys.argv[2:]:
    last = None
    for t, s in lines(f):
        m = re.search(r'alloc-slab from \S+, seq (\d+)', s)
        if m:
            last = int(m.group(1)); got[last] = t
        elif 'granted as handle' in s and last is not None:
            granted[last] = t
seqs = sorted(k for k in sent if k in reply and k in got and k in granted)
def mean(v): return 1000 * sum(v) / len(v) if v else 0
def mx(v): return 1000 * max(v) if v else 0
if not seqs or not mapped:
    print("timeline: no grants found"); sys.exit(0)
for name, v in (("sent -> donor", [got[k] - sent[k] for k in seqs]),
                ("donor: mmap+reg_mr", [granted[k] - got[k] for k in seqs]),
                ("donor -> reply", [reply[k] - granted[k] for k in seqs]),
                ("whole grant", [reply[k] - sent[k] for k in seqs]),
                ("reply -> next sent", [sent[b] - reply[a] for a, b in zip(seqs, seqs[1:]) if b in sent])):
    print("  %-20s mean %7.2f ms  max %7.2f ms" % (name, mean(v), mx(v)))
span = mapped[-1] - mailbox[0]
print("  %d grants; first request to last mapped %.2f s: %.1f slabs/s" % (len(seqs), span, len(mapped) / span if span else 0))
PY
}
run() { # TAG SLAB SIZE NR_SLABS IODEPTH
	local tag=$1 slab=$2 size=$3 n=$4 qd=$5 slab_k stride t0 t1 mapped
	slab_k=$(($(numfmt --from=iec "$slab") / 1024))
	stride=$((slab_k * (($(numfmt --from=iec "$size") / 1024 / slab_k) / n) - 4))
	start_donor "a$tag" "$IP2" 1200M
	start_donor "b$tag" "$IP3" 1200M
	# --grant-pool 0: every slab's grant on its first write, the path measured here
	start_client "v$tag" --size "$size" --slab "$slab" --replicas 1 --grant-pool 0 \
		--bind "$IP1" --donor "$IP2" --donor "$IP3"
	t0=$(date +%s.%N)
	fio --name=slabs --filename="$MEMX_DEV" --direct=1 --ioengine=libaio --iodepth="$qd" \
		--rw=write:${stride}k --bs=4k --size="$size" --io_size=$((n * 4))k --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --output="$TEST_TMP/fio.out" ||
		{ cat "$TEST_TMP/fio.out"; fail "fio failed"; }
	t1=$(date +%s.%N)
	mapped=$(status_get '[x["volumes"][0]["slabs_mapped"] for x in s if x and x["role"]=="client"][0]')
	[ "$mapped" = "$n" ] || fail "$tag: $mapped slabs mapped, not $n"
	log "$tag: slab $slab, iodepth $qd: $n slabs mapped and verified in $(python3 -c "print('%.2f s: %.1f slabs/s' % ($t1 - $t0, $n / ($t1 - $t0)))")"
	timeline "$TEST_TMP/v$tag.log" "$TEST_TMP/a$tag.log" "$TEST_TMP/b$tag.log"
	stop_bg "v$tag" || fail "client did not stop"
	stop_bg "a$tag"; stop_bg "b$tag"
}
run 1m-qd32 1M 2000M 400 32
run 1m-qd1 1M 2000M 100 1
run 64m-qd32 64M 1024M 16 32
log passed
