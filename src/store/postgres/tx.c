/* store/postgres/tx.c: the primitives the engine composes inside a writer
 * intent, on PostgreSQL. */
#include "store/postgres/pg_int.h"

#include <string.h>

/* The account's lock, taken whether or not the account exists, so a
 * first fulfilment that creates it is serialised too; then its state. */
PG_SQL(sql_account_lock,
       "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");
PG_SQL(sql_account_get, "SELECT state FROM accounts WHERE account_id = $1");
/* xmax is 0 in a row just inserted, set in one the conflict updated. */
PG_SQL(sql_account_put,
       "INSERT INTO accounts (account_id, state, created_at_ms,"
       " updated_at_ms) VALUES ($1, $2, $3, $3)"
       " ON CONFLICT (account_id) DO UPDATE SET state = excluded.state,"
       " updated_at_ms = excluded.updated_at_ms"
       " RETURNING (xmax = 0)::int");
/* The row is locked: a writer that finds a failed fulfilment to evaluate
 * again waits for another one doing the same, then sees its outcome. */
PG_SQL(sql_fulfilment_find,
       "SELECT row_id, request_fingerprint, status,"
       " (entitlement_id IS NOT NULL)::int"
       " FROM fulfillments WHERE source = $1 AND external_id = $2"
       " FOR UPDATE");
PG_SQL(sql_fulfilment_claim,
       "INSERT INTO fulfillments (source, external_id,"
       " account_id, provider_item_id, entitlement_id,"
       " request_fingerprint, status, error_code, skipped,"
       " created_at_ms, updated_at_ms, fulfilled_at_ms, request)"
       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
       " ON CONFLICT (source, external_id) DO NOTHING RETURNING row_id");
PG_SQL(sql_fulfilment_update,
       "UPDATE fulfillments SET account_id = $2, provider_item_id = $3,"
       " entitlement_id = $4, request_fingerprint = $5, status = $6,"
       " error_code = $7, skipped = $8, updated_at_ms = $9,"
       " fulfilled_at_ms = $10, request = $11 WHERE row_id = $1");
PG_SQL(sql_claim_count,
       "SELECT count FROM claims"
       " WHERE account_id = $1 AND entitlement_id = $2");
PG_SQL(sql_claim_add,
       "INSERT INTO claims (account_id, entitlement_id, count,"
       " updated_at_ms) VALUES ($1, $2, 1, $3)"
       " ON CONFLICT (account_id, entitlement_id) DO UPDATE"
       " SET count = claims.count + 1,"
       " updated_at_ms = excluded.updated_at_ms");
PG_SQL(sql_instance_owned,
       "SELECT 1 FROM inventory_instances"
       " WHERE account_id = $1 AND catalog_id = $2 LIMIT 1");
PG_SQL(sql_grant_insert,
       "INSERT INTO grants (fulfillment_row, line, catalog_id, amount,"
       " instance_id) VALUES ($1, $2, $3, $4, $5)");
PG_SQL(sql_stackable_add,
       "INSERT INTO inventory_stackables (account_id, catalog_id, amount)"
       " VALUES ($1, $2, $3) ON CONFLICT (account_id, catalog_id)"
       " DO UPDATE SET amount = inventory_stackables.amount"
       " + excluded.amount");
PG_SQL(sql_instance_insert,
       "INSERT INTO inventory_instances (instance_id, account_id,"
       " catalog_id, fulfillment_row, acquired_at_ms)"
       " VALUES ($1, $2, $3, $4, $5)");
PG_SQL(sql_credential_insert,
       "INSERT INTO credentials (id, kind, name, secret_hash, scopes,"
       " created_at_ms, expires_at_ms, revoked_at_ms, updated_at_ms)"
       " VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $6)");
PG_SQL(sql_credential_revoke,
       "UPDATE credentials SET revoked_at_ms ="
       " coalesce(revoked_at_ms, $2), updated_at_ms = $2"
       " WHERE id = $1 AND kind = $3");
PG_SQL(sql_credential_rotate,
       "UPDATE credentials SET previous_secret_hash = secret_hash,"
       " previous_expires_at_ms = $3, secret_hash = $2,"
       " secret_rotated_at_ms = $4, updated_at_ms = $4"
       " WHERE id = $1 AND kind = $5 AND revoked_at_ms IS NULL");
PG_SQL(sql_credential_live_name,
       "SELECT id FROM credentials WHERE name = $1"
       " AND revoked_at_ms IS NULL LIMIT 1");
PG_SQL(sql_signing_key_insert,
       "INSERT INTO signing_keys (kid, secret, created_at_ms)"
       " VALUES ($1, $2, $3)");
