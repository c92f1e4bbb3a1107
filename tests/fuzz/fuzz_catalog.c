/* tests/fuzz/fuzz_catalog.c: libFuzzer target for catalog_parse; when a
 * document is accepted it also checks every lookup against the snapshot. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The private header, to walk every mapped id of an accepted snapshot. */
#include "catalog/catalog_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every id in a valid snapshot must find its owner again, and every grant
 * must point at a real item of the right kind. */
static void check_snapshot(const struct catalog *c)
{
	for (int p = 0; p < CATALOG_PROVIDER_COUNT; p++) {
		const struct catalog_index *ix = &c->providers[p];

		UTIL_ASSERT(catalog_provider_id_count(c, p) == ix->len);
		for (size_t i = 0; i < ix->len; i++)
			UTIL_ASSERT(catalog_lookup(c, p, ix->keys[i].key) ==
				    &c->entries[ix->keys[i].pos].pub);
	}
	for (size_t i = 0; i < catalog_entitlement_count(c); i++) {
		const struct catalog_entitlement *e = &c->entries[i].pub;

		UTIL_ASSERT(catalog_entitlement_by_id(c, e->id) == e);
		UTIL_ASSERT(e->n_grants > 0);
		for (size_t g = 0; g < e->n_grants; g++) {
			const struct catalog_item *it = e->grants[g].item;

			UTIL_ASSERT(catalog_item_by_id(c, it->catalog_id) == it);
			UTIL_ASSERT(e->grants[g].amount >= 1 &&
				    e->grants[g].amount <= CATALOG_AMOUNT_MAX);
			UTIL_ASSERT(it->kind == CATALOG_STACKABLE ||
				    e->grants[g].amount == 1);
		}
	}
	for (size_t i = 0; i < catalog_item_count(c); i++)
		UTIL_ASSERT(catalog_item_by_id(c, c->items[i].catalog_id) ==
			    &c->items[i]);
	UTIL_ASSERT(catalog_lookup(c, CATALOG_PROVIDER_COUNT, "x") == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct util_strlist problems;
	struct catalog *c = NULL;
	int rc;

	util_strlist_init(&problems);
	rc = catalog_parse((const char *)data, size, &c, &problems);
	UTIL_ASSERT(rc == 0 ? c != NULL && problems.len == 0
			    : c == NULL && problems.len > 0);
	for (size_t i = 0; i < problems.len; i++)
		UTIL_ASSERT(strchr(problems.items[i], ':') != NULL);
	if (c)
		check_snapshot(c);
	catalog_unref(c);
	util_strlist_release(&problems);
	return 0;
}
