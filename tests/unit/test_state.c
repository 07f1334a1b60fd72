// SPDX-License-Identifier: GPL-2.0
/*
 * Engine restart: what a new engine makes of the map a dead one left
 * (memxd_state_resume() in daemon/client/state.c, compiled in). A dead engine
 * may leave a slab in any state, with I/O counted in flight, and donors that
 * did not come back or kept nothing: every such case must come out as a map
 * that never serves a read from a replica that may not hold the data.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/client/state.c"

#define MiB	(1ULL << 20)
#define SLAB	(4 * MiB)

static struct memxd_client *c;

static void setup(void)
{
	c = calloc(1, sizeof(*c));
	cr_assert(c);
	strcpy(c->opt.name, "t");
	cr_assert_eq(memxd_slabmap_init(&c->map, 8 * SLAB, SLAB), 0);
	cr_assert_eq(memxd_crc_init(&c->crc, 8 * SLAB), 0);
	cr_assert_eq(memxd_samefill_init(&c->samefill, 8 * SLAB), 0);
	c->nr_donors = 3;
	for (unsigned int i = 0; i < 3; i++) {
		c->donor[i].idx = i;
		atomic_store(&c->donor[i].state, MEMXD_DONOR_LIVE);
		atomic_store(&c->donor[i].gen, 7 + i);
		c->donor[i].slabs_kept = 5;
	}
}

static void teardown(void)
{
	memxd_slabmap_fini(&c->map);
	memxd_crc_fini(&c->crc);
	memxd_samefill_fini(&c->samefill);
	free(c);
}

/* Slab s in state st with live replicas on the donors listed (old generation 1). */
static void slab(uint64_t s, uint32_t st, int d0, int d1)
{
	struct memxd_slab *sl = &c->map.slabs[s];
	int d[2] = { d0, d1 };
	uint32_t n = 0;

	for (int i = 0; i < 2; i++)
		if (d[i] >= 0) {
			sl->replica[n] = (struct memxd_replica){ .donor = (uint32_t)d[i], .rkey = 1,
								 .handle = 1, .gen = 1,
								 .remote_addr = 4096 };
			atomic_store(&sl->replica[n].live, 1);
			n++;
		}
	atomic_store(&sl->nr_replicas, n);
	atomic_store(&sl->state, st);
	atomic_store(&sl->writes_inflight, 3);
	atomic_store(&sl->reads_inflight, 2);
}

TestSuite(state_resume, .init = setup, .fini = teardown);

Test(state_resume, half_done_mappings_and_discards_become_unmapped_zeros)
{
	uint8_t junk[4096];

	memset(junk, 0xab, sizeof(junk));
	slab(0, MEMXD_SLAB_MAPPING, 0, 1);
	slab(1, MEMXD_SLAB_FREEING, 0, 1);
	memxd_crc_record(&c->crc, 0, junk, sizeof(junk));
	memxd_crc_record(&c->crc, SLAB + 8192, junk, sizeof(junk));
	memxd_state_resume(c);
	for (int s = 0; s < 2; s++) {
		cr_expect_eq(atomic_load(&c->map.slabs[s].state), MEMXD_SLAB_UNMAPPED, "slab %d", s);
		cr_expect_eq(atomic_load(&c->map.slabs[s].nr_replicas), 0, "slab %d", s);
	}
	/* An unmapped slab reads zeros: its checksums must say zeros too. */
	memset(junk, 0, sizeof(junk));
	cr_expect_eq(memxd_crc_check(&c->crc, 0, junk, sizeof(junk)), -1);
	cr_expect_eq(memxd_crc_check(&c->crc, SLAB + 8192, junk, sizeof(junk)), -1);
	cr_expect_eq(atomic_load(&c->slabs_mapped), 0);
}