PG_SQL(sql_signing_key_retire,
       "UPDATE signing_keys SET retired_at_ms = $2"
       " WHERE kid = $1 AND retired_at_ms IS NULL");
/* The active keys are locked while counted: two writers retiring two keys
 * at once cannot both see the other's key still active and leave none. */
PG_SQL(sql_signing_keys_active,
       "SELECT count(*) FROM (SELECT 1 FROM signing_keys"
       " WHERE retired_at_ms IS NULL FOR UPDATE) AS k");
PG_SQL(sql_audit_insert,
       "INSERT INTO audit (at_ms, actor, action, target, detail)"
       " VALUES ($1, $2, $3, $4, $5)");
PG_SQL(sql_health_touch,
       "INSERT INTO health (id, at_ms) VALUES (1, $1)"
       " ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms");

/* Every writer that decides something about an account (the engine's
 * per-account limits, its unique items, the account's state) calls this
 * first in its transaction: the advisory lock on the account id, held
 * until the transaction ends, serialises all writers working on that
 * account, on every node. The engine's limit, unique-item and
 * account-state decisions all follow account_get in the same
 * transaction, so this lock is what makes them hold with several writers.
 * The state is read by a statement of its own, after the lock: a
 * statement sees the database as it was when the statement began, so a
 * read in the statement that waited for the lock would miss what the
 * writer holding it committed meanwhile (an account it created or
 * suspended). */
int store_pg_tx_account_get(struct store_tx *tx, const char *account_id,
			    enum store_account_state *state, bool *found)
{
	struct pg_params p = {0};
	PGresult *res;
	const char *name;
	int rc = STORE_OK;

	*found = false;
	pg_param_text(&p, account_id);
	if (pg_exec_deferred(pg_tx_conn(tx), &sql_account_lock, &p,
			     "account_lock"))
		return STORE_ERR;
	res = pg_run(pg_tx_conn(tx), &sql_account_get, &p, "account_get");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0) {
		name = pg_text(res, 0, 0);
		*found = true;
		if (!name || store_account_state_parse(name, state))
			rc = STORE_ERR;
	}
	PQclear(res);
	return rc;
}

int store_pg_tx_account_put(struct store_tx *tx, const char *account_id,
			    enum store_account_state state, int64_t now_ms,
			    bool *created)
{
	struct pg_params p = {0};
	PGresult *res;
	int rc = STORE_OK;

	pg_param_text(&p, account_id);
	pg_param_text(&p, store_account_state_name(state));
	pg_param_int(&p, now_ms);
	res = pg_run(pg_tx_conn(tx), &sql_account_put, &p, "account_put");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) == 1)
		*created = pg_int(res, 0, 0) != 0;
	else
		rc = STORE_ERR;
	PQclear(res);
	return rc;
}

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

int store_pg_tx_fulfilment_find(struct store_tx *tx, const char *source,
				const char *external_id,
				struct store_fulfilment_ref *out)
{
	struct pg_params p = {0};
	PGresult *res;
	const char *status;
	int rc = STORE_OK;

	out->found = false;
	pg_param_text(&p, source);
	pg_param_text(&p, external_id);
	res = pg_run(pg_tx_conn(tx), &sql_fulfilment_find, &p, "fulfilment_find");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) == 0)
		goto out;
	out->found = true;
	out->row = pg_int(res, 0, 0);
	store_fulfilment_id_format(out->row, out->fulfillment_id);
	if (pg_bytes(res, 0, 1, out->fingerprint, STORE_FINGERPRINT_LEN) !=
	    STORE_FINGERPRINT_LEN)
		memset(out->fingerprint, 0, STORE_FINGERPRINT_LEN);
	status = pg_text(res, 0, 2);
	if (!status || status_parse(status, &out->status))
		rc = STORE_ERR;
	out->has_entitlement = pg_int(res, 0, 3) != 0;
out:
	PQclear(res);
	return rc;
}

int store_pg_tx_fulfilment_claim(struct store_tx *tx,
				 const struct store_fulfilment *f, int64_t *row,
				 struct store_fulfilment_ref *existing)
{
	struct pg_params p = {0};
	PGresult *res;
	bool inserted;

