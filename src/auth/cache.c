/* auth/cache.c: the in-memory credential snapshot and its refresher thread,
 * the signing keys, and the bearer check on every authenticated request. */
#include "auth/auth_int.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ops/ops.h"

struct cached_credential {
	unsigned char hash[SHA256_DIGEST_LENGTH];
	unsigned char previous_hash[SHA256_DIGEST_LENGTH];
	int64_t previous_expires_at_ms;  /* 0: no previous secret */
	char id[HTTP_PRINCIPAL_ID_MAX + 1];
	char name[HTTP_PRINCIPAL_NAME_MAX + 1];
	unsigned scopes;
	bool oauth_client;
	int64_t expires_at_ms;  /* 0: never */
};

struct snapshot {
	struct cached_credential *items;  /* sorted by id */
	size_t len;
	size_t cap;
	struct cached_credential **by_hash;  /* API keys, sorted by hash */
	size_t n_keys;
};

struct auth {
	struct store *store;
	int refresh_ms;
	char *issuer;
	char *audience;
	int64_t token_ttl_s;
	bool keys_in_store;            /* signing keys reloaded with the snapshot */
	struct auth_limiter *limiter;  /* NULL: no rate limit */
	struct auth_limiter *lookups;  /* budget of database lookups on a miss */
	struct auth_missing *missing;  /* credentials known to be missing */
	atomic_ullong found, missing_n, skipped;  /* struct auth_stats */
	pthread_rwlock_t lock;         /* guards snap and keys */
	struct snapshot snap;
	struct auth_signing_keys keys;
	pthread_t thread;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
	bool started;
};

/* Decodes exactly 2n hex digits (the whole of `hex`) into n bytes.
 * Returns 0 or -1. */
static int hex_to_bytes(const char *hex, unsigned char *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -1;
	return util_hex_decode(hex, 2 * n, out);
}

/* store_credential_fn: adds live credentials to the snapshot being built. */
static void collect(void *arg, const struct store_credential *c)
{
	struct snapshot *snap = arg;
	struct cached_credential *cc;
	unsigned scopes;

	if (c->revoked_at_ms || !c->secret_hash || auth_scopes_parse(c->scopes, &scopes))
		return;
	if (snap->len == snap->cap) {
		snap->cap = snap->cap ? snap->cap * 2 : 16;
		snap->items = util_xrealloc(snap->items, snap->cap * sizeof(*cc));
	}
	cc = &snap->items[snap->len];
	memset(cc, 0, sizeof(*cc));
	if (hex_to_bytes(c->secret_hash, cc->hash, sizeof(cc->hash)))
		return;
	if (c->previous_secret_hash && c->previous_expires_at_ms &&
	    hex_to_bytes(c->previous_secret_hash, cc->previous_hash,
			 sizeof(cc->previous_hash)) == 0)
		cc->previous_expires_at_ms = c->previous_expires_at_ms;
	snprintf(cc->id, sizeof(cc->id), "%s", c->id);
	snprintf(cc->name, sizeof(cc->name), "%s", c->name);
	cc->scopes = scopes;
	cc->oauth_client = strcmp(c->kind, STORE_CREDENTIAL_OAUTH_CLIENT) == 0;
	cc->expires_at_ms = c->expires_at_ms;
	snap->len++;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct cached_credential *)a)->id,
		      ((const struct cached_credential *)b)->id);
}

static int by_hash(const void *a, const void *b)
{
	return memcmp((*(struct cached_credential *const *)a)->hash,
		      (*(struct cached_credential *const *)b)->hash,
		      SHA256_DIGEST_LENGTH);
}

static void snapshot_index(struct snapshot *snap)
{
	if (snap->len)
		qsort(snap->items, snap->len, sizeof(*snap->items), by_id);
	snap->by_hash = util_xcalloc(snap->len + 1,
				     sizeof(struct cached_credential *));
	for (size_t i = 0; i < snap->len; i++)
		if (!snap->items[i].oauth_client)
			snap->by_hash[snap->n_keys++] = &snap->items[i];
	qsort(snap->by_hash, snap->n_keys, sizeof(struct cached_credential *),
	      by_hash);
}

static void snapshot_release(struct snapshot *snap)
{
	OPENSSL_cleanse(snap->items, snap->len * sizeof(*snap->items));
	free(snap->items);
	free(snap->by_hash);
}

