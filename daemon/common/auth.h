/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trust between memx peers: the cluster keys (a key file), and the pieces of
 * the handshake that <memx/proto.h> describes under "Trust". All the
 * cryptography is libsodium's: keyed BLAKE2b for proofs and key derivation,
 * XChaCha20-Poly1305 for sealing, constant-time comparison, randombytes.
 */
#ifndef MEMXD_AUTH_H
#define MEMXD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <memx/proto.h>

#define MEMXD_KEY_FILE		"/etc/memx/cluster.key"
#define MEMXD_KEY_BYTES		32
#define MEMXD_MAX_KEYS		16
#define MEMXD_AUTH_MS		5000	/* from established to a verified MEMX_MSG_AUTH */

struct memxd_key {
	uint32_t id;		/* 0: the all-zero key of --insecure */
	uint8_t bytes[MEMXD_KEY_BYTES];
};

/* The keys a process holds: the first is the one it connects with; any is accepted. */
struct memxd_keyring {
	unsigned int n;
	bool insecure;		/* --insecure: only key 0, which proves nothing */
	struct memxd_key key[MEMXD_MAX_KEYS];
};

/* Initialises libsodium once. Returns 0 or -EIO. */
int memxd_auth_init(void);

/*
 * Parses a key file's text: lines "ID KEY" (ID 1..4294967295, KEY 64 hex
 * digits), blank lines and '#' comments. Returns 0, or -EINVAL with why.
 */
int memxd_keyring_parse(const char *text, struct memxd_keyring *kr, char *why, size_t why_len);

/*
 * Reads a key file: a regular file, mode 0600 or stricter, owned by root or
 * by the user we run as; anything else is refused with why (a key others can
 * read is no secret). Returns 0 or -errno.
 */
int memxd_keyring_load(const char *path, struct memxd_keyring *kr, char *why, size_t why_len);

/* The keyring of --insecure: key id 0, all zeros. */
void memxd_keyring_insecure(struct memxd_keyring *kr);

/* The key with this id, or NULL. */
const struct memxd_key *memxd_keyring_find(const struct memxd_keyring *kr, uint32_t id);

/* Wipes the keys from memory. */
void memxd_keyring_wipe(struct memxd_keyring *kr);

/* Writes a new key file with one fresh key of this id (never over an existing file). */
int memxd_keygen(const char *path, uint32_t id, char *why, size_t why_len);

/* Fills buf with random bytes (challenges, secrets, tickets). */
void memxd_auth_random(void *buf, size_t len);

/* Equal in constant time. */
bool memxd_auth_equal(const void *a, const void *b, size_t len);

/*
 * The donor's proof: writes it into an encoded welcome (sizeof(struct
 * memx_welcome) bytes), over the hello as sent (sizeof(struct memx_hello)
 * bytes) and the welcome before its proof field.
 */
void memxd_auth_sign_welcome(const struct memxd_key *k, const void *hello, void *welcome);

/* Whether an encoded welcome carries a good proof for this hello and key. */
bool memxd_auth_welcome_ok(const struct memxd_key *k, const void *hello, const void *welcome);

/* The session key of one handshake: from the key, the hello and the whole welcome. */
void memxd_auth_session(const struct memxd_key *k, const void *hello, const void *welcome,
			uint8_t out[MEMXD_KEY_BYTES]);

/* Who seals: the two directions use different nonces under one session key. */
enum memxd_seal_dir { MEMXD_SEAL_CLIENT = 1, MEMXD_SEAL_DONOR = 2 };

void memxd_auth_seal(const uint8_t session[MEMXD_KEY_BYTES], enum memxd_seal_dir dir,
		     const uint8_t in[MEMX_SECRET_LEN], uint8_t out[MEMX_SEALED_LEN]);

/* Opens what the other side sealed. Returns 0, or -EACCES (wrong key, tampered, replayed). */
int memxd_auth_open(const uint8_t session[MEMXD_KEY_BYTES], enum memxd_seal_dir dir,
		    const uint8_t in[MEMX_SEALED_LEN], uint8_t out[MEMX_SECRET_LEN]);

/*
 * What a volume's owner shows one donor: its secret hashed with that donor's
 * id, so that a donor (which may lie) learns nothing it could show another.
 */
void memxd_auth_volume_proof(const uint8_t secret[MEMX_SECRET_LEN], const uint8_t donor_id[16],
			     uint8_t out[MEMX_SECRET_LEN]);

/* A join's token: a keyed hash of the encoded hello with its token zeroed. */
void memxd_auth_join_token(const struct memxd_key *k, const void *hello,
			   uint8_t out[MEMX_TOKEN_LEN]);

/* Whether the hello (as received) carries the right join token for k. */
bool memxd_auth_join_ok(const struct memxd_key *k, const void *hello);

/* What a process trusts: --key-file (or the default) and --insecure. */
struct memxd_trust {
	char key_file[256];		/* "" until set: MEMXD_KEY_FILE */
	bool insecure;
	struct memxd_keyring kr;
};

/*
 * Loads the keys at start (who: "memxd donor", for messages). Without a key
 * file that can be read, refuses (-errno, said why on stderr) unless
 * --insecure, which it then says loudly.
 */
int memxd_trust_load(struct memxd_trust *t, const char *who);

/* Re-reads the key file (SIGHUP, memxctl reload); keeps the old keys if it fails. */
int memxd_trust_reload(struct memxd_trust *t);

#endif /* MEMXD_AUTH_H */
