/* store/postgres/read.c: reads on pooled reader connections. */
#include "store/postgres/pg_int.h"

#include <stdlib.h>

/* Text sort keys compare bytewise (COLLATE "C"), as SQLite orders them,
 * whatever the database's collation. */
PG_SQL(sql_read_account,
       "SELECT account_id, state, created_at_ms, updated_at_ms"
       " FROM accounts WHERE account_id = $1");
PG_SQL(sql_read_stackables,
       "SELECT catalog_id, amount FROM inventory_stackables"
       " WHERE account_id = $1 ORDER BY catalog_id COLLATE \"C\"");
PG_SQL(sql_read_instances,
       "SELECT instance_id, catalog_id, fulfillment_row, acquired_at_ms"
       " FROM inventory_instances WHERE account_id = $1"
       " ORDER BY acquired_at_ms, instance_id COLLATE \"C\"");
PG_SQL(sql_read_history,
       "SELECT row_id, source, external_id, account_id,"
       " provider_item_id, entitlement_id, status, error_code, skipped,"
       " created_at_ms, fulfilled_at_ms FROM fulfillments"
       " WHERE account_id = $1 ORDER BY row_id DESC"
       " LIMIT $2 OFFSET $3");
PG_SQL(sql_read_credentials,
       "SELECT id, kind, name, secret_hash, scopes, created_at_ms,"
       " expires_at_ms, revoked_at_ms, previous_secret_hash,"
       " previous_expires_at_ms, secret_rotated_at_ms FROM credentials"
       " ORDER BY created_at_ms, id COLLATE \"C\"");
PG_SQL(sql_read_credential_live,
       "SELECT 1 FROM credentials WHERE secret_hash = $1"
       " AND revoked_at_ms IS NULL AND ($2::text IS NULL OR id = $2::text)"
       " AND (expires_at_ms IS NULL OR expires_at_ms > $3)");
PG_SQL(sql_read_signing_keys,
       "SELECT kid, secret, created_at_ms, retired_at_ms"
       " FROM signing_keys ORDER BY created_at_ms DESC,"
       " kid COLLATE \"C\" DESC");
PG_SQL(sql_read_links,
       "SELECT provider, external_id, state, linked_at_ms, updated_at_ms,"
       " tokens FROM links WHERE account_id = $1"
       " ORDER BY provider COLLATE \"C\"");
PG_SQL(sql_read_link_holder,
       "SELECT account_id FROM links WHERE provider = $1"
       " AND external_id = $2");
PG_SQL(sql_read_audit,
       "SELECT id, at_ms, actor, action, target, detail FROM"
       " (SELECT * FROM audit ORDER BY id DESC LIMIT $1) AS a ORDER BY id");

/* A row limit: a negative one is no limit (LIMIT NULL), as in SQLite. */
static void param_limit(struct pg_params *p, int64_t limit)
{
	if (limit < 0)
		pg_param_text(p, NULL);
	else
		pg_param_int(p, limit);
}

int store_pg_account_read(struct store *st, const char *account_id,
			  struct store_account *out, bool *found)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *res;
	const char *state;
	int rc = STORE_ERR;

	*found = false;
	if (!c)
		return STORE_ERR;
	pg_param_text(&p, account_id);
	res = pg_run(c, &sql_read_account, &p, "account_read");
	if (!res)
		goto out;
	if (PQntuples(res) > 0) {
		state = pg_text(res, 0, 1);
		pg_copy_text(res, 0, 0, out->account_id, sizeof(out->account_id));
		out->created_at_ms = pg_int(res, 0, 2);
		out->updated_at_ms = pg_int(res, 0, 3);
		*found = state && store_account_state_parse(state, &out->state) == 0;
		rc = *found ? STORE_OK : STORE_ERR;
	} else {
		rc = STORE_OK;
	}
	PQclear(res);
out:
	pg_reader_release(st, c);
	return rc;
}

/* Runs one account-keyed inventory query on c. NULL if it failed. */
static PGresult *query_account(struct pg_conn *c, struct pg_sql *sql,
			       const char *account_id)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	return pg_run(c, sql, &p, "inventory_read");
}

