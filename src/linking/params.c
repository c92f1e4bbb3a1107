/* linking/params.c: what the browser link flow makes and checks of the
 * untrusted values it is given — single-use secrets (link tokens, OAuth
 * states, PKCE verifiers) and the return_to URL a player is sent back to. */
#include "linking/linking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base64url of LINKING_SECRET_BYTES bytes, unpadded. */
#define SECRET_B64_LEN 43

int linking_secret_new(const char *prefix, char *out, size_t size)
{
	unsigned char raw[LINKING_SECRET_BYTES];
	char b64[SECRET_B64_LEN + 2];
	size_t n = strlen(prefix);

	UTIL_ASSERT(size > n + SECRET_B64_LEN);
	if (util_random_bytes(raw, sizeof(raw)))
		return -1;
	util_base64url_encode(raw, sizeof(raw), b64);
	snprintf(out, size, "%s%s", prefix, b64);
	memset(raw, 0, sizeof(raw));
	return 0;
}

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool linking_secret_well_formed(const char *prefix, const char *s)
{
	size_t n = strlen(prefix);

	if (!s || strncmp(s, prefix, n) != 0 || strlen(s + n) != SECRET_B64_LEN)
		return false;
	for (s += n; *s; s++)
		if (!b64url_char(*s))
			return false;
	return true;
}

void linking_secret_hash(const char *s, char out[static 65])
{
	util_sha256_hex(s, strlen(s), out);
}

void linking_pkce_challenge(const char *verifier,
			    char out[static LINKING_CHALLENGE_LEN + 1])
{
	unsigned char digest[32];

	util_sha256(verifier, strlen(verifier), digest);
	util_base64url_encode(digest, sizeof(digest), out);
}

/* ---- the PKCE verifier, sealed by its state ------------------------------ */

#define VERIFIER_AAD "grantd link verifier"

/* The key a state seals its verifier with: SHA-256 of the state. The
 * store keeps only another hash of the state, so the sealed verifier is of
 * no use without the state the player's browser brings back. */
static void verifier_key(const char *state,
			 unsigned char key[static UTIL_SEAL_KEY_LEN])
{
	struct util_buf b;

	util_buf_init(&b, 0);
	util_buf_printf(&b, "%s\n%s", VERIFIER_AAD, state);
	util_sha256(b.data, b.len, key);
	memset(b.data, 0, b.len);
	util_buf_release(&b);
}

int linking_verifier_seal(const char *state, const char *verifier, char *out,
			  size_t size)
{
	unsigned char key[UTIL_SEAL_KEY_LEN];
	struct util_buf sealed;
	int rc = -1;

	util_buf_init(&sealed, 0);
	verifier_key(state, key);
	if (util_seal(key, VERIFIER_AAD, strlen(VERIFIER_AAD), verifier,
		      strlen(verifier), &sealed) == 0 &&
	    size > 4 * (sealed.len / 3 + 1)) {
		util_base64url_encode(sealed.data, sealed.len, out);
		rc = 0;
	}
	memset(key, 0, sizeof(key));
	util_buf_release(&sealed);
	return rc;
}

int linking_verifier_open(const char *state, const char *sealed, char *out,
			  size_t size)
{
	unsigned char key[UTIL_SEAL_KEY_LEN];
	size_t n = strlen(sealed);
	unsigned char *raw = util_xmalloc(3 * (n / 4 + 1));
	struct util_buf plain;
	long len = util_base64_decode(sealed, n, raw, true);
	int rc = -1;

	util_buf_init(&plain, 0);
	verifier_key(state, key);
	if (len > 0 && util_unseal(key, VERIFIER_AAD, strlen(VERIFIER_AAD), raw,
				   (size_t)len, &plain) == 0 &&
	    plain.len > 0 && plain.len < size) {
		memcpy(out, plain.data, plain.len);
		out[plain.len] = '\0';
		rc = 0;
	}
	if (plain.data)
		memset(plain.data, 0, plain.len);
	util_buf_release(&plain);
	memset(key, 0, sizeof(key));
	free(raw);
	return rc;
}

/* ---- return_to ---------------------------------------------------------- */

/* True if a prefix ends inside a URL's authority ("https://game.example"),
 * where a longer host could still match it. */
static bool ends_in_authority(const char *prefix)
{
	const char *sep = strstr(prefix, "://");

	return sep && !strchr(sep + 3, '/');
}

/* True if `url` starts with `prefix` at a boundary the prefix cannot be
 * stretched past: "https://game.example" allows ".../x" and "?x", not
 * "https://game.example.evil.test" or "https://game.example@evil.test". */
static bool prefix_matches(const char *url, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 0 || strncmp(url, prefix, n) != 0)
		return false;
	if (!ends_in_authority(prefix))
		return true;
	return url[n] == '\0' || url[n] == '/' || url[n] == '?' || url[n] == '#';
}

int linking_return_to_check(const char *url, const struct util_strlist *allow)
{
	size_t n = url ? strlen(url) : 0;

	if (n == 0 || n > LINKING_RETURN_TO_MAX ||
	    !util_is_printable_ascii(url, n) || strpbrk(url, " \\"))
		return -1;
	for (size_t i = 0; i < allow->len; i++)
		if (prefix_matches(url, allow->items[i]))
			return 0;
	return -1;
}

void linking_return_url(const char *return_to, const char *name,
			const char *value, struct util_buf *out)
{
	const char *hash = strchr(return_to, '#');
	size_t base = hash ? (size_t)(hash - return_to) : strlen(return_to);
	const char *q = memchr(return_to, '?', base);
	char sep = '?';

	if (q)
		sep = q + 1 == return_to + base || return_to[base - 1] == '&' ?
		      '\0' : '&';
	util_buf_append(out, return_to, base);
	if (sep)
		util_buf_putc(out, sep);
	util_percent_encode(out, name);
	util_buf_putc(out, '=');
	util_percent_encode(out, value);
	if (hash)
		util_buf_puts(out, hash);
}
