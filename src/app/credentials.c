/* app/credentials.c: the credential commands — `keys` (API keys) and
 * `clients` (OAuth clients): create, list, revoke, rotate-secret, each
 * change recorded in the audit trail in the same transaction. */
#include "app/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"
#include "auth/auth.h"

/* What a create or rotate writes, with its audit record. */
struct change {
	struct store_credential cred;
	const char *action;
	char actor[96];
	json_t *detail;       /* borrowed */
	int64_t grace_until_ms;
	bool found;
	char same_name[HTTP_PRINCIPAL_ID_MAX + 1]; /* create: the live holder */
};

/* Inserts unless a live credential has the name (same_name tells which). */
static int insert_apply(struct store_tx *tx, void *arg)
{
	struct change *ch = arg;
	int rc = store_tx_credential_live_name(tx, ch->cred.name, ch->same_name,
					       sizeof(ch->same_name), &ch->found);

	if (rc || ch->found)
		return rc;
	rc = store_tx_credential_insert(tx, &ch->cred);
	return rc ? rc : app_audit_tx(tx, ch->actor, ch->action, ch->cred.id,
				      ch->detail);
}

static int revoke_apply(struct store_tx *tx, void *arg)
{
	struct change *ch = arg;
	int rc = store_tx_credential_revoke(tx, ch->cred.id, ch->cred.kind,
					    util_now_ms(), &ch->found);

	if (rc || !ch->found)
		return rc;
	return app_audit_tx(tx, ch->actor, ch->action, ch->cred.id, ch->detail);
}

static int rotate_apply(struct store_tx *tx, void *arg)
{
	struct change *ch = arg;
	int rc = store_tx_credential_rotate(tx, ch->cred.id, ch->cred.kind,
					    ch->cred.secret_hash,
					    ch->grace_until_ms, util_now_ms(),
					    &ch->found);

	if (rc || !ch->found)
		return rc;
	return app_audit_tx(tx, ch->actor, ch->action, ch->cred.id, ch->detail);
}

/* Runs one change against the configured store. Returns a store_rc, or 1
 * if the store could not be opened (printed). */
static int run_change(const char *config_path,
		      int (*apply)(struct store_tx *, void *), struct change *ch)
{
	struct config cfg;
	struct store *st = app_open_for_command(config_path, &cfg, false);
	int rc;

	if (!st)
		return 1;
	app_audit_cli_actor(ch->actor, sizeof(ch->actor));
	rc = store_run(st, apply, ch);
	store_close(st);
	config_release(&cfg);
	return rc;
}

/* Stores a new credential. Returns 0, or 1 after printing why not. */
static int create(const char *config_path, struct change *ch, const char *what)
{
	int rc = run_change(config_path, insert_apply, ch);

	json_decref(ch->detail);
	if (rc == 1)
		return 1;
	if (rc != STORE_OK) {
		fprintf(stderr, "grantd: could not store the %s\n", what);
		return 1;
	}
	if (ch->found) {
		fprintf(stderr, "grantd: a credential named \"%s\" already exists "
			"(%s); revoke it first or choose another name\n",
			ch->cred.name, ch->same_name);
		return 1;
	}
	return 0;
}

static unsigned scope_bits(const char *const *scopes, size_t n)
{
	unsigned bits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned bit;

		/* main checked the names; a failure here is a caller's bug */
		UTIL_ASSERT(auth_scope_parse(scopes[i], &bit) == 0);
		bits |= bit;
	}
	return bits;
}

/* ---- create ------------------------------------------------------------ */

/* Fills the parts of a new credential common to keys and clients. */
static void new_credential(struct change *ch, const char *kind, const char *name,
			   unsigned bits, char *names, size_t names_size,
			   long long expires_in_s)
{
	auth_scopes_format(bits, names, names_size);
	ch->cred.kind = kind;
	ch->cred.name = name;
	ch->cred.scopes = names;
	ch->cred.created_at_ms = util_now_ms();
	ch->cred.expires_at_ms = expires_in_s > 0 ?
		ch->cred.created_at_ms + expires_in_s * 1000 : 0;
	ch->action = "credential.created";
	ch->detail = json_pack("{s:s, s:s, s:s}", "kind", kind, "name", name,
			       "scopes", names);
	if (ch->cred.expires_at_ms)
		json_object_set_new(ch->detail, "expires_at_millis",
				    json_integer(ch->cred.expires_at_ms));
}

