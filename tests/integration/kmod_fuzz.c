// SPDX-License-Identifier: GPL-2.0
/*
 * kmod_fuzz: a seeded random-sequence fuzzer for memx.ko's control device
 * (include/memx/uapi.h), run in the guest by test_kmod_08.sh.
 *
 *   kmod_fuzz [--seed S] [--seconds T] [--threads N] [--mode mix|soup|serve]
 *             [--no-kill] [--verbose]
 *
 * The parent forks N worker processes (one seed each, derived from S and
 * printed) and, unless --no-kill, SIGKILLs a random worker now and then and
 * starts a new one. Each worker repeats, until T seconds have passed, one of:
 *
 *   soup   two threads, each with its own table of control fds, do a random
 *          mix of open, close (any role, any order, mappings left alive),
 *          ADD_DEV (mostly valid, sometimes each field broken), BIND_QUEUE on
 *          its own, the other thread's and other workers' volumes with random
 *          ids, GET_LAYOUT, mmap (random length, offset, prot, flags; touched
 *          when it succeeds), START_DEV / DEL_DEV / GET_INFO with random ids,
 *          COMMIT with random tags, results, counts and pointers (NULL, low,
 *          kernel, unmapped, straddling a guard page), unknown ioctl numbers,
 *          read/write on the control fd, poll, and fork() with every fd and
 *          mapping alive (the child pokes them and dies or is killed).
 *          No volume made here ever takes I/O, so a COMMIT must never succeed.
 *   serve  one volume with random geometry (queues, poll queues, depth,
 *          max_io, flags, io_timeout_ms 1000..3000) served by a sloppy engine
 *          (one thread per queue): most tags committed correctly, some with
 *          -EIO / other -errno, some with an invalid result first, some twice,
 *          some late, some never (until teardown, or until memx.ko's deadline
 *          kills the volume), junk entries (tags out of range, stray in-range
 *          tags) and bad pointers mixed in, ring flags and head scribbled.
 *          A child process does O_DIRECT reads, writes, RWF_HIPRI reads,
 *          discards, zero-outs and fsyncs on /dev/memxN with 2 threads.
 *          30% of volumes get a "clean" engine (no duplicate or
 *          stray commits) and then every successful read is checked against
 *          the pattern the engine wrote. Meanwhile the driver GET_INFOs,
 *          tries DEL_DEV while open, and forks with the mappings alive. The
 *          teardown is one of: graceful (release held tags, stop I/O, DEL),
 *          owner fd first, queue fds first, kill the I/O child first, or a
 *          volume never started (a queue unbound or closed: START fails).
 *          Afterwards the I/O child must end (bounded wait) and the volume id
 *          must be gone.
 *
 * Invariants checked on every call (a broken one prints "VIOLATION ..."):
 * every failing ioctl returns an errno documented for it in uapi.h / kmod
 * (see allowed_errnos()); clearly invalid input never succeeds and gets its
 * exact errno (ADD_DEV params are validated here the same way as the kernel
 * does: EINVAL, E2BIG over max_dev_mem_mb; bad dev_id or reserved: EINVAL;
 * commands on an fd in the wrong role: EBADFD/EBUSY; unknown numbers:
 * ENOTTY; mmap other than offset 0, exactly total_bytes, MAP_SHARED, on a
 * bound fd: fails; the exact mmap succeeds, except MAP_SHARED of an O_RDONLY
 * fd, which has no VM_SHARED and is refused); GET_LAYOUT and GET_INFO report what ADD_DEV was given;
 * the ring never holds more than ring_entries tags (unless this engine had
 * the kernel take a commit of a tag it never read from the ring: then the
 * kernel reissues that tag while its old slot is unread, which only hurts the
 * engine), each < depth, with a sane descriptor; a valid commit of a tag the engine owns is taken; junk
 * commits are never taken; a COMMIT never takes more than nr.
 *
 * The engine deadline: memx.ko kills a volume (state DEAD, then gone once
 * /dev/memxN is closed) when its engine held a request for io_timeout_ms on
 * a queue where it committed nothing for io_timeout_ms. A served volume may
 * therefore die by the deadline only once one of its engine threads held a
 * tag while committing nothing on its queue for io_timeout_ms - 200 ms (the
 * sticky serve.may_die); otherwise it must stay live until its teardown.
 *
 * The hardened rules (uapi.h, "Who may do what"), modelled exactly: the
 * fuzzer runs as root, so ADD/START/DEL never fail with EPERM; BIND_QUEUE of
 * a volume that is not this process's own live one fails with EPERM (or
 * ENODEV when none or dead) and never succeeds, of its own live one never
 * with EPERM (each process counts its live volumes: mine_live[]); a fork
 * child binding its parent's live volume gets exactly EPERM; a queue mapping
 * is never executable (mmap PROT_EXEC: EPERM; mprotect PROT_EXEC: EACCES)
 * and a fork child has no copy of it (mincore: ENOMEM; touching it faults,
 * the child exits 3). Engine threads keep their ring mapped until joined.
 * A DEL_DEV repeated after one that worked gets ENODEV, or EBADFD once
 * another volume has taken the released id.
 *
 * Nothing waits unboundedly: every poll has a timeout, children are waited
 * for with deadlines, and the parent is a watchdog (a worker without a
 * heartbeat for 150 s, an I/O child alive 25 s after its engine is gone, a
 * process SIGKILL cannot reap: "HANG", with /proc/PID/task/ * /stack).
 *
 * Output: "kmod_fuzz: seed S", per-operation counts (calls, successes,
 * errnos), event counts, and "kmod_fuzz: PASS" or "kmod_fuzz: FAIL (N
 * violations, M hangs)". Exit 0 pass, 1 violations, 2 hang, 77 no
 * /dev/memx-control. Reproduce with the printed --seed (timing differs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <memx/uapi.h>

#define CTL "/dev/" MEMX_CONTROL_NAME
#define PAT 0x6d656d78667a7a21ULL	/* "memxfzz!" */
#define MAXW 32

/* ---- shared statistics ------------------------------------------------- */

enum op {
	OP_OPEN, OP_CLOSE, OP_FEATURES, OP_ADD, OP_BIND, OP_LAYOUT, OP_MMAP, OP_START,
	OP_DEL, OP_INFO, OP_COMMIT, OP_BADCMD, OP_POLL, OP_CTLRW, OP_FORK,
	OP_ENG_COMMIT, OP_DISK_OPEN, OP_DISK_READ, OP_DISK_WRITE, OP_DISK_HIPRI,
	OP_DISK_DISCARD, OP_DISK_ZEROOUT, OP_DISK_FSYNC, NOPS
};
static const char *const op_name[NOPS] = {
	"open", "close", "GET_FEATURES", "ADD_DEV", "BIND_QUEUE", "GET_LAYOUT", "mmap",
	"START_DEV", "DEL_DEV", "GET_INFO", "COMMIT(soup/fork)", "bad ioctl nr", "poll",
	"read/write/lseek ctl", "fork", "COMMIT(engine)", "disk open", "disk read",
	"disk write", "disk read HIPRI", "disk BLKDISCARD", "disk BLKZEROOUT", "disk fsync",
};

enum ev {
	EV_SOUP, EV_SERVE, EV_SERVE_CLEAN, EV_TD_GRACEFUL, EV_TD_OWNER_FIRST,
	EV_TD_QUEUE_FIRST, EV_TD_KILL_IO, EV_TD_UNSTARTED, EV_START_EAGAIN, EV_START_EIO,
	EV_TAGS_SEEN, EV_TAG_OK, EV_TAG_EIO, EV_TAG_ERRNO, EV_TAG_BADRES, EV_TAG_DUP,
	EV_DUP_TAKEN, EV_TAG_LATE, EV_TAG_NEVER, EV_JUNK, EV_STRAY, EV_STRAY_TAKEN,
	EV_STOLEN_REJECT, EV_COMMIT_ENTRIES, EV_GUARD_COMMIT, EV_SCRIBBLE, EV_READ_VERIFIED,
	EV_FORK_SEGV, EV_FORK_KILLED, EV_WORKER_KILLED,
	EV_DEL_BUSY, EV_MAP_TOUCHED, EV_CLOSE_WITH_MAP, EV_DEAD_ENGINE_EXIT, EV_RING_OVERFLOW,
	EV_MMAP_RDONLY, EV_CHILD_BIND_EPERM, EV_CHILD_NO_MAP, EV_BIND_FOREIGN, EV_MAY_DIE,
	EV_DEADLINE_DEATH, NEV
};
static const char *const ev_name[NEV] = {
	"soup rounds", "serve rounds", "serve rounds with a clean engine",
	"teardown graceful", "teardown owner fd first", "teardown queue fds first",
	"teardown I/O child killed first", "volumes never started (START refused)",
	"START EAGAIN (queue unbound)", "START EIO (queue closed)",
	"tags read from rings", "tags committed ok", "tags committed -EIO",
	"tags committed other -errno", "invalid results sent first", "duplicate commits sent",
	"duplicate commits taken (tag reissued)", "late commits", "never-committed tags",
	"junk entries (bad tag/result)", "stray in-range tags sent", "stray tags taken",
	"commits refused after a steal", "commit entries taken", "commits across a guard page",
	"ring head/flags scribbles", "reads verified against the pattern",
	"fork children killed by SIGSEGV/SIGBUS", "fork children SIGKILLed",
	"workers SIGKILLed mid-way",
	"DEL_DEV refused EBUSY while open", "mappings touched", "fds closed with a mapping alive",
	"engine threads ended by volume/queue death",
	"ring overflows after stray/duplicate commits were taken",
	"mmap MAP_SHARED of an O_RDONLY fd refused",
	"fork children refused BIND of the parent's volume (EPERM)",
	"fork children without the parent's queue mapping",
	"BIND of another process's volume refused (EPERM)",
	"volumes held to the deadline (may die)",
	"volumes seen dead by the deadline",
};

#define NERR 134
struct wslot {
	int pid;
	int io_pid;
	uint64_t seed;
	int64_t heartbeat;
	char what[32];
};

struct shared {
	unsigned long calls[NOPS], ok[NOPS], err[NOPS][NERR];
	unsigned long ev[NEV];
	int violations, hangs;
	int ids[16];
	unsigned int idpos;
	unsigned int max_dev_mem_mb;
	struct wslot w[MAXW];
};
static struct shared *S;

static __thread uint64_t rng;
static __thread int my_slot = -1;
static uint64_t worker_seed;
static int verbose;

static uint64_t rnd64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}
static uint32_t rnd(uint32_t n) { return n ? (uint32_t)(rnd64() % n) : 0; }
static int chance(int pct) { return (int)rnd(100) < pct; }

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void add(unsigned long *c, unsigned long n) { __atomic_add_fetch(c, n, __ATOMIC_RELAXED); }
static void ev(enum ev e) { add(&S->ev[e], 1); }

static void out(const char *fmt, ...)
{
	char b[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(b) - 2)
		n = sizeof(b) - 2;
	b[n++] = '\n';
	if (write(1, b, n) < 0) {
		/* nothing to do */
	}
}

