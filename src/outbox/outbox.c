/* outbox/outbox.c: the delivery thread — claims due rows with a lease,
 * hands each to the deliverer of its kind, and records every outcome in
 * one transaction: delivered, retried after a backoff, or dead. */
#include "outbox/outbox.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

#define OUTBOX_KINDS_MAX 32
#define OUTBOX_ERROR_MAX 256

struct kind {
	const char *name;
	outbox_deliver_fn fn;            /* one row at a time, or */
	outbox_deliver_many_fn many;     /* up to `max` rows at once */
	size_t max;
	void *ctx;
	/* attempts recorded: delivered, to be retried, given up */
	atomic_ullong results[3];
};

struct outbox {
	struct store *store;
	struct outbox_options opts;
	struct kind kinds[OUTBOX_KINDS_MAX];
	size_t n_kinds;
	struct util_thread t;    /* its lock guards kicked */
	bool kicked;
};

/* One claimed row (strings owned) and its outcome, waiting to be recorded. */
struct delivery {
	struct store_outbox_item item;
	enum outbox_verdict verdict;
	bool handled;
	struct store_outbox_outcome outcome;
	char error[OUTBOX_ERROR_MAX];
};

/* The claimed batch being delivered. */
struct batch {
	struct outbox *ob;
	struct delivery *done;
	size_t n;
	int64_t now_ms;
};

int64_t outbox_backoff_ms(const struct outbox_options *o, int64_t attempt,
			  double random01)
{
	double ceiling = (double)o->initial_backoff_ms;

	for (int64_t i = 1; i < attempt && ceiling < (double)o->max_backoff_ms; i++)
		ceiling *= 2;
	if (ceiling > (double)o->max_backoff_ms)
		ceiling = (double)o->max_backoff_ms;
	return (int64_t)floor(ceiling * random01);
}

static double random01(void)
{
	uint64_t v = 0;

	util_random_bytes(&v, sizeof(v));
	return (double)(v >> 11) / 9007199254740992.0;  /* 2^53 */
}

static const struct kind *find_kind(const struct outbox *ob, const char *name)
{
	for (size_t i = 0; i < ob->n_kinds; i++)
		if (strcmp(ob->kinds[i].name, name) == 0)
			return &ob->kinds[i];
	return NULL;
}

static void log_failure(const struct store_outbox_item *it,
			const struct delivery *d)
{
	struct ops_log_line l;
	bool dead = d->outcome.status == STORE_OUTBOX_DEAD;

	if (!ops_log_begin(&l, dead ? OPS_LOG_ERROR : OPS_LOG_WARN,
			   dead ? "outbox_dead" : "outbox_retry"))
		return;
	ops_log_int(&l, "id", it->id);
	ops_log_str(&l, "kind", it->kind);
	ops_log_str(&l, "account", it->account_id);
	ops_log_int(&l, "attempts", it->attempts + 1);
	ops_log_str(&l, "error", d->error);
	if (!dead)
		ops_log_int(&l, "next_attempt_at_ms", d->outcome.next_attempt_at_ms);
	ops_log_end(&l);
}

/* store_outbox_fn: keeps a copy of a claimed row for delivery. */
static void collect(void *arg, const struct store_outbox_item *it)
{
	struct batch *b = arg;
	struct delivery *d = &b->done[b->n++];

	memset(d, 0, sizeof(*d));
	d->item = *it;
	d->item.kind = util_xstrdup(it->kind);
	d->item.dedupe_key = util_xstrdup(it->dedupe_key);
	d->item.account_id = it->account_id ? util_xstrdup(it->account_id) : NULL;
	d->item.payload = util_xstrdup(it->payload);
	d->item.request_id = it->request_id ? util_xstrdup(it->request_id) : NULL;
	d->outcome.id = it->id;
}

static void release(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free((char *)b->done[i].item.kind);
		free((char *)b->done[i].item.dedupe_key);
		free((char *)b->done[i].item.account_id);
		free((char *)b->done[i].item.payload);
		free((char *)b->done[i].item.request_id);
	}
	free(b->done);
}

/* Turns a delivery's verdict into the outcome recorded. */
static void settle(struct outbox *ob, struct delivery *d)
{
	enum outbox_verdict v = d->verdict;
	int64_t attempt = d->item.attempts + 1;

	if (v == OUTBOX_RETRY && attempt >= ob->opts.max_attempts)
		v = OUTBOX_DEAD;
	d->outcome.status = v == OUTBOX_DELIVERED ? STORE_OUTBOX_DELIVERED :
		v == OUTBOX_DEAD ? STORE_OUTBOX_DEAD : STORE_OUTBOX_PENDING;
	d->outcome.next_attempt_at_ms = v == OUTBOX_RETRY ? util_now_ms() +
		outbox_backoff_ms(&ob->opts, attempt, random01()) : 0;
	d->outcome.error = v == OUTBOX_DELIVERED ? NULL : d->error;
	if (v != OUTBOX_DELIVERED)
		log_failure(&d->item, d);
}

