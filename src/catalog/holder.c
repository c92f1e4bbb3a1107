/* catalog/holder.c: the snapshot in force, swapped on reload while readers
 * keep the snapshot they took. */
#include "catalog/catalog.h"

#include <pthread.h>
#include <stdlib.h>

struct catalog_holder {
	/* Guards `current` only: readers copy the pointer and take a
	 * reference under it, so a swap never frees a snapshot in use. */
	pthread_mutex_t lock;
	struct catalog *current; /* one reference, owned */
};

struct catalog_holder *catalog_holder_new(struct catalog *initial)
{
	struct catalog_holder *h = util_xmalloc(sizeof(*h));

	if (pthread_mutex_init(&h->lock, NULL))
		util_bug(__FILE__, __LINE__, "pthread_mutex_init failed");
	h->current = initial;
	return h;
}

void catalog_holder_free(struct catalog_holder *h)
{
	if (!h)
		return;
	catalog_unref(h->current);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct catalog *catalog_holder_get(struct catalog_holder *h)
{
	struct catalog *c;

	pthread_mutex_lock(&h->lock);
	c = catalog_ref(h->current);
	pthread_mutex_unlock(&h->lock);
	return c;
}

void catalog_holder_swap(struct catalog_holder *h, struct catalog *next)
{
	struct catalog *old;

	pthread_mutex_lock(&h->lock);
	old = h->current;
	h->current = next;
	pthread_mutex_unlock(&h->lock);
	/* Outside the lock: freeing a large catalog must not stall readers. */
	catalog_unref(old);
}