/* The stackables, then the instances, inside one read transaction. */
static int inventory_rows(struct pg_conn *c, const char *account_id,
			  store_stackable_fn on_stackable,
			  store_instance_fn on_instance, void *arg)
{
	PGresult *res = query_account(c, &sql_read_stackables, account_id);

	if (!res)
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++)
		on_stackable(arg, pg_text(res, i, 0), pg_int(res, i, 1));
	PQclear(res);
	res = query_account(c, &sql_read_instances, account_id);
	if (!res)
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++) {
		char fid[STORE_FULFILMENT_ID_LEN + 1];
		struct store_instance_row r = {
			.instance_id = pg_text(res, i, 0),
			.catalog_id = pg_text(res, i, 1),
			.fulfillment_id = fid,
			.acquired_at_ms = pg_int(res, i, 3),
		};

		store_fulfilment_id_format(pg_int(res, i, 2), fid);
		on_instance(arg, &r);
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_inventory_read(struct store *st, const char *account_id,
			    store_stackable_fn on_stackable,
			    store_instance_fn on_instance, void *arg)
{
	struct pg_conn *c = pg_reader_acquire(st);
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	if (pg_read_begin(c) == STORE_OK) {
		rc = inventory_rows(c, account_id, on_stackable, on_instance,
				    arg);
		pg_read_end(c);
	}
	pg_reader_release(st, c);
	return rc;
}

/* Row i of a fulfilments result (FULFILMENT_COLUMNS) as history; fid is
 * its id's storage. */
static void history_fill(const PGresult *res, int i,
			 struct store_history_row *r,
			 char fid[STORE_FULFILMENT_ID_LEN + 1])
{
	*r = (struct store_history_row){
		.fulfillment_id = fid,
		.source = pg_text(res, i, 1),
		.external_id = pg_text(res, i, 2),
		.account_id = pg_text(res, i, 3),
		.provider_item_id = pg_text(res, i, 4),
		.entitlement_id = pg_text(res, i, 5),
		.status = pg_text(res, i, 6),
		.error_code = pg_text(res, i, 7),
		.skipped = pg_text(res, i, 8),
		.created_at_ms = pg_int(res, i, 9),
		.fulfilled_at_ms = pg_int(res, i, 10),
	};
	store_fulfilment_id_format(pg_int(res, i, 0), fid);
}

/* Hands each row of a fulfilments result (FULFILMENT_COLUMNS) to fn. */
static void history_rows(const PGresult *res, store_history_fn fn, void *arg)
{
	for (int i = 0; i < PQntuples(res); i++) {
		char fid[STORE_FULFILMENT_ID_LEN + 1];
		struct store_history_row r;

		history_fill(res, i, &r, fid);
		fn(arg, &r);
	}
}

int store_pg_history_read(struct store *st, const char *account_id,
			  int64_t offset, int64_t limit, store_history_fn fn,
			  void *arg)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *res;

	if (!c)
		return STORE_ERR;
	pg_param_text(&p, account_id);
	param_limit(&p, limit);
	pg_param_int(&p, offset > 0 ? offset : 0);
	res = pg_run(c, &sql_read_history, &p, "history_read");
	if (!res) {
		pg_reader_release(st, c);
		return STORE_ERR;
	}
	history_rows(res, fn, arg);
	PQclear(res);
	pg_reader_release(st, c);
	return STORE_OK;
}

/* The columns of PG_SQL statements selecting fulfilments as history. */
#define FULFILMENT_COLUMNS \
	"SELECT row_id, source, external_id, account_id, provider_item_id," \
	" entitlement_id, status, error_code, skipped, created_at_ms," \
	" fulfilled_at_ms FROM fulfillments"

PG_SQL(sql_read_search, FULFILMENT_COLUMNS
       " WHERE ($1::text IS NULL OR account_id = $1)"
       " AND ($2::text IS NULL OR source = $2)"
       " AND ($3::text IS NULL OR external_id = $3)"
       " AND ($4::text IS NULL OR status = $4)"
       " AND created_at_ms >= $5 AND created_at_ms < $6"
       " AND row_id < $7 ORDER BY row_id DESC LIMIT $8");