/* Delivers rows from `first` on of kind k that deliver together: up to
 * k->max of them, in claim order. */
static void deliver_many(struct batch *b, size_t first, const struct kind *k)
{
	size_t max = k->max ? k->max : 1, n = 0;
	struct delivery **group = util_xcalloc(max, sizeof(struct delivery *));
	struct store_outbox_item *items = util_xcalloc(max, sizeof(*items));
	enum outbox_verdict *verdicts = util_xcalloc(max, sizeof(*verdicts));
	char *errors = util_xcalloc(max, OUTBOX_ERROR_MAX);

	for (size_t i = first; i < b->n && n < max; i++) {
		if (b->done[i].handled || strcmp(b->done[i].item.kind, k->name) != 0)
			continue;
		group[n] = &b->done[i];
		items[n++] = b->done[i].item;
	}
	k->many(k->ctx, items, n, verdicts, errors, OUTBOX_ERROR_MAX);
	for (size_t i = 0; i < n; i++) {
		group[i]->handled = true;
		group[i]->verdict = verdicts[i];
		memcpy(group[i]->error, errors + i * OUTBOX_ERROR_MAX,
		       OUTBOX_ERROR_MAX);
		group[i]->error[OUTBOX_ERROR_MAX - 1] = '\0';
	}
	free(errors);
	free(verdicts);
	free(items);
	free(group);
}

/* Delivers every claimed row, each by its kind's deliverer. */
static void deliver_all(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct delivery *d = &b->done[i];
		const struct kind *k;

		if (d->handled)
			continue;
		k = find_kind(b->ob, d->item.kind);
		if (k && k->many) {
			deliver_many(b, i, k);
			continue;
		}
		d->handled = true;
		if (k) {
			util_trace_set(d->item.request_id);
			d->verdict = k->fn(k->ctx, &d->item, d->error,
					   sizeof(d->error));
			util_trace_set(NULL);
		} else {
			snprintf(d->error, sizeof(d->error), "nothing delivers "
				 "\"%s\" rows", d->item.kind);
			d->verdict = OUTBOX_RETRY;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		util_trace_set(b->done[i].item.request_id);
		settle(b->ob, &b->done[i]);
		util_trace_set(NULL);
	}
}

static int record_apply(struct store_tx *tx, void *arg)
{
	struct batch *b = arg;
	int64_t now = util_now_ms();

	for (size_t i = 0; i < b->n; i++) {
		int rc = store_tx_outbox_record(tx, &b->done[i].outcome, now);

		if (rc)
			return rc;
	}
	return STORE_OK;
}

/* Adds a recorded batch's outcomes to its kinds' counters. */
static void count_results(struct outbox *ob, const struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct delivery *d = &b->done[i];
		struct kind *k = (struct kind *)find_kind(ob, d->item.kind);
		int r = d->outcome.status == STORE_OUTBOX_DELIVERED ? 0 :
			d->outcome.status == STORE_OUTBOX_DEAD ? 2 : 1;

		if (k)
			atomic_fetch_add(&k->results[r], 1);
	}
}

void outbox_stats_each(struct outbox *ob, outbox_stat_fn fn, void *arg)
{
	static const char *const names[] = { "delivered", "retry", "dead" };

	for (size_t i = 0; ob && i < ob->n_kinds; i++)
		for (int r = 0; r < 3; r++)
			fn(arg, ob->kinds[i].name, names[r],
			   atomic_load(&ob->kinds[i].results[r]));
}

/* The soonest retry a batch scheduled, or INT64_MAX. */
static int64_t soonest_retry(const struct batch *b)
{
	int64_t at = INT64_MAX;

	for (size_t i = 0; i < b->n; i++)
		if (b->done[i].outcome.status == STORE_OUTBOX_PENDING &&
		    b->done[i].outcome.next_attempt_at_ms < at)
			at = b->done[i].outcome.next_attempt_at_ms;
	return at;
}

/* Claims, delivers and records one batch. Returns how many rows it
 * handled (a full batch means more may be due); *retry_at gets the
 * soonest retry it scheduled, *delivered whether it delivered any (rows
 * a claim held back behind a delivered one may be claimable now). */
