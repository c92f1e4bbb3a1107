/* store/sqlite/sqlite_int.h (private to the SQLite driver): its
 * connections and statements, the syncer and checkpointer, its state in
 * a store, and its implementations of the store's operations. */
#ifndef GRANTD_STORE_SQLITE_INT_H
#define GRANTD_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_int.h"

/* Every SQL statement the store runs, prepared once per connection. */
enum store_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_ACCOUNT_GET,
	STMT_ACCOUNT_INSERT,
	STMT_ACCOUNT_UPDATE,
	STMT_FULFILMENT_FIND,
	STMT_FULFILMENT_INSERT,
	STMT_FULFILMENT_UPDATE,
	STMT_CLAIM_COUNT,
	STMT_CLAIM_ADD,
	STMT_INSTANCE_OWNED,
	STMT_GRANT_INSERT,
	STMT_STACKABLE_ADD,
	STMT_INSTANCE_INSERT,
	STMT_FULFILMENT_GET,
	STMT_FULFILMENT_REVOKE,
	STMT_GRANTS_READ,
	STMT_STACKABLE_GET,
	STMT_INSTANCE_DELETE,
	STMT_CLAIM_RELEASE,
	STMT_REVOCATION_ADD,
	STMT_REVOCATION_GET,
	STMT_CREDENTIAL_INSERT,
	STMT_CREDENTIAL_REVOKE,
	STMT_CREDENTIAL_ROTATE,
	STMT_CREDENTIAL_LIVE_NAME,
	STMT_SIGNING_KEY_INSERT,
	STMT_SIGNING_KEY_RETIRE,
	STMT_SIGNING_KEYS_ACTIVE,
	STMT_LINK_BY_IDENTITY,
	STMT_LINK_BY_ACCOUNT,
	STMT_LINK_UPSERT,
	STMT_LINK_DELETE,
	STMT_LINK_TOKENS_SET,
	STMT_LINK_STATE_SET,
	STMT_LINK_TOKEN_ADD,
	STMT_LINK_TOKEN_PRUNE,
	STMT_LINK_TOKEN_GET,
	STMT_LINK_TOKEN_USE,
	STMT_OAUTH_STATE_ADD,
	STMT_OAUTH_STATE_PRUNE,
	STMT_OAUTH_STATE_GET,
	STMT_OAUTH_STATE_USE,
	STMT_OUTBOX_ADD,
	STMT_OUTBOX_CLAIM,
	STMT_OUTBOX_RECORD,
	STMT_OUTBOX_RETRY,
	STMT_OUTBOX_GIVE_UP,
	STMT_OUTBOX_UNLEASE,
	STMT_AUDIT_INSERT,
	STMT_HEALTH_TOUCH,
	STMT_NESTED_SAVEPOINT,
	STMT_NESTED_RELEASE,
	STMT_NESTED_ROLLBACK_TO,
	STMT_BROADCAST_ADD,
	STMT_BROADCAST_PENDING,
	STMT_BROADCAST_DELIVERED,
	STMT_GP_LOGIN_ADD,
	STMT_GP_LOGIN_STATE,
	STMT_GP_LOGIN_FINISH,
	STMT_GP_LOGIN_ATTEMPT,
	STMT_EVENT_ADD,
	STMT_READ_BEGIN,
	STMT_READ_END,
	STMT_READ_ACCOUNT,
	STMT_READ_STACKABLES,
	STMT_READ_INSTANCES,
	STMT_READ_HISTORY,
	STMT_READ_SEARCH,
	STMT_READ_FULFILMENT,
	STMT_READ_CREDENTIALS,
	STMT_READ_AUDIT,
	STMT_READ_CREDENTIAL_LIVE,
	STMT_READ_SIGNING_KEYS,
	STMT_READ_LINKS,
	STMT_READ_LINK_HOLDER,
	STMT_READ_FULFILMENT_ACCOUNT,
	STMT_READ_OUTBOX_DUE,
	STMT_READ_OUTBOX_COUNTS,
	STMT_READ_OUTBOX_ROWS,
	STMT_READ_OUTBOX_FOR,
	STMT_READ_AUDIT_FOR,
	STMT_READ_OUTBOX_KINDS,
	STMT_READ_BROADCAST_UNTIL,
	STMT_READ_BROADCAST_PENDING,
	STMT_READ_GP_LOGIN,
	STMT_READ_GP_LOGIN_LATEST,
	STMT_READ_EVENTS,
	STMT_PING,
	STMT_COUNT
};

