/* Unit tests of the outbox: rows added in a transaction, one pending row
 * per key, leases, the backoff with full jitter, and the delivery thread —
 * delivered, retried, given up as dead, and nothing delivers a kind. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helpers.h"
#include "outbox/outbox.h"

struct add_arg {
	const char *kind;
	const char *key;
	bool added;
};

static int add_apply(struct store_tx *tx, void *arg)
{
	struct add_arg *a = arg;
	struct store_outbox_item it = { .kind = a->kind, .dedupe_key = a->key,
					.account_id = "player-1",
					.payload = "{\"n\":1}" };

	return store_tx_outbox_add(tx, &it, util_now_ms(), &a->added);
}

static bool add(struct store *st, const char *kind, const char *key)
{
	struct add_arg a = { kind, key, false };

	cr_assert_eq(store_run(st, add_apply, &a), STORE_OK);
	return a.added;
}

static void count_claimed(void *arg, const struct store_outbox_item *it)
{
	(*(int *)arg)++;
	cr_assert_str_eq(it->payload, "{\"n\":1}");
	cr_assert_str_eq(it->account_id, "player-1");
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

Test(outbox, backoff_is_full_jitter_under_a_doubling_ceiling)
{
	struct outbox_options o = { .initial_backoff_ms = 1000,
				    .max_backoff_ms = 300000 };

	cr_assert_eq(outbox_backoff_ms(&o, 1, 0.0), 0);
	cr_assert_eq(outbox_backoff_ms(&o, 1, 0.5), 500);
	cr_assert_lt(outbox_backoff_ms(&o, 1, 0.999999), 1000);
	cr_assert_eq(outbox_backoff_ms(&o, 5, 0.5), 8000);     /* 16 s ceiling */
	cr_assert_eq(outbox_backoff_ms(&o, 9, 0.5), 128000);
	cr_assert_eq(outbox_backoff_ms(&o, 10, 0.5), 150000);  /* capped */
	cr_assert_eq(outbox_backoff_ms(&o, 60, 0.5), 150000);
}

Test(outbox, one_pending_row_per_key_and_leases)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	int64_t counts[STORE_OUTBOX_DEAD + 1], now = util_now_ms();
	int claimed = 0;
	bool due;

	cr_assert(add(st, "report.test", "e-1"));
	cr_assert_not(add(st, "report.test", "e-1"));   /* already pending */
	cr_assert(add(st, "report.other", "e-1"));      /* another kind */
	cr_assert(add(st, "report.test", "e-2"));
	cr_assert_eq(store_outbox_due(st, util_now_ms(), &due), 0);
	cr_assert(due);
	cr_assert_eq(store_outbox_claim(st, util_now_ms(), 200, 2, count_claimed,
					&claimed), STORE_OK);
	cr_assert_eq(claimed, 2);
	/* the two claimed are leased; the third is still due */
	cr_assert_eq(store_outbox_claim(st, util_now_ms(), 200, 10, count_claimed,
					&claimed), STORE_OK);
	cr_assert_eq(claimed, 3);
	cr_assert_eq(store_outbox_due(st, util_now_ms(), &due), 0);
	cr_assert_not(due);
	/* leases lapse (a crash before the outcome was recorded) */
	pause_ms(250);
	cr_assert_eq(store_outbox_claim(st, util_now_ms(), 60000, 10, count_claimed,
					&claimed), STORE_OK);
	cr_assert_eq(claimed, 6);
	cr_assert_eq(store_outbox_counts(st, counts), 0);
	cr_assert_eq(counts[STORE_OUTBOX_PENDING], 3);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM outbox WHERE "
				  "lease_until_ms > 0"), 3);
	(void)now;
	store_close(st);
	test_rmdir(dir);
}

/* Deliverers for the thread tests. */
static atomic_int ok_calls, flaky_calls, bad_calls, never_calls;

static enum outbox_verdict deliver_ok(void *ctx, const struct store_outbox_item *it,
				      char *error, size_t size)
{
	(void)ctx;
	(void)it;
	(void)error;
	(void)size;
	atomic_fetch_add(&ok_calls, 1);
	return OUTBOX_DELIVERED;
}

static enum outbox_verdict deliver_flaky(void *ctx, const struct store_outbox_item *it,
					 char *error, size_t size)
{
	(void)ctx;
	atomic_fetch_add(&flaky_calls, 1);
	if (it->attempts < 2) {
		snprintf(error, size, "HTTP 500 on attempt %lld",
			 (long long)it->attempts + 1);
		return OUTBOX_RETRY;
	}
	return OUTBOX_DELIVERED;
}

static enum outbox_verdict deliver_bad(void *ctx, const struct store_outbox_item *it,
				       char *error, size_t size)
{
	(void)ctx;
	(void)it;
	atomic_fetch_add(&bad_calls, 1);
	snprintf(error, size, "NOT_FOUND: the provider has no such entitlement");
	return OUTBOX_DEAD;
}

static enum outbox_verdict deliver_never(void *ctx, const struct store_outbox_item *it,
					 char *error, size_t size)
{
	(void)ctx;
	(void)it;
	atomic_fetch_add(&never_calls, 1);
	snprintf(error, size, "timeout");
	return OUTBOX_RETRY;
}

