// SPDX-License-Identifier: GPL-2.0
/*
 * Same-filled blocks (client/samefill.h): which blocks are found same-filled,
 * and that the table answers reads with the value last written, until a
 * normal write or a discard clears it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "client/samefill.h"

#define KiB	1024ULL
#define BLK	4096U

static struct memxd_samefill sf;
static uint64_t buf[4 * BLK / 8];	/* four blocks, 8-byte aligned as the tag buffers are */

static void setup(void)
{
	cr_assert_eq(memxd_samefill_init(&sf, 1024 * KiB), 0);	/* 256 blocks */
	cr_assert_eq(atomic_load(&sf.nr_marked), 0);
}

static void teardown(void)
{
	memxd_samefill_fini(&sf);
}

/* Block i of buf filled with v. */
static void fill(unsigned int i, uint64_t v)
{
	for (unsigned int w = 0; w < BLK / 8; w++)
		buf[i * BLK / 8 + w] = v;
}

TestSuite(samefill, .init = setup, .fini = teardown);

Test(samefill, detects_one_value_repeated_and_nothing_else)
{
	uint64_t v = 1;
	uint8_t *b = (uint8_t *)buf;

	fill(0, 0);
	cr_expect(memxd_samefill_detect(b, &v));
	cr_expect_eq(v, 0);
	fill(0, 0x0123456789abcdefULL);
	cr_expect(memxd_samefill_detect(b, &v));
	cr_expect_eq(v, 0x0123456789abcdefULL);
	/* One byte off anywhere: first, middle, last. */
	for (unsigned int at = 0; at < BLK; at += BLK / 2 - 1) {
		fill(0, 0);
		b[at] = 1;
		cr_expect_not(memxd_samefill_detect(b, &v), "a byte at %u", at);
	}
	fill(0, 0);
	b[BLK - 1] = 1;
	cr_expect_not(memxd_samefill_detect(b, &v), "the last byte");
	/* A repeated 32-bit value is a repeated 64-bit one; a 128-bit pattern is not. */
	fill(0, 0x1234567812345678ULL);
	cr_expect(memxd_samefill_detect(b, &v));
	for (unsigned int w = 0; w < BLK / 8; w++)
		buf[w] = w % 2 ? 1 : 2;
	cr_expect_not(memxd_samefill_detect(b, &v));
}

Test(samefill, a_request_is_same_filled_only_if_every_block_is)
{
	uint8_t *b = (uint8_t *)buf;

	fill(0, 0);
	fill(1, 7);
	fill(2, 0);
	fill(3, 0);
	cr_expect(memxd_samefill_all(b, 4 * BLK), "each block its own value");
	b[2 * BLK + 100] = 9;
	cr_expect_not(memxd_samefill_all(b, 4 * BLK), "block 2 is not");
	cr_expect(memxd_samefill_all(b, 2 * BLK), "blocks 0 and 1 still are");
	cr_expect_not(memxd_samefill_all(b, 0));
	cr_expect_not(memxd_samefill_all(b, 512), "not a whole block");
}

Test(samefill, reads_get_the_value_last_written)
{
	uint8_t *b = (uint8_t *)buf;

	fill(0, 0);
	fill(1, 0xdeadbeefULL);
	memxd_samefill_mark(&sf, 8 * BLK, b, 2 * BLK);	/* blocks 8 and 9 */
	cr_expect_eq(atomic_load(&sf.nr_marked), 2);
	cr_expect(memxd_samefill_covers(&sf, 8 * BLK, 2 * BLK));
	cr_expect_not(memxd_samefill_covers(&sf, 7 * BLK, 2 * BLK), "block 7 is not marked");
	cr_expect_not(memxd_samefill_covers(&sf, 8 * BLK, 3 * BLK), "block 10 is not marked");

	/* A read of blocks 7..10: only 8 and 9 are filled, 7 and 10 keep the donor's bytes. */
	memset(buf, 0x55, sizeof(buf));
	cr_expect_eq(memxd_samefill_fill(&sf, 7 * BLK, b, 4 * BLK), 2);
	for (unsigned int w = 0; w < BLK / 8; w++) {
		cr_assert_eq(buf[w], 0x5555555555555555ULL);
		cr_assert_eq(buf[BLK / 8 + w], 0);
		cr_assert_eq(buf[2 * BLK / 8 + w], 0xdeadbeefULL);
		cr_assert_eq(buf[3 * BLK / 8 + w], 0x5555555555555555ULL);
	}

	/* Written again same-filled with another value: the new one, counted once. */
	fill(0, 42);
	memxd_samefill_mark(&sf, 9 * BLK, b, BLK);
	cr_expect_eq(atomic_load(&sf.nr_marked), 2);
	memxd_samefill_fill(&sf, 9 * BLK, b + BLK, BLK);
	cr_expect_eq(buf[BLK / 8 + 17], 42);
}

