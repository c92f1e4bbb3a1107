/* Unit tests of the store's writer: batching (whatever queued while the last
 * commit ran, up to batch_max) and per-intent rollback inside a batch. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* An intent that creates one account, or fails after writing it. */
struct probe {
	struct store_intent in;
	char account[32];
	bool fail;
	int sleep_ms;          /* holds the writer so others queue behind */
	atomic_int done_calls;
	int rc;
};

static int probe_apply(struct store_tx *tx, struct store_intent *in)
{
	struct probe *p = UTIL_CONTAINER_OF(in, struct probe, in);
	bool created;

	if (p->sleep_ms)
		usleep((useconds_t)p->sleep_ms * 1000);
	if (store_tx_account_put(tx, p->account, STORE_ACCOUNT_ACTIVE, 1, &created))
		return STORE_ERR;
	return p->fail ? STORE_ERR : STORE_OK;
}

static void probe_done(struct store_intent *in, int rc)
{
	struct probe *p = UTIL_CONTAINER_OF(in, struct probe, in);

	p->rc = rc;
	atomic_fetch_add(&p->done_calls, 1);
}

static void wait_all(struct probe *p, size_t n)
{
	for (int spins = 0; spins < 5000; spins++) {
		size_t finished = 0;

		for (size_t i = 0; i < n; i++)
			finished += atomic_load(&p[i].done_calls) > 0;
		if (finished == n)
			return;
		usleep(1000);
	}
	cr_assert_fail("intents not answered within 5 s");
}

static void submit_probes(struct store *st, struct probe *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(p[i].account, sizeof(p[i].account), "acct-%zu", i);
		p[i].in.apply = probe_apply;
		p[i].in.done = probe_done;
		cr_assert_eq(store_submit(st, &p[i].in), STORE_OK);
	}
}

Test(writer, batches_what_queued_and_rolls_back_one_intent_alone)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 256);
	struct probe p[40] = { 0 };
	struct store_stats stats;

	p[0].sleep_ms = 200;   /* the rest queue while this one runs */
	p[17].fail = true;
	submit_probes(st, p, 40);
	wait_all(p, 40);
	for (size_t i = 0; i < 40; i++) {
		cr_assert_eq(atomic_load(&p[i].done_calls), 1, "intent %zu", i);
		cr_assert_eq(p[i].rc, i == 17 ? STORE_ERR : STORE_OK, "intent %zu", i);
	}
	store_stats_get(st, &stats);
	cr_assert_eq(stats.intents, 40);
	cr_assert_geq(stats.max_batch, 30, "max batch %llu",
		      (unsigned long long)stats.max_batch);
	cr_assert_leq(stats.batches, 10);
	/* the failing intent sent its batch down the careful path, once */
	cr_assert_eq(stats.careful_batches, 1);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 39);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts "
				  "WHERE account_id = 'acct-17'"), 0);
	test_rmdir(dir);
}

Test(writer, respects_batch_max)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 4);
	struct probe p[21] = { 0 };
	struct store_stats stats;

	p[0].sleep_ms = 100;
	submit_probes(st, p, 21);
	wait_all(p, 21);
	store_stats_get(st, &stats);
	cr_assert_eq(stats.max_batch, 4);
	cr_assert_eq(stats.careful_batches, 0);
	cr_assert_geq(stats.batches, 6);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 21);
	test_rmdir(dir);
}

Test(writer, close_answers_everything_queued)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct probe p[12] = { 0 };

	p[0].sleep_ms = 50;
	submit_probes(st, p, 12);
	store_close(st);  /* drains: every queued intent is committed */
	for (size_t i = 0; i < 12; i++)
		cr_assert_eq(p[i].rc, STORE_OK);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 12);
	test_rmdir(dir);
}

static int insert_then_fail(struct store_tx *tx, void *arg)
{
	bool created;

	(void)arg;
	store_tx_account_put(tx, "doomed", STORE_ACCOUNT_ACTIVE, 1, &created);
	return STORE_ERR;
}

Test(writer, store_run_reports_the_intent_result)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);

	cr_assert_eq(store_run(st, insert_then_fail, NULL), STORE_ERR);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 0);
	test_rmdir(dir);
}

Test(writer, reopen_keeps_schema_and_data)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct probe p[3] = { 0 };
	int version = store_schema_version(st);

	submit_probes(st, p, 3);
	wait_all(p, 3);
	store_close(st);
	st = test_store_open(dir, 8);
	cr_assert_eq(store_schema_version(st), version);
	cr_assert_eq(store_ping(st), 0);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 3);
	test_rmdir(dir);
}

/* ---- durability: answers wait for the syncer -------------------------- */

#include <fcntl.h>

#include "store/sqlite/sqlite_int.h"

