#!/usr/bin/env bash
# Benchmark, not a test (run.sh's default set is test_*.sh): first writes with
# and without the grant pool (--grant-pool 2 and 8 against 0; the swap run
# 2 against 0), same boot, rounds alternated. Two donors, 2 replicas, a fresh volume each run:
#   randwrite: fio 4 KiB random writes at QD1 over 64 slabs of 1 MiB (1024
#     writes: about one in sixteen is a slab's first), completion latency;
#   seqwrite: fio 4 KiB sequential writes at QD1 over 32 slabs of 1 MiB (one
#     write in 256 is a slab's first), as swap-out fills a device;
#   swap: the swap pattern, 192 MiB in a 48 MiB cgroup on 4 MiB slabs
#     (test_memxd_03's), its time.
# Run it in the guest:  ci/test --integration bench_grantpool.sh
# MEMX_BENCH_ROUNDS (default 2) rounds of each.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod
rounds=${MEMX_BENCH_ROUNDS:-2}

start_donor d1 "$IP2" 1200M
start_donor d2 "$IP3" 1200M

clat() { # FIO_JSON: p50 p99 max of the write completion latency, in us
	python3 - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]["write"]
c, p = j["clat_ns"], j["clat_ns"]["percentile"]
print("p50 %6.0f us  p99 %6.0f us  p99.9 %6.0f us  max %7.0f us  mean %6.0f us" % (
    p["50.000000"] / 1e3, p["99.000000"] / 1e3, p["99.900000"] / 1e3, c["max"] / 1e3, c["mean"] / 1e3))
PY
}
vol() { status_get '[x["volumes"][0]["'"$1"'"] for x in s if x and x["role"]=="client"][0]'; }

fio_run() { # TAG POOL RW SIZE IO_SIZE
	local tag=$1 pool=$2 rw=$3 size=$4 io=$5
	start_client "v$tag" --size "$size" --slab 1M --replicas 2 --grant-pool "$pool" \
		--bind "$IP1" --donor "$IP2" --donor "$IP3"
	# The pools fill first, as they would on a volume in use.
	[ "$pool" = 0 ] || WAIT_S=20 wait_for status_is \
		'[x["volumes"][0]["grants_pooled"] for x in s if x and x["role"]=="client"][0]' $((2 * pool)) ||
		fail "pools did not fill"
	fio --name=fw --filename="$MEMX_DEV" --direct=1 --ioengine=psync --rw="$rw" --bs=4k \
		--size="$size" --io_size="$io" --randrepeat=1 --output-format=json \
		--output="$TEST_TMP/fio-$tag.json" || fail "fio $tag"
	log "$tag: pool $pool: $(clat "$TEST_TMP/fio-$tag.json"); $(vol slabs_mapped) slabs mapped, $(vol slabs_mapped_from_pool) from the pool"
	stop_bg "v$tag" || fail "client did not stop"
}

swap_run() { # TAG POOL
	local tag=$1 pool=$2 t0 t1
	start_client "s$tag" --size 512M --slab 4M --replicas 2 --grant-pool "$pool" \
		--bind "$IP1" --donor "$IP2" --donor "$IP3"
	[ "$pool" = 0 ] || WAIT_S=20 wait_for status_is \
		'[x["volumes"][0]["grants_pooled"] for x in s if x and x["role"]=="client"][0]' $((2 * pool)) ||
		fail "pools did not fill"
	mkswap "$MEMX_DEV" > /dev/null || fail "mkswap"
	swapon "$MEMX_DEV" || fail "swapon"
	t0=$(date +%s.%N)
	run_in_memcg memx-swap-bench 48M "$MEMX_TEST_BIN/swap_pattern" 192 > /dev/null ||
		{ swapoff "$MEMX_DEV"; fail "pattern check failed"; }
	t1=$(date +%s.%N)
	log "swap $tag: pool $pool: 192 MiB in 48M: $(python3 -c "print('%.1f s' % ($t1 - $t0))"); $(vol slabs_mapped) slabs mapped, $(vol slabs_mapped_from_pool) from the pool"
	swapoff "$MEMX_DEV" || fail "swapoff"
	stop_bg "s$tag" || fail "client did not stop"
}

for r in $(seq "$rounds"); do
	order="0 2 8"
	[ $((r % 2)) = 0 ] && order="8 2 0"	# alternate which goes first
	for pool in $order; do
		fio_run "rand-$r-$pool" "$pool" randwrite 64M 4M
		fio_run "seq-$r-$pool" "$pool" write 32M 32M
	done
done
for r in $(seq "$rounds"); do
	for pool in 0 2; do
		[ $((r % 2)) = 0 ] && pool=$((2 - pool))
		swap_run "$r-$pool" "$pool"
	done
done
log passed
