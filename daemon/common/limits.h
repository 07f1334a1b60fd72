/* SPDX-License-Identifier: GPL-2.0 */
/* Sizes and deadlines that both roles of memxd share. */
#ifndef MEMXD_LIMITS_H
#define MEMXD_LIMITS_H

#define MEMXD_HOST_MAX		64	/* an address or host name, with its NUL */
#define MEMXD_NAME_MAX		32	/* a volume name, with its NUL */
#define MEMXD_RUN_DIR		"/run/memx"	/* control sockets */
#define MEMXD_CTRL_RECVS	8	/* RECVs kept posted on a control connection */
#define MEMXD_CM_TIMEOUT_MS	10000	/* rdma_cm connect and accept */
#define MEMXD_MSG_TIMEOUT_MS	5000	/* a control message's reply */
/*
 * A background copy (re-replication, scrub) slower than MEMXD_MSG_TIMEOUT_MS
 * is abandoned, not its donor: copies wait MEMXD_COPY_BACKOFF_MIN_MS, doubled
 * at each slow one up to MEMXD_COPY_BACKOFF_MAX_MS. Its pieces in flight are
 * waited out while the donor answers pings, for MEMXD_COPY_STUCK_MS at most
 * (an RC transport completes or fails them long before).
 */
#define MEMXD_COPY_BACKOFF_MIN_MS	1000
#define MEMXD_COPY_BACKOFF_MAX_MS	64000
#define MEMXD_COPY_STUCK_MS	120000

#endif /* MEMXD_LIMITS_H */
