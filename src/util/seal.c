/* util/seal.c: authenticated encryption of small secrets at rest
 * (AES-256-GCM through OpenSSL): version byte, 12-byte nonce, ciphertext,
 * 16-byte tag. */
#include "util/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_VERSION 1
#define SEAL_NONCE 12
#define SEAL_TAG 16

/* Runs one GCM pass (enc: 1 to seal, 0 to open) over `in` into `out`.
 * Returns 0, or -1 if OpenSSL fails or (opening) the tag does not match. */
static int gcm(int enc, const unsigned char key[UTIL_SEAL_KEY_LEN],
	       const unsigned char *nonce, const void *aad, size_t aad_len,
	       const unsigned char *in, size_t len, unsigned char *out,
	       unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, rc = -1;

	if (!ctx || len > INT32_MAX || aad_len > INT32_MAX)
		goto out;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
					tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG,
				       tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int util_seal(const unsigned char key[UTIL_SEAL_KEY_LEN], const void *aad,
	      size_t aad_len, const void *in, size_t len, struct util_buf *out)
{
	size_t total = 1 + SEAL_NONCE + len + SEAL_TAG;
	unsigned char *p = util_xmalloc(total);
	int rc = -1;

	p[0] = SEAL_VERSION;
	if (util_random_bytes(p + 1, SEAL_NONCE))
		goto out;
	if (gcm(1, key, p + 1, aad, aad_len, in, len, p + 1 + SEAL_NONCE,
		p + 1 + SEAL_NONCE + len))
		goto out;
	rc = util_buf_append(out, p, total);
out:
	free(p);
	return rc;
}

int util_unseal(const unsigned char key[UTIL_SEAL_KEY_LEN], const void *aad,
		size_t aad_len, const void *in, size_t len, struct util_buf *out)
{
	const unsigned char *p = in;
	unsigned char tag[SEAL_TAG], *plain;
	size_t n;
	int rc = -1;

	if (len < 1 + SEAL_NONCE + SEAL_TAG || p[0] != SEAL_VERSION)
		return -1;
	n = len - 1 - SEAL_NONCE - SEAL_TAG;
	memcpy(tag, p + 1 + SEAL_NONCE + n, SEAL_TAG);
	plain = util_xmalloc(n + 1);
	if (gcm(0, key, p + 1, aad, aad_len, p + 1 + SEAL_NONCE, n, plain,
		tag) == 0)
		rc = util_buf_append(out, plain, n);
	OPENSSL_cleanse(plain, n);
	free(plain);
	return rc;
}
