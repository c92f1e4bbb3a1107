/* store/sqlite/writer_ops.c: what the generic writer asks of SQLite — the
 * transaction on the writer's connection, savepoints, and durability by
 * the syncer's WAL sync (or at commit with synchronous=normal). */
#include "store/sqlite/sqlite_int.h"

/* The writer's transaction runs on the writer's connection. */
static int sqlite_begin(struct store *st, struct store_tx *tx)
{
	tx->conn = store_sqlite(st)->writer_conn;
	return store_conn_exec(store_tx_conn(tx), STMT_BEGIN);
}

static int sqlite_commit(struct store *st, struct store_tx *tx)
{
	(void)st;
	return store_conn_exec(store_tx_conn(tx), STMT_COMMIT);
}

static void sqlite_abandon(struct store *st, struct store_tx *tx)
{
	(void)st;
	if (!sqlite3_get_autocommit(store_tx_conn(tx)->db))
		store_conn_exec(store_tx_conn(tx), STMT_ROLLBACK);
}

static int sqlite_savepoint(struct store_tx *tx)
{
	return store_conn_exec(store_tx_conn(tx), STMT_SAVEPOINT);
}

static int sqlite_release(struct store_tx *tx)
{
	return store_conn_exec(store_tx_conn(tx), STMT_RELEASE);
}

static int sqlite_rollback_to(struct store_tx *tx)
{
	if (store_conn_exec(store_tx_conn(tx), STMT_ROLLBACK_TO))
		return STORE_ERR;
	return store_conn_exec(store_tx_conn(tx), STMT_RELEASE);
}

/* With synchronous=full the syncer answers once the WAL is on disk. */
static void sqlite_committed(struct store *st, struct store_intent *batch)
{
	if (st->opts.sqlite.synchronous_full)
		store_syncer_submit(st, batch);
	else
		store_answer_batch(batch);
}

static bool sqlite_commit_now(struct store *st)
{
	return !st->opts.sqlite.synchronous_full || store_syncer_idle(st);
}

static bool sqlite_broken(struct store *st)
{
	return store_syncer_broken(st);
}

const struct store_writer_ops store_sqlite_writer_ops = {
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.abandon = sqlite_abandon,
	.savepoint = sqlite_savepoint,
	.rollback_to = sqlite_rollback_to,
	.release = sqlite_release,
	.committed = sqlite_committed,
	.commit_now = sqlite_commit_now,
	.broken = sqlite_broken,
	.between_batches = store_checkpoint_writer_turn,
};
