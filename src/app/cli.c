/* app/cli.c: the one-shot commands — migrate, catalog check, keys. */
#include "app/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"
#include "auth/auth.h"
#include "ops/ops.h"

/* Opens config and store for a command; quiet logs (the command prints). */
static struct store *open_for_command(const char *config_path,
				      struct config *cfg)
{
	struct store *st;

	ops_log_set_level(OPS_LOG_WARN);
	if (app_config_load(config_path, cfg))
		return NULL;
	st = app_store_open(cfg);
	if (!st)
		config_release(cfg);
	return st;
}

int app_migrate(const char *config_path)
{
	struct config cfg;
	struct store *st = open_for_command(config_path, &cfg);

	if (!st)
		return 1;
	printf("database %s is at schema version %d\n", cfg.storage.sqlite.path,
	       store_schema_version(st));
	store_close(st);
	config_release(&cfg);
	return 0;
}

int app_catalog_check(const char *catalog_path)
{
	struct util_strlist problems;
	struct catalog *c = NULL;

	util_strlist_init(&problems);
	if (catalog_load_file(catalog_path, &c, &problems)) {
		for (size_t i = 0; i < problems.len; i++)
			printf("%s\n", problems.items[i]);
		fprintf(stderr, "%s: %zu problem(s); the catalog is refused\n",
			catalog_path, problems.len);
		util_strlist_release(&problems);
		return 1;
	}
	printf("%s: ok: %zu items, %zu bundles, %zu entitlements, %zu Prime "
	       "Gaming SKUs\n", catalog_path, catalog_item_count(c),
	       catalog_bundle_count(c), catalog_entitlement_count(c),
	       catalog_provider_id_count(c, CATALOG_PRIME_GAMING));
	catalog_unref(c);
	util_strlist_release(&problems);
	return 0;
}

static int insert_credential(struct store_tx *tx, void *arg)
{
	return store_tx_credential_insert(tx, arg);
}

static void print_created(const char *id, const char *key, const char *name,
			  const char *scopes, bool json)
{
	json_t *j;
	char *text;

	if (!json) {
		printf("created API key %s \"%s\" with scopes: %s\n"
		       "key (shown once; store it now): %s\n", id, name, scopes, key);
		return;
	}
	j = json_pack("{s:s, s:s}", "id", id, "key", key);
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	free(text);
	json_decref(j);
}

int app_keys_create(const char *config_path, const char *name,
		    const char *const *scopes, size_t n_scopes,
		    long long expires_in_s, bool json)
{
	char key[AUTH_KEY_LEN + 1], id[AUTH_KEY_ID_LEN + 1], hash[65], names[128];
	struct store_credential c = { .kind = "api_key", .name = name };
	struct config cfg;
	struct store *st;
	unsigned bits;
	int rc;

	bits = 0;
	for (size_t i = 0; i < n_scopes; i++) {
		unsigned bit;

		/* main checked the names; a failure here is a caller's bug */
		UTIL_ASSERT(auth_scope_parse(scopes[i], &bit) == 0);
		bits |= bit;
	}
	UTIL_ASSERT(auth_name_valid(name));
	if (auth_key_generate(key, id)) {
		fprintf(stderr, "grantd: the system has no randomness to give\n");
		return 1;
	}
	st = open_for_command(config_path, &cfg);
	if (!st)
		return 1;
	auth_scopes_format(bits, names, sizeof(names));
	auth_secret_hash(key, hash);
	c.id = id;
	c.secret_hash = hash;
	c.scopes = names;
	c.created_at_ms = util_now_ms();
	c.expires_at_ms = expires_in_s > 0 ? c.created_at_ms + expires_in_s * 1000 : 0;
	rc = store_run(st, insert_credential, &c);
	if (rc == STORE_OK)
		print_created(id, key, name, names, json);
	else
		fprintf(stderr, "grantd: could not store the key\n");
	store_close(st);
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}

struct list_ctx {
	bool json;
	json_t *array;
};

static void time_text(int64_t ms, char out[25])
{
	if (ms)
		util_rfc3339_format(ms, out);
	else
		snprintf(out, 25, "-");
}

static void list_one(void *arg, const struct store_credential *c)
{
	struct list_ctx *lc = arg;
	char created[25], expires[25], revoked[25];

	if (lc->json) {
		json_array_append_new(lc->array, json_pack(
			"{s:s, s:s, s:s, s:I, s:o, s:o}", "id", c->id,
			"name", c->name, "scopes", c->scopes,
			"created_at_millis", (json_int_t)c->created_at_ms,
			"expires_at_millis", c->expires_at_ms ?
				json_integer(c->expires_at_ms) : json_null(),
			"revoked_at_millis", c->revoked_at_ms ?
				json_integer(c->revoked_at_ms) : json_null()));
		return;
	}
	time_text(c->created_at_ms, created);
	time_text(c->expires_at_ms, expires);
	time_text(c->revoked_at_ms, revoked);
	printf("%-21s %-20s %-26s %-25s %-25s %s\n", c->id, c->name, c->scopes,
	       created, expires, revoked);
}

int app_keys_list(const char *config_path, bool json)
{
	struct list_ctx lc = { .json = json, .array = json_array() };
	struct config cfg;
	struct store *st = open_for_command(config_path, &cfg);
	int rc;

	if (!st) {
		json_decref(lc.array);
		return 1;
	}
	if (!json)
		printf("%-21s %-20s %-26s %-25s %-25s %s\n", "ID", "NAME", "SCOPES",
		       "CREATED", "EXPIRES", "REVOKED");
	rc = store_credentials_read(st, list_one, &lc);
	if (json && rc == STORE_OK) {
		char *text = json_dumps(lc.array, JSON_COMPACT);

		printf("%s\n", text);
		free(text);
	}
	json_decref(lc.array);
	store_close(st);
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}

struct revoke_ctx {
	const char *id;
	bool found;
};

static int revoke_apply(struct store_tx *tx, void *arg)
{
	struct revoke_ctx *rc = arg;

	return store_tx_credential_revoke(tx, rc->id, util_now_ms(), &rc->found);
}

int app_keys_revoke(const char *config_path, const char *id)
{
	struct revoke_ctx ctx = { .id = id };
	struct config cfg;
	struct store *st = open_for_command(config_path, &cfg);
	int rc;

	if (!st)
		return 1;
	rc = store_run(st, revoke_apply, &ctx);
	if (rc != STORE_OK)
		fprintf(stderr, "grantd: could not revoke the key\n");
	else if (!ctx.found)
		fprintf(stderr, "grantd: no key with id \"%s\"\n", id);
	else
		printf("revoked %s; running servers stop accepting it within a "
		       "second\n", id);
	store_close(st);
	config_release(&cfg);
	return rc == STORE_OK && ctx.found ? 0 : 1;
}
