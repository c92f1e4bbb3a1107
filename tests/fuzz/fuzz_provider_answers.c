/* fuzz_provider_answers: what providers answer grantd — each pull
 * plugin's reading of its entitlement listing, chosen by the first byte —
 * against a catalog that maps some of the ids. */
#include <stdint.h>
#include <string.h>

#include "sources/pull_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char catalog_json[] =
	"{\"items\":[{\"catalogId\":\"gold\",\"kind\":\"stackable\"}],"
	"\"bundles\":[],\"entitlements\":[{\"id\":\"e\",\"providerDetails\":["
	"{\"twitchDrop\":{\"rewardId\":\"r\"}},"
	"{\"epicEntitlement\":{\"audienceItemId\":\"a\",\"offerType\":\"CONSUMABLE\"}},"
	"{\"steamEntitlement\":{\"inventoryItem\":{\"itemDefId\":10}}},"
	"{\"primeGaming\":{\"sku\":\"s\"}}],"
	"\"stackable\":{\"catalogId\":\"gold\",\"amount\":1}}]}";

static struct catalog_holder *holder(void)
{
	static struct catalog_holder *h;
	struct util_strlist problems;
	struct catalog *c = NULL;

	if (h)
		return h;
	util_strlist_init(&problems);
	UTIL_ASSERT(catalog_parse(catalog_json, sizeof(catalog_json) - 1, &c,
				  &problems) == 0);
	util_strlist_release(&problems);
	h = catalog_holder_new(c);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n, k = 0;
	const struct source *const *all = sources_all(&n);
	const struct source *pullable[8];
	struct pull_provider p;
	struct pull_fetch f;

	for (size_t i = 0; i < n && k < 8; i++)
		if (all[i]->pull && all[i]->pull->parse_listing)
			pullable[k++] = all[i];
	if (size < 1 || k == 0)
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&f, 0, sizeof(f));
	p.source = pullable[data[0] % k];
	p.catalog = holder();
	p.settings = (struct pull_settings){ .client_id = "c", .app_id = "480",
					     .sandbox_id = "s" };
	p.source->pull->parse_listing(&p, (const char *)data + 1, size - 1, &f);
	for (size_t i = 0; i < f.n; i++) {
		UTIL_ASSERT(f.items[i].entitlement_id && f.items[i].item_id);
		UTIL_ASSERT(f.items[i].quantity >= 1 &&
			    f.items[i].quantity <= ENGINE_QUANTITY_MAX);
	}
	UTIL_ASSERT(f.status == PULL_OK || f.message[0]);
	pull_fetch_release(&f);
	return 0;
}
