// SPDX-License-Identifier: GPL-2.0
/* Cluster keys and the handshake's pieces (common/auth.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/wire.h"

#define KEY1 "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2 "7 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void setup(void)
{
	cr_assert_eq(memxd_auth_init(), 0);
}

TestSuite(keyfile, .init = setup);
TestSuite(handshake, .init = setup);

Test(keyfile, parses_keys_comments_and_order)
{
	struct memxd_keyring kr;
	char why[160] = "";

	cr_assert_eq(memxd_keyring_parse("# keys\n\n" KEY2 "\n" KEY1 "  \n", &kr, why,
					 sizeof(why)), 0, "%s", why);
	cr_expect_eq(kr.n, 2);
	cr_expect_eq(kr.key[0].id, 7, "the first key is the one that connects");
	cr_expect_eq(kr.key[1].bytes[31], 0x1f);
	cr_expect_not_null(memxd_keyring_find(&kr, 1));
	cr_expect_null(memxd_keyring_find(&kr, 2));
	cr_expect_not(kr.insecure);
}

Test(keyfile, refuses_what_is_not_a_key)
{
	static const char *const bad[] = {
		"",			/* no key */
		"# only a comment\n",
		"0 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",	/* id 0 */
		"-1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		"4294967296 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		"1 000102\n",		/* short */
		"1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fab\n",
		"1 zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		"1\n",
		KEY1 "\n" KEY1 "\n",	/* an id twice */
	};
	struct memxd_keyring kr;
	char why[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_expect_eq(memxd_keyring_parse(bad[i], &kr, why, sizeof(why)), -EINVAL,
			     "accepted case %zu", i);
		cr_expect_neq(why[0], '\0', "case %zu says why", i);
	}
}

static char *write_file(const char *text, mode_t mode)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/memx-test-key-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

