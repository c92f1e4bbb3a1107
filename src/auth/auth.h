/* auth: credentials — API keys and OAuth clients (generation, hashing,
 * scopes), the in-memory cache that checks a bearer credential without a
 * database read, signed access tokens (JWT), per-credential rate limits and
 * the OAuth 2.0 token endpoint. */
#ifndef GRANTD_AUTH_H
#define GRANTD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "store/store.h"

/* Every credential scope, the one place they are listed:
 *   X(NAME, bit, "scope name as written in credentials and tokens")
 * A provider whose push routes need a scope of their own adds a line here
 * and names AUTH_SCOPE_<NAME> in its source (sources/sources.h).
 * Scopes are independent: "operator" does not include "partner". A route
 * both may call lists both with HTTP_ROUTE_ANY_SCOPE (http/http.h). */
#define AUTH_SCOPES(X) \
	X(PRIMEGAMING, 0, "fulfillment:primegaming") \
	X(PARTNER, 1, "partner") \
	X(OPERATOR, 2, "operator")

enum auth_scope {
#define AUTH_SCOPE_BIT(name, bit, text) AUTH_SCOPE_##name = 1u << (bit),
	AUTH_SCOPES(AUTH_SCOPE_BIT)
#undef AUTH_SCOPE_BIT
};

/* Parses one scope name into its bit. Returns 0 or -1. */
int auth_scope_parse(const char *name, unsigned *bit);
/* Parses space-separated scope names. Returns 0 or -1 (unknown name). */
int auth_scopes_parse(const char *names, unsigned *bits);
/* Writes the space-separated names of `bits` into out. */
void auth_scopes_format(unsigned bits, char *out, size_t size);
/* Every scope name, comma-separated ("fulfillment:primegaming, partner,
 * operator"): for usage messages. A static string. */
const char *auth_scope_names(void);

/* ---- secrets ------------------------------------------------------------ */

#define AUTH_KEY_PREFIX "gdk_"
#define AUTH_KEY_LEN 47       /* "gdk_" + 43 base64url characters (256 bits) */
#define AUTH_KEY_ID_LEN 20    /* "key_" + 16 hex characters */
#define AUTH_CLIENT_SECRET_PREFIX "gdcs_"
#define AUTH_CLIENT_SECRET_LEN 48  /* "gdcs_" + 43 base64url characters */
#define AUTH_CLIENT_ID_LEN 23      /* "client_" + 16 hex characters */
#define AUTH_NAME_MAX HTTP_PRINCIPAL_NAME_MAX

/* Generates a new API key from the CSPRNG and an id for it.
 * Returns 0, or -1 if no randomness was available. */
int auth_key_generate(char key[AUTH_KEY_LEN + 1], char id[AUTH_KEY_ID_LEN + 1]);
/* A new OAuth client id (NULL: none wanted) and secret, as above. */
int auth_client_generate(char secret[AUTH_CLIENT_SECRET_LEN + 1],
			 char id[AUTH_CLIENT_ID_LEN + 1]);
/* The stored form of a secret: hex SHA-256. */
void auth_secret_hash(const char *secret, char out[65]);
/* True for 1..64 printable ASCII characters. */
bool auth_name_valid(const char *name);

/* ---- the credential cache ---------------------------------------------- */

/* What the cache is configured with. Strings are copied. */
struct auth_options {
	int refresh_ms;             /* how often credentials are reloaded */
	const char *issuer;         /* access tokens' iss */
	const char *audience;       /* access tokens' aud */
	int64_t token_ttl_s;
	int64_t rate_per_second;    /* 0: no rate limit */
	int64_t rate_burst;
	/* true: the signing keys are the database's (signing_keys table),
	 * reloaded with the credentials; false: auth_signing_keys_load. */
	bool signing_keys_in_store;
};

/* The credential cache: a snapshot of the credentials table, reloaded by a
 * background thread every `refresh_ms`, so a revoked key or client stops
 * working within that interval; the access token signing keys; and the
 * rate limiter. A credential the snapshot lacks is looked up in the
 * database before it is refused (AUTH_LOOKUPS_PER_SECOND at most, and not
 * again before the next reload once found missing), so one made a moment
 * ago works at once. */
