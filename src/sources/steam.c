/* sources/steam.c: Steam — players are linked by their SteamID64; inventory
 * items map through steamEntitlement.inventoryItem.itemDefId and DLC
 * through steamEntitlement.app.appId. */
#include "sources/sources.h"

#include <stdio.h>
#include <string.h>

#define STEAM_ID_DIGITS 17

/* A SteamID64 of an individual account: 17 decimal digits. */
static int check_steam_id(const char *id, char *msg, size_t size)
{
	if (strlen(id) == STEAM_ID_DIGITS &&
	    strspn(id, "0123456789") == STEAM_ID_DIGITS)
		return 0;
	snprintf(msg, size, "must be a SteamID64: %d decimal digits",
		 STEAM_ID_DIGITS);
	return -1;
}

static const enum catalog_provider namespaces[] = {
	CATALOG_STEAM_ITEM, CATALOG_STEAM_APP,
};

const struct source source_steam = {
	.id = "steam",
	.name = "Steam",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
	.check_external_id = check_steam_id,
};
