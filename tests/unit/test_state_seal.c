// SPDX-License-Identifier: GPL-2.0
/*
 * A detached volume's sealed state (common/state_seal.c): what opens, and
 * everything a donor could do to a copy that must not: read it, alter any
 * byte, forge one, swap in another volume's or an older one unnoticed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/state_seal.h"

#define KEY1 "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2 "7 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define PLAIN_LEN	10000

static struct memxd_keyring kr1, kr2, both;
static uint8_t plain[PLAIN_LEN], out[PLAIN_LEN];

static void setup(void)
{
	char why[160];

	cr_assert_eq(memxd_auth_init(), 0);
	cr_assert_eq(memxd_keyring_parse(KEY1 "\n", &kr1, why, sizeof(why)), 0);
	cr_assert_eq(memxd_keyring_parse(KEY2 "\n", &kr2, why, sizeof(why)), 0);
	cr_assert_eq(memxd_keyring_parse(KEY2 "\n" KEY1 "\n", &both, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 131 + 7);
}

TestSuite(state_seal, .init = setup);

static uint8_t *sealed_of(const struct memxd_keyring *kr, const char *name, uint64_t epoch,
			  size_t *len)
{
	uint8_t *s;

	*len = memxd_state_sealed_len(PLAIN_LEN);
	s = malloc(*len);
	cr_assert_not_null(s);
	memxd_state_seal(&kr->key[0], name, epoch, plain, PLAIN_LEN, s);
	return s;
}

Test(state_seal, opens_to_the_same_bytes_with_its_epoch)
{
	size_t len;
	uint8_t *s = sealed_of(&kr1, "mig", 5, &len);
	uint64_t epoch = 0;

	cr_expect_eq(len, sizeof(struct memxd_state_seal_hdr) + PLAIN_LEN + 16);
	cr_assert_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     PLAIN_LEN);
	cr_expect_eq(epoch, 5);
	cr_expect_arr_eq(out, plain, PLAIN_LEN);
	/* Only the sealing key opens it, not another key we (and the donors) may hold. */
	cr_expect_eq(memxd_state_open_sealed(&both.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     -ENOKEY);
	cr_expect_eq(memxd_state_open_sealed(memxd_keyring_find(&both, 1), "mig", s, len, out,
					     sizeof(out), &epoch), PLAIN_LEN);
	free(s);
}

Test(state_seal, a_donor_cannot_read_it)
{
	size_t len;
	uint8_t *s = sealed_of(&kr1, "mig", 1, &len);

	/* No run of the state's bytes shows through, and two seals differ (random nonce). */
	cr_expect_null(memmem(s, len, plain + 100, 32));
	{
		size_t len2;
		uint8_t *s2 = sealed_of(&kr1, "mig", 1, &len2);

		cr_expect_neq(memcmp(s, s2, len), 0);
		free(s2);
	}
	free(s);
}

Test(state_seal, every_altered_byte_is_refused)
{
	size_t len;
	uint8_t *s = sealed_of(&kr1, "mig", 3, &len);
	uint64_t epoch = 77;

	for (size_t i = 0; i < len; i += (i < 64 ? 1 : 997)) {
		long r;

		s[i] ^= 0x01;
		r = memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, sizeof(out), &epoch);
		/* The magic, the key id and the length are checked first; the rest authenticates. */
		cr_expect(r == -EACCES || r == -EPROTO || r == -ENOKEY, "byte %zu: %ld", i, r);
		s[i] ^= 0x01;
	}
	cr_expect_eq(epoch, 77, "a refused copy sets no epoch");
	/* The last byte (the tag's) too. */
	s[len - 1] ^= 0x80;
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, sizeof(out), &epoch), -EACCES);
	free(s);
}

Test(state_seal, a_raised_epoch_is_refused)
{
	size_t len;
	uint8_t *s = sealed_of(&kr1, "mig", 3, &len);
	struct memxd_state_seal_hdr *h = (struct memxd_state_seal_hdr *)s;
	uint64_t epoch;

	/* An older copy dressed up as the newest does not open. */
	h->epoch = 4;
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     -EACCES);
	free(s);
}

Test(state_seal, another_volume_or_key_does_not_open)
{
	size_t len;
	uint8_t *s = sealed_of(&kr1, "other", 1, &len);
	uint8_t *s2 = sealed_of(&kr2, "mig", 1, &len);
	struct memxd_state_seal_hdr *h = (struct memxd_state_seal_hdr *)s2;
	uint64_t epoch;

	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     -EACCES, "another volume's state swapped in");
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s2, len, out, sizeof(out), &epoch),
		     -ENOKEY, "sealed under another key (one a donor may hold)");
	h->key_id = 1;	/* names our key, sealed under another */
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s2, len, out, sizeof(out), &epoch),
		     -EACCES);
	free(s);
	free(s2);
}

Test(state_seal, a_forged_copy_is_refused)
{
	size_t len = memxd_state_sealed_len(PLAIN_LEN);
	uint8_t *s = calloc(1, len);
	struct memxd_state_seal_hdr h = { .magic = MEMXD_STATE_SEAL_MAGIC, .key_id = 1,
					  .epoch = 99, .plain_len = PLAIN_LEN };
	uint64_t epoch;

	memcpy(s, &h, sizeof(h));
	memcpy(s + sizeof(h), plain, PLAIN_LEN);
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     -EACCES);
	free(s);
}

Test(state_seal, bad_shapes_are_refused_before_the_key)
{
	size_t len;
	uint8_t *s = sealed_of(&kr1, "mig", 1, &len);
	uint64_t epoch;
	struct memxd_keyring insecure;

	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len - 1, out, sizeof(out), &epoch),
		     -EPROTO, "cut short");
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, 10, out, sizeof(out), &epoch),
		     -EPROTO, "shorter than a header");
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, PLAIN_LEN - 1, &epoch),
		     -EPROTO, "longer than this volume's state can be");
	s[0] = 'X';
	cr_expect_eq(memxd_state_open_sealed(&kr1.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     -EPROTO, "not a sealed state");
	s[0] = 'M';
	memxd_keyring_insecure(&insecure);
	cr_expect_eq(memxd_state_open_sealed(&insecure.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     -ENOKEY, "--insecure opens nothing");
	free(s);
	/* Not even what the all-zero key of --insecure sealed. */
	s = sealed_of(&insecure, "mig", 1, &len);
	cr_expect_eq(memxd_state_open_sealed(&insecure.key[0], "mig", s, len, out, sizeof(out), &epoch),
		     -ENOKEY);
	free(s);
}

Test(state_seal, tags_are_per_name_and_key)
{
	uint8_t a[MEMXD_STATE_TAG_LEN], b[MEMXD_STATE_TAG_LEN], c[MEMXD_STATE_TAG_LEN];

	memxd_state_tag(&kr1.key[0], "mig", a);
	memxd_state_tag(&kr1.key[0], "mig2", b);
	memxd_state_tag(&kr2.key[0], "mig", c);
	cr_expect_neq(memcmp(a, b, sizeof(a)), 0);
	cr_expect_neq(memcmp(a, c, sizeof(a)), 0);
	memxd_state_tag(&kr1.key[0], "mig", b);
	cr_expect_eq(memcmp(a, b, sizeof(a)), 0);
}
