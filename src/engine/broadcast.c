/* engine/broadcast.c: grants to every account — stored once, then granted
 * to each active account exactly once (all lines or none) on its next
 * fulfilment, sync or inventory read, until they expire. */
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include <string.h>

#include "ops/ops.h"

/* Raises the engine's view of the latest expiry to at least `until`. */
static void until_raise(struct engine *e, int64_t until)
{
	long long cur = atomic_load(&e->broadcasts_until_ms);

	while (cur < until &&
	       !atomic_compare_exchange_weak(&e->broadcasts_until_ms, &cur, until))
		;
}

bool engine_broadcasts_live(struct engine *e)
{
	int64_t now = util_now_ms(), until;

	if (now - atomic_load(&e->broadcasts_read_ms) >=
	    ENGINE_BROADCASTS_REFRESH_MS &&
	    pthread_mutex_trylock(&e->broadcasts_lock) == 0) {
		if (store_broadcasts_until(e->store, &until) == STORE_OK) {
			atomic_store(&e->broadcasts_until_ms, until);
			atomic_store(&e->broadcasts_read_ms, now);
		}
		pthread_mutex_unlock(&e->broadcasts_lock);
	}
	return atomic_load(&e->broadcasts_until_ms) > now;
}

/* ---- storing one ------------------------------------------------------ */

/* The lines as stored: [{"item": "...", "quantity": n}, …] (owned). */
static char *lines_json(const struct engine_broadcast *b)
{
	json_t *a = json_array();
	char *text;

	for (size_t i = 0; i < b->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:I}", "item",
			b->lines[i].provider_item_id, "quantity",
			(json_int_t)b->lines[i].quantity));
	text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	if (!text)
		util_bug(__FILE__, __LINE__, "broadcast lines");
	return text;
}

/* Refuses a broadcast a line of which maps to nothing. */
static bool lines_known(struct engine_broadcast *b, const struct catalog *c)
{
	for (size_t i = 0; i < b->n; i++) {
		if (catalog_lookup(c, b->provider, b->lines[i].provider_item_id))
			continue;
		b->outcome = ENGINE_INVALID_ITEM;
		snprintf(b->message, sizeof(b->message), "\"%s\" is not in the "
			 "catalog (%s)", b->lines[i].provider_item_id,
			 catalog_namespace_path(b->provider));
		return false;
	}
	return true;
}

static int broadcast_apply(struct store_tx *tx, struct store_intent *in)
{
	struct engine_broadcast *b = UTIL_CONTAINER_OF(in, struct engine_broadcast,
						       intent_);
	char *lines = lines_json(b);
	bool created = false;
	int rc = store_tx_broadcast_add(tx, &(struct store_broadcast){
		.source = b->source, .external_id = b->external_id,
		.namespace_ = catalog_namespace_path(b->provider),
		.lines = lines, .detail = b->detail,
		.created_at_ms = util_now_ms(), .expires_at_ms = b->expires_at_ms,
	}, &created);

	free(lines);
	b->outcome = created ? ENGINE_GRANTED : ENGINE_REPLAYED;
	if (rc == 0 && created && b->also)
		rc = b->also(tx, b);
	return rc;
}

static void broadcast_done(struct store_intent *in, int rc)
{
	struct engine_broadcast *b = UTIL_CONTAINER_OF(in, struct engine_broadcast,
						       intent_);

	if (rc == STORE_CLOSED) {
		b->outcome = ENGINE_UNAVAILABLE;
		snprintf(b->message, sizeof(b->message), "the server is shutting "
			 "down; nothing was done, retry");
	} else if (rc != STORE_OK) {
		b->outcome = ENGINE_STORE_ERROR;
		snprintf(b->message, sizeof(b->message), "the store failed; "
			 "nothing was committed, retry");
	} else {
		until_raise(b->engine_, b->expires_at_ms);
	}
	engine_count_outcome_(b->engine_, b->source, b->outcome);
	b->done_(b);
}

void engine_submit_broadcast(struct engine *e, struct engine_broadcast *b,
			     void (*done)(struct engine_broadcast *b))
{
	struct catalog *c = catalog_holder_get(e->catalog);
	bool known = lines_known(b, c);

	catalog_unref(c);
	b->engine_ = e;
	b->done_ = done;
	b->message[0] = '\0';
	if (!known) {
		done(b);
		return;
	}
	if (b->expires_at_ms <= util_now_ms()) {
		b->outcome = ENGINE_OUTSIDE_WINDOW;
		snprintf(b->message, sizeof(b->message), "the broadcast expired "
			 "before it arrived");
		done(b);
		return;
	}
	b->intent_.apply = broadcast_apply;
	b->intent_.done = broadcast_done;
	if (store_submit(e->store, &b->intent_) != STORE_OK)
		broadcast_done(&b->intent_, STORE_CLOSED);
}

/* ---- granting them to an account -------------------------------------- */

struct deliver_ctx {
	struct engine *engine;
	struct store_tx *tx;
	struct catalog *catalog;
	const char *account_id;
	int64_t now_ms;
};

static int namespace_of(const char *path, enum catalog_provider *out)
{
	for (int p = 0; p < CATALOG_PROVIDER_COUNT; p++) {
		if (strcmp(catalog_namespace_path((enum catalog_provider)p),
			   path) == 0) {
			*out = (enum catalog_provider)p;
			return 0;
		}
	}
	return -1;
}

/* The fulfilment key of line `i` for the account: "gift:" and the hex
 * SHA-256 of "<broadcast key>/<i>/<account>" (fits any account id). */
