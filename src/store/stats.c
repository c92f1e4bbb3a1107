/* store/stats.c: the store's counters and gauges as a walk of named
 * values — the writer's, then SQLite's — so metrics name none by hand. */
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
	fn(arg, &(struct store_stat){ "queue_depth", "gauge",
		"Intents waiting for the writer.", s.queued });
}

static void sqlite_stats(struct store *st, store_stat_fn fn, void *arg)
{
	struct store_checkpointer *cp = &st->checkpointer;
	int wal_pages = atomic_load(&cp->wal_pages);

	fn(arg, &(struct store_stat){ "fsyncs_total", "counter",
		"fsync/fdatasync calls on the database files.",
		store_vfs_syncs() });
	fn(arg, &(struct store_stat){ "durable_syncs_total", "counter",
		"WAL syncs that made commits durable before answering.",
		atomic_load(&st->syncer.syncs) });
	fn(arg, &(struct store_stat){ "durable_sync_microseconds_total",
		"counter", "Time those syncs took.",
		atomic_load(&st->syncer.sync_us) });
	fn(arg, &(struct store_stat){ "checkpoints_total", "counter",
		"Background WAL checkpoints.", atomic_load(&cp->count) });
	fn(arg, &(struct store_stat){ "writer_checkpoints_total", "counter",
		"Checkpoints the writer finished so the WAL could restart.",
		atomic_load(&cp->writer_turns) });
	fn(arg, &(struct store_stat){ "writer_checkpoint_microseconds_total",
		"counter", "Time the writer spent finishing checkpoints.",
		atomic_load(&cp->writer_turn_us) });
	fn(arg, &(struct store_stat){ "wal_pages", "gauge",
		"WAL size in pages after the last commit.",
		wal_pages > 0 ? (uint64_t)wal_pages : 0 });
}

void store_stats_each(struct store *st, store_stat_fn fn, void *arg)
{
	writer_stats(st, fn, arg);
	sqlite_stats(st, fn, arg);
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
