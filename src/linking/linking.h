/* linking: linking players' provider identities in their browser (OAuth
 * authorization code with PKCE, single-use link tokens and states), and
 * the key that seals the provider tokens links keep. */
#ifndef GRANTD_LINKING_H
#define GRANTD_LINKING_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

struct http_request;
struct pull;
struct store;

/* Loads the token key from `path`: 64 hex digits (a trailing newline is
 * allowed) or exactly 32 raw bytes. With `create`, a missing file is made
 * from the CSPRNG (mode 0600, 64 hex digits) and *created says so.
 * Returns 0, or -1 with a message in *err (owned by the caller). */
int linking_token_key_load(const char *path, bool create,
			   unsigned char key[UTIL_SEAL_KEY_LEN], bool *created,
			   char **err);
/* The key file used when linking.token_key_file is unset: beside the
 * database, "<database>.token-key" (owned). */
char *linking_token_key_default_path(const char *database_path);

/* ---- the browser link flow (tokens.c, flow.c) ------------------------- */

/* How long a link token and an OAuth state live. */
#define LINKING_SECRET_TTL_MS (10 * 60 * 1000)

struct linking_options {
	struct store *store;                         /* all borrowed */
	struct pull *pull;
	const char *public_url;                      /* "": the flow is off */
	const struct util_strlist *return_to_allow;  /* URL prefixes */
};

/* The flow's settings: the route ctx of its handlers. */
struct linking;
/* Returns a new one (owned); the options' pointers must outlive it. */
struct linking *linking_new(const struct linking_options *opts);
/* Accepts NULL. */
void linking_free(struct linking *l);

/* POST /v1/accounts/{account_id}/link-tokens (scope partner): a new link
 * token for the account. */
void linking_token_handler(struct http_request *req);
/* GET /v1/link/{provider}/start?link_token=…&return_to=… (no credential):
 * spends the link token and redirects the player to the provider. */
void linking_start_handler(struct http_request *req);
/* GET /v1/link/{provider}/callback?code=…&state=… (or error=…&state=…):
 * links the player's identity and redirects to return_to. */
void linking_callback_handler(struct http_request *req);

/* ---- secrets and return_to (params.c; exposed for the fuzzer) -------- */

/* Random bytes in a secret; its text is base64url (43 characters) after
 * a prefix: "glt_" for link tokens, none for states and verifiers. */
#define LINKING_SECRET_BYTES 32
#define LINKING_SECRET_MAX 64
#define LINKING_TOKEN_PREFIX "glt_"
#define LINKING_CHALLENGE_LEN 43
#define LINKING_RETURN_TO_MAX 2048

/* Writes a new secret (`prefix` and 43 characters) into out (`size`
 * bytes, more than the secret). Returns 0, or -1 if the CSPRNG failed. */
int linking_secret_new(const char *prefix, char *out, size_t size);
/* True if `s` (may be NULL) has the shape of a secret made with `prefix`. */
bool linking_secret_well_formed(const char *prefix, const char *s);
/* The hex SHA-256 a secret is stored by. */
void linking_secret_hash(const char *s, char out[static 65]);
/* The PKCE S256 code challenge of `verifier`: base64url(SHA-256). */
void linking_pkce_challenge(const char *verifier,
			    char out[static LINKING_CHALLENGE_LEN + 1]);
/* Seals a PKCE verifier under a key derived from the state it goes with,
 * as base64url text into out (`size` bytes; LINKING_VERIFIER_SEALED_MAX
 * + 1 suffice): the store keeps the state only as a hash, so what it holds
 * opens only with the state the browser brings back. Returns 0 or -1. */
#define LINKING_VERIFIER_SEALED_MAX 160
int linking_verifier_seal(const char *state, const char *verifier, char *out,
			  size_t size);
/* Opens what linking_verifier_seal made into out (`size` bytes). Returns
 * 0, or -1 if it does not open with `state`. */
int linking_verifier_open(const char *state, const char *sealed, char *out,
			  size_t size);
/* Returns 0 if `url` may be a return_to: 1 to LINKING_RETURN_TO_MAX
 * printable ASCII characters without spaces or backslashes, starting
 * with one of `allow`. A prefix ending inside the host
 * ("https://game.example") must be followed by the end, '/', '?' or '#'. */
int linking_return_to_check(const char *url, const struct util_strlist *allow);
/* Appends `return_to` with name=value (percent-encoded) added to its
 * query — '?' or '&' as needed, before any fragment — to out. */
void linking_return_url(const char *return_to, const char *name,
			const char *value, struct util_buf *out);

#endif
