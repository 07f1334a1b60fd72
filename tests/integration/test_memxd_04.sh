#!/usr/bin/env bash
# kill -9 of a donor during I/O, one replica per slab: I/O to its slabs fails with EIO (never zeros,
# never stale data), everything else reads back exactly, and memxd keeps
# serving: new slabs go to the donor that is left.
. "$(dirname "$0")/common.sh"
need_rxe
need_cmd fio
load_kmod

start_donor d1 "$IP2" 256M
start_donor d2 "$IP3" 256M
start_client vol --size 128M --slab 4M --replicas 1 --bind "$IP1" --donor "$IP2" --donor "$IP3"
head -c 64M /dev/urandom > "$TEST_TMP/src"
dd if="$TEST_TMP/src" of="$MEMX_DEV" bs=1M oflag=direct status=none || fail "initial write"
on_d2=$(status_get '[d["slabs"] for x in s if x and x["role"]=="client" for d in x["donors"] if d["address"].startswith("'"$IP3"':")][0]')
log "donor 2 holds $on_d2 of 16 slabs"
[ "$on_d2" -gt 0 ] && [ "$on_d2" -lt 16 ] || fail "placement did not spread 16 slabs over 2 donors ($on_d2 on d2)"

# Readers running while the donor dies.
fio --name=readers --filename="$MEMX_DEV" --direct=1 --ioengine=io_uring --rw=randread \
	--bs=4k --iodepth=16 --size=64M --time_based --runtime=12 --continue_on_error=all \
	--output="$TEST_TMP/fio.out" > /dev/null 2>&1 &
fio_pid=$!
sleep 3
kill -9 "$(bg_pid d2)"
start=$SECONDS
timeout 60 tail --pid=$fio_pid -f /dev/null || fail "fio hung after the donor died"
wait $fio_pid
log "fio finished $((SECONDS - start)) s after the kill; $(grep -o 'err=[^,]*' "$TEST_TMP/fio.out" | head -1)"
kill -0 "$(bg_pid vol)" || fail "client died with the donor"

# Every slab either reads back exactly or fails; none returns other data.
eio=0 good=0
for i in $(seq 0 15); do
	if dd if="$MEMX_DEV" of="$TEST_TMP/chunk" bs=4M skip=$i count=1 iflag=direct status=none 2>/dev/null; then
		cmp -s "$TEST_TMP/chunk" <(dd if="$TEST_TMP/src" bs=4M skip=$i count=1 status=none) \
			|| fail "slab $i returned data that is not what was written"
		good=$((good + 1))
	else
		eio=$((eio + 1))
	fi
done
log "after the kill: $good slabs verified, $eio fail with EIO"
[ "$eio" = "$on_d2" ] || fail "$eio slabs fail but donor 2 held $on_d2"
[ $((good + eio)) = 16 ] || fail "count mismatch"
[ "$(status_get '[x["volumes"][0]["slabs_lost"] for x in s if x and x["role"]=="client"][0]')" = "$on_d2" ] \
	|| fail "memxctl does not report $on_d2 lost slabs"
status_get '[d["state"] for x in s if x and x["role"]=="client" for d in x["donors"]]' | grep -q dead \
	|| fail "memxctl does not show the dead donor"

# New writes go to the donor that is left.
head -c 8M /dev/urandom > "$TEST_TMP/new"
dd if="$TEST_TMP/new" of="$MEMX_DEV" bs=1M seek=96 oflag=direct status=none || fail "write after the kill"
dd if="$MEMX_DEV" of="$TEST_TMP/back" bs=1M skip=96 count=8 iflag=direct status=none || fail "read after the kill"
cmp "$TEST_TMP/new" "$TEST_TMP/back" || fail "new data did not read back"
grep -q 'lost' "$TEST_TMP/vol.log" || fail "client did not log the loss"
stop_bg vol || fail "client did not stop cleanly"
