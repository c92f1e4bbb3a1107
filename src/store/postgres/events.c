/* store/postgres/events.c: events for the game backend — added in the
 * writer's transaction, read in feed order (the writing transaction's id,
 * then the event's) as far as no running transaction can still add to. */
#include "store/postgres/pg_int.h"

PG_SQL(sql_event_add,
       "INSERT INTO events (type, account_id, created_at_ms, data)"
       " VALUES ($1::text, $2::text, $3::bigint, $4::text) RETURNING id");
PG_SQL(sql_event_add_deferred,
       "INSERT INTO events (type, account_id, created_at_ms, data)"
       " VALUES ($1::text, $2::text, $3::bigint, $4::text)");
/* Ids are taken before commit, so a transaction may commit after one
 * with higher ids: the feed is ordered by txid, and shows only rows of
 * transactions older than every one still running (the snapshot's xmin:
 * each of those has ended, and any transaction yet to write gets a
 * higher txid), so nothing can later appear before a position handed
 * out. One statement: the xmin is that of the snapshot it reads. */
PG_SQL(sql_events_read,
       "SELECT id, txid, type, account_id, created_at_ms, data FROM events"
       " WHERE (txid, id) > ($1::bigint, $2::bigint)"
       " AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
       " ORDER BY txid, id LIMIT $3::bigint");

int store_pg_tx_event_add(struct store_tx *tx, const char *type,
			  const char *account_id, int64_t created_at_ms,
			  const char *data_json, int64_t *id)
{
	struct pg_params p = {0};
	PGresult *res;
	int rc = STORE_OK;

	pg_param_text(&p, type);
	pg_param_text(&p, account_id);
	pg_param_int(&p, created_at_ms);
	pg_param_text(&p, data_json);
	if (!id)
		return pg_exec_deferred(pg_tx_conn(tx), &sql_event_add_deferred,
					&p, "event_add");
	res = pg_run(pg_tx_conn(tx), &sql_event_add, &p, "event_add");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) == 1)
		*id = pg_int(res, 0, 0);
	else
		rc = STORE_ERR;
	PQclear(res);
	return rc;
}

int store_pg_events_read(struct store *st, int64_t after_txid,
			 int64_t after_id, int64_t limit, store_event_fn fn,
			 void *arg)
{
	struct pg_params p = {0};
	PGresult *res;

	pg_param_int(&p, after_txid);
	pg_param_int(&p, after_id);
	pg_param_int(&p, limit);
	if (pg_read_run(st, &sql_events_read, &p, "events_read", &res))
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_event e = {
			.id = pg_int(res, i, 0),
			.txid = pg_int(res, i, 1),
			.type = pg_text(res, i, 2),
			.account_id = pg_text(res, i, 3),
			.created_at_ms = pg_int(res, i, 4),
			.data = pg_text(res, i, 5),
		};

		fn(arg, &e);
	}
	PQclear(res);
	return STORE_OK;
}
