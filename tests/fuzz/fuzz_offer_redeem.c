/* fuzz_offer_redeem: what a redeem request and TentuPlay's offer bring —
 * arbitrary {offer_id} path segments, redeem bodies, and decrypted offer
 * documents searched for the body's SKU. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "offers/offers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parsed offer id is what its text says. */
static void offer_id(const char *s)
{
	json_int_t id = 0;
	char why[128];

	why[0] = '\0';
	if (offers_offer_id_parse(s, &id, why, sizeof(why))) {
		UTIL_ASSERT(why[0] != '\0');
		return;
	}
	UTIL_ASSERT(id > 0 && s[0] != '0' &&
		    strlen(s) <= OFFERS_OFFER_ID_DIGITS);
}

/* A body's SKU, if any, is valid; it is then looked for in the input
 * read as an offer document. */
static void body_and_offer(const char *text, size_t len)
{
	json_t *doc = NULL;
	char msg[256], *sku = NULL, why[128];

	msg[0] = '\0';
	if (offers_parse_redeem_body(text, len, &sku, msg, sizeof(msg))) {
		UTIL_ASSERT(sku == NULL && msg[0] != '\0');
		sku = util_xstrdup("diamond_500");
	} else {
		UTIL_ASSERT(catalog_sku_valid(sku, strlen(sku)));
	}
	if (offers_validate(text, len, "player-1", 1767225600000LL, 0, &doc,
			    why, sizeof(why)) == 0) {
		(void)offers_offer_has_sku(doc, sku);
		json_decref(doc);
	}
	/* any JSON at all is searched without trusting its shape */
	doc = json_loadb(text, len, 0, NULL);
	(void)offers_offer_has_sku(doc, sku);
	json_decref(doc);
	free(sku);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 1 << 16)
		return 0;
	s = util_xstrndup((const char *)data, size);
	offer_id(s);
	body_and_offer((const char *)data, size);
	free(s);
	return 0;
}