/* A database connection with its statement cache; used by one thread at a
 * time. */
struct store_conn {
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	struct store_conn *next_free;
};

/* The syncer: makes committed batches durable, then answers them. */
struct store_syncer {
	struct util_thread t;        /* its lock guards head and tail */
	pthread_cond_t taken;        /* the syncer took the waiting batch */
	struct store_intent *head;   /* committed, not yet synced */
	struct store_intent *tail;
	int wal_fd;
	char *wal_path;
	atomic_bool broken;          /* a sync failed: nothing is acknowledged */
	atomic_bool idle;            /* nothing to sync: the writer may commit */
	atomic_ullong syncs;
	atomic_ullong sync_us;       /* time spent in those syncs */
};

/* The thread that checkpoints the WAL (checkpoint.c). */
struct store_checkpointer {
	struct util_thread t;
	struct store_conn *conn;
	int db_fd;                 /* the database file, for writeback */
	int checkpoint_pages;      /* thresholds, from bytes and the page size */
	int reset_pages;
	int writer_turn_pages;
	atomic_bool due;
	atomic_int wal_pages;      /* WAL size after the writer's last commit */
	atomic_int backfilled;     /* WAL frames in the database after the last pass */
	atomic_ullong count;       /* background checkpoints run */
	atomic_bool reset_wanted;  /* the writer should finish one */
	atomic_ullong writer_turns;
	atomic_ullong writer_turn_us;
	atomic_ullong writeback_us;  /* time spent writing the database back */
};

/* The SQLite driver's state in a store (st->driver_state). */
struct store_sqlite {
	char *path;
	struct store_conn *writer_conn;
	struct store_checkpointer checkpointer;
	struct store_syncer syncer;
	pthread_mutex_t readers_lock;
	bool readers_ready;
	struct store_conn *free_readers;
};

static inline struct store_sqlite *store_sqlite(struct store *st)
{
	return st->driver_state;
}

/* The transaction's connection. */
static inline struct store_conn *store_tx_conn(struct store_tx *tx)
{
	return tx->conn;
}

/* Opens one connection with the store's pragmas. Returns 0 or -1 + *err. */
int store_conn_open(struct store *st, struct store_conn **out, char **err);
void store_conn_close(struct store_conn *c);
/* Returns the connection's prepared statement, reset and ready (borrowed);
 * NULL if it could not be prepared (logged). */
sqlite3_stmt *store_conn_stmt(struct store_conn *c, enum store_stmt id);
/* Steps a statement returning at most one row; *row tells whether it
 * did, and the row stays readable until the statement is reset (done
 * already when there is none). Failures are logged as `what`. Returns 0
 * or STORE_ERR. */
int store_conn_step_row(struct store_conn *c, sqlite3_stmt *s, bool *row,
			const char *what);
/* Runs a statement that returns no rows. Returns 0 or STORE_ERR. */
int store_conn_exec(struct store_conn *c, enum store_stmt id);

/* Applies pending schema migrations on `c`. Returns 0 or -1 + *err. */
int store_migrate(struct store_conn *c, int *version, char **err);

/* Reader connections from the pool. */
struct store_conn *store_reader_acquire(struct store *st);
void store_reader_release(struct store *st, struct store_conn *c);


/* Logs a database failure with the connection's message. */
void store_log_error(struct store_conn *c, const char *what, int rc);

