/* sources/pull.c: the pull runtime — enabled providers, the worker threads
 * syncs run on, sealed link tokens, and start and stop (the outbox
 * deliverers are in pull_deliver.c, the Twitch poller in pull_poll.c). */
#include "sources/pull_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

#define PULL_WORKERS_DEFAULT 32

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
		snprintf(t->trace_, sizeof(t->trace_), "%s", util_trace_get());
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
		/* run may free t: the id is set from it first */
		util_trace_set(t->trace_);
		t->run(t);
		util_trace_set(NULL);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

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
	if (pthread_create(&p->poller, NULL, pull_poller_main, p))
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
		pull_register_kinds(p, all[i], pp, &p->deliverers[p->n_deliverers]);
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

void pull_stop(struct pull *p)
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
	p->n_workers = 0;
	if (p->polling)
		pthread_join(p->poller, NULL);
	p->polling = false;
}

void pull_free(struct pull *p)
{
	if (!p)
		return;
	pull_stop(p);
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
