/* offers: the TentuPlay offer verification relay — decrypting the `result`
 * of TentuPlay's verify answer and checking the offer it carries, the
 * route that asks TentuPlay on the game backend's behalf (relay.c), and
 * the route that redeems a verified offer once, through the engine
 * (redeem.c). */
#ifndef GRANTD_OFFERS_H
#define GRANTD_OFFERS_H

#include <jansson.h>
#include <stdbool.h>
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

/* ---- redeeming (request.c) --------------------------------------------- */

/* Longest offer id in a path, in digits (below 2^63 whatever they are). */
#define OFFERS_OFFER_ID_DIGITS 18

/* Reads the {offer_id} path segment `s` (borrowed): a positive decimal
 * integer, 1 to 18 digits without a leading zero. Returns 0, or -1 with a
 * reason in why. */
int offers_offer_id_parse(const char *s, json_int_t *out, char *why,
			  size_t why_size);

/* Parses a redeem body {"sku": "<1..256 bytes of [A-Za-z0-9_:.-]>"} and
 * nothing else. Returns 0 with *sku a new string (owned by the caller),
 * or -1 with the problem, naming the field, in msg (and *sku NULL). */
int offers_parse_redeem_body(const char *body, size_t len, char **sku,
			     char *msg, size_t msg_size);

/* True if the checked offer document `doc` (borrowed, as offers_validate
 * returns it) offers `sku`: a personalised offer's offer.product_id, or
 * some offer.recommendations[].product_list[].purchasable_slug of an AI
 * offer. Members of other types are skipped, never trusted. */
bool offers_offer_has_sku(const json_t *doc, const char *sku);

/* ---- the relay (relay.c) and the redeem route (redeem.c) ---------------- */

struct engine;
struct http_request;
struct outbound;
struct store;

/* tentuplay.* as the relay reads them (strings borrowed for the call to
 * offers_relay_new only). */
struct offers_relay_options {
	struct outbound *outbound;   /* borrowed; outlives the relay's requests */
	struct store *store;         /* borrowed */
	struct engine *engine;       /* borrowed; records redemptions */
	bool grant_on_redeem;        /* a redemption also grants its SKU */
	const char *verify_url;      /* "": the relay is off (503) */
	const char *api_key;
	const char *api_key_header;  /* "x-api-key" */
	const char *payload_key;     /* 32 bytes */
	int nonce_bytes;             /* 8 or 12 */
	const char *timezone;        /* as offers_zone_parse takes */
	int64_t timeout_ms;
};

struct offers_relay;

/* Builds the relay. Returns 0 and a new relay in *out, or -1 with a
 * message naming the bad key (never a key's value) in *err (owned by the
 * caller): with verify_url set, api_key and a 32-byte payload_key are
 * required. */
int offers_relay_new(const struct offers_relay_options *o,
		     struct offers_relay **out, char **err);
/* Frees the relay (after the HTTP server and the outbound loop have
 * stopped). Accepts NULL. */
void offers_relay_free(struct offers_relay *r);

/* POST /v1/accounts/{account_id}/offers/verify {"offer_id": n}; route
 * ctx: struct offers_relay. Suspends the request and answers from the
 * outbound loop once TentuPlay has. */
void offers_verify_handler(struct http_request *req);

/* POST /v1/accounts/{account_id}/offers/{offer_id}/redeem {"sku": "…"};
 * route ctx: struct offers_relay. Verifies the offer as the verify route
 * does; a valid offer that offers the SKU is recorded once (source
 * "tentuplay", external id "offer:<offer_id>:<account_id>") through the
 * engine, granting the SKU's catalog entry (tentuplay.sku) when
 * grant_on_redeem is set. Replies once the record is durable. */
void offers_redeem_handler(struct http_request *req);

#endif