int auth_refresh(struct auth *a)
{
	struct snapshot next = { 0 }, old;
	struct auth_signing_keys next_keys = { .len = 0 }, old_keys = { .len = 0 };

	if (store_credentials_read(a->store, collect, &next) ||
	    (a->keys_in_store &&
	     auth_signing_keys_read_store(a->store, util_now_ms(),
					  a->token_ttl_s, &next_keys))) {
		snapshot_release(&next);
		return -1;
	}
	snapshot_index(&next);
	pthread_rwlock_wrlock(&a->lock);
	old = a->snap;
	a->snap = next;
	if (a->keys_in_store) {
		old_keys = a->keys;
		a->keys = next_keys;
	}
	pthread_rwlock_unlock(&a->lock);
	auth_missing_clear(a->missing);
	snapshot_release(&old);
	auth_signing_keys_release(&old_keys);
	return 0;
}

static void *refresher(void *arg)
{
	struct auth *a = arg;

	pthread_mutex_lock(&a->stop_lock);
	while (!a->stopping) {
		struct timespec until;

		util_deadline_in(&until, a->refresh_ms);
		pthread_cond_timedwait(&a->stop_cond, &a->stop_lock, &until);
		if (a->stopping)
			break;
		pthread_mutex_unlock(&a->stop_lock);
		if (auth_refresh(a))
			ops_log(OPS_LOG_WARN, "auth_refresh_failed", "keeping the "
				"previous credential cache");
		pthread_mutex_lock(&a->stop_lock);
	}
	pthread_mutex_unlock(&a->stop_lock);
	return NULL;
}

struct auth *auth_new(struct store *st, const struct auth_options *opts)
{
	struct auth *a = util_xcalloc(1, sizeof(*a));

	a->store = st;
	a->refresh_ms = opts->refresh_ms > 0 ? opts->refresh_ms : 1000;
	a->issuer = util_xstrdup(opts->issuer ? opts->issuer : "grantd");
	a->audience = util_xstrdup(opts->audience ? opts->audience : "grantd");
	a->token_ttl_s = opts->token_ttl_s > 0 ? opts->token_ttl_s : 900;
	a->keys_in_store = opts->signing_keys_in_store;
	if (opts->rate_per_second > 0)
		a->limiter = auth_limiter_new((double)opts->rate_per_second,
					      (double)opts->rate_burst);
	a->lookups = auth_limiter_new(AUTH_LOOKUPS_PER_SECOND,
				      AUTH_LOOKUPS_PER_SECOND);
	a->missing = auth_missing_new(AUTH_MISSING_SLOTS);
	pthread_rwlock_init(&a->lock, NULL);
	pthread_mutex_init(&a->stop_lock, NULL);
	pthread_cond_init(&a->stop_cond, NULL);
	if (auth_refresh(a) || pthread_create(&a->thread, NULL, refresher, a)) {
		ops_log(OPS_LOG_ERROR, "auth_error", "cannot load credentials");
		auth_free(a);
		return NULL;
	}
	pthread_setname_np(a->thread, "grantd-auth");
	a->started = true;
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->stop_lock);
		a->stopping = true;
		pthread_cond_signal(&a->stop_cond);
		pthread_mutex_unlock(&a->stop_lock);
		pthread_join(a->thread, NULL);
	}
	pthread_cond_destroy(&a->stop_cond);
	pthread_mutex_destroy(&a->stop_lock);
	pthread_rwlock_destroy(&a->lock);
	snapshot_release(&a->snap);
	auth_signing_keys_release(&a->keys);
	auth_limiter_free(a->limiter);
	auth_limiter_free(a->lookups);
	auth_missing_free(a->missing);
	free(a->issuer);
	free(a->audience);
	free(a);
}

/* ---- signing keys ------------------------------------------------------- */

int auth_signing_keys_load(struct auth *a, const char *path, char **err)
{
	struct auth_signing_keys next = { 0 }, old;
	struct util_buf text;
	int rc = 0;

	UTIL_ASSERT(!a->keys_in_store);
	util_buf_init(&text, 1 << 20);
	if (path && *path) {
		if (util_read_file(path, &text)) {
			*err = util_xasprintf("%s: cannot read: %s", path,
					      util_strerror(errno));
			rc = -1;
		} else if (auth_signing_keys_parse(text.data, text.len, &next, err)) {
			char *why = *err;

			*err = util_xasprintf("%s: %s", path, why);
			free(why);
			rc = -1;
		}
	}
	util_buf_release(&text);
	if (rc)
		return -1;
	pthread_rwlock_wrlock(&a->lock);
	old = a->keys;
	a->keys = next;
	pthread_rwlock_unlock(&a->lock);
	auth_signing_keys_release(&old);
	return 0;
}

bool auth_oauth_enabled(struct auth *a)
{
	bool on;

	pthread_rwlock_rdlock(&a->lock);
	on = a->keys.len > 0;
	pthread_rwlock_unlock(&a->lock);
	return on;
}