int app_keys_create(const char *config_path, const char *name,
		    const char *const *scopes, size_t n_scopes,
		    long long expires_in_s, bool json)
{
	char key[AUTH_KEY_LEN + 1], id[AUTH_KEY_ID_LEN + 1], hash[65], names[128];
	struct change ch = { .cred.id = id, .cred.secret_hash = hash };

	UTIL_ASSERT(auth_name_valid(name));
	if (auth_key_generate(key, id)) {
		fprintf(stderr, "grantd: the system has no randomness to give\n");
		return 1;
	}
	auth_secret_hash(key, hash);
	new_credential(&ch, STORE_CREDENTIAL_API_KEY, name,
		       scope_bits(scopes, n_scopes), names, sizeof(names),
		       expires_in_s);
	if (create(config_path, &ch, "key"))
		return 1;
	if (json)
		app_print_json(json_pack("{s:s, s:s}", "id", id, "key", key));
	else
		printf("created API key %s \"%s\" with scopes: %s\n"
		       "key (shown once; store it now): %s\n", id, name, names, key);
	return 0;
}

int app_clients_create(const char *config_path, const char *name,
		       const char *const *scopes, size_t n_scopes, bool json)
{
	char secret[AUTH_CLIENT_SECRET_LEN + 1], id[AUTH_CLIENT_ID_LEN + 1];
	char hash[65], names[128];
	struct change ch = { .cred.id = id, .cred.secret_hash = hash };

	UTIL_ASSERT(auth_name_valid(name));
	if (auth_client_generate(secret, id)) {
		fprintf(stderr, "grantd: the system has no randomness to give\n");
		return 1;
	}
	auth_secret_hash(secret, hash);
	new_credential(&ch, STORE_CREDENTIAL_OAUTH_CLIENT, name,
		       scope_bits(scopes, n_scopes), names, sizeof(names), 0);
	if (create(config_path, &ch, "client"))
		return 1;
	if (json)
		app_print_json(json_pack("{s:s, s:s}", "client_id", id,
				     "client_secret", secret));
	else
		printf("created OAuth client %s \"%s\" with scopes: %s\n"
		       "client_id: %s\n"
		       "client_secret (shown once; store it now): %s\n",
		       id, name, names, id, secret);
	return 0;
}

/* ---- list ---------------------------------------------------------------- */

struct list_ctx {
	const char *kind;
	bool json;
	json_t *array;
};

static json_t *time_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

static void time_text(int64_t ms, char out[25])
{
	if (ms)
		util_rfc3339_format(ms, out);
	else
		snprintf(out, 25, "-");
}

static void list_key(struct list_ctx *lc, const struct store_credential *c)
{
	char created[25], expires[25], revoked[25];

	if (lc->json) {
		json_array_append_new(lc->array, json_pack(
			"{s:s, s:s, s:s, s:I, s:o, s:o}", "id", c->id,
			"name", c->name, "scopes", c->scopes,
			"created_at_millis", (json_int_t)c->created_at_ms,
			"expires_at_millis", time_or_null(c->expires_at_ms),
			"revoked_at_millis", time_or_null(c->revoked_at_ms)));
		return;
	}
	time_text(c->created_at_ms, created);
	time_text(c->expires_at_ms, expires);
	time_text(c->revoked_at_ms, revoked);
	printf("%-21s %-20s %-26s %-25s %-25s %s\n", c->id, c->name, c->scopes,
	       created, expires, revoked);
}

static void list_client(struct list_ctx *lc, const struct store_credential *c)
{
	char created[25], rotated[25], revoked[25];

	if (lc->json) {
		json_array_append_new(lc->array, json_pack(
			"{s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "client_id", c->id,
			"name", c->name, "scopes", c->scopes,
			"created_at_millis", (json_int_t)c->created_at_ms,
			"secret_rotated_at_millis", time_or_null(c->secret_rotated_at_ms),
			"previous_secret_expires_at_millis",
			time_or_null(c->previous_expires_at_ms),
			"revoked_at_millis", time_or_null(c->revoked_at_ms)));
		return;
	}
	time_text(c->created_at_ms, created);
	time_text(c->secret_rotated_at_ms, rotated);
	time_text(c->revoked_at_ms, revoked);
	printf("%-24s %-20s %-26s %-25s %-25s %s\n", c->id, c->name, c->scopes,
	       created, rotated, revoked);
}

static void list_one(void *arg, const struct store_credential *c)
{
	struct list_ctx *lc = arg;

	if (strcmp(c->kind, lc->kind) != 0)
		return;
	if (strcmp(c->kind, STORE_CREDENTIAL_API_KEY) == 0)
		list_key(lc, c);
	else
		list_client(lc, c);
}

