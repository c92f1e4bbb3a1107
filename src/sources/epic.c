/* sources/epic.c: Epic Games Store — players are linked by their Epic
 * account id, and entitlements map through epicEntitlement.audienceItemId. */
#include "sources/pull_int.h"

#include <stdio.h>
#include <stdlib.h>

static const enum catalog_provider namespaces[] = { CATALOG_EPIC };

static const char *const required[] = { "client_id", "client_secret", "deployment_id", "sandbox_id", NULL };

static void epic_fetch(struct pull_provider *p, struct pull_link *link,
		       struct pull_fetch *out)
{
	(void)p;
	(void)link;
	pull_fetch_fail(out, PULL_UNAVAILABLE, "epic: pulling is not built yet");
}

static enum outbox_verdict epic_report(struct pull_provider *p,
				       struct pull_link *link,
				       const char *payload,
				       const char *fulfillment_id, char *err,
				       size_t size)
{
	(void)p;
	(void)link;
	(void)payload;
	(void)fulfillment_id;
	snprintf(err, size, "epic: reporting is not built yet");
	return OUTBOX_RETRY;
}

/* ---- linking with Epic Account Services -------------------------------- */

static void epic_authorize(const struct pull_provider *p, char *out,
			   size_t size)
{
	snprintf(out, size, "%s", p->settings.authorize_url);
}

/* Exchanges the code (client credentials as HTTP Basic); the token answer
 * names the player's Epic account (account_id). */
static int epic_exchange(struct pull_provider *p, const char *code,
			 const char *verifier, const char *redirect_uri,
			 struct pull_tokens *tokens, char *user_id, size_t size,
			 char *err, size_t err_size)
{
	char *token_url = util_xasprintf("%s/token", p->settings.auth_base);
	json_t *answer = NULL;
	const char *account;
	int rc = -1;

	if (pull_code_exchange(p, token_url, true, code, verifier, redirect_uri,
			       tokens, &answer, err, err_size))
		goto out;
	account = json_string_value(json_object_get(answer, "account_id"));
	if (!account || !*account) {
		snprintf(err, err_size, "epic: code exchange: no account_id in "
			 "the token answer");
		pull_tokens_release(tokens);
		goto out;
	}
	snprintf(user_id, size, "%s", account);
	rc = 0;
out:
	json_decref(answer);
	free(token_url);
	return rc;
}

const struct source_pull pull_epic = {
	.fetch = epic_fetch,
	.report = epic_report,
	.authorize_scope = "basic_profile",
	.authorize_endpoint = epic_authorize,
	.exchange = epic_exchange,
};

const struct source source_epic = {
	.id = "epic",
	.name = "Epic Games Store",
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.linkable = true,
	.pull = &pull_epic,
	.required = required,
};
