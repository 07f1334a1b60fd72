/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket that memxctl talks to: one request line in, one answer
 * out (text, or one JSON document), of any length. Each role supplies the
 * function that answers.
 */
#ifndef MEMXD_CTL_H
#define MEMXD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct memxd_ctl;
struct json_object;

/* What a request line asks for. */
enum memxd_ctl_kind {
	MEMXD_CTL_UNKNOWN = 0,
	MEMXD_CTL_STATUS,	/* "status [--json] [--slabs]" */
	MEMXD_CTL_DONOR_DRAIN,	/* "donor drain ADDR" */
	MEMXD_CTL_DONOR_ADD,	/* "donor add ADDR[:PORT]" */
	MEMXD_CTL_RELOAD,	/* "reload": re-read the key file */
	MEMXD_CTL_VOLUME_DETACH,	/* "volume detach": hand the volume off (client) */
	MEMXD_CTL_VOLUME_FORGET_LOST,	/* "volume forget-lost": give lost slabs up (client) */
	MEMXD_CTL_VOLUME_REMOVE,	/* "volume remove NAME": as SIGTERM (client/remove.c) */
};

/* A parsed request line. Pointers point into the line. */
struct memxd_ctl_req {
	enum memxd_ctl_kind kind;
	/* status: "--json" or "--slabs" appears anywhere after "status" */
	bool json, slabs;
	/* status: nothing follows but those options, each once, each after one space */
	bool strict;
	/* donor drain, donor add, volume remove: the text after the command, as given */
	const char *arg;
	/* donor add: arg as ADDR[:PORT] */
	char host[MEMXD_HOST_MAX];
	uint16_t port;
};

/*
 * Parses a request line (without its newline). Returns 0, or -EINVAL with
 * out->kind MEMXD_CTL_UNKNOWN (no such request) or the request whose argument
 * is wrong (donor add with something that is not ADDR[:PORT]). Pure: the
 * control-socket handlers of both roles and the fuzzer call it.
 */
int memxd_ctl_parse(const char *line, struct memxd_ctl_req *out);

/*
 * Answers one request line ("status", "status --json", "donor drain ADDR", ...)
 * by writing a short text into out (memxd_ctl_reply), or by handing over an
 * answer of any length (memxd_ctl_reply_text, memxd_ctl_reply_json). Returns
 * 0, or -errno: the peer is then told "error: ..." instead, or
 * MEMXD_CTL_LATER: not now (the handler runs where the request must not
 * nest); out holds one "wait: ..." line for the peer, and the request is kept
 * and asked again by the next memxd_ctl_serve.
 */
typedef int (*memxd_ctl_fn)(void *arg, const char *request, char *out, size_t len);

#define MEMXD_CTL_LATER		1
/* Requests kept for later at most; one more is refused ("error: busy"). */
#define MEMXD_CTL_LATER_MAX	4

int memxd_ctl_open(const char *path, struct memxd_ctl **out);
int memxd_ctl_fd(const struct memxd_ctl *ctl);
/*
 * Answers whatever is waiting on the socket, with fn writing the answer. Each
 * peer gets 2 s to send its line and 5 s to read the whole answer; one that
 * is slower is cut off, so the calling thread is never held longer. Requests
 * kept for later are asked again first. Called from inside a handler (a slow
 * wait there serves aside), it does nothing.
 */
void memxd_ctl_serve(struct memxd_ctl *ctl, memxd_ctl_fn fn, void *arg);
/* Whether requests wait for a memxd_ctl_serve (kept by MEMXD_CTL_LATER); NULL: none. */
bool memxd_ctl_later(const struct memxd_ctl *ctl);
/* Closes the socket; requests still kept for later are told "error: memxd stopped ...". */
void memxd_ctl_close(struct memxd_ctl *ctl);

/* printf into a reply buffer. Returns 0, or -ENOSPC when it did not fit. */
int memxd_ctl_reply(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * For a handler: the answer is text (len bytes, malloc'd; taken, and freed
 * once sent), whatever is in out. out and len are the handler's arguments.
 * Returns 0, or -EINVAL (text freed) when out is not a buffer that
 * memxd_ctl_serve handed over.
 */
int memxd_ctl_reply_text(char *out, size_t len, char *text, size_t text_len);

/*
 * For a handler: the answer is doc, written whole on one line (json-c, plain,
 * "/" not escaped), whatever is in out. The reference is taken: doc is put
 * once sent. NULL (what a json-c constructor returns when out of memory)
 * gives -ENOMEM. Returns 0, -ENOMEM or -EINVAL, as memxd_ctl_reply_text.
 */
int memxd_ctl_reply_json(char *out, size_t len, struct json_object *doc);

/*
 * Building a JSON document with json-c: v is a new reference (NULL when its
 * constructor ran out of memory), taken in any case. A NULL o or v, or an add
 * that fails, makes *ok false: the document is then incomplete, and not to be
 * sent. key must be a string constant (it is not copied).
 */
void memxd_json_set(struct json_object *o, const char *key, struct json_object *v, bool *ok);
void memxd_json_push(struct json_object *array, struct json_object *v, bool *ok);

/* How memx writes a JSON document: plain (one line, no spaces), "/" as it is. */
#define MEMXD_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * memxctl's side of `status --json` asked of every memxd: appends one memxd's
 * answer (len bytes) to all, the JSON array memxctl prints. The element is
 * the document the answer holds, or null when the answer is not exactly one
 * JSON object (an "error: ..." line, an empty or cut answer): so the array is
 * valid JSON whatever each memxd said. Returns 0 (a document), -EREMOTEIO (an
 * "error:" answer; why is its first line) or -EBADMSG (why says what is
 * wrong), -ENOMEM when not even null could be appended.
 */
int memxd_ctl_collect_json(struct json_object *all, const char *answer, size_t len, char *why,
			   size_t why_len);

#endif /* MEMXD_CTL_H */
