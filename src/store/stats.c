/* store/stats.c: the store's counters and gauges as a walk of named
 * values — the writer's, then its driver's — so metrics name none by
 * hand. */
#include "store/store_int.h"

#include <string.h>

static void writer_stats(struct store *st, store_stat_fn fn, void *arg)
{
	struct store_stats s;

	store_stats_get(st, &s);
	fn(arg, &(struct store_stat){ "batches_total", "counter",
		"Transactions committed by the writer.", s.batches });
	fn(arg, &(struct store_stat){ "intents_total", "counter",
		"Write intents the writer ran.", s.intents });
	fn(arg, &(struct store_stat){ "batch_size_max", "gauge",
		"Largest batch committed so far.", s.max_batch });
	fn(arg, &(struct store_stat){ "careful_batches_total", "counter",
		"Batches run again with a savepoint per intent after a failure.",
		s.careful_batches });
	fn(arg, &(struct store_stat){ "retried_batches_total", "counter",
		"Batches run again from the start after a transient database "
		"fault (a lost connection, a deadlock, a failover).",
		s.retried_batches });
	fn(arg, &(struct store_stat){ "queue_depth", "gauge",
		"Intents waiting for the writer.", s.queued });
}

void store_stats_each(struct store *st, store_stat_fn fn, void *arg)
{
	writer_stats(st, fn, arg);
	st->driver->stats(st, fn, arg);
}

struct stat_find {
	const char *name;
	uint64_t value;
	bool found;
};

static void find_one(void *arg, const struct store_stat *s)
{
	struct stat_find *f = arg;

	if (!f->found && strcmp(s->name, f->name) == 0) {
		f->value = s->value;
		f->found = true;
	}
}

int store_stat_get(struct store *st, const char *name, uint64_t *value)
{
	struct stat_find f = { .name = name };

	store_stats_each(st, find_one, &f);
	if (!f.found)
		return -1;
	*value = f.value;
	return 0;
}