/* Waits (at most 10 s) until nothing is pending. */
static void wait_settled(struct store *st)
{
	int64_t counts[STORE_OUTBOX_DEAD + 1];

	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(store_outbox_counts(st, counts), 0);
		if (counts[STORE_OUTBOX_PENDING] == 0)
			return;
		pause_ms(10);
	}
	cr_assert_fail("rows still pending after 10 s");
}

Test(outbox, the_thread_delivers_retries_and_gives_up)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct outbox_options o = { .initial_backoff_ms = 2, .max_backoff_ms = 5,
				    .max_attempts = 3, .poll_ms = 10 };
	struct outbox *ob = outbox_new(st, &o);
	int64_t counts[STORE_OUTBOX_DEAD + 1];

	outbox_register(ob, "test.ok", deliver_ok, NULL);
	outbox_register(ob, "test.flaky", deliver_flaky, NULL);
	outbox_register(ob, "test.bad", deliver_bad, NULL);
	outbox_register(ob, "test.never", deliver_never, NULL);
	for (int i = 0; i < 70; i++) {  /* more than a batch */
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		cr_assert(add(st, "test.ok", key));
	}
	add(st, "test.flaky", "f");
	add(st, "test.bad", "b");
	add(st, "test.never", "n");
	add(st, "test.unknown", "u");
	cr_assert_eq(outbox_start(ob), 0);
	outbox_kick(ob);
	wait_settled(st);
	outbox_free(ob);

	cr_assert_eq(atomic_load(&ok_calls), 70);
	cr_assert_eq(atomic_load(&flaky_calls), 3);
	cr_assert_eq(atomic_load(&bad_calls), 1);
	cr_assert_eq(atomic_load(&never_calls), 3);   /* max_attempts */
	cr_assert_eq(store_outbox_counts(st, counts), 0);
	cr_assert_eq(counts[STORE_OUTBOX_DELIVERED], 71);
	cr_assert_eq(counts[STORE_OUTBOX_DEAD], 3);
	cr_assert_eq(test_sql_int(dir, "SELECT attempts FROM outbox WHERE "
				  "kind = 'test.flaky' AND status = 'delivered'"
				  " AND last_error IS NULL"), 3);
	cr_assert_eq(test_sql_int(dir, "SELECT attempts FROM outbox WHERE "
				  "kind = 'test.bad' AND last_error LIKE "
				  "'NOT_FOUND:%'"), 1);
	cr_assert_eq(test_sql_int(dir, "SELECT attempts FROM outbox WHERE "
				  "kind = 'test.unknown' AND last_error = "
				  "'nothing delivers \"test.unknown\" rows'"), 3);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM outbox WHERE "
				  "lease_until_ms != 0"), 0);
	/* a delivered key may be queued again */
	cr_assert(add(st, "test.flaky", "f"));
	store_close(st);
	test_rmdir(dir);
}

/* A deliverer of many rows at once: records the group sizes it saw, and
 * refuses rows whose key ends in "x" for good. */
static atomic_int many_calls, many_rows, many_largest;

static void deliver_group(void *ctx, const struct store_outbox_item *items,
			  size_t n, enum outbox_verdict *verdicts, char *errors,
			  size_t size)
{
	(void)ctx;
	atomic_fetch_add(&many_calls, 1);
	atomic_fetch_add(&many_rows, (int)n);
	if ((int)n > atomic_load(&many_largest))
		atomic_store(&many_largest, (int)n);
	for (size_t i = 0; i < n; i++) {
		const char *k = items[i].dedupe_key;

		cr_assert_str_eq(items[i].kind, "test.many");
		verdicts[i] = k[strlen(k) - 1] == 'x' ? OUTBOX_DEAD :
			      OUTBOX_DELIVERED;
		if (verdicts[i] != OUTBOX_DELIVERED)
			snprintf(errors + i * size, size, "NOT_FOUND %s", k);
	}
}

Test(outbox, a_kind_delivered_many_at_once_in_groups_of_its_size)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct outbox_options o = { .initial_backoff_ms = 2, .max_backoff_ms = 5,
				    .max_attempts = 3, .poll_ms = 10 };
	struct outbox *ob = outbox_new(st, &o);
	int64_t counts[STORE_OUTBOX_DEAD + 1];

	outbox_register_many(ob, "test.many", deliver_group, NULL, 10);
	outbox_register(ob, "test.ok", deliver_ok, NULL);
	for (int i = 0; i < 25; i++) {
		char key[16];

		snprintf(key, sizeof(key), "m%d%s", i, i == 7 ? "x" : "");
		cr_assert(add(st, "test.many", key));
		snprintf(key, sizeof(key), "o%d", i);
		cr_assert(add(st, "test.ok", key));  /* interleaved kinds */
	}
	cr_assert_eq(outbox_start(ob), 0);
	outbox_kick(ob);
	wait_settled(st);
	outbox_free(ob);

	cr_assert_eq(atomic_load(&many_rows), 25);
	cr_assert_leq(atomic_load(&many_largest), 10);
	cr_assert_geq(atomic_load(&many_calls), 3);
	cr_assert_leq(atomic_load(&many_calls), 4);  /* 64-row claims: 10+10+5 (+..) */
	cr_assert_eq(store_outbox_counts(st, counts), 0);
	cr_assert_eq(counts[STORE_OUTBOX_DEAD], 1);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM outbox WHERE "
				  "dedupe_key = 'm7x' AND status = 'dead' AND "
				  "last_error = 'NOT_FOUND m7x'"), 1);
	store_close(st);
	test_rmdir(dir);
}
