/* store/sqlite/broadcast.c: broadcasts (grants to every account until they
 * expire), which accounts have had them, and the nested savepoint that
 * lets one account's share be undone alone. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

int store_sqlite_tx_savepoint(struct store_tx *tx)
{
	return store_conn_exec(store_tx_conn(tx), STMT_NESTED_SAVEPOINT);
}

int store_sqlite_tx_savepoint_release(struct store_tx *tx)
{
	return store_conn_exec(store_tx_conn(tx), STMT_NESTED_RELEASE);
}

int store_sqlite_tx_savepoint_rollback(struct store_tx *tx)
{
	if (store_conn_exec(store_tx_conn(tx), STMT_NESTED_ROLLBACK_TO))
		return STORE_ERR;
	return store_conn_exec(store_tx_conn(tx), STMT_NESTED_RELEASE);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

int store_sqlite_tx_broadcast_add(struct store_tx *tx,
				  const struct store_broadcast *b,
				  bool *created)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_BROADCAST_ADD);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, b->source);
	bind_text(s, 2, b->external_id);
	bind_text(s, 3, b->namespace_);
	bind_text(s, 4, b->lines);
	bind_text(s, 5, b->detail);
	sqlite3_bind_int64(s, 6, b->created_at_ms);
	sqlite3_bind_int64(s, 7, b->expires_at_ms);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE) {
		store_log_error(store_tx_conn(tx), "broadcast_add", rc);
		return STORE_ERR;
	}
	*created = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

/* One pending row, copied out so the walk ends before fn writes. */
struct pending_row {
	int64_t id, created_at_ms, expires_at_ms;
	char *text[5];   /* source, external_id, namespace, lines, detail */
};

static void pending_rows_free(struct pending_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < UTIL_ARRAY_LEN(rows[i].text); j++)
			free(rows[i].text[j]);
	free(rows);
}

static char *column_copy(sqlite3_stmt *s, int col)
{
	const char *t = (const char *)sqlite3_column_text(s, col);

	return t ? util_xstrdup(t) : NULL;
}

/* Reads every pending row into *out (owned; *n of them). */
static int pending_collect(struct store_tx *tx, const char *account_id,
			   int64_t now_ms, struct pending_row **out, size_t *n)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_BROADCAST_PENDING);
	struct pending_row *rows = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_text(s, 1, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct pending_row *r;

		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			rows = util_xrealloc(rows, cap * sizeof(*rows));
		}
		r = &rows[(*n)++];
		r->id = sqlite3_column_int64(s, 0);
		for (int j = 0; j < 5; j++)
			r->text[j] = column_copy(s, 1 + j);
		r->created_at_ms = sqlite3_column_int64(s, 6);
		r->expires_at_ms = sqlite3_column_int64(s, 7);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	*out = rows;
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(store_tx_conn(tx), "broadcasts_pending", rc);
	return STORE_ERR;
}

int store_sqlite_tx_broadcasts_pending(struct store_tx *tx,
				       const char *account_id, int64_t now_ms,
				       store_broadcast_fn fn, void *arg)
{
	struct pending_row *rows;
	size_t n;
	int rc = pending_collect(tx, account_id, now_ms, &rows, &n);

	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		struct pending_row *r = &rows[i];
		struct store_broadcast b = {
			.id = r->id, .source = r->text[0],
			.external_id = r->text[1], .namespace_ = r->text[2],
			.lines = r->text[3], .detail = r->text[4],
			.created_at_ms = r->created_at_ms,
			.expires_at_ms = r->expires_at_ms,
		};

		rc = fn(arg, &b);
	}
	pending_rows_free(rows, n);
	return rc;
}

int store_sqlite_tx_broadcast_delivered(struct store_tx *tx, int64_t id,
					const char *account_id, int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_BROADCAST_DELIVERED);
	int rc;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, account_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ms);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(store_tx_conn(tx), "broadcast_delivered", rc);
	return STORE_ERR;
}

/* Runs a one-row read on a reader connection: *row tells whether a row
 * came, and *value is its first column. */
static int read_one(struct store *st, enum store_stmt id, const char *account_id,
		    int64_t now_ms, bool *row, int64_t *value)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	*row = false;
	if (!c)
		return STORE_ERR;
	if (!(s = store_conn_stmt(c, id)))
		goto out;
	if (account_id) {
		sqlite3_bind_text(s, 1, account_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now_ms);
	}
	rc = store_conn_step_row(c, s, row, "broadcast_read");
	if (rc == STORE_OK && *row)
		*value = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
out:
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_broadcasts_until(struct store *st, int64_t *until_ms)
{
	bool row;

	*until_ms = 0;
	return read_one(st, STMT_READ_BROADCAST_UNTIL, NULL, 0, &row, until_ms);
}

int store_sqlite_broadcasts_pending_any(struct store *st,
					const char *account_id, int64_t now_ms,
					bool *any)
{
	int64_t one;

	return read_one(st, STMT_READ_BROADCAST_PENDING, account_id, now_ms,
			any, &one);
}
