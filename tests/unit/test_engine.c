/* Unit tests of the fulfilment engine's rules on a temporary SQLite store:
 * idempotency, conflicts, accounts, catalog, windows, limits, uniques. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "helpers.h"

static const char catalog_json[] =
	"{\"items\": ["
	" {\"catalogId\": \"gold\", \"kind\": \"stackable\"},"
	" {\"catalogId\": \"hat\", \"kind\": \"instanced\", \"unique\": true},"
	" {\"catalogId\": \"sword\", \"kind\": \"instanced\"}],"
	" \"bundles\": ["
	" {\"id\": \"b1\", \"stackables\": [{\"catalogId\": \"gold\", \"amount\": 10}],"
	"  \"instanced\": [{\"catalogId\": \"hat\"}, {\"catalogId\": \"sword\"}]}],"
	" \"entitlements\": ["
	" {\"id\": \"gold-5\", \"stackable\": {\"catalogId\": \"gold\", \"amount\": 5},"
	"  \"providerDetails\": [{\"primeGaming\": {\"sku\": \"g5\"}}]},"
	" {\"id\": \"once\", \"stackable\": {\"catalogId\": \"gold\", \"amount\": 1},"
	"  \"limitPerAccount\": 1, \"providerDetails\": [{\"primeGaming\": {\"sku\": \"once\"}}]},"
	" {\"id\": \"twice\", \"instanced\": {\"catalogId\": \"sword\"},"
	"  \"limitPerAccount\": 2, \"providerDetails\": [{\"primeGaming\": {\"sku\": \"twice\"}}]},"
	" {\"id\": \"bundle\", \"bundle\": {\"id\": \"b1\"},"
	"  \"providerDetails\": [{\"primeGaming\": {\"sku\": \"bundle\"}}]},"
	" {\"id\": \"hat\", \"instanced\": {\"catalogId\": \"hat\"},"
	"  \"providerDetails\": [{\"primeGaming\": {\"sku\": \"hat\"}}]},"
	" {\"id\": \"window\", \"stackable\": {\"catalogId\": \"gold\", \"amount\": 1},"
	"  \"availability\": {\"startsAt\": \"2026-01-01T00:00:00Z\","
	"                    \"endsAt\": \"2026-02-01T00:00:00Z\"},"
	"  \"providerDetails\": [{\"primeGaming\": {\"sku\": \"window\"}}]}]}";

static char *dir;
static struct store *st;
static struct catalog_holder *holder;
static struct engine *engine;

static void setup_with(bool auto_create)
{
	struct engine_options opts = { .auto_create_accounts = auto_create };

	dir = test_tmpdir();
	st = test_store_open(dir, 16);
	holder = catalog_holder_new(test_catalog(catalog_json));
	engine = engine_new(&opts, st, holder);
}

static void setup(void)
{
	setup_with(false);
}

static void setup_auto(void)
{
	setup_with(true);
}

static void teardown(void)
{
	store_close(st);
	engine_free(engine);
	catalog_holder_free(holder);
	test_rmdir(dir);
}

/* Waits for a job on the writer thread. */
struct waiter {
	struct engine_job job;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool finished;
};

