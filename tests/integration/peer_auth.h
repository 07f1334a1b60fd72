/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client's half of the memx handshake, for the test programs that play a
 * client against a donor (memx_badmsg, memx_attack): built from the engine's
 * own pieces (common/auth.c), so a test client proves itself exactly as the
 * engine does, or fails exactly as an attacker would.
 */
#ifndef MEMX_PEER_AUTH_H
#define MEMX_PEER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/auth.h"
#include "common/wire.h"

struct peer_hs {
	uint8_t hello[sizeof(struct memx_hello)];	/* as sent */
	uint8_t session[MEMXD_KEY_BYTES];
};

/* Loads a key file (NULL: the default one) into kr. Returns 0 or -errno (said why). */
int peer_load_keys(const char *path, struct memxd_keyring *kr);

/* Builds a hello: CLIENT with key k and a fresh challenge, or DATA with a ticket. */
void peer_hs_hello(struct peer_hs *hs, uint16_t role, const struct memxd_key *k,
		   const uint8_t volume_id[16], const uint8_t ticket[MEMX_SECRET_LEN]);

/*
 * After the connect: checks the donor's proof in its welcome, derives the
 * session and writes the MEMX_MSG_AUTH message (seq) that carries the volume
 * secret into msg. Returns 0, or -EACCES (the donor does not hold k).
 */
int peer_hs_auth(struct peer_hs *hs, const struct memxd_key *k, const void *welcome, size_t len,
		 const uint8_t secret[MEMX_SECRET_LEN], uint32_t seq, uint8_t msg[MEMX_MSG_SIZE]);

/* Opens the ticket of a MEMX_MSG_AUTH_REPLY. Returns 0, or -errno (its status, or -EACCES). */
int peer_hs_ticket(const struct peer_hs *hs, const struct memxd_msg_info *reply,
		   uint8_t ticket[MEMX_SECRET_LEN]);

#endif /* MEMX_PEER_AUTH_H */
