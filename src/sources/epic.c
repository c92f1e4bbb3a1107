/* sources/epic.c: Epic Games Store — players are linked by their Epic
 * account id, and entitlements map through epicEntitlement.audienceItemId. */
#include "sources/sources.h"

static const enum catalog_provider namespaces[] = { CATALOG_EPIC };

const struct source source_epic = {
	.id = "epic",
	.name = "Epic Games Store",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
};