/* Records how many durable WAL syncs had happened when done ran. */
struct sync_probe {
	struct store_intent in;
	struct store *st;
	uint64_t syncs_at_done;
	atomic_int finished;
	int rc;
};

static int sync_probe_apply(struct store_tx *tx, struct store_intent *in)
{
	bool created;

	(void)in;
	return store_tx_account_put(tx, "durable", STORE_ACCOUNT_ACTIVE, 1, &created);
}

static void sync_probe_done(struct store_intent *in, int rc)
{
	struct sync_probe *p = UTIL_CONTAINER_OF(in, struct sync_probe, in);
	uint64_t syncs = 0;

	cr_assert_eq(store_stat_get(p->st, "durable_syncs_total", &syncs), 0);
	p->syncs_at_done = syncs;
	p->rc = rc;
	atomic_store(&p->finished, 1);
}

static void run_sync_probe(struct store *st, struct sync_probe *p)
{
	p->st = st;
	p->in.apply = sync_probe_apply;
	p->in.done = sync_probe_done;
	cr_assert_eq(store_submit(st, &p->in), STORE_OK);
	for (int i = 0; i < 5000 && !atomic_load(&p->finished); i++)
		usleep(1000);
	cr_assert(atomic_load(&p->finished), "not answered");
}

Test(writer, full_durability_answers_only_after_the_wal_sync)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct sync_probe p = { 0 };

	run_sync_probe(st, &p);
	cr_assert_eq(p.rc, STORE_OK);
	cr_assert_geq(p.syncs_at_done, 1, "answered before any WAL sync");
	store_close(st);
	test_rmdir(dir);
}

Test(writer, normal_durability_answers_after_the_commit)
{
	char *dir = test_tmpdir();
	char *path = util_xasprintf("%s/test.db", dir);
	struct store_options opts = {
		.batch_max = 8,
		.sqlite = { .path = path, .synchronous_full = false },
	};
	struct store *st = NULL;
	char *err = NULL;
	struct sync_probe p = { 0 };

	cr_assert_eq(store_open(&opts, &st, &err), 0);
	run_sync_probe(st, &p);
	cr_assert_eq(p.rc, STORE_OK);
	cr_assert_eq(p.syncs_at_done, 0);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 1);
	free(path);
	test_rmdir(dir);
}

Test(writer, a_failed_sync_acknowledges_nothing_more)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct sync_probe p = { 0 }, q = { 0 };
	int devnull = open("/dev/null", O_RDONLY);

	/* The syncer now holds a descriptor that is not the WAL: as if the file
	 * had been replaced. The commit happens; its answer must be a failure,
	 * and so must every later one, and the store reports itself unwell. */
	cr_assert_geq(devnull, 0);
	close(store_sqlite(st)->syncer.wal_fd);
	store_sqlite(st)->syncer.wal_fd = devnull;
	run_sync_probe(st, &p);
	cr_assert_eq(p.rc, STORE_ERR);
	run_sync_probe(st, &q);
	cr_assert_eq(q.rc, STORE_ERR);
	cr_assert_neq(store_ping(st), 0);
	store_close(st);
	test_rmdir(dir);
}

/* Claims one key twice in one transaction, as two writers would one after
 * the other: the second claim writes nothing and names the first row. */
static int claim_twice(struct store_tx *tx, void *arg)
{
	static const unsigned char print[STORE_FINGERPRINT_LEN] = { 1 };
	struct store_fulfilment f = {
		.source = "test", .external_id = "k1", .account_id = "a",
		.provider_item_id = "sku", .fingerprint = print,
		.status = STORE_FULFILMENT_COMPLETED, .created_at_ms = 1,
		.updated_at_ms = 1, .fulfilled_at_ms = 1,
	};
	struct store_fulfilment_ref existing;
	int64_t first = 0, second = 0;

	(void)arg;
	cr_assert_eq(store_tx_fulfilment_claim(tx, &f, &first, &existing),
		     STORE_OK);
	cr_assert_not(existing.found);
	f.account_id = "other";
	f.status = STORE_FULFILMENT_FAILED;
	cr_assert_eq(store_tx_fulfilment_claim(tx, &f, &second, &existing),
		     STORE_CONFLICT);
	cr_assert(existing.found);
	cr_assert_eq(existing.row, first);
	cr_assert_eq(existing.status, STORE_FULFILMENT_COMPLETED);
	cr_assert_eq(memcmp(existing.fingerprint, print, sizeof(print)), 0);
	cr_assert_eq(second, 0);
	return STORE_OK;
}

Test(writer, a_claimed_key_is_claimed_once)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);

	cr_assert_eq(store_run(st, claim_twice, NULL), STORE_OK);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM fulfillments"), 1);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM fulfillments "
				  "WHERE account_id = 'a'"), 1);
	test_rmdir(dir);
}
