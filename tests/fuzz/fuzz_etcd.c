// SPDX-License-Identifier: GPL-2.0
/*
 * The directory's parsers (--directory): the input's first byte picks one,
 * the rest is its input: etcd's answers to lease/grant, lease/keepalive, a
 * plain ack and kv/range (etcd_json.c), a donor's entry (dir_record.c), and
 * the URL (etcd_url.c). Each accepts or refuses with a reason; what it
 * accepts holds together: a lease and TTL above 0, an entry whose free memory
 * is within its capacity and that encodes and decodes to itself, a URL whose
 * prefix starts and ends with '/'.
 */
#include "fuzz.h"
#include "common/directory.h"
#include "common/etcd.h"

static int count_kv(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
		    size_t value_len)
{
	/* Every byte the parser hands over must be readable. */
	volatile uint8_t x = 0;

	for (size_t i = 0; i < key_len; i++)
		x ^= key[i];
	for (size_t i = 0; i < value_len; i++)
		x ^= value[i];
	(void)x;
	(*(unsigned int *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[MEMXD_ETCD_WHY_LEN], enc[1024];
	struct memxd_dir_donor d, d2;
	struct memxd_etcd_url u;
	unsigned int n = 0;
	int64_t id, ttl;
	char *s;
	int r;

	if (!size)
		return 0;
	/* An exact-size copy: a read past the input is caught by ASan. */
	s = malloc(size - 1 ? size - 1 : 1);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	why[0] = '\0';
	switch (data[0] % 6) {
	case 0:
		r = memxd_etcd_parse_grant(s, size - 1, &id, &ttl, why, sizeof(why));
		FUZZ_CHECK(r ? (r == -EPROTO || r == -ENOENT) && why[0] : id > 0 && ttl > 0);
		break;
	case 1:
		r = memxd_etcd_parse_keepalive(s, size - 1, &ttl, why, sizeof(why));
		FUZZ_CHECK(r ? (r == -EPROTO || r == -ENOENT) && why[0] : ttl > 0);
		break;
	case 2:
		r = memxd_etcd_parse_ack(s, size - 1, why, sizeof(why));
		FUZZ_CHECK(!r || ((r == -EPROTO || r == -ENOENT) && why[0]));
		break;
	case 3:
		r = memxd_etcd_parse_range(s, size - 1, count_kv, &n, why, sizeof(why));
		FUZZ_CHECK(!r || r == -EPROTO || r == -ENOENT || r == -ENOMEM);
		break;
	case 4:
		r = memxd_dir_donor_decode((const uint8_t *)s, size - 1, &d, why, sizeof(why));
		FUZZ_CHECK(r ? why[0] != '\0' : d.free <= d.capacity && d.port);
		if (!r) {
			int len = memxd_dir_donor_encode(&d, enc, sizeof(enc));

			FUZZ_CHECK(len > 0);
			FUZZ_CHECK(!memxd_dir_donor_decode((uint8_t *)enc, (size_t)len, &d2, why,
							   sizeof(why)));
			FUZZ_CHECK(!memcmp(&d, &d2, sizeof(d)));
		}
		break;
	default: {
		char *z = fuzz_string(data + 1, size - 1);

		r = memxd_etcd_parse_url(z, &u, why, sizeof(why));
		FUZZ_CHECK(r ? r == -EINVAL && why[0] : u.port && u.host[0] && u.prefix[0] == '/' &&
			   u.prefix[strlen(u.prefix) - 1] == '/');
		free(z);
	}
	}
	free(s);
	return 0;
}