	existing->found = false;
	pg_param_text(&p, f->source);
	pg_param_text(&p, f->external_id);
	pg_param_text(&p, f->account_id);
	pg_param_text(&p, f->provider_item_id);
	pg_param_text(&p, f->entitlement_id);
	pg_param_bytes(&p, f->fingerprint, STORE_FINGERPRINT_LEN);
	pg_param_text(&p, store_fulfilment_status_name(f->status));
	pg_param_text(&p, f->error_code);
	pg_param_text(&p, f->skipped);
	pg_param_int(&p, f->created_at_ms);
	pg_param_int(&p, f->updated_at_ms);
	pg_param_time(&p, f->fulfilled_at_ms);
	pg_param_text(&p, f->request);
	res = pg_run(pg_tx_conn(tx), &sql_fulfilment_claim, &p,
		     "fulfilment_claim");
	if (!res)
		return STORE_ERR;
	inserted = PQntuples(res) == 1;
	if (inserted)
		*row = pg_int(res, 0, 0);
	PQclear(res);
	if (inserted)
		return STORE_OK;
	/* another writer holds the key: nothing was written */
	if (store_pg_tx_fulfilment_find(tx, f->source, f->external_id,
					existing) || !existing->found)
		return STORE_ERR;
	return STORE_CONFLICT;
}

int store_pg_tx_fulfilment_update(struct store_tx *tx, int64_t row,
				  const struct store_fulfilment *f)
{
	struct pg_params p = {0};

	pg_param_int(&p, row);
	pg_param_text(&p, f->account_id);
	pg_param_text(&p, f->provider_item_id);
	pg_param_text(&p, f->entitlement_id);
	pg_param_bytes(&p, f->fingerprint, STORE_FINGERPRINT_LEN);
	pg_param_text(&p, store_fulfilment_status_name(f->status));
	pg_param_text(&p, f->error_code);
	pg_param_text(&p, f->skipped);
	pg_param_int(&p, f->updated_at_ms);
	pg_param_time(&p, f->fulfilled_at_ms);
	pg_param_text(&p, f->request);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_fulfilment_update, &p,
				"fulfilment_update");
}

int store_pg_tx_claim_count(struct store_tx *tx, const char *account_id,
			    const char *entitlement_id, int64_t *count)
{
	struct pg_params p = {0};
	PGresult *res;

	*count = 0;
	pg_param_text(&p, account_id);
	pg_param_text(&p, entitlement_id);
	res = pg_run(pg_tx_conn(tx), &sql_claim_count, &p, "claim_count");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0)
		*count = pg_int(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_claim_add(struct store_tx *tx, const char *account_id,
			  const char *entitlement_id, int64_t now_ms)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	pg_param_text(&p, entitlement_id);
	pg_param_int(&p, now_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_claim_add, &p,
				"claim_add");
}

int store_pg_tx_instance_owned(struct store_tx *tx, const char *account_id,
			       const char *catalog_id, bool *owned)
{
	struct pg_params p = {0};
	PGresult *res;

	*owned = false;
	pg_param_text(&p, account_id);
	pg_param_text(&p, catalog_id);
	res = pg_run(pg_tx_conn(tx), &sql_instance_owned, &p, "instance_owned");
	if (!res)
		return STORE_ERR;
	*owned = PQntuples(res) > 0;
	PQclear(res);
	return STORE_OK;
}

/* Records one ledger line of fulfilment `row`. */
static int grant_insert(struct store_tx *tx, int64_t row, int line,
			const char *catalog_id, int64_t amount,
			const char *instance_id)
{
	struct pg_params p = {0};

	pg_param_int(&p, row);
	pg_param_int(&p, line);
	pg_param_text(&p, catalog_id);
	pg_param_int(&p, amount);
	pg_param_text(&p, instance_id);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_grant_insert, &p,
				"grant_insert");
}

int store_pg_tx_grant_stackable(struct store_tx *tx, int64_t row, int line,
				const char *account_id, const char *catalog_id,
				int64_t amount)
{
	struct pg_params p = {0};
	int rc = grant_insert(tx, row, line, catalog_id, amount, NULL);

	if (rc)
		return rc;
	pg_param_text(&p, account_id);
	pg_param_text(&p, catalog_id);
	pg_param_int(&p, amount);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_stackable_add, &p,
				"stackable_add");
}

int store_pg_tx_grant_instance(struct store_tx *tx, int64_t row, int line,
			       const char *account_id, const char *catalog_id,
			       const char *instance_id, int64_t now_ms)
{
	struct pg_params p = {0};
	int rc = grant_insert(tx, row, line, catalog_id, 1, instance_id);

	if (rc)
		return rc;
	pg_param_text(&p, instance_id);
	pg_param_text(&p, account_id);
	pg_param_text(&p, catalog_id);
	pg_param_int(&p, row);
	pg_param_int(&p, now_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_instance_insert, &p,
				"instance_insert");
}

int store_pg_tx_credential_insert(struct store_tx *tx,
				  const struct store_credential *c)
{
	struct pg_params p = {0};

	pg_param_text(&p, c->id);
	pg_param_text(&p, c->kind);
	pg_param_text(&p, c->name);
	pg_param_text(&p, c->secret_hash);
	pg_param_text(&p, c->scopes);
	pg_param_int(&p, c->created_at_ms);
	pg_param_time(&p, c->expires_at_ms);
	return pg_exec(pg_tx_conn(tx), &sql_credential_insert, &p,
		       "credential_insert", NULL);
}