char *auth_issue_for(struct auth *a, const char *client_id, unsigned scopes,
		     int64_t *expires_in_s)
{
	char *token;

	*expires_in_s = a->token_ttl_s;
	pthread_rwlock_rdlock(&a->lock);
	token = auth_token_issue(&a->keys, a->issuer, a->audience, client_id,
				 scopes, util_now_ms() / 1000, a->token_ttl_s);
	pthread_rwlock_unlock(&a->lock);
	return token;
}

bool auth_rate_take(struct auth *a, const char *id, unsigned *retry_after_s)
{
	return !a->limiter ||
	       auth_limiter_take(a->limiter, id, util_mono_us(), retry_after_s);
}

/* ---- lookups (called with the lock held for reading) -------------------- */

static struct cached_credential *find_id(struct snapshot *snap, const char *id)
{
	struct cached_credential probe;

	if (snap->len == 0 || strlen(id) >= sizeof(probe.id))
		return NULL;
	snprintf(probe.id, sizeof(probe.id), "%s", id);
	return bsearch(&probe, snap->items, snap->len, sizeof(probe), by_id);
}

static struct cached_credential *find_key(struct snapshot *snap,
					  const unsigned char hash[SHA256_DIGEST_LENGTH])
{
	struct cached_credential probe, *pp = &probe, **hit;

	memcpy(probe.hash, hash, sizeof(probe.hash));
	hit = bsearch(&pp, snap->by_hash, snap->n_keys,
		      sizeof(struct cached_credential *), by_hash);
	if (!hit || CRYPTO_memcmp((*hit)->hash, hash, SHA256_DIGEST_LENGTH) != 0)
		return NULL;
	return *hit;
}

static bool live(const struct cached_credential *c, int64_t now_ms)
{
	return !c->expires_at_ms || c->expires_at_ms > now_ms;
}

static void fill_principal(const struct cached_credential *c, unsigned scopes,
			   struct http_principal *out)
{
	memcpy(out->id, c->id, sizeof(out->id));
	memcpy(out->name, c->name, sizeof(out->name));
	out->scopes = scopes;
}

/* ---- credentials the snapshot lacks -------------------------------------- */

/* What a miss is remembered by: the secret's hash, with the client id. */
static void missing_digest(const unsigned char hash[SHA256_DIGEST_LENGTH],
			   const char *id, unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned char buf[SHA256_DIGEST_LENGTH + HTTP_PRINCIPAL_ID_MAX + 1];
	size_t n = id ? strnlen(id, HTTP_PRINCIPAL_ID_MAX) : 0;

	memcpy(buf, hash, SHA256_DIGEST_LENGTH);
	memcpy(buf + SHA256_DIGEST_LENGTH, id ? id : "", n);
	util_sha256(buf, SHA256_DIGEST_LENGTH + n, out);
}

/* A credential the snapshot lacks may have been made since the last
 * reload: looks it up by the hash of its secret (and its id, for a
 * client), unless it is known to be missing or the lookup budget is spent,
 * and reloads the snapshot if the database has it live. Returns true if it
 * reloaded (the caller looks again). */
static bool reload_for(struct auth *a, const unsigned char hash[SHA256_DIGEST_LENGTH],
		       const char *id)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	unsigned retry;
	bool found = false;

	missing_digest(hash, id, digest);
	if (auth_missing_has(a->missing, digest) ||
	    !auth_limiter_take(a->lookups, "lookups", util_mono_us(), &retry)) {
		atomic_fetch_add(&a->skipped, 1);
		return false;
	}
	util_hex_encode(hash, SHA256_DIGEST_LENGTH, hex);
	if (store_credential_live(a->store, hex, id, util_now_ms(), &found) ||
	    !found || auth_refresh(a)) {
		atomic_fetch_add(&a->missing_n, 1);
		auth_missing_add(a->missing, digest);
		return false;
	}
	atomic_fetch_add(&a->found, 1);
	return true;
}

void auth_stats_get(struct auth *a, struct auth_stats *out)
{
	out->lookups_found = atomic_load(&a->found);
	out->lookups_missing = atomic_load(&a->missing_n);
	out->lookups_skipped = atomic_load(&a->skipped);
}

/* The client check against the snapshot. */
static enum auth_client_rc client_match(struct auth *a, const char *id,
					const unsigned char hash[SHA256_DIGEST_LENGTH],
					struct http_principal *out)
{
	enum auth_client_rc rc = AUTH_CLIENT_UNKNOWN;
	int64_t now_ms = util_now_ms();
	struct cached_credential *c;
	bool match;

