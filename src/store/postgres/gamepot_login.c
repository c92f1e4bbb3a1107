/* store/postgres/gamepot_login.c: GAMEPOT login validations — added pending
 * with the SDK token, answered once (the token dropped then), read by id
 * for the deliverer and newest-first for the game backend. */
#include "store/postgres/pg_int.h"

#include <string.h>

PG_SQL(sql_gp_login_add,
       "INSERT INTO gamepot_logins (account_id, member_id, token,"
       " remote_ip, platform, state, account_suspended, attempts,"
       " created_at_ms, updated_at_ms)"
       " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text,"
       " 'pending', false, 0, $6::bigint, $6::bigint) RETURNING id");
PG_SQL(sql_gp_login_state,
       "SELECT state FROM gamepot_logins WHERE id = $1::bigint");
/* the token is dropped with the answer that used it; a finish racing on
 * another node waits for this row and then finds it no longer pending */
PG_SQL(sql_gp_login_finish,
       "UPDATE gamepot_logins SET state = $2::text, result = $3::bigint,"
       " message = $4::text, account_suspended = $5::boolean, token = NULL,"
       " validated_at_ms = $6::bigint, updated_at_ms = $6::bigint"
       " WHERE id = $1::bigint AND state = 'pending'");
PG_SQL(sql_gp_login_attempt,
       "UPDATE gamepot_logins SET attempts = gamepot_logins.attempts + 1,"
       " last_error = $2::text, updated_at_ms = $3::bigint"
       " WHERE id = $1::bigint AND state = 'pending'");
PG_SQL(sql_gp_login_read,
       "SELECT id, account_id, member_id, token, remote_ip, platform,"
       " state, result, message, account_suspended, attempts, last_error,"
       " created_at_ms, validated_at_ms FROM gamepot_logins"
       " WHERE id = $1::bigint");
/* the newest of an account, without its token */
PG_SQL(sql_gp_login_latest,
       "SELECT id, account_id, member_id, NULL::text, remote_ip, platform,"
       " state, result, message, account_suspended, attempts, last_error,"
       " created_at_ms, validated_at_ms FROM gamepot_logins"
       " WHERE account_id = $1::text ORDER BY id DESC LIMIT 1");

int store_pg_tx_gamepot_login_add(struct store_tx *tx,
				  const struct store_gamepot_login *l,
				  int64_t now_ms, int64_t *id)
{
	struct pg_params p = {0};
	PGresult *res;
	int rc = STORE_OK;

	pg_param_text(&p, l->account_id);
	pg_param_text(&p, l->member_id);
	pg_param_text(&p, l->token);
	pg_param_text(&p, l->remote_ip);
	pg_param_text(&p, l->platform);
	pg_param_int(&p, now_ms);
	res = pg_run(pg_tx_conn(tx), &sql_gp_login_add, &p,
		     "gamepot_login_add");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) == 1)
		*id = pg_int(res, 0, 0);
	else
		rc = STORE_ERR;
	PQclear(res);
	return rc;
}

int store_pg_tx_gamepot_login_state(struct store_tx *tx, int64_t id,
				    char *state, size_t size, bool *found)
{
	struct pg_params p = {0};
	PGresult *res;

	*found = false;
	pg_param_int(&p, id);
	res = pg_run(pg_tx_conn(tx), &sql_gp_login_state, &p,
		     "gamepot_login_state");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0) {
		pg_copy_text(res, 0, 0, state, size);
		*found = true;
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_gamepot_login_finish(struct store_tx *tx,
				     const struct store_gamepot_login *l,
				     int64_t now_ms, bool *updated)
{
	struct pg_params p = {0};
	int64_t changed = 0;
	int rc;

	*updated = false;
	pg_param_int(&p, l->id);
	pg_param_text(&p, l->state);
	if (l->has_result)
		pg_param_int(&p, l->result);
	else
		pg_param_text(&p, NULL);
	pg_param_text(&p, l->message);
	pg_param_bool(&p, l->account_suspended);
	pg_param_int(&p, now_ms);
	rc = pg_exec(pg_tx_conn(tx), &sql_gp_login_finish, &p,
		     "gamepot_login_finish", &changed);
	if (rc)
		return rc;
	*updated = changed > 0;
	return STORE_OK;
}

int store_pg_tx_gamepot_login_attempt(struct store_tx *tx, int64_t id,
				      const char *error, int64_t now_ms)
{
	struct pg_params p = {0};

	pg_param_int(&p, id);
	pg_param_text(&p, error);
	pg_param_int(&p, now_ms);
	return pg_exec_deferred(pg_tx_conn(tx), &sql_gp_login_attempt, &p,
				"gamepot_login_attempt");
}

/* ---- reads ---------------------------------------------------------------- */

/* Row `row` of res, as the callers' struct (borrowed from res). */
static void row_of(const PGresult *res, int row, struct store_gamepot_login *l)
{
	const char *suspended = pg_text(res, row, 9);

	*l = (struct store_gamepot_login){
		.id = pg_int(res, row, 0),
		.account_id = pg_text(res, row, 1),
		.member_id = pg_text(res, row, 2),
		.token = pg_text(res, row, 3),
		.remote_ip = pg_text(res, row, 4),
		.platform = pg_text(res, row, 5),
		.state = pg_text(res, row, 6),
		.has_result = !pg_null(res, row, 7),
		.result = pg_int(res, row, 7),
		.message = pg_text(res, row, 8),
		.account_suspended = suspended && strcmp(suspended, "t") == 0,
		.attempts = pg_int(res, row, 10),
		.last_error = pg_text(res, row, 11),
		.created_at_ms = pg_int(res, row, 12),
		.validated_at_ms = pg_null(res, row, 13) ?
				   0 : pg_int(res, row, 13),
	};
}

/* Runs a read of at most one row with parameters p, handing it to fn. */
static int read_one(struct store *st, struct pg_sql *sql,
		    const struct pg_params *p, store_gamepot_login_fn fn,
		    void *arg, bool *found)
{
	struct pg_conn *c = pg_reader_acquire(st);
	struct store_gamepot_login l;
	PGresult *res;

	*found = false;
	if (!c)
		return STORE_ERR;
	res = pg_run(c, sql, p, "gamepot_login_read");
	pg_reader_release(st, c);
	if (!res)
		return STORE_ERR;
	*found = PQntuples(res) > 0;
	if (*found) {
		row_of(res, 0, &l);
		fn(arg, &l);
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_gamepot_login_read(struct store *st, int64_t id,
				store_gamepot_login_fn fn, void *arg,
				bool *found)
{
	struct pg_params p = {0};

	pg_param_int(&p, id);
	return read_one(st, &sql_gp_login_read, &p, fn, arg, found);
}

int store_pg_gamepot_login_latest(struct store *st, const char *account_id,
				  store_gamepot_login_fn fn, void *arg,
				  bool *found)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	return read_one(st, &sql_gp_login_latest, &p, fn, arg, found);
}