static void line_key(const char *bkey, size_t i, const char *account,
		     char out[STORE_EXTERNAL_ID_MAX + 1])
{
	char hex[65], *text = util_xasprintf("%s/%zu/%s", bkey, i, account);

	util_sha256_hex(text, strlen(text), hex);
	free(text);
	snprintf(out, STORE_EXTERNAL_ID_MAX + 1, "gift:%s", hex);
}

/* One broadcast's lines as jobs for an account, with the storage their
 * strings borrow from. */
struct line_jobs {
	struct engine_job *jobs;
	char (*keys)[STORE_EXTERNAL_ID_MAX + 1];
	json_t *lines;
	size_t n;
};

static void line_jobs_free(struct line_jobs *lj)
{
	free(lj->jobs);
	free(lj->keys);
	json_decref(lj->lines);
}

/* Fills lj (release it with line_jobs_free, whatever the result).
 * Returns 0, or -1 if the stored lines do not read back. */
static int line_jobs_make(const struct store_broadcast *b,
			  const struct deliver_ctx *ctx, struct line_jobs *lj)
{
	enum catalog_provider ns;
	json_t *line;
	size_t i;

	memset(lj, 0, sizeof(*lj));
	if (namespace_of(b->namespace_, &ns) ||
	    !(lj->lines = json_loads(b->lines, 0, NULL)) ||
	    !json_is_array(lj->lines) || json_array_size(lj->lines) == 0)
		return -1;
	lj->n = json_array_size(lj->lines);
	lj->jobs = util_xcalloc(lj->n, sizeof(*lj->jobs));
	lj->keys = util_xcalloc(lj->n, sizeof(*lj->keys));
	json_array_foreach(lj->lines, i, line) {
		const char *item = json_string_value(json_object_get(line, "item"));
		json_int_t q = json_integer_value(json_object_get(line, "quantity"));

		if (!item || q < 1 || q > ENGINE_QUANTITY_MAX)
			return -1;
		line_key(b->external_id, i, ctx->account_id, lj->keys[i]);
		lj->jobs[i].ent = (struct engine_entitlement){
			.source = b->source, .provider = ns,
			.external_id = lj->keys[i], .account_id = ctx->account_id,
			.provider_item_id = item, .quantity = q,
			.received_at_ms = ctx->now_ms,
		};
	}
	return 0;
}

/* Grants one broadcast to the account, all lines or none, and records
 * that it had it. A refusal (an item no longer in the catalog) leaves it
 * pending. */
static int deliver_one(void *arg, const struct store_broadcast *b)
{
	struct deliver_ctx *ctx = arg;
	struct line_jobs lj;
	enum engine_outcome outcome;
	size_t failed;
	int rc = 0;

	if (line_jobs_make(b, ctx, &lj)) {
		ops_log(OPS_LOG_WARN, "broadcast_unreadable", "broadcast %lld "
			"(%s) has lines grantd cannot read; skipped",
			(long long)b->id, b->external_id);
		goto out;
	}
	for (size_t i = 0; i < lj.n; i++)
		engine_job_prepare_(ctx->engine, &lj.jobs[i], ctx->catalog);
	rc = engine_tx_group_run_(ctx->tx, lj.jobs, lj.n, &outcome, &failed);
	if (rc)
		goto out;
	if (engine_outcome_ok(outcome)) {
		rc = store_tx_broadcast_delivered(ctx->tx, b->id, ctx->account_id,
						  ctx->now_ms);
		goto out;
	}
	ops_log(OPS_LOG_DEBUG, "broadcast_refused", "broadcast %lld to %s: "
		"%s: %s", (long long)b->id, ctx->account_id,
		engine_outcome_code(outcome), lj.jobs[failed].message);
out:
	line_jobs_free(&lj);
	return rc;
}

int engine_tx_broadcasts_deliver_(struct engine *e, struct store_tx *tx,
				  struct catalog *c, const char *account_id)
{
	int64_t until = atomic_load(&e->broadcasts_until_ms);
	struct deliver_ctx ctx = {
		.engine = e, .tx = tx, .catalog = c, .account_id = account_id,
	};
	enum store_account_state state;
	bool found;

	if (until == 0)
		return 0;   /* no broadcast at all: the common case, no clock */
	ctx.now_ms = util_now_ms();
	if (until <= ctx.now_ms)
		return 0;
	if (store_tx_account_get(tx, account_id, &state, &found))
		return STORE_ERR;
	if (!found || state != STORE_ACCOUNT_ACTIVE)
		return 0;
	return store_tx_broadcasts_pending(tx, account_id, ctx.now_ms,
					   deliver_one, &ctx);
}

struct deliver_run {
	struct engine *engine;
	struct catalog *catalog;
	const char *account_id;
};

static int deliver_apply(struct store_tx *tx, void *arg)
{
	struct deliver_run *r = arg;

	return engine_tx_broadcasts_deliver_(r->engine, tx, r->catalog,
					     r->account_id);
}

int engine_broadcasts_deliver(struct engine *e, const char *account_id)
{
	struct deliver_run r = { .engine = e, .account_id = account_id };
	bool any = false;
	int rc;

	if (!engine_broadcasts_live(e))
		return 0;
	rc = store_broadcasts_pending_any(e->store, account_id, util_now_ms(),
					  &any);
	if (rc || !any)
		return rc;
	r.catalog = catalog_holder_get(e->catalog);
	rc = store_run(e->store, deliver_apply, &r);
	catalog_unref(r.catalog);
	return rc;
}