/* The counting VFS every connection opens through (vfs.c). */
#define STORE_VFS_NAME "grantd"
int store_vfs_register(void);
uint64_t store_vfs_syncs(void);
/* Counts a sync grantd made itself, outside SQLite. */
void store_vfs_count_sync(void);

/* Checkpointer lifecycle; start after the writer connection is open. */
int store_checkpointer_start(struct store *st, char **err);
void store_checkpointer_stop(struct store *st);
/* On the writer thread between batches: finishes a checkpoint if asked, so
 * the WAL can restart. */
void store_checkpoint_writer_turn(struct store *st);

/* Syncer (syncer.c). start after migrations; stop after the writer. Hand
 * over a committed batch (intents linked by next_, results in rc_). */
int store_syncer_start(struct store *st, char **err);
void store_syncer_stop(struct store *st);
void store_syncer_submit(struct store *st, struct store_intent *batch);
bool store_syncer_broken(struct store *st);
bool store_syncer_idle(struct store *st);

extern const struct store_writer_ops store_sqlite_writer_ops;


/* SQLite's implementations of struct store_ops (src/store/sqlite/). */
int store_sqlite_tx_account_get(struct store_tx *tx, const char *account_id,
				enum store_account_state *state, bool *found);
int store_sqlite_tx_account_put(struct store_tx *tx, const char *account_id,
				enum store_account_state state, int64_t now_ms,
				bool *created);
int store_sqlite_tx_fulfilment_find(struct store_tx *tx, const char *source,
				    const char *external_id,
				    struct store_fulfilment_ref *out);
int store_sqlite_tx_fulfilment_claim(struct store_tx *tx,
				     const struct store_fulfilment *f,
				     int64_t *row,
				     struct store_fulfilment_ref *existing);
int store_sqlite_tx_fulfilment_update(struct store_tx *tx, int64_t row,
				      const struct store_fulfilment *f);
int store_sqlite_tx_claim_count(struct store_tx *tx, const char *account_id,
				const char *entitlement_id, int64_t *count);
int store_sqlite_tx_claim_add(struct store_tx *tx, const char *account_id,
			      const char *entitlement_id, int64_t now_ms);
int store_sqlite_tx_instance_owned(struct store_tx *tx, const char *account_id,
				   const char *catalog_id, bool *owned);
int store_sqlite_tx_grant_stackable(struct store_tx *tx, int64_t row, int line,
				    const char *account_id,
				    const char *catalog_id, int64_t amount);
int store_sqlite_tx_grant_instance(struct store_tx *tx, int64_t row, int line,
				   const char *account_id,
				   const char *catalog_id,
				   const char *instance_id, int64_t now_ms);
/* revoke.c */
int store_sqlite_tx_fulfilment_get(struct store_tx *tx, int64_t row,
			struct store_fulfilment_info *out);
int store_sqlite_tx_grants_read(struct store_tx *tx, int64_t row, store_grant_fn fn,
		      void *arg);
int store_sqlite_tx_stackable_get(struct store_tx *tx, const char *account_id,
			const char *catalog_id, int64_t *amount);
int store_sqlite_tx_stackable_add(struct store_tx *tx, const char *account_id,
			const char *catalog_id, int64_t delta);
int store_sqlite_tx_instance_delete(struct store_tx *tx, const char *account_id,
			  const char *instance_id, bool *deleted);
int store_sqlite_tx_claim_release(struct store_tx *tx, const char *account_id,
			const char *entitlement_id, int64_t now_ms);
int store_sqlite_tx_revocation_add(struct store_tx *tx,
			 const struct store_revocation *r);
int store_sqlite_tx_revocation_get(struct store_tx *tx, int64_t row,
			 store_revocation_fn fn, void *arg, bool *found);
int store_sqlite_tx_credential_insert(struct store_tx *tx,
				      const struct store_credential *c);
int store_sqlite_tx_credential_revoke(struct store_tx *tx, const char *id,
				      const char *kind, int64_t now_ms,
				      bool *found);
