/* store/postgres/broadcast.c: broadcasts (grants to every account until
 * they expire) and which accounts have had them. */
#include "store/postgres/pg_int.h"

PG_SQL(sql_broadcast_add,
       "INSERT INTO broadcasts (source, external_id, namespace, lines,"
       " detail, created_at_ms, expires_at_ms)"
       " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text,"
       " $6::bigint, $7::bigint)"
       " ON CONFLICT (source, external_id) DO NOTHING");
PG_SQL(sql_broadcast_pending,
       "SELECT id, source, external_id, namespace, lines, detail,"
       " created_at_ms, expires_at_ms FROM broadcasts b"
       " WHERE expires_at_ms > $2::bigint AND NOT EXISTS (SELECT 1 FROM"
       "  broadcast_deliveries d WHERE d.broadcast_id = b.id"
       "  AND d.account_id = $1::text) ORDER BY id");
PG_SQL(sql_broadcast_delivered,
       "INSERT INTO broadcast_deliveries (broadcast_id, account_id,"
       " delivered_at_ms) VALUES ($1::bigint, $2::text, $3::bigint)"
       " ON CONFLICT (broadcast_id, account_id) DO NOTHING");
PG_SQL(sql_broadcasts_until,
       "SELECT max(expires_at_ms) FROM broadcasts");
PG_SQL(sql_broadcasts_pending_any,
       "SELECT 1 FROM broadcasts b WHERE expires_at_ms > $2::bigint"
       " AND NOT EXISTS (SELECT 1 FROM broadcast_deliveries d"
       "  WHERE d.broadcast_id = b.id AND d.account_id = $1::text) LIMIT 1");

int store_pg_tx_broadcast_add(struct store_tx *tx,
			      const struct store_broadcast *b, bool *created)
{
	struct pg_params p = {0};
	int64_t changed = 0;
	int rc;

	pg_param_text(&p, b->source);
	pg_param_text(&p, b->external_id);
	pg_param_text(&p, b->namespace_);
	pg_param_text(&p, b->lines);
	pg_param_text(&p, b->detail);
	pg_param_int(&p, b->created_at_ms);
	pg_param_int(&p, b->expires_at_ms);
	rc = pg_exec(pg_tx_conn(tx), &sql_broadcast_add, &p, "broadcast_add",
		     &changed);
	if (rc)
		return rc;
	*created = changed > 0;
	return STORE_OK;
}

/* The rows are all in the result before fn first runs, so fn may run
 * statements on the transaction's connection. Once per (broadcast,
 * account) across nodes rests on the caller holding the account's lock
 * (store_pg_tx_account_get) before this read: a delivery committed by
 * another node under that lock is then seen here and skipped. */
int store_pg_tx_broadcasts_pending(struct store_tx *tx, const char *account_id,
				   int64_t now_ms, store_broadcast_fn fn,
				   void *arg)
{
	struct pg_params p = {0};
	PGresult *res;
	int rc = STORE_OK;

	pg_param_text(&p, account_id);
	pg_param_int(&p, now_ms);
	res = pg_run(pg_tx_conn(tx), &sql_broadcast_pending, &p,
		     "broadcasts_pending");
	if (!res)
		return STORE_ERR;
	for (int i = 0; rc == STORE_OK && i < PQntuples(res); i++) {
		struct store_broadcast b = {
			.id = pg_int(res, i, 0),
			.source = pg_text(res, i, 1),
			.external_id = pg_text(res, i, 2),
			.namespace_ = pg_text(res, i, 3),
			.lines = pg_text(res, i, 4),
			.detail = pg_text(res, i, 5),
			.created_at_ms = pg_int(res, i, 6),
			.expires_at_ms = pg_int(res, i, 7),
		};

		rc = fn(arg, &b);
	}
	PQclear(res);
	return rc;
}

int store_pg_tx_broadcast_delivered(struct store_tx *tx, int64_t id,
				    const char *account_id, int64_t now_ms)
{
	struct pg_params p = {0};

	pg_param_int(&p, id);
	pg_param_text(&p, account_id);
	pg_param_int(&p, now_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_broadcast_delivered, &p,
				"broadcast_delivered");
}

/* Runs a one-row read on a reader connection: *row tells whether a row
 * came, and *value is its first column (0 if NULL). */
static int read_one(struct store *st, struct pg_sql *sql,
		    const struct pg_params *p, bool *row, int64_t *value)
{
	struct pg_conn *c = pg_reader_acquire(st);
	PGresult *res;

	*row = false;
	if (!c)
		return STORE_ERR;
	res = pg_run(c, sql, p, "broadcast_read");
	pg_reader_release(st, c);
	if (!res)
		return STORE_ERR;
	*row = PQntuples(res) > 0;
	if (*row)
		*value = pg_int(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

int store_pg_broadcasts_until(struct store *st, int64_t *until_ms)
{
	bool row;

	*until_ms = 0;
	return read_one(st, &sql_broadcasts_until, NULL, &row, until_ms);
}

int store_pg_broadcasts_pending_any(struct store *st, const char *account_id,
				    int64_t now_ms, bool *any)
{
	struct pg_params p = {0};
	int64_t one;

	pg_param_text(&p, account_id);
	pg_param_int(&p, now_ms);
	return read_one(st, &sql_broadcasts_pending_any, &p, any, &one);
}
