/* store/writer.c: the writer thread and group commit, for any driver.
 *
 * The writer keeps one write transaction open and applies intents as they
 * arrive. It commits when the driver says a commit is due (for SQLite:
 * the syncer, sqlite/syncer.c, is free to make it durable) or when the batch
 * reaches batch_max; then it hands the batch to the driver, which answers
 * it once it is durable, and opens the next one. So every request joins
 * the very next commit, a commit gathers everything that arrived while the
 * previous one was being made durable, and at low load the writer commits
 * at once: no artificial delay. Everything it does to the database goes
 * through the driver's store_writer_ops (begin, commit, savepoints).
 *
 * Intents run straight in the transaction, without savepoints (a savepoint
 * costs: SQLite copies each page an intent touches to a sub-journal first).
 * If one fails, the batch is rolled back, its intents are applied again each
 * in its own savepoint, and the batch stays careful until its commit: only
 * the failing intents are undone.
 *
 * A driver whose database serialises writers itself (PostgreSQL) runs
 * several writer threads on one queue, each with its own connection: one
 * gathers a batch while another waits for its commit. When a failure is
 * transient (a lost connection, a deadlock, a failover), the whole batch
 * is rolled back and run again from the start, a bounded number of times;
 * an intent is answered only once its commit is confirmed. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/ops.h"

/* The batch being built in the open transaction. */
struct batch {
	struct store_intent *head;
	struct store_intent *tail;
	size_t n;
	bool careful;   /* every intent in its own savepoint */
	bool broken;    /* the transaction failed: nothing will be committed */
	bool transient; /* ...by a fault after which running it again may work */
};

/* Runs of a batch after its first, on transient faults, and the pause
 * before the first of them (doubled each time: 25, 50, … 800 ms, about
 * 1.5 s in all, longer than a database restart or a failover's
 * reconnection usually takes to start answering). */
#define RETRIES_MAX 6
#define RETRY_PAUSE_US 25000

static bool transient(struct store *st, struct store_tx *tx)
{
	return st->writer_ops->transient && st->writer_ops->transient(tx);
}

/* Nonzero if a write sent earlier in tx failed (see store_writer_ops). */
static int settle(struct store *st, struct store_tx *tx)
{
	return st->writer_ops->settle ? st->writer_ops->settle(tx) : 0;
}

/* Detaches up to `limit` queued intents (a NULL-terminated list) or NULL.
 * Called with the lock held. */
static struct store_intent *take_queued(struct store_writer *w, size_t limit)
{
	struct store_intent *head = w->head, *last = head;
	size_t count = 1;

	if (!head || limit == 0)
		return NULL;
	while (last->next_ && count < limit) {
		last = last->next_;
		count++;
	}
	w->head = last->next_;
	if (!w->head)
		w->tail = NULL;
	last->next_ = NULL;
	w->queued -= count;
	return head;
}

/* A batch's intents by order_key (none first), arrival order among equal
 * keys. */
struct keyed {
	struct store_intent *in;
	size_t seq;
};

static int by_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	const char *kx = x->in->order_key, *ky = y->in->order_key;
	int c = kx && ky ? strcmp(kx, ky) : (kx != NULL) - (ky != NULL);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct store_intent *sort_by_key(struct store_intent *list)
{
	struct keyed *v;
	size_t n = 0, i = 0;

	for (struct store_intent *in = list; in; in = in->next_)
		n++;
	if (n < 2)
		return list;
	v = util_xcalloc(n, sizeof(*v));
	for (struct store_intent *in = list; in; in = in->next_, i++)
		v[i] = (struct keyed){ in, i };
	qsort(v, n, sizeof(*v), by_key);
	for (i = 0; i + 1 < n; i++)
		v[i].in->next_ = v[i + 1].in;
	v[n - 1].in->next_ = NULL;
	list = v[0].in;
	free(v);
	return list;
}

/* Applies an intent, its request's id set on the thread meanwhile (log
 * lines and outbox rows name it). */
static int apply_one(struct store_tx *tx, struct store_intent *in)
{
	int rc;

	util_trace_set(in->trace_);
	rc = in->apply(tx, in);
	util_trace_set(NULL);
	return rc;
}

/* Runs one intent in its own savepoint; its result goes to in->rc_.
 * Returns -1 if the transaction itself is broken. */
static int run_intent(struct store *st, struct store_tx *tx,
		      struct store_intent *in)
{
	const struct store_writer_ops *ops = st->writer_ops;

