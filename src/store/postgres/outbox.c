/* store/postgres/outbox.c: the outbox every node shares — rows added in
 * intents, claimed with leases (each row by one node at a time), their
 * outcomes recorded, and the operators' view and retries. */
#include "store/postgres/pg_int.h"

#include <string.h>

PG_SQL(sql_outbox_add,
       "INSERT INTO outbox (kind, dedupe_key, account_id, payload, status,"
       " attempts, next_attempt_at_ms, lease_until_ms, created_at_ms,"
       " updated_at_ms, request_id) VALUES ($1::text, $2::text, $3::text,"
       " $4::text, 'pending', 0, $5::bigint, 0, $5::bigint, $5::bigint,"
       " $6::text)"
       " ON CONFLICT (kind, dedupe_key) WHERE status = 'pending' DO NOTHING");
PG_SQL(sql_outbox_record,
       "UPDATE outbox SET status = $2::text, attempts = outbox.attempts + 1,"
       " next_attempt_at_ms = $3::bigint, lease_until_ms = 0,"
       " last_error = $4::text, updated_at_ms = $5::bigint"
       " WHERE id = $1::bigint");
/* Due rows not leased, leased in one statement: a row another node is
 * claiming at the same moment is skipped rather than waited for, and a
 * lapsed lease (a dead node's) is claimed again. Handed out by id. */
PG_SQL(sql_outbox_claim,
       "WITH claimed AS (UPDATE outbox"
       " SET lease_until_ms = $1::bigint + $2::bigint,"
       " updated_at_ms = $1::bigint"
       " WHERE id IN (SELECT id FROM outbox WHERE status = 'pending'"
       "  AND next_attempt_at_ms <= $1::bigint"
       "  AND lease_until_ms <= $1::bigint"
       /* an event webhook waits for the same webhook's earlier events of
	* its account (pending, leased by any node or not): delivered in
	* commit order, since the account's lock orders its writers */
       "  AND (kind <> 'event.webhook' OR NOT EXISTS (SELECT 1"
       "   FROM outbox e WHERE e.kind = 'event.webhook'"
       "   AND e.status = 'pending'"
       "   AND e.account_id IS NOT DISTINCT FROM outbox.account_id"
       "   AND e.id < outbox.id AND split_part(e.dedupe_key, ':', 1) ="
       "   split_part(outbox.dedupe_key, ':', 1)))"
       "  ORDER BY next_attempt_at_ms, id LIMIT $3::bigint"
       "  FOR UPDATE SKIP LOCKED)"
       " RETURNING id, kind, dedupe_key, account_id, payload, attempts,"
       " request_id)"
       " SELECT id, kind, dedupe_key, account_id, payload, attempts,"
       " request_id FROM claimed ORDER BY id");
PG_SQL(sql_outbox_due,
       "SELECT 1 FROM outbox WHERE status = 'pending'"
       " AND next_attempt_at_ms <= $1::bigint"
       " AND lease_until_ms <= $1::bigint LIMIT 1");
PG_SQL(sql_outbox_counts,
       "SELECT status, count(*) FROM outbox GROUP BY status");
PG_SQL(sql_outbox_rows,
       "SELECT id, kind, dedupe_key, account_id, payload, status,"
       " attempts, next_attempt_at_ms, last_error, created_at_ms,"
       " updated_at_ms FROM outbox"
       " WHERE ($1::text IS NULL OR status = $1::text)"
       " AND ($2::bigint = 0 OR id < $2::bigint)"
       " ORDER BY id DESC LIMIT $3::bigint");
PG_SQL(sql_outbox_kinds,
       "SELECT kind, status, count(*) FROM outbox"
       " WHERE status <> 'delivered' GROUP BY kind, status"
       " ORDER BY kind, status");
/* a dead (or pending) row due now with its attempts counted afresh;
 * not while another row of its key is pending, and of several dead rows
 * of a key only the newest */