#define VIOLATION(fmt, ...) do { \
	__atomic_add_fetch(&S->violations, 1, __ATOMIC_RELAXED); \
	out("VIOLATION [pid %d seed %llu line %d]: " fmt, getpid(), \
	    (unsigned long long)worker_seed, __LINE__, ##__VA_ARGS__); } while (0)

static void heartbeat(const char *what)
{
	if (my_slot < 0)
		return;
	__atomic_store_n(&S->w[my_slot].heartbeat, now_ms(), __ATOMIC_RELAXED);
	if (what)
		snprintf(S->w[my_slot].what, sizeof(S->w[my_slot].what), "%s", what);
}

/* The errnos uapi.h and kmod document for each operation. The fuzzer runs
 * as root (it loads the module), so the CAP_SYS_ADMIN check never fails:
 * EPERM is documented only for BIND_QUEUE from outside the owner's thread
 * group and for a PROT_EXEC mmap (checked where they can happen), never for
 * ADD_DEV, START_DEV, DEL_DEV, GET_INFO, GET_LAYOUT or COMMIT. */
static int allowed_errno(enum op op, int e)
{
	static const int add_e[] = { EINVAL, EFAULT, EBUSY, EEXIST, ENOMEM, ENOSPC, E2BIG, 0 };
	static const int bind_e[] = { EINVAL, EFAULT, ENODEV, EBUSY, EPERM, 0 };
	static const int layout_e[] = { EBADFD, EFAULT, 0 };
	static const int mmap_e[] = { EINVAL, EACCES, ENOMEM, EPERM, EOVERFLOW, ENODEV, 0 };
	static const int start_e[] = { EINVAL, EFAULT, ENODEV, EBADFD, EBUSY, EAGAIN, EIO, ENOMEM, 0 };
	static const int del_e[] = { EINVAL, EFAULT, ENODEV, EBADFD, EBUSY, 0 };
	static const int info_e[] = { EINVAL, EFAULT, ENODEV, 0 };
	static const int commit_e[] = { EBADFD, EINVAL, EFAULT, ENODEV, 0 };
	static const int ecommit_e[] = { EBADFD, EINVAL, EFAULT, ENODEV, EBADF, 0 };
	static const int feat_e[] = { EFAULT, 0 };
	static const int bad_e[] = { ENOTTY, 0 };
	static const int rw_e[] = { EINVAL, ESPIPE, EBADF, 0 };	/* EBADF: write on O_RDONLY */
	static const int open_e[] = { ENOMEM, EMFILE, ENFILE, 0 };
	static const int fork_e[] = { EAGAIN, ENOMEM, 0 };
	static const int dopen_e[] = { ENXIO, ENODEV, ENOENT, EBUSY, 0 };
	static const int dio_e[] = { EIO, EINVAL, ENOSPC, EOPNOTSUPP, ETIMEDOUT, ENXIO, ENODEV,
				     EAGAIN, EBADF, ENOLINK, 0 };
	const int *l;

	switch (op) {
	case OP_ADD: l = add_e; break;
	case OP_BIND: l = bind_e; break;
	case OP_LAYOUT: l = layout_e; break;
	case OP_MMAP: l = mmap_e; break;
	case OP_START: l = start_e; break;
	case OP_DEL: l = del_e; break;
	case OP_INFO: l = info_e; break;
	case OP_COMMIT: l = commit_e; break;
	case OP_ENG_COMMIT: l = ecommit_e; break;
	case OP_FEATURES: l = feat_e; break;
	case OP_BADCMD: l = bad_e; break;
	case OP_CTLRW: l = rw_e; break;
	case OP_OPEN: l = open_e; break;
	case OP_FORK: l = fork_e; break;
	case OP_DISK_OPEN: l = dopen_e; break;
	case OP_DISK_READ: case OP_DISK_WRITE: case OP_DISK_HIPRI: case OP_DISK_DISCARD:
	case OP_DISK_ZEROOUT: case OP_DISK_FSYNC: l = dio_e; break;
	default: return 0;
	}
	for (; *l; l++)
		if (*l == e)
			return 1;
	return 0;
}

/* Count one call; check the errno is documented. Returns ret. */
static long rec(enum op op, long ret, int e)
{
	add(&S->calls[op], 1);
	if (ret >= 0) {
		add(&S->ok[op], 1);
		return ret;
	}
	add(&S->err[op][e > 0 && e < NERR ? e : 0], 1);
	if (!allowed_errno(op, e))
		VIOLATION("%s failed with undocumented errno %d (%s)", op_name[op], e, strerror(e));
	return ret;
}

/* expect: the call must have failed with exactly @want. */
static void expect_err(enum op op, long ret, int e, int want, const char *what)
{
	if (ret >= 0)
		VIOLATION("%s: %s succeeded (returned %ld), want errno %s", op_name[op], what, ret,
			  strerror(want));
	else if (e != want)
		VIOLATION("%s: %s: errno %d (%s), want %s", op_name[op], what, e, strerror(e),
			  strerror(want));
}

static void xclose(int fd)
{
	int r = close(fd);

	rec(OP_CLOSE, r, errno);
	if (r)
		VIOLATION("close(%d): %s", fd, strerror(errno));
}

static void share_id(int id)
{
	unsigned int i = __atomic_fetch_add(&S->idpos, 1, __ATOMIC_RELAXED);

	__atomic_store_n(&S->ids[i % 16], id, __ATOMIC_RELAXED);
}
static int some_shared_id(void)
{
	return __atomic_load_n(&S->ids[rnd(16)], __ATOMIC_RELAXED);
}

/*
 * Who may bind: only the thread group that added a volume (uapi.h). Each
 * process counts the volumes it owns and that are live (owner fd open in
 * this process, not deleted): mine_live[id]. Every ADD_DEV, owner close and
 * successful DEL_DEV runs between two mine_seq increments (odd: a change
 * is in progress), so a BIND that saw the same even mine_seq before and
 * after knows exactly whether the volume is this process's own and live.
 * A forked child inherits the counts but owns nothing: it never binds
 * through them (see the fork children).
 */
static int mine_live[MEMX_MAX_DEVS];
static unsigned int mine_seq;

/*
 * A fork child holds copies of every fd, so an owner fd closed here while a
 * child of this process lives may not be the last close: the volume stays
 * live (and this process's) until the child exits. Such ids are "unsure"
 * until no fork child is left (forks_out: forked and not yet reaped; a
 * reaped child's files are released: its exit runs the last fput first).
 */
static int forks_out;
static uint64_t unsure_ids;

static void fork_begin(void) { __atomic_add_fetch(&forks_out, 1, __ATOMIC_SEQ_CST); }
static void fork_end(void)
{
	if (!__atomic_sub_fetch(&forks_out, 1, __ATOMIC_SEQ_CST))
		__atomic_store_n(&unsure_ids, 0, __ATOMIC_SEQ_CST);
}
/* After closing the owner fd of @id: unsure if a child may still hold it. */
static void owner_closed(int id)
{
	if (id >= 0 && id < MEMX_MAX_DEVS && __atomic_load_n(&forks_out, __ATOMIC_SEQ_CST))
		__atomic_or_fetch(&unsure_ids, 1ULL << id, __ATOMIC_SEQ_CST);
}

static unsigned int mine_begin(void) { return __atomic_add_fetch(&mine_seq, 1, __ATOMIC_SEQ_CST); }
static void mine_end(int id, int delta)
{
	if (id >= 0 && id < MEMX_MAX_DEVS && delta)
		__atomic_add_fetch(&mine_live[id], delta, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&mine_seq, 1, __ATOMIC_SEQ_CST);
}
static unsigned int mine_snap(void) { return __atomic_load_n(&mine_seq, __ATOMIC_SEQ_CST); }

/*
 * Check a BIND_QUEUE of (@id, @qid) by this process on an fd with no role,
 * valid reserved/dev_id, whose mine_seq was @seq before the call (@nq:
 * nr_queues when known, else 0). Not this process's live volume: ENODEV
 * (none, or dead) or EPERM, never success, nor EINVAL/EBUSY (checked after
 * the owner). Its own live volume: never EPERM nor ENODEV.
 */
static void check_bind_owner(int id, uint32_t qid, unsigned int seq, int r, int e)
{
	if (seq & 1 || mine_snap() != seq ||
	    (__atomic_load_n(&unsure_ids, __ATOMIC_SEQ_CST) & (1ULL << id)))
		return;	/* ownership changed meanwhile, or a child may keep it: unknown */
	if (!__atomic_load_n(&mine_live[id], __ATOMIC_SEQ_CST)) {
		if (r == 0)
			VIOLATION("BIND_QUEUE memx%d q%u succeeded: the volume is not this process's",
				  id, qid);
		else if (e != ENODEV && e != EPERM)
			VIOLATION("BIND_QUEUE memx%d q%u, not this process's volume: %s, want EPERM or ENODEV",
				  id, qid, strerror(e));
	} else if (r && (e == EPERM || e == ENODEV)) {
		VIOLATION("BIND_QUEUE memx%d q%u of this process's own live volume: %s", id, qid,
			  strerror(e));
	}
}

/* In a fork child: a fresh fd binding a queue of the parent's live volume
 * @id must get exactly EPERM (the child is another thread group). ENODEV
 * only if the parent (the volume's owner) has died meanwhile (the parent
 * SIGKILLs workers): its exit kills the volume before we are reparented, so
 * wait a little for that. With @judge (a served volume, which may also die
 * by the deadline), ENODEV is left to the parent: returns 1. */
static int child_bind_foreign(int id, uint32_t qid, pid_t ppid, int judge)
{
	struct memx_queue_bind b = { .dev_id = id, .queue_id = qid };
	int fd = open(CTL, O_RDWR | O_CLOEXEC), r, e;

	rec(OP_OPEN, fd, errno);
	if (fd < 0)
		return 0;
	errno = 0;
	r = ioctl(fd, MEMX_IO_BIND_QUEUE, &b);
	e = errno;
	rec(OP_BIND, r, e);
	if (r && e == ENODEV && judge) {
		close(fd);
		return 1;
	}
	if (r && e == ENODEV) {
		int64_t end = now_ms() + 5000;

		while (getppid() == ppid && now_ms() < end)
			sleep_ms(20);
		if (getppid() != ppid) {
			close(fd);
			return 0;	/* the owner died: the volume with it */
		}
	}
	expect_err(OP_BIND, r, e, EPERM, "fork child binds its parent's live volume");
	if (r == 0 || e == EPERM)
		ev(EV_CHILD_BIND_EPERM);
	close(fd);
	return 0;
}

/* In a fork child: the queue mapping at @map was not inherited (VM_DONTCOPY). */
static void child_check_dontcopy(void *map)
{
	unsigned char v;
	void *pg = (void *)((uintptr_t)map & ~(uintptr_t)4095);

	if (!mincore(pg, 4096, &v))
		VIOLATION("fork child has its parent's queue mapping at %p (want VM_DONTCOPY)", map);
	else if (errno != ENOMEM)
		VIOLATION("mincore of a parent's queue mapping in a fork child: %s, want ENOMEM",
			  strerror(errno));
	else
		ev(EV_CHILD_NO_MAP);
}

/* Dump a process's kernel stacks (root, CONFIG_STACKTRACE) to stdout. */
static void dump_stacks(int pid, const char *why)
{
	char path[512], buf[4096];
	struct dirent *d;
	DIR *dir;

	out("--- %s: kernel stacks of pid %d ---", why, pid);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir) {
		out("  (cannot open %s: %s)", path, strerror(errno));
		return;
	}
	while ((d = readdir(dir))) {
		const char *files[] = { "stat", "wchan", "stack" };
		unsigned int i;

		if (d->d_name[0] == '.')
			continue;
		for (i = 0; i < 3; i++) {
			int fd;
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", pid, d->d_name, files[i]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n > 0) {
				buf[n] = 0;
				out("  tid %s %s: %s", d->d_name, files[i], buf);
			}
		}
	}
	closedir(dir);
}

/* waitpid with a deadline (ms). Returns 1 reaped (*status), 0 still alive. */
static int wait_bounded(int pid, int *status, int ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		int r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;	/* not ours any more */
		if (now_ms() > end)
			return 0;
		sleep_ms(10);
	}
}

/* Reap @pid within @ms, else dump its stacks, SIGKILL it and reap within 15 s. */
static void reap_or_hang(int pid, int ms, const char *what)
{
	int st;

	if (wait_bounded(pid, &st, ms))
		return;
	__atomic_add_fetch(&S->hangs, 1, __ATOMIC_RELAXED);
	out("HANG [pid %d seed %llu]: %s (pid %d) still running after %d ms", getpid(),
	    (unsigned long long)worker_seed, what, pid, ms);
	dump_stacks(pid, what);
	kill(pid, SIGKILL);
	if (!wait_bounded(pid, &st, 15000)) {
		out("HANG: %s (pid %d) survives SIGKILL for 15 s (D state)", what, pid);
		dump_stacks(pid, "unkillable");
	}
}

/* ---- ADD_DEV parameters -------------------------------------------------- */

/* What the kernel must answer for @p: 0, EINVAL or E2BIG (memx_validate_params). */
static int predict_add(const struct memx_dev_params *p)
{
	uint64_t ring, desc, per_q, ents;
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (p->reserved[i])
			return EINVAL;
	if (p->flags & ~MEMX_F_ALL)
		return EINVAL;
	if (!p->size_bytes || p->size_bytes > MEMX_MAX_DEV_BYTES || p->size_bytes % MEMX_BLOCK_SIZE)
		return EINVAL;
	if (!p->nr_queues || p->nr_queues > MEMX_MAX_QUEUES)
		return EINVAL;
	if ((p->flags & MEMX_F_POLL_QUEUES) ?
	    (!p->nr_poll_queues || p->nr_poll_queues >= p->nr_queues) : p->nr_poll_queues != 0)
		return EINVAL;
	if (!p->queue_depth || p->queue_depth > MEMX_MAX_DEPTH)
		return EINVAL;
	if (p->max_io_bytes < MEMX_MIN_IO_BYTES || p->max_io_bytes > MEMX_MAX_IO_BYTES ||
	    (p->max_io_bytes & (p->max_io_bytes - 1)))
		return EINVAL;
	if (p->io_timeout_ms && (p->io_timeout_ms < MEMX_MIN_TIMEOUT_MS ||
				 p->io_timeout_ms > MEMX_MAX_TIMEOUT_MS))
		return EINVAL;
	if (p->dev_id != -1 && (p->dev_id < 0 || p->dev_id >= MEMX_MAX_DEVS))
		return EINVAL;
	for (ents = 1; ents < p->queue_depth; ents <<= 1)
		;
	ring = (128 + ents * 4 + 4095) & ~4095ULL;
	desc = ((uint64_t)p->queue_depth * 16 + 4095) & ~4095ULL;
	per_q = (ring + desc + (uint64_t)p->queue_depth * p->max_io_bytes + 4095) & ~4095ULL;
	if (per_q * p->nr_queues > (uint64_t)S->max_dev_mem_mb << 20)
		return E2BIG;
	return 0;
}

static const uint32_t depths[] = { 1, 2, 3, 4, 7, 8, 16, 31, 32, 64 };

/* Small valid geometry (a few MiB of buffers at most). */
static struct memx_dev_params valid_params(int max_queues, int max_depth_idx)
{
	struct memx_dev_params p;

	memset(&p, 0, sizeof(p));
	p.nr_queues = 1 + rnd(max_queues);
	p.queue_depth = depths[rnd(max_depth_idx)];
	p.max_io_bytes = 4096u << rnd(6);	/* 4K..128K */
	while ((uint64_t)p.nr_queues * p.queue_depth * p.max_io_bytes > (48u << 20))
		p.max_io_bytes >>= 1;
	if (p.max_io_bytes < 4096)
		p.max_io_bytes = 4096;
	p.size_bytes = chance(50) ? (uint64_t)(1 + rnd(64)) << 20 : 4096ULL * (1 + rnd(20000));
	p.io_timeout_ms = chance(15) ? 0 : 1000 + rnd(2001);
	p.dev_id = -1;
	if (chance(50))
		p.flags |= MEMX_F_DISCARD;
	if (chance(50))
		p.flags |= MEMX_F_WRITE_ZEROES;
	if (p.nr_queues >= 2 && chance(35)) {
		p.flags |= MEMX_F_POLL_QUEUES;
		p.nr_poll_queues = 1 + rnd(p.nr_queues - 1);
	}
	return p;
}

/* Mostly valid; sometimes one or two fields broken (or too big: E2BIG). */
static struct memx_dev_params soup_params(void)
{
	struct memx_dev_params p = valid_params(4, 8);
	int n = chance(35) ? 1 + chance(30) : 0;

