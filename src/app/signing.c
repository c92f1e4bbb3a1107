/* app/signing.c: access token signing keys kept in the database — the
 * first key made at start, and `grantd signing-keys rotate|list|retire`,
 * each change recorded in the audit trail in the same transaction. */
#include "app/app.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"
#include "auth/auth.h"

/* What retire_apply returns to have its retirement rolled back: not a
 * store_rc, and negative, so the writer undoes just this intent. */
#define RETIRE_REFUSED (-64)

/* A key to add (rotate, or the first one) or retire, with its audit. */
struct key_change {
	char kid[AUTH_STORE_KID_LEN + 1];
	char secret[AUTH_STORE_SECRET_LEN + 1];
	const char *actor;
	bool only_if_none;    /* add only when no key is active */
	bool done;            /* added, or retired */
};

static int add_apply(struct store_tx *tx, void *arg)
{
	struct key_change *kc = arg;
	struct store_signing_key k = { .kid = kc->kid, .secret = kc->secret,
				       .created_at_ms = util_now_ms() };
	int64_t active = 0;
	int rc;

	kc->done = false;
	if (kc->only_if_none && (rc = store_tx_signing_keys_active(tx, &active)))
		return rc;
	if (active > 0)
		return STORE_OK;
	if ((rc = store_tx_signing_key_insert(tx, &k)) ||
	    (rc = app_audit_tx(tx, kc->actor, "signing_key.created", kc->kid, NULL)))
		return rc;
	kc->done = true;
	return STORE_OK;
}

static int retire_apply(struct store_tx *tx, void *arg)
{
	struct key_change *kc = arg;
	int64_t active = 0;
	int rc;

	kc->done = false;
	if ((rc = store_tx_signing_keys_active(tx, &active)))
		return rc;
	if ((rc = store_tx_signing_key_retire(tx, kc->kid, util_now_ms(), &kc->done)))
		return rc;
	if (kc->done && active <= 1)
		return RETIRE_REFUSED;  /* the last active key: undone */
	return kc->done ? app_audit_tx(tx, kc->actor, "signing_key.retired",
				       kc->kid, NULL) : STORE_OK;
}

/* Generates a key into kc and adds it. Returns a store_rc, or STORE_ERR
 * when the system had no randomness. */
static int add_key(struct store *st, struct key_change *kc)
{
	int rc;

	if (auth_signing_key_generate(kc->kid, kc->secret))
		return STORE_ERR;
	rc = store_run(st, add_apply, kc);
	OPENSSL_cleanse(kc->secret, sizeof(kc->secret));
	return rc;
}

int app_signing_keys_ensure(struct store *st, bool *created)
{
	struct key_change kc = { .actor = "server", .only_if_none = true };
	int rc = add_key(st, &kc);

	*created = rc == STORE_OK && kc.done;
	return rc == STORE_OK ? 0 : -1;
}

/* ---- the commands --------------------------------------------------------- */

/* Opens the store for a signing-keys command. A configured keys file wins
 * over the database's keys: changing those would change nothing, so
 * rotate and retire refuse (`changing`), and list only warns. */
static struct store *open_for_keys(const char *config_path, struct config *cfg,
				   bool changing)
{
	struct store *st = app_open_for_command(config_path, cfg, false);
	const char *file;

	if (!st)
		return NULL;
	file = cfg->auth.signing_keys_file;
	if (!*file)
		return st;
	fprintf(stderr, "grantd: auth.signing_keys_file is set (%s): servers sign "
		"and verify with that file's keys, not the database's%s\n", file,
		changing ? "; edit the file and send SIGHUP instead" : "");
	if (!changing)
		return st;
	store_close(st);
	config_release(cfg);
	return NULL;
}