static size_t run_batch(struct outbox *ob, int64_t *retry_at,
			bool *delivered)
{
	struct batch b = { .ob = ob, .now_ms = util_now_ms() };
	bool due = false;
	size_t n;

	if (store_outbox_due(ob->store, b.now_ms, &due) || !due)
		return 0;
	b.done = util_xcalloc((size_t)ob->opts.batch, sizeof(*b.done));
	if (store_outbox_claim(ob->store, b.now_ms, ob->opts.lease_ms,
			       ob->opts.batch, collect, &b) == STORE_OK && b.n) {
		deliver_all(&b);
		*retry_at = soonest_retry(&b);
		for (size_t i = 0; i < b.n; i++)
			if (b.done[i].outcome.status == STORE_OUTBOX_DELIVERED)
				*delivered = true;
		if (store_run(ob->store, record_apply, &b) != STORE_OK)
			/* the leases lapse and the rows are delivered again */
			ops_log(OPS_LOG_ERROR, "outbox_record_failed", "%zu "
				"delivery outcome(s) not recorded", b.n);
		else
			count_results(ob, &b);
	}
	n = b.n;
	release(&b);
	return n;
}

static void *run(void *arg)
{
	struct outbox *ob = arg;
	struct timespec until;

	pthread_mutex_lock(&ob->t.lock);
	while (!util_thread_stopping(&ob->t)) {
		int64_t retry_at = INT64_MAX, wait = ob->opts.poll_ms;
		size_t handled;
		bool delivered = false;

		ob->kicked = false;
		pthread_mutex_unlock(&ob->t.lock);
		handled = run_batch(ob, &retry_at, &delivered);
		pthread_mutex_lock(&ob->t.lock);
		if (handled == (size_t)ob->opts.batch || delivered ||
		    ob->kicked || util_thread_stopping(&ob->t))
			continue;
		/* a retry due before the next poll is not kept waiting */
		if (retry_at != INT64_MAX && retry_at - util_now_ms() < wait)
			wait = retry_at - util_now_ms() > 0 ?
			       retry_at - util_now_ms() : 0;
		util_deadline_in(&until, (int)wait);
		pthread_cond_timedwait(&ob->t.wake, &ob->t.lock, &until);
	}
	pthread_mutex_unlock(&ob->t.lock);
	return NULL;
}

static int64_t or_default(int64_t v, int64_t def)
{
	return v > 0 ? v : def;
}

struct outbox *outbox_new(struct store *st, const struct outbox_options *opts)
{
	struct outbox *ob = util_xcalloc(1, sizeof(*ob));

	ob->store = st;
	ob->opts.initial_backoff_ms = or_default(opts->initial_backoff_ms, 1000);
	ob->opts.max_backoff_ms = or_default(opts->max_backoff_ms, 300000);
	ob->opts.max_attempts = or_default(opts->max_attempts, 20);
	ob->opts.lease_ms = or_default(opts->lease_ms, 60000);
	ob->opts.poll_ms = or_default(opts->poll_ms, 1000);
	ob->opts.batch = opts->batch > 0 ? opts->batch : 64;
	util_thread_init(&ob->t);
	return ob;
}

void outbox_register(struct outbox *ob, const char *kind, outbox_deliver_fn fn,
		     void *ctx)
{
	UTIL_ASSERT(!ob->t.started && ob->n_kinds < OUTBOX_KINDS_MAX &&
		    !find_kind(ob, kind));
	struct kind *k = &ob->kinds[ob->n_kinds++];

	k->name = kind;
	k->fn = fn;
	k->ctx = ctx;
}

void outbox_register_many(struct outbox *ob, const char *kind,
			  outbox_deliver_many_fn fn, void *ctx, size_t max)
{
	UTIL_ASSERT(!ob->t.started && ob->n_kinds < OUTBOX_KINDS_MAX &&
		    !find_kind(ob, kind) && max >= 1);
	struct kind *k = &ob->kinds[ob->n_kinds++];

	k->name = kind;
	k->many = fn;
	k->max = max;
	k->ctx = ctx;
}

static int unlease_apply(struct store_tx *tx, void *arg)
{
	return store_tx_outbox_unlease(tx, arg);
}

int outbox_start(struct outbox *ob)
{
	int64_t unleased = 0;

	/* rows a crashed run was delivering are due now, not in lease_ms */
	if (store_run(ob->store, unlease_apply, &unleased) == STORE_OK &&
	    unleased > 0)
		ops_log(OPS_LOG_INFO, "outbox_unleased", "%lld delivery(ies) "
			"in hand when grantd last stopped are due again",
			(long long)unleased);
	return util_thread_start(&ob->t, "grantd-outbox", run, ob);
}

void outbox_kick(struct outbox *ob)
{
	pthread_mutex_lock(&ob->t.lock);
	ob->kicked = true;
	pthread_cond_signal(&ob->t.wake);
	pthread_mutex_unlock(&ob->t.lock);
}

void outbox_free(struct outbox *ob)
{
	if (!ob)
		return;
	util_thread_stop(&ob->t);
	free(ob);
}
