/* auth/token.c: access tokens — the signing keys file, issuing HS256 JWTs
 * with libjwt, and verifying them. */
#include "auth/auth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest token looked at; ours are ~400 bytes. */
#define TOKEN_MAX 4096
#define HEADER_MAX 1024

/* ---- the signing keys file ---------------------------------------------- */

void auth_signing_keys_release(struct auth_signing_keys *k)
{
	for (size_t i = 0; i < k->len; i++) {
		OPENSSL_cleanse(k->keys[i].secret, k->keys[i].secret_len);
		free(k->keys[i].secret);
	}
	memset(k, 0, sizeof(*k));
}

static bool kid_valid(const char *kid, size_t n)
{
	return n > 0 && n <= AUTH_KID_MAX &&
	       strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._-") >= n;
}

static const struct auth_signing_key *key_by_kid(const struct auth_signing_keys *k,
						 const char *kid)
{
	for (size_t i = 0; i < k->len; i++)
		if (strcmp(k->keys[i].kid, kid) == 0)
			return &k->keys[i];
	return NULL;
}

/* Parses one non-blank, non-comment line into the next key. Returns NULL
 * or what is wrong with it. */
static const char *parse_key_line(const char *line, size_t n,
				  struct auth_signing_keys *out)
{
	const char *sp = memchr(line, ' ', n), *secret;
	size_t kid_len, secret_len;
	struct auth_signing_key *key;

	if (!sp)
		return "expected \"<kid> <secret>\"";
	kid_len = (size_t)(sp - line);
	secret = sp;
	while (secret < line + n && *secret == ' ')
		secret++;
	secret_len = (size_t)(line + n - secret);
	if (!kid_valid(line, kid_len))
		return "the kid must be 1 to 64 of A-Z a-z 0-9 . _ -";
	if (secret_len < AUTH_SIGNING_SECRET_MIN || memchr(secret, ' ', secret_len) ||
	    !util_is_printable_ascii(secret, secret_len))
		return "the secret must be at least 32 printable characters "
		       "without spaces";
	if (out->len == AUTH_SIGNING_KEYS_MAX)
		return "too many keys (at most 16)";
	key = &out->keys[out->len];
	memcpy(key->kid, line, kid_len);
	key->kid[kid_len] = '\0';
	if (key_by_kid(out, key->kid))
		return "this kid is listed twice";
	key->secret = util_xmalloc(secret_len);
	memcpy(key->secret, secret, secret_len);
	key->secret_len = secret_len;
	out->len++;
	return NULL;
}

int auth_signing_keys_parse(const char *text, size_t len,
			    struct auth_signing_keys *out, char **err)
{
	size_t i = 0;
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - text) - i : len - i;
		const char *line = text + i, *why;

		lineno++;
		i += n + 1;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
			     line[n - 1] == '\t'))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if ((why = parse_key_line(line, n, out))) {
			*err = util_xasprintf("line %d: %s", lineno, why);
			auth_signing_keys_release(out);
			return -1;
		}
	}
	if (out->len == 0) {
		*err = util_xstrdup("no key in the file");
		return -1;
	}
	return 0;
}

/* ---- issuing ------------------------------------------------------------ */

char *auth_token_issue(const struct auth_signing_keys *k, const char *issuer,
		       const char *audience, const char *sub, unsigned scopes,
		       int64_t now_s, int64_t ttl_s)
{
	char names[128], jti[UTIL_UUID_LEN + 1];
	jwt_t *jwt = NULL;
	char *token = NULL;

	if (k->len == 0 || jwt_new(&jwt))
		return NULL;
	auth_scopes_format(scopes, names, sizeof(names));
	util_uuid7(jti);
	if (jwt_set_alg(jwt, JWT_ALG_HS256, k->keys[0].secret,
			(int)k->keys[0].secret_len) ||
	    jwt_add_header(jwt, "kid", k->keys[0].kid) ||
	    jwt_add_grant(jwt, "iss", issuer) ||
	    jwt_add_grant(jwt, "sub", sub) ||
	    jwt_add_grant(jwt, "aud", audience) ||
	    jwt_add_grant_int(jwt, "iat", (long)now_s) ||
	    jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) ||
	    jwt_add_grant(jwt, "jti", jti) ||
	    jwt_add_grant(jwt, "scope", names))
		goto out;
	token = jwt_encode_str(jwt);
