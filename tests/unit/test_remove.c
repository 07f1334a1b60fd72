// SPDX-License-Identifier: GPL-2.0
/*
 * memxctl volume remove NAME, the engine's side (daemon/client/remove.c,
 * compiled in): its own volume's name raises SIGTERM in the process, so that
 * the removal takes SIGTERM's path (which refuses while the volume is open);
 * another name raises nothing and answers an error.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "../../daemon/client/remove.c"

static sigset_t term;

/* SIGTERM blocked, as memxd blocks it for its signalfd: it stays pending for the test. */
static void setup(void)
{
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &term, NULL), 0);
}

static bool term_pending(void)
{
	sigset_t pending;

	cr_assert_eq(sigpending(&pending), 0);
	return sigismember(&pending, SIGTERM);
}

TestSuite(remove, .init = setup);

Test(remove, own_volume_raises_sigterm)
{
	struct memxd_client *c = calloc(1, sizeof(*c));
	char out[256] = "";

	cr_assert(c);
	strcpy(c->opt.name, "swap0");
	c->dev_id = 3;
	cr_expect_not(term_pending());
	cr_expect_eq(memxd_client_ctl_remove(c, "swap0", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "removing volume swap0 (/dev/memx3)\n");
	cr_expect(term_pending(), "SIGTERM's path does the removal");
	free(c);
}

Test(remove, other_volume_refused)
{
	struct memxd_client *c = calloc(1, sizeof(*c));
	char out[256] = "";

	cr_assert(c);
	strcpy(c->opt.name, "swap0");
	cr_expect_eq(memxd_client_ctl_remove(c, "swap", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "error: this memxd serves volume swap0, not swap\n");
	cr_expect_not(term_pending(), "no SIGTERM for another volume's name");
	free(c);
}
