/* partner/operator_account.c: GET /v1/operator/accounts/{account_id}, the
 * account, its links and its inventory in one reply for support staff. */
#include "partner/partner_int.h"

void partner_operator_account_get(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	const char *id = partner_account_param(req);
	json_t *links = NULL, *inv = NULL;
	struct store_account a;

	if (!id || !partner_account_found(req, st, id, &a))
		return;
	/* read only: live broadcasts are granted when the game asks, not
	 * when an operator looks */
	if (partner_links_json(st, id, &links) ||
	    partner_inventory_json(st, id, &inv)) {
		json_decref(links);
		partner_reply_store_error(req, STORE_ERR);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o, s:o, s:o}", "account",
					    partner_account_json(&a), "links",
					    links, "inventory", inv));
}