	pthread_rwlock_rdlock(&a->lock);
	c = find_id(&a->snap, id);
	if (c && live(c, now_ms)) {
		/* both comparisons always run: no timing hint which matched */
		match = CRYPTO_memcmp(c->hash, hash, SHA256_DIGEST_LENGTH) == 0;
		match |= CRYPTO_memcmp(c->previous_hash, hash, SHA256_DIGEST_LENGTH) == 0 &&
			 c->previous_expires_at_ms > now_ms;
		if (match) {
			fill_principal(c, c->scopes, out);
			rc = c->oauth_client ? AUTH_CLIENT_OK : AUTH_CLIENT_NOT_OAUTH;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

enum auth_client_rc auth_client_authenticate(struct auth *a, const char *id,
					     const char *secret,
					     struct http_principal *out)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	enum auth_client_rc rc;

	util_sha256(secret, strlen(secret), hash);
	rc = client_match(a, id, hash, out);
	if (rc == AUTH_CLIENT_UNKNOWN && reload_for(a, hash, id))
		rc = client_match(a, id, hash, out);
	return rc;
}

/* Copies the token of "Bearer <token>" or "Bearer "<token>"" into out: the
 * scheme is case-insensitive and the token may come in one pair of double
 * quotes, as the Prime Gaming push document writes the header. Returns 0,
 * or -1 if the header is another scheme, empty, unbalanced or too long. */
int auth_bearer_token(const char *authorization, char *out, size_t size)
{
	const char *t;
	size_t n;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return -1;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	n = strlen(t);
	if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
		t++;
		n -= 2;
	}
	if (n == 0 || n >= size || memchr(t, '"', n))
		return -1;
	memcpy(out, t, n);
	out[n] = '\0';
	return 0;
}

/* An API key: found by its hash, under the lock. */
static bool check_key(struct auth *a, const unsigned char hash[SHA256_DIGEST_LENGTH],
		      struct http_principal *out)
{
	struct cached_credential *c = find_key(&a->snap, hash);
	bool found = c && live(c, util_now_ms());

	if (found)
		fill_principal(c, c->scopes, out);
	return found;
}

/* An API key, looked up in the database too if the snapshot lacks it. */
static bool check_api_key(struct auth *a, const char *token,
			  struct http_principal *out)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	bool found;

	util_sha256(token, strlen(token), hash);
	pthread_rwlock_rdlock(&a->lock);
	found = check_key(a, hash, out);
	pthread_rwlock_unlock(&a->lock);
	if (found || !reload_for(a, hash, NULL))
		return found;
	pthread_rwlock_rdlock(&a->lock);
	found = check_key(a, hash, out);
	pthread_rwlock_unlock(&a->lock);
	return found;
}

/* An access token: verified, then its client must still be live. Scopes
 * are what the token says and the client still holds. */
static bool check_access_token(struct auth *a, const char *token,
			       struct http_principal *out)
{
	struct auth_token_claims claims;
	int64_t now_ms = util_now_ms();
	struct cached_credential *c;

	if (a->keys.len == 0 ||
	    auth_token_verify(&a->keys, a->issuer, a->audience, token,
			      now_ms / 1000, &claims))
		return false;
	c = find_id(&a->snap, claims.sub);
	if (!c || !c->oauth_client || !live(c, now_ms))
		return false;
	fill_principal(c, c->scopes & claims.scopes, out);
	return true;
}

enum http_auth_result auth_check(void *auth, const char *authorization,
				 unsigned required_scopes,
				 struct http_principal *out)
{
	struct auth *a = auth;
	char token[AUTH_BEARER_MAX + 1];
	bool found;

	if (auth_bearer_token(authorization, token, sizeof(token)))
		return authorization ? HTTP_AUTH_INVALID : HTTP_AUTH_MISSING;
	if (strchr(token, '.')) {
		pthread_rwlock_rdlock(&a->lock);
		found = check_access_token(a, token, out);
		pthread_rwlock_unlock(&a->lock);
	} else {
		found = check_api_key(a, token, out);
	}
	if (!found)
		return HTTP_AUTH_INVALID;
	if (required_scopes & HTTP_AUTH_ANY_SCOPE ?
	    !(out->scopes & required_scopes & ~HTTP_AUTH_ANY_SCOPE) :
	    (out->scopes & required_scopes) != required_scopes)
		return HTTP_AUTH_FORBIDDEN;
	if (!auth_rate_take(a, out->id, &out->retry_after_s))
		return HTTP_AUTH_THROTTLED;
	return HTTP_AUTH_OK;
}
