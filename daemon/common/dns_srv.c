// SPDX-License-Identifier: GPL-2.0
/*
 * DNS SRV records as the donor directory: the query, through the C
 * library's resolver (a res_state of the caller's own, so threads never
 * share one), and the answer's decoding, through its ns_* parser. Every
 * record is checked before it becomes a donor: the answer comes from the
 * network and anyone on the path can forge it, so a target is only a hint
 * of where to knock, exactly as an etcd entry is (the donor must still
 * prove the cluster key).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "common/dns_srv.h"
#include "common/parse.h"

/* An SRV record's data: priority, weight, port (16 bits each), then the target name. */
#define SRV_FIXED_LEN	6

int memxd_srv_decode(const uint8_t *msg, size_t len, struct memxd_dir_donor *out,
		     unsigned int max, unsigned int *skipped, char *why, size_t why_len)
{
	unsigned int n = 0, bad = 0, answers;
	char target[NS_MAXDNAME];
	ns_msg h;
	ns_rr rr;

	*skipped = 0;
	if (len > MEMXD_SRV_ANSWER_MAX || ns_initparse(msg, (int)len, &h) < 0) {
		memxd_say(why, why_len, "not a DNS message");
		return -EPROTO;
	}
	if (!(ns_msg_getflag(h, ns_f_qr))) {
		memxd_say(why, why_len, "a DNS query, not an answer");
		return -EPROTO;
	}
	switch (ns_msg_getflag(h, ns_f_rcode)) {
	case ns_r_noerror:
		break;
	case ns_r_nxdomain:
		memxd_say(why, why_len, "no such name");
		return -ENOENT;
	default:
		memxd_say(why, why_len, "the server answered with error %d",
			  ns_msg_getflag(h, ns_f_rcode));
		return -EPROTO;
	}
	answers = ns_msg_count(h, ns_s_an);
	for (unsigned int i = 0; i < answers; i++) {
		struct memxd_dir_donor *d;
		const uint8_t *rdata;
		size_t tlen;

		if (ns_parserr(&h, ns_s_an, (int)i, &rr) < 0) {
			memxd_say(why, why_len, "answer record %u is cut short or malformed", i);
			return -EPROTO;
		}
		if (ns_rr_type(rr) != ns_t_srv || ns_rr_class(rr) != ns_c_in)
			continue;	/* a CNAME on the way, say */
		rdata = ns_rr_rdata(rr);
		if (ns_rr_rdlen(rr) < SRV_FIXED_LEN + 1 ||
		    ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rdata + SRV_FIXED_LEN,
				       target, sizeof(target)) < 0) {
			memxd_say(why, why_len, "SRV record %u is malformed", i);
			return -EPROTO;
		}
		tlen = strlen(target);
		if (tlen && target[tlen - 1] == '.')
			target[--tlen] = '\0';
		/* "." is "no such service here"; a name --donor would refuse is skipped. */
		if (!tlen || tlen >= MEMXD_HOST_MAX || !ns_get16(rdata + 4) ||
		    strspn(target, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789.-_") != tlen) {
			bad++;
			continue;
		}
		if (n == max) {
			bad++;
			continue;
		}
		d = &out[n++];
		memset(d, 0, sizeof(*d));
		memcpy(d->host, target, tlen + 1);
		d->port = ns_get16(rdata + 4);
	}
	*skipped = bad;
	if (!n && !bad) {
		memxd_say(why, why_len, "no SRV records");
		return -ENOENT;
	}
	return (int)n;
}

int memxd_srv_query(const struct memxd_srv_url *u, unsigned int timeout_ms, uint8_t *buf,
		    size_t len, char *why, size_t why_len)
{
	struct __res_state st;
	int n, herr;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st)) {
		memxd_say(why, why_len, "the resolver's configuration could not be read");
		return -EPROTO;
	}
	st.retrans = (int)((timeout_ms + 999) / 1000);
	st.retry = 1;
	if (u->server[0]) {
		/* The one server asked: nsaddr_list[0] with its family set wins over resolv.conf's. */
		st.nscount = 1;
		memset(&st.nsaddr_list[0], 0, sizeof(st.nsaddr_list[0]));
		st.nsaddr_list[0].sin_family = AF_INET;
		st.nsaddr_list[0].sin_port = htons(u->server_port);
		if (inet_pton(AF_INET, u->server, &st.nsaddr_list[0].sin_addr) != 1) {
			res_nclose(&st);
			memxd_say(why, why_len, "'%s' is not an IPv4 address", u->server);
			return -EINVAL;
		}
	}
	n = res_nquery(&st, u->name, ns_c_in, ns_t_srv, buf, (int)(len < INT32_MAX ? len : INT32_MAX));
	herr = st.res_h_errno;
	res_nclose(&st);
	if (n >= 0)
		return n > (int)len ? (int)len : n;
	switch (herr) {
	case HOST_NOT_FOUND:
		memxd_say(why, why_len, "%s: no such name", u->name);
		return -ENOENT;
	case NO_DATA:
		memxd_say(why, why_len, "%s: no SRV records", u->name);
		return -ENOENT;
	case TRY_AGAIN:
		memxd_say(why, why_len, "%s: no DNS server answered", u->name);
		return -ETIMEDOUT;
	default:
		memxd_say(why, why_len, "%s: the DNS query failed (resolver error %d)", u->name,
			  herr);
		return -EPROTO;
	}
}
