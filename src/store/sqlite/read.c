/* store/sqlite/read.c: reads on pooled reader connections (WAL snapshots
 * that never wait for the writer). */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <string.h>

static const char *col_text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

static int64_t col_time(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ?
		0 : sqlite3_column_int64(s, col);
}

/* Steps through every row, calling `row_fn` for each. */
static int each_row(struct store_conn *c, sqlite3_stmt *s,
		    void (*row_fn)(sqlite3_stmt *s, void *ctx), void *ctx,
		    const char *what)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		row_fn(s, ctx);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(c, what, rc);
	return STORE_ERR;
}

int store_sqlite_account_read(struct store *st, const char *account_id,
			      struct store_account *out, bool *found)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	*found = false;
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_ACCOUNT);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, account_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *state = col_text(s, 1);

		snprintf(out->account_id, sizeof(out->account_id), "%s",
			 col_text(s, 0));
		out->created_at_ms = sqlite3_column_int64(s, 2);
		out->updated_at_ms = sqlite3_column_int64(s, 3);
		*found = state && store_account_state_parse(state, &out->state) == 0;
		rc = *found ? STORE_OK : STORE_ERR;
	} else if (rc == SQLITE_DONE) {
		rc = STORE_OK;
	} else {
		store_log_error(c, "account_read", rc);
		rc = STORE_ERR;
	}
	sqlite3_reset(s);
out:
	store_reader_release(st, c);
	return rc;
}

struct inventory_ctx {
	store_stackable_fn on_stackable;
	store_instance_fn on_instance;
	void *arg;
};

static void stackable_row(sqlite3_stmt *s, void *ctx)
{
	struct inventory_ctx *ic = ctx;

	ic->on_stackable(ic->arg, col_text(s, 0), sqlite3_column_int64(s, 1));
}

static void instance_row(sqlite3_stmt *s, void *ctx)
{
	struct inventory_ctx *ic = ctx;
	char fid[STORE_FULFILMENT_ID_LEN + 1];
	struct store_instance_row r = {
		.instance_id = col_text(s, 0),
		.catalog_id = col_text(s, 1),
		.fulfillment_id = fid,
		.acquired_at_ms = sqlite3_column_int64(s, 3),
	};

	store_fulfilment_id_format(sqlite3_column_int64(s, 2), fid);
	ic->on_instance(ic->arg, &r);
}

/* Runs one account-keyed query on `c`, feeding each row to `row_fn`. */
static int query_account(struct store_conn *c, enum store_stmt id,
			 const char *account_id,
			 void (*row_fn)(sqlite3_stmt *s, void *ctx), void *ctx)
{
	sqlite3_stmt *s = store_conn_stmt(c, id);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_text(s, 1, account_id, -1, SQLITE_STATIC);
	return each_row(c, s, row_fn, ctx, "inventory_read");
}

int store_sqlite_inventory_read(struct store *st, const char *account_id,
				store_stackable_fn on_stackable,
				store_instance_fn on_instance, void *arg)
{
	struct inventory_ctx ic = { on_stackable, on_instance, arg };
	struct store_conn *c = store_reader_acquire(st);
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	if (store_conn_exec(c, STMT_READ_BEGIN))
		goto out;
	rc = query_account(c, STMT_READ_STACKABLES, account_id, stackable_row, &ic);
	if (rc == STORE_OK)
		rc = query_account(c, STMT_READ_INSTANCES, account_id,
				   instance_row, &ic);
	if (store_conn_exec(c, STMT_READ_END))
		rc = STORE_ERR;
out:
	store_reader_release(st, c);
	return rc;
}

struct history_ctx {
	store_history_fn fn;
	void *arg;
};

