// SPDX-License-Identifier: GPL-2.0
/* The state an engine leaves to the next one (state.h). Control thread only. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "client/state.h"
#include "client/state_hdr.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/proc.h"

#define STATE_ALIGN	4096ULL	/* the header's page, then each section from a page of its own */

static_assert(sizeof(struct state_hdr) <= STATE_ALIGN, "the header stays within its page");

static uint64_t align_up(uint64_t v)
{
	return (v + STATE_ALIGN - 1) & ~(STATE_ALIGN - 1);
}

static struct state_hdr *hdr(const struct memxd_client *c)
{
	return c->state_base;
}

/* Where state files are: MEMXD_RUN_DIR (a unit test points it elsewhere). */
static const char *state_dir = MEMXD_RUN_DIR;

static void state_path(const struct memxd_client *c, char *path, size_t len)
{
	snprintf(path, len, "%s/client-%s.state", state_dir, c->opt.name);
}

/* Whether the file describes a volume of this geometry (size, slab, checksums or not). */
static bool state_same_geometry(const struct memxd_client *c, const struct state_hdr *h)
{
	return h->volume_bytes == c->map.volume_bytes && h->slab_bytes == c->map.slab_bytes &&
	       h->nr_slabs == c->map.nr_slabs && h->checksums == (c->crc.nr_blocks != 0) &&
	       h->nr_blocks == c->crc.nr_blocks;
}

/*
 * Where the sections of format lie in the file, and its size. Format 2 on,
 * the same-filled marks are always there (samefill.h): the donors' copy of a
 * marked block is stale.
 */
static uint64_t state_layout(const struct memxd_client *c, uint32_t format,
			     struct state_section *sec)
{
	uint64_t bytes[STATE_NR_SECTIONS] = {
		[SEC_MAP] = c->map.nr_slabs * sizeof(struct memxd_slab),
		[SEC_CRC] = c->crc.nr_blocks * sizeof(uint32_t),
		[SEC_SF_BITS] = format >= 2 ? memxd_samefill_bits_bytes(c->map.volume_bytes) : 0,
		[SEC_SF_VALUE] = format >= 2 ? memxd_samefill_value_bytes(c->map.volume_bytes) : 0,
	};
	uint64_t off = STATE_ALIGN;

	for (unsigned int i = 0; i < STATE_NR_SECTIONS; i++) {
		sec[i].offset = off;
		sec[i].bytes = bytes[i];
		off += align_up(bytes[i]);
	}
	return off;
}

/* The header says the file is of the current format, and where its sections are. */
static void state_stamp(struct memxd_client *c)
{
	struct state_hdr *h = hdr(c);

	state_layout(c, STATE_FORMAT, h->section);
	h->nr_sections = STATE_NR_SECTIONS;
	h->format = STATE_FORMAT;
}

/* A new volume: c's identity, no donors, every slab unmapped, every block zeros. */
static void state_fresh(struct memxd_client *c)
{
	struct state_hdr *h = hdr(c);

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
	h->layout = sizeof(struct memxd_slab);
	h->volume_bytes = c->map.volume_bytes;
	h->slab_bytes = c->map.slab_bytes;
	h->nr_slabs = c->map.nr_slabs;
	h->nr_blocks = c->crc.nr_blocks;
	h->checksums = c->crc.nr_blocks != 0;
	memcpy(h->volume_id, c->volume_id, sizeof(h->volume_id));
	memcpy(h->secret, c->volume_secret, sizeof(h->secret));
	c->epoch = h->epoch = 1;
	memset(c->map.slabs, 0, c->map.nr_slabs * sizeof(*c->map.slabs));
	if (c->crc.crc)
		memxd_crc_zero(&c->crc, 0, c->crc.nr_blocks * (uint64_t)MEMXD_CRC_BLOCK);
	memxd_samefill_clear(&c->samefill, 0, c->map.volume_bytes);
	memxd_samefill_recount(&c->samefill);
	state_stamp(c);
}

