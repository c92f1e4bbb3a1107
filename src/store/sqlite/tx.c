/* store/sqlite/tx.c: the primitives the engine composes inside a writer
 * intent. */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Binds a possibly-NULL string. */
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Binds an optional time: 0 means "none" and is stored as NULL. */
static void bind_time(sqlite3_stmt *s, int i, int64_t ms)
{
	if (ms)
		sqlite3_bind_int64(s, i, ms);
	else
		sqlite3_bind_null(s, i);
}

/* Steps a statement expected to finish without rows. */
static int step_done(struct store_conn *c, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(c, what, rc);
	return STORE_ERR;
}

int store_sqlite_tx_account_get(struct store_tx *tx, const char *account_id,
				enum store_account_state *state, bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_ACCOUNT_GET);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	rc = store_conn_step_row(store_tx_conn(tx), s, found, "account_get");
	if (rc == STORE_OK && *found) {
		const char *name = (const char *)sqlite3_column_text(s, 0);

		if (!name || store_account_state_parse(name, state))
			rc = STORE_ERR;
		sqlite3_reset(s);
	}
	return rc;
}

int store_sqlite_tx_account_put(struct store_tx *tx, const char *account_id,
				enum store_account_state state, int64_t now_ms,
				bool *created)
{
	const char *name = store_account_state_name(state);
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_ACCOUNT_UPDATE);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, now_ms);
	if (step_done(store_tx_conn(tx), s, "account_update"))
		return STORE_ERR;
	*created = sqlite3_changes(store_tx_conn(tx)->db) == 0;
	if (!*created)
		return STORE_OK;
	s = store_conn_stmt(store_tx_conn(tx), STMT_ACCOUNT_INSERT);
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, now_ms);
	return step_done(store_tx_conn(tx), s, "account_insert");
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

int store_sqlite_tx_fulfilment_find(struct store_tx *tx, const char *source,
				    const char *external_id,
				    struct store_fulfilment_ref *out)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_FULFILMENT_FIND);
	const char *status;
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, source);
	bind_text(s, 2, external_id);
	rc = store_conn_step_row(store_tx_conn(tx), s, &out->found, "fulfilment_find");
	if (rc != STORE_OK || !out->found)
		return rc;
	out->row = sqlite3_column_int64(s, 0);
	store_fulfilment_id_format(out->row, out->fulfillment_id);
	if (sqlite3_column_bytes(s, 1) == STORE_FINGERPRINT_LEN)
		memcpy(out->fingerprint, sqlite3_column_blob(s, 1), STORE_FINGERPRINT_LEN);
	else
		memset(out->fingerprint, 0, STORE_FINGERPRINT_LEN);
	status = (const char *)sqlite3_column_text(s, 2);
	if (!status || status_parse(status, &out->status))
		rc = STORE_ERR;
	out->has_entitlement = sqlite3_column_int(s, 3) != 0;
	sqlite3_reset(s);
	return rc;
}

int store_sqlite_tx_fulfilment_claim(struct store_tx *tx,
				     const struct store_fulfilment *f,
				     int64_t *row,
				     struct store_fulfilment_ref *existing)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_FULFILMENT_INSERT);

	existing->found = false;
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, f->source);
	bind_text(s, 2, f->external_id);
	bind_text(s, 3, f->account_id);
	bind_text(s, 4, f->provider_item_id);
	bind_text(s, 5, f->entitlement_id);
	sqlite3_bind_blob(s, 6, f->fingerprint, STORE_FINGERPRINT_LEN, SQLITE_STATIC);
	bind_text(s, 7, store_fulfilment_status_name(f->status));
	bind_text(s, 8, f->error_code);
	bind_text(s, 9, f->skipped);
	sqlite3_bind_int64(s, 10, f->created_at_ms);
	sqlite3_bind_int64(s, 11, f->updated_at_ms);
	bind_time(s, 12, f->fulfilled_at_ms);
	bind_text(s, 13, f->request);
	if (step_done(store_tx_conn(tx), s, "fulfilment_claim"))
		return STORE_ERR;
	if (sqlite3_changes(store_tx_conn(tx)->db) == 0) {
		if (store_tx_fulfilment_find(tx, f->source, f->external_id,
					     existing) || !existing->found)
			return STORE_ERR;
		return STORE_CONFLICT;
	}
	*row = sqlite3_last_insert_rowid(store_tx_conn(tx)->db);
	return STORE_OK;
}