/* A fulfilments row (columns 0-10) as history; fid is its id's storage. */
static void history_fill(sqlite3_stmt *s, struct store_history_row *r,
			 char fid[STORE_FULFILMENT_ID_LEN + 1])
{
	*r = (struct store_history_row){
		.fulfillment_id = fid,
		.source = col_text(s, 1),
		.external_id = col_text(s, 2),
		.account_id = col_text(s, 3),
		.provider_item_id = col_text(s, 4),
		.entitlement_id = col_text(s, 5),
		.status = col_text(s, 6),
		.error_code = col_text(s, 7),
		.skipped = col_text(s, 8),
		.created_at_ms = sqlite3_column_int64(s, 9),
		.fulfilled_at_ms = col_time(s, 10),
	};
	store_fulfilment_id_format(sqlite3_column_int64(s, 0), fid);
}

static void history_row(sqlite3_stmt *s, void *ctx)
{
	struct history_ctx *hc = ctx;
	char fid[STORE_FULFILMENT_ID_LEN + 1];
	struct store_history_row r;

	history_fill(s, &r, fid);
	hc->fn(hc->arg, &r);
}

int store_sqlite_history_read(struct store *st, const char *account_id,
			      int64_t offset, int64_t limit,
			      store_history_fn fn, void *arg)
{
	struct history_ctx hc = { fn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_HISTORY);
	if (s) {
		sqlite3_bind_text(s, 1, account_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, limit);
		sqlite3_bind_int64(s, 3, offset);
		rc = each_row(c, s, history_row, &hc, "history_read");
	}
	store_reader_release(st, c);
	return rc;
}

struct credential_ctx {
	store_credential_fn fn;
	void *arg;
};

static void credential_row(sqlite3_stmt *s, void *ctx)
{
	struct credential_ctx *cc = ctx;
	struct store_credential c = {
		.id = col_text(s, 0),
		.kind = col_text(s, 1),
		.name = col_text(s, 2),
		.secret_hash = col_text(s, 3),
		.scopes = col_text(s, 4),
		.created_at_ms = sqlite3_column_int64(s, 5),
		.expires_at_ms = col_time(s, 6),
		.revoked_at_ms = col_time(s, 7),
		.previous_secret_hash = col_text(s, 8),
		.previous_expires_at_ms = col_time(s, 9),
		.secret_rotated_at_ms = col_time(s, 10),
	};

	cc->fn(cc->arg, &c);
}

static void bind_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

int store_sqlite_fulfilments_search(struct store *st,
				    const struct store_fulfilment_query *q,
				    store_history_fn fn, void *arg)
{
	struct history_ctx hc = { fn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_SEARCH);
	if (s) {
		bind_or_null(s, 1, q->account_id);
		bind_or_null(s, 2, q->source);
		bind_or_null(s, 3, q->external_id);
		bind_or_null(s, 4, q->status);
		sqlite3_bind_int64(s, 5, q->since_ms);
		sqlite3_bind_int64(s, 6, q->until_ms ? q->until_ms : INT64_MAX);
		sqlite3_bind_int64(s, 7, q->before_row ? q->before_row : INT64_MAX);
		sqlite3_bind_int64(s, 8, q->limit);
		rc = each_row(c, s, history_row, &hc, "fulfilments_search");
	}
	store_reader_release(st, c);
	return rc;
}

struct grant_ctx {
	store_grant_fn fn;
	void *arg;
};

static void grant_row(sqlite3_stmt *s, void *ctx)
{
	struct grant_ctx *gc = ctx;

	gc->fn(gc->arg, sqlite3_column_int(s, 0), col_text(s, 1),
	       sqlite3_column_int64(s, 2), col_text(s, 3));
}

struct found_ctx {
	struct history_ctx hc;
	bool *found;
};

/* A fulfilment with the entitlement as it arrived (column 11). */
static void found_row(sqlite3_stmt *s, void *ctx)
{
	struct found_ctx *fc = ctx;
	char fid[STORE_FULFILMENT_ID_LEN + 1];
	struct store_history_row r;

	*fc->found = true;
	history_fill(s, &r, fid);
	r.request = col_text(s, 11);
	fc->hc.fn(fc->hc.arg, &r);
}