static void waiter_done(struct engine_job *job)
{
	struct waiter *w = UTIL_CONTAINER_OF(job, struct waiter, job);

	pthread_mutex_lock(&w->lock);
	w->finished = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static struct waiter run_job(const char *account, const char *sku,
			     const char *txn, int64_t quantity, int64_t at_ms,
			     bool record_only)
{
	struct waiter w = { 0 };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.job.ent = (struct engine_entitlement){
		.source = "primegaming", .provider = CATALOG_PRIME_GAMING,
		.external_id = txn, .account_id = account, .provider_item_id = sku,
		.quantity = quantity, .received_at_ms = at_ms,
		.record_only = record_only,
	};
	engine_submit(engine, &w.job, waiter_done);
	pthread_mutex_lock(&w.lock);
	while (!w.finished)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return w;
}

static struct waiter run_at(const char *account, const char *sku, const char *txn,
			    int64_t quantity, int64_t at_ms)
{
	return run_job(account, sku, txn, quantity, at_ms, false);
}

/* A record-only submission, now. */
static struct waiter record(const char *account, const char *sku,
			    const char *txn)
{
	return run_job(account, sku, txn, 1, util_now_ms(), true);
}

static enum engine_outcome run(const char *account, const char *sku,
			       const char *txn)
{
	return run_at(account, sku, txn, 1, util_now_ms()).job.outcome;
}

static int put_account_apply(struct store_tx *tx, void *arg)
{
	const char **a = arg;
	enum store_account_state state;
	bool created;

	cr_assert_eq(store_account_state_parse(a[1], &state), 0);
	return store_tx_account_put(tx, a[0], state, 1, &created);
}

static void account(const char *id, const char *state)
{
	const char *args[2] = { id, state };

	cr_assert_eq(store_run(st, put_account_apply, args), STORE_OK);
}

static long long sql(const char *q)
{
	return test_sql_int(dir, q);
}

TestSuite(engine, .init = setup, .fini = teardown);

Test(engine, grants_once_and_replays)
{
	struct waiter w;

	account("p1", "active");
	w = run_at("p1", "g5", "t1", 1, util_now_ms());
	cr_assert_eq(w.job.outcome, ENGINE_GRANTED);
	cr_assert_eq(strlen(w.job.fulfillment_id), STORE_FULFILMENT_ID_LEN);
	cr_assert_eq(strncmp(w.job.fulfillment_id, "f_", 2), 0);
	cr_assert_eq(run("p1", "g5", "t1"), ENGINE_REPLAYED);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 5);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 1);
}

Test(engine, conflicting_repeat_changes_nothing)
{
	account("p1", "active");
	account("p2", "active");
	cr_assert_eq(run("p1", "g5", "t1"), ENGINE_GRANTED);
	cr_assert_eq(run("p2", "g5", "t1"), ENGINE_CONFLICT);
	cr_assert_eq(run("p1", "once", "t1"), ENGINE_CONFLICT);
	cr_assert_eq(run_at("p1", "g5", "t1", 2, util_now_ms()).job.outcome,
		     ENGINE_CONFLICT);
	cr_assert_eq(sql("SELECT sum(amount) FROM inventory_stackables"), 5);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments"), 1);
}

Test(engine, unknown_account_fails_and_is_recorded)
{
	struct waiter w = run_at("ghost", "g5", "t1", 1, util_now_ms());

	cr_assert_eq(w.job.outcome, ENGINE_INVALID_CUSTOMER);
	cr_assert(strstr(w.job.message, "ghost"));
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments WHERE status = 'failed'"
			 " AND error_code = 'UnknownAccount'"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 0);
	/* evaluated afresh once the account exists; same fulfilment id */
	account("ghost", "active");
	cr_assert_eq(run("ghost", "g5", "t1"), ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments WHERE status = "
			 "'completed' AND error_code IS NULL"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments"), 1);
}

Test(engine, bad_account_ids_are_invalid_customers)
{
	char long_id[130];

	memset(long_id, 'a', 129);
	long_id[129] = '\0';
	cr_assert_eq(run(long_id, "g5", "t1"), ENGINE_INVALID_CUSTOMER);
	cr_assert_eq(run("tab\there", "g5", "t2"), ENGINE_INVALID_CUSTOMER);
	cr_assert_eq(run("caf\xc3\xa9", "g5", "t3"), ENGINE_INVALID_CUSTOMER);
}

Test(engine, unknown_item_is_invalid)
{
	account("p1", "active");
	cr_assert_eq(run("p1", "nope", "t1"), ENGINE_INVALID_ITEM);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments WHERE entitlement_id "
			 "IS NULL AND error_code = 'UnknownItem'"), 1);
}

