/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the libFuzzer harnesses of tests/fuzz/: one file per target, each
 * an LLVMFuzzerTestOneInput() that feeds a decoder or parser and checks what
 * it promises (round trips, bounds, agreement with a reference), calling
 * abort() on a broken promise so that the fuzzer keeps the input.
 */
#ifndef MEMX_FUZZ_H
#define MEMX_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Where check failures go: the real stderr, even once a harness has silenced stderr. */
static FILE *fuzz_err;

#define FUZZ_CHECK(cond)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(fuzz_err ? fuzz_err : stderr, "%s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond);                              \
			abort();                                                         \
		}                                                                        \
	} while (0)

/* A NUL-terminated copy of the input, in a buffer of exactly size + 1 bytes. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * The product's stderr (the CLI parsers explain every refusal) goes to
 * /dev/null; libFuzzer keeps the FILE it took at start-up and sanitizers
 * write to fd 2, so their reports still show.
 */
static inline void fuzz_quiet_stderr(void)
{
	FILE *null = fopen("/dev/null", "w");

	fuzz_err = stderr;
	if (null)
		stderr = null;
}

/* The CLI harnesses: at most this many arguments after argv[0]. */
#define FUZZ_MAX_ARGS 40

/*
 * Splits the input on NUL bytes into argv[1..] (argv[0] is argv0), each
 * string in its own allocation of exactly its size, argv[argc] NULL. argv
 * has room for FUZZ_MAX_ARGS + 2. Returns argc, or -1 for an input with an
 * argument starting with "--h": --help and its abbreviations print the usage
 * and exit(0), which would end the fuzzer.
 */
static inline int fuzz_argv(const uint8_t *data, size_t size, const char *argv0, char **argv)
{
	int argc = 0;

	argv[argc++] = fuzz_string((const uint8_t *)argv0, strlen(argv0));
	while (size && argc <= FUZZ_MAX_ARGS) {
		const uint8_t *nul = memchr(data, 0, size);
		size_t n = nul ? (size_t)(nul - data) : size;

		argv[argc++] = fuzz_string(data, n);
		if (!strncmp(argv[argc - 1], "--h", 3)) {
			argv[argc] = NULL;
			while (argc)
				free(argv[--argc]);
			return -1;
		}
		data += n + !!nul;
		size -= n + !!nul;
	}
	argv[argc] = NULL;
	return argc;
}

static inline void fuzz_argv_free(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		free(argv[i]);
}

#endif /* MEMX_FUZZ_H */