int app_signing_keys_rotate(const char *config_path, bool json)
{
	struct key_change kc = { .only_if_none = false };
	char actor[96];
	struct config cfg;
	struct store *st = open_for_keys(config_path, &cfg, true);
	int rc;

	if (!st)
		return 1;
	app_audit_cli_actor(actor, sizeof(actor));
	kc.actor = actor;
	rc = add_key(st, &kc);
	store_close(st);
	config_release(&cfg);
	if (rc != STORE_OK) {
		fprintf(stderr, "grantd: could not add a signing key\n");
		return 1;
	}
	if (json)
		app_print_json(json_pack("{s:s}", "kid", kc.kid));
	else
		printf("signing key %s added; running servers sign new access "
		       "tokens with it within a second, and the older keys "
		       "still verify until retired\n", kc.kid);
	return 0;
}

int app_signing_keys_retire(const char *config_path, const char *kid)
{
	struct key_change kc = { .only_if_none = false };
	char actor[96];
	struct config cfg;
	struct store *st = open_for_keys(config_path, &cfg, true);
	int64_t ttl;
	int rc;

	if (!st)
		return 1;
	app_audit_cli_actor(actor, sizeof(actor));
	kc.actor = actor;
	snprintf(kc.kid, sizeof(kc.kid), "%s", kid);
	ttl = cfg.auth.token_ttl_seconds;
	rc = strlen(kid) < sizeof(kc.kid) ? store_run(st, retire_apply, &kc) :
		STORE_OK;
	store_close(st);
	config_release(&cfg);
	if (rc == RETIRE_REFUSED) {
		fprintf(stderr, "grantd: %s is the only active signing key; run "
			"grantd signing-keys rotate first\n", kid);
		return 1;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "grantd: could not retire %s\n", kid);
		return 1;
	}
	if (!kc.done) {
		fprintf(stderr, "grantd: no active signing key \"%s\"\n", kid);
		return 1;
	}
	printf("retired %s; it signs no new token, and tokens it signed stop "
	       "working within %lld seconds (auth.token_ttl_seconds)\n", kid,
	       (long long)ttl);
	return 0;
}

struct key_list {
	bool json;
	bool seen_active;
	int64_t now_ms;
	int64_t ttl_s;
	json_t *array;
};

static json_t *time_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

static void list_key(void *arg, const struct store_signing_key *k)
{
	struct key_list *kl = arg;
	enum auth_key_state state = auth_key_state_of(k, !kl->seen_active,
						      kl->now_ms, kl->ttl_s);
	int64_t until = k->retired_at_ms ? k->retired_at_ms + kl->ttl_s * 1000 : 0;
	char created[25], retired[25], verifies[25];

	kl->seen_active |= !k->retired_at_ms;
	if (kl->json) {
		json_array_append_new(kl->array, json_pack(
			"{s:s, s:s, s:I, s:o, s:o}", "kid", k->kid,
			"state", auth_key_state_name(state),
			"created_at_millis", (json_int_t)k->created_at_ms,
			"retired_at_millis", time_or_null(k->retired_at_ms),
			"verifies_until_millis", time_or_null(until)));
		return;
	}
	util_rfc3339_format(k->created_at_ms, created);
	snprintf(retired, sizeof(retired), "-");
	snprintf(verifies, sizeof(verifies), "-");
	if (k->retired_at_ms) {
		util_rfc3339_format(k->retired_at_ms, retired);
		util_rfc3339_format(until, verifies);
	}
	printf("%-20s %-10s %-25s %-25s %s\n", k->kid, auth_key_state_name(state),
	       created, retired, verifies);
}

int app_signing_keys_list(const char *config_path, bool json)
{
	struct key_list kl = { .json = json, .now_ms = util_now_ms(),
			       .array = json_array() };
	struct config cfg;
	struct store *st = open_for_keys(config_path, &cfg, false);
	int rc;

	if (!st) {
		json_decref(kl.array);
		return 1;
	}
	kl.ttl_s = cfg.auth.token_ttl_seconds;
	if (!json)
		printf("%-20s %-10s %-25s %-25s %s\n", "KID", "STATE", "CREATED",
		       "RETIRED", "VERIFIES_UNTIL");
	rc = store_signing_keys_read(st, list_key, &kl);
	if (json && rc == STORE_OK)
		app_print_json(json_incref(kl.array));
	json_decref(kl.array);
	store_close(st);
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}