	if (ops->savepoint(tx))
		return -1;
	in->rc_ = apply_one(tx, in);
	if (in->rc_ == STORE_OK && settle(st, tx))
		in->rc_ = STORE_ERR;   /* one of its writes failed */
	if (in->rc_ == STORE_OK)
		return ops->release(tx) ? -1 : 0;
	if (transient(st, tx))
		return -1;  /* the whole batch runs again */
	return ops->rollback_to(tx) ? -1 : 0;
}

static void set_results(struct store_intent *list, int rc)
{
	for (struct store_intent *in = list; in; in = in->next_)
		in->rc_ = rc;
}

static void break_batch(struct store *st, struct store_tx *tx, struct batch *b)
{
	b->transient = transient(st, tx);
	st->writer_ops->abandon(st, tx);
	b->broken = true;
	set_results(b->head, STORE_ERR);
}

/* After a failure in a straight batch: roll it back and apply everything
 * again, each intent in its own savepoint. */
static void turn_careful(struct store *st, struct store_tx *tx, struct batch *b)
{
	st->writer_ops->abandon(st, tx);
	b->careful = true;
	atomic_fetch_add_explicit(&st->writer.careful_batches, 1,
				  memory_order_relaxed);
	if (st->writer_ops->begin(st, tx)) {
		break_batch(st, tx, b);
		return;
	}
	for (struct store_intent *in = b->head; in; in = in->next_) {
		if (run_intent(st, tx, in)) {
			break_batch(st, tx, b);
			return;
		}
	}
}

static void append(struct batch *b, struct store_intent *in)
{
	in->next_ = NULL;
	if (b->tail)
		b->tail->next_ = in;
	else
		b->head = in;
	b->tail = in;
	b->n++;
}

/* Applies newly taken intents inside the open transaction. */
static void add_intents(struct store *st, struct store_tx *tx, struct batch *b,
			struct store_intent *list)
{
	struct store_intent *in, *next;

	for (in = list; in; in = next) {
		next = in->next_;
		append(b, in);
		if (b->broken) {
			in->rc_ = STORE_ERR;
		} else if (b->careful) {
			if (run_intent(st, tx, in))
				break_batch(st, tx, b);
		} else {
			in->rc_ = apply_one(tx, in);
			if (in->rc_ != STORE_OK && transient(st, tx))
				break_batch(st, tx, b);
			else if (in->rc_ != STORE_OK)
				turn_careful(st, tx, b);
		}
	}
}

void store_answer_batch(struct store_intent *batch)
{
	struct store_intent *in = batch, *next;

	for (; in; in = next) {
		next = in->next_;  /* done may free the intent */
		in->next_ = NULL;
		util_trace_set(in->trace_);
		in->done(in, in->rc_);
		util_trace_set(NULL);
	}
}

const double store_commit_bounds[STORE_COMMIT_BUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5,
};

static void count_commit(struct store_writer *w, int64_t us)
{
	size_t bucket = 0;

	while (bucket < STORE_COMMIT_BUCKETS - 1 &&
	       (double)us / 1e6 > store_commit_bounds[bucket])
		bucket++;
	pthread_mutex_lock(&w->t.lock);
	w->stats.commit_durations[bucket]++;
	w->stats.commit_us_total += (uint64_t)us;
	pthread_mutex_unlock(&w->t.lock);
}

static void count_batch(struct store_stats *stats, size_t n)
{
	size_t bucket = 0;

	while (bucket < STORE_BATCH_BUCKETS - 1 && ((size_t)1 << bucket) < n)
		bucket++;
	stats->batch_sizes[bucket]++;
	stats->batches++;
	stats->intents += n;
	if (n > stats->max_batch)
		stats->max_batch = n;
}

/* True once the open batch should be committed. */
static bool commit_due(struct store *st, const struct batch *b)
{
	return b->broken || b->n >= (size_t)st->writer.batch_max ||
	       util_thread_stopping(&st->writer.t) ||
	       st->writer_ops->commit_now(st);
}

/* Waits for work; returns the first intents of a new batch, or NULL once
 * closing with nothing queued. */
static struct store_intent *wait_first(struct store_writer *w)
{
	struct store_intent *list;

	pthread_mutex_lock(&w->t.lock);
	while (!w->head && !util_thread_stopping(&w->t))
		pthread_cond_wait(&w->t.wake, &w->t.lock);
	list = take_queued(w, (size_t)w->batch_max);
	pthread_mutex_unlock(&w->t.lock);
	return list;
}

/* With a batch open: waits until more intents arrive or a commit is due,
 * and returns what arrived (possibly NULL). */
