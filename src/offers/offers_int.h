/* offers_int.h: helpers shared by the files of the offers module only —
 * the relay's state, and the verification call that the verify and the
 * redeem routes both make (relay.c). */
#ifndef GRANTD_OFFERS_INT_H
#define GRANTD_OFFERS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "offers/offers.h"

/* Formats a reason into why (skipped when why is NULL or why_size is 0).
 * Always returns -1, so a check can `return offers__fail(...)`. */
int offers__fail(char *why, size_t why_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct http_request;

struct offers_relay {
	struct outbound *outbound;
	struct store *store;
	struct engine *engine;
	bool enabled;
	bool grant_on_redeem;
	char *verify_url;
	char *key_header;            /* "x-api-key: <key>" */
	unsigned char key[OFFERS_KEY_LEN];
	int nonce_bytes;
	int zone_minutes;
	int64_t timeout_ms;
};

/* What TentuPlay's answer says of an offer, once decrypted and checked. */
struct offers__verdict {
	bool valid;
	const char *reason;          /* borrowed, for the call only */
	/* Valid: the whole decrypted document. Not valid: the decrypted
	 * document if it is a JSON object, else NULL. Borrowed: take a
	 * reference to keep it. */
	json_t *doc;
};

/* Called on the outbound loop with the verdict on the offer; it must
 * reply to req (now, or later from another thread). `arg` is the one
 * given to offers__verify. */
typedef void (*offers__verdict_fn)(struct http_request *req, void *arg,
				   const struct offers__verdict *v);

/* The {account_id} of req if it is valid and the account exists
 * (borrowed); otherwise replies 400/404/503 and returns NULL. */
const char *offers__account_of(struct http_request *req, struct store *st);

/* Replies 503 OffersNotConfigured and returns false if the relay is off. */
bool offers__enabled(struct http_request *req, const struct offers_relay *r);

/* Suspends req and asks TentuPlay to verify `offer_id` for `account_id`
 * (copied) on the outbound loop. TentuPlay unreachable, answering other
 * than 200 or `success: false` is replied to here (502
 * TentuPlayUnavailable, TentuPlayError, TentuPlayRefused), as is a
 * shutdown (503); otherwise `fn(req, arg, verdict)` runs and replies.
 * `arg` must outlive the call (e.g. state attached to req). */
void offers__verify(struct offers_relay *r, struct http_request *req,
		    const char *account_id, json_int_t offer_id,
		    offers__verdict_fn fn, void *arg);

#endif
