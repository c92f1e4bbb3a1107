/* engine/group.c: several entitlements granted together — in one
 * transaction, every one or none (a coupon's items). */
#include "engine/engine_int.h"

#include <string.h>

int engine_tx_group_run_(struct store_tx *tx, struct engine_job *jobs,
			 size_t n, enum engine_outcome *outcome, size_t *failed)
{
	bool granted = false;

	*failed = 0;
	if (store_tx_savepoint(tx))
		return STORE_ERR;
	for (size_t i = 0; i < n; i++) {
		if (engine_job_run_(tx, &jobs[i], false))
			return STORE_ERR;  /* the intent fails: all undone */
		if (!engine_outcome_ok(jobs[i].outcome)) {
			*outcome = jobs[i].outcome;
			*failed = i;
			return store_tx_savepoint_rollback(tx);
		}
		granted |= jobs[i].outcome == ENGINE_GRANTED;
	}
	*outcome = granted ? ENGINE_GRANTED : ENGINE_REPLAYED;
	return store_tx_savepoint_release(tx);
}

static int group_apply(struct store_tx *tx, struct store_intent *in)
{
	struct engine_group *g = UTIL_CONTAINER_OF(in, struct engine_group,
						   intent_);
	int rc = engine_tx_group_run_(tx, g->jobs, g->n, &g->outcome,
				      &g->failed);

	if (rc == 0 && engine_outcome_ok(g->outcome))
		rc = engine_tx_broadcasts_deliver_(g->engine_, tx, g->catalog_,
						   g->jobs[0].ent.account_id);
	return rc;
}

static void group_done(struct store_intent *in, int rc)
{
	struct engine_group *g = UTIL_CONTAINER_OF(in, struct engine_group,
						   intent_);

	if (rc == STORE_CLOSED)
		g->outcome = ENGINE_UNAVAILABLE;
	else if (rc != STORE_OK)
		g->outcome = ENGINE_STORE_ERROR;
	if (rc != STORE_OK)
		for (size_t i = 0; i < g->n; i++)
			g->jobs[i].fulfillment_id[0] = '\0';
	catalog_unref(g->catalog_);
	g->catalog_ = NULL;
	for (size_t i = 0; i < g->n; i++)
		g->jobs[i].entry_ = NULL;
	engine_count_outcome_(g->engine_, g->jobs[0].ent.source, g->outcome);
	g->done_(g);
}

void engine_submit_group(struct engine *e, struct engine_group *g,
			 void (*done)(struct engine_group *g))
{
	UTIL_ASSERT(g->n >= 1);
	engine_broadcasts_live(e);
	g->engine_ = e;
	g->done_ = done;
	g->outcome = ENGINE_GRANTED;
	g->failed = 0;
	g->catalog_ = catalog_holder_get(e->catalog);
	for (size_t i = 0; i < g->n; i++)
		engine_job_prepare_(e, &g->jobs[i], g->catalog_);
	g->intent_.apply = group_apply;
	g->intent_.done = group_done;
	g->intent_.order_key = g->jobs[0].ent.account_id;
	if (store_submit(e->store, &g->intent_) != STORE_OK)
		group_done(&g->intent_, STORE_CLOSED);
}
