/* engine/engine.c: submission of canonical entitlements and the exactly-once
 * fulfilment that runs inside the store's writer transaction. */
#include "engine/engine_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Provider-neutral: a source answers in its own provider's words
 * (sources/primegaming.c maps these to Prime Gaming's error codes). */
static const char *const outcome_codes[] = {
	[ENGINE_GRANTED] = "Granted",
	[ENGINE_REPLAYED] = "Replayed",
	[ENGINE_INVALID_CUSTOMER] = "UnknownAccount",
	[ENGINE_INVALID_ITEM] = "UnknownItem",
	[ENGINE_OUTSIDE_WINDOW] = "NotAvailable",
	[ENGINE_ALREADY_OWNED] = "ContentAlreadyOwned",
	[ENGINE_ACCOUNT_STATE] = "AccountStateError",
	[ENGINE_CONFLICT] = "Conflict",
	[ENGINE_STORE_ERROR] = "StoreUnavailable",
	[ENGINE_UNAVAILABLE] = "ShuttingDown",
};

const char *engine_outcome_code(enum engine_outcome o)
{
	return outcome_codes[o];
}

bool engine_outcome_ok(enum engine_outcome o)
{
	return o == ENGINE_GRANTED || o == ENGINE_REPLAYED;
}

struct engine *engine_new(const struct engine_options *opts, struct store *st,
			  struct catalog_holder *catalog)
{
	struct engine *e = util_xcalloc(1, sizeof(*e));

	e->opts = *opts;
	e->store = st;
	e->catalog = catalog;
	pthread_mutex_init(&e->sources_lock, NULL);
	pthread_mutex_init(&e->broadcasts_lock, NULL);
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->sources_lock);
	pthread_mutex_destroy(&e->broadcasts_lock);
	free(e);
}

static struct source_counts *find_source(struct engine *e, const char *source,
					 size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e->sources[i].source, source) == 0)
			return &e->sources[i];
	return NULL;
}

/* Counts an outcome; the first use of a source registers it. */
void engine_count_outcome_(struct engine *e, const char *source,
			   enum engine_outcome o)
{
	struct source_counts *sc = find_source(e, source, atomic_load(&e->n_sources));

	if (!sc) {
		pthread_mutex_lock(&e->sources_lock);
		sc = find_source(e, source, atomic_load(&e->n_sources));
		if (!sc && atomic_load(&e->n_sources) < ENGINE_MAX_SOURCES) {
			sc = &e->sources[atomic_load(&e->n_sources)];
			sc->source = source;
			atomic_fetch_add(&e->n_sources, 1);
		}
		pthread_mutex_unlock(&e->sources_lock);
	}
	if (sc)
		atomic_fetch_add_explicit(&sc->n[o], 1, memory_order_relaxed);
}

void engine_stats_each(struct engine *e, engine_stats_fn fn, void *arg)
{
	size_t n = atomic_load(&e->n_sources);

	for (size_t i = 0; i < n; i++)
		for (int o = 0; o < ENGINE_OUTCOME_COUNT; o++)
			fn(arg, e->sources[i].source, (enum engine_outcome)o,
			   atomic_load_explicit(&e->sources[i].n[o],
						memory_order_relaxed));
}

__attribute__((format(printf, 3, 4)))
static void set_outcome(struct engine_job *job, enum engine_outcome o,
			const char *fmt, ...)
{
	va_list ap;

	job->outcome = o;
	va_start(ap, fmt);
	vsnprintf(job->message, sizeof(job->message), fmt, ap);
	va_end(ap);
}

/* The fingerprint says "same request": a digest of every field a source
 * maps, NUL separated (no field can contain NUL). Sources bound their
 * fields, so they fit on the stack; longer ones take the heap. */
