/* auth/signing.c: access token signing keys kept in the database — new
 * keys from the CSPRNG, what each stored key is for, and the set a server
 * signs and verifies with. */
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_BYTES 48

int auth_signing_key_generate(char kid[AUTH_STORE_KID_LEN + 1],
			      char secret[AUTH_STORE_SECRET_LEN + 1])
{
	unsigned char bytes[SECRET_BYTES], idbytes[8];

	if (util_random_bytes(bytes, sizeof(bytes)) ||
	    util_random_bytes(idbytes, sizeof(idbytes)))
		return -1;
	memcpy(kid, "sk_", 3); /* NOLINT(bugprone-not-null-terminated-result): util_hex_encode writes the NUL */
	util_hex_encode(idbytes, sizeof(idbytes), kid + 3);
	util_base64url_encode(bytes, sizeof(bytes), secret);
	OPENSSL_cleanse(bytes, sizeof(bytes));
	return 0;
}

static const char *const state_names[] = {
	[AUTH_KEY_SIGNING] = "signing",
	[AUTH_KEY_VERIFYING] = "verifying",
	[AUTH_KEY_RETIRING] = "retiring",
	[AUTH_KEY_RETIRED] = "retired",
};

const char *auth_key_state_name(enum auth_key_state s)
{
	return state_names[s];
}

enum auth_key_state auth_key_state_of(const struct store_signing_key *k,
				      bool newest_active, int64_t now_ms,
				      int64_t token_ttl_s)
{
	if (!k->retired_at_ms)
		return newest_active ? AUTH_KEY_SIGNING : AUTH_KEY_VERIFYING;
	return k->retired_at_ms + token_ttl_s * 1000 > now_ms ?
		AUTH_KEY_RETIRING : AUTH_KEY_RETIRED;
}

/* Rows arrive newest first: active keys go to `active` (the first signs),
 * keys still verifying after retirement to `retiring`. */
struct key_rows {
	struct auth_signing_keys active;
	struct auth_signing_keys retiring;
	int64_t now_ms;
	int64_t ttl_s;
};

static void key_add(struct auth_signing_keys *set, const struct store_signing_key *k)
{
	struct auth_signing_key *key;
	size_t n = strlen(k->secret);

	if (set->len == AUTH_SIGNING_KEYS_MAX || strlen(k->kid) > AUTH_KID_MAX)
		return;
	key = &set->keys[set->len++];
	snprintf(key->kid, sizeof(key->kid), "%s", k->kid);
	key->secret = util_xmalloc(n);
	memcpy(key->secret, k->secret, n);
	key->secret_len = n;
}

static void collect_key(void *arg, const struct store_signing_key *k)
{
	struct key_rows *rows = arg;
	enum auth_key_state state = auth_key_state_of(k, rows->active.len == 0,
						      rows->now_ms, rows->ttl_s);

	if (state == AUTH_KEY_SIGNING || state == AUTH_KEY_VERIFYING)
		key_add(&rows->active, k);
	else if (state == AUTH_KEY_RETIRING)
		key_add(&rows->retiring, k);
}

int auth_signing_keys_read_store(struct store *st, int64_t now_ms,
				 int64_t token_ttl_s,
				 struct auth_signing_keys *out)
{
	struct key_rows rows = { .now_ms = now_ms, .ttl_s = token_ttl_s };
	size_t i;

	memset(out, 0, sizeof(*out));
	if (store_signing_keys_read(st, collect_key, &rows)) {
		auth_signing_keys_release(&rows.active);
		auth_signing_keys_release(&rows.retiring);
		return -1;
	}
	*out = rows.active;
	for (i = 0; i < rows.retiring.len && out->len < AUTH_SIGNING_KEYS_MAX; i++) {
		out->keys[out->len++] = rows.retiring.keys[i];
		rows.retiring.keys[i].secret = NULL;
		rows.retiring.keys[i].secret_len = 0;
	}
	auth_signing_keys_release(&rows.retiring);
	return 0;
}
