/* store/postgres/pg_int.h (private to the PostgreSQL driver): its
 * connections, statements and parameters, its state in a store, and its
 * implementations of the store's operations. */
#ifndef GRANTD_STORE_PG_INT_H
#define GRANTD_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store/store_int.h"

/* A statement, prepared on each connection the first time it runs there.
 * Declare with PG_SQL; `slot_` is assigned on first use. */
struct pg_sql {
	const char *text;            /* $1, $2, … placeholders */
	atomic_int slot_;            /* 0 until assigned, then 1… */
};
#define PG_SQL(name, sql) static struct pg_sql name = { (sql), 0 }
/* Statements a driver can hold prepared on one connection. */
#define PG_SQL_MAX 160

/* How a failed statement failed (the connection remembers the last). */
enum pg_fault {
	PG_FAULT_NONE,
	PG_FAULT_UNIQUE,      /* 23505: a unique constraint was violated */
	PG_FAULT_TRANSIENT,   /* lost connection, 40001, 40P01, 57P0x, 25006, … */
	PG_FAULT_OTHER,
};

/* Statements a pipelined connection sends before it waits for their
 * results (then it waits anyway). */
#define PG_QUEUE_MAX 64

/* One libpq connection; used by one thread at a time. */
struct pg_conn {
	PGconn *pg;
	bool prepared[PG_SQL_MAX + 1];
	enum pg_fault fault;          /* of the last failure */
	bool in_tx;                   /* a transaction is open */
	struct pg_conn *next_free;
	/* pipeline mode (writer connections): what was sent whose results
	 * have not been read yet, in order */
	bool pipeline;
	int queued;
	const char *queued_what[PG_QUEUE_MAX];
	int queued_slot[PG_QUEUE_MAX];  /* a PREPARE's slot, else 0 */
};

/* Parameters of one statement, all sent as text except bytes. */
#define PG_PARAMS_MAX 16
struct pg_params {
	int n;
	const char *values[PG_PARAMS_MAX];
	int lengths[PG_PARAMS_MAX];
	int formats[PG_PARAMS_MAX];
	char nums[PG_PARAMS_MAX][24];
};

/* Appends a parameter: a string (NULL is SQL NULL); an integer; a time
 * in ms where 0 is NULL; a boolean; raw bytes (bytea). The values are
 * borrowed until the statement has run. */
void pg_param_text(struct pg_params *p, const char *v);
void pg_param_int(struct pg_params *p, int64_t v);
void pg_param_time(struct pg_params *p, int64_t ms);
void pg_param_bool(struct pg_params *p, bool v);
void pg_param_bytes(struct pg_params *p, const void *v, size_t len);

/* Runs `sql` on c with p (which may be NULL). Returns the result (owned:
 * PQclear it) when the statement succeeded, else NULL after logging the
 * failure as `what` and noting its kind in c->fault. */
PGresult *pg_run(struct pg_conn *c, struct pg_sql *sql,
		 const struct pg_params *p, const char *what);
/* Runs a statement whose rows do not matter. Returns STORE_OK,
 * STORE_CONFLICT on a unique violation, or STORE_ERR. `changed`, if not
 * NULL, gets the number of rows it changed. */
int pg_exec(struct pg_conn *c, struct pg_sql *sql, const struct pg_params *p,
	    const char *what, int64_t *changed);
/* Runs a plain command with no parameters, unprepared ("BEGIN"). */
int pg_command(struct pg_conn *c, const char *command, const char *what);
/* For a statement whose result the caller does not need: on a pipelined
 * connection it is only sent, and its outcome arrives with the next
 * statement that waits (which then fails if it failed) or pg_flush;
 * elsewhere it runs at once. Returns STORE_OK, or a failure to send or
 * run it. */
int pg_exec_deferred(struct pg_conn *c, struct pg_sql *sql,
		     const struct pg_params *p, const char *what);
/* Waits for the outcome of every statement sent and not yet answered.
 * Returns STORE_OK, or STORE_ERR (c->fault says how it failed). */
int pg_flush(struct pg_conn *c);

/* Pipeline mode (pipeline.c): each waiting call sends its statement after
 * the deferred ones, with one sync point, so a run of writes and the read
 * after them cost one round trip. */
int pg_pipe_enter(struct pg_conn *c);
PGresult *pg_pipe_run(struct pg_conn *c, struct pg_sql *sql,
		      const struct pg_params *p, const char *what);
int pg_pipe_send(struct pg_conn *c, struct pg_sql *sql,
		 const struct pg_params *p, const char *what);
/* Sends `command` and waits for it (and what was sent before it); its
 * result goes to *out (owned) if out is not NULL. */