static void fingerprint(const struct engine_entitlement *ent,
			unsigned char out[STORE_FINGERPRINT_LEN])
{
	unsigned char md[32];
	char stack[2048], quantity[24], *buf = stack;
	const char *parts[] = { ent->source, ent->external_id, ent->account_id,
				ent->provider_item_id, quantity,
				ent->fingerprint_extra };
	/* without an extra part, the digest is what it always was */
	size_t n = ent->fingerprint_extra ? UTIL_ARRAY_LEN(parts) :
		   UTIL_ARRAY_LEN(parts) - 1;
	size_t len[UTIL_ARRAY_LEN(parts)], total = 0, at = 0;

	snprintf(quantity, sizeof(quantity), "%" PRId64, ent->quantity);
	for (size_t i = 0; i < n; i++)
		total += len[i] = strlen(parts[i]) + 1;
	if (total > sizeof(stack))
		buf = util_xmalloc(total);
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + at, parts[i], len[i]);
		at += len[i];
	}
	util_sha256(buf, total, md);
	if (buf != stack)
		free(buf);
	memcpy(out, md, STORE_FINGERPRINT_LEN);
}

static bool account_id_valid(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= STORE_ACCOUNT_ID_MAX && util_is_printable_ascii(id, n);
}

/* ---- rules, checked in order before anything is written -------------- */

static int check_account(struct store_tx *tx, struct engine_job *job)
{
	const struct engine_entitlement *ent = &job->ent;
	enum store_account_state state;
	bool found;

	if (!account_id_valid(ent->account_id)) {
		set_outcome(job, ENGINE_INVALID_CUSTOMER, "account id must be 1 to "
			    "%d printable ASCII characters", STORE_ACCOUNT_ID_MAX);
		return 0;
	}
	if (store_tx_account_get(tx, ent->account_id, &state, &found))
		return STORE_ERR;
	if (!found && job->engine_->opts.auto_create_accounts)
		job->create_account_ = true;  /* created only if granted */
	else if (!found)
		set_outcome(job, ENGINE_INVALID_CUSTOMER, "no account \"%s\" exists",
			    ent->account_id);
	else if (state != STORE_ACCOUNT_ACTIVE)
		set_outcome(job, ENGINE_ACCOUNT_STATE, "the account is %s; an "
			    "active account is required to fulfil to it",
			    store_account_state_name(state));
	return 0;
}

static void check_window(struct engine_job *job)
{
	const struct catalog_entitlement *entry = job->entry_;
	int64_t at = job->ent.received_at_ms;
	char when[25];

	if (entry->has_starts_at && at < entry->starts_at_ms) {
		util_rfc3339_format(entry->starts_at_ms, when);
		set_outcome(job, ENGINE_OUTSIDE_WINDOW, "eligibility period has "
			    "not started; it starts at %s", when);
	} else if (entry->has_ends_at && at >= entry->ends_at_ms) {
		util_rfc3339_format(entry->ends_at_ms, when);
		set_outcome(job, ENGINE_OUTSIDE_WINDOW, "eligibility period has "
			    "expired; it ended at %s", when);
	}
}

static int check_limit(struct store_tx *tx, struct engine_job *job)
{
	const struct catalog_entitlement *entry = job->entry_;
	int64_t count;

	if (entry->limit_per_account <= 0)
		return 0;
	if (store_tx_claim_count(tx, job->ent.account_id, entry->id, &count))
		return STORE_ERR;
	if (count >= entry->limit_per_account)
		set_outcome(job, ENGINE_ALREADY_OWNED, "the account already "
			    "claimed \"%s\" %" PRId64 " time(s), its limit",
			    entry->id, count);
	return 0;
}

static bool is_unique(const struct catalog_grant *g)
{
	return g->item->kind == CATALOG_INSTANCED && g->item->unique;
}

/* Decides whether unique grant i is skipped: the account owns the item, or
 * an earlier line of the same entry grants it. Gives the same answer before
 * and during granting, since earlier lines only add items they name. */
static int unique_skipped(struct store_tx *tx, const struct engine_job *job,
			  size_t i, bool *skip)
{
	const struct catalog_entitlement *entry = job->entry_;

	for (size_t j = 0; j < i; j++) {
		if (entry->grants[j].item == entry->grants[i].item) {
			*skip = true;
			return 0;
		}
	}
	return store_tx_instance_owned(tx, job->ent.account_id,
				       entry->grants[i].item->catalog_id, skip);
}

/* Lists the unique items that will be skipped as a JSON array in `skipped`
 * (left empty if none), and fails with ALREADY_OWNED if that is every
 * grant ("fulfil as much as possible" otherwise). */
static int check_owned(struct store_tx *tx, struct engine_job *job,
		       struct util_buf *skipped)
{
	const struct catalog_entitlement *entry = job->entry_;
	size_t n = 0;

