/* sources/pull_link.c: the provider side of the browser link flow — which
 * providers offer it, the authorize URL a player is sent to, and the code
 * exchange run on a pull worker, ending with the provider's user id and
 * the tokens sealed for the link. */
#include "sources/pull_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PULL_ENDPOINT_MAX 2048

/* One exchange on its way through a worker. Strings owned. */
struct link_exchange {
	struct pull_task task;
	struct pull *pull;
	struct pull_provider *provider;
	char *account_id, *code, *verifier, *redirect_uri;
	pull_link_done_fn done;
	void *arg;
};

/* The provider `id` if it is enabled and has an authorize endpoint. */
static struct pull_provider *offered(struct pull *p, const char *id)
{
	struct pull_provider *pp = pull_provider_find(p, id);
	const struct source_pull *sp = pp ? pp->source->pull : NULL;

	if (!sp || !sp->authorize_endpoint || !sp->exchange)
		return NULL;
	return pp;
}

enum pull_link_offer pull_link_offer(struct pull *p, const char *provider)
{
	if (offered(p, provider))
		return PULL_LINK_OFFERED;
	return pull_provider_find(p, provider) ? PULL_LINK_NO_BROWSER :
	       PULL_LINK_NOT_ENABLED;
}

void pull_link_authorize_url(struct pull *p, const char *provider,
			     const char *redirect_uri, const char *state,
			     const char *code_challenge, struct util_buf *out)
{
	struct pull_provider *pp = offered(p, provider);
	const struct source_pull *sp;
	char endpoint[PULL_ENDPOINT_MAX];
	struct util_buf q;

	UTIL_ASSERT(pp);
	sp = pp->source->pull;
	sp->authorize_endpoint(pp, endpoint, sizeof(endpoint));
	util_buf_init(&q, 0);
	pull_form_add(&q, "client_id", pp->settings.client_id);
	pull_form_add(&q, "redirect_uri", redirect_uri);
	pull_form_add(&q, "response_type", "code");
	pull_form_add(&q, "scope", sp->authorize_scope ? sp->authorize_scope : "");
	pull_form_add(&q, "state", state);
	pull_form_add(&q, "code_challenge", code_challenge);
	pull_form_add(&q, "code_challenge_method", "S256");
	util_buf_printf(out, "%s%c%s", endpoint, strchr(endpoint, '?') ? '&' : '?',
			q.data);
	util_buf_release(&q);
}

static void exchange_free(struct link_exchange *x)
{
	free(x->account_id);
	free(x->code);
	if (x->verifier)
		memset(x->verifier, 0, strlen(x->verifier));
	free(x->verifier);
	free(x->redirect_uri);
	free(x);
}

/* Checks the provider's user id as a link identity; writes why not into
 * msg. */
static int identity_ok(const struct pull_provider *pp, const char *user_id,
		       char *msg, size_t size)
{
	char rule[PULL_MESSAGE_MAX];

	if (sources_check_external_id(pp->source, user_id, rule, sizeof(rule)) == 0)
		return 0;
	snprintf(msg, size, "%s: the provider's user id is not a valid "
		 "identity (%.120s)", pp->source->id, rule);
	return -1;
}

static void exchange_run(struct pull_task *t)
{
	struct link_exchange *x = UTIL_CONTAINER_OF(t, struct link_exchange, task);
	struct pull_provider *pp = x->provider;
	struct pull_tokens tokens = { 0 };
	char user_id[STORE_EXTERNAL_ID_MAX + 64] = "";
	char msg[PULL_MESSAGE_MAX] = "";
	struct pull_link_result r = { .message = msg };
	struct util_buf sealed;

	util_buf_init(&sealed, 0);
	if (pp->source->pull->exchange(pp, x->code, x->verifier, x->redirect_uri,
				       &tokens, user_id, sizeof(user_id), msg,
				       sizeof(msg)) == 0 &&
	    identity_ok(pp, user_id, msg, sizeof(msg)) == 0) {
		if (pull_tokens_seal(x->pull, x->account_id, pp->source->id,
				     &tokens, &sealed) == 0) {
			r.ok = true;
			r.user_id = user_id;
			r.sealed = sealed.data;
			r.sealed_len = sealed.len;
		} else {
			snprintf(msg, sizeof(msg), "%s: the tokens could not be "
				 "sealed", pp->source->id);
		}
	}
	pull_tokens_release(&tokens);
	x->done(x->arg, &r);
	util_buf_release(&sealed);
	exchange_free(x);
}

int pull_link_exchange(struct pull *p, const char *provider,
		       const char *account_id, const char *code,
		       const char *verifier, const char *redirect_uri,
		       pull_link_done_fn done, void *arg)
{
	struct pull_provider *pp = offered(p, provider);
	struct link_exchange *x;

	if (!pp)
		return -1;
	x = util_xcalloc(1, sizeof(*x));
	x->task.run = exchange_run;
	x->pull = p;
	x->provider = pp;
	x->account_id = util_xstrdup(account_id);
	x->code = util_xstrdup(code);
	x->verifier = util_xstrdup(verifier);
	x->redirect_uri = util_xstrdup(redirect_uri);
	x->done = done;
	x->arg = arg;
	if (pull_queue(p, &x->task) == 0)
		return 0;
	exchange_free(x);
	return -1;
}

void pull_outbox_kick(struct pull *p)
{
	outbox_kick(p->opts.outbox);
}
