// SPDX-License-Identifier: GPL-2.0
/*
 * The ublk keeper's --io-deadline (client/ublk_window.h): when an engine is
 * stuck (holds requests, finished none for the deadline), and that the
 * forked keeper really SIGKILLs such an engine, even a stopped one, and
 * leaves an idle or working one alone.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/ublk_window.h"

Test(ublk_stall, idle_engine_is_never_stuck)
{
	struct memxd_ublk_stall s = { 0, 100 };

	for (uint64_t t = 100; t < 200; t += 10)
		cr_assert_not(memxd_ublk_stalled(&s, 0, 7, t, 10));
}

Test(ublk_stall, held_without_progress_for_the_deadline)
{
	struct memxd_ublk_stall s = { 0, 100 };

	cr_assert_not(memxd_ublk_stalled(&s, 0, 5, 100, 10));	/* idle until 100 */
	cr_assert_not(memxd_ublk_stalled(&s, 3, 5, 101, 10));
	cr_assert_not(memxd_ublk_stalled(&s, 3, 5, 109, 10));
	cr_assert(memxd_ublk_stalled(&s, 3, 5, 110, 10));
}

Test(ublk_stall, progress_restarts_the_clock)
{
	struct memxd_ublk_stall s = { 0, 100 };

	cr_assert_not(memxd_ublk_stalled(&s, 3, 0, 105, 10));
	cr_assert_not(memxd_ublk_stalled(&s, 3, 1, 109, 10));	/* one finished at 109 */
	cr_assert_not(memxd_ublk_stalled(&s, 3, 1, 118, 10));
	cr_assert(memxd_ublk_stalled(&s, 3, 1, 119, 10));
}

Test(ublk_stall, no_deadline_never_kills)
{
	struct memxd_ublk_stall s = { 0, 0 };

	cr_assert_not(memxd_ublk_stalled(&s, 3, 0, 1000000, 0));
}

/*
 * A fake engine: starts its keeper (deadline 1 s), names a device, holds
 * `held` requests and then stops itself (SIGSTOP) or sleeps while finishing
 * one request a tenth of a second. Returns how it ended within limit_s:
 * the signal that killed it, or 0 if it was still alive (then killed here).
 */
static int run_engine(uint64_t held, bool stop, bool progress, unsigned int limit_s)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		struct memxd_ublk_keeper k;

		if (memxd_ublk_keeper_start(&k, "unit", 1, 0))
			_exit(2);
		memxd_ublk_window_watch(&k, 4242);	/* no such device: no sysfs count */
		atomic_store(&k.progress->q[1].taken, held);
		if (stop)
			raise(SIGSTOP);
		for (;;) {
			usleep(100000);
			if (progress) {
				atomic_fetch_add(&k.progress->q[1].taken, 1);
				atomic_fetch_add(&k.progress->q[1].done, 1);
			}
		}
	}
	for (unsigned int i = 0; i < limit_s * 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		cr_assert_geq(r, 0);
		if (r == pid)
			return WIFSIGNALED(status) ? WTERMSIG(status) : -WEXITSTATUS(status);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return 0;
}

Test(ublk_keeper, kills_a_stopped_engine_that_holds_requests)
{
	cr_assert_eq(run_engine(2, true, false, 4), SIGKILL,
		     "the keeper did not kill a stopped engine holding requests");
}

Test(ublk_keeper, leaves_an_idle_or_working_engine_alone)
{
	cr_assert_eq(run_engine(0, true, false, 3), 0, "an idle engine was killed");
	cr_assert_eq(run_engine(2, false, true, 3), 0, "an engine making progress was killed");
}