PG_SQL(sql_outbox_retry,
       "UPDATE outbox SET status = 'pending', attempts = 0,"
       " next_attempt_at_ms = $1::bigint, lease_until_ms = 0,"
       " updated_at_ms = $1::bigint"
       " WHERE ($2::bigint = 0 OR id = $2::bigint)"
       " AND (status = 'dead' OR (status = 'pending' AND $2::bigint <> 0"
       "  AND lease_until_ms <= $1::bigint))"
       " AND (status = 'pending' OR (NOT EXISTS (SELECT 1 FROM outbox p"
       "  WHERE p.status = 'pending' AND p.kind = outbox.kind"
       "  AND p.dedupe_key = outbox.dedupe_key)"
       " AND id = (SELECT max(d.id) FROM outbox d WHERE d.status = 'dead'"
       "  AND d.kind = outbox.kind AND d.dedupe_key = outbox.dedupe_key)))");

int store_pg_tx_outbox_add(struct store_tx *tx,
			   const struct store_outbox_item *it, int64_t now_ms,
			   bool *added)
{
	struct pg_params p = {0};
	int64_t changed = 0;
	int rc;

	pg_param_text(&p, it->kind);
	pg_param_text(&p, it->dedupe_key);
	pg_param_text(&p, it->account_id);
	pg_param_text(&p, it->payload);
	pg_param_int(&p, now_ms);
	pg_param_text(&p, it->request_id && *it->request_id ? it->request_id :
		      NULL);
	rc = pg_exec(pg_tx_conn(tx), &sql_outbox_add, &p, "outbox_add",
		     &changed);
	if (rc)
		return rc;
	*added = changed > 0;
	return STORE_OK;
}

int store_pg_tx_outbox_record(struct store_tx *tx,
			      const struct store_outbox_outcome *o,
			      int64_t now_ms)
{
	struct pg_params p = {0};

	pg_param_int(&p, o->id);
	pg_param_text(&p, store_outbox_status_name(o->status));
	pg_param_int(&p, o->next_attempt_at_ms);
	pg_param_text(&p, o->error);
	pg_param_int(&p, now_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_outbox_record, &p,
				"outbox_record");
}

/* The claim runs on its own (autocommit) on a reader connection, not in
 * the writer's transaction: it is one statement, committed when it
 * returns, so the rows are handed out only once their leases are
 * durable, and the connection is back in the pool before fn runs. */
int store_pg_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
			  int limit, store_outbox_fn fn, void *arg)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *res;
	int n;

	if (limit <= 0)
		limit = 1;
	if (!c)
		return STORE_ERR;
	pg_param_int(&p, now_ms);
	pg_param_int(&p, lease_ms);
	pg_param_int(&p, limit);
	res = pg_run(c, &sql_outbox_claim, &p, "outbox_claim");
	pg_reader_release(st, c);
	if (!res)
		return STORE_ERR;
	n = PQntuples(res);
	for (int i = 0; i < n && i < limit; i++) {
		struct store_outbox_item it = {
			.id = pg_int(res, i, 0),
			.kind = pg_text(res, i, 1),
			.dedupe_key = pg_text(res, i, 2),
			.account_id = pg_text(res, i, 3),
			.payload = pg_text(res, i, 4),
			.attempts = pg_int(res, i, 5),
			.request_id = pg_text(res, i, 6),
		};

		fn(arg, &it);
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_outbox_due(struct store *st, int64_t now_ms, bool *due)
{
	struct pg_params p = {0};
	PGresult *res;

	*due = false;
	pg_param_int(&p, now_ms);
	if (pg_read_run(st, &sql_outbox_due, &p, "outbox_due", &res))
		return STORE_ERR;
	*due = PQntuples(res) > 0;
	PQclear(res);
	return STORE_OK;
}

static enum store_outbox_status status_of(const char *text)
{
	if (text && strcmp(text, "delivered") == 0)
		return STORE_OUTBOX_DELIVERED;
	if (text && strcmp(text, "dead") == 0)
		return STORE_OUTBOX_DEAD;
	return STORE_OUTBOX_PENDING;
}

int store_pg_outbox_counts(struct store *st,
			   int64_t counts[STORE_OUTBOX_DEAD + 1])
{
	PGresult *res;

	memset(counts, 0, (STORE_OUTBOX_DEAD + 1) * sizeof(*counts));
	if (pg_read_run(st, &sql_outbox_counts, NULL, "outbox_counts", &res))
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *status = pg_text(res, i, 0);

		for (int s = 0; s <= STORE_OUTBOX_DEAD; s++)
			if (status && strcmp(status, store_outbox_status_name(
					     (enum store_outbox_status)s)) == 0)
				counts[s] = pg_int(res, i, 1);
	}
	PQclear(res);
	return STORE_OK;
}