static int list(const char *config_path, const char *kind, bool json)
{
	struct list_ctx lc = { .kind = kind, .json = json, .array = json_array() };
	struct config cfg;
	struct store *st = app_open_for_command(config_path, &cfg, false);
	bool keys = strcmp(kind, STORE_CREDENTIAL_API_KEY) == 0;
	int rc;

	if (!st) {
		json_decref(lc.array);
		return 1;
	}
	if (!json)
		printf(keys ? "%-21s %-20s %-26s %-25s %-25s %s\n" :
		       "%-24s %-20s %-26s %-25s %-25s %s\n", keys ? "ID" : "CLIENT_ID",
		       "NAME", "SCOPES", "CREATED", keys ? "EXPIRES" : "SECRET_ROTATED",
		       "REVOKED");
	rc = store_credentials_read(st, list_one, &lc);
	if (json && rc == STORE_OK)
		app_print_json(json_incref(lc.array));
	json_decref(lc.array);
	store_close(st);
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}

int app_keys_list(const char *config_path, bool json)
{
	return list(config_path, STORE_CREDENTIAL_API_KEY, json);
}

int app_clients_list(const char *config_path, bool json)
{
	return list(config_path, STORE_CREDENTIAL_OAUTH_CLIENT, json);
}

/* ---- revoke and rotate --------------------------------------------------- */

static int revoke(const char *config_path, const char *kind, const char *id)
{
	bool key = strcmp(kind, STORE_CREDENTIAL_API_KEY) == 0;
	struct change ch = { .cred.id = id, .cred.kind = kind,
			     .action = "credential.revoked" };
	int rc;

	ch.detail = json_pack("{s:s}", "kind", kind);
	rc = run_change(config_path, revoke_apply, &ch);
	json_decref(ch.detail);
	if (rc == 1)
		return 1;
	if (rc != STORE_OK)
		fprintf(stderr, "grantd: could not revoke %s\n", id);
	else if (!ch.found)
		fprintf(stderr, "grantd: no %s with id \"%s\"\n",
			key ? "key" : "client", id);
	else
		printf("revoked %s; running servers stop accepting it%s within "
		       "a second\n", id, key ? "" : " and its access tokens");
	return rc == STORE_OK && ch.found ? 0 : 1;
}

int app_keys_revoke(const char *config_path, const char *id)
{
	return revoke(config_path, STORE_CREDENTIAL_API_KEY, id);
}

int app_clients_revoke(const char *config_path, const char *id)
{
	return revoke(config_path, STORE_CREDENTIAL_OAUTH_CLIENT, id);
}

/* Prints the outcome of a successful rotation. */
static void print_rotated(const char *id, const char *secret, int64_t until_ms,
			  bool json)
{
	char until[25];

	if (json) {
		app_print_json(json_pack("{s:s, s:s, s:I}", "client_id", id,
				     "client_secret", secret,
				     "previous_secret_expires_at_millis",
				     (json_int_t)until_ms));
		return;
	}
	util_rfc3339_format(until_ms, until);
	printf("rotated the secret of %s; the previous secret works until %s\n"
	       "client_secret (shown once; store it now): %s\n", id, until, secret);
}

int app_clients_rotate_secret(const char *config_path, const char *id, bool json)
{
	char secret[AUTH_CLIENT_SECRET_LEN + 1], hash[65];
	struct change ch = { .cred.id = id, .cred.secret_hash = hash,
			     .cred.kind = STORE_CREDENTIAL_OAUTH_CLIENT,
			     .action = "credential.secret_rotated" };
	struct config cfg;
	struct store *st;
	int rc;

	if (auth_client_generate(secret, NULL)) {
		fprintf(stderr, "grantd: the system has no randomness to give\n");
		return 1;
	}
	auth_secret_hash(secret, hash);
	st = app_open_for_command(config_path, &cfg, false);
	if (!st)
		return 1;
	app_audit_cli_actor(ch.actor, sizeof(ch.actor));
	ch.grace_until_ms = util_now_ms() + cfg.auth.client_secret_grace_seconds * 1000;
	ch.detail = json_pack("{s:I}", "previous_secret_expires_at_millis",
			      (json_int_t)ch.grace_until_ms);
	rc = store_run(st, rotate_apply, &ch);
	json_decref(ch.detail);
	store_close(st);
	config_release(&cfg);
	if (rc != STORE_OK)
		fprintf(stderr, "grantd: could not rotate the secret of %s\n", id);
	else if (!ch.found)
		fprintf(stderr, "grantd: no live client with id \"%s\"\n", id);
	else
		print_rotated(id, secret, ch.grace_until_ms, json);
	return rc == STORE_OK && ch.found ? 0 : 1;
}
