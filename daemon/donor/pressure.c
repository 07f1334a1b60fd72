// SPDX-License-Identifier: GPL-2.0
/*
 * Theory of operation: a donor gives memory back.
 *
 * Two reasons, one message: EVICT asks a client volume to move slabs away.
 *   - Pressure (--low-watermark): when this machine's available memory, or
 *     its cgroup's room, falls below the watermark, the volume holding the
 *     most slabs is asked for the difference, at most once every 5 s.
 *   - Leaving (SIGTERM): every volume is asked for all of it
 *     (MEMX_EVICT_F_LEAVE); the donor exits once it holds nothing, or when
 *     --leave-timeout runs out.
 * Clients do the moving (client/recovery.c); here we only ask and count.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "donor/donor.h"

/* Asks a client volume to move slabs away: bytes of them, or all (LEAVE). */
static int send_evict(struct donor *dn, struct donor_volume *vol, uint64_t bytes, uint32_t flags)
{
	struct memxd_msg_info msg = { .type = MEMX_MSG_EVICT, .evict = { bytes, flags } };
	size_t slot = (DONOR_RECVS + 1) * MEMX_MSG_SIZE;

	for (int i = 0; i < DONOR_MAX_CONNS; i++) {
		struct donor_conn *dc = &dn->conn[i];

		if (!dc->used || !dc->conn || dc->vol != vol || dc->role != MEMX_ROLE_CLIENT)
			continue;
		memxd_msg_encode(dc->msgbuf + slot, MEMX_MSG_SIZE, &msg);
		return mxv_post_send(dc->conn, dc->msg_mr, slot, MEMX_MSG_SIZE, 2);
	}
	return -ENOTCONN;
}

/* SIGTERM: ask every client to move its slabs away, then leave when we hold nothing. */
void pressure_start_leaving(struct donor *dn)
{
	dn->leaving = true;
	dn->leave_deadline_ns = memxd_now_ns() + (uint64_t)dn->leave_timeout_s * 1000000000ULL;
	memxd_info("leaving: asking clients to move %" PRIu64 " MiB of slabs away (up to %u s)",
		  dn->memory_granted >> 20, dn->leave_timeout_s);
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && dn->vol[i].slabs &&
		    send_evict(dn, &dn->vol[i], (uint64_t)-1, MEMX_EVICT_F_LEAVE))
			memxd_warn("volume %s: cannot ask it to move its slabs", dn->vol[i].idstr);
}

/* Returns true when leaving is over: nothing held, or the time is up. */
bool pressure_leave_done(struct donor *dn)
{
	if (!dn->memory_granted) {
		memxd_info("left cleanly: every slab was moved away");
		return true;
	}
	if (memxd_now_ns() < dn->leave_deadline_ns)
		return false;
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && dn->vol[i].slabs)
			memxd_err("leave timeout: volume %s still had %u slabs here; they are lost to "
				 "it unless it holds other replicas", dn->vol[i].idstr, dn->vol[i].slabs);
	return true;
}

/* Memory this machine (and our cgroup, if it has a limit) can still give, in bytes. */
static uint64_t available_memory(void)
{
	uint64_t avail = UINT64_MAX, max, cur;
	char line[256], cg[256], path[512];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &avail) == 1) {
			avail <<= 10;
			break;
		}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "r");
	if (f && fgets(line, sizeof(line), f) && sscanf(line, "0::%255s", cg) == 1) {
		FILE *fm, *fc;

		snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", cg);
		fm = fopen(path, "r");
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current", cg);
		fc = fopen(path, "r");
		if (fm && fc && fscanf(fm, "%" SCNu64, &max) == 1 && fscanf(fc, "%" SCNu64, &cur) == 1)
			avail = avail < (max > cur ? max - cur : 0) ? avail : (max > cur ? max - cur : 0);
		if (fm)
			fclose(fm);
		if (fc)
			fclose(fc);
	}
	if (f)
		fclose(f);
	return avail;
}

/* Below the low watermark, ask the volume holding the most slabs to move some away. */
void pressure_check(struct donor *dn)
{
	struct donor_volume *big = NULL;
	uint64_t avail, want, now = memxd_now_ns();

	if (!dn->low_watermark || dn->leaving || now < dn->next_evict_ns)
		return;
	avail = available_memory();
	if (avail >= dn->low_watermark)
		return;
	for (int i = 0; i < DONOR_MAX_VOLUMES; i++)
		if (dn->vol[i].used && dn->vol[i].slabs && (!big || dn->vol[i].slabs > big->slabs))
			big = &dn->vol[i];
	if (!big)
		return;
	want = dn->low_watermark - avail;
	memxd_warn("memory pressure: %" PRIu64 " MiB available, below the %" PRIu64 " MiB "
		  "watermark: asking volume %s for %" PRIu64 " MiB back", avail >> 20,
		  dn->low_watermark >> 20, big->idstr, want >> 20);
	if (!send_evict(dn, big, want, 0))
		dn->evictions++;
	dn->next_evict_ns = now + 5000000000ULL;	/* give the client time to move them */
}