static struct store_intent *wait_more(struct store *st, const struct batch *b)
{
	struct store_writer *w = &st->writer;
	struct store_intent *list;

	pthread_mutex_lock(&w->t.lock);
	while (!w->head && !commit_due(st, b))
		pthread_cond_wait(&w->t.wake, &w->t.lock);
	list = take_queued(w, (size_t)w->batch_max - b->n);
	pthread_mutex_unlock(&w->t.lock);
	return list;
}

/* Remembers whether the last batch committed (store_health reads it), and
 * logs each change. */
static void note_outcome(struct store *st, bool broken)
{
	if (atomic_exchange(&st->writer.failing, broken) == broken)
		return;
	if (broken)
		ops_log(OPS_LOG_WARN, "store_writes_failing", "a batch could "
			"not be committed; /readyz answers 503 until one is");
	else
		ops_log(OPS_LOG_INFO, "store_writes_recovered", "writes are "
			"committed again");
}

/* Opens a transaction and applies the intents of `list` in it. */
static void apply_all(struct store *st, struct store_tx *tx, struct batch *b,
		      struct store_intent *list)
{
	if (st->writer_ops->broken(st) || st->writer_ops->begin(st, tx)) {
		b->transient = transient(st, tx);
		b->broken = true;
	}
	add_intents(st, tx, b, list);
}

/* Runs a batch that failed transiently again from the start, after a
 * pause. */
static void rerun(struct store *st, struct store_tx *tx, struct batch *b,
		  int attempt)
{
	struct store_intent *list = b->head;

	usleep((useconds_t)RETRY_PAUSE_US << attempt);
	atomic_fetch_add(&st->writer.retried_batches, 1);
	memset(b, 0, sizeof(*b));
	apply_all(st, tx, b, list);
}

/* Commits the batch (running it again while it fails transiently) and
 * hands it on: to the driver, which answers it once the commit is
 * durable, or (when it failed) straight back. */
static void finish_batch(struct store *st, struct store_tx *tx, struct batch *b)
{
	int64_t t0;

	pthread_mutex_lock(&st->writer.t.lock);
	count_batch(&st->writer.stats, b->n);
	pthread_mutex_unlock(&st->writer.t.lock);
	for (int attempt = 0;; attempt++) {
		/* a write sent without waiting failed: only now is it known */
		if (!b->broken && !b->careful && settle(st, tx)) {
			if (transient(st, tx))
				break_batch(st, tx, b);
			else
				turn_careful(st, tx, b);
		}
		t0 = util_mono_us();
		if (!b->broken && st->writer_ops->commit(st, tx))
			break_batch(st, tx, b);
		else if (!b->broken)
			count_commit(&st->writer, util_mono_us() - t0);
		store_log_slow("commit", util_mono_us() - t0);
		if (!b->broken || !b->transient || attempt == RETRIES_MAX ||
		    util_thread_stopping(&st->writer.t))
			break;
		rerun(st, tx, b, attempt);
	}
	note_outcome(st, b->broken);
	if (!b->broken)
		st->writer_ops->committed(st, b->head);
	else
		store_answer_batch(b->head);
}

static bool full(const struct store *st, const struct batch *b)
{
	return b->broken || b->n >= (size_t)st->writer.batch_max;
}

/* Opens a transaction, applies intents as they come, and commits when due:
 * once the syncer is free, what queued up to then joins, and no more. */
static void run_batch(struct store *st, int slot, struct store_intent *first)
{
	/* begin binds the slot's connection */
	struct store_tx tx = { .st = st, .slot = slot };
	struct batch b = { 0 };

	atomic_store(&st->writer.batch_since_ms, util_now_ms());
	if (st->writer_ops->ordered)
		first = sort_by_key(first);
	apply_all(st, &tx, &b, first);
	while (!st->writer_ops->ordered && !full(st, &b)) {
		struct store_intent *more = wait_more(st, &b);
		bool due;

		if (!more)
			break;  /* nothing arrived and a commit is due */
		add_intents(st, &tx, &b, more);
		pthread_mutex_lock(&st->writer.t.lock);
		due = commit_due(st, &b);
		pthread_mutex_unlock(&st->writer.t.lock);
		if (due)
			break;
	}
	finish_batch(st, &tx, &b);
	atomic_store(&st->writer.batch_since_ms, 0);
}

static void writer_loop(struct store *st, int slot)
{
	struct store_intent *first;

	while ((first = wait_first(&st->writer))) {
		run_batch(st, slot, first);
		if (st->writer_ops->between_batches)
			st->writer_ops->between_batches(st);
	}
}

