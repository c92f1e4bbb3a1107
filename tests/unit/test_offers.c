/* Unit tests of the TentuPlay offer decoder (offers): AES-256-CTR results
 * in both nonce layouts, hex and base64, PyCryptodome's own output, and
 * every reason an offer is refused. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "offers/offers.h"

static const char key_text[] = "0123456789abcdefTENTUPLAYkey4567";
static const unsigned char *key = (const unsigned char *)key_text;
static const unsigned char other_key[OFFERS_KEY_LEN] = { 7 };

#define PERSONAL(player, opened, expire)                                     \
	"{\"player_uuid\":\"" player "\",\"offer\":{\"price\":99.99,"        \
	"\"message\":{\"en\":{\"url\":\"https://example.com/o\","            \
	"\"image\":\"https://example.com/i.png\",\"title\":\"Gold\"}},"      \
	"\"product_id\":\"gold_100\",\"product_name\":\"Gold x100\","        \
	"\"discount_rate\":10,\"discount_price\":89.99,"                    \
	"\"message_layout\":\"h\"},\"is_opened\":" opened ","                \
	"\"expire_at\":" expire "}"

#define AI(player, opened, expire)                                           \
	"{\"player_uuid\":\"" player "\",\"offer\":{\"offer_type\":\"ai\","  \
	"\"recommendations\":[{\"store\":\"google\",\"product_list\":[{"     \
	"\"purchasable_slug\":\"diamond_500\",\"product_index\":\"\","       \
	"\"purchase_link\":\"\",\"start_datetime\":\"2026-01-01 00:00:00\"," \
	"\"end_datetime\":\"2026-12-31 00:00:00\"}]}],"                      \
	"\"display_parameters\":{\"en\":{\"title\":\"\",\"message\":\"\","   \
	"\"background_url\":\"https://\",\"toggle_message\":\"no\"}},"       \
	"\"message_parameters\":{\"p\":{\"entity\":\"item\",\"slug\":\"\"}}" \
	"},\"is_opened\":" opened ",\"expire_at\":" expire "}"

static const char vector_plain[] =
	PERSONAL("player-1", "true", "\"2030-01-01 00:00:00\"");

/* Made by Debian's python3-pycryptodome 3.11.0 as TentuPlay's sample
 * decrypts it: AES.new(key, AES.MODE_CTR, nonce=a0..a7 (8 bytes) or a0..ab
 * (12 bytes)).encrypt(vector_plain), hex of nonce + ciphertext. */
static const char vector_8[] =
	"a0a1a2a3a4a5a6a7434013e4105425ad4eeffc78b1ce2b07bb1e9edfce0ac10a13d2"
	"1396c2d217699a54bd98d7fbd157db3030293e3665d64dd7ad194e1518be3c374bce"
	"06eda1915f803708e589c369a1ca3b056226321232a9baf0c2bd45b40cb2657f5a92"
	"e5a9863e337258a0371ecd6eba4effa8387a3555132499b9a3538e28635f803936e7"
	"379b9d214b3f8919afdd1defb31657a48ce5b4811721a2a1c93115a90820976ded80"
	"8e1f1689d94cd56add323136d5838cd80699d361aa82e41800560e2060d77214f58d"
	"5948f5d8b369d46688b5a0983c3f20ebdb28d4e21bb5dea1cbc4bd8a403ee4322015"
	"8a79e0c2e39dd31556521bb626412dd7e3a2786b924da913a8665f43109145cccc15"
	"ebff26bf681d490c0cd15f8f0275e987a056a4e27b3c3a35bd4d7ff6903f703ed5c7"
	"5ed023cdba97a3f9a5ea43f95c0e07c7db";
