/* sources/pull.c: the pull runtime — enabled providers, the worker threads
 * syncs run on, sealed link tokens, the outbox deliverers of consumption
 * reports and background syncs, and the Twitch poller. */
#include "sources/pull_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

#define PULL_WORKERS_DEFAULT 8
#define PULL_KIND_MAX 48

/* ---- which providers are on ------------------------------------------- */

/* The settings field named `name` ("client_id"), or NULL. */
static const char *setting(const struct pull_settings *ps, const char *name)
{
	static const struct { const char *name; size_t off; } fields[] = {
#define F(x) { #x, offsetof(struct pull_settings, x) }
		F(client_id), F(client_secret), F(game_id), F(deployment_id),
		F(sandbox_id), F(publisher_key), F(app_id),
#undef F
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(fields); i++)
		if (strcmp(fields[i].name, name) == 0)
			return *(const char *const *)((const char *)ps +
						      fields[i].off);
	return NULL;
}

size_t sources_pull_missing(const struct source *s,
			    const struct pull_settings *ps,
			    const char **missing, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; s->required && s->required[i]; i++) {
		const char *v = ps ? setting(ps, s->required[i]) : NULL;

		if (v && *v)
			continue;
		if (n < max)
			missing[n] = s->required[i];
		n++;
	}
	return n;
}

bool sources_pull_enabled(const struct source *s, const struct pull_settings *ps)
{
	const char *ignored[1];

	return s->pull && ps && s->required &&
	       sources_pull_missing(s, ps, ignored, 0) == 0;
}

struct pull_provider *pull_provider_find(struct pull *p, const char *id)
{
	for (size_t i = 0; i < p->n_providers; i++)
		if (strcmp(p->providers[i].source->id, id) == 0)
			return &p->providers[i];
	return NULL;
}

size_t pull_enabled(const struct pull *p, const char **ids, size_t max)
{
	for (size_t i = 0; i < p->n_providers && i < max; i++)
		ids[i] = p->providers[i].source->id;
	return p->n_providers;
}

/* ---- links and their sealed tokens ------------------------------------- */

void pull_link_copy_release(struct pull_link_copy *l)
{
	free(l->sealed);
	l->sealed = NULL;
	l->sealed_len = 0;
}

struct link_find {
	const char *provider;
	struct pull_link_copy *out;
	bool found;
};

static void link_found(void *arg, const struct store_link *l)
{
	struct link_find *f = arg;

	if (strcmp(l->provider, f->provider) != 0)
		return;
	f->found = true;
	snprintf(f->out->account_id, sizeof(f->out->account_id), "%s",
		 l->account_id);
	snprintf(f->out->external_id, sizeof(f->out->external_id), "%s",
		 l->external_id);
	f->out->state = l->state;
	if (l->tokens && l->tokens_len) {
		f->out->sealed = util_xmalloc(l->tokens_len);
		memcpy(f->out->sealed, l->tokens, l->tokens_len);
		f->out->sealed_len = l->tokens_len;
	}
}

int pull_link_load(struct pull *p, const char *account_id, const char *provider,
		   struct pull_link_copy *out, bool *found)
{
	struct link_find f = { provider, out, false };

	memset(out, 0, sizeof(*out));
	if (store_links_read(p->opts.store, account_id, link_found, &f)) {
		pull_link_copy_release(out);
		return -1;
	}
	*found = f.found;
	return 0;
}

/* The additional data a link's sealed tokens are bound to: a blob copied
 * to another account or provider does not open. */
static char *token_aad(const char *account_id, const char *provider)
{
	return util_xasprintf("grantd link tokens\n%s\n%s", provider, account_id);
}

int pull_tokens_open(struct pull *p, const struct pull_link_copy *l,
		     const char *provider, struct pull_tokens *t)
{
	char *aad = token_aad(l->account_id, provider);
	struct util_buf plain;
	json_t *j = NULL;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	util_buf_init(&plain, 0);
	if (!l->sealed) {
		rc = 0;
		goto out;
	}
	if (util_unseal(p->token_key, aad, strlen(aad), l->sealed, l->sealed_len,
			&plain))
		goto out;
	j = json_loadb(plain.data ? plain.data : "", plain.len, 0, NULL);
	if (!j || pull_tokens_from_json(j, t))
		goto out;
	t->expires_at_ms = json_integer_value(json_object_get(j, "expires_at_ms"));
	rc = 0;
out:
	json_decref(j);
	if (plain.data)
		memset(plain.data, 0, plain.len);
	util_buf_release(&plain);
	free(aad);
	return rc;
}

