/* engine/engine_int.h (private to engine): the engine's state and what its
 * files share — one job's run inside a transaction, groups, broadcasts. */
#ifndef GRANTD_ENGINE_INT_H
#define GRANTD_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"

/* Outcome counts per source; sources register on first use. */
#define ENGINE_MAX_SOURCES 32
struct source_counts {
	const char *source;
	atomic_ullong n[ENGINE_OUTCOME_COUNT];
};

/* How long the engine trusts its view of the broadcasts before reading
 * the latest expiry again (another node may have added one). */
#define ENGINE_BROADCASTS_REFRESH_MS 5000

struct engine {
	struct engine_options opts;
	struct store *store;
	struct catalog_holder *catalog;
	pthread_mutex_t sources_lock;
	atomic_size_t n_sources;
	struct source_counts sources[ENGINE_MAX_SOURCES];
	/* The latest expiry of any broadcast (0: none), as last read. */
	pthread_mutex_t broadcasts_lock;   /* one refresh at a time */
	atomic_llong broadcasts_until_ms;
	atomic_llong broadcasts_read_ms;
};

/* Counts an outcome; the first use of a source registers it. */
void engine_count_outcome_(struct engine *e, const char *source,
			   enum engine_outcome o);
/* Looks the job's entry up in `c` (borrowed; it must outlive the job's
 * run) and fingerprints it. */
void engine_job_prepare_(struct engine *e, struct engine_job *job,
			 struct catalog *c);
/* Runs a prepared job in tx; a refusal is recorded as a failed fulfilment
 * only if `record_refusal`. Returns 0 (outcome in job) or a store_rc. */
int engine_job_run_(struct store_tx *tx, struct engine_job *job,
		    bool record_refusal);
/* Runs prepared jobs in tx under a nested savepoint: every one granted or
 * replayed, or nothing written. *outcome: GRANTED if any was granted now,
 * REPLAYED if all were before, else the first refusal (job *failed).
 * Returns 0 or a store_rc. */
int engine_tx_group_run_(struct store_tx *tx, struct engine_job *jobs,
			 size_t n, enum engine_outcome *outcome, size_t *failed);
/* Grants `account_id` the live broadcasts it has not had (if it is an
 * active account), each all or nothing, with entries from `c`. Cheap when
 * the engine knows of no live broadcast. Returns 0 or a store_rc. */
int engine_tx_broadcasts_deliver_(struct engine *e, struct store_tx *tx,
				  struct catalog *c, const char *account_id);

struct json_t;
/* Emits grant.created for the job just granted (its fulfillment_id set)
 * with its ledger lines `grants` (a JSON array, borrowed). Returns 0 or a
 * store_rc. */
int engine_events_grant_created_(struct store_tx *tx,
				 const struct engine_job *job,
				 int64_t fulfilled_at_ms, struct json_t *grants);
/* Appends ledger line `line` to `grants` (instance_id NULL: stackable). */
void engine_events_grant_line_(struct json_t *grants, int line,
			       const char *catalog_id, int64_t amount,
			       const char *instance_id);

#endif
