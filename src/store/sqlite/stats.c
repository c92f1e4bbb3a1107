/* store/sqlite/stats.c: SQLite's counters and gauges — syncs, the
 * checkpointer's passes, the WAL's size. */
#include "store/sqlite/sqlite_int.h"

void store_sqlite_stats(struct store *st, store_stat_fn fn, void *arg)
{
	struct store_checkpointer *cp = &store_sqlite(st)->checkpointer;
	int wal_pages = atomic_load(&cp->wal_pages);

	fn(arg, &(struct store_stat){ "fsyncs_total", "counter",
		"fsync/fdatasync calls on the database files.",
		store_vfs_syncs() });
	fn(arg, &(struct store_stat){ "durable_syncs_total", "counter",
		"WAL syncs that made commits durable before answering.",
		atomic_load(&store_sqlite(st)->syncer.syncs) });
	fn(arg, &(struct store_stat){ "durable_sync_microseconds_total",
		"counter", "Time those syncs took.",
		atomic_load(&store_sqlite(st)->syncer.sync_us) });
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

