/* partner/partner_int.h (private to partner): helpers shared by its files. */
#ifndef GRANTD_PARTNER_INT_H
#define GRANTD_PARTNER_INT_H

#include "partner/partner.h"

/* The {account_id} path parameter if it is a valid account id (borrowed);
 * otherwise replies 400 and returns NULL. */
const char *partner_account_param(struct http_request *req);
/* Replies 404 AccountNotFound. */
void partner_reply_no_account(struct http_request *req, const char *id);
/* Replies 503 for a store failure (or shutdown). */
void partner_reply_store_error(struct http_request *req, int rc);
/* A new JSON object describing the account. */
json_t *partner_account_json(const struct store_account *a);

#endif