Test(engine, availability_window_is_half_open)
{
	int64_t start, end;

	cr_assert_eq(util_rfc3339_parse("2026-01-01T00:00:00Z", &start), 0);
	cr_assert_eq(util_rfc3339_parse("2026-02-01T00:00:00Z", &end), 0);
	account("p1", "active");
	cr_assert_eq(run_at("p1", "window", "a", 1, start - 1).job.outcome,
		     ENGINE_OUTSIDE_WINDOW);
	cr_assert_eq(run_at("p1", "window", "b", 1, start).job.outcome,
		     ENGINE_GRANTED);
	cr_assert_eq(run_at("p1", "window", "c", 1, end - 1).job.outcome,
		     ENGINE_GRANTED);
	cr_assert_eq(run_at("p1", "window", "d", 1, end).job.outcome,
		     ENGINE_OUTSIDE_WINDOW);
	/* a completed fulfilment replays even after its window closed */
	cr_assert_eq(run_at("p1", "window", "b", 1, end + 1000).job.outcome,
		     ENGINE_REPLAYED);
}

Test(engine, inactive_accounts_are_refused)
{
	struct waiter w;

	account("s", "suspended");
	account("b", "banned");
	w = run_at("s", "g5", "t1", 1, util_now_ms());
	cr_assert_eq(w.job.outcome, ENGINE_ACCOUNT_STATE);
	cr_assert(strstr(w.job.message, "suspended"));
	w = run_at("b", "g5", "t2", 1, util_now_ms());
	cr_assert_eq(w.job.outcome, ENGINE_ACCOUNT_STATE);
	cr_assert(strstr(w.job.message, "banned"));
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 0);
}

Test(engine, limit_per_account)
{
	account("p1", "active");
	account("p2", "active");
	cr_assert_eq(run("p1", "once", "t1"), ENGINE_GRANTED);
	cr_assert_eq(run("p1", "once", "t2"), ENGINE_ALREADY_OWNED);
	cr_assert_eq(run("p2", "once", "t3"), ENGINE_GRANTED);
	cr_assert_eq(run("p1", "twice", "t4"), ENGINE_GRANTED);
	cr_assert_eq(run("p1", "twice", "t5"), ENGINE_GRANTED);
	cr_assert_eq(run("p1", "twice", "t6"), ENGINE_ALREADY_OWNED);
	cr_assert_eq(sql("SELECT count FROM claims WHERE account_id = 'p1' AND "
			 "entitlement_id = 'twice'"), 2);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_instances"), 2);
}

Test(engine, owned_unique_items_are_skipped_not_refused)
{
	account("p1", "active");
	cr_assert_eq(run("p1", "hat", "t1"), ENGINE_GRANTED);
	cr_assert_eq(run("p1", "bundle", "t2"), ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_instances WHERE "
			 "catalog_id = 'hat'"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_instances WHERE "
			 "catalog_id = 'sword'"), 1);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 10);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments WHERE external_id = "
			 "'t2' AND skipped = '[\"hat\"]'"), 1);
	/* wholly owned: refused */
	cr_assert_eq(run("p1", "hat", "t3"), ENGINE_ALREADY_OWNED);
}

Test(engine, quantity_multiplies_non_unique_grants)
{
	account("p1", "active");
	cr_assert_eq(run_at("p1", "g5", "t1", 3, util_now_ms()).job.outcome,
		     ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 15);
	cr_assert_eq(run_at("p1", "hat", "t2", 3, util_now_ms()).job.outcome,
		     ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_instances"), 1);
}

Test(engine, catalog_reload_applies_to_new_jobs)
{
	account("p1", "active");
	catalog_holder_swap(holder, test_catalog(
		"{\"items\": [{\"catalogId\": \"gold\", \"kind\": \"stackable\"}],"
		" \"entitlements\": [{\"id\": \"g7\", \"stackable\": {\"catalogId\":"
		" \"gold\", \"amount\": 7}, \"providerDetails\": [{\"primeGaming\":"
		" {\"sku\": \"g7\"}}]}]}"));
	cr_assert_eq(run("p1", "g5", "t1"), ENGINE_INVALID_ITEM);
	cr_assert_eq(run("p1", "g7", "t2"), ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 7);
}

Test(engine, record_only_records_once_and_grants_nothing)
{
	struct waiter w, again;

	account("p1", "active");
	/* any item id: the catalog is not consulted ("nope" maps nothing) */
	w = record("p1", "nope", "r1");
	cr_assert_eq(w.job.outcome, ENGINE_GRANTED, "%s", w.job.message);
	cr_assert(w.job.recorded_only);
	cr_assert_eq(strlen(w.job.fulfillment_id), STORE_FULFILMENT_ID_LEN);
	again = record("p1", "nope", "r1");
	cr_assert_eq(again.job.outcome, ENGINE_REPLAYED);
	cr_assert(again.job.recorded_only);
	cr_assert_str_eq(again.job.fulfillment_id, w.job.fulfillment_id);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments WHERE status = "
			 "'completed' AND entitlement_id IS NULL AND "
			 "error_code IS NULL AND provider_item_id = 'nope' AND "
			 "fulfilled_at_ms > 0"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 0);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_stackables"), 0);
}