int store_sqlite_tx_credential_rotate(struct store_tx *tx, const char *id,
				      const char *kind, const char *secret_hash,
				      int64_t previous_expires_at_ms,
				      int64_t now_ms, bool *found);
int store_sqlite_tx_credential_live_name(struct store_tx *tx, const char *name,
					 char *id, size_t id_size, bool *found);
int store_sqlite_tx_signing_key_insert(struct store_tx *tx,
				       const struct store_signing_key *k);
int store_sqlite_tx_signing_key_retire(struct store_tx *tx, const char *kid,
				       int64_t now_ms, bool *found);
int store_sqlite_tx_signing_keys_active(struct store_tx *tx, int64_t *count);
int store_sqlite_tx_link_get(struct store_tx *tx, const char *account_id,
			     const char *provider, struct store_link_row *out,
			     bool *found);
int store_sqlite_tx_link_put(struct store_tx *tx, const char *account_id,
			     const char *provider, const char *external_id,
			     int64_t now_ms, enum store_link_result *result,
			     struct store_link_row *out);
int store_sqlite_tx_link_tokens_set(struct store_tx *tx, const char *account_id,
				    const char *provider, const void *tokens,
				    size_t len, int64_t now_ms, bool *found);
int store_sqlite_tx_link_state_set(struct store_tx *tx, const char *account_id,
				   const char *provider,
				   enum store_link_state state, int64_t now_ms,
				   bool *found);
int store_sqlite_tx_link_delete(struct store_tx *tx, const char *account_id,
				const char *provider, bool *found);
int store_sqlite_tx_link_token_add(struct store_tx *tx, const char *token_hash,
				   const char *account_id, int64_t now_ms,
				   int64_t expires_at_ms);
int store_sqlite_tx_link_token_spend(struct store_tx *tx,
				     const char *token_hash, int64_t now_ms,
				     char *account_id, size_t size,
				     enum store_secret_result *result);
int store_sqlite_tx_oauth_state_add(struct store_tx *tx, const char *state_hash,
				    const struct store_oauth_state *s,
				    int64_t now_ms);
int store_sqlite_tx_oauth_state_spend(struct store_tx *tx,
				      const char *state_hash,
				      const char *provider, int64_t now_ms,
				      struct store_oauth_state_row *out,
				      enum store_secret_result *result);
int store_sqlite_tx_outbox_add(struct store_tx *tx,
			       const struct store_outbox_item *it,
			       int64_t now_ms, bool *added);
int store_sqlite_tx_outbox_record(struct store_tx *tx,
				  const struct store_outbox_outcome *o,
				  int64_t now_ms);
int store_sqlite_outbox_claim(struct store *st, int64_t now_ms,
			      int64_t lease_ms, int limit, store_outbox_fn fn,
			      void *arg);
int store_sqlite_outbox_due(struct store *st, int64_t now_ms, bool *due);
int store_sqlite_outbox_counts(struct store *st,
			       int64_t counts[STORE_OUTBOX_DEAD + 1]);
int store_sqlite_outbox_read(struct store *st, const char *status,
			     int64_t before_id, int64_t limit,
			     store_outbox_row_fn fn, void *arg);
int store_sqlite_outbox_read_for(struct store *st, const char *account_id,
				 const char *needle, int64_t limit,
				 store_outbox_row_fn fn, void *arg);
int store_sqlite_audit_read_for(struct store *st, const char *target,
				int64_t limit, store_audit_fn fn, void *arg);
int store_sqlite_outbox_kinds_read(struct store *st, store_outbox_kind_fn fn,
				   void *arg);
int store_sqlite_tx_outbox_give_up(struct store_tx *tx, int64_t id,
				   const char *error, int64_t now_ms,
				   int64_t *count);
int store_sqlite_tx_outbox_retry(struct store_tx *tx, int64_t id,
				 int64_t now_ms, int64_t *count);