	for (size_t i = 0; i < entry->n_grants; i++) {
		bool skip = false;

		if (!is_unique(&entry->grants[i]))
			continue;
		if (unique_skipped(tx, job, i, &skip))
			return STORE_ERR;
		if (!skip)
			continue;
		util_buf_puts(skipped, n++ ? "," : "[");
		util_buf_json_str(skipped, entry->grants[i].item->catalog_id);
	}
	if (n)
		util_buf_putc(skipped, ']');
	if (entry->n_grants > 0 && n == entry->n_grants)
		set_outcome(job, ENGINE_ALREADY_OWNED, "the account already owns "
			    "all content of \"%s\"", entry->id);
	return 0;
}

/* Runs the rules; leaves job->outcome ENGINE_GRANTED if all pass. */
static int evaluate(struct store_tx *tx, struct engine_job *job,
		    struct util_buf *skipped)
{
	job->outcome = ENGINE_GRANTED;
	if (check_account(tx, job))
		return STORE_ERR;
	if (job->outcome != ENGINE_GRANTED || job->ent.record_only)
		return 0;
	if (!job->entry_) {
		set_outcome(job, ENGINE_INVALID_ITEM, "\"%s\" is not in the catalog",
			    job->ent.provider_item_id);
		return 0;
	}
	check_window(job);
	if (job->outcome != ENGINE_GRANTED)
		return 0;
	if (check_limit(tx, job))
		return STORE_ERR;
	if (job->outcome != ENGINE_GRANTED)
		return 0;
	return check_owned(tx, job, skipped);
}

/* ---- writing the record and the grants -------------------------------- */

/* The entitlement as it arrived, as JSON text (owned; NULL if it cannot
 * be made): what support staff see of the request. An entitlement holds
 * no secret (a webhook's secret is its path, credentials are headers). */
static char *request_json(const struct engine_job *job)
{
	char at[25];
	json_t *j;
	char *text;

	util_rfc3339_format(job->ent.received_at_ms, at);
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}",
		      "source", job->ent.source,
		      "external_id", job->ent.external_id,
		      "account_id", job->ent.account_id,
		      "provider_item_id", job->ent.provider_item_id,
		      "quantity", (json_int_t)job->ent.quantity,
		      "received_at", at,
		      "record_only", job->ent.record_only);
	if (j && job->ent.fingerprint_extra) {
		/* the rest of the request (GAMEPOT's fields), as JSON if it is */
		json_t *d = json_loads(job->ent.fingerprint_extra,
				       JSON_DECODE_ANY, NULL);

		json_object_set_new(j, "details", d ? d :
				    json_string(job->ent.fingerprint_extra));
	}
	text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	return text;
}

static int record(struct store_tx *tx, struct engine_job *job,
		  const struct store_fulfilment_ref *ref, const char *skipped,
		  int64_t now, int64_t *row)
{
	bool ok = job->outcome == ENGINE_GRANTED;
	struct store_fulfilment_ref existing;
	char *request = request_json(job);
	int rc;
	struct store_fulfilment f = {
		.source = job->ent.source,
		.external_id = job->ent.external_id,
		.account_id = job->ent.account_id,
		.provider_item_id = job->ent.provider_item_id,
		.entitlement_id = job->entry_ ? job->entry_->id : NULL,
		.fingerprint = job->fingerprint_,
		.status = ok ? STORE_FULFILMENT_COMPLETED : STORE_FULFILMENT_FAILED,
		.error_code = ok ? NULL : engine_outcome_code(job->outcome),
		.skipped = skipped,
		.created_at_ms = now,
		.updated_at_ms = now,
		.fulfilled_at_ms = ok ? now : 0,
		.request = request,
	};

	if (ref->found) {
		memcpy(job->fulfillment_id, ref->fulfillment_id,
		       sizeof(job->fulfillment_id));
		*row = ref->row;
		rc = store_tx_fulfilment_update(tx, ref->row, &f);
	} else {
		rc = store_tx_fulfilment_claim(tx, &f, row, &existing);
		/* STORE_CONFLICT: another writer recorded it */
		if (rc == 0)
			store_fulfilment_id_format(*row, job->fulfillment_id);
	}
	free(request);
	return rc;
}

