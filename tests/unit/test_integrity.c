// SPDX-License-Identifier: GPL-2.0
/*
 * The checksum table (client/integrity.c): CRC32C is the standard one, an
 * unwritten block checks as zeros, a recorded write checks and any changed
 * byte does not, and zeroing a range makes it check as zeros again.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "client/integrity.h"

#define BLK MEMXD_CRC_BLOCK

Test(integrity, crc32c_is_the_standard_one)
{
	cr_expect_eq(memxd_crc32c("123456789", 9), 0xe3069283U);
}

Test(integrity, record_check_zero)
{
	static uint8_t buf[4 * BLK], zeros[4 * BLK];
	struct memxd_crcmap m;

	cr_assert_eq(memxd_crc_init(&m, 64 * BLK), 0);
	cr_expect_eq(memxd_crc_check(&m, 0, zeros, sizeof(zeros)), -1, "never written: zeros");
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	memxd_crc_record(&m, 8 * BLK, buf, sizeof(buf));
	cr_expect_eq(memxd_crc_check(&m, 8 * BLK, buf, sizeof(buf)), -1);
	cr_expect_eq(memxd_crc_check(&m, 8 * BLK, zeros, sizeof(zeros)), 8 * BLK,
		     "stale data (zeros) is caught at the first block");
	buf[2 * BLK + 100] ^= 1;	/* one bit in the third block */
	cr_expect_eq(memxd_crc_check(&m, 8 * BLK, buf, sizeof(buf)), 10 * BLK);
	cr_expect_eq(memxd_crc_check(&m, 10 * BLK, buf + 2 * BLK, BLK), 10 * BLK,
		     "a read of the one block alone sees it too");
	cr_expect_eq(memxd_crc_check(&m, 11 * BLK, buf + 3 * BLK, BLK), -1);
	memxd_crc_zero(&m, 8 * BLK, 4 * BLK);
	cr_expect_eq(memxd_crc_check(&m, 8 * BLK, zeros, sizeof(zeros)), -1, "zeroed again");
	memxd_crc_fini(&m);
}
