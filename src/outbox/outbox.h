/* outbox: delivers the side effects written to the store's outbox (in the
 * transaction of the change they follow) — consumption reports to
 * providers, and later webhooks — after commit, at least once, retrying
 * failures with exponential backoff and full jitter until they are
 * delivered or given up as dead. */
#ifndef GRANTD_OUTBOX_H
#define GRANTD_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What a delivery came to. */
enum outbox_verdict {
	OUTBOX_DELIVERED,   /* done: never tried again */
	OUTBOX_RETRY,       /* failed for now: tried again after a backoff */
	OUTBOX_DEAD,        /* can never succeed: given up at once */
};

/* Delivers one row; runs on the outbox thread and may block (on outbound
 * requests, say). Writes what went wrong into error (`size` bytes) unless
 * it delivered. Must be idempotent: a row may be delivered again after a
 * crash between the delivery and its record. */
typedef enum outbox_verdict (*outbox_deliver_fn)(void *ctx,
						 const struct store_outbox_item *it,
						 char *error, size_t size);

/* Delivers `n` rows of one kind at once (a provider call that takes many):
 * sets verdicts[i] for items[i], and unless delivered writes why into
 * errors + i * size. The same rules as outbox_deliver_fn apply. */
typedef void (*outbox_deliver_many_fn)(void *ctx,
				       const struct store_outbox_item *items,
				       size_t n, enum outbox_verdict *verdicts,
				       char *errors, size_t size);

struct outbox_options {
	int64_t initial_backoff_ms;  /* the first retry's ceiling; default 1000 */
	int64_t max_backoff_ms;      /* the largest ceiling; default 300000 */
	int64_t max_attempts;        /* then dead; default 20 */
	int64_t lease_ms;            /* a claim lapses after this; default 60000 */
	int64_t poll_ms;             /* when nothing wakes it; default 1000 */
	int batch;                   /* rows claimed at once; default 64 */
};

struct outbox;

/* Creates a stopped outbox over `st` (borrowed; must outlive it). Returns
 * a new outbox (owned). Unset options take their defaults. */
struct outbox *outbox_new(struct store *st, const struct outbox_options *opts);
/* Names who delivers rows of `kind` (both borrowed, static). Before
 * outbox_start only. A row whose kind has no deliverer is retried like a
 * failure ("nothing delivers …"). */
void outbox_register(struct outbox *ob, const char *kind, outbox_deliver_fn fn,
		     void *ctx);
/* Like outbox_register, for a deliverer that takes up to `max` rows of
 * `kind` per call. */
void outbox_register_many(struct outbox *ob, const char *kind,
			  outbox_deliver_many_fn fn, void *ctx, size_t max);
/* Starts the delivery thread, first ending the leases a crashed run left
 * (this process is the only one delivering from its store). Returns 0 or
 * -1. */
int outbox_start(struct outbox *ob);
/* Asks the thread to look for due rows now (after a commit that added
 * some); otherwise it looks every poll_ms. Thread-safe. */
void outbox_kick(struct outbox *ob);
/* Stops the thread after the delivery in hand and frees the outbox; rows
 * not delivered stay pending for the next start. Accepts NULL. */
void outbox_free(struct outbox *ob);

/* Delivery attempts recorded since start, for each registered kind and
 * result ("delivered", "retry": failed and scheduled again, "dead": given
 * up). Strings are borrowed for the call. Accepts a NULL outbox. */
typedef void (*outbox_stat_fn)(void *arg, const char *kind,
			       const char *result, uint64_t count);
void outbox_stats_each(struct outbox *ob, outbox_stat_fn fn, void *arg);

/* The delay before retry `attempt` (1 for the first retry): a uniform
 * random duration up to min(max, initial × 2^(attempt − 1)) — "full
 * jitter" — with `random01` in [0, 1). */
int64_t outbox_backoff_ms(const struct outbox_options *o, int64_t attempt,
			  double random01);

#endif
