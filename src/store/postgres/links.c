/* store/postgres/links.c: accounts' provider links and the single-use
 * secrets of the browser link flow (link tokens, OAuth states). */
#include "store/postgres/pg_int.h"

#include <stdio.h>
#include <string.h>

PG_SQL(sql_link_by_account,
       "SELECT external_id, state, linked_at_ms FROM links"
       " WHERE account_id = $1::text AND provider = $2::text");
PG_SQL(sql_link_by_account_locked,
       "SELECT external_id, state, linked_at_ms FROM links"
       " WHERE account_id = $1::text AND provider = $2::text FOR UPDATE");
/* Serializes every link_put of one identity across nodes until commit, so
 * the holder read after it is decisive even when there is no row to lock
 * yet (the two-key lock space is apart from the accounts' one). */
PG_SQL(sql_identity_lock,
       "SELECT pg_advisory_xact_lock(hashtext('link ' || $1::text),"
       " hashtext($2::text))");
PG_SQL(sql_link_holder_locked,
       "SELECT account_id FROM links WHERE provider = $1::text"
       " AND external_id = $2::text FOR UPDATE");
PG_SQL(sql_link_upsert,
       "INSERT INTO links (account_id, provider, external_id, state,"
       " linked_at_ms, updated_at_ms)"
       " VALUES ($1::text, $2::text, $3::text, 'linked', $4::bigint,"
       " $4::bigint)"
       " ON CONFLICT (account_id, provider) DO UPDATE SET"
       " external_id = excluded.external_id, state = 'linked',"
       " linked_at_ms = excluded.linked_at_ms, tokens = NULL,"
       " updated_at_ms = excluded.updated_at_ms");
PG_SQL(sql_link_tokens_set,
       "UPDATE links SET tokens = $3::bytea, state = 'linked',"
       " updated_at_ms = $4::bigint"
       " WHERE account_id = $1::text AND provider = $2::text");
PG_SQL(sql_link_state_set,
       "UPDATE links SET state = $3::text, updated_at_ms = $4::bigint"
       " WHERE account_id = $1::text AND provider = $2::text");
PG_SQL(sql_link_delete,
       "DELETE FROM links WHERE account_id = $1::text AND provider = $2::text");

PG_SQL(sql_link_token_prune,
       "DELETE FROM link_tokens WHERE expires_at_ms < $1::bigint");
PG_SQL(sql_link_token_add,
       "INSERT INTO link_tokens (token_hash, account_id, created_at_ms,"
       " expires_at_ms) VALUES ($1::text, $2::text, $3::bigint, $4::bigint)");
PG_SQL(sql_link_token_get,
       "SELECT account_id, expires_at_ms, used_at_ms FROM link_tokens"
       " WHERE token_hash = $1::text FOR UPDATE");
PG_SQL(sql_link_token_use,
       "UPDATE link_tokens SET used_at_ms = $2::bigint"
       " WHERE token_hash = $1::text AND used_at_ms IS NULL"
       " AND expires_at_ms > $2::bigint");
PG_SQL(sql_oauth_state_prune,
       "DELETE FROM link_states WHERE expires_at_ms < $1::bigint");
PG_SQL(sql_oauth_state_add,
       "INSERT INTO link_states (state_hash, account_id, provider,"
       " verifier, return_to, created_at_ms, expires_at_ms)"
       " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text,"
       " $6::bigint, $7::bigint)");
/* a state made for another provider is not found (and stays live) */
PG_SQL(sql_oauth_state_get,
       "SELECT account_id, verifier, return_to, expires_at_ms, used_at_ms"
       " FROM link_states WHERE state_hash = $1::text"
       " AND provider = $2::text FOR UPDATE");
PG_SQL(sql_oauth_state_use,
       "UPDATE link_states SET used_at_ms = $2::bigint, verifier = ''"
       " WHERE state_hash = $1::text AND used_at_ms IS NULL"
       " AND expires_at_ms > $2::bigint");

/* Reads the link of (account_id, provider), row-locked if `lock`. */
static int link_read(struct store_tx *tx, const char *account_id,
		     const char *provider, bool lock,
		     struct store_link_row *out, bool *found)
{
	struct pg_params p = {0};
	PGresult *res;