int store_sqlite_tx_fulfilment_update(struct store_tx *tx, int64_t row,
				      const struct store_fulfilment *f)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_FULFILMENT_UPDATE);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, row);
	bind_text(s, 2, f->account_id);
	bind_text(s, 3, f->provider_item_id);
	bind_text(s, 4, f->entitlement_id);
	sqlite3_bind_blob(s, 5, f->fingerprint, STORE_FINGERPRINT_LEN, SQLITE_STATIC);
	bind_text(s, 6, store_fulfilment_status_name(f->status));
	bind_text(s, 7, f->error_code);
	bind_text(s, 8, f->skipped);
	sqlite3_bind_int64(s, 9, f->updated_at_ms);
	bind_time(s, 10, f->fulfilled_at_ms);
	bind_text(s, 11, f->request);
	return step_done(store_tx_conn(tx), s, "fulfilment_update");
}

int store_sqlite_tx_claim_count(struct store_tx *tx, const char *account_id,
				const char *entitlement_id, int64_t *count)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_CLAIM_COUNT);
	bool row;
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, entitlement_id);
	rc = store_conn_step_row(store_tx_conn(tx), s, &row, "claim_count");
	*count = 0;
	if (rc == STORE_OK && row) {
		*count = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return rc;
}

int store_sqlite_tx_claim_add(struct store_tx *tx, const char *account_id,
			      const char *entitlement_id, int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_CLAIM_ADD);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, entitlement_id);
	sqlite3_bind_int64(s, 3, now_ms);
	return step_done(store_tx_conn(tx), s, "claim_add");
}

int store_sqlite_tx_instance_owned(struct store_tx *tx, const char *account_id,
				   const char *catalog_id, bool *owned)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_INSTANCE_OWNED);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, catalog_id);
	rc = store_conn_step_row(store_tx_conn(tx), s, owned, "instance_owned");
	if (rc == STORE_OK && *owned)
		sqlite3_reset(s);
	return rc;
}

static int grant_insert(struct store_tx *tx, int64_t row, int line,
			const char *catalog_id, int64_t amount,
			const char *instance_id)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_GRANT_INSERT);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, row);
	sqlite3_bind_int(s, 2, line);
	bind_text(s, 3, catalog_id);
	sqlite3_bind_int64(s, 4, amount);
	bind_text(s, 5, instance_id);
	return step_done(store_tx_conn(tx), s, "grant_insert");
}

int store_sqlite_tx_grant_stackable(struct store_tx *tx, int64_t row, int line,
				    const char *account_id,
				    const char *catalog_id, int64_t amount)
{
	sqlite3_stmt *s;

	if (grant_insert(tx, row, line, catalog_id, amount, NULL))
		return STORE_ERR;
	s = store_conn_stmt(store_tx_conn(tx), STMT_STACKABLE_ADD);
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, catalog_id);
	sqlite3_bind_int64(s, 3, amount);
	return step_done(store_tx_conn(tx), s, "stackable_add");
}

int store_sqlite_tx_grant_instance(struct store_tx *tx, int64_t row, int line,
				   const char *account_id,
				   const char *catalog_id,
				   const char *instance_id, int64_t now_ms)
{
	sqlite3_stmt *s;

	if (grant_insert(tx, row, line, catalog_id, 1, instance_id))
		return STORE_ERR;
	s = store_conn_stmt(store_tx_conn(tx), STMT_INSTANCE_INSERT);
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, instance_id);
	bind_text(s, 2, account_id);
	bind_text(s, 3, catalog_id);
	sqlite3_bind_int64(s, 4, row);
	sqlite3_bind_int64(s, 5, now_ms);
	return step_done(store_tx_conn(tx), s, "instance_insert");
}

int store_sqlite_tx_credential_insert(struct store_tx *tx,
				      const struct store_credential *c)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_CREDENTIAL_INSERT);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, c->id);
	bind_text(s, 2, c->kind);
	bind_text(s, 3, c->name);
	bind_text(s, 4, c->secret_hash);
	bind_text(s, 5, c->scopes);
	sqlite3_bind_int64(s, 6, c->created_at_ms);
	bind_time(s, 7, c->expires_at_ms);
	return step_done(store_tx_conn(tx), s, "credential_insert");
}