/* The engine's tables live in the mapping at base (the current format) from now on. */
static void state_use(struct memxd_client *c, void *base, uint64_t bytes)
{
	struct state_section sec[STATE_NR_SECTIONS];
	uint8_t *b = base;

	state_layout(c, STATE_FORMAT, sec);
	c->state_base = base;
	c->state_bytes = bytes;
	memxd_slabmap_borrow(&c->map, (struct memxd_slab *)(b + sec[SEC_MAP].offset));
	if (c->crc.crc)
		memxd_crc_borrow(&c->crc, (_Atomic uint32_t *)(b + sec[SEC_CRC].offset));
	if (c->samefill.bits)
		memxd_samefill_borrow(&c->samefill, (_Atomic uint64_t *)(b + sec[SEC_SF_BITS].offset),
				      (_Atomic uint64_t *)(b + sec[SEC_SF_VALUE].offset));
	memxd_samefill_recount(&c->samefill);
}

enum state_verdict {
	STATE_START_OVER,	/* nothing worth keeping: no file, never started, another volume */
	STATE_RESUME,		/* a started volume of this geometry, in a format we read */
	STATE_REFUSE,		/* not ours to read, nor to overwrite */
};

/*
 * What the file (size bytes, header h) is to this engine, and for
 * STATE_RESUME its *format; for STATE_REFUSE why says why.
 */
static enum state_verdict state_judge(const struct memxd_client *c, const struct state_hdr *h,
				      uint64_t size, uint32_t *format, char *why, size_t len)
{
	struct state_section sec[STATE_NR_SECTIONS];
	static const char unmade[sizeof(h->magic)];

	if (size < STATE_ALIGN || !memcmp(h->magic, unmade, sizeof(h->magic)))
		return STATE_START_OVER;	/* nothing, or a file whose making was cut short */
	if (memcmp(h->magic, STATE_MAGIC, sizeof(h->magic))) {
		snprintf(why, len, "it is not a memxd state file (no %s at its start)", STATE_MAGIC);
		return STATE_REFUSE;
	}
	if (h->format > STATE_FORMAT || (h->format && h->format < STATE_FORMAT_OLDEST)) {
		snprintf(why, len, "it is of state format %" PRIu32 " and this memxd reads formats "
			 "%u and %u: run the memxd that wrote it, or remove the file to start a "
			 "new volume", h->format, STATE_FORMAT_OLDEST, STATE_FORMAT);
		return STATE_REFUSE;
	}
	if (!h->started || !state_same_geometry(c, h))
		return STATE_START_OVER;	/* never served, or another volume of that name */
	if (h->layout != sizeof(struct memxd_slab) || h->nr_donors > MEMXD_MAX_DONORS) {
		snprintf(why, len, "its slab map entries are %" PRIu32 " bytes (ours: %zu) and it "
			 "lists %" PRIu32 " donors (at most %u): another build's, or damaged",
			 h->layout, sizeof(struct memxd_slab), h->nr_donors, MEMXD_MAX_DONORS);
		return STATE_REFUSE;
	}
	*format = h->format;
	if (!*format) {
		/* A build before the format field: format 1 or 2, by its size. */
		if (size == state_layout(c, 1, sec))
			*format = 1;
		else if (size == state_layout(c, 2, sec))
			*format = 2;
		else
			snprintf(why, len, "it has no format field and is %" PRIu64 " bytes, which "
				 "neither format 1 nor 2 is for this volume", size);
		return *format ? STATE_RESUME : STATE_REFUSE;
	}
	if (size != state_layout(c, *format, sec) || h->nr_sections != STATE_NR_SECTIONS ||
	    memcmp(h->section, sec, sizeof(sec))) {
		snprintf(why, len, "its size or sections are not those of format %" PRIu32 " for "
			 "this volume: damaged", *format);
		return STATE_REFUSE;
	}
	return STATE_RESUME;
}

/* Reads the header of the file at fd, if it is long enough to hold one. */
static int state_read_hdr(int fd, uint64_t size, struct state_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (size < STATE_ALIGN)
		return 0;
	errno = 0;
	return pread(fd, h, sizeof(*h), 0) == (ssize_t)sizeof(*h) ? 0 : -(errno ?: EIO);
}

void memxd_state_file_path(const struct memxd_client *c, char *path, size_t len)
{
	state_path(c, path, len);
}