static const char vector_12[] =
	"a0a1a2a3a4a5a6a7a8a9aaabd47bce4f130a63b3cfb48bbc0f36dd3758b28537916e"
	"de4fed5b5f83d5f77b5770a37bf697763787dae0c9ad84aef6b19fad6075ce0d8772"
	"852a46791b7c104f85079500f88c6721ef9e1ec0e0bc3fb55a2ae21502899fc6d912"
	"04af96a22b797fd6bd985af277b9db26da363a2759a48f39c11e3fdd2eb154bb4844"
	"71a661c5812d21194cf2b8a8c1de0cce9ca0612c33acbe09c2a0a4b5a018e18aef90"
	"66df9fca246b5de7795ed8787e199561666a8c6cd15e88585816df80d4af6558bce3"
	"865cb2ab138b17eb19d22f5e7f3aac1b50334f9b83ed167e9879c29ec10f777c2f99"
	"90d1291136f6dd60e2df8d1f0a41cf0220d115a29960a2c6c365a4d43d12716a57cf"
	"98a39857acb33a05754552bbb463c2ef86d0a9e321b7dc378adf41c592436b4da389"
	"952cf286550188c0b005dd5f96095062a8bb8a5210";

static int64_t at(const char *rfc3339)
{
	int64_t ms;

	cr_assert_eq(util_rfc3339_parse(rfc3339, &ms), 0, "%s", rfc3339);
	return ms;
}

/* CTR built by hand from AES-256-ECB, independent of OpenSSL's CTR mode:
 * block i is the nonce followed by i as a big-endian counter filling the
 * rest of the 16 bytes (8 bytes after an 8-byte nonce, 4 after 12). */
static void ctr_by_hand(const unsigned char *k, const unsigned char *nonce,
			int nonce_len, const unsigned char *in, size_t len,
			unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char block[16], stream[32];
	int n;

	cr_assert(ctx);
	cr_assert_eq(EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), NULL, k, NULL), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	for (size_t i = 0; i * 16 < len; i++) {
		memcpy(block, nonce, (size_t)nonce_len);
		for (int b = 15; b >= nonce_len; b--)
			block[b] = (unsigned char)(i >> (8 * (15 - b)));
		cr_assert_eq(EVP_EncryptUpdate(ctx, stream, &n, block, 16), 1);
		for (size_t j = 0; j < 16 && i * 16 + j < len; j++)
			out[i * 16 + j] = in[i * 16 + j] ^ stream[j];
	}
	EVP_CIPHER_CTX_free(ctx);
}

/* A result as TentuPlay would send it: nonce + ciphertext, as hex or
 * standard base64 (owned string). */
static char *make_result(const unsigned char *k, int nonce_len,
			 const char *plain, size_t len, bool base64)
{
	unsigned char *raw = malloc((size_t)nonce_len + len + 1);
	char *text = malloc(2 * ((size_t)nonce_len + len) + 8);

	for (int i = 0; i < nonce_len; i++)
		raw[i] = (unsigned char)(0x30 + 7 * i);
	ctr_by_hand(k, raw, nonce_len, (const unsigned char *)plain, len,
		    raw + nonce_len);
	if (base64)
		EVP_EncodeBlock((unsigned char *)text, raw,
				(int)((size_t)nonce_len + len));
	else
		util_hex_encode(raw, (size_t)nonce_len + len, text);
	free(raw);
	return text;
}

/* Decrypts `result` into a fresh buffer; returns offers_decrypt's code. */
static int decrypt(const char *result, const unsigned char *k, int nonce_len,
		   struct util_buf *plain, char *why)
{
	util_buf_init(plain, 0);
	why[0] = '\0';
	return offers_decrypt(result, k, nonce_len, plain, why, 128);
}

/* Decrypts and validates for player-1 at `now`; returns the verdict and
 * leaves the reason in why. */
static int verify(const char *result, const unsigned char *k, int nonce_len,
		  const char *now, char *why)
{
	struct util_buf plain;
	json_t *offer = (json_t *)1;
	int rc = decrypt(result, k, nonce_len, &plain, why);

	if (rc == 0) {
		rc = offers_validate(plain.data ? plain.data : "", plain.len,
				     "player-1", at(now), 0, &offer, why, 128);
		cr_assert_eq(rc == 0, offer != NULL);
		json_decref(offer);
	}
	util_buf_release(&plain);
	return rc;
}