int pg_pipe_command(struct pg_conn *c, const char *command, const char *what,
		    PGresult **out);
/* Sends `command` without waiting for it. */
int pg_pipe_command_send(struct pg_conn *c, const char *command,
			 const char *what);

/* Shared by conn.c and pipeline.c: a statement's slot (assigned on first
 * use); whether res succeeded (if not: logged, c->fault set, res
 * cleared). */
int pg_sql_slot(struct pg_sql *sql);
bool pg_check(struct pg_conn *c, PGresult *res, const char *what);

/* Column values of row `row`: an integer (0 if NULL); a string, NULL if
 * SQL NULL (borrowed from res); whether it is NULL; a bytea's bytes into
 * out (returns how many, or 0 if NULL or longer than max). */
int64_t pg_int(const PGresult *res, int row, int col);
const char *pg_text(const PGresult *res, int row, int col);
bool pg_null(const PGresult *res, int row, int col);
size_t pg_bytes(const PGresult *res, int row, int col, void *out, size_t max);
/* Rows changed by an INSERT/UPDATE/DELETE. */
int64_t pg_changed(const PGresult *res);

/* Copies a string column into out (size bytes, truncated, "" if NULL). */
void pg_copy_text(const PGresult *res, int row, int col, char *out,
		  size_t size);

/* Opens a connection to the store's server (storage.postgres.url) and sets
 * its settings (statement_timeout). Returns 0 or -1 + *err (owned). */
int pg_conn_open(struct store *st, struct pg_conn **out, char **err);
void pg_conn_close(struct pg_conn *c);
/* True if the connection is lost (it is reopened before its next use). */
bool pg_conn_lost(const struct pg_conn *c);
/* Reconnects a lost connection in place. Returns 0 or STORE_ERR. */
int pg_conn_reset(struct store *st, struct pg_conn *c);

/* The PostgreSQL driver's state in a store (st->driver_state). */
struct store_pg {
	char *url;
	pthread_mutex_t lock;         /* guards the pools */
	bool lock_ready;
	struct pg_conn *free_readers;
	int readers_open;             /* open or lent out */
	int readers_max;
	pthread_cond_t reader_freed;
	struct pg_conn **writer_conns; /* one per writer thread */
	int writers;
	atomic_ullong retries;        /* batches run again after a transient fault */
	atomic_ullong reconnects;
	atomic_ullong conflicts;      /* unique violations met */
};

static inline struct store_pg *store_pg(struct store *st)
{
	return st->driver_state;
}

/* The transaction's connection. */
static inline struct pg_conn *pg_tx_conn(struct store_tx *tx)
{
	return tx->conn;
}

/* A reader connection from the pool (waits while all are lent out), and
 * its return. NULL if none could be opened (logged). Reads that run
 * several statements wrap them in pg_read_begin/pg_read_end for one
 * snapshot. */
struct pg_conn *pg_reader_acquire(struct store *st);
void pg_reader_release(struct store *st, struct pg_conn *c);
int pg_read_begin(struct pg_conn *c);
/* Runs one read statement on a reader connection (taken and given back);
 * its result (owned) goes to *out. Returns 0 or STORE_ERR. */
int pg_read_run(struct store *st, struct pg_sql *sql,
		const struct pg_params *p, const char *what, PGresult **out);
void pg_read_end(struct pg_conn *c);

/* Applies pending migrations under an advisory lock. Returns 0 or -1 +
 * *err. */
int pg_migrate(struct pg_conn *c, int *version, char **err);

extern const struct store_writer_ops store_pg_writer_ops;

/* PostgreSQL's implementations of struct store_ops (src/store/postgres/). */
int store_pg_tx_account_get(struct store_tx *tx, const char *account_id,
			    enum store_account_state *state, bool *found);
int store_pg_tx_account_put(struct store_tx *tx, const char *account_id,
			    enum store_account_state state, int64_t now_ms,
			    bool *created);
int store_pg_tx_fulfilment_find(struct store_tx *tx, const char *source,
				const char *external_id,
				struct store_fulfilment_ref *out);
int store_pg_tx_fulfilment_claim(struct store_tx *tx,
				 const struct store_fulfilment *f, int64_t *row,
				 struct store_fulfilment_ref *existing);
int store_pg_tx_fulfilment_update(struct store_tx *tx, int64_t row,
				  const struct store_fulfilment *f);
int store_pg_tx_claim_count(struct store_tx *tx, const char *account_id,
			    const char *entitlement_id, int64_t *count);
int store_pg_tx_claim_add(struct store_tx *tx, const char *account_id,
			  const char *entitlement_id, int64_t now_ms);
