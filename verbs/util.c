// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers: numeric addresses, monotonic deadlines, ranges, fds.
 *
 * Theory of operation. Every blocking call in libmxv takes a timeout in
 * milliseconds, turns it into an absolute deadline on CLOCK_MONOTONIC once,
 * and hands poll(2) the time left before each sleep, so that a call made of
 * several waits (resolve address, resolve route, connect) honours one limit
 * overall and a wall-clock jump changes nothing. Addresses are numeric only:
 * libmxv never resolves names, which could block without a limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mxv_priv.h"

int mxv_parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (!ip || !ss)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		return 0;
	}
	return -EINVAL;
}

const char *mxv_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!buf || !len)
		return buf;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip))) {
			snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
			return buf;
		}
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip))) {
			snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
			return buf;
		}
	}
	snprintf(buf, len, "?");
	return buf;
}

int64_t mxv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mxv_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return INT64_MAX;
	return mxv_now_ms() + timeout_ms;
}

int mxv_remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == INT64_MAX)
		return -1;
	left = deadline - mxv_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

bool mxv_range_ok(size_t mr_len, size_t off, size_t len)
{
	return off <= mr_len && len <= mr_len - off;
}

int mxv_set_nonblock(int fd)
{
	int fl;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}
