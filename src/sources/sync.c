/* sources/sync.c: POST /v1/accounts/{account_id}/entitlements/sync — every
 * linked, enabled provider of the account at once, answered in the shape
 * of Pragma's SyncEntitlements (fulfilled and unfulfilled lists). */
#include "sources/pull_run.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One provider's part of a sync, run by a pull worker. */
struct sync_task {
	struct pull_task task;
	struct sync_run *run;
	struct pull_provider *provider;
	struct pull_link_copy link;
	struct pull_part part;
};

/* A sync in progress; the last part to finish answers. */
struct sync_run {
	struct http_request *req;
	struct pull *pull;
	atomic_size_t pending;
	size_t n;
	struct sync_task tasks[PULL_PROVIDERS_MAX];
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void add_outcomes(json_t *fulfilled, json_t *unfulfilled,
			 const struct pull_part *part)
{
	for (size_t i = 0; i < part->n; i++) {
		const struct pull_outcome *o = &part->items[i];

		if (!o->reason)
			json_array_append_new(fulfilled, json_pack(
				"{s:s, s:o, s:o, s:s}",
				"provider_id", part->provider,
				"provider_item_id", str_or_null(o->item_id),
				"provider_entitlement_id",
				str_or_null(o->entitlement_id),
				"fulfillment_id", o->fulfillment_id));
		else
			json_array_append_new(unfulfilled, json_pack(
				"{s:s, s:o, s:o, s:s}",
				"provider_id", part->provider,
				"provider_item_id", str_or_null(o->item_id),
				"provider_entitlement_id",
				str_or_null(o->entitlement_id),
				"reason", o->reason));
	}
}

static void answer(struct sync_run *run)
{
	json_t *fulfilled = json_array(), *unfulfilled = json_array();

	for (size_t i = 0; i < run->n; i++) {
		add_outcomes(fulfilled, unfulfilled, &run->tasks[i].part);
		pull_part_release(&run->tasks[i].part);
		pull_link_copy_release(&run->tasks[i].link);
	}
	http_reply_json(run->req, 200, json_pack("{s:o, s:o}", "fulfilled",
						 fulfilled, "unfulfilled",
						 unfulfilled));
	free(run);
}

static void run_part(struct pull_task *t)
{
	struct sync_task *st = UTIL_CONTAINER_OF(t, struct sync_task, task);
	struct sync_run *run = st->run;

	pull_grant_link(run->pull, st->provider, &st->link, &st->part);
	if (atomic_fetch_sub(&run->pending, 1) == 1)
		answer(run);
}

/* Collects the account's links to enabled providers as parts. */
static void collect_link(void *arg, const struct store_link *l)
{
	struct sync_run *run = arg;
	struct pull_provider *pp = pull_provider_find(run->pull, l->provider);
	struct sync_task *st;

	if (!pp || run->n == PULL_PROVIDERS_MAX)
		return;
	st = &run->tasks[run->n++];
	st->run = run;
	st->provider = pp;
	st->task.run = run_part;
	st->part.provider = pp->source->id;
	snprintf(st->link.account_id, sizeof(st->link.account_id), "%s",
		 l->account_id);
	snprintf(st->link.external_id, sizeof(st->link.external_id), "%s",
		 l->external_id);
	st->link.state = l->state;
	if (l->tokens && l->tokens_len) {
		st->link.sealed = util_xmalloc(l->tokens_len);
		memcpy(st->link.sealed, l->tokens, l->tokens_len);
		st->link.sealed_len = l->tokens_len;
	}
}

/* Replies 404 unless the account exists. Returns 0 if it does. */
static int account_exists(struct http_request *req, struct store *st,
			  const char *account_id)
{
	struct store_account acct;
	bool found;

	if (strlen(account_id) > STORE_ACCOUNT_ID_MAX ||
	    !util_is_printable_ascii(account_id, strlen(account_id))) {
		http_reply_error(req, 400, "InvalidRequest", "account_id: must "
				 "be 1 to %d printable ASCII characters",
				 STORE_ACCOUNT_ID_MAX);
		return -1;
	}
	if (store_account_read(st, account_id, &acct, &found)) {
		http_reply_error(req, 503, "StoreUnavailable", "the store "
				 "failed; retry");
		return -1;
	}
	if (!found) {
		http_reply_error(req, 404, "AccountNotFound", "no account "
				 "\"%s\" exists", account_id);
		return -1;
	}
	return 0;
}

void pull_sync_handler(struct http_request *req)
{
	struct pull *p = http_request_ctx(req);
	const char *account_id = http_request_param(req, "account_id");
	struct sync_run *run;
	size_t n;

	http_request_log_account(req, account_id);
	if (account_exists(req, p->opts.store, account_id))
		return;
	if (engine_broadcasts_deliver(p->opts.engine, account_id)) {
		http_reply_error(req, 503, "StoreUnavailable", "the store "
				 "failed; retry");
		return;
	}
	run = util_xcalloc(1, sizeof(*run));
	run->req = req;
	run->pull = p;
	if (store_links_read(p->opts.store, account_id, collect_link, run)) {
		for (size_t i = 0; i < run->n; i++)
			pull_link_copy_release(&run->tasks[i].link);
		free(run);
		http_reply_error(req, 503, "StoreUnavailable", "the store "
				 "failed; retry");
		return;
	}
	if (run->n == 0) {
		answer(run);
		return;
	}
	/* the last part to finish frees run: once the last task is queued,
	 * run is not read again (n is kept here) */
	n = run->n;
	atomic_store(&run->pending, n);
	http_request_suspend(req);
	for (size_t i = 0; i < n; i++) {
		if (pull_queue(p, &run->tasks[i].task) == 0)
			continue;
		/* shutting down: this part fails, the others finish */
		pull_part_fail(&run->tasks[i].part, "ProviderUnavailable",
			       "grantd is shutting down", true);
		/* only the last part can be the last to finish: run is
		 * freed, and nothing is left to queue */
		if (atomic_fetch_sub(&run->pending, 1) == 1) {
			answer(run);
			break;
		}
	}
}