	if (chance(10))
		p.dev_id = rnd(MEMX_MAX_DEVS);
	while (n--) {
		switch (rnd(22)) {
		case 0: p.size_bytes = 0; break;
		case 1: p.size_bytes = 1 + rnd(4095); break;
		case 2: p.size_bytes += 512; break;
		case 3: p.size_bytes = MEMX_MAX_DEV_BYTES + 4096 * (uint64_t)rnd(3); break;
		case 4: p.size_bytes = rnd64(); break;
		case 5: p.flags |= 1ULL << (3 + rnd(61)); break;
		case 6: p.nr_queues = chance(50) ? 0 : MEMX_MAX_QUEUES + rnd(100); break;
		case 7: p.nr_queues = (uint32_t)rnd64(); break;
		case 8: p.queue_depth = chance(50) ? 0 : MEMX_MAX_DEPTH + 1 + rnd(1000); break;
		case 9: p.max_io_bytes = rnd(8192); break;
		case 10: p.max_io_bytes = 4096 * (3 + 2 * rnd(10)); break;
		case 11: p.max_io_bytes = MEMX_MAX_IO_BYTES << 1 << rnd(4); break;
		case 12: p.io_timeout_ms = 1 + rnd(MEMX_MIN_TIMEOUT_MS - 1); break;
		case 13: p.io_timeout_ms = MEMX_MAX_TIMEOUT_MS + 1 + rnd(100000); break;
		case 14: p.dev_id = chance(50) ? -2 - (int)rnd(1000) : MEMX_MAX_DEVS + (int)rnd(1000); break;
		case 15: p.flags |= MEMX_F_POLL_QUEUES; p.nr_poll_queues = chance(50) ? 0 : p.nr_queues + rnd(3); break;
		case 16: p.flags &= ~MEMX_F_POLL_QUEUES; p.nr_poll_queues = 1 + rnd(3); break;
		case 17: p.reserved[rnd(4)] = 1ULL << rnd(64); break;
		case 18: /* E2BIG: 16 x 256 x 1 MiB */
			p.nr_queues = MEMX_MAX_QUEUES; p.queue_depth = MEMX_MAX_DEPTH;
			p.max_io_bytes = MEMX_MAX_IO_BYTES; p.flags &= ~MEMX_F_POLL_QUEUES;
			p.nr_poll_queues = 0; break;
		case 19: /* E2BIG, just over */
			p.nr_queues = 1 + rnd(4); p.queue_depth = 256; p.max_io_bytes = MEMX_MAX_IO_BYTES;
			p.nr_queues = (S->max_dev_mem_mb / 256) + 1;
			if (p.nr_queues > MEMX_MAX_QUEUES) p.nr_queues = MEMX_MAX_QUEUES;
			p.flags &= ~MEMX_F_POLL_QUEUES; p.nr_poll_queues = 0; break;
		case 20: p.queue_depth = MEMX_MAX_DEPTH; p.max_io_bytes = 4096; break; /* valid, deep */
		default: p.io_timeout_ms = 0; break;	/* valid */
		}
	}
	return p;
}

/* ---- bad pointers -------------------------------------------------------- */

static void *guard_page;	/* 2 pages: RW then PROT_NONE */

static void *bad_ptr(void)
{
	switch (rnd(6)) {
	case 0: return NULL;
	case 1: return (void *)(uintptr_t)(8 + rnd(4096));
	case 2: return (void *)0xffff888000000000ULL;
	case 3: return (char *)guard_page + 4096 + rnd(4096);	/* PROT_NONE */
	case 4: return (void *)(uintptr_t)0x7ffffffff000ULL;
	default: return (void *)(uintptr_t)(rnd64() | (1ULL << 63));
	}
}

/* ---- soup ----------------------------------------------------------------- */

enum role { R_NONE, R_OWNER, R_QUEUE };

struct sfd {
	int fd;
	int rdonly;
	enum role role;
	int id;				/* owner: its volume; queue: bound volume */
	int owner_started;		/* owner: START succeeded */
	int owner_deleted;		/* owner: DEL succeeded */
	struct memx_dev_params p;	/* owner */
	uint32_t qid;			/* queue */
	struct memx_queue_layout l;	/* queue: from GET_LAYOUT */
	int have_layout;
	void *map;
	size_t maplen;
	int mapprot;		/* PROT_* now */
	int zapped;		/* MADV_DONTNEED'd: touching would SIGBUS */
};

static void touch_len(void *map, size_t len, const struct memx_queue_layout *l, int prot);

static void touch_sfd(struct sfd *f)
{
	if (f->map && !f->zapped)
		touch_len(f->map, f->maplen, &f->l, f->mapprot);
}

#define NSFD 8
struct soup {
	struct sfd f[NSFD];
	int nmaps_closed;
};

static struct sfd *pick(struct soup *s, int want_open)
{
	int i, start = rnd(NSFD);

	for (i = 0; i < NSFD; i++) {
		struct sfd *f = &s->f[(start + i) % NSFD];

		if ((f->fd >= 0) == want_open)
			return f;
	}
	return NULL;
}

static int info_ioctl(int fd, unsigned long cmd, int id, struct memx_dev_info *info, int bad)
{
	memset(info, 0, sizeof(*info));
	info->dev_id = id;
	if (bad == 1)
		info->reserved = 1 + rnd(100);
	/* Out fields are ignored on input, whatever a caller left there. */
	info->held_requests = rnd(2) ? rnd(100) : 0;
	info->info_flags = rnd(2) ? 1U << rnd(32) : 0;
	if (bad == 2)
		return ioctl(fd, cmd, bad_ptr());
	return ioctl(fd, cmd, info);
}

/* Touch the first @len bytes of a queue mapping as an engine would (and a bit more). */
static void touch_len(void *map, size_t len, const struct memx_queue_layout *l, int prot)
{
	volatile uint32_t *ring = map;
	volatile uint8_t *b = map;

	if ((!(prot & PROT_READ) && !(prot & PROT_WRITE)) || len < 4096)
		return;
	(void)ring[0];
	(void)b[len - 1];
	if (prot & PROT_WRITE) {
		ring[16] = (uint32_t)rnd64();		/* head */
		ring[17] = (uint32_t)rnd64();		/* flags */
		if (l->desc_offset + 4096 <= len)
			b[l->desc_offset + rnd(4096)] = (uint8_t)rnd64();
		b[len - 1 - rnd(4096)] = (uint8_t)rnd64();
	}
	ev(EV_MAP_TOUCHED);
}

static void touch_map(void *map, const struct memx_queue_layout *l, int prot)
{
	touch_len(map, l->total_bytes, l, prot);
}

static void soup_close(struct soup *s, struct sfd *f)
{
	long r;

	if (f->map && chance(50)) {
		munmap(f->map, f->maplen);
		f->map = NULL;
	}
	if (f->map)
		ev(EV_CLOSE_WITH_MAP);
	if (f->role == R_OWNER && !f->owner_deleted) {	/* the volume dies: no longer ours */
		mine_begin();
		r = close(f->fd);
		owner_closed(f->id);
		mine_end(f->id, -1);
	} else {
		r = close(f->fd);
	}
	rec(OP_CLOSE, r, errno);
	if (r)
		VIOLATION("close of a control fd failed: %s", strerror(errno));
	if (f->map) {	/* the mapping outlives the fd; drop it later or now */
		if (chance(50))
			touch_sfd(f);
		munmap(f->map, f->maplen);
	}
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	(void)s;
}

static void soup_open(struct sfd *f)
{
	int rdonly = chance(10);
	int fd = open(CTL, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	rec(OP_OPEN, fd, errno);
	if (fd < 0)
		return;
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->rdonly = rdonly;
	f->id = -1;
}

static void soup_add(struct sfd *f)
{
	struct memx_dev_params p = soup_params(), q;
	int want = predict_add(&p), badp = chance(4), r, e;

	q = p;
	errno = 0;
	mine_begin();
	r = ioctl(f->fd, MEMX_CTRL_ADD_DEV, badp ? bad_ptr() : (void *)&q);
	e = errno;
	mine_end(q.dev_id, r == 0 && !badp && f->role == R_NONE && !want);
	rec(OP_ADD, r, e);
	if (badp) {
		expect_err(OP_ADD, r, e, EFAULT, "bad pointer");
		return;
	}
	if (want) {
		expect_err(OP_ADD, r, e, want, "invalid params");
		if (r == 0)
			out("  params: size %llu flags %#llx q %u depth %u max_io %u timeout %u id %d poll %u",
			    (unsigned long long)p.size_bytes, (unsigned long long)p.flags, p.nr_queues,
			    p.queue_depth, p.max_io_bytes, p.io_timeout_ms, p.dev_id, p.nr_poll_queues);
	} else if (f->role != R_NONE) {
		expect_err(OP_ADD, r, e, EBUSY, "second role on one fd");
	} else if (r && e != EEXIST && e != ENOSPC && e != ENOMEM) {
		VIOLATION("ADD_DEV of valid params on a fresh fd: %s", strerror(e));
	} else if (r && e == EEXIST && p.dev_id < 0) {
		VIOLATION("ADD_DEV dev_id -1: EEXIST");
	}
	if (r == 0 && f->role == R_NONE && !want) {
		if (q.dev_id < 0 || q.dev_id >= MEMX_MAX_DEVS || (p.dev_id >= 0 && q.dev_id != p.dev_id))
			VIOLATION("ADD_DEV returned dev_id %d (asked %d)", q.dev_id, p.dev_id);
		f->role = R_OWNER;
		f->id = q.dev_id;
		f->p = q;
		share_id(q.dev_id);
	}
}

static int soup_pick_id(struct soup *s)
{
	int i;

	switch (rnd(10)) {
	case 0: case 1: case 2: case 3:
		for (i = 0; i < NSFD; i++)
			if (s->f[i].fd >= 0 && s->f[i].role == R_OWNER && chance(50))
				return s->f[i].id;
		/* fall through */
	case 4: case 5: case 6:
		return some_shared_id();
	case 7:
		return rnd(MEMX_MAX_DEVS);
	case 8:
		return chance(50) ? -1 - (int)rnd(3) : MEMX_MAX_DEVS + (int)rnd(3);
	default:
		return (int)rnd64();
	}
}

static struct sfd *soup_owner_of(struct soup *s, int id)
{
	int i;

	for (i = 0; i < NSFD; i++)
		if (s->f[i].fd >= 0 && s->f[i].role == R_OWNER && s->f[i].id == id &&
		    !s->f[i].owner_deleted)
			return &s->f[i];
	return NULL;
}

static void soup_bind(struct soup *s, struct sfd *f)
{
	struct memx_queue_bind b = { 0 };
	int r, e, badp = chance(3), own;
	unsigned int seq;
	struct sfd *o;

	b.dev_id = soup_pick_id(s);
	o = soup_owner_of(s, b.dev_id);
	b.queue_id = chance(80) ? rnd(o ? o->p.nr_queues + 1 : 4) : (uint32_t)rnd64();
	if (chance(3))
		b.reserved = 1 + rnd64() % 1000;
	seq = mine_snap();
	errno = 0;
	r = ioctl(f->fd, MEMX_IO_BIND_QUEUE, badp ? bad_ptr() : (void *)&b);
	e = errno;
	rec(OP_BIND, r, e);
	if (badp) {
		expect_err(OP_BIND, r, e, EFAULT, "bad pointer");
		return;
	}
	if (b.reserved || b.dev_id < 0 || b.dev_id >= MEMX_MAX_DEVS) {
		expect_err(OP_BIND, r, e, EINVAL, "reserved or dev_id out of range");
		return;
	}
	if (f->role != R_NONE) {
		/* The role is checked before the volume and its owner. */
		if (r == 0 || e != EBUSY)
			VIOLATION("BIND on an fd that already has a role: ret %d errno %s, want EBUSY", r,
				  strerror(e));
		return;
	}
	check_bind_owner(b.dev_id, b.queue_id, seq, r, e);
	if (r && e == EPERM)
		ev(EV_BIND_FOREIGN);
	own = o != NULL;
	if (own && b.queue_id >= o->p.nr_queues) {
		expect_err(OP_BIND, r, e, EINVAL, "queue_id >= nr_queues of own live volume");
		return;
	}
	if (r == 0) {
		int lr;

		f->role = R_QUEUE;
		f->id = b.dev_id;
		f->qid = b.queue_id;
		lr = ioctl(f->fd, MEMX_IO_GET_LAYOUT, &f->l);
		rec(OP_LAYOUT, lr, errno);
		if (lr)
			VIOLATION("GET_LAYOUT on a freshly bound fd: %s", strerror(errno));
		else
			f->have_layout = 1;
		if (own && f->have_layout && (f->l.queue_depth != o->p.queue_depth ||
					      f->l.buf_stride != o->p.max_io_bytes))
			VIOLATION("layout of own volume memx%d: depth %u stride %llu, params %u %u",
				  o->id, f->l.queue_depth, (unsigned long long)f->l.buf_stride,
				  o->p.queue_depth, o->p.max_io_bytes);
	}
}

static void check_layout(const struct memx_queue_layout *l)
{
	if (!l->queue_depth || l->queue_depth > MEMX_MAX_DEPTH || l->ring_entries < l->queue_depth ||
	    (l->ring_entries & (l->ring_entries - 1)) || l->ring_offset != 0 ||
	    l->desc_offset % 4096 || l->buf_offset % 4096 || l->total_bytes % 4096 ||
	    l->desc_offset < 128 + 4ULL * l->ring_entries ||
	    l->buf_offset < l->desc_offset + 16ULL * l->queue_depth ||
	    l->total_bytes < l->buf_offset + (uint64_t)l->queue_depth * l->buf_stride ||
	    l->buf_stride < MEMX_MIN_IO_BYTES || l->buf_stride > MEMX_MAX_IO_BYTES)
		VIOLATION("insane layout: ring %llu desc %llu buf %llu stride %llu total %llu entries %u depth %u",
			  (unsigned long long)l->ring_offset, (unsigned long long)l->desc_offset,
			  (unsigned long long)l->buf_offset, (unsigned long long)l->buf_stride,
			  (unsigned long long)l->total_bytes, l->ring_entries, l->queue_depth);
}

static void soup_layout(struct sfd *f)
{
	struct memx_queue_layout l;
	int badp = chance(10), r, e;

	errno = 0;
	r = ioctl(f->fd, MEMX_IO_GET_LAYOUT, badp ? bad_ptr() : (void *)&l);
	e = errno;
	rec(OP_LAYOUT, r, e);
	if (f->role != R_QUEUE) {
		expect_err(OP_LAYOUT, r, e, EBADFD, "fd not bound to a queue");
		return;
	}
	if (badp) {
		expect_err(OP_LAYOUT, r, e, EFAULT, "bad pointer");
		return;
	}
	if (r) {
		VIOLATION("GET_LAYOUT on a bound fd: %s", strerror(e));
		return;
	}
	check_layout(&l);
	if (f->have_layout && memcmp(&l, &f->l, sizeof(l)))
		VIOLATION("GET_LAYOUT changed between calls");
}

static void soup_mmap(struct sfd *f)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
				     PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE,
				     PROT_READ | PROT_WRITE | PROT_EXEC, PROT_NONE };
	size_t total = f->have_layout ? f->l.total_bytes : 4096 * (1 + rnd(64));
	size_t len;
	off_t off = 0;
	int prot = prots[rnd(7)], flags = chance(85) ? MAP_SHARED : MAP_PRIVATE, e, ok;
	void *m;

	if (f->map)
		return;
	switch (rnd(8)) {
	case 0: len = total + 4096; break;
	case 1: len = total > 4096 ? total - 4096 : 4096; break;
	case 2: len = 4096 * (1 + rnd(1024)); break;
	case 3: len = total - rnd(4096); break;
	default: len = total; break;
	}
	if (len == 0)
		len = 1;
	if (chance(12))
		off = chance(50) ? 4096 * (off_t)(1 + rnd(64)) : (off_t)(rnd64() & ~4095ULL & 0x7fffffffffffULL);
	errno = 0;
	m = mmap(NULL, len, prot, flags, f->fd, off);
	e = errno;
	rec(OP_MMAP, m == MAP_FAILED ? -1 : 0, e);
	ok = f->role == R_QUEUE && off == 0 && flags == MAP_SHARED &&
	     ((len + 4095) & ~(size_t)4095) == f->l.total_bytes;
	if (m != MAP_FAILED && !ok) {
		VIOLATION("mmap succeeded: role %d len %zu (total %llu) off %lld prot %#x %s", f->role,
			  len, (unsigned long long)f->l.total_bytes, (long long)off, prot,
			  flags == MAP_SHARED ? "shared" : "private");
		munmap(m, len);
		return;
	}
	if (m == MAP_FAILED && ok && f->rdonly) {
		/* MAP_SHARED of an O_RDONLY fd has no VM_SHARED: memx refuses it. */
		ev(EV_MMAP_RDONLY);
		return;
	}
	if (ok && (prot & PROT_EXEC)) {
		/* Never executable: EPERM (from memx, or from a noexec /dev first). */
		if (m != MAP_FAILED) {
			VIOLATION("mmap of a bound queue fd with PROT_EXEC succeeded");
			munmap(m, len);
		} else if (e != EPERM) {
			VIOLATION("mmap of a bound queue fd with PROT_EXEC: %s, want EPERM", strerror(e));
		}
		return;
	}
	if (m == MAP_FAILED && ok) {
		VIOLATION("mmap of a bound queue fd (len %zu prot %#x) failed: %s", len, prot, strerror(e));
		return;
	}
	if (m == MAP_FAILED)
		return;
	touch_map(m, &f->l, prot);
	if (chance(30)) {
		munmap(m, len);
		return;
	}
	f->map = m;
	f->maplen = len;
	f->mapprot = prot;
	f->zapped = 0;
}

