/* linking: linking players' provider identities in their browser (OAuth
 * authorization code with PKCE, single-use link tokens and states), and
 * the key that seals the provider tokens links keep. */
#ifndef GRANTD_LINKING_H
#define GRANTD_LINKING_H

#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

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

#endif