/* Validates `doc` for player-1 at `now` in a zone `offset` minutes east. */
static int check(const char *doc, const char *now, int offset, char *why)
{
	json_t *offer = (json_t *)1;
	int rc;

	why[0] = '\0';
	rc = offers_validate(doc, strlen(doc), "player-1", at(now), offset,
			     &offer, why, 128);
	cr_assert_eq(rc == 0, offer != NULL);
	json_decref(offer);
	return rc;
}

Test(offers, pycryptodome_vectors_decrypt_byte_for_byte)
{
	const char *vectors[] = { vector_8, vector_12 };
	const int nonces[] = { 8, 12 };
	struct util_buf plain;
	char why[128];

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(decrypt(vectors[i], key, nonces[i], &plain, why), 0,
			     "%s", why);
		cr_assert_eq(plain.len, strlen(vector_plain));
		cr_assert_eq(memcmp(plain.data, vector_plain, plain.len), 0);
		util_buf_release(&plain);
		cr_assert_eq(verify(vectors[i], key, nonces[i],
				    "2026-06-01T00:00:00Z", why), 0, "%s", why);
	}
}

Test(offers, both_nonce_layouts_round_trip_in_hex_and_base64_at_any_length)
{
	const int nonces[] = { 8, 12 };
	struct util_buf plain;
	char why[128];

	for (int i = 0; i < 2; i++) {
		for (size_t len = 0; len <= strlen(vector_plain); len += 7) {
			for (int b64 = 0; b64 < 2; b64++) {
				char *r = make_result(key, nonces[i], vector_plain,
						      len, b64);

				cr_assert_eq(decrypt(r, key, nonces[i], &plain, why),
					     0, "%s: %s", r, why);
				cr_assert_eq(plain.len, len);
				cr_assert(len == 0 ||
					  memcmp(plain.data, vector_plain, len) == 0,
					  "nonce %d, %zu bytes, base64 %d",
					  nonces[i], len, b64);
				util_buf_release(&plain);
				free(r);
			}
		}
	}
}

Test(offers, a_valid_result_in_base64_and_upper_case_hex_is_accepted)
{
	const char *plain = vector_plain;
	char *r = make_result(key, 8, plain, strlen(plain), true);
	char *upper = util_xstrdup(vector_8);
	char why[128];

	cr_assert_eq(verify(r, key, 8, "2026-06-01T00:00:00Z", why), 0, "%s", why);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	cr_assert_eq(verify(upper, key, 8, "2026-06-01T00:00:00Z", why), 0,
		     "%s", why);
	free(upper);
	free(r);
}

Test(offers, tampered_ciphertext_wrong_key_and_wrong_nonce_length_are_garbage)
{
	char *r = util_xstrdup(vector_8);
	char why[128];

	r[16] = r[16] == '0' ? '1' : '0';  /* first ciphertext byte: '{' */
	cr_assert_neq(verify(r, key, 8, "2026-06-01T00:00:00Z", why), 0);
	cr_assert(strstr(why, "not a JSON object"), "%s", why);
	cr_assert_neq(verify(vector_8, other_key, 8, "2026-06-01T00:00:00Z",
			     why), 0);
	cr_assert(strstr(why, "not a JSON object"), "%s", why);
	cr_assert_neq(verify(vector_12, key, 8, "2026-06-01T00:00:00Z", why), 0);
	cr_assert(strstr(why, "not a JSON object"), "%s", why);
	cr_assert_neq(verify(vector_8, key, 12, "2026-06-01T00:00:00Z", why), 0);
	cr_assert(strstr(why, "not a JSON object"), "%s", why);
	free(r);
}

/* CTR has no tag: whoever knows the plaintext can flip its bytes. The
 * player's id is still checked, but integrity comes from TLS to TentuPlay. */
Test(offers, ctr_is_malleable_so_a_flipped_player_is_caught_by_the_player_check)
{
	char *r = util_xstrdup(vector_8);
	size_t at_byte = 8 + strlen("{\"player_uuid\":\"player-");
	char hex[3] = { r[2 * at_byte], r[2 * at_byte + 1], 0 };
	unsigned long v = strtoul(hex, NULL, 16) ^ ('1' ^ '2');
	char why[128];

	snprintf(hex, sizeof(hex), "%02lx", v);
	memcpy(r + 2 * at_byte, hex, 2);
	cr_assert_neq(verify(r, key, 8, "2026-06-01T00:00:00Z", why), 0);
	cr_assert_str_eq(why, "offer is for another player");
	free(r);
}