Test(engine, record_only_skips_the_catalog_rules)
{
	account("p1", "active");
	cr_assert_eq(run("p1", "once", "t1"), ENGINE_GRANTED);
	/* a mapped item past its limit, or outside its window, is recorded */
	cr_assert_eq(record("p1", "once", "r1").job.outcome, ENGINE_GRANTED);
	cr_assert_eq(record("p1", "window", "r2").job.outcome, ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT count FROM claims WHERE account_id = 'p1'"), 1);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 1);
}

Test(engine, record_only_conflicts_and_replays_like_any_job)
{
	struct waiter w;

	account("p1", "active");
	account("p2", "active");
	cr_assert_eq(record("p1", "a", "r1").job.outcome, ENGINE_GRANTED);
	cr_assert_eq(record("p1", "b", "r1").job.outcome, ENGINE_CONFLICT);
	cr_assert_eq(record("p2", "a", "r1").job.outcome, ENGINE_CONFLICT);
	/* a granting repeat of a record-only one replays it: no grant */
	w = run_job("p1", "a", "r1", 1, util_now_ms(), false);
	cr_assert_eq(w.job.outcome, ENGINE_REPLAYED);
	cr_assert(w.job.recorded_only);
	/* and the other way round: a granted one replays as granted */
	cr_assert_eq(run("p1", "g5", "t1"), ENGINE_GRANTED);
	w = record("p1", "g5", "t1");
	cr_assert_eq(w.job.outcome, ENGINE_REPLAYED);
	cr_assert_not(w.job.recorded_only);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments"), 2);
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 1);
}

Test(engine, record_only_checks_the_account)
{
	struct waiter w;

	account("s", "suspended");
	w = record("s", "a", "r1");
	cr_assert_eq(w.job.outcome, ENGINE_ACCOUNT_STATE);
	cr_assert_not(w.job.recorded_only);
	w = record("ghost", "a", "r2");
	cr_assert_eq(w.job.outcome, ENGINE_INVALID_CUSTOMER);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments WHERE status = "
			 "'failed'"), 2);
	/* a failed one is evaluated afresh once the account is fine */
	account("ghost", "active");
	w = record("ghost", "a", "r2");
	cr_assert_eq(w.job.outcome, ENGINE_GRANTED);
	cr_assert(w.job.recorded_only);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments WHERE status = "
			 "'completed'"), 1);
}

Test(engine, granted_jobs_are_not_recorded_only)
{
	struct waiter w;

	account("p1", "active");
	w = run_at("p1", "g5", "t1", 1, util_now_ms());
	cr_assert_eq(w.job.outcome, ENGINE_GRANTED);
	cr_assert_not(w.job.recorded_only);
	w = run_at("p1", "g5", "t1", 1, util_now_ms());
	cr_assert_eq(w.job.outcome, ENGINE_REPLAYED);
	cr_assert_not(w.job.recorded_only);
}

TestSuite(engine_auto, .init = setup_auto, .fini = teardown);

Test(engine_auto, creates_accounts_only_when_granting)
{
	cr_assert_eq(run("fresh", "g5", "t1"), ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT count(*) FROM accounts WHERE account_id = "
			 "'fresh' AND state = 'active'"), 1);
	cr_assert_eq(run("ghost", "nope", "t2"), ENGINE_INVALID_ITEM);
	cr_assert_eq(sql("SELECT count(*) FROM accounts WHERE account_id = 'ghost'"), 0);
}

