/* outbound: the HTTP requests grantd makes (to providers, and later to game
 * backends), all on one libcurl multi event loop thread — no thread per
 * call — each with its own timeout and response cap, TLS verified. */
#ifndef GRANTD_OUTBOUND_H
#define GRANTD_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a request ended. */
enum outbound_error {
	OUTBOUND_OK,         /* an HTTP answer arrived (whatever its status) */
	OUTBOUND_TIMEOUT,    /* no full answer within timeout_ms */
	OUTBOUND_TOO_LARGE,  /* the answer passed max_response_bytes */
	OUTBOUND_CONNECT,    /* no connection: refused, unresolved, TLS refused */
	OUTBOUND_FAILED,     /* anything else: a reset, a malformed answer */
	OUTBOUND_CLOSED,     /* the loop was stopping: abandoned */
};

/* "ok", "timeout", "too_large", "connect", "failed", "closed" (static). */
const char *outbound_error_name(enum outbound_error e);

#define OUTBOUND_HEADERS_MAX 8
#define OUTBOUND_MESSAGE_MAX 160

/* What came back. Everything is borrowed for the duration of `done`. */
struct outbound_response {
	enum outbound_error error;
	long status;                 /* the HTTP status; 0 unless OUTBOUND_OK */
	const char *body;            /* NUL-terminated (may hold NULs); "" if none */
	size_t len;
	const char *retry_after;     /* the Retry-After header, or NULL */
	const char *ratelimit_reset; /* the Ratelimit-Reset header, or NULL */
	const char *message;         /* what went wrong, for logs; never a URL's
				      * query or a header value */
	int64_t duration_us;
};

/* A request. Everything is copied by outbound_submit. */
struct outbound_request {
	/* who is called, for metrics: a static string ("twitch", "gamepot");
	 * NULL counts as "other" */
	const char *peer;
	const char *method;          /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *url;             /* http or https only; redirects not followed */
	const char *headers[OUTBOUND_HEADERS_MAX + 1]; /* "Name: value", NULL-ended */
	const char *body;            /* NULL: none */
	size_t body_len;
	long timeout_ms;             /* whole exchange; > 0 */
	size_t max_response_bytes;   /* > 0 */
	/* Runs once, on the loop thread; keep it short. */
	void (*done)(const struct outbound_response *r, void *arg);
	void *arg;
};

/* The event loop: one thread, one libcurl multi handle. */
struct outbound;

/* Starts the loop. Returns 0 and a new loop in *out (owned), or -1 with a
 * message in *err (owned by the caller). */
int outbound_new(struct outbound **out, char **err);
/* Stops the loop: requests queued or in flight end with OUTBOUND_CLOSED
 * (their done runs before this returns), and later submissions are
 * refused; the loop stays valid until outbound_free. Accepts NULL. */
void outbound_stop(struct outbound *o);
/* Stops the loop if still running and frees it. Accepts NULL. */
void outbound_free(struct outbound *o);

/* Queues a request. Returns 0, or -1 if the loop is stopping (done is
 * then not called). */
int outbound_submit(struct outbound *o, const struct outbound_request *r);

/* Requests answered since start, by peer and by result: the HTTP status
 * ("200", "503") or how it failed ("timeout", "connect", "failed",
 * "too_large", "closed"). fn gets static or short-lived strings, under a
 * lock: keep it short. */
typedef void (*outbound_stat_fn)(void *arg, const char *peer,
				 const char *result, uint64_t count);
void outbound_stats_each(outbound_stat_fn fn, void *arg);

/* An answer kept beyond done, in storage of its own. */
struct outbound_result {
	enum outbound_error error;
	long status;
	char *body;                  /* owned, NUL-terminated; "" if none */
	size_t len;
	char *retry_after;           /* owned or NULL */
	char *ratelimit_reset;       /* owned or NULL */
	char message[OUTBOUND_MESSAGE_MAX];
	int64_t duration_us;
};

/* Sends `n` requests at once and waits until every one has ended; their
 * `done` and `arg` are ignored. results[i] answers reqs[i]; release each
 * with outbound_result_release. */
void outbound_run(struct outbound *o, const struct outbound_request *reqs,
		  struct outbound_result *results, size_t n);
void outbound_result_release(struct outbound_result *r);

/* Writes `url` without its query string or user info into out (for
 * logs: Steam's key travels in the query). */
void outbound_url_for_log(const char *url, char *out, size_t size);

#endif
