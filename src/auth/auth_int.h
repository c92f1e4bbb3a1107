/* auth/auth_int.h (private to auth/): the credential cache's lookups that
 * the token endpoint shares with the bearer check. */
#ifndef GRANTD_AUTH_INT_H
#define GRANTD_AUTH_INT_H

#include "auth/auth.h"

/* What authenticating an OAuth client found. */
enum auth_client_rc {
	AUTH_CLIENT_OK,
	AUTH_CLIENT_UNKNOWN,     /* no such id, wrong secret, revoked, expired */
	AUTH_CLIENT_NOT_OAUTH,   /* the secret is right but the id is an API key */
};

/* Checks `id` and `secret` against the cache in constant time per
 * candidate (the current secret, and the previous one during its grace).
 * Fills *out (name, id, scopes) on AUTH_CLIENT_OK and _NOT_OAUTH. */
enum auth_client_rc auth_client_authenticate(struct auth *a, const char *id,
					     const char *secret,
					     struct http_principal *out);

/* Issues an access token for an authenticated client. Returns the token
 * (owned by the caller; free()) or NULL when OAuth is off. */
char *auth_issue_for(struct auth *a, const char *client_id, unsigned scopes,
		     int64_t *expires_in_s);

/* ---- credentials known to be missing (missing.c) ---- */

/* A set of at most `slots` SHA-256 digests; a digest added to a full slot
 * replaces the one there. Thread-safe. */
struct auth_missing;

struct auth_missing *auth_missing_new(size_t slots);
void auth_missing_free(struct auth_missing *m);
void auth_missing_clear(struct auth_missing *m);
bool auth_missing_has(struct auth_missing *m, const unsigned char digest[32]);
void auth_missing_add(struct auth_missing *m, const unsigned char digest[32]);

/* The rate limiter's verdict for credential `id` (true: allowed). */
bool auth_rate_take(struct auth *a, const char *id, unsigned *retry_after_s);

#endif