Test(state_resume, a_copy_in_progress_keeps_only_the_complete_replicas)
{
	slab(2, MEMXD_SLAB_MIGRATING, 1, -1);
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->map.slabs[2].state), MEMXD_SLAB_MAPPED);
	cr_expect_eq(memxd_slab_live_replicas(&c->map.slabs[2]), 1);
	cr_expect_eq(atomic_load(&c->map.slabs[2].writes_inflight), 0);
	cr_expect_eq(atomic_load(&c->map.slabs[2].reads_inflight), 0);
	/* Replicas carry the generation of the donor slots as they are now. */
	cr_expect_eq(c->map.slabs[2].replica[0].gen, 8);
	cr_expect_eq(c->donor[1].slabs, 1);
	cr_expect_eq(atomic_load(&c->slabs_mapped), 1);
}

Test(state_resume, replicas_on_donors_that_did_not_come_back_are_not_read)
{
	atomic_store(&c->donor[0].state, MEMXD_DONOR_DEAD);
	c->donor[2].slabs_kept = 0;	/* its lease ran out, or it restarted */
	slab(3, MEMXD_SLAB_MAPPED, 0, 1);	/* one replica left */
	slab(4, MEMXD_SLAB_MAPPED, 0, 2);	/* none left */
	slab(5, MEMXD_SLAB_MAPPED, 1, 2);	/* one left */
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->map.slabs[3].state), MEMXD_SLAB_MAPPED);
	cr_expect_eq(memxd_slab_read_replica(&c->map.slabs[3])->donor, 1);
	cr_expect_eq(atomic_load(&c->map.slabs[4].state), MEMXD_SLAB_LOST);
	cr_expect_null(memxd_slab_read_replica(&c->map.slabs[4]));
	cr_expect_eq(memxd_slab_live_replicas(&c->map.slabs[5]), 1);
	cr_expect_eq(memxd_slab_read_replica(&c->map.slabs[5])->donor, 1);
	cr_expect_eq(c->donor[1].slabs, 2);
	cr_expect_eq(c->donor[2].slabs, 0);
	cr_expect_eq(atomic_load(&c->slabs_mapped), 2);
	cr_expect_eq(atomic_load(&c->slabs_lost), 1);
}

/*
 * Same-filled marks: the donors hold stale bytes under them, so a mapped
 * slab's marks stand after a restart (and are counted again); a half-done
 * mapping or give-back comes out unmapped, with none.
 */
Test(state_resume, same_filled_marks_stand_on_mapped_slabs_only)
{
	uint8_t ones[8192];

	memset(ones, 0xff, sizeof(ones));
	slab(2, MEMXD_SLAB_MAPPED, 0, 1);
	slab(1, MEMXD_SLAB_FREEING, 0, 1);
	memxd_samefill_mark(&c->samefill, 2 * SLAB + 4096, ones, sizeof(ones));
	memxd_samefill_mark(&c->samefill, 1 * SLAB, ones, 4096);
	atomic_store(&c->samefill.nr_marked, 999);	/* what a dead engine's count says: not trusted */
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->samefill.nr_marked), 2);
	cr_expect(memxd_samefill_covers(&c->samefill, 2 * SLAB + 4096, 8192));
	cr_expect_not(memxd_samefill_covers(&c->samefill, 1 * SLAB, 4096), "slab 1 was tidied");
}

Test(state_resume, an_unknown_state_is_not_trusted)
{
	slab(6, 77, 0, 1);
	memxd_state_resume(c);
	cr_expect_eq(atomic_load(&c->map.slabs[6].state), MEMXD_SLAB_UNMAPPED);
}

/*
 * The kernel device a ublk volume lives in: what the next engine reads back,
 * for the backend that noted it only; none in a header that never noted one
 * (a file of an older build reads zeros there).
 */
