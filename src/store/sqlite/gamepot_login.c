/* store/sqlite/gamepot_login.c: GAMEPOT login validations — added pending with
 * the SDK token, answered once (the token dropped then), read by id for
 * the deliverer and newest-first for the game backend. */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <string.h>

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Steps a statement expected to finish without rows. */
static int step_done(struct store_conn *c, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(c, what, rc);
	return STORE_ERR;
}

int store_sqlite_tx_gamepot_login_add(struct store_tx *tx,
				      const struct store_gamepot_login *l,
				      int64_t now_ms, int64_t *id)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_GP_LOGIN_ADD);

	if (!s)
		return STORE_ERR;
	bind_opt_text(s, 1, l->account_id);
	bind_opt_text(s, 2, l->member_id);
	bind_opt_text(s, 3, l->token);
	bind_opt_text(s, 4, l->remote_ip);
	bind_opt_text(s, 5, l->platform);
	sqlite3_bind_int64(s, 6, now_ms);
	if (step_done(store_tx_conn(tx), s, "gamepot_login_add"))
		return STORE_ERR;
	*id = sqlite3_last_insert_rowid(store_tx_conn(tx)->db);
	return STORE_OK;
}

int store_sqlite_tx_gamepot_login_state(struct store_tx *tx, int64_t id,
					char *state, size_t size, bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_GP_LOGIN_STATE);
	int rc;

	*found = false;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(s, 0);

		snprintf(state, size, "%s", text ? text : "");
		*found = true;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(store_tx_conn(tx), "gamepot_login_state", rc);
	return STORE_ERR;
}

int store_sqlite_tx_gamepot_login_finish(struct store_tx *tx,
					 const struct store_gamepot_login *l,
					 int64_t now_ms, bool *updated)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_GP_LOGIN_FINISH);

	*updated = false;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, l->id);
	bind_opt_text(s, 2, l->state);
	if (l->has_result)
		sqlite3_bind_int64(s, 3, l->result);
	else
		sqlite3_bind_null(s, 3);
	bind_opt_text(s, 4, l->message);
	sqlite3_bind_int(s, 5, l->account_suspended ? 1 : 0);
	sqlite3_bind_int64(s, 6, now_ms);
	if (step_done(store_tx_conn(tx), s, "gamepot_login_finish"))
		return STORE_ERR;
	*updated = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

int store_sqlite_tx_gamepot_login_attempt(struct store_tx *tx, int64_t id,
					  const char *error, int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_GP_LOGIN_ATTEMPT);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	bind_opt_text(s, 2, error);
	sqlite3_bind_int64(s, 3, now_ms);
	return step_done(store_tx_conn(tx), s, "gamepot_login_attempt");
}

/* ---- reads ---------------------------------------------------------------- */

static const char *col_text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

/* The row `s` stands on, as the callers' struct (borrowed from s). */
static void row_of(sqlite3_stmt *s, struct store_gamepot_login *l)
{
	*l = (struct store_gamepot_login){
		.id = sqlite3_column_int64(s, 0),
		.account_id = col_text(s, 1),
		.member_id = col_text(s, 2),
		.token = col_text(s, 3),
		.remote_ip = col_text(s, 4),
		.platform = col_text(s, 5),
		.state = col_text(s, 6),
		.has_result = sqlite3_column_type(s, 7) != SQLITE_NULL,
		.result = sqlite3_column_int64(s, 7),
		.message = col_text(s, 8),
		.account_suspended = sqlite3_column_int(s, 9) != 0,
		.attempts = sqlite3_column_int64(s, 10),
		.last_error = col_text(s, 11),
		.created_at_ms = sqlite3_column_int64(s, 12),
		.validated_at_ms = sqlite3_column_type(s, 13) == SQLITE_NULL ?
				   0 : sqlite3_column_int64(s, 13),
	};
}

/* Runs a read of at most one row (keyed by `text_key`, or `key` when it
 * is NULL), handing it to fn. */
static int read_one(struct store *st, enum store_stmt id, int64_t key,
		    const char *text_key, store_gamepot_login_fn fn, void *arg,
		    bool *found)
{
	struct store_conn *c = store_reader_acquire(st);
	struct store_gamepot_login l;
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	*found = false;
	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, id);
	if (!s)
		goto out;
	if (text_key)
		sqlite3_bind_text(s, 1, text_key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, key);
	rc = store_conn_step_row(c, s, found, "gamepot_login_read");
	if (rc == STORE_OK && *found) {
		row_of(s, &l);
		fn(arg, &l);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
out:
	store_reader_release(st, c);
	return rc;
}

int store_sqlite_gamepot_login_read(struct store *st, int64_t id,
				    store_gamepot_login_fn fn, void *arg,
				    bool *found)
{
	return read_one(st, STMT_READ_GP_LOGIN, id, NULL, fn, arg, found);
}

int store_sqlite_gamepot_login_latest(struct store *st, const char *account_id,
				      store_gamepot_login_fn fn, void *arg,
				      bool *found)
{
	return read_one(st, STMT_READ_GP_LOGIN_LATEST, 0, account_id, fn, arg,
			found);
}
