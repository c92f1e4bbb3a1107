/* offers/decode.c: the `result` of TentuPlay's verify answer to plain
 * bytes — hex (or base64) to nonce and ciphertext, then AES-256-CTR. */
#include "offers/offers.h"
#include "offers/offers_int.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTR_BLOCK 16

int offers__fail(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if (why && why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int offers_key_from_text(const char *text, unsigned char key[OFFERS_KEY_LEN],
			 char *why, size_t why_size)
{
	size_t n = text ? strlen(text) : 0;

	if (n != OFFERS_KEY_LEN)
		return offers__fail(why, why_size,
			    "payload key is %zu bytes, AES-256 needs %d", n,
			    OFFERS_KEY_LEN);
	memcpy(key, text, OFFERS_KEY_LEN);
	return 0;
}

/* Decodes `s` (n characters) as hex, else as padded base64, into a new
 * buffer (*out, owned, freed by the caller even on failure).
 * Returns the decoded length, or -1 if it is neither. */
static long decode_text(const char *s, size_t n, unsigned char **out)
{
	long got;

	*out = util_xmalloc(n / 4 * 3 + 3);
	if (util_hex_decode(s, n, *out) == 0)
		return (long)(n / 2);
	got = util_base64_decode(s, n, *out, false);
	return got;
}

/* AES-256-CTR over in[0..len) into out, the counter block starting as the
 * nonce followed by zero bytes. OpenSSL increments the whole 128-bit block
 * big-endian, which equals PyCryptodome's counter (the bytes after the
 * nonce) until that counter wraps: 2^32 blocks (64 GiB) for a 12-byte
 * nonce, far beyond OFFERS_RESULT_MAX. Returns 0 or -1. */
static int ctr(const unsigned char key[OFFERS_KEY_LEN],
	       const unsigned char *nonce, int nonce_bytes,
	       const unsigned char *in, size_t len, unsigned char *out)
{
	unsigned char iv[CTR_BLOCK] = { 0 };
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, rc = -1;

	if (!ctx || len > INT_MAX)
		goto out;
	memcpy(iv, nonce, (size_t)nonce_bytes);
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv) != 1)
		goto out;
	if (len && EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, out + len, &n) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int offers_decrypt(const char *result, const unsigned char key[OFFERS_KEY_LEN],
		   int nonce_bytes, struct util_buf *plain, char *why,
		   size_t why_size)
{
	unsigned char *bytes = NULL, *text = NULL;
	size_t n = result ? strnlen(result, OFFERS_RESULT_MAX + 1) : 0;
	size_t clen = 0;
	long got;
	int rc = -1;

	if (nonce_bytes != 8 && nonce_bytes != 12)
		return offers__fail(why, why_size,
				    "nonce of %d bytes (8 or 12)", nonce_bytes);
	if (!result || n > OFFERS_RESULT_MAX)
		return offers__fail(why, why_size,
				    "result is missing or over %d characters",
				    OFFERS_RESULT_MAX);
	got = decode_text(result, n, &bytes);
	if (got < 0) {
		offers__fail(why, why_size, "result is neither hex nor base64");
		goto out;
	}
	if (got < nonce_bytes) {
		offers__fail(why, why_size,
			     "result shorter than its nonce (%ld < %d bytes)",
			     got, nonce_bytes);
		goto out;
	}
	clen = (size_t)got - (size_t)nonce_bytes;
	text = util_xmalloc(clen + CTR_BLOCK);
	if (ctr(key, bytes, nonce_bytes, bytes + nonce_bytes, clen, text)) {
		offers__fail(why, why_size, "AES-256-CTR failed");
		goto out;
	}
	if (util_buf_append(plain, text, clen)) {
		offers__fail(why, why_size, "offer larger than its buffer allows");
		goto out;
	}
	rc = 0;
out:
	if (text)
		OPENSSL_cleanse(text, clen);
	free(text);
	free(bytes);
	return rc;
}
