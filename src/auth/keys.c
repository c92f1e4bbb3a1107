/* auth/keys.c: scope names, API key and client secret generation, and the
 * stored hash form. */
#include "auth/auth.h"

#include <stdio.h>
#include <string.h>

static const struct {
	unsigned bit;
	const char *name;
} scopes[] = {
#define SCOPE_ROW(name, bit, text) { AUTH_SCOPE_##name, text },
	AUTH_SCOPES(SCOPE_ROW)
#undef SCOPE_ROW
};

int auth_scope_parse(const char *name, unsigned *bit)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(scopes); i++) {
		if (strcmp(name, scopes[i].name) == 0) {
			*bit = scopes[i].bit;
			return 0;
		}
	}
	return -1;
}

int auth_scopes_parse(const char *names, unsigned *bits)
{
	char word[64];
	const char *p = names;

	*bits = 0;
	while (*p) {
		size_t n = strcspn(p, " ");
		unsigned bit;

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(word))
			return -1;
		memcpy(word, p, n);
		word[n] = '\0';
		if (auth_scope_parse(word, &bit))
			return -1;
		*bits |= bit;
		p += n;
	}
	return 0;
}

void auth_scopes_format(unsigned bits, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < UTIL_ARRAY_LEN(scopes); i++) {
		if (!(bits & scopes[i].bit) || used >= size)
			continue;
		used += (size_t)snprintf(out + used, size - used, "%s%s",
					 used ? " " : "", scopes[i].name);
	}
}

const char *auth_scope_names(void)
{
#define SCOPE_TEXT(name, bit, text) ", " text
	/* the list with its leading ", " skipped */
	static const char all[] = AUTH_SCOPES(SCOPE_TEXT);
#undef SCOPE_TEXT

	return all + 2;
}

int auth_key_generate(char key[AUTH_KEY_LEN + 1], char id[AUTH_KEY_ID_LEN + 1])
{
	unsigned char secret[32], idbytes[8];

	if (util_random_bytes(secret, sizeof(secret)) ||
	    util_random_bytes(idbytes, sizeof(idbytes)))
		return -1;
	memcpy(key, AUTH_KEY_PREFIX, 4); /* NOLINT(bugprone-not-null-terminated-result): the encoder below writes the NUL */
	util_base64url_encode(secret, sizeof(secret), key + 4);
	memcpy(id, "key_", 4); /* NOLINT(bugprone-not-null-terminated-result): util_hex_encode writes the NUL */
	util_hex_encode(idbytes, sizeof(idbytes), id + 4);
	return 0;
}

int auth_client_generate(char secret[AUTH_CLIENT_SECRET_LEN + 1],
			 char id[AUTH_CLIENT_ID_LEN + 1])
{
	unsigned char bytes[32], idbytes[8];
	size_t prefix = strlen(AUTH_CLIENT_SECRET_PREFIX);

	if (util_random_bytes(bytes, sizeof(bytes)) ||
	    util_random_bytes(idbytes, sizeof(idbytes)))
		return -1;
	memcpy(secret, AUTH_CLIENT_SECRET_PREFIX, prefix); /* NOLINT(bugprone-not-null-terminated-result): the encoder below writes the NUL */
	util_base64url_encode(bytes, sizeof(bytes), secret + prefix);
	if (id) {
		memcpy(id, "client_", 7); /* NOLINT(bugprone-not-null-terminated-result): util_hex_encode writes the NUL */
		util_hex_encode(idbytes, sizeof(idbytes), id + 7);
	}
	return 0;
}

void auth_secret_hash(const char *secret, char out[65])
{
	util_sha256_hex(secret, strlen(secret), out);
}

bool auth_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= AUTH_NAME_MAX && util_is_printable_ascii(name, n);
}