/* VM operations on a live queue mapping: mprotect, madvise, mremap, partial munmap. */
static void soup_vm(struct sfd *f)
{
	void *m;

	if (!f->map)
		return;
	switch (rnd(5)) {
	case 0:
		/* Never executable (no VM_MAYEXEC): mprotect(PROT_EXEC) is EACCES. */
		errno = 0;
		if (!mprotect(f->map, f->maplen, PROT_READ | PROT_EXEC))
			VIOLATION("mprotect(PROT_EXEC) of a queue mapping succeeded");
		else if (errno != EACCES)
			VIOLATION("mprotect(PROT_EXEC) of a queue mapping: %s, want EACCES",
				  strerror(errno));
		if (!mprotect(f->map, f->maplen, PROT_READ))
			f->mapprot = PROT_READ;
		break;
	case 1:
		if (!madvise(f->map, f->maplen, MADV_DONTNEED))
			f->zapped = 1;
		break;
	case 2:
		if (f->maplen > 4096) {
			m = mremap(f->map, f->maplen, f->maplen - 4096, 0);
			if (m != MAP_FAILED)
				f->maplen -= 4096;
		}
		break;
	case 3:
		m = mremap(f->map, f->maplen, f->maplen + 4096, MREMAP_MAYMOVE);
		if (m != MAP_FAILED) {
			VIOLATION("mremap grew a queue mapping (VM_DONTEXPAND)");
			f->map = m;
			f->maplen += 4096;
		}
		break;
	default:	/* punch out the ring page: the rest stays mapped */
		if (f->maplen > 4096 && !munmap(f->map, 4096)) {
			f->map = (char *)f->map + 4096;
			f->maplen -= 4096;
		}
		break;
	}
	touch_sfd(f);
}

static void soup_devcmd(struct soup *s, struct sfd *f, enum op op)
{
	static const unsigned long cmds[] = { MEMX_CTRL_START_DEV, MEMX_CTRL_DEL_DEV,
					      MEMX_CTRL_GET_INFO };
	unsigned long cmd = cmds[op == OP_START ? 0 : op == OP_DEL ? 1 : 2];
	struct memx_dev_info info;
	int bad = chance(4) ? 1 : chance(3) ? 2 : 0, id, r, e, mine;

	id = (f->role == R_OWNER && chance(60)) ? f->id : soup_pick_id(s);
	mine = f->role == R_OWNER && f->id == id && !f->owner_deleted;
	errno = 0;
	if (op == OP_DEL && mine) {	/* a DEL that works ends our ownership */
		mine_begin();
		r = info_ioctl(f->fd, cmd, id, &info, bad);
		e = errno;
		mine_end(id, r == 0 ? -1 : 0);
	} else {
		r = info_ioctl(f->fd, cmd, id, &info, bad);
		e = errno;
	}
	rec(op, r, e);
	if (bad == 2) {
		expect_err(op, r, e, EFAULT, "bad pointer");
		return;
	}
	if (bad == 1 || id < 0 || id >= MEMX_MAX_DEVS) {
		expect_err(op, r, e, EINVAL, "reserved or dev_id out of range");
		return;
	}
	if (op != OP_INFO && !mine) {
		if (r == 0)
			VIOLATION("%s on memx%d succeeded from an fd that does not own it (role %d)",
				  op_name[op], id, f->role);
		else if (e != EBADFD && e != ENODEV)
			VIOLATION("%s on memx%d from a non-owner: %s, want EBADFD or ENODEV",
				  op_name[op], id, strerror(e));
		return;
	}
	if (op == OP_INFO) {
		if (r == 0 && (info.dev_id != id || info.state > MEMX_S_DEAD))
			VIOLATION("GET_INFO memx%d: dev_id %d state %u", id, info.dev_id, info.state);
		if (r == 0 && soup_owner_of(s, id)) {
			struct sfd *o = soup_owner_of(s, id);

			if (info.nr_queues != o->p.nr_queues || info.queue_depth != o->p.queue_depth ||
			    info.max_io_bytes != o->p.max_io_bytes || info.size_bytes != o->p.size_bytes ||
			    info.open_count != 0 || info.state != (o->owner_started ? MEMX_S_LIVE : MEMX_S_NEW))
				VIOLATION("GET_INFO of own memx%d: q %u depth %u max_io %u size %llu open %u state %u",
					  id, info.nr_queues, info.queue_depth, info.max_io_bytes,
					  (unsigned long long)info.size_bytes, info.open_count, info.state);
		}
		if (r && soup_owner_of(s, id))
			VIOLATION("GET_INFO of own live memx%d: %s", id, strerror(e));
		return;
	}
	if (op == OP_START) {
		if (r == 0 && f->owner_started)
			VIOLATION("START_DEV twice on memx%d succeeded", id);
		if (r && f->owner_started && e != EBUSY)
			VIOLATION("START_DEV of started memx%d: %s, want EBUSY", id, strerror(e));
		if (r == 0) {
			f->owner_started = 1;
			if (info.state != MEMX_S_LIVE)
				VIOLATION("START_DEV memx%d: state %u", id, info.state);
		}
		return;
	}
	/* DEL of own volume: nobody opens soup volumes, so it must work. */
	if (r)
		VIOLATION("DEL_DEV of own memx%d (started %d): %s", id, f->owner_started, strerror(e));
	else
		f->owner_deleted = 1;
}

static void soup_commit(struct sfd *f)
{
	struct memx_io_result res[8];
	struct memx_io_commit c;
	uint32_t depth = f->have_layout ? f->l.queue_depth : 8;
	int i, mode = rnd(10), r, e, want = 0;
	void *arg = &c;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < 8; i++) {
		res[i].tag = chance(70) ? rnd(depth) : (uint32_t)rnd64();
		res[i].result = chance(50) ? 0 : chance(50) ? -EIO : (int32_t)rnd64();
	}
	c.nr = 1 + rnd(8);
	c.results = (uintptr_t)res;
	switch (mode) {
	case 0: c.nr = 0; want = EINVAL; break;
	case 1: c.nr = chance(50) ? 0xffffffffu : depth + 1 + rnd(1000); want = EINVAL; break;
	case 2: c.reserved0 = 1 + rnd(1000); want = EINVAL; break;
	case 3: c.results = (uintptr_t)bad_ptr(); break;
	case 4: arg = bad_ptr(); want = EFAULT; break;
	default: if (c.nr > depth) want = EINVAL; break;
	}
	errno = 0;
	r = ioctl(f->fd, MEMX_IO_COMMIT, arg);
	e = errno;
	rec(OP_COMMIT, r, e);
	if (f->role != R_QUEUE) {
		if (mode != 4)
			expect_err(OP_COMMIT, r, e, EBADFD, "fd not bound to a queue");
		return;
	}
	if (r >= 0)
		VIOLATION("COMMIT of %u results on memx%d q%u (never took I/O) returned %d", c.nr,
			  f->id, f->qid, r);
	else if (want && e != want && e != ENODEV && !(mode == 4 && e == EBADFD))
		VIOLATION("COMMIT mode %d: %s, want %s", mode, strerror(e), strerror(want));
}

static void soup_badcmd(struct sfd *f)
{
	static const unsigned int known[] = { MEMX_CTRL_GET_FEATURES, MEMX_CTRL_ADD_DEV,
		MEMX_CTRL_START_DEV, MEMX_CTRL_DEL_DEV, MEMX_CTRL_GET_INFO, MEMX_IO_BIND_QUEUE,
		MEMX_IO_GET_LAYOUT, MEMX_IO_COMMIT };
	unsigned int cmd, i;
	char buf[256];
	int r, e;

	do {
		switch (rnd(4)) {
		case 0: cmd = (uint32_t)rnd64(); break;
		case 1: cmd = _IOC(rnd(4), MEMX_IOC_MAGIC, rnd(0x20), rnd(128)); break;
		case 2: cmd = known[rnd(8)] ^ (1u << rnd(32)); break;
		default: cmd = _IOC(rnd(4), MEMX_IOC_MAGIC, rnd(256), rnd(1 << 14)); break;
		}
		for (i = 0; i < 8; i++)
			if (cmd == known[i])
				break;
	} while (i < 8);
	/* The VFS answers a few generic numbers itself (FIONBIO, FIOCLEX, ...):
	 * only numbers of our magic 'x' are checked. */
	if ((cmd >> 8 & 0xff) != MEMX_IOC_MAGIC)
		cmd = (cmd & ~0xff00u) | (MEMX_IOC_MAGIC << 8);
	for (i = 0; i < 8; i++)
		if (cmd == known[i])
			return;
	memset(buf, 0, sizeof(buf));
	errno = 0;
	r = ioctl(f->fd, cmd, chance(50) ? (void *)buf : bad_ptr());
	e = errno;
	rec(OP_BADCMD, r, e);
	expect_err(OP_BADCMD, r, e, ENOTTY, "unknown 'x' ioctl number");
}

static void soup_misc(struct sfd *f)
{
	char buf[64];
	long r;
	int e;

	switch (rnd(5)) {
	case 0: {
		struct pollfd p = { .fd = f->fd, .events = POLLIN | POLLOUT | POLLPRI };

		r = poll(&p, 1, chance(50) ? 0 : 5);
		rec(OP_POLL, r, errno);
		if (f->role != R_QUEUE && r == 1 && !(p.revents & POLLERR))
			VIOLATION("poll of an unbound fd: revents %#x, want POLLERR", p.revents);
		if (p.revents & (POLLOUT | POLLPRI | POLLNVAL))
			VIOLATION("poll revents %#x", p.revents);
		break;
	}
	case 1:
		errno = 0;
		r = read(f->fd, buf, sizeof(buf));
		e = errno;
		rec(OP_CTLRW, r, e);
		if (r >= 0)
			VIOLATION("read() of the control fd returned %ld", r);
		break;
	case 2:
		errno = 0;
		r = write(f->fd, buf, sizeof(buf));
		e = errno;
		rec(OP_CTLRW, r, e);
		if (r >= 0)
			VIOLATION("write() of the control fd returned %ld", r);
		break;
	case 3:
		errno = 0;
		r = lseek(f->fd, 4096, SEEK_SET);
		e = errno;
		rec(OP_CTLRW, r, e);
		if (r >= 0)
			VIOLATION("lseek of the control fd returned %ld", r);
		break;
	default: {
		struct memx_features ft;
		int badp = chance(20);

		errno = 0;
		r = ioctl(f->fd, MEMX_CTRL_GET_FEATURES, badp ? bad_ptr() : (void *)&ft);
		e = errno;
		rec(OP_FEATURES, r, e);
		if (badp)
			expect_err(OP_FEATURES, r, e, EFAULT, "bad pointer");
		else if (r || ft.abi_version != MEMX_ABI_VERSION || ft.max_queues != MEMX_MAX_QUEUES ||
			 ft.max_depth != MEMX_MAX_DEPTH || ft.max_io_bytes != MEMX_MAX_IO_BYTES ||
			 (ft.features & ~MEMX_F_ALL))
			VIOLATION("GET_FEATURES: ret %ld abi %u", r, ft.abi_version);
		break;
	}
	}
}

