/* sources/epic.c: Epic Games Store — players are linked by their Epic
 * account id, and entitlements map through epicEntitlement.audienceItemId. */
#include "sources/pull_int.h"

#include <stdio.h>

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

const struct source_pull pull_epic = {
	.fetch = epic_fetch,
	.report = epic_report,
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
