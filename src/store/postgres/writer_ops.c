/* store/postgres/writer_ops.c: what the generic writer asks of PostgreSQL
 * — a transaction on the writer thread's own connection (reconnected when
 * lost), savepoints, and durability by the server's synchronous commit. */
#include "store/postgres/pg_int.h"

#include <string.h>

/* Binds the slot's connection, reconnecting it first if it was lost (the
 * server restarted, or another host is the primary now). */
static int pg_begin(struct store *st, struct store_tx *tx)
{
	struct pg_conn *c = store_pg(st)->writer_conns[tx->slot];

	tx->conn = c;
	if (pg_conn_lost(c) && pg_conn_reset(st, c)) {
		c->fault = PG_FAULT_TRANSIENT;
		return STORE_ERR;
	}
	/* sent with the batch's first statement */
	if (pg_pipe_command_send(c, "BEGIN ISOLATION LEVEL READ COMMITTED",
				 "begin"))
		return STORE_ERR;
	c->in_tx = true;
	return STORE_OK;
}

/* COMMIT returns once the server has the commit durable (synchronous_commit
 * on, and on a synchronous standby if the server is configured so). A
 * commit that fails transiently (the connection dropped while waiting) has
 * an unknown outcome: the writer runs the batch again, and each intent
 * then finds what it had written if the commit did happen. */
static int pg_commit(struct store *st, struct store_tx *tx)
{
	struct pg_conn *c = pg_tx_conn(tx);
	PGresult *res = NULL;
	int rc;

	(void)st;
	c->in_tx = false;
	if (pg_pipe_command(c, "COMMIT", "commit", &res))
		return STORE_ERR;
	/* a COMMIT of an aborted transaction "succeeds" as ROLLBACK */
	rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? STORE_OK : STORE_ERR;
	if (rc)
		c->fault = PG_FAULT_OTHER;
	PQclear(res);
	return rc;
}

static void pg_abandon(struct store *st, struct store_tx *tx)
{
	struct pg_conn *c = pg_tx_conn(tx);
	enum pg_fault fault;

	(void)st;
	if (!c || pg_conn_lost(c))
		return;
	fault = c->fault;  /* the failure that matters, not the rollback's */
	pg_command(c, "ROLLBACK", "rollback");
	c->fault = fault;
	c->in_tx = false;
}

/* The savepoint and its release go with the next statement that waits:
 * each intent is settled (its writes answered) before its release. */
static int pg_savepoint(struct store_tx *tx)
{
	return pg_pipe_command_send(pg_tx_conn(tx), "SAVEPOINT intent",
				    "savepoint");
}

static int pg_release(struct store_tx *tx)
{
	return pg_pipe_command_send(pg_tx_conn(tx), "RELEASE intent",
				    "release");
}

static int pg_settle(struct store_tx *tx)
{
	return pg_flush(pg_tx_conn(tx));
}

static int pg_rollback_to(struct store_tx *tx)
{
	struct pg_conn *c = pg_tx_conn(tx);

	if (pg_command(c, "ROLLBACK TO intent", "rollback_to"))
		return STORE_ERR;
	return pg_command(c, "RELEASE intent", "release");
}

/* The commit was durable when COMMIT returned. */
static void pg_committed(struct store *st, struct store_intent *batch)
{
	(void)st;
	store_answer_batch(batch);
}

/* Nothing makes an earlier commit durable in the background: commit as
 * soon as nothing more is queued (the other writer threads gather the
 * next batches meanwhile). */
static bool pg_commit_now(struct store *st)
{
	(void)st;
	return true;
}

static bool pg_broken(struct store *st)
{
	(void)st;
	return false;
}

static bool pg_transient(struct store_tx *tx)
{
	struct pg_conn *c = pg_tx_conn(tx);

	return c && (c->fault == PG_FAULT_TRANSIENT || pg_conn_lost(c));
}

const struct store_writer_ops store_pg_writer_ops = {
	.begin = pg_begin,
	.commit = pg_commit,
	.abandon = pg_abandon,
	.settle = pg_settle,
	.savepoint = pg_savepoint,
	.rollback_to = pg_rollback_to,
	.release = pg_release,
	.committed = pg_committed,
	.commit_now = pg_commit_now,
	.ordered = true,
	.broken = pg_broken,
	.transient = pg_transient,
};