struct auth;

/* Database lookups of unknown credentials allowed per second (and burst):
 * beyond them an unknown credential is refused from the cache alone. */
#define AUTH_LOOKUPS_PER_SECOND 50
/* Credentials remembered as missing until the next reload. */
#define AUTH_MISSING_SLOTS 4096

/* Loads the credentials and starts the refresher. Returns a new cache, or
 * NULL (logged) if the first load failed. `st` is borrowed. */
struct auth *auth_new(struct store *st, const struct auth_options *opts);
void auth_free(struct auth *a);
/* Reloads now. Returns 0 or -1. */
int auth_refresh(struct auth *a);

/* Replaces the signing keys with those of the file at `path` (see
 * auth_signing_keys_parse); path == NULL or "" turns OAuth off. Not for a
 * cache whose keys are in the store. Returns 0, or -1 with a message in
 * *err (owned by the caller) and the old keys kept. */
int auth_signing_keys_load(struct auth *a, const char *path, char **err);
/* True when signing keys are loaded (OAuth is on). */
bool auth_oauth_enabled(struct auth *a);

/* Longest bearer token looked at (access tokens are ~400 bytes). */
#define AUTH_BEARER_MAX 4096

/* Copies the token of an Authorization header into out (`size` bytes,
 * at most AUTH_BEARER_MAX + 1 are useful): "Bearer <token>", the scheme in
 * any case, the token optionally in one pair of double quotes. Returns 0,
 * or -1 for another scheme, an empty, unbalanced or over-long token. */
int auth_bearer_token(const char *authorization, char *out, size_t size);

/* What became of credentials the snapshot lacked, since auth_new. */
struct auth_stats {
	uint64_t lookups_found;    /* in the database: the snapshot reloaded */
	uint64_t lookups_missing;  /* looked up, and not there (or not live) */
	uint64_t lookups_skipped;  /* known missing, or over the lookup budget */
};
void auth_stats_get(struct auth *a, struct auth_stats *out);

/* An http_auth_fn: checks "Bearer <API key or access token>" against the
 * cache, then the credential's rate limit. */
enum http_auth_result auth_check(void *auth, const char *authorization,
				 unsigned required_scopes,
				 struct http_principal *out);

/* ---- signing keys and access tokens ------------------------------------ */

#define AUTH_KID_MAX 64
#define AUTH_SIGNING_SECRET_MIN 32
#define AUTH_SIGNING_KEYS_MAX 16

struct auth_signing_key {
	char kid[AUTH_KID_MAX + 1];
	unsigned char *secret;     /* owned */
	size_t secret_len;
};

/* A set of signing keys: [0] signs, all verify. */
struct auth_signing_keys {
	struct auth_signing_key keys[AUTH_SIGNING_KEYS_MAX];
	size_t len;
};

/* ---- signing keys kept in the database ---------------------------------- */

#define AUTH_STORE_KID_LEN 19      /* "sk_" + 16 hex characters */
#define AUTH_STORE_SECRET_LEN 64   /* 48 random bytes, base64url */

/* A new key for the signing_keys table, from the CSPRNG. Returns 0, or -1
 * if no randomness was available. */
int auth_signing_key_generate(char kid[AUTH_STORE_KID_LEN + 1],
			      char secret[AUTH_STORE_SECRET_LEN + 1]);

/* What a stored key is for at `now_ms`, given the token lifetime. */
enum auth_key_state {
	AUTH_KEY_SIGNING,    /* the newest active key: signs and verifies */
	AUTH_KEY_VERIFYING,  /* an older active key: verifies */
	AUTH_KEY_RETIRING,   /* retired less than a token lifetime ago: verifies */
	AUTH_KEY_RETIRED,    /* retired longer ago: unused */
};
/* "signing", "verifying", "retiring", "retired" (static strings). */
const char *auth_key_state_name(enum auth_key_state s);
/* The state of stored key `k`; `newest_active` tells whether no active key
 * is newer. */