Test(offers, short_and_malformed_results_are_refused_with_a_reason)
{
	struct util_buf plain;
	char why[128];
	char *twelve = make_result(key, 12, "", 0, false);

	cr_assert_neq(decrypt("", key, 8, &plain, why), 0);
	cr_assert(strstr(why, "shorter than its nonce"), "%s", why);
	cr_assert_neq(decrypt("a0a1a2a3", key, 8, &plain, why), 0);
	cr_assert(strstr(why, "shorter than its nonce"), "%s", why);
	cr_assert_neq(decrypt("a0a1a2a3a4a5a6a7a8a9", key, 12, &plain, why), 0);
	cr_assert(strstr(why, "shorter than its nonce"), "%s", why);
	cr_assert_eq(decrypt(twelve, key, 12, &plain, why), 0, "%s", why);
	cr_assert_eq(plain.len, 0);
	util_buf_release(&plain);
	cr_assert_neq(decrypt("zz!!", key, 8, &plain, why), 0);
	cr_assert_str_eq(why, "result is neither hex nor base64");
	cr_assert_neq(decrypt("abc", key, 8, &plain, why), 0);
	cr_assert_str_eq(why, "result is neither hex nor base64");
	cr_assert_neq(decrypt(" a0a1a2a3a4a5a6a7ff", key, 8, &plain, why), 0);
	cr_assert_neq(decrypt(NULL, key, 8, &plain, why), 0);
	cr_assert_neq(decrypt(vector_8, key, 16, &plain, why), 0);
	cr_assert(strstr(why, "nonce of 16 bytes"), "%s", why);
	cr_assert_eq(plain.len, 0);
	util_buf_release(&plain);
	free(twelve);
}

Test(offers, a_plaintext_over_the_buffer_cap_leaves_the_buffer_unchanged)
{
	struct util_buf plain;
	char why[128];

	util_buf_init(&plain, 64);
	cr_assert_neq(offers_decrypt(vector_8, key, 8, &plain, why, sizeof(why)),
		      0);
	cr_assert_eq(plain.len, 0);
	cr_assert(strstr(why, "larger than"), "%s", why);
	util_buf_release(&plain);
	/* A reason is optional. */
	util_buf_init(&plain, 0);
	cr_assert_neq(offers_decrypt("q", key, 8, &plain, NULL, 0), 0);
	util_buf_release(&plain);
}

Test(offers, expire_at_is_checked_in_the_configured_zone)
{
	const char *doc = PERSONAL("player-1", "true", "\"2030-01-01 09:00:00\"");
	char why[128];

	cr_assert_eq(check(doc, "2030-01-01T08:59:59Z", 0, why), 0, "%s", why);
	cr_assert_neq(check(doc, "2030-01-01T09:00:00Z", 0, why), 0);
	cr_assert_str_eq(why, "offer expired at 2030-01-01 09:00:00");
	/* In +09:00 (Seoul), 09:00 local is midnight UTC. */
	cr_assert_eq(check(doc, "2029-12-31T23:59:59Z", 540, why), 0, "%s", why);
	cr_assert_neq(check(doc, "2030-01-01T00:00:00Z", 540, why), 0);
	cr_assert_neq(check(doc, "2031-01-01T00:00:00Z", -300, why), 0);
}