static void fork_child_segv(int sig) { (void)sig; _exit(3); }

static void soup_fork_reaped(int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		ev(EV_FORK_SEGV);
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		ev(EV_FORK_KILLED);
}

/* fork with every fd and mapping alive; the child pokes them. */
static void soup_fork(struct soup *s)
{
	pid_t ppid = getpid();
	int pid, st, i;

	fork_begin();
	pid = fork();
	rec(OP_FORK, pid, errno);
	if (pid < 0) {
		fork_end();
		return;
	}
	if (pid == 0) {
		signal(SIGSEGV, fork_child_segv);
		signal(SIGBUS, fork_child_segv);
		alarm(10);
		for (i = 0; i < NSFD; i++) {
			struct sfd *f = &s->f[i];
			struct memx_dev_info info;

			if (f->fd < 0)
				continue;
			if (f->map)
				child_check_dontcopy(f->map);
			if (f->role == R_OWNER && !f->owner_deleted && chance(50))
				child_bind_foreign(f->id, rnd(f->p.nr_queues), ppid, 0);
			if (f->map && chance(70))
				touch_sfd(f);	/* not mapped here: SIGSEGV, exit 3 */
			if (chance(40))
				soup_commit(f);
			if (chance(30)) {
				int r = info_ioctl(f->fd, MEMX_CTRL_GET_INFO, f->id, &info, 0);

				rec(OP_INFO, r, errno);
			}
			if (f->role != R_NONE && chance(20)) {
				/* ADD on an inherited owner/queue fd (same struct file): EBUSY. */
				struct memx_dev_params p = valid_params(2, 4);
				int r = ioctl(f->fd, MEMX_CTRL_ADD_DEV, &p);

				rec(OP_ADD, r, errno);
				if (r == 0)
					VIOLATION("ADD_DEV in a fork child on an fd with role %d succeeded", f->role);
			}
			if (chance(30))
				close(f->fd);
		}
		if (chance(50))
			sleep_ms(rnd(200));
		_exit(0);
	}
	if (chance(40)) {
		sleep_ms(rnd(50));
		kill(pid, SIGKILL);
	}
	if (wait_bounded(pid, &st, 20000))
		soup_fork_reaped(st);
	else
		reap_or_hang(pid, 0, "soup fork child");
	fork_end();
}


struct soup_arg {
	uint64_t seed;
	int ops;
	int64_t deadline;
};

static void *soup_thread(void *argp)
{
	struct soup_arg *a = argp;
	struct soup s;
	int i, n;

	rng = a->seed | 1;
	for (i = 0; i < NSFD; i++) {
		memset(&s.f[i], 0, sizeof(s.f[i]));
		s.f[i].fd = -1;
	}
	for (n = 0; n < a->ops && now_ms() < a->deadline; n++) {
		struct sfd *f = pick(&s, 1);
		int k = rnd(100);

		if (!f || k < 8) {
			f = pick(&s, 0);
			if (f)
				soup_open(f);
			continue;
		}
		if (k < 14)
			soup_close(&s, f);
		else if (k < 26)
			soup_add(f);
		else if (k < 40)
			soup_bind(&s, f);
		else if (k < 45)
			soup_layout(f);
		else if (k < 53)
			soup_mmap(f);
		else if (k < 58)
			soup_devcmd(&s, f, OP_START);
		else if (k < 62)
			soup_devcmd(&s, f, OP_DEL);
		else if (k < 68)
			soup_devcmd(&s, f, OP_INFO);
		else if (k < 80)
			soup_commit(f);
		else if (k < 85)
			soup_badcmd(f);
		else if (k < 90)
			soup_misc(f);
		else if (k < 93)
			soup_vm(f);
		else if (k < 95) {
			/* fork with everything alive: the child exits 3 on SIGSEGV */
			int pid, st;

			if (!chance(30))
				continue;
			fork_begin();
			pid = fork();
			rec(OP_FORK, pid, errno);
			if (pid == 0) {
				signal(SIGSEGV, fork_child_segv);
				signal(SIGBUS, fork_child_segv);
				alarm(10);
				for (i = 0; i < NSFD; i++) {
					if (s.f[i].map)
						child_check_dontcopy(s.f[i].map);
					touch_sfd(&s.f[i]);	/* not mapped here: SIGSEGV, exit 3 */
				}
				_exit(0);
			}
			if (pid > 0 && wait_bounded(pid, &st, 20000))
				soup_fork_reaped(st);
			else if (pid > 0)
				reap_or_hang(pid, 0, "soup fork child (touch)");
			fork_end();
		} else if (chance(25)) {
			soup_fork(&s);
		}
	}
	/* Close everything in random order: owners, queues, mappings. */
	for (;;) {
		struct sfd *f = pick(&s, 1);

		if (!f)
			break;
		soup_close(&s, f);
	}
	return NULL;
}