static void *writer_main(void *arg)
{
	writer_loop(arg, 0);
	return NULL;
}

static void *writer_more_main(void *arg)
{
	struct store_writer_thread *wt = arg;

	writer_loop(wt->st, wt->slot);
	return NULL;
}

int store_writer_start(struct store *st)
{
	struct store_writer *w = &st->writer;
	int threads = w->threads > 0 ? w->threads : 1;

	w->batch_max = st->opts.batch_max > 0 ? st->opts.batch_max : 1;
	if (threads > STORE_WRITERS_MAX)
		threads = STORE_WRITERS_MAX;
	w->threads = threads;
	if (util_thread_start(&w->t, "grantd-writer", writer_main, st))
		return -1;
	for (int i = 1; i < threads; i++) {
		struct store_writer_thread *wt = &w->more[i - 1];

		wt->st = st;
		wt->slot = i;
		if (pthread_create(&wt->id, NULL, writer_more_main, wt))
			return -1;
		pthread_setname_np(wt->id, "grantd-writer");
		wt->started = true;
	}
	return 0;
}

/* Every thread drains the queue; the first one's lock goes last. */
void store_writer_stop(struct store *st)
{
	struct store_writer *w = &st->writer;

	if (!w->t.ready)
		return;
	util_thread_ask_stop(&w->t);
	for (int i = 0; i < STORE_WRITERS_MAX - 1; i++) {
		if (!w->more[i].started)
			continue;
		pthread_join(w->more[i].id, NULL);
		w->more[i].started = false;
	}
	util_thread_stop(&w->t);
}

void store_writer_wake(struct store *st)
{
	pthread_mutex_lock(&st->writer.t.lock);
	pthread_cond_signal(&st->writer.t.wake);
	pthread_mutex_unlock(&st->writer.t.lock);
}

int store_submit(struct store *st, struct store_intent *in)
{
	struct store_writer *w = &st->writer;

	in->next_ = NULL;
	snprintf(in->trace_, sizeof(in->trace_), "%s", util_trace_get());
	pthread_mutex_lock(&w->t.lock);
	if (util_thread_stopping(&w->t) || !w->t.started) {
		pthread_mutex_unlock(&w->t.lock);
		return STORE_CLOSED;
	}
	if (w->tail)
		w->tail->next_ = in;
	else
		w->head = in;
	w->tail = in;
	w->queued++;
	pthread_cond_signal(&w->t.wake);
	pthread_mutex_unlock(&w->t.lock);
	return STORE_OK;
}

void store_stats_get(struct store *st, struct store_stats *out)
{
	pthread_mutex_lock(&st->writer.t.lock);
	*out = st->writer.stats;
	out->queued = st->writer.queued;
	pthread_mutex_unlock(&st->writer.t.lock);
	out->careful_batches = atomic_load(&st->writer.careful_batches);
	out->retried_batches = atomic_load(&st->writer.retried_batches);
}

/* store_run: one intent, waited for. */
struct run_wait {
	struct store_intent in;
	int (*apply)(struct store_tx *tx, void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool finished;
	int rc;
};

static int run_apply(struct store_tx *tx, struct store_intent *in)
{
	struct run_wait *rw = UTIL_CONTAINER_OF(in, struct run_wait, in);

	return rw->apply(tx, rw->arg);
}

static void run_done(struct store_intent *in, int rc)
{
	struct run_wait *rw = UTIL_CONTAINER_OF(in, struct run_wait, in);

	pthread_mutex_lock(&rw->lock);
	rw->rc = rc;
	rw->finished = true;
	pthread_cond_signal(&rw->cond);
	pthread_mutex_unlock(&rw->lock);
}

int store_run(struct store *st, int (*apply)(struct store_tx *tx, void *arg),
	      void *arg)
{
	struct run_wait rw = {
		.in = { .apply = run_apply, .done = run_done },
		.apply = apply,
		.arg = arg,
	};
	int rc;

	pthread_mutex_init(&rw.lock, NULL);
	pthread_cond_init(&rw.cond, NULL);
	rc = store_submit(st, &rw.in);
	if (rc == STORE_OK) {
		pthread_mutex_lock(&rw.lock);
		while (!rw.finished)
			pthread_cond_wait(&rw.cond, &rw.lock);
		rc = rw.rc;
		pthread_mutex_unlock(&rw.lock);
	}
	pthread_cond_destroy(&rw.cond);
	pthread_mutex_destroy(&rw.lock);
	return rc;
}