/* Hands each row of an outbox rows result to fn. */
static void outbox_rows(const PGresult *res, store_outbox_row_fn fn, void *arg)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_outbox_row r = {
			.id = pg_int(res, i, 0),
			.kind = pg_text(res, i, 1),
			.dedupe_key = pg_text(res, i, 2),
			.account_id = pg_text(res, i, 3),
			.payload = pg_text(res, i, 4),
			.status = status_of(pg_text(res, i, 5)),
			.attempts = pg_int(res, i, 6),
			.next_attempt_at_ms = pg_int(res, i, 7),
			.last_error = pg_text(res, i, 8),
			.created_at_ms = pg_int(res, i, 9),
			.updated_at_ms = pg_int(res, i, 10),
		};

		fn(arg, &r);
	}
}

int store_pg_outbox_read(struct store *st, const char *status,
			 int64_t before_id, int64_t limit,
			 store_outbox_row_fn fn, void *arg)
{
	struct pg_params p = {0};
	PGresult *res;

	pg_param_text(&p, status);
	pg_param_int(&p, before_id);
	if (limit < 0)
		pg_param_text(&p, NULL);   /* no limit */
	else
		pg_param_int(&p, limit);
	if (pg_read_run(st, &sql_outbox_rows, &p, "outbox_read", &res))
		return STORE_ERR;
	outbox_rows(res, fn, arg);
	PQclear(res);
	return STORE_OK;
}

PG_SQL(sql_outbox_rows_for,
       "SELECT id, kind, dedupe_key, account_id, payload, status,"
       " attempts, next_attempt_at_ms, last_error, created_at_ms,"
       " updated_at_ms FROM outbox WHERE account_id = $1::text"
       " AND strpos(payload, $2::text) > 0 ORDER BY id DESC LIMIT $3::bigint");

int store_pg_outbox_read_for(struct store *st, const char *account_id,
			     const char *needle, int64_t limit,
			     store_outbox_row_fn fn, void *arg)
{
	struct pg_params p = {0};
	PGresult *res;

	pg_param_text(&p, account_id);
	pg_param_text(&p, needle);
	pg_param_int(&p, limit);
	if (pg_read_run(st, &sql_outbox_rows_for, &p, "outbox_read_for", &res))
		return STORE_ERR;
	outbox_rows(res, fn, arg);
	PQclear(res);
	return STORE_OK;
}

int store_pg_outbox_kinds_read(struct store *st, store_outbox_kind_fn fn,
			       void *arg)
{
	PGresult *res;

	if (pg_read_run(st, &sql_outbox_kinds, NULL, "outbox_kinds", &res))
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++)
		fn(arg, pg_text(res, i, 0), status_of(pg_text(res, i, 1)),
		   pg_int(res, i, 2));
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_outbox_retry(struct store_tx *tx, int64_t id, int64_t now_ms,
			     int64_t *count)
{
	struct pg_params p = {0};

	pg_param_int(&p, now_ms);
	pg_param_int(&p, id);
	return pg_exec(pg_tx_conn(tx), &sql_outbox_retry, &p, "outbox_retry",
		       count);
}

PG_SQL(sql_outbox_give_up,
       "UPDATE outbox SET status = 'dead', last_error = $3::text,"
       " lease_until_ms = 0, updated_at_ms = $2::bigint"
       " WHERE id = $1::bigint AND status = 'pending'"
       " AND lease_until_ms <= $2::bigint");

int store_pg_tx_outbox_give_up(struct store_tx *tx, int64_t id,
			       const char *error, int64_t now_ms,
			       int64_t *count)
{
	struct pg_params p = {0};

	pg_param_int(&p, id);
	pg_param_int(&p, now_ms);
	pg_param_text(&p, error);
	return pg_exec(pg_tx_conn(tx), &sql_outbox_give_up, &p,
		       "outbox_give_up", count);
}

/* Ends no lease. The leases on a shared outbox may be other nodes', which
 * are delivering those rows now, and a lease does not say whose it is:
 * ending them would deliver rows twice at once. A crashed node's rows are
 * claimed again once their leases lapse. */
int store_pg_tx_outbox_unlease(struct store_tx *tx, int64_t *count)
{
	(void)tx;
	*count = 0;
	return STORE_OK;
}
