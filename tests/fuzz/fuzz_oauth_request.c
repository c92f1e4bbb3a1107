/* fuzz_oauth_request: what the token endpoint parses from a client — the
 * form-urlencoded body and the HTTP Basic header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void form(const char *body, size_t n)
{
	struct auth_form f;
	char bad[64];
	int rc = auth_form_parse(body, n, &f, bad, sizeof(bad));

	if (rc) {
		UTIL_ASSERT(f.len == 0);
		return;
	}
	UTIL_ASSERT(f.len <= AUTH_FORM_MAX);
	for (size_t i = 0; i < f.len; i++) {
		/* every name is found again, and maps to its own value */
		UTIL_ASSERT(auth_form_get(&f, f.names[i]) == f.values[i]);
		UTIL_ASSERT(util_is_printable_ascii(f.values[i], strlen(f.values[i])));
	}
	auth_form_release(&f);
}

static void basic(const char *header)
{
	char id[49], secret[129];

	if (auth_basic_parse(header, id, sizeof(id), secret, sizeof(secret)) == 0)
		UTIL_ASSERT(*id && *secret &&
			    util_is_printable_ascii(id, strlen(id)) &&
			    util_is_printable_ascii(secret, strlen(secret)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = util_xstrndup((const char *)data, size);
	char *header = util_xasprintf("Basic %s", s);

	form((const char *)data, size);
	basic(s);
	basic(header);
	free(header);
	free(s);
	return 0;
}