int store_pg_tx_instance_owned(struct store_tx *tx, const char *account_id,
			       const char *catalog_id, bool *owned);
int store_pg_tx_grant_stackable(struct store_tx *tx, int64_t row, int line,
				const char *account_id, const char *catalog_id,
				int64_t amount);
int store_pg_tx_grant_instance(struct store_tx *tx, int64_t row, int line,
			       const char *account_id, const char *catalog_id,
			       const char *instance_id, int64_t now_ms);
/* revoke.c */
int store_pg_tx_fulfilment_get(struct store_tx *tx, int64_t row,
			struct store_fulfilment_info *out);
int store_pg_tx_grants_read(struct store_tx *tx, int64_t row, store_grant_fn fn,
		      void *arg);
int store_pg_tx_stackable_get(struct store_tx *tx, const char *account_id,
			const char *catalog_id, int64_t *amount);
int store_pg_tx_stackable_add(struct store_tx *tx, const char *account_id,
			const char *catalog_id, int64_t delta);
int store_pg_tx_instance_delete(struct store_tx *tx, const char *account_id,
			  const char *instance_id, bool *deleted);
int store_pg_tx_claim_release(struct store_tx *tx, const char *account_id,
			const char *entitlement_id, int64_t now_ms);
int store_pg_tx_revocation_add(struct store_tx *tx,
			 const struct store_revocation *r);
int store_pg_tx_revocation_get(struct store_tx *tx, int64_t row,
			 store_revocation_fn fn, void *arg, bool *found);
int store_pg_tx_credential_insert(struct store_tx *tx,
				  const struct store_credential *c);
int store_pg_tx_credential_revoke(struct store_tx *tx, const char *id,
				  const char *kind, int64_t now_ms, bool *found);
int store_pg_tx_credential_rotate(struct store_tx *tx, const char *id,
				  const char *kind, const char *secret_hash,
				  int64_t previous_expires_at_ms,
				  int64_t now_ms, bool *found);
int store_pg_tx_credential_live_name(struct store_tx *tx, const char *name,
				     char *id, size_t id_size, bool *found);
int store_pg_tx_signing_key_insert(struct store_tx *tx,
				   const struct store_signing_key *k);
int store_pg_tx_signing_key_retire(struct store_tx *tx, const char *kid,
				   int64_t now_ms, bool *found);
int store_pg_tx_signing_keys_active(struct store_tx *tx, int64_t *count);
int store_pg_tx_link_get(struct store_tx *tx, const char *account_id,
			 const char *provider, struct store_link_row *out,
			 bool *found);
int store_pg_tx_link_put(struct store_tx *tx, const char *account_id,
			 const char *provider, const char *external_id,
			 int64_t now_ms, enum store_link_result *result,
			 struct store_link_row *out);
int store_pg_tx_link_tokens_set(struct store_tx *tx, const char *account_id,
				const char *provider, const void *tokens,
				size_t len, int64_t now_ms, bool *found);
int store_pg_tx_link_state_set(struct store_tx *tx, const char *account_id,
			       const char *provider,
			       enum store_link_state state, int64_t now_ms,
			       bool *found);
int store_pg_tx_link_delete(struct store_tx *tx, const char *account_id,
			    const char *provider, bool *found);
int store_pg_tx_link_token_add(struct store_tx *tx, const char *token_hash,
			       const char *account_id, int64_t now_ms,
			       int64_t expires_at_ms);
int store_pg_tx_link_token_spend(struct store_tx *tx, const char *token_hash,
				 int64_t now_ms, char *account_id, size_t size,
				 enum store_secret_result *result);
int store_pg_tx_oauth_state_add(struct store_tx *tx, const char *state_hash,
				const struct store_oauth_state *s,
				int64_t now_ms);
int store_pg_tx_oauth_state_spend(struct store_tx *tx, const char *state_hash,
				  const char *provider, int64_t now_ms,
				  struct store_oauth_state_row *out,
				  enum store_secret_result *result);
int store_pg_tx_outbox_add(struct store_tx *tx,
			   const struct store_outbox_item *it, int64_t now_ms,
			   bool *added);
int store_pg_tx_outbox_record(struct store_tx *tx,
			      const struct store_outbox_outcome *o,
			      int64_t now_ms);
int store_pg_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
			  int limit, store_outbox_fn fn, void *arg);
int store_pg_outbox_due(struct store *st, int64_t now_ms, bool *due);
int store_pg_outbox_counts(struct store *st,
			   int64_t counts[STORE_OUTBOX_DEAD + 1]);
