// SPDX-License-Identifier: GPL-2.0
/*
 * Cluster keys and the handshake's cryptography (see auth.h and the "Trust"
 * comment of <memx/proto.h>). No primitive is made here: libsodium's keyed
 * BLAKE2b proves and derives, its XChaCha20-Poly1305 seals. Each use of a
 * key has its own label in what is hashed, so no output of one use is a
 * valid output of another.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/auth.h"
#include "common/log.h"

#define KEY_FILE_MAX	8192

static const char LABEL_WELCOME[] = "memx3 donor proof";
static const char LABEL_SESSION[] = "memx3 session key";
static const char LABEL_JOIN[] = "memx3 join token";

int memxd_auth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static int why_fail(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int why_fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* One "ID KEY" line into k. */
static int parse_line(const char *line, size_t len, struct memxd_key *k)
{
	char idtext[16], hex[2 * MEMXD_KEY_BYTES + 1], *end;
	const char *sp = memchr(line, ' ', len);
	size_t bin_len = 0;
	unsigned long id;

	if (!sp || (size_t)(sp - line) >= sizeof(idtext) || sp == line)
		return -EINVAL;
	memcpy(idtext, line, sp - line);
	idtext[sp - line] = '\0';
	errno = 0;
	id = strtoul(idtext, &end, 10);
	if (errno || *end || idtext[0] == '-' || !id || id > UINT32_MAX)
		return -EINVAL;
	len -= sp + 1 - line;
	if (len != 2 * MEMXD_KEY_BYTES)
		return -EINVAL;
	memcpy(hex, sp + 1, len);
	hex[len] = '\0';
	if (sodium_hex2bin(k->bytes, sizeof(k->bytes), hex, len, NULL, &bin_len, NULL) ||
	    bin_len != MEMXD_KEY_BYTES)
		return -EINVAL;
	sodium_memzero(hex, sizeof(hex));
	k->id = (uint32_t)id;
	return 0;
}

int memxd_keyring_parse(const char *text, struct memxd_keyring *kr, char *why, size_t why_len)
{
	unsigned int lineno = 0;
	const char *p = text;

	memset(kr, 0, sizeof(*kr));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct memxd_key k;

		lineno++;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
			len--;
		if (len && p[0] != '#') {
			if (parse_line(p, len, &k)) {
				memxd_keyring_wipe(kr);
				return why_fail(why, why_len, -EINVAL, "line %u: not \"ID KEY\" "
						"(ID 1..4294967295, KEY 64 hex digits)", lineno);
			}
			if (memxd_keyring_find(kr, k.id) || kr->n == MEMXD_MAX_KEYS) {
				memxd_keyring_wipe(kr);
				return why_fail(why, why_len, -EINVAL, kr->n == MEMXD_MAX_KEYS ?
						"line %u: more than 16 keys" :
						"line %u: key id used twice", lineno);
			}
			kr->key[kr->n++] = k;
			sodium_memzero(&k, sizeof(k));
		}
		p += nl ? (size_t)(nl - p) + 1 : strlen(p);
	}
	if (!kr->n)
		return why_fail(why, why_len, -EINVAL, "no key in it");
	return 0;
}