static void soup_round(void)
{
	struct soup_arg a[2];
	pthread_t t[2];
	int i, n = 1 + chance(70);

	ev(EV_SOUP);
	heartbeat("soup");
	for (i = 0; i < n; i++) {
		a[i].seed = rnd64();
		a[i].ops = 50 + rnd(400);
		a[i].deadline = now_ms() + 20000;
		if (pthread_create(&t[i], NULL, soup_thread, &a[i])) {
			n = i;
			break;
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* ---- serve ----------------------------------------------------------------- */

enum kind { K_LEGIT, K_DUP, K_JUNK, K_STRAY };
struct ent {
	struct memx_io_result r;
	enum kind kind;
	int64_t since;	/* K_LEGIT: held since (see struct held) */
};

struct held {
	uint32_t tag;
	int32_t result;
	int64_t due;	/* INT64_MAX: never */
	int64_t since;	/* the scan before the one that read it (not after the issue) */
};

struct squeue {
	struct serve *sv;
	unsigned int id;
	int fd;
	void *map;
	pthread_t thread;
	int running;
	volatile int stop;
	volatile int release;	/* commit held tags now */
	int steals;		/* stray/duplicate commits the kernel took */
	uint64_t seed;
	int64_t last_ok;	/* ms: before the BIND, or before the last COMMIT taken */
	volatile int done;	/* the engine thread has ended (and judged its holds) */
};

struct serve {
	struct memx_dev_params p;
	struct memx_queue_layout l;
	int clean;
	int owner;
	int dead_expected;
	int deleted;		/* DEL_DEV succeeded or the owner fd was closed */
	int may_die;		/* sticky, atomic: an engine held a tag to the deadline */
	int dead;		/* seen dead by the deadline (and may_die was set) */
	struct squeue q[MEMX_MAX_QUEUES];
};

/*
 * The engine deadline (memx_queue_timeout): memx.ko kills the volume when a
 * request waited io_timeout_ms (0: 30000) on a queue where the engine took
 * no COMMIT for io_timeout_ms. The engine's own clocks err on the lenient
 * side (a hold starts at the scan before the one that saw the tag; a COMMIT
 * counts from before the call), and DEADLINE_SLACK_MS covers the rest.
 */
#define DEFAULT_TIMEOUT_MS 30000
#define DEADLINE_SLACK_MS 200

/* The engine of @q has held a tag since @since (INT64_MAX: none) at @now. */
static void note_hold(struct squeue *q, int64_t since, int64_t now)
{
	struct serve *sv = q->sv;
	int64_t t = sv->p.io_timeout_ms ? sv->p.io_timeout_ms : DEFAULT_TIMEOUT_MS;
	int64_t from = since > q->last_ok ? since : q->last_ok;

	if (since == INT64_MAX || now - from < t - DEADLINE_SLACK_MS)
		return;
	if (!__atomic_exchange_n(&sv->may_die, 1, __ATOMIC_SEQ_CST))
		ev(EV_MAY_DIE);
}

/* The oldest of @t, @h[0..nh) and the K_LEGIT entries of @e[0..ne). */
static int64_t oldest_hold(int64_t t, const struct held *h, int nh, const struct ent *e, int ne)
{
	int i;

	for (i = 0; i < nh; i++)
		if (h[i].since < t)
			t = h[i].since;
	for (i = 0; i < ne; i++)
		if (e[i].kind == K_LEGIT && e[i].since < t)
			t = e[i].since;
	return t;
}

/*
 * The driver saw the volume dead (or gone) where it wants it live. Lets the
 * engine threads notice the death and judge what they held, then answers
 * whether the deadline allows it (from then on the volume is dead: 1).
 */
static int serve_died(struct serve *sv)
{
	int64_t end = now_ms() + 5000;
	unsigned int i;

	if (sv->dead)
		return 1;
	for (i = 0; i < sv->p.nr_queues; i++)
		while (sv->q[i].running && !sv->q[i].done && now_ms() < end)
			sleep_ms(10);
	if (!__atomic_load_n(&sv->may_die, __ATOMIC_SEQ_CST))
		return 0;
	sv->dead = 1;
	ev(EV_DEADLINE_DEATH);
	return 1;
}

static void fill_pattern(uint8_t *buf, uint64_t off, uint32_t len)
{
	uint64_t *w = (uint64_t *)buf;
	uint32_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = (off + i * 8ULL) ^ PAT;
}

static int stolen_any(const uint8_t *st, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (st[i])
			return 1;
	return 0;
}

/* COMMIT @e[0..n) in calls of at most depth; bookkeeping of what was taken. */
/* The queue or its volume died (sticky): poll says ERR/HUP. */
static int queue_dead(struct squeue *q)
{
	struct pollfd pf = { .fd = q->fd, .events = POLLIN };

	return poll(&pf, 1, 0) < 0 || (pf.revents & (POLLERR | POLLHUP | POLLNVAL));
}

static __thread void *my_guard;	/* engine thread's own 2 pages, the second PROT_NONE */

static int engine_commit(struct squeue *q, struct ent *e, int n, uint8_t *stolen)
{
	struct serve *sv = q->sv;
	uint32_t depth = sv->l.queue_depth;
	int i = 0;

	while (i < n) {
		struct memx_io_commit c = { 0 };
		struct memx_io_result buf[MEMX_MAX_DEPTH];
		uint32_t nr = n - i > (int)depth ? depth : (uint32_t)(n - i), k;
		int guard = my_guard && chance(3), r, err;
		int64_t t0;

		for (k = 0; k < nr; k++)
			buf[k] = e[i + k].r;
		c.nr = nr;
		if (guard) {
			/* Straddle a PROT_NONE page: only whole chunks before it may be taken. */
			uint32_t cut = rnd(nr + 1);
			struct memx_io_result *g = (void *)((char *)my_guard + 4096 - cut * 8);

			memcpy(g, buf, cut * 8);
			c.results = (uintptr_t)g;
			ev(EV_GUARD_COMMIT);
		} else {
			c.results = (uintptr_t)buf;
		}
		t0 = now_ms();
		errno = 0;
		r = ioctl(q->fd, MEMX_IO_COMMIT, &c);
		err = errno;
		rec(OP_ENG_COMMIT, r, err);
		if (r > (int)nr) {
			VIOLATION("COMMIT of %u returned %d", nr, r);
			return -1;
		}
		if (r > 0) {
			q->last_ok = t0;	/* memx.ko's last_progress is later */
			for (k = 0; k < (uint32_t)r; k++) {
				struct ent *x = &e[i + k];

				add(&S->ev[EV_COMMIT_ENTRIES], 1);
				if (x->kind == K_JUNK)
					VIOLATION("junk commit taken: tag %u result %d (depth %u)", x->r.tag,
						  x->r.result, depth);
				else if (x->kind == K_DUP) {
					ev(EV_DUP_TAKEN);
					stolen[x->r.tag]++;
					q->steals++;
				} else if (x->kind == K_STRAY) {
					ev(EV_STRAY_TAKEN);
					stolen[x->r.tag]++;
					q->steals++;
				}
			}
			i += r;
			continue;
		}
		if (err == ENODEV || err == EBADF || err == EBADFD)
			return -1;	/* dead or closed under us */
		if (err == EFAULT && guard)
			continue;	/* retry from the same place without the guard */
		if (err == EFAULT) {
			VIOLATION("COMMIT of a valid array: EFAULT");
			return -1;
		}
		/* EINVAL: e[i] was refused. */
		if (e[i].kind == K_LEGIT && queue_dead(q)) {
			return -1;	/* died during the commit: abort took the tag */
		} else if (e[i].kind == K_LEGIT) {
			if (stolen[e[i].r.tag]) {
				stolen[e[i].r.tag]--;
				ev(EV_STOLEN_REJECT);
			} else if (!sv->clean && stolen_any(stolen, depth)) {
				ev(EV_STOLEN_REJECT);
			} else {
				VIOLATION("valid commit refused: memx%d q%u tag %u result %d: %s",
					  sv->p.dev_id, q->id, e[i].r.tag, e[i].r.result, strerror(err));
			}
		}
		i++;
	}
	return 0;
}

static void check_desc(struct serve *sv, struct squeue *q, uint32_t tag, const struct memx_io_desc *d)
{
	const struct memx_dev_params *p = &sv->p;
	int bad = 0;

	switch (d->op) {
	case MEMX_OP_READ:
	case MEMX_OP_WRITE:
		bad = !d->nr_bytes || d->nr_bytes % MEMX_BLOCK_SIZE || d->nr_bytes > p->max_io_bytes;
		break;
	case MEMX_OP_DISCARD:
		bad = !(p->flags & MEMX_F_DISCARD) || !d->nr_bytes || d->nr_bytes % MEMX_BLOCK_SIZE;
		break;
	case MEMX_OP_WRITE_ZEROES:
		bad = !(p->flags & MEMX_F_WRITE_ZEROES) || !d->nr_bytes ||
		      d->nr_bytes % MEMX_BLOCK_SIZE || d->nr_bytes > p->max_io_bytes;
		break;
	default:	/* FLUSH ends in the kernel; nothing else exists */
		bad = 1;
		break;
	}
	if (d->offset % MEMX_BLOCK_SIZE || d->offset > p->size_bytes ||
	    d->nr_bytes > p->size_bytes - d->offset)
		bad = 1;
	if (bad)
		VIOLATION("memx%d q%u tag %u: bad descriptor op %u bytes %u offset %llu (size %llu max_io %u flags %#llx)",
			  p->dev_id, q->id, tag, d->op, d->nr_bytes, (unsigned long long)d->offset,
			  (unsigned long long)p->size_bytes, p->max_io_bytes, (unsigned long long)p->flags);
}

static void shuffle(struct ent *e, int n)
{
	int i;

	for (i = n - 1; i > 0; i--) {
		int j = rnd(i + 1);
		struct ent t = e[i];

		e[i] = e[j];
		e[j] = t;
	}
}

static void *engine_thread(void *arg)
{
	struct squeue *q = arg;
	struct serve *sv = q->sv;
	const struct memx_queue_layout *l = &sv->l;
	uint8_t *area = q->map;
	struct memx_sq_ring *ring = (void *)(area + l->ring_offset);
	struct memx_io_desc *desc = (void *)(area + l->desc_offset);
	uint32_t depth = l->queue_depth, head = 0;
	static __thread struct held held[1024];
	static __thread struct ent e[2048];
	uint8_t stolen[MEMX_MAX_DEPTH] = { 0 };
	int nheld = 0, head_scribbled = 0, n = 0;
	int64_t last_scan = q->last_ok, lost = INT64_MAX;	/* lost: skipped ring slots */

	rng = q->seed | 1;
	my_guard = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (my_guard == MAP_FAILED || mprotect((char *)my_guard + 4096, 4096, PROT_NONE))
		my_guard = NULL;
	while (!q->stop) {
		struct pollfd pf = { .fd = q->fd, .events = POLLIN };
		uint32_t tail;
		int64_t now;
		int i, pr;

		pr = poll(&pf, 1, 10 + rnd(60));
		if (pr < 0 && errno != EINTR)
			break;
		if (pf.revents & POLLNVAL)
			break;	/* closed under us by the driver */
		if (pf.revents & (POLLERR | POLLHUP)) {
			ev(EV_DEAD_ENGINE_EXIT);
			break;
		}
		if (head_scribbled) {
			head_scribbled = 0;
			__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
		}
		now = now_ms();
		tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
		if (tail - head > l->ring_entries) {
			/* Committing tags it never read lets the kernel reissue them
			 * while their old slots are unread: the engine's own fault. */
			if (q->steals)
				ev(EV_RING_OVERFLOW);
			else
				VIOLATION("memx%d q%u: ring holds %u tags, ring_entries %u",
					  sv->p.dev_id, q->id, tail - head, l->ring_entries);
			if (lost == INT64_MAX)
				lost = last_scan;	/* the skipped tags are never committed */
			head = tail;
		}
		while (head != tail && n < 1900) {
			uint32_t tag = __atomic_load_n(&ring->tags[head & (l->ring_entries - 1)],
						       __ATOMIC_RELAXED);
			struct memx_io_desc d;
			int32_t result = 0;
			int x;

			head++;
			ev(EV_TAGS_SEEN);
			if (tag >= depth) {
				VIOLATION("memx%d q%u: tag %u in the ring, depth %u", sv->p.dev_id, q->id,
					  tag, depth);
				continue;
			}
			if (sv->clean)
				for (i = 0; i < nheld; i++)
					if (held[i].tag == tag)
						VIOLATION("memx%d q%u: tag %u in the ring again while the engine owns it",
							  sv->p.dev_id, q->id, tag);
			d = desc[tag];
			check_desc(sv, q, tag, &d);
			if (d.op == MEMX_OP_READ && d.nr_bytes <= l->buf_stride)
				fill_pattern(area + l->buf_offset + (uint64_t)tag * l->buf_stride,
					     d.offset, d.nr_bytes);
			x = rnd(100);
			if (x < 8) {
				result = -EIO;
				ev(EV_TAG_EIO);
			} else if (x < (sv->clean ? 10 : 12)) {
				static const int errs[] = { -ENOSPC, -EOPNOTSUPP, -ENOMEM, -ETIMEDOUT };

				result = chance(50) ? errs[rnd(4)] : -(int32_t)(1 + rnd(4095));
				ev(EV_TAG_ERRNO);
			} else {
				ev(EV_TAG_OK);
			}
			x = rnd(100);
			if (x < (sv->clean ? 3 : 5)) {	/* an invalid result first */
				e[n].r.tag = tag;
				e[n].r.result = chance(50) ? (int32_t)(1 + rnd(1000)) : -4096 - (int32_t)rnd(100000);
				e[n++].kind = K_JUNK;
				ev(EV_TAG_BADRES);
			} else if (x < (sv->clean ? 6 : 15) && nheld < 1000) {	/* late */
				held[nheld].tag = tag;
				held[nheld].result = result;
				held[nheld].since = last_scan;
				held[nheld++].due = now + 20 + rnd(800);
				ev(EV_TAG_LATE);
				continue;
			} else if (!sv->clean && x < 18 && nheld < 1000) {	/* never */
				held[nheld].tag = tag;
				held[nheld].result = result;
				held[nheld].since = last_scan;
				held[nheld++].due = INT64_MAX;
				ev(EV_TAG_NEVER);
				continue;
			}
			e[n].r.tag = tag;
			e[n].r.result = result;
			e[n].since = last_scan;
			e[n++].kind = K_LEGIT;
			if (!sv->clean && chance(7)) {
				e[n].r.tag = tag;
				e[n].r.result = chance(50) ? 0 : -EIO;
				e[n++].kind = K_DUP;
				ev(EV_TAG_DUP);
			}
		}
		last_scan = now;
		if (chance(97)) {
			__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
		} else {	/* the kernel only reads head for poll readiness */
			__atomic_store_n(&ring->head, (uint32_t)rnd64(), __ATOMIC_RELEASE);
			head_scribbled = 1;
			ev(EV_SCRIBBLE);
		}
		if (chance(3)) {
			__atomic_store_n(&ring->flags, (uint32_t)rnd64(), __ATOMIC_RELAXED);
			ev(EV_SCRIBBLE);
		} else if (chance(10)) {
			__atomic_store_n(&ring->flags, 0, __ATOMIC_RELAXED);
		}
		if (chance(2)) {	/* padding: nobody reads it */
			ring->pad1[rnd(14)] = (uint32_t)rnd64();
			ev(EV_SCRIBBLE);
		}
		/* Held tags that are due (all of them on release). */
		for (i = 0; i < nheld && n < 2000;) {
			if (q->release || held[i].due <= now) {
				e[n].r.tag = held[i].tag;
				e[n].r.result = held[i].result;
				e[n].since = held[i].since;
				e[n++].kind = K_LEGIT;
				held[i] = held[--nheld];
			} else {
				i++;
			}
		}
		note_hold(q, oldest_hold(lost, held, nheld, NULL, 0), now);
		if (chance(8) && n < 2040) {	/* junk: never taken */
			e[n].r.tag = chance(50) ? depth + rnd(1000) : 0xffffffffu - rnd(3);
			e[n].r.result = 0;
			e[n++].kind = K_JUNK;
			ev(EV_JUNK);
		}
		if (chance(4) && n < 2040) {
			e[n].r.tag = rnd(depth);
			e[n].r.result = chance(50) ? 1 + rnd(100) : INT32_MIN;
			e[n++].kind = K_JUNK;
			ev(EV_JUNK);
		}
		if (!sv->clean && chance(5) && n < 2040) {
			e[n].r.tag = rnd(depth);
			e[n].r.result = chance(50) ? 0 : -EIO;
			e[n++].kind = K_STRAY;
			ev(EV_STRAY);
		}
		if (!n)
			continue;
		if (chance(50))
			shuffle(e, n);
		if (engine_commit(q, e, n, stolen))
			break;
		n = 0;
	}
	if (!q->stop) {	/* the volume died (or the queue): what did it hold? */
		int64_t t = oldest_hold(lost, held, nheld, e, n);

		if (__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) != head && last_scan < t)
			t = last_scan;	/* tags it never read */
		note_hold(q, t, now_ms());
	}
	__atomic_store_n(&q->done, 1, __ATOMIC_SEQ_CST);
	if (my_guard)
		munmap(my_guard, 8192);
	return NULL;
}

/* ---- the I/O child ------------------------------------------------------ */

struct io_arg {
	struct serve *sv;
	int fd;
	int64_t until;
	uint64_t seed;
};

static void *io_thread(void *argp)
{
	struct io_arg *a = argp;
	const struct memx_dev_params *p = &a->sv->p;
	uint64_t blocks = p->size_bytes / 4096;
	size_t bufsz = 2 * (size_t)p->max_io_bytes;
	uint8_t *buf;

	rng = a->seed | 1;
	if (posix_memalign((void **)&buf, 4096, bufsz))
		return NULL;
	memset(buf, 0x5a, bufsz);
	while (now_ms() < a->until) {
		uint64_t off = 4096 * (uint64_t)rnd(blocks);
		size_t len = 4096 * (1 + rnd(bufsz / 4096));
		int k = rnd(100), e;
		long r;

		if (chance(3))
			off = p->size_bytes + 4096 * rnd(4);	/* at or past the end */
		if (chance(2))
			len = 512 * (1 + 2 * rnd(7));	/* not a multiple of the 4K block */
		if (k < 45) {
			struct iovec iov = { buf, len };
			int hipri = (p->flags & MEMX_F_POLL_QUEUES) && chance(40);

			errno = 0;
			r = preadv2(a->fd, &iov, 1, off, hipri ? RWF_HIPRI : 0);
			e = errno;
			rec(hipri ? OP_DISK_HIPRI : OP_DISK_READ, r, e);
			if (r > 0 && a->sv->clean && r % 8 == 0) {
				uint64_t *w = (uint64_t *)buf;
				long i;

				for (i = 0; i < r / 8; i++)
					if (w[i] != ((off + i * 8ULL) ^ PAT)) {
						VIOLATION("memx%d: read of %zu at %llu: word %ld is %#llx, want %#llx",
							  p->dev_id, len, (unsigned long long)off, i,
							  (unsigned long long)w[i],
							  (unsigned long long)((off + i * 8ULL) ^ PAT));
						break;
					}
				if (i == r / 8)
					ev(EV_READ_VERIFIED);
			}
		} else if (k < 85) {
			errno = 0;
			r = pwrite(a->fd, buf, len, off);
			e = errno;
			rec(OP_DISK_WRITE, r, e);
		} else if (k < 92) {
			uint64_t range[2] = { off, len * (1 + rnd(64)) };

			errno = 0;
			r = ioctl(a->fd, BLKDISCARD, range);
			e = errno;
			rec(OP_DISK_DISCARD, r, e);
		} else if (k < 97) {
			uint64_t range[2] = { off, len };

			errno = 0;
			r = ioctl(a->fd, BLKZEROOUT, range);
			e = errno;
			rec(OP_DISK_ZEROOUT, r, e);
		} else {
			errno = 0;
			r = fsync(a->fd);
			e = errno;
			rec(OP_DISK_FSYNC, r, e);
		}
	}
	free(buf);
	return NULL;
}

/* In a fresh child: drop the engine's fds and mappings, open the disk, do I/O. */
static void io_child(struct serve *sv, int ready_fd, int64_t until)
{
	struct io_arg a[3];
	pthread_t t[3];
	char path[32];
	unsigned int i;
	int fd, n = 1 + rnd(3), e;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(120);
	for (i = 0; i < sv->p.nr_queues; i++) {
		if (sv->q[i].map)
			munmap(sv->q[i].map, sv->l.total_bytes);
		if (sv->q[i].fd >= 0)
			close(sv->q[i].fd);
	}
	close(sv->owner);
	snprintf(path, sizeof(path), "/dev/" MEMX_DISK_NAME "%d", sv->p.dev_id);
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	e = errno;
	rec(OP_DISK_OPEN, fd, e);
	c = fd >= 0 ? 0 : (char)e;
	if (write(ready_fd, &c, 1) != 1 || fd < 0)
		_exit(fd < 0 ? 4 : 1);
	close(ready_fd);
	for (i = 0; i < (unsigned int)n; i++) {
		a[i].sv = sv;
		a[i].fd = fd;
		a[i].until = until;
		a[i].seed = rnd64();
		if (pthread_create(&t[i], NULL, io_thread, &a[i]))
			_exit(1);
	}
	for (i = 0; i < (unsigned int)n; i++)
		pthread_join(t[i], NULL);
	close(fd);
	_exit(0);
}

/* ---- the serve driver ---------------------------------------------------- */

static int wait_devnode(int id, int present, int ms)
{
	char path[32];
	int64_t end = now_ms() + ms;

	snprintf(path, sizeof(path), "/dev/" MEMX_DISK_NAME "%d", id);
	while (now_ms() < end) {
		if ((access(path, F_OK) == 0) == present)
			return 0;
		sleep_ms(20);
	}
	return -1;
}

static void join_engine(struct squeue *q)
{
	struct timespec ts;
	int r;

	if (!q->running)
		return;
	q->stop = 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	r = pthread_timedjoin_np(q->thread, NULL, &ts);
	if (r) {
		__atomic_add_fetch(&S->hangs, 1, __ATOMIC_RELAXED);
		out("HANG [pid %d seed %llu]: engine thread of memx%d q%u did not stop in 30 s",
		    getpid(), (unsigned long long)worker_seed, q->sv->p.dev_id, q->id);
		dump_stacks(getpid(), "engine thread stuck");
		pthread_detach(q->thread);
	}
	q->running = 0;
}

static void close_queue(struct squeue *q, int join_first)
{
	if (join_first)
		join_engine(q);
	/* The ring and buffers stay mapped while the engine thread that reads
	 * them runs: unmapping them under it crashes the engine (SIGSEGV in the
	 * worker), which tests nothing of memx. So the mapping may go before the
	 * close only once the thread is joined; otherwise the fd is closed with
	 * the mapping alive and the engine running, and it goes after the join. */
	if (q->map && !q->running && chance(50)) {
		munmap(q->map, q->sv->l.total_bytes);
		q->map = NULL;
	}
	if (q->fd >= 0) {
		if (q->map)
			ev(EV_CLOSE_WITH_MAP);
		xclose(q->fd);
		q->fd = -1;
	}
	join_engine(q);
	if (q->map) {
		munmap(q->map, q->sv->l.total_bytes);
		q->map = NULL;
	}
}

/* A child of the driver with the whole engine alive: pokes and dies. */
static void serve_fork(struct serve *sv)
{
	pid_t ppid = getpid();
	int pid, st, gone = 0;
	unsigned int i;

	pid = fork();
	rec(OP_FORK, pid, errno);
	if (pid < 0)
		return;
	if (pid == 0) {
		signal(SIGSEGV, fork_child_segv);
		signal(SIGBUS, fork_child_segv);
		alarm(10);
		if (!sv->deleted && !sv->dead && chance(50))	/* live, and the parent's own */
			gone = child_bind_foreign(sv->p.dev_id, rnd(sv->p.nr_queues), ppid, 1);
		for (i = 0; i < sv->p.nr_queues; i++)
			if (sv->q[i].map)
				child_check_dontcopy(sv->q[i].map);
		for (i = 0; i < sv->p.nr_queues; i++) {
			struct memx_io_result r = { .tag = sv->l.queue_depth + rnd(10), .result = 0 };
			struct memx_io_commit c = { .nr = 1, .results = (uintptr_t)&r };
			int ret;

			if (sv->q[i].map && chance(70))	/* not mapped here: SIGSEGV, exit 3 */
				touch_map(sv->q[i].map, &sv->l, PROT_READ);
			if (sv->q[i].fd >= 0 && chance(50)) {
				/* Junk only (out-of-range tag): never steals a real request. */
				errno = 0;
				ret = ioctl(sv->q[i].fd, MEMX_IO_COMMIT, &c);
				rec(OP_COMMIT, ret, errno);
				if (ret >= 0)
					VIOLATION("fork child: COMMIT of tag %u (depth %u) returned %d",
						  r.tag, sv->l.queue_depth, ret);
			}
		}
		if (chance(50))
			sleep_ms(rnd(300));
		_exit(gone ? 5 : 0);	/* 5: BIND got ENODEV, the parent judges */
	}
	if (chance(40)) {
		sleep_ms(rnd(100));
		kill(pid, SIGKILL);
	}
	if (!wait_bounded(pid, &st, 20000))
		reap_or_hang(pid, 0, "serve fork child");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 5 && !serve_died(sv))
		VIOLATION("BIND_QUEUE: fork child binds its parent's live memx%d: %s, want EPERM",
			  sv->p.dev_id, strerror(ENODEV));
	else
		soup_fork_reaped(st);
}

/* GET_INFO answered @info for our id: is it still our volume (not a new
 * one that took the released id)? */
static int info_is_ours(const struct serve *sv, const struct memx_dev_info *info)
{
	return info->state != MEMX_S_NEW && info->nr_queues == sv->p.nr_queues &&
	       info->queue_depth == sv->p.queue_depth && info->size_bytes == sv->p.size_bytes &&
	       info->max_io_bytes == sv->p.max_io_bytes;
}

/* After every fd is closed the volume must go: GET_INFO says ENODEV (or
 * the id now belongs to someone else's new volume). */
static void wait_volume_gone(struct serve *sv)
{
	int64_t end = now_ms() + 20000;
	int fd = open(CTL, O_RDWR | O_CLOEXEC);
	struct memx_dev_info info;

	if (fd < 0)
		return;
	for (;;) {
		int r = info_ioctl(fd, MEMX_CTRL_GET_INFO, sv->p.dev_id, &info, 0);

		if (r && errno == ENODEV)
			break;
		if (r == 0 && !info_is_ours(sv, &info))
			break;	/* reused by another volume */
		if (now_ms() > end) {
			VIOLATION("memx%d still exists 20 s after every fd closed: state %u open_count %u",
				  sv->p.dev_id, info.state, info.open_count);
			break;
		}
		sleep_ms(50);
	}
	close(fd);
}

/* DEL_DEV of the served volume from its owner fd; a success ends our ownership. */
static int serve_del(struct serve *sv, struct memx_dev_info *info, int *e)
{
	int r;

	errno = 0;
	if (sv->deleted) {
		r = info_ioctl(sv->owner, MEMX_CTRL_DEL_DEV, sv->p.dev_id, info, 0);
		*e = errno;
	} else {
		mine_begin();
		r = info_ioctl(sv->owner, MEMX_CTRL_DEL_DEV, sv->p.dev_id, info, 0);
		*e = errno;
		mine_end(sv->p.dev_id, r == 0 ? -1 : 0);
		if (r == 0)
			sv->deleted = 1;
	}
	rec(OP_DEL, r, *e);
	return r;
}

static void serve_close_owner(struct serve *sv)
{
	if (sv->deleted) {
		xclose(sv->owner);
		return;
	}
	mine_begin();
	xclose(sv->owner);
	owner_closed(sv->p.dev_id);
	mine_end(sv->p.dev_id, -1);
	sv->deleted = 1;	/* dead: no longer ours */
}

/* GET_INFO of the started, undeleted volume: live, or dead by the deadline. */
static void serve_check_info(struct serve *sv)
{
	struct memx_dev_info info;
	int r, e, gone;

	errno = 0;
	r = info_ioctl(sv->owner, MEMX_CTRL_GET_INFO, sv->p.dev_id, &info, 0);
	e = errno;
	rec(OP_INFO, r, e);
	if (!r && info.state == MEMX_S_LIVE && info_is_ours(sv, &info))
		return;
	gone = r ? e == ENODEV : info.state == MEMX_S_DEAD || !info_is_ours(sv, &info);
	if (gone && serve_died(sv))
		return;
	VIOLATION("serve: GET_INFO of live memx%d: ret %d (%s) state %u", sv->p.dev_id, r,
		  r ? strerror(e) : "ok", info.state);
}

static void serve_round(void)
{
	struct serve *sv = calloc(1, sizeof(*sv));
	struct memx_dev_info info;
	unsigned int i, order[MEMX_MAX_QUEUES];
	int unstarted = chance(8) ? 1 + rnd(2) : 0, skip_q = -1, io_pid = -1, r, e, pfd[2];
	int was_deleted, started = 0;
	int64_t io_until;
	char c;

	if (!sv)
		return;
	ev(EV_SERVE);
	heartbeat("serve");
	sv->p = valid_params(4, 10);
	sv->p.io_timeout_ms = 1000 + rnd(2001);
	sv->clean = chance(30);
	if (sv->clean)
		ev(EV_SERVE_CLEAN);
	for (i = 0; i < MEMX_MAX_QUEUES; i++) {
		sv->q[i].fd = -1;
		sv->q[i].sv = sv;
		sv->q[i].id = i;
		order[i] = i;
	}
	sv->owner = open(CTL, O_RDWR | O_CLOEXEC);
	rec(OP_OPEN, sv->owner, errno);
	if (sv->owner < 0) {
		free(sv);
		return;
	}
	errno = 0;
	mine_begin();
	r = ioctl(sv->owner, MEMX_CTRL_ADD_DEV, &sv->p);
	e = errno;
	mine_end(sv->p.dev_id, r == 0);
	rec(OP_ADD, r, e);
	if (r) {
		if (e != ENOSPC && e != ENOMEM)
			VIOLATION("serve: ADD_DEV of valid params: %s", strerror(e));
		close(sv->owner);
		free(sv);
		return;
	}
	for (i = sv->p.nr_queues - 1; i > 0; i--) {
		unsigned int j = rnd(i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	if (unstarted)
		skip_q = rnd(sv->p.nr_queues);
	for (i = 0; i < sv->p.nr_queues; i++) {
		struct squeue *q = &sv->q[order[i]];
		struct memx_queue_bind b = { .dev_id = sv->p.dev_id, .queue_id = q->id };
		struct memx_queue_layout l;

		if (unstarted == 1 && (int)q->id == skip_q)
			continue;
		q->fd = open(CTL, O_RDWR | O_CLOEXEC);
		rec(OP_OPEN, q->fd, errno);
		if (q->fd < 0)
			continue;
		q->last_ok = now_ms();	/* memx.ko's last_progress starts at the BIND */
		if (chance(5)) {
			errno = 0;
			r = ioctl(sv->owner, MEMX_IO_BIND_QUEUE, &b);
			e = errno;
			rec(OP_BIND, r, e);
			expect_err(OP_BIND, r, e, EBUSY, "BIND on the owner fd");
		}
		errno = 0;
		r = ioctl(q->fd, MEMX_IO_BIND_QUEUE, &b);
		e = errno;
		rec(OP_BIND, r, e);
		if (r) {
			VIOLATION("serve: BIND memx%d q%u: %s", sv->p.dev_id, q->id, strerror(e));
			continue;
		}
		if (chance(10)) {
			int fd2 = open(CTL, O_RDWR | O_CLOEXEC);

			errno = 0;
			r = ioctl(fd2, MEMX_IO_BIND_QUEUE, &b);
			e = errno;
			rec(OP_BIND, r, e);
			expect_err(OP_BIND, r, e, EBUSY, "BIND of a bound queue");
			close(fd2);
		}
		errno = 0;
		r = ioctl(q->fd, MEMX_IO_GET_LAYOUT, &l);
		e = errno;
		rec(OP_LAYOUT, r, e);
		if (r) {
			VIOLATION("serve: GET_LAYOUT: %s", strerror(e));
			continue;
		}
		check_layout(&l);
		if (l.queue_depth != sv->p.queue_depth || l.buf_stride != sv->p.max_io_bytes ||
		    (i > 0 && sv->l.total_bytes && memcmp(&l, &sv->l, sizeof(l))))
			VIOLATION("serve: layout of memx%d q%u does not match (depth %u stride %llu)",
				  sv->p.dev_id, q->id, l.queue_depth, (unsigned long long)l.buf_stride);
		sv->l = l;
		if (chance(20)) {
			size_t len = l.total_bytes + (chance(50) ? 4096 : -4096);
			int fl = chance(50) ? MAP_PRIVATE : MAP_SHARED;
			void *m;

			if (fl == MAP_PRIVATE)
				len = l.total_bytes;
			m = mmap(NULL, len, PROT_READ | PROT_WRITE, fl, q->fd, 0);
			e = errno;
			rec(OP_MMAP, m == MAP_FAILED ? -1 : 0, e);
			if (m != MAP_FAILED) {
				VIOLATION("serve: mmap len %zu (total %llu) %s succeeded", len,
					  (unsigned long long)l.total_bytes, fl == MAP_SHARED ? "shared" : "private");
				munmap(m, len);
			} else if (e != EINVAL) {
				VIOLATION("serve: bad mmap: %s, want EINVAL", strerror(e));
			}
		}
		q->map = mmap(NULL, l.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
		e = errno;
		rec(OP_MMAP, q->map == MAP_FAILED ? -1 : 0, e);
		if (q->map == MAP_FAILED) {
			VIOLATION("serve: mmap of memx%d q%u (%llu bytes): %s", sv->p.dev_id, q->id,
				  (unsigned long long)l.total_bytes, strerror(e));
			q->map = NULL;
		}
	}
	if (unstarted == 2) {	/* a queue fd closed (and unmapped) before START: the queue is dead */
		struct squeue *q = &sv->q[skip_q];

		if (q->map)
			munmap(q->map, sv->l.total_bytes);
		q->map = NULL;
		if (q->fd >= 0)
			xclose(q->fd);
		q->fd = -1;
	}
	errno = 0;
	r = info_ioctl(sv->owner, MEMX_CTRL_START_DEV, sv->p.dev_id, &info, 0);
	e = errno;
	rec(OP_START, r, e);
	if (unstarted) {
		ev(EV_TD_UNSTARTED);
		if (unstarted == 1)
			ev(EV_START_EAGAIN);
		else
			ev(EV_START_EIO);
		expect_err(OP_START, r, e, unstarted == 1 ? EAGAIN : EIO,
			   unstarted == 1 ? "START with a queue unbound" : "START with a queue fd closed");
		goto teardown;
	}
	if (r) {
		VIOLATION("serve: START memx%d: %s", sv->p.dev_id, strerror(e));
		goto teardown;
	}
	if (info.state != MEMX_S_LIVE)
		VIOLATION("serve: START memx%d: state %u", sv->p.dev_id, info.state);
	started = 1;
	share_id(sv->p.dev_id);	/* others may now try (and fail) to bind its queues */
	for (i = 0; i < sv->p.nr_queues; i++) {
		struct squeue *q = &sv->q[i];

		if (!q->map)
			continue;
		q->seed = rnd64();
		if (pthread_create(&q->thread, NULL, engine_thread, q) == 0)
			q->running = 1;
		else
			__atomic_store_n(&sv->may_die, 1, __ATOMIC_SEQ_CST);	/* unserved */
	}
	if (wait_devnode(sv->p.dev_id, 1, 10000)) {
		VIOLATION("serve: /dev/memx%d did not appear", sv->p.dev_id);
		goto teardown;
	}
	io_until = now_ms() + 1000 + rnd(5000);
	if (pipe2(pfd, O_CLOEXEC))
		goto teardown;
	io_pid = fork();
	rec(OP_FORK, io_pid, errno);
	if (io_pid == 0) {
		close(pfd[0]);
		rng = rnd64() | 1;
		io_child(sv, pfd[1], io_until);
	}
	close(pfd[1]);
	if (io_pid > 0) {
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };

		__atomic_store_n(&S->w[my_slot].io_pid, io_pid, __ATOMIC_RELAXED);
		if (poll(&pf, 1, 15000) != 1 || read(pfd[0], &c, 1) != 1) {
			VIOLATION("serve: I/O child did not open /dev/memx%d within 15 s", sv->p.dev_id);
			dump_stacks(io_pid, "I/O child opening the disk");
		} else if (c && !((c == ENXIO || c == ENOENT) && serve_died(sv))) {
			VIOLATION("serve: I/O child could not open /dev/memx%d: %s", sv->p.dev_id,
				  strerror(c));
		}
	}
	close(pfd[0]);

	/* The driver's own mischief while I/O runs. */
	while (now_ms() < io_until) {
		int k = rnd(100);

		sleep_ms(50 + rnd(400));
		heartbeat(NULL);
		if (k < 30) {
			serve_check_info(sv);
		} else if (k < 45) {
			r = serve_del(sv, &info, &e);
			if (r == 0) {
				siginfo_t si;

				/* Only possible once the I/O child closed the disk (and exits). */
				sleep_ms(300);
				memset(&si, 0, sizeof(si));
				if (io_pid > 0 && (waitid(P_PID, io_pid, &si, WEXITED | WNOHANG | WNOWAIT) ||
						   !si.si_pid))
					VIOLATION("serve: DEL_DEV of memx%d succeeded while the I/O child has it open",
						  sv->p.dev_id);
				break;
			}
			if (e == EBUSY)
				ev(EV_DEL_BUSY);
			else if (!((e == ENODEV || e == EBADFD) && serve_died(sv)))
				VIOLATION("serve: DEL_DEV of open memx%d: %s, want EBUSY", sv->p.dev_id,
					  strerror(e));
		} else if (k < 55) {
			errno = 0;
			r = info_ioctl(sv->owner, MEMX_CTRL_START_DEV, sv->p.dev_id, &info, 0);
			e = errno;
			rec(OP_START, r, e);
			if (!(r && (e == ENODEV || e == EBADFD) && serve_died(sv)))
				expect_err(OP_START, r, e, EBUSY, "START of a started volume");
		} else if (k < 70) {
			serve_fork(sv);
		}
	}

teardown:
	heartbeat("serve teardown");
	if (started && !sv->deleted)
		serve_check_info(sv);
	switch (unstarted ? -1 : (int)rnd(4)) {
	case 0:	/* graceful: commit what is held, let the I/O end, DEL */
		ev(EV_TD_GRACEFUL);
		for (i = 0; i < sv->p.nr_queues; i++)
			sv->q[i].release = 1;
		if (io_pid > 0) {
			reap_or_hang(io_pid, 25000, "I/O child (graceful teardown, all tags released)");
			io_pid = -1;
		}
		was_deleted = sv->deleted;
		r = serve_del(sv, &info, &e);
		if (was_deleted) {
			/* Deleted in the loop above: the id was released, and any
			 * ADD_DEV (another worker's, with dev_id -1: the lowest free
			 * id) may have it now. Ours: ENODEV; someone's: EBADFD. */
			if (r == 0)
				VIOLATION("serve: second DEL_DEV of memx%d succeeded", sv->p.dev_id);
			else if (e != ENODEV && e != EBADFD)
				VIOLATION("serve: DEL_DEV of deleted memx%d: %s, want ENODEV or EBADFD",
					  sv->p.dev_id, strerror(e));
		} else if (r && !((e == ENODEV || e == EBADFD) && serve_died(sv))) {
			VIOLATION("serve: DEL_DEV of memx%d after the I/O ended: %s", sv->p.dev_id,
				  strerror(e));
		}
		for (i = 0; i < sv->p.nr_queues; i++)
			close_queue(&sv->q[order[i]], chance(50));
		serve_close_owner(sv);
		break;
	case 1:	/* the owner first (engine death), maybe the I/O child killed too */
		ev(EV_TD_OWNER_FIRST);
		if (io_pid > 0 && chance(30))
			kill(io_pid, SIGKILL);
		serve_close_owner(sv);
		if (chance(50))
			sleep_ms(rnd(300));
		for (i = 0; i < sv->p.nr_queues; i++)
			close_queue(&sv->q[order[i]], chance(50));
		break;
	case 2:	/* queue fds first, in random order */
		ev(EV_TD_QUEUE_FIRST);
		for (i = 0; i < sv->p.nr_queues; i++) {
			close_queue(&sv->q[order[i]], chance(50));
			if (chance(30))
				sleep_ms(rnd(200));
		}
		if (chance(50))
			sleep_ms(rnd(300));
		serve_close_owner(sv);
		break;
	case 3:	/* kill the I/O child (it may sit in D on held tags), then die */
		ev(EV_TD_KILL_IO);
		if (io_pid > 0) {
			kill(io_pid, SIGKILL);
			sleep_ms(rnd(300));
		}
		if (chance(50)) {
			serve_close_owner(sv);
			for (i = 0; i < sv->p.nr_queues; i++)
				close_queue(&sv->q[order[i]], chance(50));
		} else {
			for (i = 0; i < sv->p.nr_queues; i++)
				close_queue(&sv->q[order[i]], chance(50));
			serve_close_owner(sv);
		}
		break;
	default:	/* never started */
		for (i = 0; i < sv->p.nr_queues; i++)
			close_queue(&sv->q[order[i]], 1);
		serve_close_owner(sv);
		break;
	}
	if (io_pid > 0)
		reap_or_hang(io_pid, 25000, "I/O child after its engine was torn down");
	__atomic_store_n(&S->w[my_slot].io_pid, 0, __ATOMIC_RELAXED);
	wait_volume_gone(sv);
	free(sv);
}

/* ---- workers and the parent --------------------------------------------- */

enum mode { M_MIX, M_SOUP, M_SERVE };

/* A worker that faults says where (the parent then reports the signal):
 * fault address, instruction pointer, what the worker was doing, and its
 * maps (for addr2line against the executable's base). Only
 * async-signal-safe calls, then the default action. */
static int fault_slot = -1;

static void worker_fault(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	char b[256], m[4096];
	ssize_t r;
	int n, fd;

	n = snprintf(b, sizeof(b), "FAULT [pid %d tid %ld seed %llu]: signal %d addr %p ip %#llx in %s\n",
		     getpid(), (long)gettid(), (unsigned long long)worker_seed, sig, si->si_addr,
		     (unsigned long long)uc->uc_mcontext.gregs[REG_RIP],
		     fault_slot >= 0 ? S->w[fault_slot].what : "?");
	if (n > 0 && write(1, b, n) < 0)
		goto out;
	fd = open("/proc/self/maps", O_RDONLY);
	while (fd >= 0 && (r = read(fd, m, sizeof(m))) > 0)
		if (write(1, m, r) < 0)
			break;
	if (fd >= 0)
		close(fd);
out:
	signal(sig, SIG_DFL);
	raise(sig);
}

static void worker_main(int slot, uint64_t seed, int64_t deadline, enum mode mode)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = worker_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	fault_slot = slot;
	my_slot = slot;
	worker_seed = seed;
	rng = seed | 1;
	signal(SIGPIPE, SIG_IGN);
	while (now_ms() < deadline) {
		heartbeat(NULL);
		if (mode == M_SOUP || (mode == M_MIX && chance(40)))
			soup_round();
		else
			serve_round();
	}
	_exit(0);
}

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static int spawn(int slot, uint64_t seed, int64_t deadline, enum mode mode)
{
	int pid = fork();

	if (pid == 0)
		worker_main(slot, seed, deadline, mode);
	if (pid > 0) {
		S->w[slot].pid = pid;
		S->w[slot].seed = seed;
		S->w[slot].io_pid = 0;
		S->w[slot].heartbeat = now_ms();
		if (verbose)
			out("worker %d: pid %d seed %llu", slot, pid, (unsigned long long)seed);
	}
	return pid;
}

static void print_stats(void)
{
	int i, k;

	out("kmod_fuzz: operations (calls, ok, errors by errno):");
	for (i = 0; i < NOPS; i++) {
		char line[1024];
		int n;

		if (!S->calls[i])
			continue;
		n = snprintf(line, sizeof(line), "  %-22s %8lu calls %8lu ok", op_name[i], S->calls[i],
			     S->ok[i]);
		for (k = 0; k < NERR && n < (int)sizeof(line) - 40; k++)
			if (S->err[i][k])
				n += snprintf(line + n, sizeof(line) - n, ", %s %lu",
					      k ? strerrorname_np(k) ? strerrorname_np(k) : "?" : "other",
					      S->err[i][k]);
		out("%s", line);
	}
	out("kmod_fuzz: events:");
	for (i = 0; i < NEV; i++)
		out("  %-45s %lu", ev_name[i], S->ev[i]);
}

static void usage(void)
{
	fprintf(stderr, "usage: kmod_fuzz [--seed S] [--seconds T] [--threads N] "
			"[--mode mix|soup|serve] [--no-kill] [--verbose] [--worker-seed W]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "no-kill", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "worker-seed", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t seed = 0, wseed = 0;
	int seconds = 60, nw = 4, dokill = 1, c, i, live, fd, st;
	enum mode mode = M_MIX;
	int64_t deadline, next_kill, end;
	unsigned int gen = 0;
	FILE *f;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atoi(optarg); break;
		case 'n': nw = atoi(optarg); break;
		case 'm':
			if (!strcmp(optarg, "mix")) mode = M_MIX;
			else if (!strcmp(optarg, "soup")) mode = M_SOUP;
			else if (!strcmp(optarg, "serve")) mode = M_SERVE;
			else usage();
			break;
		case 'k': dokill = 0; break;
		case 'v': verbose = 1; break;
		case 'w': wseed = strtoull(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind != argc || seconds < 1 || nw < 1 || nw > MAXW)
		usage();
	if (!seed)
		seed = mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	setvbuf(stdout, NULL, _IOLBF, 0);
	out("kmod_fuzz: seed %llu (--seed %llu --seconds %d --threads %d)", (unsigned long long)seed,
	    (unsigned long long)seed, seconds, nw);
	if (access(CTL, F_OK)) {
		out("SKIP: %s missing (memx.ko not loaded)", CTL);
		return 77;
	}
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	guard_page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED || guard_page == MAP_FAILED || mprotect((char *)guard_page + 4096, 4096, PROT_NONE)) {
		perror("kmod_fuzz: mmap");
		return 1;
	}
	S->max_dev_mem_mb = 1024;
	f = fopen("/sys/module/memx/parameters/max_dev_mem_mb", "r");
	if (f) {
		if (fscanf(f, "%u", &S->max_dev_mem_mb) != 1)
			S->max_dev_mem_mb = 1024;
		fclose(f);
	}
	for (i = 0; i < 16; i++)
		S->ids[i] = i % 4;
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	rng = seed | 1;
	deadline = now_ms() + (int64_t)seconds * 1000;
	for (i = 0; i < nw; i++)	/* --worker-seed: worker 0 starts with a seed printed by a run */
		spawn(i, i == 0 && wseed ? wseed : mix(seed + i), deadline, mode);
	next_kill = now_ms() + 3000 + rnd(7000);

	/* Supervise: reap, respawn, kill now and then, watch heartbeats. */
	for (;;) {
		int pid;

		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			for (i = 0; i < nw; i++) {
				if (S->w[i].pid != pid)
					continue;
				S->w[i].pid = 0;
				if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
					VIOLATION("worker %d (seed %llu) died of signal %d", i,
						  (unsigned long long)S->w[i].seed, WTERMSIG(st));
				else if (WIFEXITED(st) && WEXITSTATUS(st))
					VIOLATION("worker %d (seed %llu) exited %d", i,
						  (unsigned long long)S->w[i].seed, WEXITSTATUS(st));
				if (now_ms() < deadline - 2000)
					spawn(i, mix(seed + nw * (uint64_t)++gen + i), deadline, mode);
			}
		}
		live = 0;
		for (i = 0; i < nw; i++) {
			if (!S->w[i].pid)
				continue;
			live++;
			if (now_ms() - __atomic_load_n(&S->w[i].heartbeat, __ATOMIC_RELAXED) > 150000) {
				__atomic_add_fetch(&S->hangs, 1, __ATOMIC_RELAXED);
				out("HANG: worker %d pid %d (seed %llu) no heartbeat for 150 s in %s", i,
				    S->w[i].pid, (unsigned long long)S->w[i].seed, S->w[i].what);
				dump_stacks(S->w[i].pid, "worker");
				if (S->w[i].io_pid)
					dump_stacks(S->w[i].io_pid, "its I/O child");
				kill(S->w[i].pid, SIGKILL);
				S->w[i].heartbeat = now_ms();	/* report once per 150 s */
			}
		}
		if (now_ms() >= deadline && !live)
			break;
		if (now_ms() > deadline + 200000) {
			__atomic_add_fetch(&S->hangs, 1, __ATOMIC_RELAXED);
			out("HANG: %d workers still running 200 s after the deadline", live);
			for (i = 0; i < nw; i++)
				if (S->w[i].pid) {
					dump_stacks(S->w[i].pid, "late worker");
					kill(S->w[i].pid, SIGKILL);
				}
			break;
		}
		if (dokill && now_ms() >= next_kill && now_ms() < deadline - 3000) {
			i = rnd(nw);
			if (S->w[i].pid) {
				kill(S->w[i].pid, SIGKILL);
				ev(EV_WORKER_KILLED);
			}
			next_kill = now_ms() + 3000 + rnd(12000);
		}
		sleep_ms(50);
	}
	/* Every descendant (orphaned I/O and fork children come to us). */
	end = now_ms() + 30000;
	while (waitpid(-1, &st, WNOHANG) >= 0 || errno != ECHILD) {
		if (now_ms() > end) {
			__atomic_add_fetch(&S->hangs, 1, __ATOMIC_RELAXED);
			out("HANG: descendants still alive 30 s after the workers ended");
			break;
		}
		sleep_ms(20);
	}

	/* Every volume must be gone once every fd is closed. */
	fd = open(CTL, O_RDWR | O_CLOEXEC);
	end = now_ms() + 20000;
	for (i = 0; fd >= 0 && i < MEMX_MAX_DEVS;) {
		struct memx_dev_info info;

		if (info_ioctl(fd, MEMX_CTRL_GET_INFO, i, &info, 0) && errno == ENODEV) {
			i++;
			continue;
		}
		if (now_ms() > end) {
			VIOLATION("memx%d left after every fd closed: state %u open_count %u", i, info.state,
				  info.open_count);
			i++;
			continue;
		}
		sleep_ms(50);
	}
	if (fd >= 0)
		close(fd);
	print_stats();
	if (S->violations || S->hangs) {
		out("kmod_fuzz: FAIL (%d violations, %d hangs) seed %llu", S->violations, S->hangs,
		    (unsigned long long)seed);
		return S->hangs ? 2 : 1;
	}
	out("kmod_fuzz: PASS (seed %llu, %d s, %d workers)", (unsigned long long)seed, seconds, nw);
	return 0;
}
