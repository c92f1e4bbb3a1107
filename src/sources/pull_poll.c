/* sources/pull_poll.c: Twitch polling — every claimed drop of the game,
 * fulfilled for the players who are linked; the others stay claimed until
 * they link. */
#include "sources/pull_run.h"

#include <string.h>

#include "ops/ops.h"

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

void *pull_poller_main(void *arg)
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