Test(state_kdev, noted_device_reads_back_for_its_backend_only)
{
	struct state_hdr *h = calloc(1, sizeof(*h));
	struct memxd_client *cl = calloc(1, sizeof(*cl));

	cr_assert(h && cl);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), -1, "no state file: no device");
	cl->state_base = h;
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), -1, "zeroed header: no device");
	memxd_state_note_kdev(cl, MEMXD_KBACKEND_UBLK, 7);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), 7);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_MEMX), -1);
	memxd_state_note_kdev(cl, MEMXD_KBACKEND_UBLK, 0);
	cr_expect_eq(memxd_state_kdev(cl, MEMXD_KBACKEND_UBLK), 0, "device 0 is a device");
	cr_expect_lt(sizeof(*h), STATE_ALIGN, "the header stays within its page");
	free(h);
	free(cl);
}

/*
 * The file's format (state.c): an engine reads the current format and the
 * one before it, migrated in place, and refuses anything else without
 * touching it (so that the memxd that wrote it can still resume its volume).
 */
static char dir[] = "/tmp/mxstXXXXXX";
static char file[64];

static void format_setup(void)
{
	setup();
	cr_assert(mkdtemp(dir));
	state_dir = dir;
	snprintf(file, sizeof(file), "%s/client-t.state", dir);
}

static void format_teardown(void)
{
	memxd_state_close(c);	/* unmaps and removes the file, if we have it */
	unlink(file);
	rmdir(dir);
	teardown();
}

static void write_file(const void *bytes, uint64_t size)
{
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, bytes, size), (ssize_t)size);
	close(fd);
}

