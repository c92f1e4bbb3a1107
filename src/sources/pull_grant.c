/* sources/pull_grant.c: one provider's part of a sync — fetch a link's
 * open entitlements, run each through the engine with its consumption
 * report written in the same transaction, and say what became of each. */
#include "sources/pull_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

/* One entitlement on its way through the engine. */
struct grant_job {
	struct engine_job job;
	struct grant_batch *batch;
	const struct pull_item *item;
	char kind[48];
};

/* The jobs of one part, waited for together. */
struct grant_batch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t pending;
	const char *account_id;
};

void pull_part_release(struct pull_part *part)
{
	for (size_t i = 0; i < part->n; i++) {
		free(part->items[i].entitlement_id);
		free(part->items[i].item_id);
	}
	free(part->items);
	part->items = NULL;
	part->n = part->cap = 0;
}

static struct pull_outcome *part_add(struct pull_part *part, const char *ent_id,
				     const char *item_id, const char *reason)
{
	struct pull_outcome *o;

	if (part->n == part->cap) {
		part->cap = part->cap ? 2 * part->cap : 8;
		part->items = util_xrealloc(part->items,
					    part->cap * sizeof(*part->items));
	}
	o = &part->items[part->n++];
	o->entitlement_id = ent_id ? util_xstrdup(ent_id) : NULL;
	o->item_id = item_id ? util_xstrdup(item_id) : NULL;
	o->reason = reason;
	o->fulfillment_id[0] = '\0';
	return o;
}

/* The consumption report, committed with the grant (engine_job.also). */
static int add_report(struct store_tx *tx, struct engine_job *job)
{
	struct grant_job *g = UTIL_CONTAINER_OF(job, struct grant_job, job);
	char *payload = pull_report_wrap(job->fulfillment_id, g->item->report);
	struct store_outbox_item it = {
		.kind = g->kind,
		.dedupe_key = g->item->entitlement_id,
		.account_id = g->batch->account_id,
		.payload = payload,
	};
	bool added;
	int rc = store_tx_outbox_add(tx, &it, util_now_ms(), &added);

	free(payload);
	return rc;
}

static void job_done(struct engine_job *job)
{
	struct grant_job *g = UTIL_CONTAINER_OF(job, struct grant_job, job);
	struct grant_batch *b = g->batch;

	pthread_mutex_lock(&b->lock);
	if (--b->pending == 0)
		pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* The sync answer's reason for an outcome the engine refused. */
static const char *reason_of(enum engine_outcome o)
{
	switch (o) {
	case ENGINE_INVALID_CUSTOMER:
	case ENGINE_ACCOUNT_STATE:
		return "AccountStateError";
	case ENGINE_INVALID_ITEM:
		return "UnknownItem";
	case ENGINE_ALREADY_OWNED:
		return "ContentAlreadyOwned";
	default:
		return engine_outcome_code(o);
	}
}

void pull_grant_items(struct pull *p, struct pull_provider *pp,
		      const char *account_id, struct pull_fetch *items,
		      struct pull_part *out)
{
	struct grant_job *jobs = util_xcalloc(items->n ? items->n : 1,
					      sizeof(*jobs));
	struct grant_batch b = { .pending = items->n, .account_id = account_id };
	int64_t now = util_now_ms();

	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond, NULL);
	for (size_t i = 0; i < items->n; i++) {
		struct grant_job *g = &jobs[i];
		const struct pull_item *it = &items->items[i];

		g->batch = &b;
		g->item = it;
		snprintf(g->kind, sizeof(g->kind), "report.%s", pp->source->id);
		g->job.ent = (struct engine_entitlement){
			.source = pp->source->id, .provider = it->ns,
			.external_id = it->entitlement_id,
			.account_id = account_id,
			.provider_item_id = it->item_id,
			.quantity = it->quantity, .received_at_ms = now,
		};
		g->job.also = it->report ? add_report : NULL;
		engine_submit(p->opts.engine, &g->job, job_done);
	}
	pthread_mutex_lock(&b.lock);
	while (b.pending)
		pthread_cond_wait(&b.cond, &b.lock);
	pthread_mutex_unlock(&b.lock);
	for (size_t i = 0; i < items->n; i++) {
		const struct engine_job *j = &jobs[i].job;
		bool ok = engine_outcome_ok(j->outcome);
		struct pull_outcome *o = part_add(out, j->ent.external_id,
						  j->ent.provider_item_id,
						  ok ? NULL : reason_of(j->outcome));

		memcpy(o->fulfillment_id, j->fulfillment_id,
		       sizeof(o->fulfillment_id));
	}
	if (items->n)
		outbox_kick(p->opts.outbox);
	pthread_cond_destroy(&b.cond);
	pthread_mutex_destroy(&b.lock);
	free(jobs);
}

void pull_part_fail(struct pull_part *out, const char *reason,
		    const char *message, bool retry)
{
	part_add(out, NULL, NULL, reason);
	snprintf(out->message, sizeof(out->message), "%s", message);
	out->provider_failed = retry;
}

static void log_fetch_failed(const struct pull_provider *pp,
			     const char *account_id, const char *message)
{
	struct ops_log_line l;

	if (!ops_log_begin(&l, OPS_LOG_WARN, "pull_fetch_failed"))
		return;
	ops_log_str(&l, "provider", pp->source->id);
	ops_log_str(&l, "account", account_id);
	ops_log_str(&l, "msg", message);
	ops_log_end(&l);
}

void pull_grant_link(struct pull *p, struct pull_provider *pp,
		     const struct pull_link_copy *link, struct pull_part *out)
{
	struct pull_fetch f = { 0 };
	struct pull_link l = {
		.account_id = link->account_id,
		.external_id = link->external_id,
	};

	if (link->state == STORE_LINK_RELINK_REQUIRED) {
		pull_part_fail(out, "RelinkRequired", "the link needs the "
				"player to link again", false);
		return;
	}
	if (pull_tokens_open(p, link, pp->source->id, &l.tokens)) {
		l.relink_required = true;
		pull_link_save(p, link->account_id, pp->source->id, &l);
		pull_part_fail(out, "RelinkRequired", "the stored tokens do "
				"not open with the token key", false);
		return;
	}
	pp->source->pull->fetch(pp, &l, &f);
	pull_link_save(p, link->account_id, pp->source->id, &l);
	if (f.status == PULL_RELINK_REQUIRED || l.relink_required)
		pull_part_fail(out, "RelinkRequired", f.message, false);
	else if (f.status != PULL_OK)
		pull_part_fail(out, "ProviderUnavailable", f.message, true);
	else
		pull_grant_items(p, pp, link->account_id, &f, out);
	if (f.status != PULL_OK)
		log_fetch_failed(pp, link->account_id, f.message);
	pull_tokens_release(&l.tokens);
	pull_fetch_release(&f);
}