int memxd_state_file_epoch(const struct memxd_client *c, uint64_t *epoch)
{
	char path[sizeof(MEMXD_RUN_DIR) + MEMXD_NAME_MAX + 16];
	struct state_hdr h;
	struct stat st;
	int fd, r;

	state_path(c, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	r = fstat(fd, &st) ? -errno : state_read_hdr(fd, (uint64_t)st.st_size, &h);
	close(fd);
	if (!r && memcmp(h.magic, STATE_MAGIC, sizeof(STATE_MAGIC)))
		r = -EPROTO;
	if (!r)
		*epoch = h.epoch;
	return r;
}

uint64_t memxd_state_file_bytes(const struct memxd_client *c)
{
	struct state_section sec[STATE_NR_SECTIONS];

	return state_layout(c, STATE_FORMAT, sec);
}

int memxd_state_open(struct memxd_client *c, bool *resume)
{
	struct state_section sec[STATE_NR_SECTIONS];
	uint64_t bytes = state_layout(c, STATE_FORMAT, sec);
	char path[sizeof(MEMXD_RUN_DIR) + MEMXD_NAME_MAX + 16], why[256];
	enum state_verdict verdict;
	uint32_t format = STATE_FORMAT;
	struct state_hdr h;
	struct stat st;
	void *base;
	int fd, r;

	*resume = false;
	if (!strcmp(state_dir, MEMXD_RUN_DIR))
		memxd_make_run_dir();
	state_path(c, path, sizeof(path));
	/* --attach: the file of a detached volume, as it is, or nothing. */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (c->opt.attach ? 0 : O_CREAT), 0600);
	if (fd < 0 && errno == ENOENT && c->opt.attach)
		return memxd_log_errno(-ENOENT, "volume %s: --attach, but there is no %s (copy it "
				       "from the host the volume was detached on)", c->opt.name, path);
	if (fd < 0)
		return memxd_log_errno(-errno, "volume %s: state file %s", c->opt.name, path);
	if (fstat(fd, &st) || (st.st_mode & 077) || st.st_uid != geteuid()) {
		close(fd);
		return memxd_log_errno(-EPERM, "volume %s: state file %s must be ours and 0600",
				       c->opt.name, path);
	}
	r = state_read_hdr(fd, (uint64_t)st.st_size, &h);
	if (r) {
		close(fd);
		return memxd_log_errno(r, "volume %s: read %s", c->opt.name, path);
	}
	verdict = state_judge(c, &h, (uint64_t)st.st_size, &format, why, sizeof(why));
	if (verdict == STATE_REFUSE) {
		close(fd);
		return memxd_log_errno(-EPROTO, "volume %s: state file %s: %s; not resuming the "
				       "volume from it, and leaving it as it is", c->opt.name,
				       path, why);
	}
	if (verdict != STATE_RESUME && c->opt.attach && h.started) {
		close(fd);
		return memxd_log_errno(-EINVAL, "volume %s: --attach, but %s is of another size or "
				       "slab size than --size and --slab say (or another checksum "
				       "setting)", c->opt.name, path);
	}
	if (verdict != STATE_RESUME && c->opt.attach) {
		close(fd);
		return 0;	/* not ours to reset: the caller refuses */
	}
	if (verdict != STATE_RESUME && h.started)
		memxd_info("volume %s: %s describes a volume of another size, slab size or "
			   "checksum setting: starting a new volume", c->opt.name, path);
	/* Another geometry: start over. */
	if (verdict != STATE_RESUME && (uint64_t)st.st_size != bytes && ftruncate(fd, 0)) {
		close(fd);
		return memxd_log_errno(-errno, "volume %s: truncate %s", c->opt.name, path);
	}
	/* An older format grows in place: its new sections start empty, as they should. */
	if (ftruncate(fd, (off_t)bytes)) {
		close(fd);
		return memxd_log_errno(-errno, "volume %s: size %s", c->opt.name, path);
	}
	/* Every page now: a tmpfs that runs out later would SIGBUS the I/O path. */
	errno = posix_fallocate(fd, 0, (off_t)bytes);
	if (errno) {
		r = -errno;
		if (verdict == STATE_RESUME) {
			/* The volume's state stays as it was, for a try with more room. */
			if (ftruncate(fd, st.st_size)) {
				/* Longer than it was: the next engine finds it the same. */
			}
		} else {
			unlink(path);
		}
		close(fd);
		return memxd_log_errno(r, "volume %s: %s needs %" PRIu64 " MiB of %s (the slab "
				       "map, checksums and same-filled blocks, for a restart); give it room, or run "
				       "with --recovery-timeout 0", c->opt.name, path,
				       (bytes + (1 << 20) - 1) >> 20, state_dir);
	}
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return memxd_log_errno(-errno, "volume %s: map %s", c->opt.name, path);
	state_use(c, base, bytes);
	if (verdict != STATE_RESUME) {
		state_fresh(c);
		return 0;
	}
	if (format != STATE_FORMAT || hdr(c)->format != STATE_FORMAT)
		memxd_info("volume %s: %s is of state format %u%s: now format %u in place (%s)",
			   c->opt.name, path, format, hdr(c)->format ? "" : " (no format field)",
			   STATE_FORMAT, format < 2 ? "no same-filled marks: none were recorded" :
			   "the header says so");
	/* After the sections are there: a file cut short here reads as format 2 by its size. */
	state_stamp(c);
	memcpy(c->volume_id, hdr(c)->volume_id, sizeof(c->volume_id));
	memcpy(c->volume_secret, hdr(c)->secret, sizeof(c->volume_secret));
	*resume = true;
	return 0;
}

