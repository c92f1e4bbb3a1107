/* store/store_int.h (private to store): what the generic parts of the
 * store (open/close, dispatch, the writer) and its drivers share — the
 * driver table, the writer's operations, struct store. */
#ifndef GRANTD_STORE_INT_H
#define GRANTD_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/store.h"

/* The link state stored as `text` (anything but "relink_required" is
 * linked). */
enum store_link_state store_link_state_of(const char *text);

/* Most writer threads a driver may ask for. */
#define STORE_WRITERS_MAX 64

/* One writer thread beyond the first. */
struct store_writer_thread {
	struct store *st;
	int slot;                    /* 1… (the first thread is slot 0) */
	pthread_t id;
	bool started;
};

/* The writer's queue and threads: one for SQLite, several for a driver
 * whose database serialises writers itself. Each thread runs its own
 * batches on its own connection (store_tx.slot). */
struct store_writer {
	struct util_thread t;        /* the first thread; its lock guards the
				      * queue and stats, its wake every thread */
	struct store_writer_thread more[STORE_WRITERS_MAX - 1];
	int threads;                 /* set by the driver's open; 0 means 1 */
	struct store_intent *head;
	struct store_intent *tail;
	size_t queued;
	int batch_max;
	struct store_stats stats;
	atomic_ullong careful_batches;
	atomic_llong batch_since_ms;  /* when the open batch began; 0: none */
	atomic_bool failing;          /* the last batch could not commit */
	atomic_ullong retried_batches; /* run again after a transient fault */
};

/* Calls done on every intent of a batch with its rc_. */
void store_answer_batch(struct store_intent *batch);

/* A store: its driver, the generic writer, and the driver's own state. */
struct store {
	struct store_options opts;
	const struct store_driver *driver;
	const struct store_writer_ops *writer_ops;  /* the driver's */
	struct store_writer writer;
	int schema_version;
	void *driver_state;          /* owned by the driver */
	/* the write store_health asks for while writes are failing */
	struct store_intent probe;
	atomic_bool probe_busy;
	atomic_llong probe_at_ms;
};

/* The writer's transaction, as the driver's primitives see it. */
struct store_tx {
	struct store *st;            /* whose driver the primitives go to */
	void *conn;                  /* the driver's connection */
	int slot;                    /* which writer thread runs it (0…) */
};

/* Durations past this are logged as "slow_io" warnings: a disk that stalls
 * shows up in the log, not only in latency figures. */
#define STORE_SLOW_IO_US 50000
/* Logs a slow operation (`what`) that took `us` microseconds. */
void store_log_slow(const char *what, int64_t us);

/* What the writer (writer.c, group commit) asks of a driver: one
 * transaction at a time on the writer's connection, savepoints inside it,
 * and what makes a commit durable. The writer knows nothing else of the
 * database. */
struct store_writer_ops {
	/* opens the transaction and binds tx->conn to its connection */
	int (*begin)(struct store *st, struct store_tx *tx);
	int (*commit)(struct store *st, struct store_tx *tx);
	/* rolls back whatever transaction is open */
	void (*abandon)(struct store *st, struct store_tx *tx);
	/* waits until every statement sent in tx has been answered (a driver
	 * that sends writes without waiting for them); nonzero if one
	 * failed. May be NULL: nothing is ever outstanding. */
	int (*settle)(struct store_tx *tx);
	/* one intent's savepoint: open, undo (and end), keep */
	int (*savepoint)(struct store_tx *tx);
	int (*rollback_to)(struct store_tx *tx);
	int (*release)(struct store_tx *tx);
	/* after a commit: answers the batch's intents once it is durable */
	void (*committed)(struct store *st, struct store_intent *batch);
	/* true: commit the open batch now rather than gather more (nothing
	 * is making an earlier commit durable) */
	bool (*commit_now)(struct store *st);
	/* true: a batch is what was queued when it began, applied in
	 * order_key order (writers that lock accounts in the database) */
	bool ordered;
	/* true: nothing may be committed any more */
	bool (*broken)(struct store *st);
	/* on the writer thread between batches; may be NULL */
	void (*between_batches)(struct store *st);
	/* true if the last failure on tx's connection was transient (a lost
	 * connection, a deadlock, a failover): the writer then runs the
	 * whole batch again. May be NULL: never. */
	bool (*transient)(struct store_tx *tx);
};