enum auth_key_state auth_key_state_of(const struct store_signing_key *k,
				      bool newest_active, int64_t now_ms,
				      int64_t token_ttl_s);

/* Reads the stored keys into *out: the signing key first, then the other
 * keys that verify (at most AUTH_SIGNING_KEYS_MAX in all, newest first).
 * Returns 0 or -1 (store failure; *out empty). */
int auth_signing_keys_read_store(struct store *st, int64_t now_ms,
				 int64_t token_ttl_s,
				 struct auth_signing_keys *out);

/* Parses a signing keys file: "<kid> <secret>" per line, kid 1..64 of
 * [A-Za-z0-9._-], secret at least 32 non-space characters; blank lines and
 * '#' comments are skipped; kids are unique. Returns 0, or -1 with a
 * message naming the line in *err (owned by the caller). */
int auth_signing_keys_parse(const char *text, size_t len,
			    struct auth_signing_keys *out, char **err);
void auth_signing_keys_release(struct auth_signing_keys *k);

/* What a verified access token says. */
struct auth_token_claims {
	char sub[HTTP_PRINCIPAL_ID_MAX + 1];  /* client id */
	unsigned scopes;
	int64_t exp;                          /* seconds since the epoch */
};

/* Issues an access token for client `sub` with `scopes`, signed by keys[0].
 * Returns the token (owned by the caller; free()) or NULL. */
char *auth_token_issue(const struct auth_signing_keys *k, const char *issuer,
		       const char *audience, const char *sub, unsigned scopes,
		       int64_t now_s, int64_t ttl_s);
/* Verifies a token: HS256 only, a known kid, a good signature, iss and aud
 * as given, not expired at `now_s`, known scope names. Returns 0 and the
 * claims, or -1. */
int auth_token_verify(const struct auth_signing_keys *k, const char *issuer,
		      const char *audience, const char *token, int64_t now_s,
		      struct auth_token_claims *out);

/* ---- rate limits ------------------------------------------------------- */

/* Token buckets keyed by credential id; thread-safe. */
struct auth_limiter;

struct auth_limiter *auth_limiter_new(double per_second, double burst);
void auth_limiter_free(struct auth_limiter *l);
/* Takes one token for `id` at time `now_us`. Returns true if allowed;
 * otherwise false and the whole seconds until a token is due (>= 1). */
bool auth_limiter_take(struct auth_limiter *l, const char *id, int64_t now_us,
		       unsigned *retry_after_s);

/* ---- the OAuth 2.0 token endpoint ---------------------------------------- */

/* POST /oauth2/token (RFC 6749 §4.4): the route's ctx is the struct auth. */
void auth_token_endpoint(struct http_request *req);

/* An application/x-www-form-urlencoded body, decoded. */
#define AUTH_FORM_MAX 16
struct auth_form {
	char *names[AUTH_FORM_MAX];   /* owned */
	char *values[AUTH_FORM_MAX];  /* owned */
	size_t len;
};

enum auth_form_rc {
	AUTH_FORM_MALFORMED = 1,  /* a pair without '=', a bad escape, a control */
	AUTH_FORM_DUPLICATE,      /* a name given twice (named in bad_name) */
	AUTH_FORM_TOO_MANY,       /* more than AUTH_FORM_MAX pairs */
};

/* Parses `len` bytes of body. Returns 0, or an auth_form_rc with nothing
 * to release. */
int auth_form_parse(const char *body, size_t len, struct auth_form *f,
		    char *bad_name, size_t bad_size);
/* A value by name (borrowed), or NULL. */
const char *auth_form_get(const struct auth_form *f, const char *name);
void auth_form_release(struct auth_form *f);

/* Parses "Basic base64(urlencode(id):urlencode(secret))" (RFC 6749
 * §2.3.1). Returns 0 or -1 (absent, another scheme, or malformed). */
int auth_basic_parse(const char *authorization, char *id, size_t id_size,
		     char *secret, size_t secret_size);

#endif
