/* store/sqlite/revoke.c: what a revocation reads and writes — a fulfilment
 * by row, its grants ledger, balances, instances, claims, and the
 * revocations table. */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <string.h>

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static int step_done(struct store_conn *c, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(c, what, rc);
	return STORE_ERR;
}

static void column_copy(sqlite3_stmt *s, int col, char *out, size_t size)
{
	const char *t = (const char *)sqlite3_column_text(s, col);

	snprintf(out, size, "%s", t ? t : "");
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

int store_sqlite_tx_fulfilment_get(struct store_tx *tx, int64_t row,
				   struct store_fulfilment_info *out)
{
	struct store_conn *c = store_tx_conn(tx);
	sqlite3_stmt *s = store_conn_stmt(c, STMT_FULFILMENT_GET);
	const char *status;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, row);
	rc = store_conn_step_row(c, s, &out->found, "fulfilment_get");
	if (rc != STORE_OK || !out->found)
		return rc;
	column_copy(s, 0, out->account_id, sizeof(out->account_id));
	column_copy(s, 1, out->entitlement_id, sizeof(out->entitlement_id));
	status = (const char *)sqlite3_column_text(s, 2);
	if (!status || status_parse(status, &out->status))
		rc = STORE_ERR;
	sqlite3_reset(s);
	return rc;
}

int store_sqlite_tx_grants_read(struct store_tx *tx, int64_t row,
				store_grant_fn fn, void *arg)
{
	struct store_conn *c = store_tx_conn(tx);
	sqlite3_stmt *s = store_conn_stmt(c, STMT_GRANTS_READ);
	int rc;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, sqlite3_column_int(s, 0),
		   (const char *)sqlite3_column_text(s, 1),
		   sqlite3_column_int64(s, 2),
		   (const char *)sqlite3_column_text(s, 3));
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(c, "grants_read", rc);
	return STORE_ERR;
}

int store_sqlite_tx_stackable_get(struct store_tx *tx, const char *account_id,
				  const char *catalog_id, int64_t *amount)
{
	struct store_conn *c = store_tx_conn(tx);
	sqlite3_stmt *s = store_conn_stmt(c, STMT_STACKABLE_GET);
	bool found;
	int rc;

	*amount = 0;
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, catalog_id);
	rc = store_conn_step_row(c, s, &found, "stackable_get");
	if (rc == STORE_OK && found) {
		*amount = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return rc;
}

int store_sqlite_tx_stackable_add(struct store_tx *tx, const char *account_id,
				  const char *catalog_id, int64_t delta)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_STACKABLE_ADD);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, catalog_id);
	sqlite3_bind_int64(s, 3, delta);
	return step_done(store_tx_conn(tx), s, "stackable_add");
}

int store_sqlite_tx_instance_delete(struct store_tx *tx, const char *account_id,
				    const char *instance_id, bool *deleted)
{
	struct store_conn *c = store_tx_conn(tx);
	sqlite3_stmt *s = store_conn_stmt(c, STMT_INSTANCE_DELETE);

	*deleted = false;
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, instance_id);
	bind_text(s, 2, account_id);
	if (step_done(c, s, "instance_delete"))
		return STORE_ERR;
	*deleted = sqlite3_changes(c->db) > 0;
	return STORE_OK;
}

int store_sqlite_tx_claim_release(struct store_tx *tx, const char *account_id,
				  const char *entitlement_id, int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_CLAIM_RELEASE);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, entitlement_id);
	sqlite3_bind_int64(s, 3, now_ms);
	return step_done(store_tx_conn(tx), s, "claim_release");
}

int store_sqlite_tx_revocation_add(struct store_tx *tx,
				   const struct store_revocation *r)
{
	struct store_conn *c = store_tx_conn(tx);
	sqlite3_stmt *s = store_conn_stmt(c, STMT_REVOCATION_ADD);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, r->row);
	bind_text(s, 2, r->account_id);
	bind_text(s, 3, r->reason);
	bind_text(s, 4, r->actor);
	sqlite3_bind_int(s, 5, r->released_claim);
	bind_text(s, 6, r->removed);
	bind_text(s, 7, r->shortfall);
	sqlite3_bind_int64(s, 8, r->revoked_at_ms);
	if (step_done(c, s, "revocation_add"))
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_FULFILMENT_REVOKE);
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, r->row);
	sqlite3_bind_int64(s, 2, r->revoked_at_ms);
	return step_done(c, s, "fulfilment_revoke");
}

int store_sqlite_tx_revocation_get(struct store_tx *tx, int64_t row,
				   store_revocation_fn fn, void *arg,
				   bool *found)
{
	struct store_conn *c = store_tx_conn(tx);
	sqlite3_stmt *s = store_conn_stmt(c, STMT_REVOCATION_GET);
	struct store_revocation r = { .row = row };
	int rc;

	*found = false;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, row);
	rc = store_conn_step_row(c, s, found, "revocation_get");
	if (rc != STORE_OK || !*found)
		return rc;
	r.account_id = (const char *)sqlite3_column_text(s, 0);
	r.reason = (const char *)sqlite3_column_text(s, 1);
	r.actor = (const char *)sqlite3_column_text(s, 2);
	r.released_claim = sqlite3_column_int(s, 3) != 0;
	r.removed = (const char *)sqlite3_column_text(s, 4);
	r.shortfall = (const char *)sqlite3_column_text(s, 5);
	r.revoked_at_ms = sqlite3_column_int64(s, 6);
	fn(arg, &r);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_sqlite_fulfilment_account_read(struct store *st, int64_t row,
					 char *account, size_t size,
					 bool *found)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	*found = false;
	account[0] = '\0';
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_FULFILMENT_ACCOUNT);
	if (s) {
		sqlite3_bind_int64(s, 1, row);
		rc = store_conn_step_row(c, s, found, "fulfilment_account_read");
		if (rc == STORE_OK && *found) {
			column_copy(s, 0, account, size);
			sqlite3_reset(s);
		}
	}
	store_reader_release(st, c);
	return rc;
}