Test(keyfile, load_refuses_a_key_others_can_read)
{
	struct memxd_keyring kr;
	char why[160] = "", *path = write_file(KEY1 "\n", 0644);

	cr_expect_eq(memxd_keyring_load(path, &kr, why, sizeof(why)), -EPERM);
	cr_expect(strstr(why, "0600") != NULL, "says what mode it must have: %s", why);
	chmod(path, 0600);
	cr_expect_eq(memxd_keyring_load(path, &kr, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(kr.n, 1);
	unlink(path);
	cr_expect_eq(memxd_keyring_load(path, &kr, why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "keygen") != NULL, "says how to make one: %s", why);
}

Test(keyfile, keygen_makes_a_private_loadable_key_and_never_overwrites)
{
	char path[] = "/tmp/memx-test-keygen-XXXXXX", why[160] = "";
	struct memxd_keyring a, b;
	struct stat st;
	int fd = mkstemp(path);

	close(fd);
	unlink(path);
	cr_assert_eq(memxd_keygen(path, 42, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(memxd_keyring_load(path, &a, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(a.key[0].id, 42);
	cr_expect_eq(memxd_keygen(path, 42, why, sizeof(why)), -EEXIST);
	unlink(path);
	cr_assert_eq(memxd_keygen(path, 42, why, sizeof(why)), 0);
	cr_assert_eq(memxd_keyring_load(path, &b, why, sizeof(why)), 0);
	cr_expect_neq(memcmp(a.key[0].bytes, b.key[0].bytes, MEMXD_KEY_BYTES), 0,
		      "two keys made are different");
	unlink(path);
}

/* A hello and a welcome as the two sides would have them. */
static void handshake(uint8_t hello[sizeof(struct memx_hello)],
		      uint8_t welcome[sizeof(struct memx_welcome)], const struct memxd_key *k)
{
	struct memxd_hello_info h = { .role = MEMX_ROLE_CLIENT, .key_id = k->id };
	struct memxd_welcome_info w = { .memory_total = 1 << 30, .memory_free = 1 << 29,
					.max_slab_shift = 26 };

	h.volume_id[0] = 1;
	memxd_auth_random(h.token, sizeof(h.token));
	cr_assert_eq(memxd_hello_encode(hello, sizeof(struct memx_hello), &h),
		     (int)sizeof(struct memx_hello));
	w.host_id[0] = 'h';
	memxd_auth_random(w.nonce, sizeof(w.nonce));
	cr_assert_eq(memxd_welcome_encode(welcome, sizeof(struct memx_welcome), &w),
		     (int)sizeof(struct memx_welcome));
	memxd_auth_sign_welcome(k, hello, welcome);
}

static void keys(struct memxd_key *k, struct memxd_key *other)
{
	k->id = 1;
	memxd_auth_random(k->bytes, sizeof(k->bytes));
	*other = *k;
	other->bytes[5] ^= 1;
}

Test(handshake, the_welcome_proves_the_key_and_binds_the_hello)
{
	uint8_t hello[sizeof(struct memx_hello)], welcome[sizeof(struct memx_welcome)];
	struct memxd_key k, wrong;

	keys(&k, &wrong);
	handshake(hello, welcome, &k);
	cr_expect(memxd_auth_welcome_ok(&k, hello, welcome));
	cr_expect_not(memxd_auth_welcome_ok(&wrong, hello, welcome), "a donor without our key");
	hello[40] ^= 1;	/* another challenge: an old welcome replayed */
	cr_expect_not(memxd_auth_welcome_ok(&k, hello, welcome));
	hello[40] ^= 1;
	welcome[8] ^= 1;	/* memory_total altered on the way */
	cr_expect_not(memxd_auth_welcome_ok(&k, hello, welcome));
}

Test(handshake, sealed_secret_opens_only_in_its_own_session_and_direction)
{
	uint8_t hello[sizeof(struct memx_hello)], welcome[sizeof(struct memx_welcome)];
	uint8_t s1[MEMXD_KEY_BYTES], s2[MEMXD_KEY_BYTES], sw[MEMXD_KEY_BYTES];
	uint8_t secret[MEMX_SECRET_LEN], sealed[MEMX_SEALED_LEN], out[MEMX_SECRET_LEN];
	struct memxd_key k, wrong;

	keys(&k, &wrong);
	memxd_auth_random(secret, sizeof(secret));
	handshake(hello, welcome, &k);
	memxd_auth_session(&k, hello, welcome, s1);
	memxd_auth_session(&wrong, hello, welcome, sw);
	memxd_auth_seal(s1, MEMXD_SEAL_CLIENT, secret, sealed);
	cr_assert_eq(memxd_auth_open(s1, MEMXD_SEAL_CLIENT, sealed, out), 0);
	cr_expect_arr_eq(out, secret, sizeof(secret));
	cr_expect_eq(memxd_auth_open(sw, MEMXD_SEAL_CLIENT, sealed, out), -EACCES,
		     "a peer with another key");
	cr_expect_eq(memxd_auth_open(s1, MEMXD_SEAL_DONOR, sealed, out), -EACCES,
		     "reflected back at its sender");
	/* The same AUTH replayed into a new handshake: the donor's challenge differs. */
	handshake(hello, welcome, &k);
	memxd_auth_session(&k, hello, welcome, s2);
	cr_expect_eq(memxd_auth_open(s2, MEMXD_SEAL_CLIENT, sealed, out), -EACCES);
	sealed[3] ^= 1;
	cr_expect_eq(memxd_auth_open(s1, MEMXD_SEAL_CLIENT, sealed, out), -EACCES, "tampered");
}

Test(handshake, a_join_is_signed_with_the_key_it_names)
{
	struct memxd_hello_info h = { .role = MEMX_ROLE_JOIN, .join_port = 7471, .key_id = 1 };
	uint8_t hello[sizeof(struct memx_hello)];
	struct memxd_key k, wrong;

	keys(&k, &wrong);
	cr_assert_eq(memxd_hello_encode(hello, sizeof(hello), &h), (int)sizeof(hello));
	cr_expect_not(memxd_auth_join_ok(&k, hello), "unsigned");
	memxd_auth_join_token(&k, hello, ((struct memx_hello *)hello)->token);
	cr_expect(memxd_auth_join_ok(&k, hello));
	cr_expect_not(memxd_auth_join_ok(&wrong, hello));
	hello[10] ^= 1;	/* another port: not what was signed */
	cr_expect_not(memxd_auth_join_ok(&k, hello));
}

Test(handshake, each_donor_sees_its_own_proof_of_the_volume_secret)
{
	uint8_t secret[MEMX_SECRET_LEN], d1[16] = { 1 }, d2[16] = { 2 };
	uint8_t p1[MEMX_SECRET_LEN], p1again[MEMX_SECRET_LEN], p2[MEMX_SECRET_LEN];

	memxd_auth_random(secret, sizeof(secret));
	memxd_auth_volume_proof(secret, d1, p1);
	memxd_auth_volume_proof(secret, d1, p1again);
	memxd_auth_volume_proof(secret, d2, p2);
	cr_expect_arr_eq(p1, p1again, sizeof(p1), "the same donor sees the same proof each time");
	cr_expect_neq(memcmp(p1, p2, sizeof(p1)), 0, "another donor sees another");
	cr_expect_neq(memcmp(p1, secret, sizeof(p1)), 0, "no donor sees the secret itself");
}