int store_sqlite_tx_credential_revoke(struct store_tx *tx, const char *id,
				      const char *kind, int64_t now_ms,
				      bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_CREDENTIAL_REVOKE);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now_ms);
	bind_text(s, 3, kind);
	if (step_done(store_tx_conn(tx), s, "credential_revoke"))
		return STORE_ERR;
	*found = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

int store_sqlite_tx_credential_rotate(struct store_tx *tx, const char *id,
				      const char *kind, const char *secret_hash,
				      int64_t previous_expires_at_ms,
				      int64_t now_ms, bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_CREDENTIAL_ROTATE);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, id);
	bind_text(s, 2, secret_hash);
	sqlite3_bind_int64(s, 3, previous_expires_at_ms);
	sqlite3_bind_int64(s, 4, now_ms);
	bind_text(s, 5, kind);
	if (step_done(store_tx_conn(tx), s, "credential_rotate"))
		return STORE_ERR;
	*found = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

int store_sqlite_tx_credential_live_name(struct store_tx *tx, const char *name,
					 char *id, size_t id_size, bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_CREDENTIAL_LIVE_NAME);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, name);
	if (store_conn_step_row(store_tx_conn(tx), s, found, "credential_live_name"))
		return STORE_ERR;
	if (*found) {
		snprintf(id, id_size, "%s", (const char *)sqlite3_column_text(s, 0));
		sqlite3_reset(s);
	}
	return STORE_OK;
}

int store_sqlite_tx_signing_key_insert(struct store_tx *tx,
				       const struct store_signing_key *k)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_SIGNING_KEY_INSERT);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, k->kid);
	bind_text(s, 2, k->secret);
	sqlite3_bind_int64(s, 3, k->created_at_ms);
	return step_done(store_tx_conn(tx), s, "signing_key_insert");
}

int store_sqlite_tx_signing_key_retire(struct store_tx *tx, const char *kid,
				       int64_t now_ms, bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_SIGNING_KEY_RETIRE);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, kid);
	sqlite3_bind_int64(s, 2, now_ms);
	if (step_done(store_tx_conn(tx), s, "signing_key_retire"))
		return STORE_ERR;
	*found = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

int store_sqlite_tx_signing_keys_active(struct store_tx *tx, int64_t *count)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_SIGNING_KEYS_ACTIVE);
	bool row;

	if (!s || store_conn_step_row(store_tx_conn(tx), s, &row, "signing_keys_active") || !row)
		return STORE_ERR;
	*count = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return STORE_OK;
}

/* The account holding identity (provider, external_id), into `account`
 * (empty if none). */
static int link_holder(struct store_tx *tx, const char *provider,
		       const char *external_id, char *account, size_t size)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_BY_IDENTITY);
	bool row;

	account[0] = '\0';
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, provider);
	bind_text(s, 2, external_id);
	if (store_conn_step_row(store_tx_conn(tx), s, &row, "link_by_identity"))
		return STORE_ERR;
	if (row) {
		snprintf(account, size, "%s", (const char *)sqlite3_column_text(s, 0));
		sqlite3_reset(s);
	}
	return STORE_OK;
}

int store_sqlite_tx_link_get(struct store_tx *tx, const char *account_id,
			     const char *provider, struct store_link_row *out,
			     bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_BY_ACCOUNT);
	const char *state;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, provider);
	if (store_conn_step_row(store_tx_conn(tx), s, found, "link_by_account"))
		return STORE_ERR;
	if (!*found)
		return STORE_OK;
	snprintf(out->external_id, sizeof(out->external_id), "%s",
		 (const char *)sqlite3_column_text(s, 0));
	state = (const char *)sqlite3_column_text(s, 1);
	out->state = store_link_state_of(state);
	out->linked_at_ms = sqlite3_column_int64(s, 2);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_sqlite_tx_link_put(struct store_tx *tx, const char *account_id,
			     const char *provider, const char *external_id,
			     int64_t now_ms, enum store_link_result *result,
			     struct store_link_row *out)
{
	char holder[STORE_ACCOUNT_ID_MAX + 1];
	enum store_account_state state;
	sqlite3_stmt *s;
	bool found, exists;

