// SPDX-License-Identifier: GPL-2.0
/* The client's half of the handshake for test programs (see peer_auth.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "peer_auth.h"

int peer_load_keys(const char *path, struct memxd_keyring *kr)
{
	char why[160];
	int r = memxd_auth_init();

	if (!r)
		r = memxd_keyring_load(path ? path : MEMXD_KEY_FILE, kr, why, sizeof(why));
	if (r)
		fprintf(stderr, "key file %s: %s\n", path ? path : MEMXD_KEY_FILE,
			r == -EIO ? "libsodium did not start" : why);
	return r;
}

void peer_hs_hello(struct peer_hs *hs, uint16_t role, const struct memxd_key *k,
		   const uint8_t volume_id[16], const uint8_t ticket[MEMX_SECRET_LEN])
{
	struct memxd_hello_info h = { .role = role };

	memcpy(h.volume_id, volume_id, sizeof(h.volume_id));
	if (role == MEMX_ROLE_DATA) {
		memcpy(h.token, ticket, sizeof(h.token));
	} else {
		h.key_id = k->id;
		memxd_auth_random(h.token, sizeof(h.token));
	}
	memset(hs, 0, sizeof(*hs));
	memxd_hello_encode(hs->hello, sizeof(hs->hello), &h);
}

int peer_hs_auth(struct peer_hs *hs, const struct memxd_key *k, const void *welcome, size_t len,
		 const uint8_t secret[MEMX_SECRET_LEN], uint32_t seq, uint8_t msg[MEMX_MSG_SIZE])
{
	struct memxd_msg_info auth = { .type = MEMX_MSG_AUTH, .seq = seq };

	if (len < sizeof(struct memx_welcome) || !memxd_auth_welcome_ok(k, hs->hello, welcome))
		return -EACCES;
	memxd_auth_session(k, hs->hello, welcome, hs->session);
	memxd_auth_seal(hs->session, MEMXD_SEAL_CLIENT, secret, auth.auth.sealed);
	return memxd_msg_encode(msg, MEMX_MSG_SIZE, &auth) < 0 ? -EINVAL : 0;
}

int peer_hs_ticket(const struct peer_hs *hs, const struct memxd_msg_info *reply,
		   uint8_t ticket[MEMX_SECRET_LEN])
{
	if (reply->type != MEMX_MSG_AUTH_REPLY)
		return -EPROTO;
	if (reply->status)
		return -(int)reply->status;
	return memxd_auth_open(hs->session, MEMXD_SEAL_DONOR, reply->auth.sealed, ticket);
}