out:
	jwt_free(jwt);
	return token;
}

/* ---- verifying ---------------------------------------------------------- */

/* The signing key the token's header names, if the header is exactly what
 * grantd issues: alg HS256, a known kid, no "crit". */
static const struct auth_signing_key *header_key(const struct auth_signing_keys *k,
						 const char *token, size_t n)
{
	unsigned char raw[HEADER_MAX];
	const struct auth_signing_key *key = NULL;
	const char *alg, *kid;
	json_t *h;
	long len;

	if (n == 0 || n > 4 * (HEADER_MAX / 3))
		return NULL;
	len = util_base64_decode(token, n, raw, true);
	if (len <= 0)
		return NULL;
	h = json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
	alg = json_string_value(json_object_get(h, "alg"));
	kid = json_string_value(json_object_get(h, "kid"));
	if (json_is_object(h) && alg && strcmp(alg, "HS256") == 0 && kid &&
	    !json_object_get(h, "crit"))
		key = key_by_kid(k, kid);
	json_decref(h);
	return key;
}

/* Checks the HMAC-SHA256 of "header.payload" against the signature in
 * constant time. Returns 0 if it matches. */
static int signature_ok(const struct auth_signing_key *key, const char *token,
			size_t signed_len, const char *sig, size_t sig_len)
{
	unsigned char want[EVP_MAX_MD_SIZE], got[48];
	unsigned int want_len = 0;
	long got_len;

	if (sig_len > 4 * (sizeof(got) / 3))
		return -1;
	got_len = util_base64_decode(sig, sig_len, got, true);
	if (!HMAC(EVP_sha256(), key->secret, (int)key->secret_len,
		  (const unsigned char *)token, signed_len, want, &want_len))
		return -1;
	if (got_len != (long)want_len)
		return -1;
	return CRYPTO_memcmp(want, got, want_len) == 0 ? 0 : -1;
}

/* Reads and checks the claims of a decoded token. */
static int claims_ok(jwt_t *jwt, const char *issuer, const char *audience,
		     int64_t now_s, struct auth_token_claims *out)
{
	const char *iss = jwt_get_grant(jwt, "iss");
	const char *aud = jwt_get_grant(jwt, "aud");
	const char *sub = jwt_get_grant(jwt, "sub");
	const char *scope = jwt_get_grant(jwt, "scope");
	long exp, nbf;

	if (!iss || strcmp(iss, issuer) != 0 || !aud || strcmp(aud, audience) != 0)
		return -1;
	if (!sub || !*sub || strlen(sub) > HTTP_PRINCIPAL_ID_MAX || !scope ||
	    auth_scopes_parse(scope, &out->scopes))
		return -1;
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno || exp <= now_s)
		return -1;
	errno = 0;
	nbf = jwt_get_grant_int(jwt, "nbf");
	if (errno == 0 && nbf > now_s)
		return -1;
	snprintf(out->sub, sizeof(out->sub), "%s", sub);
	out->exp = exp;
	return 0;
}

int auth_token_verify(const struct auth_signing_keys *k, const char *issuer,
		      const char *audience, const char *token, int64_t now_s,
		      struct auth_token_claims *out)
{
	const struct auth_signing_key *key;
	const char *dot1, *dot2;
	size_t n = strnlen(token, TOKEN_MAX + 1);
	jwt_t *jwt = NULL;
	int rc = -1;

	if (n > TOKEN_MAX || !(dot1 = strchr(token, '.')) ||
	    !(dot2 = strchr(dot1 + 1, '.')) || strchr(dot2 + 1, '.'))
		return -1;
	key = header_key(k, token, (size_t)(dot1 - token));
	if (!key || signature_ok(key, token, (size_t)(dot2 - token), dot2 + 1,
				 n - (size_t)(dot2 + 1 - token)))
		return -1;
	/* The signature is good: libjwt decodes (and checks it again). */
	if (jwt_decode(&jwt, token, key->secret, (int)key->secret_len) || !jwt)
		return -1;
	if (jwt_get_alg(jwt) == JWT_ALG_HS256)
		rc = claims_ok(jwt, issuer, audience, now_s, out);
	jwt_free(jwt);
	return rc;
}