int memxd_keyring_load(const char *path, struct memxd_keyring *kr, char *why, size_t why_len)
{
	char *text;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return why_fail(why, why_len, -errno, "cannot open: %s%s", strerror(errno),
				errno == ENOENT ? " (make one with: memxctl keygen PATH)" : "");
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return why_fail(why, why_len, -EINVAL, "not a regular file");
	}
	if (st.st_mode & 077) {
		close(fd);
		return why_fail(why, why_len, -EPERM, "mode is %04o: others may read the key; "
				"it must be 0600 (chmod 600 %s)", st.st_mode & 07777, path);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		close(fd);
		return why_fail(why, why_len, -EPERM, "owned by uid %u: it must be root's",
				st.st_uid);
	}
	text = sodium_malloc(KEY_FILE_MAX + 1);
	if (!text) {
		close(fd);
		return why_fail(why, why_len, -ENOMEM, "out of memory");
	}
	n = read(fd, text, KEY_FILE_MAX + 1);
	close(fd);
	if (n < 0 || n > KEY_FILE_MAX) {
		sodium_free(text);
		return why_fail(why, why_len, n < 0 ? -EIO : -EFBIG, n < 0 ? "cannot read it" :
				"larger than 8 KiB: not a key file");
	}
	text[n] = '\0';
	r = memchr(text, '\0', n) ? why_fail(why, why_len, -EINVAL, "binary data in it")
				  : memxd_keyring_parse(text, kr, why, why_len);
	sodium_free(text);	/* zeroes it */
	return r;
}

void memxd_keyring_insecure(struct memxd_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
	kr->insecure = true;
	kr->n = 1;
}

const struct memxd_key *memxd_keyring_find(const struct memxd_keyring *kr, uint32_t id)
{
	for (unsigned int i = 0; i < kr->n; i++)
		if (kr->key[i].id == id)
			return &kr->key[i];
	return NULL;
}

void memxd_keyring_wipe(struct memxd_keyring *kr)
{
	sodium_memzero(kr, sizeof(*kr));
}

int memxd_keygen(const char *path, uint32_t id, char *why, size_t why_len)
{
	uint8_t key[MEMXD_KEY_BYTES];
	char hex[2 * MEMXD_KEY_BYTES + 1], text[256];
	int fd, n, r = 0;

	if (!id)
		return why_fail(why, why_len, -EINVAL, "key id 0 is reserved for --insecure");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return why_fail(why, why_len, -errno, "%s: %s", path, strerror(errno));
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	n = snprintf(text, sizeof(text), "# memx cluster keys: \"ID KEY\" per line; the first "
		     "connects, any is accepted\n%u %s\n", id, hex);
	if (write(fd, text, n) != n || fsync(fd))
		r = why_fail(why, why_len, -EIO, "%s: cannot write: %s", path, strerror(errno));
	close(fd);
	if (r)
		unlink(path);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(text, sizeof(text));
	return r;
}

void memxd_auth_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

bool memxd_auth_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

/* Keyed BLAKE2b of a label and up to two pieces, outlen bytes. */
static void keyed_hash(const struct memxd_key *k, const char *label, const void *a, size_t alen,
		       const void *b, size_t blen, uint8_t *out, size_t outlen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, k->bytes, sizeof(k->bytes), outlen);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1);
	crypto_generichash_update(&st, a, alen);
	if (b)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, outlen);
	sodium_memzero(&st, sizeof(st));
}

#define PROOF_OFF	offsetof(struct memx_welcome, proof)

void memxd_auth_sign_welcome(const struct memxd_key *k, const void *hello, void *welcome)
{
	keyed_hash(k, LABEL_WELCOME, hello, sizeof(struct memx_hello), welcome, PROOF_OFF,
		   (uint8_t *)welcome + PROOF_OFF, MEMX_PROOF_LEN);
}

bool memxd_auth_welcome_ok(const struct memxd_key *k, const void *hello, const void *welcome)
{
	uint8_t want[MEMX_PROOF_LEN];

	keyed_hash(k, LABEL_WELCOME, hello, sizeof(struct memx_hello), welcome, PROOF_OFF, want,
		   sizeof(want));
	return sodium_memcmp(want, (const uint8_t *)welcome + PROOF_OFF, sizeof(want)) == 0;
}

void memxd_auth_session(const struct memxd_key *k, const void *hello, const void *welcome,
			uint8_t out[MEMXD_KEY_BYTES])
{
	keyed_hash(k, LABEL_SESSION, hello, sizeof(struct memx_hello), welcome,
		   sizeof(struct memx_welcome), out, MEMXD_KEY_BYTES);
}

