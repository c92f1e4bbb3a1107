/* sources/sources.c: the list of every provider grantd knows, and lookups
 * in it. Adding a provider adds its source here. */
#include "sources/sources.h"

#include <string.h>

static const struct source *const all[] = {
	&source_primegaming,
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