/* Both statements run in one read transaction: one snapshot. */
int store_sqlite_fulfilment_read(struct store *st, int64_t row,
				 store_history_fn fn, store_grant_fn gfn,
				 void *arg, bool *found)
{
	struct found_ctx fc = { { fn, arg }, found };
	struct grant_ctx gc = { gfn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	*found = false;
	if (!c)
		return STORE_ERR;
	if (store_conn_exec(c, STMT_READ_BEGIN))
		goto out;
	s = store_conn_stmt(c, STMT_READ_FULFILMENT);
	if (s) {
		sqlite3_bind_int64(s, 1, row);
		rc = each_row(c, s, found_row, &fc, "fulfilment_read");
	}
	s = rc == STORE_OK && *found ? store_conn_stmt(c, STMT_GRANTS_READ) : NULL;
	if (s) {
		sqlite3_bind_int64(s, 1, row);
		rc = each_row(c, s, grant_row, &gc, "grants_read");
	}
	store_conn_exec(c, STMT_READ_END);
out:
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_credentials_read(struct store *st, store_credential_fn fn,
				  void *arg)
{
	struct credential_ctx cc = { fn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_CREDENTIALS);
	if (s)
		rc = each_row(c, s, credential_row, &cc, "credentials_read");
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_credential_live(struct store *st, const char *secret_hash,
				 const char *id, int64_t now_ms, bool *found)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	*found = false;
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_CREDENTIAL_LIVE);
	if (s) {
		sqlite3_bind_text(s, 1, secret_hash, -1, SQLITE_STATIC);
		if (id)
			sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, now_ms);
		rc = sqlite3_step(s);
		*found = rc == SQLITE_ROW;
		sqlite3_reset(s);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = STORE_OK;
		else
			store_log_error(c, "credential_live", rc);
	}
	store_reader_release(st, c);
	return rc == STORE_OK ? STORE_OK : STORE_ERR;
}

struct signing_key_ctx {
	store_signing_key_fn fn;
	void *arg;
};

static void signing_key_row(sqlite3_stmt *s, void *ctx)
{
	struct signing_key_ctx *kc = ctx;
	struct store_signing_key k = {
		.kid = col_text(s, 0),
		.secret = col_text(s, 1),
		.created_at_ms = sqlite3_column_int64(s, 2),
		.retired_at_ms = col_time(s, 3),
	};

	kc->fn(kc->arg, &k);
}

int store_sqlite_signing_keys_read(struct store *st, store_signing_key_fn fn,
				   void *arg)
{
	struct signing_key_ctx kc = { fn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_SIGNING_KEYS);
	if (s)
		rc = each_row(c, s, signing_key_row, &kc, "signing_keys_read");
	store_reader_release(st, c);
	return rc;
}

struct link_ctx {
	store_link_fn fn;
	void *arg;
	const char *account_id;
};

static void link_row(sqlite3_stmt *s, void *ctx)
{
	struct link_ctx *lc = ctx;
	const char *state = col_text(s, 2);
	struct store_link l = {
		.account_id = lc->account_id,
		.provider = col_text(s, 0),
		.external_id = col_text(s, 1),
		.state = store_link_state_of(state),
		.linked_at_ms = sqlite3_column_int64(s, 3),
		.updated_at_ms = sqlite3_column_int64(s, 4),
		.tokens = sqlite3_column_blob(s, 5),
		.tokens_len = (size_t)sqlite3_column_bytes(s, 5),
	};

	lc->fn(lc->arg, &l);
}

