/* auth/cache.c: the in-memory credential snapshot, its refresher thread and
 * the bearer check on every authenticated request. */
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ops/ops.h"

struct cached_credential {
	unsigned char hash[SHA256_DIGEST_LENGTH];
	char id[HTTP_PRINCIPAL_ID_MAX + 1];
	char name[HTTP_PRINCIPAL_NAME_MAX + 1];
	unsigned scopes;
	int64_t expires_at_ms;  /* 0: never */
};

struct snapshot {
	struct cached_credential *items;  /* sorted by hash */
	size_t len;
	size_t cap;
};

struct auth {
	struct store *store;
	int refresh_ms;
	pthread_rwlock_t lock;
	struct snapshot snap;
	pthread_t thread;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
	bool started;
};

static int hex_to_bytes(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return hex[2 * n] == '\0' ? 0 : -1;
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
	if (hex_to_bytes(c->secret_hash, cc->hash, sizeof(cc->hash)))
		return;
	snprintf(cc->id, sizeof(cc->id), "%s", c->id);
	snprintf(cc->name, sizeof(cc->name), "%s", c->name);
	cc->scopes = scopes;
	cc->expires_at_ms = c->expires_at_ms;
	snap->len++;
}

static int by_hash(const void *a, const void *b)
{
	return memcmp(((const struct cached_credential *)a)->hash,
		      ((const struct cached_credential *)b)->hash, SHA256_DIGEST_LENGTH);
}

int auth_refresh(struct auth *a)
{
	struct snapshot next = { 0 }, old;

	if (store_credentials_read(a->store, collect, &next)) {
		free(next.items);
		return -1;
	}
	qsort(next.items, next.len, sizeof(*next.items), by_hash);
	pthread_rwlock_wrlock(&a->lock);
	old = a->snap;
	a->snap = next;
	pthread_rwlock_unlock(&a->lock);
	free(old.items);
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

struct auth *auth_new(struct store *st, int refresh_ms)
{
	struct auth *a = util_xcalloc(1, sizeof(*a));

	a->store = st;
	a->refresh_ms = refresh_ms > 0 ? refresh_ms : 1000;
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
	free(a->snap.items);
	free(a);
}

/* Extracts the token of "Bearer <token>" (scheme case-insensitive). */
static const char *bearer_token(const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	authorization += 7;
	while (*authorization == ' ')
		authorization++;
	return *authorization ? authorization : NULL;
}

enum http_auth_result auth_check(void *auth, const char *authorization,
				 unsigned required_scopes,
				 struct http_principal *out)
{
	struct auth *a = auth;
	struct cached_credential probe, *hit;
	const char *token = bearer_token(authorization);
	enum http_auth_result r = HTTP_AUTH_INVALID;

	if (!token)
		return authorization ? HTTP_AUTH_INVALID : HTTP_AUTH_MISSING;
	util_sha256(token, strlen(token), probe.hash);
	pthread_rwlock_rdlock(&a->lock);
	hit = bsearch(&probe, a->snap.items, a->snap.len, sizeof(probe), by_hash);
	if (hit && CRYPTO_memcmp(hit->hash, probe.hash, sizeof(probe.hash)) == 0 &&
	    (!hit->expires_at_ms || hit->expires_at_ms > util_now_ms())) {
		memcpy(out->id, hit->id, sizeof(out->id));
		memcpy(out->name, hit->name, sizeof(out->name));
		out->scopes = hit->scopes;
		r = (hit->scopes & required_scopes) == required_scopes ?
			HTTP_AUTH_OK : HTTP_AUTH_FORBIDDEN;
	}
	pthread_rwlock_unlock(&a->lock);
	return r;
}
