/* partner/partner_int.h (private to partner): helpers shared by its files. */
#ifndef GRANTD_PARTNER_INT_H
#define GRANTD_PARTNER_INT_H

#include "partner/partner.h"

/* The {account_id} path parameter if it is a valid account id (borrowed);
 * otherwise replies 400 and returns NULL. */
const char *partner_account_param(struct http_request *req);
/* Replies 404 AccountNotFound. */
void partner_reply_no_account(struct http_request *req, const char *id);
/* Reads account `id` into *out. Returns true if it exists; otherwise
 * replies (404, or 503 for a store failure) and returns false. */
bool partner_account_found(struct http_request *req, struct store *st,
			   const char *id, struct store_account *out);
/* Parses a body that must be a JSON object with no key but `key`. Returns
 * `key`'s value (borrowed from *root, a new reference the caller releases;
 * NULL when absent), or NULL with *root NULL and the problem in msg. */
json_t *partner_parse_object(const char *body, size_t len, const char *key,
			     json_t **root, char *msg, size_t msg_size);
/* Replies 503 for a store failure (or shutdown). */
void partner_reply_store_error(struct http_request *req, int rc);
/* A new JSON object describing the account. */
json_t *partner_account_json(const struct store_account *a);

#endif
