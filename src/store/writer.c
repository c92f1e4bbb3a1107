/* store/writer.c: the writer thread. It takes whatever intents queued while
 * the last commit ran (up to batch_max), runs them in one transaction and
 * commits once; then the syncer makes the commit durable and answers them
 * while the writer goes on with the next batch. */
#include "store/store_int.h"

#include <stdlib.h>

#include "ops/ops.h"

/* Detaches up to batch_max queued intents; NULL-terminated list. Called with
 * the lock held. */
static struct store_intent *take_batch(struct store_writer *w, size_t *n)
{
	struct store_intent *head = w->head, *last = head;
	size_t count = 1;

	while (last->next_ && count < (size_t)w->batch_max) {
		last = last->next_;
		count++;
	}
	w->head = last->next_;
	if (!w->head)
		w->tail = NULL;
	last->next_ = NULL;
	w->queued -= count;
	*n = count;
	return head;
}

/* Rolls back whatever transaction is open on c. */
static void abandon(struct store_conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		store_conn_exec(c, STMT_ROLLBACK);
}

/* The common case: every intent runs straight in one transaction, no
 * savepoints (a savepoint makes SQLite copy each page an intent touches to
 * a sub-journal first). Returns 0 if all succeeded and the commit did;
 * otherwise rolls everything back and returns -1. */
static int run_fast(struct store_tx *tx, struct store_intent *batch)
{
	if (store_conn_exec(tx->conn, STMT_BEGIN))
		goto fail;
	for (struct store_intent *in = batch; in; in = in->next_)
		if (in->apply(tx, in) != STORE_OK)
			goto fail;
	if (store_conn_exec(tx->conn, STMT_COMMIT))
		goto fail;
	return 0;
fail:
	abandon(tx->conn);
	return -1;
}

/* Runs one intent in its own savepoint; its result goes to in->rc_.
 * Returns -1 if the transaction itself is broken (then the whole batch must
 * be rolled back). */
static int run_intent(struct store_tx *tx, struct store_intent *in)
{
	struct store_conn *c = tx->conn;

	if (store_conn_exec(c, STMT_SAVEPOINT))
		return -1;
	in->rc_ = in->apply(tx, in);
	if (in->rc_ == STORE_OK)
		return store_conn_exec(c, STMT_RELEASE) ? -1 : 0;
	if (store_conn_exec(c, STMT_ROLLBACK_TO) || store_conn_exec(c, STMT_RELEASE))
		return -1;
	return 0;
}

static void set_results(struct store_intent *batch, int rc)
{
	for (struct store_intent *in = batch; in; in = in->next_)
		in->rc_ = rc;
}

/* After a failure: every intent again, each in its own savepoint, so the
 * ones that fail are rolled back alone. Returns -1 if nothing could be
 * committed (then every rc_ is STORE_ERR). */
static int run_careful(struct store_tx *tx, struct store_intent *batch)
{
	bool broken = store_conn_exec(tx->conn, STMT_BEGIN) != 0;

	for (struct store_intent *in = batch; in && !broken; in = in->next_)
		if (run_intent(tx, in))
			broken = true;
	if (!broken && store_conn_exec(tx->conn, STMT_COMMIT))
		broken = true;
	if (!broken)
		return 0;
	abandon(tx->conn);
	set_results(batch, STORE_ERR);
	return -1;
}

/* Runs and commits a batch, leaving each intent's result in rc_. Returns 0
 * if the batch was committed, -1 if not. */
static int run_batch(struct store *st, struct store_intent *batch)
{
	struct store_tx tx = { .conn = st->writer_conn };

	if (store_syncer_broken(st)) {
		set_results(batch, STORE_ERR);
		return -1;
	}
	if (run_fast(&tx, batch) == 0) {
		set_results(batch, STORE_OK);
		return 0;
	}
	atomic_fetch_add_explicit(&st->writer.careful_batches, 1,
				  memory_order_relaxed);
	return run_careful(&tx, batch);
}

void store_answer_batch(struct store_intent *batch)
{
	struct store_intent *in = batch, *next;

	for (; in; in = next) {
		next = in->next_;  /* done may free the intent */
		in->next_ = NULL;
		in->done(in, in->rc_);
	}
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

/* Waits for work; returns the next batch, or NULL once closing and drained. */
static struct store_intent *next_batch(struct store_writer *w)
{
	struct store_intent *batch = NULL;
	size_t n;

	pthread_mutex_lock(&w->lock);
	while (!w->head && !w->closing)
		pthread_cond_wait(&w->wake, &w->lock);
	if (w->head) {
		batch = take_batch(w, &n);
		count_batch(&w->stats, n);
	}
	pthread_mutex_unlock(&w->lock);
	return batch;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	struct store_intent *batch;

	while ((batch = next_batch(&st->writer))) {
		/* A durable store answers once the syncer has the commit on
		 * disk; a failed batch, or a store that need not wait, now. */
		if (run_batch(st, batch) == 0 && st->opts.synchronous_full)
			store_syncer_submit(st, batch);
		else
			store_answer_batch(batch);
		store_checkpoint_writer_turn(st);
	}
	return NULL;
}

int store_writer_start(struct store *st)
{
	struct store_writer *w = &st->writer;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->batch_max = st->opts.batch_max > 0 ? st->opts.batch_max : 1;
	if (pthread_create(&w->thread, NULL, writer_main, st))
		return -1;
	pthread_setname_np(w->thread, "grantd-writer");
	w->started = true;
	return 0;
}

void store_writer_stop(struct store *st)
{
	struct store_writer *w = &st->writer;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = false;
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
}

int store_submit(struct store *st, struct store_intent *in)
{
	struct store_writer *w = &st->writer;

	in->next_ = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->closing || !w->started) {
		pthread_mutex_unlock(&w->lock);
		return STORE_CLOSED;
	}
	if (w->tail)
		w->tail->next_ = in;
	else
		w->head = in;
	w->tail = in;
	w->queued++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return STORE_OK;
}

void store_stats_get(struct store *st, struct store_stats *out)
{
	pthread_mutex_lock(&st->writer.lock);
	*out = st->writer.stats;
	out->queued = st->writer.queued;
	pthread_mutex_unlock(&st->writer.lock);
	out->syncs = store_vfs_syncs();
	out->careful_batches = atomic_load(&st->writer.careful_batches);
	out->durable_syncs = atomic_load(&st->syncer.syncs);
	out->durable_sync_us = atomic_load(&st->syncer.sync_us);
	out->checkpoints = atomic_load(&st->checkpointer.count);
	out->writer_checkpoints = atomic_load(&st->checkpointer.writer_turns);
	out->writer_checkpoint_us = atomic_load(&st->checkpointer.writer_turn_us);
	out->wal_pages = atomic_load(&st->checkpointer.wal_pages);
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
