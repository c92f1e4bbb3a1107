/* partner/partner_int.h (private to partner): helpers shared by its files. */
#ifndef GRANTD_PARTNER_INT_H
#define GRANTD_PARTNER_INT_H

#include "partner/partner.h"

/* Parses a body that must be a JSON object with no key but `key`. Returns
 * `key`'s value (borrowed from *root, a new reference the caller releases;
 * NULL when absent), or NULL with *root NULL and the problem in msg. */
json_t *partner_parse_object(const char *body, size_t len, const char *key,
			     json_t **root, char *msg, size_t msg_size);
/* A new JSON object: a fulfilment as the history routes show it. */
json_t *partner_record_json(const struct store_history_row *r);
/* A new JSON object describing the account. */
json_t *partner_account_json(const struct store_account *a);
/* Reads the account's links as a new JSON array (as GET …/links lists
 * them) into *out (owned). Returns 0, or -1 for a store failure. */
int partner_links_json(struct store *st, const char *id, json_t **out);
/* Reads the account's inventory as a new JSON object {"stackables": [...],
 * "instanced": [...]} into *out (owned). Returns 0, or -1 for a store
 * failure. */
int partner_inventory_json(struct store *st, const char *id, json_t **out);

#endif