	if (store_tx_account_get(tx, account_id, &state, &found))
		return STORE_ERR;
	if (!found) {
		*result = STORE_LINK_NO_ACCOUNT;
		return STORE_OK;
	}
	if (link_holder(tx, provider, external_id, holder, sizeof(holder)))
		return STORE_ERR;
	if (holder[0] && strcmp(holder, account_id) != 0) {
		*result = STORE_LINK_TAKEN;
		return STORE_OK;
	}
	if (holder[0]) {
		*result = STORE_LINK_UNCHANGED;
		return store_tx_link_get(tx, account_id, provider, out, &found);
	}
	if (store_tx_link_get(tx, account_id, provider, out, &exists) ||
	    !(s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_UPSERT)))
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, provider);
	bind_text(s, 3, external_id);
	sqlite3_bind_int64(s, 4, now_ms);
	*result = exists ? STORE_LINK_REPLACED : STORE_LINK_CREATED;
	snprintf(out->external_id, sizeof(out->external_id), "%s", external_id);
	out->state = STORE_LINK_LINKED;
	out->linked_at_ms = now_ms;
	return step_done(store_tx_conn(tx), s, "link_upsert");
}

/* Runs an UPDATE of one link; *found tells whether it matched. */
static int link_update(struct store_tx *tx, sqlite3_stmt *s, bool *found,
		       const char *what)
{
	if (step_done(store_tx_conn(tx), s, what))
		return STORE_ERR;
	*found = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

int store_sqlite_tx_link_tokens_set(struct store_tx *tx, const char *account_id,
				    const char *provider, const void *tokens,
				    size_t len, int64_t now_ms, bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_TOKENS_SET);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, provider);
	if (tokens)
		sqlite3_bind_blob(s, 3, tokens, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 3);
	sqlite3_bind_int64(s, 4, now_ms);
	return link_update(tx, s, found, "link_tokens_set");
}

int store_sqlite_tx_link_state_set(struct store_tx *tx, const char *account_id,
				   const char *provider,
				   enum store_link_state state, int64_t now_ms,
				   bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_STATE_SET);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, provider);
	bind_text(s, 3, store_link_state_name(state));
	sqlite3_bind_int64(s, 4, now_ms);
	return link_update(tx, s, found, "link_state_set");
}

int store_sqlite_tx_link_delete(struct store_tx *tx, const char *account_id,
				const char *provider, bool *found)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_DELETE);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, account_id);
	bind_text(s, 2, provider);
	if (step_done(store_tx_conn(tx), s, "link_delete"))
		return STORE_ERR;
	*found = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

/* ---- single-use secrets of the browser link flow ------------------------- */

/* Expired secrets are kept this long, so a late use is told "expired". */
#define SECRET_KEEP_MS (24LL * 3600 * 1000)

/* Removes the secrets of one table that expired long ago. */
static int secrets_prune(struct store_tx *tx, enum store_stmt id, int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), id);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, now_ms - SECRET_KEEP_MS);
	return step_done(store_tx_conn(tx), s, "secrets_prune");
}

/* What a secret's expiry and use times say at now_ms. */
static enum store_secret_result secret_classify(sqlite3_stmt *s, int expires_col,
						int64_t now_ms)
{
	if (sqlite3_column_type(s, expires_col + 1) != SQLITE_NULL)
		return STORE_SECRET_USED;
	if (sqlite3_column_int64(s, expires_col) <= now_ms)
		return STORE_SECRET_EXPIRED;
	return STORE_SECRET_SPENT;
}

/* Marks a secret used with statement `id` (?1 hash, ?2 time). */
static int secret_use(struct store_tx *tx, enum store_stmt id,
		      const char *hash, int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), id);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, hash);
	sqlite3_bind_int64(s, 2, now_ms);
	return step_done(store_tx_conn(tx), s, "secret_use");
}

