/* sources/twitch.c: Twitch Drops — players are linked by their Twitch user
 * id, and drops map through the catalog's twitchDrop.rewardId. */
#include "sources/sources.h"

static const enum catalog_provider namespaces[] = { CATALOG_TWITCH_DROP };

const struct source source_twitch = {
	.id = "twitch",
	.name = "Twitch Drops",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
};