int store_pg_outbox_read(struct store *st, const char *status,
			 int64_t before_id, int64_t limit,
			 store_outbox_row_fn fn, void *arg);
int store_pg_outbox_read_for(struct store *st, const char *account_id,
			     const char *needle, int64_t limit,
			     store_outbox_row_fn fn, void *arg);
int store_pg_audit_read_for(struct store *st, const char *target,
			    int64_t limit, store_audit_fn fn, void *arg);
int store_pg_outbox_kinds_read(struct store *st, store_outbox_kind_fn fn,
			       void *arg);
int store_pg_tx_outbox_give_up(struct store_tx *tx, int64_t id,
			       const char *error, int64_t now_ms,
			       int64_t *count);
int store_pg_tx_outbox_retry(struct store_tx *tx, int64_t id, int64_t now_ms,
			     int64_t *count);
int store_pg_tx_outbox_unlease(struct store_tx *tx, int64_t *count);
int store_pg_tx_audit_add(struct store_tx *tx, const struct store_audit *a);
int store_pg_tx_health_touch(struct store_tx *tx, int64_t now_ms);
int store_pg_tx_savepoint(struct store_tx *tx);
int store_pg_tx_savepoint_release(struct store_tx *tx);
int store_pg_tx_savepoint_rollback(struct store_tx *tx);
int store_pg_tx_broadcast_add(struct store_tx *tx,
			      const struct store_broadcast *b, bool *created);
int store_pg_tx_broadcasts_pending(struct store_tx *tx, const char *account_id,
				   int64_t now_ms, store_broadcast_fn fn,
				   void *arg);
int store_pg_tx_broadcast_delivered(struct store_tx *tx, int64_t id,
				    const char *account_id, int64_t now_ms);
int store_pg_tx_gamepot_login_add(struct store_tx *tx,
				  const struct store_gamepot_login *l,
				  int64_t now_ms, int64_t *id);
int store_pg_tx_gamepot_login_state(struct store_tx *tx, int64_t id,
				    char *state, size_t size, bool *found);
int store_pg_tx_gamepot_login_finish(struct store_tx *tx,
				     const struct store_gamepot_login *l,
				     int64_t now_ms, bool *updated);
int store_pg_tx_gamepot_login_attempt(struct store_tx *tx, int64_t id,
				      const char *error, int64_t now_ms);
int store_pg_gamepot_login_read(struct store *st, int64_t id,
				store_gamepot_login_fn fn, void *arg,
				bool *found);
int store_pg_gamepot_login_latest(struct store *st, const char *account_id,
				  store_gamepot_login_fn fn, void *arg,
				  bool *found);
int store_pg_account_read(struct store *st, const char *account_id,
			  struct store_account *out, bool *found);
int store_pg_inventory_read(struct store *st, const char *account_id,
			    store_stackable_fn on_stackable,
			    store_instance_fn on_instance, void *arg);
int store_pg_history_read(struct store *st, const char *account_id,
			  int64_t offset, int64_t limit, store_history_fn fn,
			  void *arg);
int store_pg_fulfilments_search(struct store *st,
				const struct store_fulfilment_query *q,
				store_history_fn fn, void *arg);
int store_pg_fulfilment_read(struct store *st, int64_t row,
			     store_history_fn fn, store_grant_fn gfn,
			     void *arg, bool *found);
int store_pg_credentials_read(struct store *st, store_credential_fn fn,
			      void *arg);
int store_pg_credential_live(struct store *st, const char *secret_hash,
			     const char *id, int64_t now_ms, bool *found);
int store_pg_signing_keys_read(struct store *st, store_signing_key_fn fn,
			       void *arg);
int store_pg_links_read(struct store *st, const char *account_id,
			store_link_fn fn, void *arg);
int store_pg_fulfilment_account_read(struct store *st, int64_t row,
				     char *account, size_t size, bool *found);
int store_pg_link_holder_read(struct store *st, const char *provider,
			      const char *external_id, char *account,
			      size_t size, bool *found);
int store_pg_tx_event_add(struct store_tx *tx, const char *type,
			  const char *account_id, int64_t created_at_ms,
			  const char *data_json, int64_t *id);
int store_pg_events_read(struct store *st, int64_t after_txid,
			 int64_t after_id, int64_t limit, store_event_fn fn,
			 void *arg);
int store_pg_audit_read(struct store *st, int64_t limit, store_audit_fn fn,
			void *arg);
int store_pg_broadcasts_until(struct store *st, int64_t *until_ms);
int store_pg_broadcasts_pending_any(struct store *st, const char *account_id,
				    int64_t now_ms, bool *any);

#endif
