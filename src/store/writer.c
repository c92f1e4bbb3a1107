/* store/writer.c: the writer thread. It takes whatever intents queued while
 * the last commit ran (up to batch_max), runs each in its own savepoint
 * inside one transaction, commits once, then answers every intent. */
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

/* Runs one intent in its own savepoint. Returns -1 if the transaction itself
 * is broken (then the whole batch must be rolled back). */
static int run_intent(struct store_tx *tx, struct store_intent *in, int *rc)
{
	struct store_conn *c = tx->conn;

	if (store_conn_exec(c, STMT_SAVEPOINT))
		return -1;
	*rc = in->apply(tx, in);
	if (*rc == STORE_OK)
		return store_conn_exec(c, STMT_RELEASE) ? -1 : 0;
	if (store_conn_exec(c, STMT_ROLLBACK_TO) || store_conn_exec(c, STMT_RELEASE))
		return -1;
	return 0;
}

/* Runs and commits a batch; leaves each intent's result in rcs[]. */
static void run_batch(struct store *st, struct store_intent *batch, size_t n,
		      int *rcs)
{
	struct store_tx tx = { .conn = st->writer_conn };
	struct store_intent *in;
	bool broken = false;
	size_t i = 0;

	if (store_conn_exec(tx.conn, STMT_BEGIN)) {
		broken = true;
		goto out;
	}
	for (in = batch; in && !broken; in = in->next_, i++)
		if (run_intent(&tx, in, &rcs[i]))
			broken = true;
	if (!broken && store_conn_exec(tx.conn, STMT_COMMIT))
		broken = true;
out:
	if (!broken)
		return;
	if (!sqlite3_get_autocommit(tx.conn->db))
		store_conn_exec(tx.conn, STMT_ROLLBACK);
	for (i = 0; i < n; i++)
		rcs[i] = STORE_ERR;
}

static void answer_batch(struct store_intent *batch, const int *rcs)
{
	struct store_intent *in = batch, *next;
	size_t i = 0;

	for (; in; in = next, i++) {
		next = in->next_;  /* done may free the intent */
		in->next_ = NULL;
		in->done(in, rcs[i]);
	}
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	struct store_writer *w = &st->writer;
	int *rcs = util_xcalloc((size_t)w->batch_max, sizeof(*rcs));

	for (;;) {
		struct store_intent *batch;
		size_t n;

		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->closing)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->head) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		batch = take_batch(w, &n);
		w->stats.batches++;
		w->stats.intents += n;
		if (n > w->stats.max_batch)
			w->stats.max_batch = n;
		pthread_mutex_unlock(&w->lock);

		run_batch(st, batch, n, rcs);
		answer_batch(batch, rcs);
	}
	free(rcs);
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
	pthread_mutex_unlock(&st->writer.lock);
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