/* Grants line i of the entry; a unique item is granted once at most. Each
 * grant row takes the next ledger line number from *line, and is listed
 * in `grants` (the event's). */
static int grant_line(struct store_tx *tx, struct engine_job *job, int64_t row,
		      size_t i, int *line, json_t *grants)
{
	const struct catalog_grant *g = &job->entry_->grants[i];
	const char *account = job->ent.account_id;
	const char *catalog_id = g->item->catalog_id;
	int64_t copies = is_unique(g) ? 1 : job->ent.quantity;
	char instance_id[UTIL_UUID_LEN + 1];
	bool skip = false;

	if (g->item->kind == CATALOG_STACKABLE) {
		engine_events_grant_line_(grants, *line, catalog_id,
					  g->amount * job->ent.quantity, NULL);
		return store_tx_grant_stackable(tx, row, (*line)++, account,
						catalog_id,
						g->amount * job->ent.quantity);
	}
	if (is_unique(g) && unique_skipped(tx, job, i, &skip))
		return STORE_ERR;
	for (int64_t n = 0; n < copies && !skip; n++) {
		util_uuid7(instance_id);
		engine_events_grant_line_(grants, *line, catalog_id, 1,
					  instance_id);
		if (store_tx_grant_instance(tx, row, (*line)++, account, catalog_id,
					    instance_id, job->ent.received_at_ms))
			return STORE_ERR;
	}
	return 0;
}

/* Records the completed fulfilment, then its grants, its claim and its
 * grant.created event. */
static int grant_all(struct store_tx *tx, struct engine_job *job,
		     const struct store_fulfilment_ref *ref, const char *skipped)
{
	const struct catalog_entitlement *entry = job->entry_;
	int64_t row, now = util_now_ms();
	int line = 0;
	bool created;
	json_t *grants;
	int rc;

	/* the record first: if another writer holds its key, nothing else
	 * has been written */
	if ((rc = record(tx, job, ref, skipped, now, &row)))
		return rc;
	if (job->create_account_ &&
	    store_tx_account_put(tx, job->ent.account_id, STORE_ACCOUNT_ACTIVE,
				 util_now_ms(), &created))
		return STORE_ERR;
	if (job->ent.record_only) {
		job->recorded_only = true;
		return 0;
	}
	grants = json_array();
	for (size_t i = 0; i < entry->n_grants && rc == 0; i++)
		if (grant_line(tx, job, row, i, &line, grants))
			rc = STORE_ERR;
	if (rc == 0 && entry->limit_per_account > 0 &&
	    store_tx_claim_add(tx, job->ent.account_id, entry->id,
			       job->ent.received_at_ms))
		rc = STORE_ERR;
	if (rc == 0)
		rc = engine_events_grant_created_(tx, job, now, grants);
	json_decref(grants);
	return rc;
}

/* Answers a request whose (source, external_id) is already recorded, if the
 * record settles it: a different request conflicts, a fulfilled one is a
 * replay. Returns true if settled. */
static bool settle_existing(struct engine_job *job,
			    const struct store_fulfilment_ref *ref)
{
	if (!ref->found)
		return false;
	if (memcmp(ref->fingerprint, job->fingerprint_, STORE_FINGERPRINT_LEN) != 0) {
		set_outcome(job, ENGINE_CONFLICT, "\"%s\" was already used for a "
			    "different request", job->ent.external_id);
	} else if (ref->status == STORE_FULFILMENT_COMPLETED ||
		   ref->status == STORE_FULFILMENT_REVOKED) {
		job->outcome = ENGINE_REPLAYED;
		job->recorded_only = !ref->has_entitlement;
	} else {
		return false;  /* failed or pending: evaluate afresh */
	}
	memcpy(job->fulfillment_id, ref->fulfillment_id,
	       sizeof(job->fulfillment_id));
	return true;
}

/* Every result a job reports, as before any rule ran. */
static void reset_results(struct engine_job *job)
{
	job->outcome = ENGINE_GRANTED;
	job->message[0] = '\0';
	job->fulfillment_id[0] = '\0';
	job->recorded_only = false;
	job->create_account_ = false;
}

/* One run of a job: the existing record settles it, or the rules decide
 * and the outcome is recorded. Returns 0, STORE_CONFLICT if another writer
 * recorded the key after it was looked up (nothing written then), or
 * STORE_ERR. */
