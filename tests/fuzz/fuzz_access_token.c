/* fuzz_access_token: Authorization headers and bearer tokens as an
 * attacker may send them, verified against fixed signing keys; and signing
 * key files. A token that verifies must have been signed with a configured
 * key, so no input found by mutation may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char keys_text[] =
	"k1 fuzz-secret-one-fuzz-secret-one-fuzz\n"
	"k2 fuzz-secret-two-fuzz-secret-two-fuzz\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_signing_keys keys;
	static char *valid;
	struct auth_signing_keys parsed;
	struct auth_token_claims c;
	static char token[AUTH_BEARER_MAX + 1];
	char *s = util_xstrndup((const char *)data, size);
	char *err = NULL;

	if (!keys.len) {
		UTIL_ASSERT(auth_signing_keys_parse(keys_text, strlen(keys_text),
						    &keys, &err) == 0);
		valid = auth_token_issue(&keys, "grantd", "grantd", "client_x",
					 AUTH_SCOPE_PARTNER, 1800000000, 60);
	}
	if (auth_token_verify(&keys, "grantd", "grantd", s, 1800000000, &c) == 0)
		UTIL_ASSERT(strcmp(s, valid) == 0);
	/* the header as given: a token comes out whole, unquoted, non-empty */
	if (auth_bearer_token(s, token, sizeof(token)) == 0)
		UTIL_ASSERT(token[0] && !strchr(token, '"') &&
			    strlen(token) <= AUTH_BEARER_MAX);
	if (auth_signing_keys_parse((const char *)data, size, &parsed, &err) == 0)
		auth_signing_keys_release(&parsed);
	else
		free(err);
	free(s);
	return 0;
}