/* ---- groups and broadcasts -------------------------------------------- */

struct group_waiter {
	struct engine_group g;
	struct engine_job jobs[3];
	struct engine_broadcast b;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool finished;
};

static void group_waiter_wake(struct group_waiter *w)
{
	pthread_mutex_lock(&w->lock);
	w->finished = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void group_waiter_done(struct engine_group *g)
{
	group_waiter_wake(UTIL_CONTAINER_OF(g, struct group_waiter, g));
}

static void broadcast_waiter_done(struct engine_broadcast *b)
{
	group_waiter_wake(UTIL_CONTAINER_OF(b, struct group_waiter, b));
}

static void group_waiter_wait(struct group_waiter *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->finished)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

/* Runs a group of up to 3 skus for `account`, keys "<key>/<i>". */
static enum engine_outcome run_group(const char *account, const char *key,
				     const char *const *skus, size_t n,
				     size_t *failed)
{
	static char keys[3][64];
	struct group_waiter w = { 0 };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	for (size_t i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%s/%zu", key, i);
		w.jobs[i].ent = (struct engine_entitlement){
			.source = "gamepot", .provider = CATALOG_PRIME_GAMING,
			.external_id = keys[i], .account_id = account,
			.provider_item_id = skus[i], .quantity = 2,
			.received_at_ms = util_now_ms(),
		};
	}
	w.g.jobs = w.jobs;
	w.g.n = n;
	engine_submit_group(engine, &w.g, group_waiter_done);
	group_waiter_wait(&w);
	*failed = w.g.failed;
	return w.g.outcome;
}

Test(engine, group_grants_all_or_nothing)
{
	static const char *const good[] = { "g5", "once", "twice" };
	static const char *const bad[] = { "g5", "nosuch", "twice" };
	size_t failed;

	account("p1", "active");
	cr_assert_eq(run_group("p1", "c1", bad, 3, &failed), ENGINE_INVALID_ITEM);
	cr_assert_eq(failed, 1);
	cr_assert_eq(sql("SELECT count(*) FROM fulfillments"), 0);
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 0);
	cr_assert_eq(run_group("p1", "c2", good, 3, &failed), ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 12);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_instances"), 2);
	cr_assert_eq(run_group("p1", "c2", good, 3, &failed), ENGINE_REPLAYED);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 12);
	/* the limit of "once" is reached: the whole group is refused */
	cr_assert_eq(run_group("p1", "c3", good, 3, &failed),
		     ENGINE_ALREADY_OWNED);
	cr_assert_eq(failed, 1);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 12);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_instances"), 2);
	cr_assert_eq(sql("SELECT count(*) FROM claims"), 2);
}

Test(engine, group_refusal_does_not_undo_its_batch_neighbours)
{
	static const char *const bad[] = { "g5", "nosuch" };
	size_t failed;

	account("p1", "active");
	cr_assert_eq(run("p1", "g5", "t1"), ENGINE_GRANTED);
	cr_assert_eq(run_group("p1", "c1", bad, 2, &failed), ENGINE_INVALID_ITEM);
	cr_assert_eq(run("p1", "g5", "t2"), ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables"), 10);
}

static enum engine_outcome broadcast(const char *key, int64_t expires_at_ms)
{
	static const struct engine_broadcast_line lines[] = {
		{ "g5", 3 }, { "twice", 1 },
	};
	struct group_waiter w = { 0 };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.b = (struct engine_broadcast){
		.source = "gamepot", .external_id = key,
		.provider = CATALOG_PRIME_GAMING, .lines = lines, .n = 2,
		.expires_at_ms = expires_at_ms,
	};
	engine_submit_broadcast(engine, &w.b, broadcast_waiter_done);
	group_waiter_wait(&w);
	return w.b.outcome;
}

Test(engine, broadcast_reaches_each_active_account_once)
{
	int64_t later = util_now_ms() + 3600000;

	account("p1", "active");
	account("p2", "suspended");
	cr_assert_eq(broadcast("b1", later), ENGINE_GRANTED);
	cr_assert_eq(broadcast("b1", later), ENGINE_REPLAYED);
	cr_assert(engine_broadcasts_live(engine));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(engine_broadcasts_deliver(engine, "p1"), 0);
		cr_assert_eq(engine_broadcasts_deliver(engine, "p2"), 0);
		cr_assert_eq(engine_broadcasts_deliver(engine, "nobody"), 0);
	}
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables WHERE "
			 "account_id = 'p1'"), 15);
	cr_assert_eq(sql("SELECT count(*) FROM inventory_instances"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM broadcast_deliveries"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM accounts"), 2);
	/* a fulfilment delivers it too, in its own transaction */
	account("p3", "active");
	cr_assert_eq(run("p3", "g5", "t1"), ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT amount FROM inventory_stackables WHERE "
			 "account_id = 'p3'"), 20);
}

