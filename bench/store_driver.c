/* bench/store_driver.c: the engine and store alone, without HTTP, for
 * profiling the writer (callgrind counts instructions, so its figures repeat
 * on a noisy machine). Creates a database, its accounts, then submits
 * fulfilments of the benchmark catalog's SKUs in waves and waits for each.
 *
 *   grantd_store_driver DIR [fulfilments [wave [accounts]]]
 *
 * Prints one line: fulfilments, waves, seconds, fulfilments/s. Set
 * DRIVER_SYNC=normal to answer at commit (no WAL fdatasync), and
 * DRIVER_WAL_RESTART_BYTES to a small size to make the checkpointer work
 * (make tsan does both). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/util.h"

static const char *const skus[] = {
	"bench_gold_100", "bench_gems_25", "bench_xp_boost_1",
	"bench_supply_crate", "bench_wrap",
};
#define SKU_COUNT (sizeof(skus) / sizeof(skus[0]))

struct wave {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int left;
	int failed;
};

struct slot {
	struct engine_job job;
	struct wave *wave;
	char account[32];
	char external_id[48];
};

static void job_done(struct engine_job *job)
{
	struct slot *s = UTIL_CONTAINER_OF(job, struct slot, job);
	struct wave *w = s->wave;

	pthread_mutex_lock(&w->lock);
	if (!engine_outcome_ok(job->outcome))
		w->failed++;
	if (--w->left == 0)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Creates accounts bench-0 .. bench-<n-1> in one transaction. */
static int put_accounts(struct store_tx *tx, void *arg)
{
	int n = *(int *)arg;
	int64_t now = util_now_ms();

	for (int i = 0; i < n; i++) {
		char id[32];
		bool created;

		snprintf(id, sizeof(id), "bench-%d", i);
		if (store_tx_account_put(tx, id, STORE_ACCOUNT_ACTIVE, now, &created))
			return STORE_ERR;
	}
	return STORE_OK;
}

/* Fills slot i with fulfilment number n (a unique transaction id, accounts
 * walked by a prime stride, the SKUs in turn) and submits it. */
static void submit_one(struct engine *e, struct slot *s, struct wave *w,
		       long n, int accounts)
{
	memset(&s->job, 0, sizeof(s->job));
	s->wave = w;
	snprintf(s->account, sizeof(s->account), "bench-%ld", (n * 7919) % accounts);
	snprintf(s->external_id, sizeof(s->external_id), "drv-%ld", n);
	s->job.ent = (struct engine_entitlement){
		.source = "primegaming",
		.provider = CATALOG_PRIME_GAMING,
		.external_id = s->external_id,
		.account_id = s->account,
		.provider_item_id = skus[n % SKU_COUNT],
		.quantity = 1,
		.received_at_ms = util_now_ms(),
	};
	engine_submit(e, &s->job, job_done);
}

/* Submits `total` fulfilments, `size` at a time, each wave waited for.
 * Returns how many failed. */
static int run_waves(struct engine *e, long total, int size, int accounts,
		     int *waves)
{
	struct slot *slots = util_xcalloc((size_t)size, sizeof(*slots));
	struct wave w = { .failed = 0 };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	for (long n = 0; n < total; (*waves)++) {
		int k = (int)(total - n < size ? total - n : size);

		pthread_mutex_lock(&w.lock);
		w.left = k;
		pthread_mutex_unlock(&w.lock);
		for (int i = 0; i < k; i++, n++)
			submit_one(e, &slots[i], &w, n, accounts);
		pthread_mutex_lock(&w.lock);
		while (w.left)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	free(slots);
	return w.failed;
}

int main(int argc, char **argv)
{
	long total = argc > 2 ? atol(argv[2]) : 20000;
	int size = argc > 3 ? atoi(argv[3]) : 32;
	int accounts = argc > 4 ? atoi(argv[4]) : 10000;
	const char *sync = getenv("DRIVER_SYNC");
	const char *restart = getenv("DRIVER_WAL_RESTART_BYTES");
	struct util_strlist problems;
	struct catalog_holder *holder = NULL;
	struct engine_options eo = { 0 };
	struct catalog *cat = NULL;
	struct engine *e = NULL;
	struct store *st = NULL;
	char *err = NULL, *path = NULL;
	int rc = 1, waves = 0, failed;
	int64_t t0;

	if (argc < 2 || total < 1 || size < 1 || accounts < 1) {
		fprintf(stderr, "usage: grantd_store_driver DIR [fulfilments [wave [accounts]]]\n");
		return 2;
	}
	util_strlist_init(&problems);
	if (catalog_load_file("bench/catalog.json", &cat, &problems)) {
		fprintf(stderr, "store_driver: bench/catalog.json does not load "
			"(run from the project's root)\n");
		goto out;
	}
	path = util_xasprintf("%s/driver.db", argv[1]);
	struct store_options so = {
		.batch_max = 256,
		.sqlite = {
			.path = path,
			.synchronous_full = !(sync && strcmp(sync, "normal") == 0),
			.wal_restart_bytes = restart ? atoll(restart) : 0,
		},
	};
	if (store_open(&so, &st, &err) || store_run(st, put_accounts, &accounts)) {
		fprintf(stderr, "store_driver: %s\n", err ? err : "cannot create the accounts");
		goto out;
	}
	holder = catalog_holder_new(cat);
	cat = NULL;
	e = engine_new(&eo, st, holder);
	t0 = util_mono_us();
	failed = run_waves(e, total, size, accounts, &waves);
	double secs = (double)(util_mono_us() - t0) / 1e6;
	uint64_t checkpoints = 0;

	store_stat_get(st, "checkpoints_total", &checkpoints);
	printf("store_driver: %ld fulfilments in %d waves, %.2f s, %.0f/s, %d failed, "
	       "%llu checkpoint(s)\n", total, waves, secs, (double)total / secs,
	       failed, (unsigned long long)checkpoints);
	rc = failed ? 1 : 0;
out:
	engine_free(e);
	store_close(st);
	catalog_holder_free(holder);
	catalog_unref(cat);
	util_strlist_release(&problems);
	free(err);
	free(path);
	return rc;
}
