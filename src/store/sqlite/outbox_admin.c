/* store/sqlite/outbox_admin.c: the outbox as operators see it — rows by status,
 * depth by kind, dead rows given another chance — and the leases a
 * crashed run left, ended at start. */
#include "store/sqlite/sqlite_int.h"

#include <string.h>

static const char *text_or_null(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

static enum store_outbox_status status_of(const char *text)
{
	if (text && strcmp(text, "delivered") == 0)
		return STORE_OUTBOX_DELIVERED;
	if (text && strcmp(text, "dead") == 0)
		return STORE_OUTBOX_DEAD;
	return STORE_OUTBOX_PENDING;
}

/* Whom the rows of a read go to. */
struct row_ctx {
	store_outbox_row_fn row_fn;
	store_outbox_kind_fn kind_fn;
	void *arg;
};

static void outbox_row(sqlite3_stmt *s, struct row_ctx *ctx)
{
	struct store_outbox_row r = {
		.id = sqlite3_column_int64(s, 0),
		.kind = text_or_null(s, 1),
		.dedupe_key = text_or_null(s, 2),
		.account_id = text_or_null(s, 3),
		.payload = text_or_null(s, 4),
		.status = status_of(text_or_null(s, 5)),
		.attempts = sqlite3_column_int64(s, 6),
		.next_attempt_at_ms = sqlite3_column_int64(s, 7),
		.last_error = text_or_null(s, 8),
		.created_at_ms = sqlite3_column_int64(s, 9),
		.updated_at_ms = sqlite3_column_int64(s, 10),
	};

	ctx->row_fn(ctx->arg, &r);
}

/* Steps `s` to the end; each row goes to row_fn. */
static int read_rows(struct store_conn *c, sqlite3_stmt *s,
		     void (*row_fn)(sqlite3_stmt *s, struct row_ctx *ctx),
		     struct row_ctx *ctx, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		row_fn(s, ctx);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(c, what, rc);
	return STORE_ERR;
}

int store_sqlite_outbox_read(struct store *st, const char *status,
			     int64_t before_id, int64_t limit,
			     store_outbox_row_fn fn, void *arg)
{
	struct row_ctx ctx = { .row_fn = fn, .arg = arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_OUTBOX_ROWS);
	if (s) {
		if (status)
			sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, before_id);
		sqlite3_bind_int64(s, 3, limit);
		rc = read_rows(c, s, outbox_row, &ctx, "outbox_read");
	}
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_outbox_read_for(struct store *st, const char *account_id,
				 const char *needle, int64_t limit,
				 store_outbox_row_fn fn, void *arg)
{
	struct row_ctx ctx = { .row_fn = fn, .arg = arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_OUTBOX_FOR);
	if (s) {
		sqlite3_bind_text(s, 1, account_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, needle, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, limit);
		rc = read_rows(c, s, outbox_row, &ctx, "outbox_read_for");
	}
	store_reader_release(st, c);
	return rc;
}

static void kind_row(sqlite3_stmt *s, struct row_ctx *ctx)
{
	ctx->kind_fn(ctx->arg, text_or_null(s, 0),
		     status_of(text_or_null(s, 1)), sqlite3_column_int64(s, 2));
}

int store_sqlite_outbox_kinds_read(struct store *st, store_outbox_kind_fn fn,
				   void *arg)
{
	struct row_ctx ctx = { .kind_fn = fn, .arg = arg };
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_READ_OUTBOX_KINDS);
	if (s)
		rc = read_rows(c, s, kind_row, &ctx, "outbox_kinds");
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_tx_outbox_retry(struct store_tx *tx, int64_t id,
				 int64_t now_ms, int64_t *count)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_OUTBOX_RETRY);
	int rc;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, now_ms);
	sqlite3_bind_int64(s, 2, id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_log_error(store_tx_conn(tx), "outbox_retry", rc);
		return STORE_ERR;
	}
	*count = sqlite3_changes(store_tx_conn(tx)->db);
	return STORE_OK;
}

int store_sqlite_tx_outbox_give_up(struct store_tx *tx, int64_t id,
				   const char *error, int64_t now_ms,
				   int64_t *count)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_OUTBOX_GIVE_UP);
	int rc;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now_ms);
	sqlite3_bind_text(s, 3, error, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_log_error(store_tx_conn(tx), "outbox_give_up", rc);
		return STORE_ERR;
	}
	*count = sqlite3_changes(store_tx_conn(tx)->db);
	return STORE_OK;
}

int store_sqlite_tx_outbox_unlease(struct store_tx *tx, int64_t *count)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_OUTBOX_UNLEASE);
	int rc;

	if (!s)
		return STORE_ERR;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_log_error(store_tx_conn(tx), "outbox_unlease", rc);
		return STORE_ERR;
	}
	*count = sqlite3_changes(store_tx_conn(tx)->db);
	return STORE_OK;
}