int store_sqlite_tx_link_token_add(struct store_tx *tx, const char *token_hash,
				   const char *account_id, int64_t now_ms,
				   int64_t expires_at_ms)
{
	sqlite3_stmt *s;

	if (secrets_prune(tx, STMT_LINK_TOKEN_PRUNE, now_ms) ||
	    !(s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_TOKEN_ADD)))
		return STORE_ERR;
	bind_text(s, 1, token_hash);
	bind_text(s, 2, account_id);
	sqlite3_bind_int64(s, 3, now_ms);
	sqlite3_bind_int64(s, 4, expires_at_ms);
	return step_done(store_tx_conn(tx), s, "link_token_add");
}

int store_sqlite_tx_link_token_spend(struct store_tx *tx,
				     const char *token_hash, int64_t now_ms,
				     char *account_id, size_t size,
				     enum store_secret_result *result)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_LINK_TOKEN_GET);
	bool row;

	*result = STORE_SECRET_UNKNOWN;
	account_id[0] = '\0';
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, token_hash);
	if (store_conn_step_row(store_tx_conn(tx), s, &row, "link_token_get"))
		return STORE_ERR;
	if (!row)
		return STORE_OK;
	*result = secret_classify(s, 1, now_ms);
	snprintf(account_id, size, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (*result != STORE_SECRET_SPENT)
		return STORE_OK;
	return secret_use(tx, STMT_LINK_TOKEN_USE, token_hash, now_ms);
}

int store_sqlite_tx_oauth_state_add(struct store_tx *tx, const char *state_hash,
				    const struct store_oauth_state *st,
				    int64_t now_ms)
{
	sqlite3_stmt *s;

	if (secrets_prune(tx, STMT_OAUTH_STATE_PRUNE, now_ms) ||
	    !(s = store_conn_stmt(store_tx_conn(tx), STMT_OAUTH_STATE_ADD)))
		return STORE_ERR;
	bind_text(s, 1, state_hash);
	bind_text(s, 2, st->account_id);
	bind_text(s, 3, st->provider);
	bind_text(s, 4, st->verifier);
	bind_text(s, 5, st->return_to);
	sqlite3_bind_int64(s, 6, now_ms);
	sqlite3_bind_int64(s, 7, st->expires_at_ms);
	return step_done(store_tx_conn(tx), s, "oauth_state_add");
}

int store_sqlite_tx_oauth_state_spend(struct store_tx *tx,
				      const char *state_hash,
				      const char *provider, int64_t now_ms,
				      struct store_oauth_state_row *out,
				      enum store_secret_result *result)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_OAUTH_STATE_GET);
	const char *p;
	bool row;

	*result = STORE_SECRET_UNKNOWN;
	memset(out, 0, sizeof(*out));
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, state_hash);
	if (store_conn_step_row(store_tx_conn(tx), s, &row, "oauth_state_get"))
		return STORE_ERR;
	if (!row)
		return STORE_OK;
	p = (const char *)sqlite3_column_text(s, 1);
	if (p && strcmp(p, provider) == 0) {
		*result = secret_classify(s, 4, now_ms);
		snprintf(out->account_id, sizeof(out->account_id), "%s",
			 (const char *)sqlite3_column_text(s, 0));
		snprintf(out->verifier, sizeof(out->verifier), "%s",
			 (const char *)sqlite3_column_text(s, 2));
		snprintf(out->return_to, sizeof(out->return_to), "%s",
			 (const char *)sqlite3_column_text(s, 3));
	}
	sqlite3_reset(s);
	if (*result != STORE_SECRET_SPENT)
		return STORE_OK;
	return secret_use(tx, STMT_OAUTH_STATE_USE, state_hash, now_ms);
}

int store_sqlite_tx_outbox_add(struct store_tx *tx,
			       const struct store_outbox_item *it,
			       int64_t now_ms, bool *added)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_OUTBOX_ADD);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, it->kind);
	bind_text(s, 2, it->dedupe_key);
	bind_text(s, 3, it->account_id);
	bind_text(s, 4, it->payload);
	sqlite3_bind_int64(s, 5, now_ms);
	bind_text(s, 6, it->request_id && *it->request_id ? it->request_id : NULL);
	if (step_done(store_tx_conn(tx), s, "outbox_add"))
		return STORE_ERR;
	*added = sqlite3_changes(store_tx_conn(tx)->db) > 0;
	return STORE_OK;
}

