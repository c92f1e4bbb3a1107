/* sources/sources.c: the list of every provider grantd knows, and lookups
 * in it. Adding a provider adds its source here. */
#include "sources/sources.h"

#include <stdio.h>
#include <string.h>

#include "store/store.h"

static const struct source *const all[] = {
	&source_primegaming,
	&source_twitch,
	&source_epic,
	&source_steam,
	&source_gamepot,
};

const struct source *const *sources_all(size_t *n)
{
	*n = UTIL_ARRAY_LEN(all);
	return all;
}

const struct source *sources_find(const char *id)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
		if (strcmp(all[i]->id, id) == 0)
			return all[i];
	return NULL;
}

size_t sources_route_count(void)
{
	size_t n = 0;

	for (size_t i = 0; i < UTIL_ARRAY_LEN(all); i++)
		n += all[i]->n_routes;
	return n;
}

int sources_check_external_id(const struct source *s, const char *id,
			      char *msg, size_t size)
{
	size_t n = strlen(id), at;

	if (n == 0 || n > STORE_EXTERNAL_ID_MAX ||
	    !util_is_printable_ascii(id, n)) {
		snprintf(msg, size, "external_id: must be 1 to %d printable ASCII "
			 "characters", STORE_EXTERNAL_ID_MAX);
		return -1;
	}
	if (!s->check_external_id)
		return 0;
	at = (size_t)snprintf(msg, size, "external_id: ");
	return s->check_external_id(id, msg + (at < size ? at : size - 1),
				    at < size ? size - at : 1);
}
