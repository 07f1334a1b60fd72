// SPDX-License-Identifier: GPL-2.0
/*
 * memx_stall: a peer that starts handshakes and never finishes them.
 *
 *   memx_stall --bind IP --server IP[:PORT] [--count N] [--hold SEC] [--role client|data]
 *   memx_stall --listen IP:PORT [--hold SEC]
 *
 * Theory of operation. Each of the N connections sends a well-formed hello
 * (memxd_hello_encode, a fresh random volume id) with rdma_connect(), then the
 * program never reads its rdma_cm events again. librdmacm sends the RTU that
 * completes a connection only when the active side takes the CONNECT_RESPONSE
 * event, so the passive side (a donor) is left with a half-open connection
 * until its own deadline. Holds for SEC seconds (the connections die with the
 * process). Prints "stalling N of N" once every request has gone out and how
 * many the peer refused at once (a refusal is a REJECTED event; those are read
 * only at the end, so they do not complete anything).
 *
 * With --listen it is the other side: a listener that takes connect requests
 * and never answers them, so whoever connects waits for its own timeout.
 * Prints "listening" once it listens, then holds for SEC seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rdma/rdma_cma.h>

#include "common/wire.h"

#define STALL_MAX	256

static int get_event(struct rdma_event_channel *ch, enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;
	int ok;

	if (rdma_get_cm_event(ch, &ev))
		return -errno;
	ok = ev->event == want;
	if (!ok)
		fprintf(stderr, "memx_stall: %s instead of %s\n", rdma_event_str(ev->event),
			rdma_event_str(want));
	rdma_ack_cm_event(ev);
	return ok ? 0 : -EPROTO;
}

static int addr_of(const char *host, uint16_t port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

/* One connection, left half-open: resolve, QP, connect; no event is read afterwards. */
static int stall_one(const char *bind, const char *server, uint16_t port, uint16_t role,
		     struct rdma_event_channel **chp)
{
	struct sockaddr_in src, dst;
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct rdma_cm_id *id;
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC,
				       .cap = { .max_send_wr = 1, .max_recv_wr = 1,
						.max_send_sge = 1, .max_recv_sge = 1 } };
	struct memxd_hello_info hi = { .role = role };
	uint8_t pdata[sizeof(struct memx_hello)];
	struct rdma_conn_param cp = { .private_data = pdata, .private_data_len = sizeof(pdata),
				      .responder_resources = 1, .initiator_depth = 1,
				      .retry_count = 7, .rnr_retry_count = 7 };
	struct ibv_cq *cq;

	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP))
		return -errno;
	if (addr_of(bind, 0, &src) || addr_of(server, port, &dst))
		return -EINVAL;
	if (rdma_resolve_addr(id, (struct sockaddr *)&src, (struct sockaddr *)&dst, 2000) ||
	    get_event(ch, RDMA_CM_EVENT_ADDR_RESOLVED) ||
	    rdma_resolve_route(id, 2000) || get_event(ch, RDMA_CM_EVENT_ROUTE_RESOLVED))
		return -EHOSTUNREACH;
	cq = ibv_create_cq(id->verbs, 2, NULL, NULL, 0);
	if (!cq)
		return -errno;
	qa.send_cq = qa.recv_cq = cq;
	if (rdma_create_qp(id, NULL, &qa))
		return -errno;
	if (getrandom(hi.volume_id, sizeof(hi.volume_id), 0) != sizeof(hi.volume_id))
		return -EIO;
	/*
	 * A control hello names key 1 (memxctl keygen's id) with a random
	 * challenge: anyone can send that much, and the donor must answer it
	 * before it can know whether the peer holds the key.
	 */
	if (role == MEMX_ROLE_CLIENT) {
		hi.key_id = 1;
		if (getrandom(hi.token, sizeof(hi.token), 0) != sizeof(hi.token))
			return -EIO;
	}
	memxd_hello_encode(pdata, sizeof(pdata), &hi);
	if (rdma_connect(id, &cp))
		return -errno;
	*chp = ch;
	return 0;
}

/* --listen: a listener that never answers. Returns the exit status. */
static int mute_listener(const char *spec, unsigned int hold)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	char host[64], *colon;
	struct sockaddr_in addr;
	struct rdma_cm_id *id;

	snprintf(host, sizeof(host), "%s", spec);
	colon = strchr(host, ':');
	if (!colon || !ch) {
		fprintf(stderr, "memx_stall: --listen IP:PORT\n");
		return 2;
	}
	*colon = '\0';
	if (addr_of(host, (uint16_t)atoi(colon + 1), &addr) ||
	    rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) ||
	    rdma_bind_addr(id, (struct sockaddr *)&addr) || rdma_listen(id, 8)) {
		fprintf(stderr, "memx_stall: cannot listen on %s: %s\n", spec, strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	sleep(hold);	/* connect requests queue up unread: nobody is answered */
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "server", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "hold", required_argument, NULL, 'h' },
		{ "role", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ 0 }
	};
	struct rdma_event_channel *ch[STALL_MAX];
	const char *bind = NULL, *listen_on = NULL;
	char server[64] = "";
	unsigned int count = 1, hold = 30, sent = 0, refused = 0;
	uint16_t port = MEMX_DEFAULT_PORT, role = MEMX_ROLE_CLIENT;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bind = optarg; break;
		case 's': {
			char *colon;

			snprintf(server, sizeof(server), "%s", optarg);
			colon = strchr(server, ':');
			if (colon) {
				*colon = '\0';
				port = (uint16_t)atoi(colon + 1);
			}
			break;
		}
		case 'n': count = (unsigned int)atoi(optarg); break;
		case 'h': hold = (unsigned int)atoi(optarg); break;
		case 'r': role = strcmp(optarg, "data") ? MEMX_ROLE_CLIENT : MEMX_ROLE_DATA; break;
		case 'l': listen_on = optarg; break;
		default:
			fprintf(stderr, "usage: memx_stall --bind IP --server IP[:PORT] [--count N] "
				"[--hold SEC] [--role client|data]\n");
			return 2;
		}
	}
	if (listen_on)
		return mute_listener(listen_on, hold);
	if (!bind || !server[0] || !count || count > STALL_MAX) {
		fprintf(stderr, "memx_stall: --bind and --server are needed, --count 1..%d\n",
			STALL_MAX);
		return 2;
	}
	for (unsigned int i = 0; i < count; i++) {
		int r = stall_one(bind, server, port, role, &ch[sent]);

		if (r) {
			fprintf(stderr, "memx_stall: connection %u: %s\n", i, strerror(-r));
			return 1;
		}
		sent++;
	}
	printf("stalling %u of %u\n", sent, count);
	fflush(stdout);
	sleep(hold);
	/* Only now look at what came back: refusals are REJECTED events. */
	for (unsigned int i = 0; i < sent; i++) {
		struct rdma_cm_event *ev;

		fcntl(ch[i]->fd, F_SETFL, fcntl(ch[i]->fd, F_GETFL) | O_NONBLOCK);
		if (!rdma_get_cm_event(ch[i], &ev)) {
			refused += ev->event == RDMA_CM_EVENT_REJECTED;
			rdma_ack_cm_event(ev);
		}
	}
	printf("refused %u of %u\n", refused, sent);
	return 0;
}
