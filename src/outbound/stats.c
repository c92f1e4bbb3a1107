/* outbound/stats.c: how many requests each peer (provider, game backend)
 * answered, by status or failure, for /metrics. */
#include "outbound/outbound_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Distinct (peer, result) pairs kept; past this, further pairs are
 * counted under peer "other", result "overflow". */
#define PAIRS_MAX 128

struct pair {
	const char *peer;          /* static */
	char result[16];
	uint64_t count;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct pair pairs[PAIRS_MAX];
static size_t n_pairs;
static uint64_t overflow;

static void result_name(enum outbound_error e, long status, char *out,
			size_t size)
{
	if (e == OUTBOUND_OK)
		snprintf(out, size, "%ld", status);
	else
		snprintf(out, size, "%s", outbound_error_name(e));
}

void outbound__count(const char *peer, enum outbound_error e, long status)
{
	char result[16];
	size_t i;

	result_name(e, status, result, sizeof(result));
	pthread_mutex_lock(&lock);
	for (i = 0; i < n_pairs; i++)
		if (strcmp(pairs[i].peer, peer) == 0 &&
		    strcmp(pairs[i].result, result) == 0)
			break;
	if (i == n_pairs && n_pairs < PAIRS_MAX) {
		pairs[i].peer = peer;
		memcpy(pairs[i].result, result, sizeof(result));
		n_pairs++;
	}
	if (i < n_pairs)
		pairs[i].count++;
	else
		overflow++;
	pthread_mutex_unlock(&lock);
}

void outbound_stats_each(outbound_stat_fn fn, void *arg)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_pairs; i++)
		fn(arg, pairs[i].peer, pairs[i].result, pairs[i].count);
	if (overflow)
		fn(arg, "other", "overflow", overflow);
	pthread_mutex_unlock(&lock);
}