Test(offers, null_expire_at_means_no_limit_and_missing_or_bad_ones_are_refused)
{
	char why[128];

	cr_assert_eq(check(PERSONAL("player-1", "true", "null"),
			   "2999-01-01T00:00:00Z", 0, why), 0, "%s", why);
	cr_assert_neq(check("{\"player_uuid\":\"player-1\",\"is_opened\":true,"
			    "\"offer\":{\"product_id\":\"p\"}}",
			    "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_str_eq(why, "expire_at is missing");
	const char *bad[] = {
		PERSONAL("player-1", "true", "\"2030-01-01T00:00:00\""),
		PERSONAL("player-1", "true", "\"2030-02-30 00:00:00\""),
		PERSONAL("player-1", "true", "\"2030-01-01 24:00:00\""),
		PERSONAL("player-1", "true", "\"2030-01-01 00:00:00Z\""),
		PERSONAL("player-1", "true", "\"2030-1-01 00:00:00 \""),
		PERSONAL("player-1", "true", "1893456000"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_neq(check(bad[i], "2026-01-01T00:00:00Z", 0, why), 0,
			      "%s", bad[i]);
		cr_assert(strstr(why, "expire_at is not"), "%s", why);
	}
}

Test(offers, another_player_or_an_unopened_offer_is_refused)
{
	char why[128];

	cr_assert_neq(check(PERSONAL("player-2", "true", "null"),
			    "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_str_eq(why, "offer is for another player");
	cr_assert_neq(check(PERSONAL("player-1", "false", "null"),
			    "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_str_eq(why, "offer is not opened");
	cr_assert_neq(check(PERSONAL("player-1", "\"true\"", "null"),
			    "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_str_eq(why, "offer is not opened");
	cr_assert_neq(check(PERSONAL("player-1", "1", "null"),
			    "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_neq(check("{\"player_uuid\":7}", "2026-01-01T00:00:00Z", 0,
			    why), 0);
	cr_assert_str_eq(why, "player_uuid is not a string");
}

Test(offers, both_offer_shapes_are_accepted_and_the_document_is_returned)
{
	const char *doc = AI("player-1", "true", "\"2030-01-01 00:00:00\"");
	json_t *offer = NULL;
	char why[128];

	cr_assert_eq(offers_validate(doc, strlen(doc), "player-1",
				     at("2026-01-01T00:00:00Z"), 0, &offer, why,
				     sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(
		json_object_get(offer, "offer"), "offer_type")), "ai");
	cr_assert_str_eq(json_string_value(json_object_get(offer, "player_uuid")),
			 "player-1");
	json_decref(offer);
	cr_assert_eq(check(vector_plain, "2026-01-01T00:00:00Z", 0, why), 0,
		     "%s", why);
}

Test(offers, offers_of_neither_shape_are_refused)
{
	const char *bad[][2] = {
		{ "{\"player_uuid\":\"player-1\",\"is_opened\":true,"
		  "\"expire_at\":null}", "offer is not an object" },
		{ "{\"player_uuid\":\"player-1\",\"is_opened\":true,"
		  "\"expire_at\":null,\"offer\":[]}", "offer is not an object" },
		{ "{\"player_uuid\":\"player-1\",\"is_opened\":true,"
		  "\"expire_at\":null,\"offer\":{\"price\":1}}",
		  "personalised offer without product_id" },
		{ "{\"player_uuid\":\"player-1\",\"is_opened\":true,"
		  "\"expire_at\":null,\"offer\":{\"offer_type\":\"vip\"}}",
		  "unknown offer_type" },
		{ "{\"player_uuid\":\"player-1\",\"is_opened\":true,"
		  "\"expire_at\":null,\"offer\":{\"offer_type\":\"ai\"}}",
		  "AI offer without recommendations" },
	};
	char why[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_neq(check(bad[i][0], "2026-01-01T00:00:00Z", 0, why), 0);
		cr_assert_str_eq(why, bad[i][1]);
	}
}

Test(offers, ambiguous_or_non_json_documents_and_no_account_are_refused)
{
	const char *doc = PERSONAL("player-1", "true", "null");
	json_t *offer = (json_t *)1;
	char why[128];

	cr_assert_neq(check("{\"player_uuid\":\"player-1\",\"player_uuid\":"
			    "\"player-2\"}", "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert(strstr(why, "not a JSON object"), "%s", why);
	cr_assert_neq(check("[1]", "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_neq(check("{} x", "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_neq(check("", "2026-01-01T00:00:00Z", 0, why), 0);
	cr_assert_neq(offers_validate("{\"a\":\"\\u0000\"}", 14, "player-1", 0, 0,
				      &offer, why, sizeof(why)), 0);
	cr_assert_null(offer);
	cr_assert_neq(offers_validate(doc, strlen(doc), "", 0, 0, &offer, why,
				      sizeof(why)), 0);
	cr_assert_null(offer);
	cr_assert_neq(offers_validate(doc, strlen(doc), NULL, 0, 0, &offer, NULL,
				      0), 0);
}

Test(offers, zones_are_utc_or_fixed_offsets)
{
	const struct { const char *zone; int minutes; } good[] = {
		{ NULL, 0 }, { "", 0 }, { "UTC", 0 }, { "Z", 0 },
		{ "+09:00", 540 }, { "+0900", 540 }, { "+09", 540 },
		{ "-05:30", -330 }, { "+14:00", 840 }, { "-00:00", 0 },
	};
	const char *bad[] = { "Asia/Seoul", "KST", "+9", "+09:0", "+15:00",
			      "+09:60", "09:00", "+09:00 ", "+0a:00", "utc" };
	char why[128];
	int m;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(offers_zone_parse(good[i].zone, &m, why, sizeof(why)),
			     0, "%s", good[i].zone);
		cr_assert_eq(m, good[i].minutes, "%s", good[i].zone);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_neq(offers_zone_parse(bad[i], &m, why, sizeof(why)), 0,
			      "%s", bad[i]);
		cr_assert(strstr(why, "+09:00"), "%s", why);
	}
}

Test(offers, the_payload_key_is_exactly_32_bytes_of_text)
{
	unsigned char k[OFFERS_KEY_LEN];
	char why[128];

	cr_assert_eq(offers_key_from_text(key_text, k, why, sizeof(why)), 0);
	cr_assert_eq(memcmp(k, key_text, OFFERS_KEY_LEN), 0);
	cr_assert_neq(offers_key_from_text("short", k, why, sizeof(why)), 0);
	cr_assert_str_eq(why, "payload key is 5 bytes, AES-256 needs 32");
	cr_assert_neq(offers_key_from_text(NULL, k, why, sizeof(why)), 0);
	cr_assert_neq(offers_key_from_text("0123456789abcdefTENTUPLAYkey45678",
					   k, why, sizeof(why)), 0);
}

Test(offers, offer_ids_in_paths_are_positive_canonical_integers)
{
	const char *bad[] = { "", "0", "007", "-1", "+1", "1.5", "1e3", " 1",
			      "1 ", "abc", "1234567890123456789", NULL };
	json_int_t id = 0;
	char why[128];

	cr_assert_eq(offers_offer_id_parse("1", &id, why, sizeof(why)), 0);
	cr_assert_eq(id, 1);
	cr_assert_eq(offers_offer_id_parse("123456789012345678", &id, why,
					   sizeof(why)), 0);
	cr_assert_eq(id, 123456789012345678LL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_assert_neq(offers_offer_id_parse(bad[i], &id, why,
						    sizeof(why)), 0, "%s",
			      bad[i] ? bad[i] : "NULL");
		cr_assert(strstr(why, "offer_id: must be a positive integer"),
			  "%s", why);
	}
}

/* offers_parse_redeem_body's verdict on `body`: 0 with the SKU checked,
 * or -1 with msg containing `words`. */
static void redeem_body(const char *body, const char *sku, const char *words)
{
	char msg[256], *got = (char *)"untouched";
	int rc;

	msg[0] = '\0';
	rc = offers_parse_redeem_body(body, strlen(body), &got, msg,
				      sizeof(msg));
	if (sku) {
		cr_assert_eq(rc, 0, "%s: %s", body, msg);
		cr_assert_str_eq(got, sku);
		free(got);
		return;
	}
	cr_assert_eq(rc, -1, "%s", body);
	cr_assert_null(got);
	cr_assert(strstr(msg, words), "%s: %s", body, msg);
}

Test(offers, redeem_bodies_carry_one_valid_sku_and_nothing_else)
{
	char big[300 + 16];

	redeem_body("{\"sku\": \"diamond_500\"}", "diamond_500", NULL);
	redeem_body("{\"sku\": \"com.game:gold-100\"}", "com.game:gold-100",
		    NULL);
	redeem_body("", NULL, "invalid JSON");
	redeem_body("{\"sku\": \"a\", \"sku\": \"b\"}", NULL, "duplicate");
	redeem_body("[\"a\"]", NULL, "body: must be a JSON object");
	redeem_body("\"a\"", NULL, "body: must be a JSON object");
	redeem_body("{}", NULL, "sku: is required");
	redeem_body("{\"sku\": 5}", NULL, "sku: must be a string");
	redeem_body("{\"sku\": null}", NULL, "sku: must be a string");
	redeem_body("{\"sku\": \"\"}", NULL, "sku: must be 1 to 256 bytes");
	redeem_body("{\"sku\": \"a b\"}", NULL, "[A-Za-z0-9_:.-]");
	redeem_body("{\"sku\": \"caf\\u00e9\"}", NULL, "[A-Za-z0-9_:.-]");
	redeem_body("{\"sku\": \"a\\u0000b\"}", NULL, "NUL");
	redeem_body("{\"sku\": \"a\", \"offer_id\": 1}", NULL,
		    "body: unknown field \"offer_id\"");
	snprintf(big, sizeof(big), "{\"sku\": \"%0257d\"}", 0);
	redeem_body(big, NULL, "sku: must be 1 to 256 bytes");
	snprintf(big, sizeof(big), "{\"sku\": \"%0256d\"}", 0);
	cr_assert_eq(strlen(big), 256 + 11);
	{
		char *sku = NULL, msg[128];

		cr_assert_eq(offers_parse_redeem_body(big, strlen(big), &sku,
						      msg, sizeof(msg)), 0);
		cr_assert_eq(strlen(sku), 256);
		free(sku);
	}
}

/* The checked document of `plain`, for player-1, with no expiry. */
static json_t *checked(const char *plain)
{
	json_t *doc = NULL;
	char why[128];

	cr_assert_eq(offers_validate(plain, strlen(plain), "player-1",
				     1767225600000LL, 0, &doc, why,
				     sizeof(why)), 0, "%s", why);
	return doc;
}

Test(offers, the_sku_must_be_the_offers_product_or_one_of_its_slugs)
{
	json_t *personal = checked(PERSONAL("player-1", "true", "null"));
	json_t *ai = checked(AI("player-1", "true", "null"));

	cr_assert(offers_offer_has_sku(personal, "gold_100"));
	cr_assert_not(offers_offer_has_sku(personal, "gold_1000"));
	cr_assert_not(offers_offer_has_sku(personal, "GOLD_100"));
	cr_assert_not(offers_offer_has_sku(personal, "diamond_500"));
	cr_assert(offers_offer_has_sku(ai, "diamond_500"));
	cr_assert_not(offers_offer_has_sku(ai, "gold_100"));
	cr_assert_not(offers_offer_has_sku(ai, ""));
	json_decref(personal);
	json_decref(ai);
}

Test(offers, odd_ai_offers_are_searched_without_trusting_their_shape)
{
	json_t *doc = checked(
		"{\"player_uuid\":\"player-1\",\"is_opened\":true,"
		"\"expire_at\":null,\"offer\":{\"offer_type\":\"ai\","
		"\"product_id\":\"not_in_an_ai_offer\","
		"\"recommendations\":[5,{\"product_list\":7},"
		"{\"product_list\":[null,{\"purchasable_slug\":3},"
		"{\"purchasable_slug\":\"s1\"}]},"
		"{\"store\":\"apple\",\"product_list\":[{\"purchasable_slug\":"
		"\"s2\"}]}]}}");

	cr_assert(offers_offer_has_sku(doc, "s1"));
	cr_assert(offers_offer_has_sku(doc, "s2"));
	cr_assert_not(offers_offer_has_sku(doc, "not_in_an_ai_offer"));
	cr_assert_not(offers_offer_has_sku(doc, "3"));
	json_decref(doc);
}
