/* offers/request.c: what a redeem request brings — the offer id in its
 * path, the {"sku"} body — and whether a checked offer offers that SKU. */
#include "offers/offers.h"
#include "offers/offers_int.h"

#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "http/http.h"

int offers_offer_id_parse(const char *s, json_int_t *out, char *why,
			  size_t why_size)
{
	size_t n = s ? strlen(s) : 0;
	json_int_t v = 0;

	if (n == 0 || n > OFFERS_OFFER_ID_DIGITS || s[0] == '0')
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
bad:
	return offers__fail(why, why_size, "offer_id: must be a positive "
			    "integer (1 to %d digits, no leading zero)",
			    OFFERS_OFFER_ID_DIGITS);
}

/* Checks the members of a redeem body object: only "sku", a valid SKU.
 * Returns 0 or -1 with msg. */
static int check_redeem(json_t *root, char *msg, size_t msg_size)
{
	const char *k, *sku;
	json_t *v;

	json_object_foreach(root, k, v) {
		if (strcmp(k, "sku") != 0) {
			snprintf(msg, msg_size, "body: unknown field \"%.64s\"", k);
			return -1;
		}
	}
	v = json_object_get(root, "sku");
	if (!v) {
		snprintf(msg, msg_size, "sku: is required");
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(msg, msg_size, "sku: must be a string");
		return -1;
	}
	sku = json_string_value(v);
	if (!catalog_sku_valid(sku, json_string_length(v))) {
		snprintf(msg, msg_size, "sku: must be 1 to %d bytes of "
			 "[A-Za-z0-9_:.-]", CATALOG_PROVIDER_ITEM_ID_MAX);
		return -1;
	}
	return 0;
}

int offers_parse_redeem_body(const char *body, size_t len, char **sku,
			     char *msg, size_t msg_size)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES |
				  JSON_DECODE_ANY, &jerr);
	int rc = -1;

	*sku = NULL;
	if (!root) {
		http_json_error_format(&jerr, msg, msg_size);
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(msg, msg_size, "body: must be a JSON object");
		goto out;
	}
	if (check_redeem(root, msg, msg_size))
		goto out;
	*sku = util_xstrdup(json_string_value(json_object_get(root, "sku")));
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* True if some product_list[].purchasable_slug of an AI offer's
 * recommendations is `sku`. */
static bool ai_has_sku(const json_t *recommendations, const char *sku)
{
	const json_t *rec, *product;
	size_t i, j;

	json_array_foreach(recommendations, i, rec) {
		json_array_foreach(json_object_get(rec, "product_list"), j,
				   product) {
			const json_t *slug = json_object_get(product,
							     "purchasable_slug");

			if (json_is_string(slug) &&
			    strcmp(json_string_value(slug), sku) == 0)
				return true;
		}
	}
	return false;
}

bool offers_offer_has_sku(const json_t *doc, const char *sku)
{
	const json_t *offer = json_object_get(doc, "offer");
	const json_t *product_id = json_object_get(offer, "product_id");

	if (json_object_get(offer, "offer_type"))
		return ai_has_sku(json_object_get(offer, "recommendations"),
				  sku);
	return json_is_string(product_id) &&
	       strcmp(json_string_value(product_id), sku) == 0;
}
