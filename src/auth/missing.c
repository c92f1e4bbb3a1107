/* auth/missing.c: credentials known to be missing from the database — a
 * bounded, direct-mapped set of SHA-256 digests, emptied at every reload of
 * the credential cache — so a flood of the same unknown credential costs at
 * most one database lookup per reload. */
#include "auth/auth_int.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct auth_missing {
	pthread_mutex_t lock;
	size_t slots;
	unsigned char (*digests)[SHA256_DIGEST_LENGTH];
	bool *used;
};

struct auth_missing *auth_missing_new(size_t slots)
{
	struct auth_missing *m = util_xcalloc(1, sizeof(*m));

	pthread_mutex_init(&m->lock, NULL);
	m->slots = slots ? slots : 1;
	m->digests = util_xcalloc(m->slots, sizeof(*m->digests));
	m->used = util_xcalloc(m->slots, sizeof(*m->used));
	return m;
}

void auth_missing_free(struct auth_missing *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->digests);
	free(m->used);
	free(m);
}

static size_t slot_of(const struct auth_missing *m,
		      const unsigned char digest[SHA256_DIGEST_LENGTH])
{
	uint64_t v;

	memcpy(&v, digest, sizeof(v));
	return (size_t)(v % m->slots);
}

void auth_missing_clear(struct auth_missing *m)
{
	pthread_mutex_lock(&m->lock);
	memset(m->used, 0, m->slots * sizeof(*m->used));
	pthread_mutex_unlock(&m->lock);
}

bool auth_missing_has(struct auth_missing *m,
		      const unsigned char digest[SHA256_DIGEST_LENGTH])
{
	size_t i = slot_of(m, digest);
	bool has;

	pthread_mutex_lock(&m->lock);
	has = m->used[i] && memcmp(m->digests[i], digest, SHA256_DIGEST_LENGTH) == 0;
	pthread_mutex_unlock(&m->lock);
	return has;
}

void auth_missing_add(struct auth_missing *m,
		      const unsigned char digest[SHA256_DIGEST_LENGTH])
{
	size_t i = slot_of(m, digest);

	pthread_mutex_lock(&m->lock);
	memcpy(m->digests[i], digest, SHA256_DIGEST_LENGTH);
	m->used[i] = true;
	pthread_mutex_unlock(&m->lock);
}
