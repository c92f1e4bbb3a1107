/* auth: credentials — API key generation and hashing, scopes, and the
 * in-memory cache that checks a bearer credential without a database read. */
#ifndef GRANTD_AUTH_H
#define GRANTD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "store/store.h"

enum auth_scope {
	AUTH_SCOPE_PRIMEGAMING = 1u << 0,  /* "fulfillment:primegaming" */
	AUTH_SCOPE_PARTNER = 1u << 1,      /* "partner" */
	AUTH_SCOPE_OPERATOR = 1u << 2,     /* "operator" */
};

/* Parses one scope name into its bit. Returns 0 or -1. */
int auth_scope_parse(const char *name, unsigned *bit);
/* Parses space-separated scope names. Returns 0 or -1 (unknown name). */
int auth_scopes_parse(const char *names, unsigned *bits);
/* Writes the space-separated names of `bits` into out. */
void auth_scopes_format(unsigned bits, char *out, size_t size);
/* "fulfillment:primegaming, partner, operator": for usage messages. */
const char *auth_scope_names(void);

#define AUTH_KEY_PREFIX "gdk_"
#define AUTH_KEY_LEN 47       /* "gdk_" + 43 base64url characters (256 bits) */
#define AUTH_KEY_ID_LEN 20    /* "key_" + 16 hex characters */
#define AUTH_NAME_MAX HTTP_PRINCIPAL_NAME_MAX

/* Generates a new API key from the CSPRNG and an id for it.
 * Returns 0, or -1 if no randomness was available. */
int auth_key_generate(char key[AUTH_KEY_LEN + 1], char id[AUTH_KEY_ID_LEN + 1]);
/* The stored form of a secret: hex SHA-256. */
void auth_secret_hash(const char *secret, char out[65]);
/* True for 1..64 printable ASCII characters. */
bool auth_name_valid(const char *name);

/* The credential cache: a snapshot of the credentials table, reloaded by a
 * background thread every `refresh_ms`, so a revoked key stops working
 * within that interval. */
struct auth;

/* Loads the credentials and starts the refresher. Returns a new cache, or
 * NULL (logged) if the first load failed. `st` is borrowed. */
struct auth *auth_new(struct store *st, int refresh_ms);
void auth_free(struct auth *a);
/* Reloads now. Returns 0 or -1. */
int auth_refresh(struct auth *a);

/* An http_auth_fn: checks "Bearer <key>" against the cache. */
enum http_auth_result auth_check(void *auth, const char *authorization,
				 unsigned required_scopes,
				 struct http_principal *out);

#endif