_Static_assert(MEMX_SEALED_LEN == MEMX_SECRET_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "a sealed secret is the secret and its tag");
_Static_assert(MEMXD_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

/* Each session key seals once per direction: the direction is the nonce. */
static void seal_nonce(enum memxd_seal_dir dir,
		       uint8_t npub[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	memset(npub, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	npub[0] = (uint8_t)dir;
}

void memxd_auth_seal(const uint8_t session[MEMXD_KEY_BYTES], enum memxd_seal_dir dir,
		     const uint8_t in[MEMX_SECRET_LEN], uint8_t out[MEMX_SEALED_LEN])
{
	uint8_t npub[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long n;

	seal_nonce(dir, npub);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, &n, in, MEMX_SECRET_LEN, NULL, 0, NULL,
						   npub, session);
}

int memxd_auth_open(const uint8_t session[MEMXD_KEY_BYTES], enum memxd_seal_dir dir,
		    const uint8_t in[MEMX_SEALED_LEN], uint8_t out[MEMX_SECRET_LEN])
{
	uint8_t npub[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long n;

	seal_nonce(dir, npub);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &n, NULL, in, MEMX_SEALED_LEN, NULL, 0,
						       npub, session) || n != MEMX_SECRET_LEN)
		return -EACCES;
	return 0;
}

void memxd_auth_volume_proof(const uint8_t secret[MEMX_SECRET_LEN], const uint8_t donor_id[16],
			     uint8_t out[MEMX_SECRET_LEN])
{
	crypto_generichash(out, MEMX_SECRET_LEN, donor_id, 16, secret, MEMX_SECRET_LEN);
}

void memxd_auth_join_token(const struct memxd_key *k, const void *hello,
			   uint8_t out[MEMX_TOKEN_LEN])
{
	struct memx_hello h;

	memcpy(&h, hello, sizeof(h));
	memset(h.token, 0, sizeof(h.token));
	keyed_hash(k, LABEL_JOIN, &h, sizeof(h), NULL, 0, out, MEMX_TOKEN_LEN);
}

bool memxd_auth_join_ok(const struct memxd_key *k, const void *hello)
{
	uint8_t want[MEMX_TOKEN_LEN];

	memxd_auth_join_token(k, hello, want);
	return sodium_memcmp(want, ((const struct memx_hello *)hello)->token, sizeof(want)) == 0;
}

int memxd_trust_load(struct memxd_trust *t, const char *who)
{
	char why[160];
	int r;

	if (memxd_auth_init()) {
		fprintf(stderr, "%s: libsodium did not initialise\n", who);
		return -EIO;
	}
	if (t->insecure) {
		memxd_keyring_insecure(&t->kr);
		memxd_warn("INSECURE: --insecure given: peers are not authenticated, and anyone "
			   "who can reach this host over RDMA can use or harm its volumes");
		return 0;
	}
	if (!t->key_file[0])
		strcpy(t->key_file, MEMXD_KEY_FILE);
	r = memxd_keyring_load(t->key_file, &t->kr, why, sizeof(why));
	if (r)
		fprintf(stderr, "%s: key file %s: %s; memx needs a cluster key (memxctl keygen "
			"PATH), or --insecure for a test without one\n", who, t->key_file, why);
	return r;
}

int memxd_trust_reload(struct memxd_trust *t)
{
	struct memxd_keyring kr;
	char why[160];
	int r;

	if (t->insecure) {
		memxd_info("reload: --insecure: no key file to read");
		return 0;
	}
	r = memxd_keyring_load(t->key_file, &kr, why, sizeof(why));
	if (r) {
		memxd_err("reload: key file %s: %s; keeping the %u keys held", t->key_file, why,
			  t->kr.n);
		return r;
	}
	t->kr = kr;
	memxd_keyring_wipe(&kr);
	memxd_info("reload: %u keys from %s; key %u connects", t->kr.n, t->key_file,
		   t->kr.key[0].id);
	return 0;
}
