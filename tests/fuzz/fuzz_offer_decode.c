/* fuzz_offer_decode: TentuPlay verify results and the offers they decrypt
 * to — arbitrary result strings, and arbitrary plaintexts sent round trip
 * through AES-256-CTR (hex and base64) before they are checked. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "offers/offers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[OFFERS_KEY_LEN] =
	"0123456789abcdefTENTUPLAYkey4567";

/* Checks `plain` for player-1; a valid offer must say so itself. */
static void validate(const char *plain, size_t len, int offset)
{
	json_t *offer = NULL;
	char why[128];

	why[0] = '\0';
	if (offers_validate(plain, len, "player-1", 1767225600000LL, offset,
			    &offer, why, sizeof(why))) {
		UTIL_ASSERT(offer == NULL && why[0] != '\0');
		return;
	}
	UTIL_ASSERT(json_is_object(offer));
	UTIL_ASSERT(strcmp(json_string_value(json_object_get(offer,
			   "player_uuid")), "player-1") == 0);
	UTIL_ASSERT(json_is_true(json_object_get(offer, "is_opened")));
	json_decref(offer);
}

/* Encrypts `plain` under a fixed nonce as TentuPlay would (the nonce then
 * the ciphertext), as hex or base64, and decrypts it back unchanged. */
static void round_trip(const uint8_t *plain, size_t len, int nonce_bytes,
		       bool base64)
{
	unsigned char iv[16] = { 0x5a, 0xa5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	unsigned char *raw = util_xmalloc((size_t)nonce_bytes + len + 16);
	char *text = util_xmalloc(2 * ((size_t)nonce_bytes + len) + 8);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	struct util_buf out;
	int n;

	memset(iv + nonce_bytes, 0, sizeof(iv) - (size_t)nonce_bytes);
	memcpy(raw, iv, (size_t)nonce_bytes);
	UTIL_ASSERT(ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL,
					      key, iv) == 1);
	UTIL_ASSERT(EVP_EncryptUpdate(ctx, raw + nonce_bytes, &n, plain,
				      (int)len) == 1 && (size_t)n == len);
	EVP_CIPHER_CTX_free(ctx);
	if (base64)
		EVP_EncodeBlock((unsigned char *)text, raw,
				(int)((size_t)nonce_bytes + len));
	else
		util_hex_encode(raw, (size_t)nonce_bytes + len, text);
	util_buf_init(&out, 0);
	UTIL_ASSERT(offers_decrypt(text, key, nonce_bytes, &out, NULL, 0) == 0);
	UTIL_ASSERT(out.len == len && (len == 0 || memcmp(out.data, plain,
							   len) == 0));
	util_buf_release(&out);
	free(text);
	free(raw);
}

/* An arbitrary result string: decrypted, then checked if it decrypts. */
static void result_string(const char *s, int nonce_bytes, int offset)
{
	struct util_buf plain;
	char why[128];
	int64_t ms;
	int m;

	util_buf_init(&plain, 1 << 16);
	why[0] = '\0';
	if (offers_decrypt(s, key, nonce_bytes, &plain, why, sizeof(why)) == 0)
		validate(plain.data ? plain.data : "", plain.len, offset);
	else
		UTIL_ASSERT(why[0] != '\0' && plain.len == 0);
	util_buf_release(&plain);
	if (offers_zone_parse(s, &m, NULL, 0) == 0)
		UTIL_ASSERT(m >= -OFFERS_ZONE_MINUTES_MAX &&
			    m <= OFFERS_ZONE_MINUTES_MAX);
	(void)offers_local_time_parse(s, offset, &ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int nonce_bytes, offset;
	char *s;

	if (size < 2 || size > 1 << 16)
		return 0;
	nonce_bytes = data[0] & 1 ? 12 : 8;
	offset = ((int)data[1] - 128) * 15 % (OFFERS_ZONE_MINUTES_MAX + 1);
	if (data[0] & 2) {
		validate((const char *)data + 2, size - 2, offset);
		round_trip(data + 2, size - 2, nonce_bytes, (data[0] & 4) != 0);
		return 0;
	}
	s = util_xstrndup((const char *)data + 2, size - 2);
	result_string(s, nonce_bytes, offset);
	free(s);
	return 0;
}
