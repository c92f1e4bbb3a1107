/* sources/steam.c: Steam — players are linked by their SteamID64; inventory
 * items map through steamEntitlement.inventoryItem.itemDefId and DLC
 * through steamEntitlement.app.appId. */
#include "sources/pull_int.h"

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

static const char *const required[] = { "publisher_key", "app_id", NULL };

static void steam_fetch(struct pull_provider *p, struct pull_link *link,
		       struct pull_fetch *out)
{
	(void)p;
	(void)link;
	pull_fetch_fail(out, PULL_UNAVAILABLE, "steam: pulling is not built yet");
}

static enum outbox_verdict steam_report(struct pull_provider *p,
				       struct pull_link *link,
				       const char *payload,
				       const char *fulfillment_id, char *err,
				       size_t size)
{
	(void)p;
	(void)link;
	(void)payload;
	(void)fulfillment_id;
	snprintf(err, size, "steam: reporting is not built yet");
	return OUTBOX_RETRY;
}

const struct source_pull pull_steam = {
	.fetch = steam_fetch,
	.report = steam_report,
};

const struct source source_steam = {
	.id = "steam",
	.name = "Steam",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
	.pull = &pull_steam,
	.required = required,
	.check_external_id = check_steam_id,
};