Test(samefill, a_normal_write_or_a_discard_clears)
{
	uint8_t *b = (uint8_t *)buf;

	fill(0, 0);
	fill(1, 0);
	fill(2, 0);
	fill(3, 0);
	memxd_samefill_mark(&sf, 60 * BLK, b, 4 * BLK);	/* blocks 60..63 */
	memxd_samefill_mark(&sf, 64 * BLK, b, 4 * BLK);	/* 64..67: the next bitmap word */
	cr_expect_eq(atomic_load(&sf.nr_marked), 8);
	memxd_samefill_clear(&sf, 62 * BLK, 4 * BLK);	/* 62..65, across the words */
	cr_expect_eq(atomic_load(&sf.nr_marked), 4);
	cr_expect(memxd_samefill_covers(&sf, 60 * BLK, 2 * BLK));
	cr_expect(memxd_samefill_covers(&sf, 66 * BLK, 2 * BLK));
	memset(buf, 0x55, sizeof(buf));
	cr_expect_eq(memxd_samefill_fill(&sf, 62 * BLK, b, 4 * BLK), 0, "cleared: donor bytes");
	cr_expect_eq(buf[0], 0x5555555555555555ULL);
	memxd_samefill_clear(&sf, 62 * BLK, 4 * BLK);	/* again: nothing to clear */
	cr_expect_eq(atomic_load(&sf.nr_marked), 4);
	memxd_samefill_clear(&sf, 0, 1024 * KiB);	/* a whole volume, as a slab given back */
	cr_expect_eq(atomic_load(&sf.nr_marked), 0);
	cr_expect_eq(memxd_samefill_recount(&sf), 0);
}

Test(samefill, the_ends_of_the_volume)
{
	uint8_t *b = (uint8_t *)buf;

	fill(0, 3);
	memxd_samefill_mark(&sf, 255 * BLK, b, BLK);
	cr_expect(memxd_samefill_covers(&sf, 255 * BLK, BLK));
	cr_expect_not(memxd_samefill_covers(&sf, 255 * BLK, 2 * BLK), "past the end");
	memxd_samefill_mark(&sf, 256 * BLK, b, BLK);	/* past the end: ignored */
	cr_expect_eq(atomic_load(&sf.nr_marked), 1);
	memxd_samefill_clear(&sf, 255 * BLK, 100 * BLK);
	cr_expect_eq(atomic_load(&sf.nr_marked), 0);
}

Test(samefill, a_borrowed_table_is_counted_again)
{
	static _Atomic uint64_t bits[4], value[256];

	atomic_store(&bits[1], 0x5);	/* blocks 64 and 66, as a dead engine left them */
	atomic_store(&value[64], 11);
	atomic_store(&value[66], 12);
	memxd_samefill_borrow(&sf, bits, value);
	cr_expect_eq(memxd_samefill_recount(&sf), 2);
	fill(0, 0);
	cr_expect_eq(memxd_samefill_fill(&sf, 64 * BLK, (uint8_t *)buf, 3 * BLK), 2);
	cr_expect_eq(buf[5], 11);
	cr_expect_eq(buf[BLK / 8 + 5], 0, "block 65 keeps what was read");
	cr_expect_eq(buf[2 * BLK / 8 + 5], 12);
	memxd_samefill_borrow(&sf, NULL, NULL);	/* fini must not free them */
}
