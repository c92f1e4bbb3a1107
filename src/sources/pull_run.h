/* sources/pull_run.h (private to sources): the pull runtime's state, shared
 * by its files — pull.c (workers, poller, deliverers), pull_grant.c (one
 * provider's entitlements through the engine) and sync.c (the HTTP call). */
#ifndef GRANTD_SOURCES_PULL_RUN_H
#define GRANTD_SOURCES_PULL_RUN_H

#include "sources/pull_int.h"

#define PULL_PROVIDERS_MAX 8

/* A unit of work for the pull workers. */
struct pull_task {
	void (*run)(struct pull_task *t);
	struct pull_task *next_;
	char trace_[UTIL_TRACE_MAX]; /* the request it was queued for */
};

struct pull {
	struct pull_options opts;
	unsigned char token_key[UTIL_SEAL_KEY_LEN];
	struct pull_provider providers[PULL_PROVIDERS_MAX];
	size_t n_providers;

	pthread_mutex_t lock;            /* guards the queue and stopping */
	pthread_cond_t cond;
	struct pull_task *head, *tail;
	bool stopping;
	pthread_t *workers;
	int n_workers;

	pthread_t poller;                /* Twitch polling, if on */
	bool polling;
	pthread_cond_t poll_cond;

	/* The outbox kinds registered: report.<id> and sync.<id> each. */
	struct deliverer {
		struct pull *pull;
		const struct source *source;
		struct pull_provider *provider;  /* NULL: not enabled */
		char kind[48];
	} deliverers[2 * PULL_PROVIDERS_MAX];
	size_t n_deliverers;
};

/* The enabled provider with id `id` (borrowed), or NULL. */
struct pull_provider *pull_provider_find(struct pull *p, const char *id);
/* Queues a task for the workers. Returns 0, or -1 if stopping. */
int pull_queue(struct pull *p, struct pull_task *t);

/* A link as the pull side uses it, in storage of its own. */
struct pull_link_copy {
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	char external_id[STORE_EXTERNAL_ID_MAX + 1];
	enum store_link_state state;
	void *sealed;                    /* owned, or NULL */
	size_t sealed_len;
};
void pull_link_copy_release(struct pull_link_copy *l);
/* Reads the link of `account_id` at `provider`. Returns 0 with *found,
 * or -1 if the store failed. */
int pull_link_load(struct pull *p, const char *account_id, const char *provider,
		   struct pull_link_copy *out, bool *found);

/* What became of one entitlement, for the sync answer. */
struct pull_outcome {
	char *entitlement_id;            /* owned; NULL for a provider failure */
	char *item_id;                   /* owned; NULL for a provider failure */
	const char *reason;              /* NULL: fulfilled; else static */
	char fulfillment_id[STORE_FULFILMENT_ID_LEN + 1];
};

/* The outcomes of one provider's part of a sync. */
struct pull_part {
	const char *provider;            /* static: the source's id */
	struct pull_outcome *items;      /* owned */
	size_t n, cap;
	char message[PULL_MESSAGE_MAX];  /* a provider failure, for the log */
	bool provider_failed;            /* unavailable: worth retrying */
};
void pull_part_release(struct pull_part *part);
/* Records a failure of the provider as a whole: one outcome with no ids
 * and `reason` (static), `message` for the log; `retry` if a later try
 * may succeed. */
void pull_part_fail(struct pull_part *part, const char *reason,
		    const char *message, bool retry);

/* Fetches `link`'s open entitlements at provider `pp`, runs each through
 * the engine (its consumption report committed with the grant), and
 * stores refreshed tokens or a relink_required state. Blocks. */
void pull_grant_link(struct pull *p, struct pull_provider *pp,
		     const struct pull_link_copy *link, struct pull_part *out);
/* Runs items the provider already fetched (the Twitch poller) through
 * the engine for `account_id`. Blocks. */
void pull_grant_items(struct pull *p, struct pull_provider *pp,
		      const char *account_id, struct pull_fetch *items,
		      struct pull_part *out);

/* Stores what a call changed of `link` (refreshed tokens, or
 * relink_required); logs a failure. */
void pull_link_save(struct pull *p, const char *account_id,
		    const char *provider, const struct pull_link *link);

/* Registers the outbox kinds report.<id> and sync.<id> of source `s`,
 * whose provider `pp` is NULL if it is not enabled, with `d` (two
 * deliverers) as their context (pull_deliver.c). */
void pull_register_kinds(struct pull *p, const struct source *s,
			 struct pull_provider *pp, struct deliverer *d);
/* The Twitch poller's thread (pull_poll.c); arg: struct pull. */
void *pull_poller_main(void *arg);

/* An outbox report row's payload: {"fulfillment_id": id, "report":
 * <report>} (owned). pull_report_unwrap reads it back: returns 0 with
 * *root (a new reference) holding borrowed *fulfillment_id and *report
 * (its compact text, owned), or -1. */
char *pull_report_wrap(const char *fulfillment_id, const char *report);
int pull_report_unwrap(const char *payload, json_t **root,
		       const char **fulfillment_id, char **report);

/* Unseals a link's tokens into *t (empty if it holds none). Returns 0, or
 * -1 if they cannot be opened (another key, or altered). */
int pull_tokens_open(struct pull *p, const struct pull_link_copy *l,
		     const char *provider, struct pull_tokens *t);
/* Seals tokens for the link of `account_id` at `provider` into out. */
int pull_tokens_seal(struct pull *p, const char *account_id,
		     const char *provider, const struct pull_tokens *t,
		     struct util_buf *out);

#endif