/* Runs an UPDATE; *found tells whether it matched a row. */
static int update_found(struct store_tx *tx, struct pg_sql *sql,
			const struct pg_params *p, const char *what,
			bool *found)
{
	int64_t changed = 0;
	int rc = pg_exec(pg_tx_conn(tx), sql, p, what, &changed);

	*found = rc == STORE_OK && changed > 0;
	return rc;
}

int store_pg_tx_credential_revoke(struct store_tx *tx, const char *id,
				  const char *kind, int64_t now_ms, bool *found)
{
	struct pg_params p = {0};

	pg_param_text(&p, id);
	pg_param_int(&p, now_ms);
	pg_param_text(&p, kind);
	return update_found(tx, &sql_credential_revoke, &p,
			    "credential_revoke", found);
}

int store_pg_tx_credential_rotate(struct store_tx *tx, const char *id,
				  const char *kind, const char *secret_hash,
				  int64_t previous_expires_at_ms,
				  int64_t now_ms, bool *found)
{
	struct pg_params p = {0};

	pg_param_text(&p, id);
	pg_param_text(&p, secret_hash);
	pg_param_int(&p, previous_expires_at_ms);
	pg_param_int(&p, now_ms);
	pg_param_text(&p, kind);
	return update_found(tx, &sql_credential_rotate, &p,
			    "credential_rotate", found);
}

int store_pg_tx_credential_live_name(struct store_tx *tx, const char *name,
				     char *id, size_t id_size, bool *found)
{
	struct pg_params p = {0};
	PGresult *res;

	*found = false;
	pg_param_text(&p, name);
	res = pg_run(pg_tx_conn(tx), &sql_credential_live_name, &p,
		     "credential_live_name");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0) {
		*found = true;
		pg_copy_text(res, 0, 0, id, id_size);
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_signing_key_insert(struct store_tx *tx,
				   const struct store_signing_key *k)
{
	struct pg_params p = {0};

	pg_param_text(&p, k->kid);
	pg_param_text(&p, k->secret);
	pg_param_int(&p, k->created_at_ms);
	return pg_exec(pg_tx_conn(tx), &sql_signing_key_insert, &p,
		       "signing_key_insert", NULL);
}

int store_pg_tx_signing_key_retire(struct store_tx *tx, const char *kid,
				   int64_t now_ms, bool *found)
{
	struct pg_params p = {0};

	pg_param_text(&p, kid);
	pg_param_int(&p, now_ms);
	return update_found(tx, &sql_signing_key_retire, &p,
			    "signing_key_retire", found);
}

int store_pg_tx_signing_keys_active(struct store_tx *tx, int64_t *count)
{
	PGresult *res = pg_run(pg_tx_conn(tx), &sql_signing_keys_active, NULL,
			       "signing_keys_active");
	int rc = STORE_OK;

	if (!res)
		return STORE_ERR;
	if (PQntuples(res) == 1)
		*count = pg_int(res, 0, 0);
	else
		rc = STORE_ERR;
	PQclear(res);
	return rc;
}

int store_pg_tx_audit_add(struct store_tx *tx, const struct store_audit *a)
{
	struct pg_params p = {0};

	pg_param_int(&p, a->at_ms);
	pg_param_text(&p, a->actor);
	pg_param_text(&p, a->action);
	pg_param_text(&p, a->target);
	pg_param_text(&p, a->detail ? a->detail : "{}");
	return pg_exec_deferred(pg_tx_conn(tx), &sql_audit_insert, &p,
				"audit_add");
}

int store_pg_tx_health_touch(struct store_tx *tx, int64_t now_ms)
{
	struct pg_params p = {0};

	pg_param_int(&p, now_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_health_touch, &p,
				"health_touch");
}

/* The nested savepoint has a name of its own, apart from the one the
 * writer opens around each intent. */
int store_pg_tx_savepoint(struct store_tx *tx)
{
	return pg_command(pg_tx_conn(tx), "SAVEPOINT nested",
			  "nested_savepoint");
}

int store_pg_tx_savepoint_release(struct store_tx *tx)
{
	return pg_command(pg_tx_conn(tx), "RELEASE SAVEPOINT nested",
			  "nested_release");
}

int store_pg_tx_savepoint_rollback(struct store_tx *tx)
{
	if (pg_command(pg_tx_conn(tx), "ROLLBACK TO SAVEPOINT nested",
		       "nested_rollback"))
		return STORE_ERR;
	return pg_command(pg_tx_conn(tx), "RELEASE SAVEPOINT nested",
			  "nested_release");
}
