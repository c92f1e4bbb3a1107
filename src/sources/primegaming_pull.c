/* sources/primegaming_pull.c: Prime Gaming's pull integration — players
 * link their Amazon account through Login with Amazon; their open
 * entitlements are read with the player's token and reported fulfilled
 * one by one. */
#include "sources/pull_int.h"

#include <stdio.h>

static void primegaming_fetch(struct pull_provider *p, struct pull_link *link,
		       struct pull_fetch *out)
{
	(void)p;
	(void)link;
	pull_fetch_fail(out, PULL_UNAVAILABLE, "primegaming: pulling is not built yet");
}

static enum outbox_verdict primegaming_report(struct pull_provider *p,
				       struct pull_link *link,
				       const char *payload,
				       const char *fulfillment_id, char *err,
				       size_t size)
{
	(void)p;
	(void)link;
	(void)payload;
	(void)fulfillment_id;
	snprintf(err, size, "primegaming: reporting is not built yet");
	return OUTBOX_RETRY;
}

const struct source_pull pull_primegaming = {
	.fetch = primegaming_fetch,
	.report = primegaming_report,
};