int pull_tokens_seal(struct pull *p, const char *account_id,
		     const char *provider, const struct pull_tokens *t,
		     struct util_buf *out)
{
	json_t *j = json_pack("{s:s, s:s?, s:I}", "access_token", t->access,
			      "refresh_token", t->refresh, "expires_at_ms",
			      (json_int_t)t->expires_at_ms);
	char *text = json_dumps(j, JSON_COMPACT);
	char *aad = token_aad(account_id, provider);
	int rc = util_seal(p->token_key, aad, strlen(aad), text, strlen(text),
			   out);

	memset(text, 0, strlen(text));
	free(text);
	free(aad);
	json_decref(j);
	return rc;
}

/* ---- the workers -------------------------------------------------------- */

int pull_queue(struct pull *p, struct pull_task *t)
{
	int rc = -1;

	pthread_mutex_lock(&p->lock);
	if (!p->stopping) {
		t->next_ = NULL;
		if (p->tail)
			p->tail->next_ = t;
		else
			p->head = t;
		p->tail = t;
		pthread_cond_signal(&p->cond);
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void *worker_main(void *arg)
{
	struct pull *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct pull_task *t = p->head;

		if (!t && p->stopping)
			break;
		if (!t) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		p->head = t->next_;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		t->run(t);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- outbox deliverers ------------------------------------------------- */

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
	json_t **roots = util_xcalloc(n, sizeof(*roots));
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

/* ---- Twitch polling ----------------------------------------------------- */

/* The items of one provider user the poller found, with the account that
 * user is linked to. */
static void poll_grant_user(struct pull *p, struct pull_provider *pp,
			    const char *user_id, struct pull_fetch *items)
{
	char account[STORE_ACCOUNT_ID_MAX + 1];
	struct pull_part part = { .provider = pp->source->id };
	bool found;

	if (store_link_holder_read(p->opts.store, pp->source->id, user_id,
				   account, sizeof(account), &found) || !found)
		return;  /* not linked: left claimed until the player links */
	pull_grant_items(p, pp, account, items, &part);
	pull_part_release(&part);
}

/* One poll: every open entitlement of the game, by provider user. */
static void poll_once(struct pull *p, struct pull_provider *pp)
{
	struct pull_fetch all = { 0 };

	pp->source->pull->poll(pp, &all);
	if (all.status != PULL_OK) {
		ops_log(OPS_LOG_WARN, "poll_failed", "%s", all.message);
		pull_fetch_release(&all);
		return;
	}
	for (size_t i = 0; i < all.n; i++) {
		struct pull_fetch mine = { 0 };
		const char *user = all.items[i].user_id;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(all.items[j].user_id, user) == 0;
		if (seen)
			continue;
		for (size_t j = i; j < all.n; j++)
			if (strcmp(all.items[j].user_id, user) == 0)
				pull_fetch_add(&mine, all.items[j].entitlement_id,
					       all.items[j].item_id,
					       all.items[j].ns,
					       all.items[j].quantity,
					       all.items[j].report);
		poll_grant_user(p, pp, user, &mine);
		pull_fetch_release(&mine);
	}
	pull_fetch_release(&all);
}

static void *poller_main(void *arg)
{
	struct pull *p = arg;
	struct pull_provider *pp = pull_provider_find(p, "twitch");
	int64_t every = pp->settings.poll_interval_seconds * 1000;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct timespec until;

		pthread_mutex_unlock(&p->lock);
		poll_once(p, pp);
		pthread_mutex_lock(&p->lock);
		util_deadline_in(&until, (int)every);
		while (!p->stopping &&
		       pthread_cond_timedwait(&p->poll_cond, &p->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

/* Registers report.<id> and sync.<id> for source `s`, whose provider `pp`
 * is NULL if it is not enabled. */
static void register_kinds(struct pull *p, const struct source *s,
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

/* Stores what a call changed of a link: refreshed tokens, or the
 * provider's refusal of them (relink_required). */
struct link_save {
	const char *account_id;
	const char *provider;
	struct util_buf sealed;
	bool relink;
};

static int link_save_apply(struct store_tx *tx, void *arg)
{
	struct link_save *ls = arg;
	int64_t now = util_now_ms();
	bool found;

	if (ls->relink)
		return store_tx_link_state_set(tx, ls->account_id, ls->provider,
					       STORE_LINK_RELINK_REQUIRED, now,
					       &found);
	return store_tx_link_tokens_set(tx, ls->account_id, ls->provider,
					ls->sealed.data, ls->sealed.len, now,
					&found);
}

void pull_link_save(struct pull *p, const char *account_id,
		    const char *provider, const struct pull_link *link)
{
	struct link_save ls = { account_id, provider, { 0 },
				link->relink_required };

	if (!link->tokens_changed && !link->relink_required)
		return;
	util_buf_init(&ls.sealed, 0);
	if (!ls.relink && pull_tokens_seal(p, account_id, provider,
					   &link->tokens, &ls.sealed)) {
		ops_log(OPS_LOG_ERROR, "link_tokens_seal_failed", "%s", provider);
	} else if (store_run(p->opts.store, link_save_apply, &ls)) {
		ops_log(OPS_LOG_ERROR, "link_save_failed", "%s: the store "
			"failed", provider);
	} else if (ls.relink) {
		ops_log(OPS_LOG_WARN, "link_relink_required", "%s refused the "
			"stored tokens of account %s; the player must link again",
			provider, account_id);
	}
	util_buf_release(&ls.sealed);
}

static int start_threads(struct pull *p)
{
	struct pull_provider *tw = pull_provider_find(p, "twitch");

	p->workers = util_xcalloc((size_t)p->n_workers, sizeof(*p->workers));
	for (int i = 0; i < p->n_workers; i++) {
		if (pthread_create(&p->workers[i], NULL, worker_main, p)) {
			p->n_workers = i;
			return -1;
		}
		pthread_setname_np(p->workers[i], "grantd-pull");
	}
	if (!tw || tw->settings.poll_interval_seconds <= 0 || !tw->source->pull->poll)
		return 0;
	if (pthread_create(&p->poller, NULL, poller_main, p))
		return -1;
	pthread_setname_np(p->poller, "grantd-poll");
	p->polling = true;
	return 0;
}

static void add_provider(struct pull *p, const struct source *s,
			 const struct pull_settings *ps)
{
	struct pull_provider *pp = &p->providers[p->n_providers++];

	pp->source = s;
	pp->settings = *ps;
	pp->outbound = p->opts.outbound;
	pp->catalog = p->opts.catalog;
	pthread_mutex_init(&pp->lock, NULL);
}

int pull_new(const struct pull_options *opts, struct pull **out, char **err)
{
	struct pull *p = util_xcalloc(1, sizeof(*p));
	size_t n;
	const struct source *const *all = sources_all(&n);

	p->opts = *opts;
	memcpy(p->token_key, opts->token_key, UTIL_SEAL_KEY_LEN);
	p->n_workers = opts->workers > 0 ? opts->workers : PULL_WORKERS_DEFAULT;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_cond_init(&p->poll_cond, NULL);
	for (size_t i = 0; i < n && p->n_providers < PULL_PROVIDERS_MAX; i++) {
		struct pull_provider *pp = NULL;

		if (!all[i]->pull)
			continue;
		if (sources_pull_enabled(all[i], opts->settings[i])) {
			add_provider(p, all[i], opts->settings[i]);
			pp = &p->providers[p->n_providers - 1];
		}
		register_kinds(p, all[i], pp, &p->deliverers[p->n_deliverers]);
		p->n_deliverers += 2;
	}
	if (start_threads(p)) {
		*err = util_xstrdup("cannot start the pull threads");
		pull_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void pull_free(struct pull *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_cond_broadcast(&p->poll_cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->n_workers; i++)
		pthread_join(p->workers[i], NULL);
	if (p->polling)
		pthread_join(p->poller, NULL);
	for (size_t i = 0; i < p->n_providers; i++) {
		free(p->providers[i].app_token);
		pthread_mutex_destroy(&p->providers[i].lock);
	}
	free(p->workers);
	pthread_cond_destroy(&p->poll_cond);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	memset(p->token_key, 0, sizeof(p->token_key));
	free(p);
}