	pg_param_text(&p, account_id);
	pg_param_text(&p, provider);
	res = pg_run(pg_tx_conn(tx), lock ? &sql_link_by_account_locked :
		     &sql_link_by_account, &p, "link_by_account");
	if (!res)
		return STORE_ERR;
	*found = PQntuples(res) > 0;
	if (*found) {
		pg_copy_text(res, 0, 0, out->external_id,
			     sizeof(out->external_id));
		out->state = store_link_state_of(pg_text(res, 0, 1));
		out->linked_at_ms = pg_int(res, 0, 2);
	}
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_link_get(struct store_tx *tx, const char *account_id,
			 const char *provider, struct store_link_row *out,
			 bool *found)
{
	return link_read(tx, account_id, provider, false, out, found);
}

/* The account holding identity (provider, external_id), into `account`
 * (empty if none). Takes the identity's lock first, and row-locks the
 * holder's link, so the answer holds until commit. */
static int link_holder_locked(struct store_tx *tx, const char *provider,
			      const char *external_id, char *account,
			      size_t size)
{
	struct pg_params p = {0};
	PGresult *res;
	int rc;

	account[0] = '\0';
	pg_param_text(&p, provider);
	pg_param_text(&p, external_id);
	rc = pg_exec(pg_tx_conn(tx), &sql_identity_lock, &p, "link_identity_lock",
		     NULL);
	if (rc)
		return rc;
	res = pg_run(pg_tx_conn(tx), &sql_link_holder_locked, &p,
		     "link_by_identity");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) > 0)
		pg_copy_text(res, 0, 0, account, size);
	PQclear(res);
	return STORE_OK;
}

int store_pg_tx_link_put(struct store_tx *tx, const char *account_id,
			 const char *provider, const char *external_id,
			 int64_t now_ms, enum store_link_result *result,
			 struct store_link_row *out)
{
	char holder[STORE_ACCOUNT_ID_MAX + 1];
	enum store_account_state state;
	struct pg_params p = {0};
	bool found, exists;
	int rc;

	/* takes the account's lock: one link_put per account at a time */
	rc = store_pg_tx_account_get(tx, account_id, &state, &found);
	if (rc)
		return rc;
	if (!found) {
		*result = STORE_LINK_NO_ACCOUNT;
		return STORE_OK;
	}
	rc = link_holder_locked(tx, provider, external_id, holder,
				sizeof(holder));
	if (rc)
		return rc;
	if (holder[0] && strcmp(holder, account_id) != 0) {
		*result = STORE_LINK_TAKEN;
		return STORE_OK;
	}
	if (holder[0]) {
		*result = STORE_LINK_UNCHANGED;
		return link_read(tx, account_id, provider, false, out, &found);
	}
	rc = link_read(tx, account_id, provider, true, out, &exists);
	if (rc)
		return rc;
	pg_param_text(&p, account_id);
	pg_param_text(&p, provider);
	pg_param_text(&p, external_id);
	pg_param_int(&p, now_ms);
	*result = exists ? STORE_LINK_REPLACED : STORE_LINK_CREATED;
	snprintf(out->external_id, sizeof(out->external_id), "%s", external_id);
	out->state = STORE_LINK_LINKED;
	out->linked_at_ms = now_ms;
	return pg_exec(pg_tx_conn(tx), &sql_link_upsert, &p, "link_upsert",
		       NULL);
}

/* Runs an UPDATE or DELETE of one link; *found tells whether it matched. */
static int link_change(struct store_tx *tx, struct pg_sql *sql,
		       const struct pg_params *p, bool *found,
		       const char *what)
{
	int64_t changed = 0;
	int rc = pg_exec(pg_tx_conn(tx), sql, p, what, &changed);

	if (rc)
		return rc;
	*found = changed > 0;
	return STORE_OK;
}

int store_pg_tx_link_tokens_set(struct store_tx *tx, const char *account_id,
				const char *provider, const void *tokens,
				size_t len, int64_t now_ms, bool *found)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	pg_param_text(&p, provider);
	if (tokens)
		pg_param_bytes(&p, tokens, len);
	else
		pg_param_text(&p, NULL);
	pg_param_int(&p, now_ms);
	return link_change(tx, &sql_link_tokens_set, &p, found,
			   "link_tokens_set");
}

int store_pg_tx_link_state_set(struct store_tx *tx, const char *account_id,
			       const char *provider,
			       enum store_link_state state, int64_t now_ms,
			       bool *found)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	pg_param_text(&p, provider);
	pg_param_text(&p, store_link_state_name(state));
	pg_param_int(&p, now_ms);
	return link_change(tx, &sql_link_state_set, &p, found,
			   "link_state_set");
}

int store_pg_tx_link_delete(struct store_tx *tx, const char *account_id,
			    const char *provider, bool *found)
{
	struct pg_params p = {0};

	pg_param_text(&p, account_id);
	pg_param_text(&p, provider);
	return link_change(tx, &sql_link_delete, &p, found, "link_delete");
}

/* ---- single-use secrets of the browser link flow ------------------------- */

/* Expired secrets are kept this long, so a late use is told "expired". */
#define SECRET_KEEP_MS (24LL * 3600 * 1000)