PG_SQL(sql_read_fulfilment,
       "SELECT row_id, source, external_id, account_id, provider_item_id,"
       " entitlement_id, status, error_code, skipped, created_at_ms,"
       " fulfilled_at_ms, request FROM fulfillments WHERE row_id = $1");
PG_SQL(sql_read_grants,
       "SELECT line, catalog_id, amount, instance_id FROM grants"
       " WHERE fulfillment_row = $1 ORDER BY line");

int store_pg_fulfilments_search(struct store *st,
				const struct store_fulfilment_query *q,
				store_history_fn fn, void *arg)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *res;

	if (!c)
		return STORE_ERR;
	pg_param_text(&p, q->account_id);
	pg_param_text(&p, q->source);
	pg_param_text(&p, q->external_id);
	pg_param_text(&p, q->status);
	pg_param_int(&p, q->since_ms);
	pg_param_int(&p, q->until_ms ? q->until_ms : INT64_MAX);
	pg_param_int(&p, q->before_row ? q->before_row : INT64_MAX);
	pg_param_int(&p, q->limit);
	res = pg_run(c, &sql_read_search, &p, "fulfilments_search");
	if (res)
		history_rows(res, fn, arg);
	PQclear(res);
	pg_reader_release(st, c);
	return res ? STORE_OK : STORE_ERR;
}

static void grant_rows(const PGresult *res, store_grant_fn gfn, void *arg)
{
	for (int i = 0; i < PQntuples(res); i++)
		gfn(arg, (int)pg_int(res, i, 0), pg_text(res, i, 1),
		    pg_int(res, i, 2), pg_text(res, i, 3));
}

/* Both statements in one read-only snapshot. */
int store_pg_fulfilment_read(struct store *st, int64_t row,
			     store_history_fn fn, store_grant_fn gfn,
			     void *arg, bool *found)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *f = NULL, *g = NULL;
	int rc = STORE_ERR;

	*found = false;
	if (!c)
		return STORE_ERR;
	pg_param_int(&p, row);
	if (pg_read_begin(c))
		goto out;
	f = pg_run(c, &sql_read_fulfilment, &p, "fulfilment_read");
	if (f && PQntuples(f) == 1)
		g = pg_run(c, &sql_read_grants, &p, "grants_read");
	if (!f || (PQntuples(f) == 1 && !g))
		goto out;
	*found = PQntuples(f) == 1;
	if (*found) {
		char fid[STORE_FULFILMENT_ID_LEN + 1];
		struct store_history_row r;

		history_fill(f, 0, &r, fid);
		r.request = pg_text(f, 0, 11);
		fn(arg, &r);
		grant_rows(g, gfn, arg);
	}
	rc = STORE_OK;
out:
	PQclear(f);
	PQclear(g);
	pg_read_end(c);
	pg_reader_release(st, c);
	return rc;
}

int store_pg_credentials_read(struct store *st, store_credential_fn fn,
			      void *arg)
{
	PGresult *res;

	if (pg_read_run(st, &sql_read_credentials, NULL, "credentials_read",
			&res))
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_credential cr = {
			.id = pg_text(res, i, 0),
			.kind = pg_text(res, i, 1),
			.name = pg_text(res, i, 2),
			.secret_hash = pg_text(res, i, 3),
			.scopes = pg_text(res, i, 4),
			.created_at_ms = pg_int(res, i, 5),
			.expires_at_ms = pg_int(res, i, 6),
			.revoked_at_ms = pg_int(res, i, 7),
			.previous_secret_hash = pg_text(res, i, 8),
			.previous_expires_at_ms = pg_int(res, i, 9),
			.secret_rotated_at_ms = pg_int(res, i, 10),
		};

		fn(arg, &cr);
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_credential_live(struct store *st, const char *secret_hash,
			     const char *id, int64_t now_ms, bool *found)
{
	struct pg_params p = {0};
	PGresult *res;

	*found = false;
	pg_param_text(&p, secret_hash);
	pg_param_text(&p, id);
	pg_param_int(&p, now_ms);
	if (pg_read_run(st, &sql_read_credential_live, &p, "credential_live",
			&res))
		return STORE_ERR;
	*found = PQntuples(res) > 0;
	PQclear(res);
	return STORE_OK;
}

int store_pg_signing_keys_read(struct store *st, store_signing_key_fn fn,
			       void *arg)
{
	PGresult *res;

	if (pg_read_run(st, &sql_read_signing_keys, NULL, "signing_keys_read",
			&res))
		return STORE_ERR;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_signing_key k = {
			.kid = pg_text(res, i, 0),
			.secret = pg_text(res, i, 1),
			.created_at_ms = pg_int(res, i, 2),
			.retired_at_ms = pg_int(res, i, 3),
		};

		fn(arg, &k);
	}
	PQclear(res);
	return STORE_OK;
}