static int job_run_once(struct store_tx *tx, struct engine_job *job,
			bool record_refusal)
{
	struct store_fulfilment_ref ref;
	struct util_buf skipped;
	int64_t row;
	int rc;

	reset_results(job);  /* apply may run again (store.h) */
	if (store_tx_fulfilment_find(tx, job->ent.source, job->ent.external_id,
				     &ref))
		return STORE_ERR;
	if (settle_existing(job, &ref))
		return job->outcome == ENGINE_REPLAYED && job->also ?
		       job->also(tx, job) : 0;
	util_buf_init(&skipped, 0);
	rc = evaluate(tx, job, &skipped);
	if (rc == 0 && job->outcome != ENGINE_GRANTED)
		rc = record_refusal ? record(tx, job, &ref, NULL,
					     util_now_ms(), &row) : 0;
	else if (rc == 0)
		rc = grant_all(tx, job, &ref, skipped.len ? skipped.data : NULL);
	if (rc == 0 && job->outcome == ENGINE_GRANTED && job->also)
		rc = job->also(tx, job);
	util_buf_release(&skipped);
	return rc;
}

/* Runs one job's rules and writes in tx. A refused job is recorded as a
 * failed fulfilment if `record_refusal`, else nothing is written for it.
 * A key claimed by another writer between the lookup and the record is
 * looked up again: the job then settles as a replay or a conflict.
 * Returns 0 (the outcome in job) or a store_rc. */
int engine_job_run_(struct store_tx *tx, struct engine_job *job,
		    bool record_refusal)
{
	int rc = job_run_once(tx, job, record_refusal);

	if (rc == STORE_CONFLICT)
		rc = job_run_once(tx, job, record_refusal);
	return rc == STORE_CONFLICT ? STORE_ERR : rc;
}

static int job_apply(struct store_tx *tx, struct store_intent *in)
{
	struct engine_job *job = UTIL_CONTAINER_OF(in, struct engine_job, intent_);
	int rc = engine_job_run_(tx, job, true);

	if (rc == 0 && engine_outcome_ok(job->outcome))
		rc = engine_tx_broadcasts_deliver_(job->engine_, tx, job->catalog_,
						   job->ent.account_id);
	return rc;
}

static void job_done(struct store_intent *in, int rc)
{
	struct engine_job *job = UTIL_CONTAINER_OF(in, struct engine_job, intent_);
	void (*done)(struct engine_job *) = job->done_;

	if (rc == STORE_CLOSED) {
		set_outcome(job, ENGINE_UNAVAILABLE, "the server is shutting down; "
			    "nothing was done, retry");
		job->fulfillment_id[0] = '\0';
	} else if (rc != STORE_OK) {
		set_outcome(job, ENGINE_STORE_ERROR, "the store failed; nothing "
			    "was committed, retry");
		job->fulfillment_id[0] = '\0';
	}
	catalog_unref(job->catalog_);
	job->catalog_ = NULL;
	job->entry_ = NULL;
	engine_count_outcome_(job->engine_, job->ent.source, job->outcome);
	done(job);
}

void engine_job_prepare_(struct engine *e, struct engine_job *job,
			  struct catalog *c)
{
	UTIL_ASSERT(job->ent.quantity >= 1 &&
		    job->ent.quantity <= ENGINE_QUANTITY_MAX);
	job->engine_ = e;
	reset_results(job);
	job->entry_ = job->ent.record_only ? NULL :
		      catalog_lookup(c, job->ent.provider,
				     job->ent.provider_item_id);
	fingerprint(&job->ent, job->fingerprint_);
}

void engine_submit(struct engine *e, struct engine_job *job,
		   void (*done)(struct engine_job *job))
{
	engine_broadcasts_live(e);  /* keeps the writer's view fresh */
	job->catalog_ = catalog_holder_get(e->catalog);
	engine_job_prepare_(e, job, job->catalog_);
	job->done_ = done;
	job->intent_.apply = job_apply;
	job->intent_.done = job_done;
	job->intent_.order_key = job->ent.account_id;
	if (store_submit(e->store, &job->intent_) != STORE_OK)
		job_done(&job->intent_, STORE_CLOSED);
}