void memxd_state_next_epoch(struct memxd_client *c)
{
	c->epoch = hdr(c)->epoch + 1;
	hdr(c)->epoch = c->epoch;
}

int memxd_state_own(struct memxd_client *c)
{
	char path[sizeof(MEMXD_RUN_DIR) + MEMXD_NAME_MAX + 16], tmp[sizeof(path) + 24];
	void *base, *old = c->state_base;
	int fd;

	state_path(c, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	unlink(tmp);	/* a leftover of a take-over that died half-way */
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return memxd_log_errno(-errno, "volume %s: state file %s", c->opt.name, tmp);
	errno = posix_fallocate(fd, 0, (off_t)c->state_bytes);
	base = errno ? MAP_FAILED : mmap(NULL, c->state_bytes, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_POPULATE, fd, 0);
	if (base == MAP_FAILED) {
		int r = -(errno ?: ENOMEM);

		close(fd);
		unlink(tmp);
		return memxd_log_errno(r, "volume %s: a state file of our own (%s)", c->opt.name,
				       tmp);
	}
	close(fd);
	memcpy(base, old, c->state_bytes);
	if (rename(tmp, path)) {
		int r = -errno;

		munmap(base, c->state_bytes);
		unlink(tmp);
		return memxd_log_errno(r, "volume %s: rename %s", c->opt.name, tmp);
	}
	state_use(c, base, c->state_bytes);
	munmap(old, c->state_bytes);
	return 0;
}

void memxd_state_renew(struct memxd_client *c)
{
	memxd_auth_random(c->volume_id, sizeof(c->volume_id));
	memxd_auth_random(c->volume_secret, sizeof(c->volume_secret));
	state_fresh(c);
}

void memxd_state_started(struct memxd_client *c)
{
	if (c->state_base)
		hdr(c)->started = 1;
}

void memxd_state_note_donor(struct memxd_client *c, unsigned int idx)
{
	struct state_hdr *h = hdr(c);

	if (!h || idx >= MEMXD_MAX_DONORS)
		return;
	memcpy(h->donor[idx].host, c->donor[idx].host, sizeof(h->donor[idx].host));
	h->donor[idx].port = c->donor[idx].port;
	if (h->nr_donors < idx + 1)
		h->nr_donors = idx + 1;
}

void memxd_state_note_kdev(struct memxd_client *c, int kind, uint32_t dev_id)
{
	struct state_hdr *h = hdr(c);

	if (!h)
		return;
	h->kbackend = (uint32_t)kind;
	h->kdev_id = dev_id;
}

int64_t memxd_state_kdev(const struct memxd_client *c, int kind)
{
	const struct state_hdr *h = hdr(c);

	if (!h || h->kbackend != (uint32_t)kind)
		return -1;
	return h->kdev_id;
}

unsigned int memxd_state_nr_donors(const struct memxd_client *c)
{
	return c->state_base ? hdr(c)->nr_donors : 0;
}

bool memxd_state_donor(const struct memxd_client *c, unsigned int idx, char *host,
		       uint16_t *port)
{
	const struct state_hdr *h = hdr(c);

	if (!h || idx >= h->nr_donors || !h->donor[idx].host[0] ||
	    !memchr(h->donor[idx].host, '\0', sizeof(h->donor[idx].host)))
		return false;
	strcpy(host, h->donor[idx].host);
	*port = h->donor[idx].port;
	return true;
}

/* A slab the dead engine was mapping or discarding: unmapped, its blocks zeros again. */
static void tidy_unmapped(struct memxd_client *c, uint64_t s)
{
	struct memxd_slab *slab = &c->map.slabs[s];

	memset(slab->replica, 0, sizeof(slab->replica));
	atomic_store(&slab->nr_replicas, 0);
	atomic_store(&slab->state, MEMXD_SLAB_UNMAPPED);
	memxd_crc_zero(&c->crc, s << c->map.slab_shift, c->map.slab_bytes);
	memxd_samefill_clear(&c->samefill, s << c->map.slab_shift, c->map.slab_bytes);
}

void memxd_state_resume(struct memxd_client *c)
{
	uint64_t mapped = 0, lost = 0, tidied = 0, gone = 0;

	for (unsigned int i = 0; i < c->nr_donors; i++)
		c->donor[i].slabs = 0;
	for (uint64_t s = 0; s < c->map.nr_slabs; s++) {
		struct memxd_slab *slab = &c->map.slabs[s];
		uint32_t st = atomic_load(&slab->state), nr = atomic_load(&slab->nr_replicas);
		unsigned int live = 0;

		atomic_store(&slab->writes_inflight, 0);
		atomic_store(&slab->reads_inflight, 0);
		if (nr > MEMXD_MAX_REPLICAS)
			nr = MEMXD_MAX_REPLICAS;
		if (st == MEMXD_SLAB_MAPPING || st == MEMXD_SLAB_FREEING || st > MEMXD_SLAB_FREEING) {
			/* Its write or discard was taken back by memx.ko and comes again. */
			tidy_unmapped(c, s);
			tidied++;
			continue;
		}
		if (st == MEMXD_SLAB_UNMAPPED)
			continue;
		for (uint32_t i = 0; i < nr; i++) {
			struct memxd_replica *rep = &slab->replica[i];
			struct memxd_donor *d;

			if (!atomic_load(&rep->live))
				continue;
			d = rep->donor < c->nr_donors ? &c->donor[rep->donor] : NULL;
			/*
			 * A donor that kept nothing of ours (its lease ran out, or it
			 * restarted) holds none of these grants: their rkeys are stale.
			 */
			if (!d || atomic_load(&d->state) != MEMXD_DONOR_LIVE || !d->slabs_kept) {
				atomic_store(&rep->live, 0);	/* its donor did not come back */
				gone++;
				continue;
			}
			rep->gen = memxd_donor_gen(d);
			d->slabs++;
			live++;
		}
		if (st == MEMXD_SLAB_MIGRATING) {
			/* A copy is added only once complete: the live replicas are good. */
			atomic_store(&slab->state, MEMXD_SLAB_MAPPED);
			tidied++;
		}
		if (!live && st != MEMXD_SLAB_LOST)
			atomic_store(&slab->state, MEMXD_SLAB_LOST);
		if (atomic_load(&slab->state) == MEMXD_SLAB_LOST)
			lost++;
		else
			mapped++;
	}
	atomic_store(&c->slabs_mapped, mapped);
	atomic_store(&c->slabs_lost, lost);
	memxd_info("volume %s: resumed the dead engine's map: %" PRIu64 " slabs mapped, %" PRIu64
		   " lost, %" PRIu64 " half-done changes undone, %" PRIu64 " replicas on donors "
		   "that did not come back, %" PRIu64 " same-filled blocks", c->opt.name, mapped,
		   lost, tidied, gone, memxd_samefill_recount(&c->samefill));
}

void memxd_state_close(struct memxd_client *c)
{
	char path[sizeof(MEMXD_RUN_DIR) + MEMXD_NAME_MAX + 16];

	if (!c->state_base)
		return;
	/* The tables go with the mapping: nothing may use them after this. */
	memxd_slabmap_borrow(&c->map, NULL);
	memxd_crc_borrow(&c->crc, NULL);
	memxd_samefill_borrow(&c->samefill, NULL, NULL);
	munmap(c->state_base, c->state_bytes);
	c->state_base = NULL;
	state_path(c, path, sizeof(path));
	unlink(path);
}