/* Hands one link row to fn, its tokens decoded for the call: NULL and 0
 * when there are none or they are empty. */
static void link_row(const PGresult *res, int i, const char *account_id,
		     store_link_fn fn, void *arg)
{
	size_t max = (size_t)PQgetlength(res, i, 5) / 2;
	unsigned char *tokens = NULL;
	size_t len = 0;
	struct store_link l;

	if (!pg_null(res, i, 5) && max > 0) {
		tokens = util_xmalloc(max);
		len = pg_bytes(res, i, 5, tokens, max);
	}
	l = (struct store_link){
		.account_id = account_id,
		.provider = pg_text(res, i, 0),
		.external_id = pg_text(res, i, 1),
		.state = store_link_state_of(pg_text(res, i, 2)),
		.linked_at_ms = pg_int(res, i, 3),
		.updated_at_ms = pg_int(res, i, 4),
		.tokens = len ? tokens : NULL,
		.tokens_len = len,
	};
	fn(arg, &l);
	free(tokens);
}

int store_pg_links_read(struct store *st, const char *account_id,
			store_link_fn fn, void *arg)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *res;

	if (!c)
		return STORE_ERR;
	pg_param_text(&p, account_id);
	res = pg_run(c, &sql_read_links, &p, "links_read");
	if (!res) {
		pg_reader_release(st, c);
		return STORE_ERR;
	}
	for (int i = 0; i < PQntuples(res); i++)
		link_row(res, i, account_id, fn, arg);
	PQclear(res);
	pg_reader_release(st, c);
	return STORE_OK;
}

int store_pg_link_holder_read(struct store *st, const char *provider,
			      const char *external_id, char *account,
			      size_t size, bool *found)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct pg_params p = {0};
	PGresult *res;

	*found = false;
	account[0] = '\0';
	if (!c)
		return STORE_ERR;
	pg_param_text(&p, provider);
	pg_param_text(&p, external_id);
	res = pg_run(c, &sql_read_link_holder, &p, "link_holder_read");
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

/* Hands each row of an audit result to fn. */
static void audit_rows(const PGresult *res, store_audit_fn fn, void *arg)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_audit a = {
			.id = pg_int(res, i, 0),
			.at_ms = pg_int(res, i, 1),
			.actor = pg_text(res, i, 2),
			.action = pg_text(res, i, 3),
			.target = pg_text(res, i, 4),
			.detail = pg_text(res, i, 5),
		};

		fn(arg, &a);
	}
}

int store_pg_audit_read(struct store *st, int64_t limit, store_audit_fn fn,
			void *arg)
{
	struct pg_params p = {0};
	PGresult *res;

	param_limit(&p, limit);
	if (pg_read_run(st, &sql_read_audit, &p, "audit_read", &res))
		return STORE_ERR;
	audit_rows(res, fn, arg);
	PQclear(res);
	return STORE_OK;
}

PG_SQL(sql_read_audit_for,
       "SELECT id, at_ms, actor, action, target, detail FROM audit"
       " WHERE target = $1 ORDER BY id LIMIT $2");

int store_pg_audit_read_for(struct store *st, const char *target,
			    int64_t limit, store_audit_fn fn, void *arg)
{
	struct pg_params p = {0};
	PGresult *res;

	pg_param_text(&p, target);
	pg_param_int(&p, limit);
	if (pg_read_run(st, &sql_read_audit_for, &p, "audit_read_for", &res))
		return STORE_ERR;
	audit_rows(res, fn, arg);
	PQclear(res);
	return STORE_OK;
}
