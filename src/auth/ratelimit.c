/* auth/ratelimit.c: per-credential token buckets. */
#include "auth/auth.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	char id[HTTP_PRINCIPAL_ID_MAX + 1];
	double tokens;
	int64_t last_us;
};

struct auth_limiter {
	pthread_mutex_t lock;
	double per_second;
	double burst;
	struct bucket *items;  /* sorted by id */
	size_t len;
	size_t cap;
};

struct auth_limiter *auth_limiter_new(double per_second, double burst)
{
	struct auth_limiter *l = util_xcalloc(1, sizeof(*l));

	pthread_mutex_init(&l->lock, NULL);
	l->per_second = per_second;
	l->burst = burst < 1 ? 1 : burst;
	return l;
}

void auth_limiter_free(struct auth_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->items);
	free(l);
}

/* The bucket of `id`, created full if new. Called with the lock held. */
static struct bucket *bucket_of(struct auth_limiter *l, const char *id,
				int64_t now_us)
{
	size_t lo = 0, hi = l->len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->items[mid].id, id);

		if (c == 0)
			return &l->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (l->len == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = util_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	memmove(&l->items[lo + 1], &l->items[lo],
		(l->len - lo) * sizeof(*l->items));
	l->len++;
	memset(&l->items[lo], 0, sizeof(l->items[lo]));
	snprintf(l->items[lo].id, sizeof(l->items[lo].id), "%s", id);
	l->items[lo].tokens = l->burst;
	l->items[lo].last_us = now_us;
	return &l->items[lo];
}

bool auth_limiter_take(struct auth_limiter *l, const char *id, int64_t now_us,
		       unsigned *retry_after_s)
{
	struct bucket *b;
	bool ok;

	pthread_mutex_lock(&l->lock);
	b = bucket_of(l, id, now_us);
	if (now_us > b->last_us) {
		b->tokens += (double)(now_us - b->last_us) / 1e6 * l->per_second;
		if (b->tokens > l->burst)
			b->tokens = l->burst;
		b->last_us = now_us;
	}
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	else
		*retry_after_s = (unsigned)ceil((1.0 - b->tokens) / l->per_second);
	pthread_mutex_unlock(&l->lock);
	if (!ok && *retry_after_s < 1)
		*retry_after_s = 1;
	return ok;
}
