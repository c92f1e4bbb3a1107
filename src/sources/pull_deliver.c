/* sources/pull_deliver.c: what the pull side hands the outbox — consumption
 * reports (one at a time, or many per call for providers that take many)
 * and background syncs of one provider for one account. */
#include "sources/pull_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PULL_KIND_MAX 48

char *pull_report_wrap(const char *fulfillment_id, const char *report)
{
	json_t *r = json_loads(report, 0, NULL);

	UTIL_ASSERT(r);  /* providers write their reports as JSON */
	return pull_json_text(json_pack("{s:s, s:o}", "fulfillment_id",
					fulfillment_id, "report", r));
}

int pull_report_unwrap(const char *payload, json_t **root,
		       const char **fulfillment_id, char **report)
{
	json_t *j = json_loads(payload, 0, NULL), *r;

	*root = NULL;
	*report = NULL;
	if (!j || !(*fulfillment_id = json_string_value(json_object_get(
			    j, "fulfillment_id"))) ||
	    !(r = json_object_get(j, "report"))) {
		json_decref(j);
		return -1;
	}
	*report = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
	*root = j;
	return 0;
}

/* Delivers a consumption report: the payload is what the provider's fetch
 * wrote for the item; the link (if still there) lends its tokens. */
static enum outbox_verdict deliver_report(void *ctx,
					  const struct store_outbox_item *it,
					  char *error, size_t size)
{
	struct deliverer *d = ctx;
	struct pull_provider *pp = d->provider;
	struct pull_link_copy copy;
	struct pull_link link = { 0 };
	enum outbox_verdict v;
	bool found = false;
	const char *fid;
	char *report = NULL;
	json_t *root = NULL;

	if (!pp) {
		snprintf(error, size, "%s is not configured", d->source->id);
		return OUTBOX_RETRY;
	}
	if (it->account_id &&
	    pull_link_load(d->pull, it->account_id, pp->source->id, &copy,
			   &found)) {
		snprintf(error, size, "the store failed reading the link");
		return OUTBOX_RETRY;
	}
	if (!found)
		memset(&copy, 0, sizeof(copy));
	link.account_id = it->account_id ? it->account_id : "";
	link.external_id = copy.external_id;
	if (found && pull_tokens_open(d->pull, &copy, pp->source->id,
				      &link.tokens))
		memset(&link.tokens, 0, sizeof(link.tokens));
	if (pull_report_unwrap(it->payload, &root, &fid, &report)) {
		snprintf(error, size, "a report row that is not a report");
		v = OUTBOX_DEAD;
	} else {
		v = pp->source->pull->report(pp, &link, report, fid, error, size);
	}
	free(report);
	json_decref(root);
	if (found)
		pull_link_save(d->pull, it->account_id, pp->source->id, &link);
	pull_tokens_release(&link.tokens);
	pull_link_copy_release(&copy);
	return v;
}

/* Delivers reports of a provider that takes many per call. */
static void deliver_reports(void *ctx, const struct store_outbox_item *items,
			    size_t n, enum outbox_verdict *verdicts,
			    char *errors, size_t size)
{
	struct deliverer *d = ctx;
	const char **payloads = util_xcalloc(n, sizeof(*payloads));
	const char **fids = util_xcalloc(n, sizeof(*fids));
	char **reports = util_xcalloc(n, sizeof(*reports));
	json_t **roots = util_xcalloc(n, sizeof(json_t *));
	size_t *at = util_xcalloc(n, sizeof(*at)), m = 0;
	enum outbox_verdict *v = util_xcalloc(n, sizeof(*v));
	char *errs = util_xcalloc(n, size);

	for (size_t i = 0; i < n; i++) {
		if (!d->provider) {
			verdicts[i] = OUTBOX_RETRY;
			snprintf(errors + i * size, size, "%s is not configured",
				 d->source->id);
		} else if (pull_report_unwrap(items[i].payload, &roots[i],
					      &fids[m], &reports[i])) {
			verdicts[i] = OUTBOX_DEAD;
			snprintf(errors + i * size, size, "a report row that "
				 "is not a report");
		} else {
			payloads[m] = reports[i];
			at[m++] = i;
		}
	}
	if (m)
		d->source->pull->report_many(d->provider, payloads, fids, m, v,
					     errs, size);
	for (size_t j = 0; j < m; j++) {
		verdicts[at[j]] = v[j];
		memcpy(errors + at[j] * size, errs + j * size, size);
	}
	for (size_t i = 0; i < n; i++) {
		free(reports[i]);
		json_decref(roots[i]);
	}
	free(errs);
	free(v);
	free(at);
	free(roots);
	free(reports);
	free(fids);
	free(payloads);
}

/* Delivers a background sync of one provider for one account (after a new
 * link): the same as that provider's part of a sync call. */
static enum outbox_verdict deliver_sync(void *ctx,
					const struct store_outbox_item *it,
					char *error, size_t size)
{
	struct deliverer *d = ctx;
	struct pull_link_copy link;
	struct pull_part part = { .provider = d->source->id };
	enum outbox_verdict v = OUTBOX_DELIVERED;
	bool found;

	if (!it->account_id || !d->provider)
		return OUTBOX_DELIVERED;  /* nothing to fetch from */
	if (pull_link_load(d->pull, it->account_id, part.provider, &link,
			   &found)) {
		snprintf(error, size, "the store failed reading the link");
		return OUTBOX_RETRY;
	}
	if (!found)
		return OUTBOX_DELIVERED;  /* unlinked since: nothing to do */
	pull_grant_link(d->pull, d->provider, &link, &part);
	if (part.provider_failed) {
		snprintf(error, size, "%s", part.message);
		v = OUTBOX_RETRY;
	}
	pull_part_release(&part);
	pull_link_copy_release(&link);
	return v;
}

int pull_tx_schedule_sync(struct store_tx *tx, const char *account_id,
			  const char *provider, int64_t now_ms)
{
	char kind[PULL_KIND_MAX];
	struct store_outbox_item it = {
		.kind = kind, .dedupe_key = account_id,
		.account_id = account_id, .payload = "{}",
	};
	bool added;

	snprintf(kind, sizeof(kind), "sync.%s", provider);
	return store_tx_outbox_add(tx, &it, now_ms, &added);
}

/* Registers report.<id> and sync.<id> for source `s`, whose provider `pp`
 * is NULL if it is not enabled. */
void pull_register_kinds(struct pull *p, const struct source *s,
			   struct pull_provider *pp, struct deliverer *d)
{
	d[0] = (struct deliverer){ .pull = p, .source = s, .provider = pp };
	d[1] = d[0];
	snprintf(d[0].kind, sizeof(d[0].kind), "report.%s", s->id);
	snprintf(d[1].kind, sizeof(d[1].kind), "sync.%s", s->id);
	if (s->pull->report_many)
		outbox_register_many(p->opts.outbox, d[0].kind, deliver_reports,
				     &d[0], s->pull->report_max);
	else
		outbox_register(p->opts.outbox, d[0].kind, deliver_report, &d[0]);
	outbox_register(p->opts.outbox, d[1].kind, deliver_sync, &d[1]);
}