/* A driver's primitives and reads: one for every store_tx_* and store_*
 * read function of store.h (dispatch.c hands each call on), with the
 * same arguments and contract. */
struct store_ops {
	int (*tx_account_get)(struct store_tx *tx, const char *account_id,
			      enum store_account_state *state, bool *found);
	int (*tx_account_put)(struct store_tx *tx, const char *account_id,
			      enum store_account_state state, int64_t now_ms,
			      bool *created);
	int (*tx_fulfilment_find)(struct store_tx *tx, const char *source,
				  const char *external_id,
				  struct store_fulfilment_ref *out);
	int (*tx_fulfilment_claim)(struct store_tx *tx,
				   const struct store_fulfilment *f,
				   int64_t *row,
				   struct store_fulfilment_ref *existing);
	int (*tx_fulfilment_update)(struct store_tx *tx, int64_t row,
				    const struct store_fulfilment *f);
	int (*tx_claim_count)(struct store_tx *tx, const char *account_id,
			      const char *entitlement_id, int64_t *count);
	int (*tx_claim_add)(struct store_tx *tx, const char *account_id,
			    const char *entitlement_id, int64_t now_ms);
	int (*tx_instance_owned)(struct store_tx *tx, const char *account_id,
				 const char *catalog_id, bool *owned);
	int (*tx_grant_stackable)(struct store_tx *tx, int64_t row, int line,
				  const char *account_id,
				  const char *catalog_id, int64_t amount);
	int (*tx_grant_instance)(struct store_tx *tx, int64_t row, int line,
				 const char *account_id, const char *catalog_id,
				 const char *instance_id, int64_t now_ms);
	int (*tx_fulfilment_get)(struct store_tx *tx, int64_t row,
				 struct store_fulfilment_info *out);
	int (*tx_grants_read)(struct store_tx *tx, int64_t row,
			      store_grant_fn fn, void *arg);
	int (*tx_stackable_get)(struct store_tx *tx, const char *account_id,
				const char *catalog_id, int64_t *amount);
	int (*tx_stackable_add)(struct store_tx *tx, const char *account_id,
				const char *catalog_id, int64_t delta);
	int (*tx_instance_delete)(struct store_tx *tx, const char *account_id,
				  const char *instance_id, bool *deleted);
	int (*tx_claim_release)(struct store_tx *tx, const char *account_id,
				const char *entitlement_id, int64_t now_ms);
	int (*tx_revocation_add)(struct store_tx *tx,
				 const struct store_revocation *r);
	int (*tx_revocation_get)(struct store_tx *tx, int64_t row,
				 store_revocation_fn fn, void *arg,
				 bool *found);
	int (*tx_credential_insert)(struct store_tx *tx,
				    const struct store_credential *c);
	int (*tx_credential_revoke)(struct store_tx *tx, const char *id,
				    const char *kind, int64_t now_ms,
				    bool *found);
	int (*tx_credential_rotate)(struct store_tx *tx, const char *id,
				    const char *kind, const char *secret_hash,
				    int64_t previous_expires_at_ms,
				    int64_t now_ms, bool *found);
	int (*tx_credential_live_name)(struct store_tx *tx, const char *name,
				       char *id, size_t id_size, bool *found);
	int (*tx_signing_key_insert)(struct store_tx *tx,
				     const struct store_signing_key *k);
	int (*tx_signing_key_retire)(struct store_tx *tx, const char *kid,
				     int64_t now_ms, bool *found);
	int (*tx_signing_keys_active)(struct store_tx *tx, int64_t *count);
	int (*tx_link_get)(struct store_tx *tx, const char *account_id,
			   const char *provider, struct store_link_row *out,
			   bool *found);
	int (*tx_link_put)(struct store_tx *tx, const char *account_id,
			   const char *provider, const char *external_id,
			   int64_t now_ms, enum store_link_result *result,
			   struct store_link_row *out);
	int (*tx_link_tokens_set)(struct store_tx *tx, const char *account_id,
				  const char *provider, const void *tokens,
				  size_t len, int64_t now_ms, bool *found);
	int (*tx_link_state_set)(struct store_tx *tx, const char *account_id,
				 const char *provider,
				 enum store_link_state state, int64_t now_ms,
				 bool *found);
	int (*tx_link_delete)(struct store_tx *tx, const char *account_id,
			      const char *provider, bool *found);
	int (*tx_link_token_add)(struct store_tx *tx, const char *token_hash,
				 const char *account_id, int64_t now_ms,
				 int64_t expires_at_ms);
	int (*tx_link_token_spend)(struct store_tx *tx, const char *token_hash,
				   int64_t now_ms, char *account_id,
				   size_t size,
				   enum store_secret_result *result);
	int (*tx_oauth_state_add)(struct store_tx *tx, const char *state_hash,
				  const struct store_oauth_state *s,
				  int64_t now_ms);
	int (*tx_oauth_state_spend)(struct store_tx *tx, const char *state_hash,
				    const char *provider, int64_t now_ms,
				    struct store_oauth_state_row *out,
				    enum store_secret_result *result);
	int (*tx_outbox_add)(struct store_tx *tx,
			     const struct store_outbox_item *it, int64_t now_ms,
			     bool *added);
	int (*tx_outbox_record)(struct store_tx *tx,
				const struct store_outbox_outcome *o,
				int64_t now_ms);
	int (*outbox_claim)(struct store *st, int64_t now_ms, int64_t lease_ms,
			    int limit, store_outbox_fn fn, void *arg);
	int (*outbox_due)(struct store *st, int64_t now_ms, bool *due);
	int (*outbox_counts)(struct store *st,
			     int64_t counts[STORE_OUTBOX_DEAD + 1]);
	int (*outbox_read)(struct store *st, const char *status,
			   int64_t before_id, int64_t limit,
			   store_outbox_row_fn fn, void *arg);
	int (*outbox_read_for)(struct store *st, const char *account_id,
			       const char *needle, int64_t limit,
			       store_outbox_row_fn fn, void *arg);
	int (*audit_read_for)(struct store *st, const char *target,
			      int64_t limit, store_audit_fn fn, void *arg);
	int (*outbox_kinds_read)(struct store *st, store_outbox_kind_fn fn,
				 void *arg);
	int (*tx_outbox_give_up)(struct store_tx *tx, int64_t id,
				 const char *error, int64_t now_ms,
				 int64_t *count);
	int (*tx_outbox_retry)(struct store_tx *tx, int64_t id, int64_t now_ms,
			       int64_t *count);
	int (*tx_outbox_unlease)(struct store_tx *tx, int64_t *count);
	int (*tx_audit_add)(struct store_tx *tx, const struct store_audit *a);
	int (*tx_health_touch)(struct store_tx *tx, int64_t now_ms);
	int (*tx_savepoint)(struct store_tx *tx);
	int (*tx_savepoint_release)(struct store_tx *tx);
	int (*tx_savepoint_rollback)(struct store_tx *tx);
	int (*tx_broadcast_add)(struct store_tx *tx,
				const struct store_broadcast *b, bool *created);
	int (*tx_broadcasts_pending)(struct store_tx *tx,
				     const char *account_id, int64_t now_ms,
				     store_broadcast_fn fn, void *arg);
	int (*tx_broadcast_delivered)(struct store_tx *tx, int64_t id,
				      const char *account_id, int64_t now_ms);
	int (*tx_gamepot_login_add)(struct store_tx *tx,
				    const struct store_gamepot_login *l,
				    int64_t now_ms, int64_t *id);
	int (*tx_gamepot_login_state)(struct store_tx *tx, int64_t id,
				      char *state, size_t size, bool *found);
	int (*tx_gamepot_login_finish)(struct store_tx *tx,
				       const struct store_gamepot_login *l,
				       int64_t now_ms, bool *updated);
	int (*tx_gamepot_login_attempt)(struct store_tx *tx, int64_t id,
					const char *error, int64_t now_ms);
	int (*gamepot_login_read)(struct store *st, int64_t id,
				  store_gamepot_login_fn fn, void *arg,
				  bool *found);
	int (*gamepot_login_latest)(struct store *st, const char *account_id,
				    store_gamepot_login_fn fn, void *arg,
				    bool *found);
	int (*account_read)(struct store *st, const char *account_id,
			    struct store_account *out, bool *found);
	int (*inventory_read)(struct store *st, const char *account_id,
			      store_stackable_fn on_stackable,
			      store_instance_fn on_instance, void *arg);
	int (*history_read)(struct store *st, const char *account_id,
			    int64_t offset, int64_t limit, store_history_fn fn,
			    void *arg);
	int (*fulfilments_search)(struct store *st,
				  const struct store_fulfilment_query *q,
				  store_history_fn fn, void *arg);
	int (*fulfilment_read)(struct store *st, int64_t row,
			       store_history_fn fn, store_grant_fn gfn,
			       void *arg, bool *found);
	int (*credentials_read)(struct store *st, store_credential_fn fn,
				void *arg);
	int (*credential_live)(struct store *st, const char *secret_hash,
			       const char *id, int64_t now_ms, bool *found);
	int (*signing_keys_read)(struct store *st, store_signing_key_fn fn,
				 void *arg);
	int (*links_read)(struct store *st, const char *account_id,
			  store_link_fn fn, void *arg);
	int (*fulfilment_account_read)(struct store *st, int64_t row,
				       char *account, size_t size, bool *found);
	int (*link_holder_read)(struct store *st, const char *provider,
				const char *external_id, char *account,
				size_t size, bool *found);
	int (*audit_read)(struct store *st, int64_t limit, store_audit_fn fn,
			  void *arg);
	int (*tx_event_add)(struct store_tx *tx, const char *type,
			    const char *account_id, int64_t created_at_ms,
			    const char *data_json, int64_t *id);
	int (*events_read)(struct store *st, int64_t after_txid,
			   int64_t after_id, int64_t limit, store_event_fn fn,
			   void *arg);
	int (*broadcasts_until)(struct store *st, int64_t *until_ms);
	int (*broadcasts_pending_any)(struct store *st, const char *account_id,
				      int64_t now_ms, bool *any);
};

/* A storage driver (storage.driver): the store's operations table. */
struct store_driver {
	const char *name;             /* "sqlite", "postgres" */
	/* Opens the database st->opts names, with migrations applied and
	 * whatever threads it needs started, ready for the writer. Returns 0,
	 * or -1 with *err; close is called after a failed open too. */
	int (*open)(struct store *st, char **err);
	/* Releases what open made; the writer has stopped. */
	void (*close)(struct store *st);
	int (*ping)(struct store *st);
	/* The driver's counters and gauges (see store_stats_each). */
	void (*stats)(struct store *st, store_stat_fn fn, void *arg);
	const struct store_writer_ops *writer;
	const struct store_ops *ops;
};

/* The drivers (store.c lists them). */
extern const struct store_driver store_sqlite_driver;
extern const struct store_driver store_pg_driver;

/* Writer lifecycle. */
int store_writer_start(struct store *st);
void store_writer_stop(struct store *st);
/* Wakes the writer to look again whether a commit is due (the syncer has
 * become idle). Takes only the writer's lock. */
void store_writer_wake(struct store *st);

#endif