int store_sqlite_links_read(struct store *st, const char *account_id,
			    store_link_fn fn, void *arg)
{
	struct link_ctx lc = { fn, arg, account_id };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_LINKS);
	if (s) {
		sqlite3_bind_text(s, 1, account_id, -1, SQLITE_STATIC);
		rc = each_row(c, s, link_row, &lc, "links_read");
	}
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_link_holder_read(struct store *st, const char *provider,
				  const char *external_id, char *account,
				  size_t size, bool *found)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR, step;

	*found = false;
	account[0] = '\0';
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_LINK_HOLDER);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, external_id, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*found = true;
		snprintf(account, size, "%s", col_text(s, 0));
		rc = STORE_OK;
	} else if (step == SQLITE_DONE) {
		rc = STORE_OK;
	} else {
		store_log_error(c, "link_holder_read", step);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
out:
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_outbox_due(struct store *st, int64_t now_ms, bool *due)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	*due = false;
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_OUTBOX_DUE);
	if (s) {
		sqlite3_bind_int64(s, 1, now_ms);
		rc = sqlite3_step(s);
		*due = rc == SQLITE_ROW;
		sqlite3_reset(s);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = STORE_OK;
		else
			store_log_error(c, "outbox_due", rc);
	}
	store_reader_release(st, c);
	return rc == STORE_OK ? STORE_OK : STORE_ERR;
}

struct count_ctx {
	int64_t *counts;
};

static void count_row(sqlite3_stmt *s, void *ctx)
{
	struct count_ctx *cc = ctx;
	const char *status = col_text(s, 0);

	for (int i = 0; i <= STORE_OUTBOX_DEAD; i++)
		if (status && strcmp(status, store_outbox_status_name(
				     (enum store_outbox_status)i)) == 0)
			cc->counts[i] = sqlite3_column_int64(s, 1);
}

int store_sqlite_outbox_counts(struct store *st,
			       int64_t counts[STORE_OUTBOX_DEAD + 1])
{
	struct count_ctx cc = { counts };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	memset(counts, 0, (STORE_OUTBOX_DEAD + 1) * sizeof(*counts));
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_OUTBOX_COUNTS);
	if (s)
		rc = each_row(c, s, count_row, &cc, "outbox_counts");
	store_reader_release(st, c);
	return rc;
}

struct audit_ctx {
	store_audit_fn fn;
	void *arg;
};

static void audit_row(sqlite3_stmt *s, void *ctx)
{
	struct audit_ctx *ac = ctx;
	struct store_audit a = {
		.id = sqlite3_column_int64(s, 0),
		.at_ms = sqlite3_column_int64(s, 1),
		.actor = col_text(s, 2),
		.action = col_text(s, 3),
		.target = col_text(s, 4),
		.detail = col_text(s, 5),
	};

	ac->fn(ac->arg, &a);
}

int store_sqlite_audit_read(struct store *st, int64_t limit, store_audit_fn fn,
			    void *arg)
{
	struct audit_ctx ac = { fn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_AUDIT);
	if (s) {
		sqlite3_bind_int64(s, 1, limit);
		rc = each_row(c, s, audit_row, &ac, "audit_read");
	}
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_audit_read_for(struct store *st, const char *target,
				int64_t limit, store_audit_fn fn, void *arg)
{
	struct audit_ctx ac = { fn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_AUDIT_FOR);
	if (s) {
		sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, limit);
		rc = each_row(c, s, audit_row, &ac, "audit_read_for");
	}
	store_reader_release(st, c);
	return rc;
}

struct event_ctx {
	store_event_fn fn;
	void *arg;
};

static void event_row(sqlite3_stmt *s, void *ctx)
{
	struct event_ctx *ec = ctx;
	struct store_event e = {
		.id = sqlite3_column_int64(s, 0),
		.txid = 0,
		.type = col_text(s, 1),
		.account_id = col_text(s, 2),
		.created_at_ms = sqlite3_column_int64(s, 3),
		.data = col_text(s, 4),
	};

	ec->fn(ec->arg, &e);
}

/* One writer commits in id order, so every id below the newest read is
 * final: the position is the id alone (after_txid is not used). */
int store_sqlite_events_read(struct store *st, int64_t after_txid,
			     int64_t after_id, int64_t limit,
			     store_event_fn fn, void *arg)
{
	struct event_ctx ec = { fn, arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	(void)after_txid;
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_EVENTS);
	if (s) {
		sqlite3_bind_int64(s, 1, after_id);
		sqlite3_bind_int64(s, 2, limit);
		rc = each_row(c, s, event_row, &ec, "events_read");
	}
	store_reader_release(st, c);
	return rc;
}