int store_sqlite_tx_outbox_record(struct store_tx *tx,
				  const struct store_outbox_outcome *o,
				  int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_OUTBOX_RECORD);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, o->id);
	bind_text(s, 2, store_outbox_status_name(o->status));
	sqlite3_bind_int64(s, 3, o->next_attempt_at_ms);
	bind_text(s, 4, o->error);
	sqlite3_bind_int64(s, 5, now_ms);
	return step_done(store_tx_conn(tx), s, "outbox_record");
}

/* ---- claiming outbox rows ---------------------------------------------- */

struct claimed {
	struct store_outbox_item item;   /* strings owned */
};

struct claim_run {
	int64_t now_ms, lease_ms;
	int limit;
	struct claimed *rows;
	size_t n;
};

static void claimed_release(struct claim_run *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free((char *)c->rows[i].item.kind);
		free((char *)c->rows[i].item.dedupe_key);
		free((char *)c->rows[i].item.account_id);
		free((char *)c->rows[i].item.payload);
		free((char *)c->rows[i].item.request_id);
	}
	c->n = 0;
}

static char *col_dup(sqlite3_stmt *s, int col)
{
	const char *v = (const char *)sqlite3_column_text(s, col);

	return v ? util_xstrdup(v) : NULL;
}

/* Claims inside the writer's transaction. apply may run twice for one
 * submission: the rows are collected afresh each time and handed out
 * only after the commit. */
static int claim_apply(struct store_tx *tx, void *arg)
{
	struct claim_run *c = arg;
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_OUTBOX_CLAIM);
	int rc;

	claimed_release(c);
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, c->now_ms);
	sqlite3_bind_int64(s, 2, c->lease_ms);
	sqlite3_bind_int(s, 3, c->limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && c->n < (size_t)c->limit) {
		struct store_outbox_item *it = &c->rows[c->n++].item;

		it->id = sqlite3_column_int64(s, 0);
		it->kind = col_dup(s, 1);
		it->dedupe_key = col_dup(s, 2);
		it->account_id = col_dup(s, 3);
		it->payload = col_dup(s, 4);
		it->attempts = sqlite3_column_int64(s, 5);
		it->request_id = col_dup(s, 6);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_log_error(store_tx_conn(tx), "outbox_claim", rc);
		return STORE_ERR;
	}
	return STORE_OK;
}

int store_sqlite_outbox_claim(struct store *st, int64_t now_ms,
			      int64_t lease_ms, int limit, store_outbox_fn fn,
			      void *arg)
{
	struct claim_run c = { .now_ms = now_ms, .lease_ms = lease_ms,
			       .limit = limit > 0 ? limit : 1 };
	int rc;

	c.rows = util_xcalloc((size_t)c.limit, sizeof(*c.rows));
	rc = store_run(st, claim_apply, &c);
	for (size_t i = 0; rc == STORE_OK && i < c.n; i++)
		fn(arg, &c.rows[i].item);
	claimed_release(&c);
	free(c.rows);
	return rc;
}

int store_sqlite_tx_audit_add(struct store_tx *tx, const struct store_audit *a)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_AUDIT_INSERT);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, a->at_ms);
	bind_text(s, 2, a->actor);
	bind_text(s, 3, a->action);
	bind_text(s, 4, a->target);
	bind_text(s, 5, a->detail ? a->detail : "{}");
	return step_done(store_tx_conn(tx), s, "audit_add");
}

int store_sqlite_tx_health_touch(struct store_tx *tx, int64_t now_ms)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_HEALTH_TOUCH);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, now_ms);
	return step_done(store_tx_conn(tx), s, "health_touch");
}

int store_sqlite_tx_event_add(struct store_tx *tx, const char *type,
			      const char *account_id, int64_t created_at_ms,
			      const char *data_json, int64_t *id)
{
	sqlite3_stmt *s = store_conn_stmt(store_tx_conn(tx), STMT_EVENT_ADD);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, type);
	bind_text(s, 2, account_id);
	sqlite3_bind_int64(s, 3, created_at_ms);
	bind_text(s, 4, data_json);
	if (step_done(store_tx_conn(tx), s, "event_add"))
		return STORE_ERR;
	if (id)
		*id = sqlite3_last_insert_rowid(store_tx_conn(tx)->db);
	return STORE_OK;
}