int store_sqlite_tx_outbox_unlease(struct store_tx *tx, int64_t *count);
int store_sqlite_tx_audit_add(struct store_tx *tx, const struct store_audit *a);
int store_sqlite_tx_health_touch(struct store_tx *tx, int64_t now_ms);
int store_sqlite_tx_savepoint(struct store_tx *tx);
int store_sqlite_tx_savepoint_release(struct store_tx *tx);
int store_sqlite_tx_savepoint_rollback(struct store_tx *tx);
int store_sqlite_tx_broadcast_add(struct store_tx *tx,
				  const struct store_broadcast *b,
				  bool *created);
int store_sqlite_tx_broadcasts_pending(struct store_tx *tx,
				       const char *account_id, int64_t now_ms,
				       store_broadcast_fn fn, void *arg);
int store_sqlite_tx_broadcast_delivered(struct store_tx *tx, int64_t id,
					const char *account_id, int64_t now_ms);
int store_sqlite_tx_gamepot_login_add(struct store_tx *tx,
				      const struct store_gamepot_login *l,
				      int64_t now_ms, int64_t *id);
int store_sqlite_tx_gamepot_login_state(struct store_tx *tx, int64_t id,
					char *state, size_t size, bool *found);
int store_sqlite_tx_gamepot_login_finish(struct store_tx *tx,
					 const struct store_gamepot_login *l,
					 int64_t now_ms, bool *updated);
int store_sqlite_tx_gamepot_login_attempt(struct store_tx *tx, int64_t id,
					  const char *error, int64_t now_ms);
int store_sqlite_gamepot_login_read(struct store *st, int64_t id,
				    store_gamepot_login_fn fn, void *arg,
				    bool *found);
int store_sqlite_gamepot_login_latest(struct store *st, const char *account_id,
				      store_gamepot_login_fn fn, void *arg,
				      bool *found);
int store_sqlite_account_read(struct store *st, const char *account_id,
			      struct store_account *out, bool *found);
int store_sqlite_inventory_read(struct store *st, const char *account_id,
				store_stackable_fn on_stackable,
				store_instance_fn on_instance, void *arg);
int store_sqlite_history_read(struct store *st, const char *account_id,
			      int64_t offset, int64_t limit,
			      store_history_fn fn, void *arg);
int store_sqlite_fulfilments_search(struct store *st,
				    const struct store_fulfilment_query *q,
				    store_history_fn fn, void *arg);
int store_sqlite_fulfilment_read(struct store *st, int64_t row,
				 store_history_fn fn, store_grant_fn gfn,
				 void *arg, bool *found);
int store_sqlite_credentials_read(struct store *st, store_credential_fn fn,
				  void *arg);
int store_sqlite_credential_live(struct store *st, const char *secret_hash,
				 const char *id, int64_t now_ms, bool *found);
int store_sqlite_signing_keys_read(struct store *st, store_signing_key_fn fn,
				   void *arg);
int store_sqlite_links_read(struct store *st, const char *account_id,
			    store_link_fn fn, void *arg);
int store_sqlite_fulfilment_account_read(struct store *st, int64_t row,
					 char *account, size_t size,
					 bool *found);
int store_sqlite_link_holder_read(struct store *st, const char *provider,
				  const char *external_id, char *account,
				  size_t size, bool *found);
int store_sqlite_tx_event_add(struct store_tx *tx, const char *type,
			      const char *account_id, int64_t created_at_ms,
			      const char *data_json, int64_t *id);
int store_sqlite_events_read(struct store *st, int64_t after_txid,
			     int64_t after_id, int64_t limit,
			     store_event_fn fn, void *arg);
int store_sqlite_audit_read(struct store *st, int64_t limit, store_audit_fn fn,
			    void *arg);
int store_sqlite_broadcasts_until(struct store *st, int64_t *until_ms);
int store_sqlite_broadcasts_pending_any(struct store *st,
					const char *account_id, int64_t now_ms,
					bool *any);

void store_sqlite_stats(struct store *st, store_stat_fn fn, void *arg);

#endif
