/* offers: the TentuPlay offer verification relay — decrypting the `result`
 * of TentuPlay's verify answer and checking the offer it carries (the
 * decoder only for now: no routes, no configuration keys). */
#ifndef GRANTD_OFFERS_H
#define GRANTD_OFFERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* The payload key is AES-256's: 32 bytes, the UTF-8 bytes of the key
 * TentuPlay issued (TentuPlay's sample code: payload_key.encode('utf-8')). */
#define OFFERS_KEY_LEN 32
/* Nonce layouts of AES-256-CTR: 8 bytes then an 8-byte big-endian block
 * counter from 0 (PyCryptodome's default for an 8-byte nonce, as in the
 * TentuPlay's sample decryption code), or 12 bytes then a 4-byte counter from 0. */
#define OFFERS_NONCE_DEFAULT 8
/* Longest `result` string accepted, in characters; an offer is a few KiB. */
#define OFFERS_RESULT_MAX (1024 * 1024)
/* Offset bounds of a zone, in minutes east of UTC (UTC-14:00..UTC+14:00). */
#define OFFERS_ZONE_MINUTES_MAX (14 * 60)

/* Copies the configured key `text` (its UTF-8 bytes) into key. Returns 0,
 * or -1 with a reason in why if it is not exactly 32 bytes long. */
int offers_key_from_text(const char *text, unsigned char key[OFFERS_KEY_LEN],
			 char *why, size_t why_size);

/* Decrypts `result` (borrowed, NUL-terminated): hex, or when it is not hex,
 * standard padded base64; the first `nonce_bytes` (8 or 12) bytes are the
 * nonce, the rest AES-256-CTR ciphertext under `key`. Appends the plain
 * bytes to `plain` (not NUL-checked, not UTF-8-checked). CTR carries no
 * tag: a wrong key or a changed byte yields garbage, caught by
 * offers_validate. Returns 0, or -1 with a reason in why (why may be NULL;
 * plain is then unchanged). */
int offers_decrypt(const char *result, const unsigned char key[OFFERS_KEY_LEN],
		   int nonce_bytes, struct util_buf *plain, char *why,
		   size_t why_size);

/* Reads a zone for expire_at as minutes east of UTC: "UTC", "Z", or a
 * fixed offset "+HH:MM", "-HH:MM", "+HHMM", "+HH" within ±14:00. Named
 * zones with daylight saving ("Asia/Seoul") are refused: give the offset.
 * Returns 0, or -1 with a reason in why. */
int offers_zone_parse(const char *zone, int *offset_minutes, char *why,
		      size_t why_size);

/* Reads "YYYY-MM-DD hh:mm:ss" (exactly; a local time `offset_minutes`
 * east of UTC) into milliseconds since the epoch. Returns 0 or -1. */
int offers_local_time_parse(const char *s, int offset_minutes, int64_t *out_ms);

/* Checks a decrypted offer (plain[0..len), borrowed) for `account_id`:
 * a JSON object whose player_uuid equals account_id, is_opened is true,
 * expire_at is null (no limit) or a local time in a zone `offset_minutes`
 * east of UTC later than now_ms, and whose offer is a personalised offer
 * (product_id a string, no offer_type) or an AI offer (offer_type "ai",
 * recommendations an array). Returns 0 with *offer set to the whole
 * decoded document (a new reference the caller decrefs), or -1 with
 * *offer NULL and a reason in why. */
int offers_validate(const char *plain, size_t len, const char *account_id,
		    int64_t now_ms, int offset_minutes, json_t **offer,
		    char *why, size_t why_size);

#endif
