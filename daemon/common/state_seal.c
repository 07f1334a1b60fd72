// SPDX-License-Identifier: GPL-2.0
/*
 * Sealing a detached volume's state for its donors (state_seal.h). Only
 * libsodium: keyed BLAKE2b derives, XChaCha20-Poly1305 seals; the labels keep
 * these uses apart from the handshake's (auth.c).
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/state_seal.h"

static const char LABEL_KEY[] = "memx3 volume state key";
static const char LABEL_TAG[] = "memx3 volume state tag";

_Static_assert(sizeof(struct memxd_state_seal_hdr) == 56, "the sealed header is part of the format");
_Static_assert(sizeof(((struct memxd_state_seal_hdr *)0)->nonce) ==
	       crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");

/* Keyed BLAKE2b of a label and the volume's name. */
static void derive(const struct memxd_key *k, const char *label, const char *name, uint8_t *out,
		   size_t outlen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, k->bytes, sizeof(k->bytes), outlen);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1);
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name) + 1);
	crypto_generichash_final(&st, out, outlen);
	sodium_memzero(&st, sizeof(st));
}

void memxd_state_tag(const struct memxd_key *k, const char *name,
		     uint8_t tag[MEMXD_STATE_TAG_LEN])
{
	derive(k, LABEL_TAG, name, tag, MEMXD_STATE_TAG_LEN);
}

size_t memxd_state_sealed_len(size_t plain_len)
{
	return sizeof(struct memxd_state_seal_hdr) + plain_len +
	       crypto_aead_xchacha20poly1305_ietf_ABYTES;
}

void memxd_state_seal(const struct memxd_key *k, const char *name, uint64_t epoch,
		      const void *plain, size_t len, void *out)
{
	struct memxd_state_seal_hdr h = { .key_id = k->id, .epoch = epoch, .plain_len = len };
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned long long n;

	memcpy(h.magic, MEMXD_STATE_SEAL_MAGIC, sizeof(h.magic));
	randombytes_buf(h.nonce, sizeof(h.nonce));
	memcpy(out, &h, sizeof(h));
	derive(k, LABEL_KEY, name, key, sizeof(key));
	crypto_aead_xchacha20poly1305_ietf_encrypt((uint8_t *)out + sizeof(h), &n, plain, len,
						   (const uint8_t *)&h, sizeof(h), NULL, h.nonce,
						   key);
	sodium_memzero(key, sizeof(key));
}

long memxd_state_open_sealed(const struct memxd_key *k, const char *name, const void *in,
			     size_t len, void *out, size_t out_max, uint64_t *epoch)
{
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	struct memxd_state_seal_hdr h;
	unsigned long long n;
	int r;

	if (len < memxd_state_sealed_len(0))
		return -EPROTO;
	memcpy(&h, in, sizeof(h));
	if (memcmp(h.magic, MEMXD_STATE_SEAL_MAGIC, sizeof(h.magic)) || h.reserved ||
	    h.plain_len > out_max || memxd_state_sealed_len(h.plain_len) != len)
		return -EPROTO;
	if (h.key_id != k->id || !k->id)	/* key 0: --insecure's, no key at all */
		return -ENOKEY;
	derive(k, LABEL_KEY, name, key, sizeof(key));
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &n, NULL, (const uint8_t *)in + sizeof(h),
						       len - sizeof(h), (const uint8_t *)&h,
						       sizeof(h), h.nonce, key);
	sodium_memzero(key, sizeof(key));
	if (r || n != h.plain_len) {
		sodium_memzero(out, out_max < h.plain_len ? out_max : h.plain_len);
		return -EACCES;
	}
	*epoch = h.epoch;
	return (long)n;
}