Test(engine, broadcast_refusals)
{
	static const struct engine_broadcast_line unknown[] = { { "nosuch", 1 } };
	struct group_waiter w = { 0 };

	cr_assert_eq(broadcast("old", util_now_ms() - 1), ENGINE_OUTSIDE_WINDOW);
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.b = (struct engine_broadcast){
		.source = "gamepot", .external_id = "b2",
		.provider = CATALOG_PRIME_GAMING, .lines = unknown, .n = 1,
		.expires_at_ms = INT64_MAX,
	};
	engine_submit_broadcast(engine, &w.b, broadcast_waiter_done);
	group_waiter_wait(&w);
	cr_assert_eq(w.b.outcome, ENGINE_INVALID_ITEM);
	cr_assert_eq(sql("SELECT count(*) FROM broadcasts"), 0);
	cr_assert_not(engine_broadcasts_live(engine));
}

Test(engine_auto, record_only_creates_the_account)
{
	struct waiter w = record("fresh", "anything", "r1");

	cr_assert_eq(w.job.outcome, ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT count(*) FROM accounts WHERE account_id = "
			 "'fresh'"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM grants"), 0);
}

Test(engine, grants_emit_one_event_and_replays_none)
{
	account("p1", "active");
	cr_assert_eq(run("p1", "g5", "t1"), ENGINE_GRANTED);
	cr_assert_eq(run("p1", "g5", "t1"), ENGINE_REPLAYED);
	cr_assert_eq(run("nobody", "g5", "t2"), ENGINE_INVALID_CUSTOMER);
	cr_assert_eq(record("p1", "g5", "t3").job.outcome, ENGINE_GRANTED);
	cr_assert_eq(sql("SELECT count(*) FROM events"), 1);
	cr_assert_eq(sql("SELECT count(*) FROM events WHERE type ="
			 " 'grant.created' AND account_id = 'p1' AND"
			 " json_extract(data, '$.grants[0].amount') = 5"), 1);
	/* no webhook configured: nothing queued */
	cr_assert_eq(sql("SELECT count(*) FROM outbox"), 0);
}

Test(engine, event_cursors_round_trip_and_refuse_the_rest)
{
	static const char *const bad[] = {
		"", "-", "1", "1-", "-1", "01-1", "1-01", "1-2-3", "+1-2",
		"1 -2", "9223372036854775808-0", "0-9223372036854775808",
		"99999999999999999999-0", "a-1",
	};
	char text[ENGINE_EVENTS_CURSOR_MAX];
	int64_t txid = 0, id = 0;

	engine_events_cursor_format(INT64_MAX, 0, text);
	cr_assert_eq(engine_events_cursor_parse(text, &txid, &id), 0);
	cr_assert_eq(txid, INT64_MAX);
	cr_assert_eq(id, 0);
	cr_assert_eq(engine_events_cursor_parse("7421-7425", &txid, &id), 0);
	cr_assert_eq(txid, 7421);
	cr_assert_eq(id, 7425);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(engine_events_cursor_parse(bad[i], &txid, &id), -1,
			     "%s", bad[i]);
	cr_assert(engine_event_type_known("grant.created"));
	cr_assert(!engine_event_type_known("grant.nope"));
}