/* Removes the secrets of one table that expired long ago. */
static int secrets_prune(struct store_tx *tx, struct pg_sql *sql,
			 int64_t now_ms)
{
	struct pg_params p = {0};

	pg_param_int(&p, now_ms - SECRET_KEEP_MS);
	return pg_exec(pg_tx_conn(tx), sql, &p, "secrets_prune", NULL);
}

/* What a secret's expiry and use times (columns expires_col and the one
 * after it) say at now_ms. */
static enum store_secret_result secret_classify(const PGresult *res,
						int expires_col,
						int64_t now_ms)
{
	if (!pg_null(res, 0, expires_col + 1))
		return STORE_SECRET_USED;
	if (pg_int(res, 0, expires_col) <= now_ms)
		return STORE_SECRET_EXPIRED;
	return STORE_SECRET_SPENT;
}

/* Marks a secret used with `sql` ($1 hash, $2 time). The row is locked by
 * the read that found it live, so exactly one row changes. */
static int secret_use(struct store_tx *tx, struct pg_sql *sql,
		      const char *hash, int64_t now_ms)
{
	struct pg_params p = {0};
	int64_t changed = 0;
	int rc;

	pg_param_text(&p, hash);
	pg_param_int(&p, now_ms);
	rc = pg_exec(pg_tx_conn(tx), sql, &p, "secret_use", &changed);
	if (rc)
		return rc;
	return changed == 1 ? STORE_OK : STORE_ERR;
}

int store_pg_tx_link_token_add(struct store_tx *tx, const char *token_hash,
			       const char *account_id, int64_t now_ms,
			       int64_t expires_at_ms)
{
	struct pg_params p = {0};
	int rc = secrets_prune(tx, &sql_link_token_prune, now_ms);

	if (rc)
		return rc;
	pg_param_text(&p, token_hash);
	pg_param_text(&p, account_id);
	pg_param_int(&p, now_ms);
	pg_param_int(&p, expires_at_ms);
	return pg_exec(pg_tx_conn(tx), &sql_link_token_add, &p,
		       "link_token_add", NULL);
}

int store_pg_tx_link_token_spend(struct store_tx *tx, const char *token_hash,
				 int64_t now_ms, char *account_id, size_t size,
				 enum store_secret_result *result)
{
	struct pg_params p = {0};
	PGresult *res;

	*result = STORE_SECRET_UNKNOWN;
	account_id[0] = '\0';
	pg_param_text(&p, token_hash);
	/* FOR UPDATE: a spend racing on another node waits here and then
	 * reads the token used */
	res = pg_run(pg_tx_conn(tx), &sql_link_token_get, &p, "link_token_get");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_OK;
	}
	*result = secret_classify(res, 1, now_ms);
	pg_copy_text(res, 0, 0, account_id, size);
	PQclear(res);
	if (*result != STORE_SECRET_SPENT)
		return STORE_OK;
	return secret_use(tx, &sql_link_token_use, token_hash, now_ms);
}

int store_pg_tx_oauth_state_add(struct store_tx *tx, const char *state_hash,
				const struct store_oauth_state *s,
				int64_t now_ms)
{
	struct pg_params p = {0};
	int rc = secrets_prune(tx, &sql_oauth_state_prune, now_ms);

	if (rc)
		return rc;
	pg_param_text(&p, state_hash);
	pg_param_text(&p, s->account_id);
	pg_param_text(&p, s->provider);
	pg_param_text(&p, s->verifier);
	pg_param_text(&p, s->return_to);
	pg_param_int(&p, now_ms);
	pg_param_int(&p, s->expires_at_ms);
	return pg_exec(pg_tx_conn(tx), &sql_oauth_state_add, &p,
		       "oauth_state_add", NULL);
}

int store_pg_tx_oauth_state_spend(struct store_tx *tx, const char *state_hash,
				  const char *provider, int64_t now_ms,
				  struct store_oauth_state_row *out,
				  enum store_secret_result *result)
{
	struct pg_params p = {0};
	PGresult *res;

	*result = STORE_SECRET_UNKNOWN;
	memset(out, 0, sizeof(*out));
	pg_param_text(&p, state_hash);
	pg_param_text(&p, provider);
	res = pg_run(pg_tx_conn(tx), &sql_oauth_state_get, &p,
		     "oauth_state_get");
	if (!res)
		return STORE_ERR;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_OK;
	}
	*result = secret_classify(res, 3, now_ms);
	pg_copy_text(res, 0, 0, out->account_id, sizeof(out->account_id));
	pg_copy_text(res, 0, 1, out->verifier, sizeof(out->verifier));
	pg_copy_text(res, 0, 2, out->return_to, sizeof(out->return_to));
	PQclear(res);
	if (*result != STORE_SECRET_SPENT)
		return STORE_OK;
	return secret_use(tx, &sql_oauth_state_use, state_hash, now_ms);
}