static uint8_t *read_file(uint64_t *size)
{
	struct stat st;
	uint8_t *b;
	int fd = open(file, O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	b = malloc(st.st_size + 1);
	cr_assert(b);
	cr_assert_eq(read(fd, b, st.st_size), st.st_size);
	close(fd);
	*size = st.st_size;
	return b;
}

#define CRC_BLOCK_OF_SLAB2	((2 * SLAB + 8192) / MEMXD_CRC_BLOCK)

/*
 * A started volume's file as a memxd before same-filled marks (format 1)
 * left it: a header with no format field, the slab map (slab 2 mapped on
 * donor 0), the checksums (one block's recorded); nothing after them.
 */
static uint8_t *format1_file(uint64_t *size)
{
	struct state_section sec[STATE_NR_SECTIONS];
	uint8_t *f;
	struct state_hdr *h;
	struct memxd_slab *m;

	*size = state_layout(c, 1, sec);
	cr_assert_eq(sec[SEC_MAP].offset, STATE_ALIGN, "format 1's map is on the second page");
	cr_assert_eq(*size, STATE_ALIGN + align_up(8 * sizeof(struct memxd_slab)) +
			    align_up(c->crc.nr_blocks * 4), "format 1 ends with the checksums");
	f = calloc(1, *size);
	cr_assert(f);
	h = (struct state_hdr *)f;
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
	h->layout = sizeof(struct memxd_slab);
	h->started = 1;
	h->volume_bytes = 8 * SLAB;
	h->slab_bytes = SLAB;
	h->nr_slabs = 8;
	h->nr_blocks = c->crc.nr_blocks;
	h->checksums = 1;
	memset(h->volume_id, 0x11, sizeof(h->volume_id));
	memset(h->secret, 0x22, sizeof(h->secret));
	h->epoch = 4;
	h->nr_donors = 1;
	strcpy(h->donor[0].host, "10.0.0.9");
	h->donor[0].port = 7471;
	m = (struct memxd_slab *)(f + sec[SEC_MAP].offset);
	m[2].replica[0] = (struct memxd_replica){ .donor = 0, .rkey = 5, .handle = 6, .gen = 1,
						  .remote_addr = 1 << 20 };
	atomic_store(&m[2].replica[0].live, 1);
	atomic_store(&m[2].nr_replicas, 1);
	atomic_store(&m[2].state, MEMXD_SLAB_MAPPED);
	((uint32_t *)(f + sec[SEC_CRC].offset))[CRC_BLOCK_OF_SLAB2] = 0xabcdef01;
	return f;
}

TestSuite(state_format, .init = format_setup, .fini = format_teardown);

Test(state_format, a_format_1_file_is_resumed_and_migrated_in_place)
{
	struct state_section sec[STATE_NR_SECTIONS];
	uint64_t size, new_size = state_layout(c, STATE_FORMAT, sec);
	uint8_t *old = format1_file(&size), id[16];
	struct stat before, after;
	char host[MEMXD_HOST_MAX];
	uint16_t port;
	bool resume;

	cr_assert_lt(size, new_size, "format 2 adds the same-filled marks");
	write_file(old, size);
	cr_assert_eq(stat(file, &before), 0);
	cr_assert_eq(memxd_state_open(c, &resume), 0);
	cr_assert(resume, "the volume is resumed, not started anew");
	memset(id, 0x11, sizeof(id));
	cr_expect_arr_eq(c->volume_id, id, sizeof(id));
	memset(id, 0x22, sizeof(id));
	cr_expect_arr_eq(c->volume_secret, id, sizeof(id));
	memxd_state_next_epoch(c);
	cr_expect_eq(c->epoch, 5);
	cr_expect_eq(memxd_state_nr_donors(c), 1);
	cr_expect(memxd_state_donor(c, 0, host, &port));
	cr_expect_str_eq(host, "10.0.0.9");
	cr_expect_eq(port, 7471);
	/* The map and the checksums as the old engine left them. */
	cr_expect_eq(atomic_load(&c->map.slabs[2].state), MEMXD_SLAB_MAPPED);
	cr_expect_eq(c->map.slabs[2].replica[0].rkey, 5);
	cr_expect_eq(c->map.slabs[2].replica[0].remote_addr, 1 << 20);
	cr_expect_eq(atomic_load(&c->map.slabs[3].state), MEMXD_SLAB_UNMAPPED);
	cr_expect_eq(atomic_load(&c->crc.crc[CRC_BLOCK_OF_SLAB2]), 0xabcdef01);
	/* No same-filled marks: none were recorded in format 1. */
	cr_expect_eq(atomic_load(&c->samefill.nr_marked), 0);
	cr_expect_not(memxd_samefill_covers(&c->samefill, 2 * SLAB, 4096));
	/* In place: the same file, grown, stamped with the current format. */
	cr_assert_eq(stat(file, &after), 0);
	cr_expect_eq(after.st_ino, before.st_ino);
	cr_expect_eq((uint64_t)after.st_size, new_size);
	cr_expect_eq(hdr(c)->format, STATE_FORMAT);
	cr_expect_eq(hdr(c)->nr_sections, STATE_NR_SECTIONS);
	cr_expect_arr_eq(hdr(c)->section, sec, sizeof(sec));
	/* The migrated volume's marks work and live in the file. */
	{
		uint8_t ones[4096];

		memset(ones, 0xff, sizeof(ones));
		memxd_samefill_mark(&c->samefill, 2 * SLAB, ones, sizeof(ones));
		cr_expect(memxd_samefill_covers(&c->samefill, 2 * SLAB, 4096));
		cr_expect_neq(((uint64_t *)((uint8_t *)c->state_base +
					    sec[SEC_SF_BITS].offset))[(2 * SLAB / 4096) / 64], 0);
	}
	free(old);
}

/* A file of the builds between same-filled marks and the format field: format 2 by its size. */
Test(state_format, a_format_2_file_without_the_field_keeps_its_marks)
{
	struct state_section sec[STATE_NR_SECTIONS];
	uint64_t size1, size = state_layout(c, 2, sec);
	uint8_t *f = format1_file(&size1);
	bool resume;

	f = realloc(f, size);
	cr_assert(f);
	memset(f + size1, 0, size - size1);
	((uint64_t *)(f + sec[SEC_SF_BITS].offset))[0] = 1;	/* block 0: same-filled, */
	((uint64_t *)(f + sec[SEC_SF_VALUE].offset))[0] = 0x5a5a5a5a5a5a5a5aULL;	/* with it */
	write_file(f, size);
	cr_assert_eq(memxd_state_open(c, &resume), 0);
	cr_assert(resume);
	cr_expect_eq(atomic_load(&c->samefill.nr_marked), 1);
	cr_expect(memxd_samefill_covers(&c->samefill, 0, 4096));
	cr_expect_eq(atomic_load(&c->crc.crc[CRC_BLOCK_OF_SLAB2]), 0xabcdef01);
	cr_expect_eq(hdr(c)->format, STATE_FORMAT);
	free(f);
}

/* Refused, and the file left byte for byte as it was. */
static void expect_refused(const uint8_t *f, uint64_t size)
{
	uint64_t got_size;
	uint8_t *got;
	bool resume = true;

	write_file(f, size);
	cr_expect_eq(memxd_state_open(c, &resume), -EPROTO);
	cr_expect_not(resume);
	cr_expect_null(c->state_base);
	got = read_file(&got_size);
	cr_expect_eq(got_size, size, "the file keeps its size");
	cr_expect(!memcmp(got, f, size), "the file keeps its bytes");
	free(got);
}

Test(state_format, a_future_format_is_refused_and_left_alone)
{
	struct state_section sec[STATE_NR_SECTIONS];
	uint64_t size1, size = state_layout(c, STATE_FORMAT, sec) + STATE_ALIGN;
	uint8_t *f = format1_file(&size1);
	struct state_hdr *h;

	f = realloc(f, size);
	cr_assert(f);
	memset(f + size1, 0x33, size - size1);	/* whatever format 3 keeps there */
	h = (struct state_hdr *)f;
	h->format = STATE_FORMAT + 1;
	h->nr_sections = STATE_NR_SECTIONS + 1;
	expect_refused(f, size);
	/* Even a volume never started: a newer memxd's file is not ours to reset. */
	h->started = 0;
	expect_refused(f, size);
	free(f);
}

Test(state_format, a_damaged_or_foreign_file_is_refused_and_left_alone)
{
	uint64_t size;
	uint8_t *f = format1_file(&size);

	expect_refused(f, size - STATE_ALIGN);	/* no format field, and of neither size */
	((struct state_hdr *)f)->layout++;	/* another build's slab map entries */
	expect_refused(f, size);
	((struct state_hdr *)f)->layout--;
	memcpy(f, "NOTMEMX", 8);
	expect_refused(f, size);
	free(f);
}

/* What the engine starts over from: nothing, a cut-short file, another volume's. */
Test(state_format, a_new_or_other_volume_starts_over_in_the_current_format)
{
	uint64_t size;
	uint8_t *f = format1_file(&size);
	bool resume = true;

	((struct state_hdr *)f)->volume_bytes = 4 * SLAB;	/* another --size */
	write_file(f, size);
	cr_assert_eq(memxd_state_open(c, &resume), 0);
	cr_expect_not(resume);
	cr_expect_eq(hdr(c)->format, STATE_FORMAT);
	cr_expect_eq(hdr(c)->started, 0);
	cr_expect_eq(atomic_load(&c->map.slabs[2].state), MEMXD_SLAB_UNMAPPED);
	free(f);
}

/* --attach never starts a volume over: another geometry is refused, the file kept. */
Test(state_format, attach_to_another_geometry_is_refused_and_left_alone)
{
	uint64_t size, got_size;
	uint8_t *f = format1_file(&size), *got;
	bool resume = true;

	((struct state_hdr *)f)->slab_bytes = 2 * SLAB;	/* another --slab */
	write_file(f, size);
	c->opt.attach = true;
	cr_expect_eq(memxd_state_open(c, &resume), -EINVAL);
	cr_expect_not(resume);
	got = read_file(&got_size);
	cr_expect(got_size == size && !memcmp(got, f, size), "the file is left as it was");
	free(got);
	free(f);
}
