/* store/postgres/revoke.c: what a revocation reads and writes — a
 * fulfilment by row, its grants ledger, balances, instances, claims, and
 * the revocations table — on PostgreSQL. The caller holds the account's
 * lock (store_pg_tx_account_get), which serialises these with grants. */
#include "store/postgres/pg_int.h"

#include <string.h>

PG_SQL(sql_fulfilment_get,
       "SELECT account_id, entitlement_id, status FROM fulfillments"
       " WHERE row_id = $1");
PG_SQL(sql_fulfilment_revoke,
       "UPDATE fulfillments SET status = 'revoked', updated_at_ms = $2"
       " WHERE row_id = $1");
PG_SQL(sql_grants_read,
       "SELECT line, catalog_id, amount, instance_id FROM grants"
       " WHERE fulfillment_row = $1 ORDER BY line");
PG_SQL(sql_stackable_get,
       "SELECT amount FROM inventory_stackables"
       " WHERE account_id = $1 AND catalog_id = $2");
PG_SQL(sql_stackable_add,
       "INSERT INTO inventory_stackables (account_id, catalog_id, amount)"
       " VALUES ($1, $2, $3) ON CONFLICT (account_id, catalog_id)"
       " DO UPDATE SET amount = inventory_stackables.amount"
       " + excluded.amount");
PG_SQL(sql_instance_delete,
       "DELETE FROM inventory_instances"
       " WHERE instance_id = $1 AND account_id = $2");
PG_SQL(sql_claim_release,
       "UPDATE claims SET count = greatest(count - 1, 0),"
       " updated_at_ms = $3 WHERE account_id = $1 AND entitlement_id = $2");
PG_SQL(sql_revocation_add,
       "INSERT INTO revocations (fulfillment_row, account_id, reason,"
       " actor, released_claim, removed, shortfall, revoked_at_ms)"
       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
PG_SQL(sql_revocation_get,
       "SELECT account_id, reason, actor, released_claim::int, removed,"
       " shortfall, revoked_at_ms FROM revocations"
       " WHERE fulfillment_row = $1");

PG_SQL(sql_read_fulfilment_account,
       "SELECT account_id FROM fulfillments WHERE row_id = $1");

static int status_parse(const char *s, enum store_fulfilment_status *out)
{
	for (int i = STORE_FULFILMENT_PENDING; i <= STORE_FULFILMENT_REVOKED; i++) {
		if (strcmp(s, store_fulfilment_status_name(i)) == 0) {
			*out = (enum store_fulfilment_status)i;
			return 0;
		}
	}
	return -1;
}

int store_pg_tx_fulfilment_get(struct store_tx *tx, int64_t row,
			       struct store_fulfilment_info *out)
{
	struct pg_params p = {0};
	const char *status;
	PGresult *res;
	int rc = STORE_OK;

	memset(out, 0, sizeof(*out));
	pg_param_int(&p, row);
	res = pg_run(pg_tx_conn(tx), &sql_fulfilment_get, &p, "fulfilment_get");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0) {
		out->found = true;
		pg_copy_text(res, 0, 0, out->account_id, sizeof(out->account_id));
		pg_copy_text(res, 0, 1, out->entitlement_id,
			     sizeof(out->entitlement_id));
		status = pg_text(res, 0, 2);
		if (!status || status_parse(status, &out->status))
			rc = STORE_ERR;
	}
	PQclear(res);
	return rc;
}

int store_pg_tx_grants_read(struct store_tx *tx, int64_t row,
			    store_grant_fn fn, void *arg)
{
	struct pg_params p = {0};
	PGresult *res;

	pg_param_int(&p, row);
	res = pg_run(pg_tx_conn(tx), &sql_grants_read, &p, "grants_read");
	if (!res)
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++)
		fn(arg, (int)pg_int(res, i, 0), pg_text(res, i, 1),
		   pg_int(res, i, 2), pg_text(res, i, 3));
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_stackable_get(struct store_tx *tx, const char *account_id,
			      const char *catalog_id, int64_t *amount)
{
	struct pg_params p = {0};
	PGresult *res;

	*amount = 0;
	pg_param_text(&p, account_id);
	pg_param_text(&p, catalog_id);
	res = pg_run(pg_tx_conn(tx), &sql_stackable_get, &p, "stackable_get");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0)
		*amount = pg_int(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_stackable_add(struct store_tx *tx, const char *account_id,
			      const char *catalog_id, int64_t delta)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	pg_param_text(&p, catalog_id);
	pg_param_int(&p, delta);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_stackable_add, &p,
				"stackable_add");
}

int store_pg_tx_instance_delete(struct store_tx *tx, const char *account_id,
				const char *instance_id, bool *deleted)
{
	struct pg_params p = {0};
	int64_t changed = 0;
	int rc;

	*deleted = false;
	pg_param_text(&p, instance_id);
	pg_param_text(&p, account_id);
	rc = pg_exec(pg_tx_conn(tx), &sql_instance_delete, &p,
		     "instance_delete", &changed);
	*deleted = rc == STORE_OK && changed > 0;
	return rc;
}

int store_pg_tx_claim_release(struct store_tx *tx, const char *account_id,
			      const char *entitlement_id, int64_t now_ms)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	pg_param_text(&p, entitlement_id);
	pg_param_int(&p, now_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_claim_release, &p,
				"claim_release");
}

int store_pg_tx_revocation_add(struct store_tx *tx,
			       const struct store_revocation *r)
{
	struct pg_params p = {0}, q = {0};
	int rc;

	pg_param_int(&p, r->row);
	pg_param_text(&p, r->account_id);
	pg_param_text(&p, r->reason);
	pg_param_text(&p, r->actor);
	pg_param_bool(&p, r->released_claim);
	pg_param_text(&p, r->removed);
	pg_param_text(&p, r->shortfall);
	pg_param_int(&p, r->revoked_at_ms);
	rc = pg_exec_deferred(pg_tx_conn(tx), &sql_revocation_add, &p,
			      "revocation_add");
	if (rc)
		return rc;
	pg_param_int(&q, r->row);
	pg_param_int(&q, r->revoked_at_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_fulfilment_revoke, &q,
				"fulfilment_revoke");
}

int store_pg_tx_revocation_get(struct store_tx *tx, int64_t row,
			       store_revocation_fn fn, void *arg, bool *found)
{
	struct pg_params p = {0};
	struct store_revocation r = { .row = row };
	PGresult *res;

	*found = false;
	pg_param_int(&p, row);
	res = pg_run(pg_tx_conn(tx), &sql_revocation_get, &p, "revocation_get");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0) {
		*found = true;
		r.account_id = pg_text(res, 0, 0);
		r.reason = pg_text(res, 0, 1);
		r.actor = pg_text(res, 0, 2);
		r.released_claim = pg_int(res, 0, 3) != 0;
		r.removed = pg_text(res, 0, 4);
		r.shortfall = pg_text(res, 0, 5);
		r.revoked_at_ms = pg_int(res, 0, 6);
		fn(arg, &r);
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_fulfilment_account_read(struct store *st, int64_t row,
				     char *account, size_t size, bool *found)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *res;

	*found = false;
	account[0] = '\0';
	if (!c)
		return STORE_ERR;
	pg_param_int(&p, row);
	res = pg_run(c, &sql_read_fulfilment_account, &p,
		     "fulfilment_account_read");
	pg_reader_release(st, c);
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0) {
		*found = true;
		pg_copy_text(res, 0, 0, account, size);
	}
	PQclear(res);
	return STORE_OK;
}
