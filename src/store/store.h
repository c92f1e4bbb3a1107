/* store: durable state (accounts, fulfilments, grants, inventory, claims,
 * credentials) behind one interface, and the writer that commits many write
 * intents in one transaction (group commit). */
#ifndef GRANTD_STORE_H
#define GRANTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* Return codes: 0 is success; negative values are failures. */
enum store_rc {
	STORE_OK = 0,
	STORE_ERR = -1,     /* the database failed; nothing of the intent was kept */
	STORE_CLOSED = -2,  /* the store is shutting down and takes no more work */
	STORE_NOT_FOUND = -3, /* backup: there is no database to copy */
	STORE_EXISTS = -4,  /* backup, restore: the file to write already exists */
	STORE_BUSY = -5,    /* restore: a process has the database open */
	/* A unique key was taken by another writer meanwhile (another node):
	 * nothing was written by the call; read the row that holds it. */
	STORE_CONFLICT = -6,
	/* A transient failure (a lost connection, a serialization failure):
	 * nothing of the intent was kept, and applying it again may succeed.
	 * SQLite, with its one writer, returns neither this nor
	 * STORE_CONFLICT; a driver shared by several writers does. */
	STORE_RETRY = -7,
};

#define STORE_ACCOUNT_ID_MAX 128
/* A fulfilment's public id is derived from its row: "f_" and 16 hex digits,
 * so no separate unique index is kept for it. */
#define STORE_FULFILMENT_ID_LEN 18
void store_fulfilment_id_format(int64_t row, char out[STORE_FULFILMENT_ID_LEN + 1]);
/* Returns 0 and the row, or -1 if `id` is not a fulfilment id. */
int store_fulfilment_id_parse(const char *id, int64_t *row);

/* A request fingerprint: the first 16 bytes of a SHA-256. */
#define STORE_FINGERPRINT_LEN 16

enum store_account_state {
	STORE_ACCOUNT_ACTIVE,
	STORE_ACCOUNT_SUSPENDED,
	STORE_ACCOUNT_BANNED,
};

enum store_fulfilment_status {
	STORE_FULFILMENT_PENDING,
	STORE_FULFILMENT_COMPLETED,
	STORE_FULFILMENT_FAILED,
	STORE_FULFILMENT_REVOKED,
};

/* Names as stored and shown in the API ("active", "completed", …); borrowed
 * static strings. The parsers return 0, or -1 for an unknown name. */
const char *store_account_state_name(enum store_account_state s);
int store_account_state_parse(const char *s, enum store_account_state *out);
const char *store_fulfilment_status_name(enum store_fulfilment_status s);

/* SQLite's options (storage.sqlite.*). */
struct store_sqlite_options {
	const char *path;
	/* true: an intent is answered only once its commit is on disk (power-
	 * loss safe); false: once committed (safe against a crash of grantd,
	 * not of the machine). */
	bool synchronous_full;
	/* WAL size at which checkpoints let the WAL start over; 0 means the
	 * default, 96 MiB (store/sqlite/checkpoint.c). The other checkpoint
	 * thresholds scale with it. Not a config key: for tuning and tests. */
	long long wal_restart_bytes;
};

/* PostgreSQL's options (storage.postgres.*). */
struct store_postgres_options {
	const char *url;        /* libpq connection string or URI */
	int pool_size;          /* connections: half write, half read, >= 2 */
	int statement_timeout_ms;
	int connect_timeout_ms;
};

/* What store_open opens: a driver, what every driver takes, and one
 * sub-struct of options per driver (only the chosen one is read). */
struct store_options {
	const char *driver;     /* "sqlite" or "postgres"; NULL means "sqlite" */
	/* true: refuse to create the database if there is none (for commands
	 * that only make sense against an existing one). */
	bool must_exist;
	int batch_max;          /* most intents committed together, >= 1 */
	struct store_sqlite_options sqlite;
	struct store_postgres_options postgres;
};

struct store;     /* opaque: one database and its writer thread */
struct store_tx;  /* opaque: the writer's transaction, valid inside apply */

/* Opens (creating if needed, unless opts->must_exist) the database, applies
 * pending migrations and starts the writer thread. Returns 0 and a new store
 * in *out, or -1 with a message in *err (owned by the caller) that names
 * the problem: no database at the path, a missing directory, SQLite's
 * error. */
int store_open(const struct store_options *opts, struct store **out, char **err);
/* Drains queued intents, stops the writer and closes every connection.
 * Accepts NULL. */
void store_close(struct store *st);
/* Schema version after migrations. */
int store_schema_version(struct store *st);
/* The schema version this binary migrates a database to (its number of
 * migrations). */
int store_schema_latest(void);
/* Runs a trivial read on a reader connection. Returns 0 if it works. */
int store_ping(struct store *st);

/* Whether the store takes writes now. */
enum store_health {
	STORE_HEALTHY,
	STORE_UNREACHABLE,       /* a read fails, or a sync failed (restart) */
	STORE_WRITES_FAILING,    /* the last commit failed */
	STORE_WRITES_STALLED,    /* a batch has been in the writer > 1 s */
};
#define STORE_STALL_MS 1000
/* Checks the store without waiting for the writer. While writes are
 * failing it also asks for a probe write (one at a time, at most once a
 * second), so the store turns healthy by itself once the database takes
 * writes again. */
enum store_health store_health(struct store *st);
/* Why the store is not healthy, for people (static); "" if it is. */
const char *store_health_reason(enum store_health h);

/* ---- writes: intents committed by the writer thread ------------------ */

/* A unit of work for the writer. The owner embeds it in its own state and
 * keeps it alive until `done` runs.
 * apply: runs on the writer thread inside the batch's transaction. Returns 0
 *        to keep its writes, or a negative value to have just this intent
 *        rolled back. apply may run more than once for one submission: the
 *        writer may roll a batch back and apply its intents again (after
 *        another intent failed, so that only the failing one is undone, or
 *        after a transient failure of the database). Only the last run's
 *        writes and results count, so apply must set every result it
 *        reports afresh each time, and must not act outside the store.
 * done:  runs once the batch's commit is durable (on the writer thread, or
 *        the syncer thread that waits for the WAL to reach the disk), with
 *        apply's result, or STORE_ERR if the commit failed (then nothing of
 *        the batch was kept), or STORE_CLOSED if the store was shutting down.
 *        A 0 here means the intent's writes are durable. */
struct store_intent {
	int (*apply)(struct store_tx *tx, struct store_intent *in);
	void (*done)(struct store_intent *in, int rc);
	/* What the intent locks first (the account id), or NULL; borrowed
	 * until done. A driver with several writers applies each batch in
	 * this order, so that two batches never wait on each other's locks
	 * in a cycle. */
	const char *order_key;
	struct store_intent *next_;  /* private to the writer */
	char trace_[UTIL_TRACE_MAX]; /* private: the request it was queued for */
	int rc_;                     /* private to the writer */
};

/* Queues an intent. Returns 0, or STORE_CLOSED (done is then not called). */
int store_submit(struct store *st, struct store_intent *in);

/* Runs `apply(tx, arg)` as one intent and waits for its commit. Returns what
 * the intent's done received. For command-line tools and tests. */
int store_run(struct store *st, int (*apply)(struct store_tx *tx, void *arg),
	      void *arg);

/* Batch sizes are counted in power-of-two buckets: bucket i holds batches
 * of at most 2^i intents (the last bucket holds the rest). */
#define STORE_BATCH_BUCKETS 13

/* Commit durations are counted in buckets bounded by these (seconds);
 * the last bucket holds the rest. */
#define STORE_COMMIT_BUCKETS 13
extern const double store_commit_bounds[STORE_COMMIT_BUCKETS - 1];

/* The writer's statistics since open: what every driver reports. */
struct store_stats {
	uint64_t batch_sizes[STORE_BATCH_BUCKETS];
	uint64_t batches;       /* commits of the writer */
	uint64_t intents;       /* intents those commits carried */
	uint64_t max_batch;
	uint64_t careful_batches; /* batches re-run with savepoints after a failure */
	uint64_t retried_batches; /* batches run again after a transient fault */
	/* COMMITs the writer ran (the statement: SQLite's WAL sync comes
	 * after it, PostgreSQL's flush within it), by duration */
	uint64_t commit_durations[STORE_COMMIT_BUCKETS];
	uint64_t commit_us_total;
	uint64_t queued;        /* intents waiting for the writer now */
};
/* Valid until store_close. */
void store_stats_get(struct store *st, struct store_stats *out);

/* One counter or gauge of the store, for metrics: `name` is a metric
 * suffix ("batches_total"; shown as grantd_store_<name>), type "counter"
 * or "gauge". Strings are static. */
struct store_stat {
	const char *name;
	const char *type;
	const char *help;
	uint64_t value;
};
typedef void (*store_stat_fn)(void *arg, const struct store_stat *s);
/* Calls fn for every counter and gauge the store keeps: the writer's,
 * then its driver's (for SQLite: syncs, checkpoints, the WAL's size). */
void store_stats_each(struct store *st, store_stat_fn fn, void *arg);
/* The value of the stat named `name` into *value. Returns 0, or -1 if the
 * store keeps no such stat. */
int store_stat_get(struct store *st, const char *name, uint64_t *value);

/* ---- transaction primitives (only inside apply) ---------------------- */

int store_tx_account_get(struct store_tx *tx, const char *account_id,
			 enum store_account_state *state, bool *found);
/* Creates or updates an account; *created tells which. */
int store_tx_account_put(struct store_tx *tx, const char *account_id,
			 enum store_account_state state, int64_t now_ms,
			 bool *created);

/* A fulfilment as the engine records it. Strings are borrowed. */
struct store_fulfilment {
	const char *source;
	const char *external_id;
	const char *account_id;
	const char *provider_item_id;
	const char *entitlement_id;     /* catalog entry, NULL if none matched */
	const unsigned char *fingerprint; /* STORE_FINGERPRINT_LEN bytes */
	enum store_fulfilment_status status;
	const char *error_code;         /* NULL unless failed */
	const char *skipped;            /* JSON array of skipped catalogIds, or NULL */
	int64_t created_at_ms;
	int64_t updated_at_ms;
	int64_t fulfilled_at_ms;        /* 0 unless completed */
	/* the entitlement as it arrived (JSON text), or NULL */
	const char *request;
};

/* What the engine needs to know about an existing fulfilment. */
struct store_fulfilment_ref {
	bool found;
	int64_t row;
	char fulfillment_id[STORE_FULFILMENT_ID_LEN + 1];
	unsigned char fingerprint[STORE_FINGERPRINT_LEN];
	enum store_fulfilment_status status;
	bool has_entitlement;   /* its entitlement_id is set */
};

int store_tx_fulfilment_find(struct store_tx *tx, const char *source,
			     const char *external_id,
			     struct store_fulfilment_ref *out);
/* Claims (source, external_id) for a new fulfilment, atomically: inserts
 * f and puts its row id in *row, or, if a fulfilment with that key exists
 * (another writer recorded it since it was looked up), writes nothing,
 * fills *existing and returns STORE_CONFLICT. Two writers racing on one
 * key can therefore never both record it. */
int store_tx_fulfilment_claim(struct store_tx *tx,
			      const struct store_fulfilment *f, int64_t *row,
			      struct store_fulfilment_ref *existing);
/* Rewrites an existing fulfilment (a failed one evaluated again). Its row
 * (so its id), source, external_id and created time are kept. */
int store_tx_fulfilment_update(struct store_tx *tx, int64_t row,
			       const struct store_fulfilment *f);

/* How many times an account claimed a catalog entry limited per account. */
int store_tx_claim_count(struct store_tx *tx, const char *account_id,
			 const char *entitlement_id, int64_t *count);
int store_tx_claim_add(struct store_tx *tx, const char *account_id,
		       const char *entitlement_id, int64_t now_ms);

/* True in *owned if the account holds an instance of `catalog_id`. */
int store_tx_instance_owned(struct store_tx *tx, const char *account_id,
			    const char *catalog_id, bool *owned);
/* Records line `line` (0, 1, … within the fulfilment) of fulfilment `row`
 * as a stackable grant and adds it to the balance. */
int store_tx_grant_stackable(struct store_tx *tx, int64_t row, int line,
			     const char *account_id, const char *catalog_id,
			     int64_t amount);
/* Records line `line` as an instanced grant and creates the instance. */
int store_tx_grant_instance(struct store_tx *tx, int64_t row, int line,
			    const char *account_id, const char *catalog_id,
			    const char *instance_id, int64_t now_ms);

/* ---- revocations: what a fulfilment granted, taken back -------------- */

#define STORE_CATALOG_ID_MAX 128

/* A fulfilment as a revocation reads it, by row. */
struct store_fulfilment_info {
	bool found;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	char entitlement_id[STORE_CATALOG_ID_MAX + 1]; /* "" if none */
	enum store_fulfilment_status status;
};
int store_tx_fulfilment_get(struct store_tx *tx, int64_t row,
			    struct store_fulfilment_info *out);

/* One line of a fulfilment's grants ledger: instance_id is NULL for a
 * stackable line. Strings are borrowed for the call; fn must not write. */
typedef void (*store_grant_fn)(void *arg, int line, const char *catalog_id,
			       int64_t amount, const char *instance_id);
/* Calls fn for every grant line of fulfilment `row`, by line. */
int store_tx_grants_read(struct store_tx *tx, int64_t row, store_grant_fn fn,
			 void *arg);
/* An account's balance of stackable `catalog_id` (0 if it has none). */
int store_tx_stackable_get(struct store_tx *tx, const char *account_id,
			   const char *catalog_id, int64_t *amount);
/* Adds `delta` (which may be negative) to the balance, creating it. */
int store_tx_stackable_add(struct store_tx *tx, const char *account_id,
			   const char *catalog_id, int64_t delta);
/* Deletes instance `instance_id` of `account_id`; *deleted tells whether
 * it was there. */
int store_tx_instance_delete(struct store_tx *tx, const char *account_id,
			     const char *instance_id, bool *deleted);
/* Takes one claim of `entitlement_id` back from the account (never below
 * 0), so it may be claimed again. */
int store_tx_claim_release(struct store_tx *tx, const char *account_id,
			   const char *entitlement_id, int64_t now_ms);

/* A revocation as stored (the revocations table). Strings are borrowed. */
struct store_revocation {
	int64_t row;             /* the fulfilment's row */
	const char *account_id;
	const char *reason;
	const char *actor;       /* "api:<credential name>" */
	bool released_claim;
	const char *removed;     /* JSON {"stackables": [...], "instanced": [...]} */
	const char *shortfall;   /* JSON {catalog_id: amount not removed} */
	int64_t revoked_at_ms;
};
/* Records the revocation and marks fulfilment r->row revoked. */
int store_tx_revocation_add(struct store_tx *tx,
			    const struct store_revocation *r);
typedef void (*store_revocation_fn)(void *arg, const struct store_revocation *r);
/* Reads the revocation of fulfilment `row`: fn runs once if there is one
 * (strings borrowed for the call), and *found tells whether there was. */
int store_tx_revocation_get(struct store_tx *tx, int64_t row,
			    store_revocation_fn fn, void *arg, bool *found);

/* ---- credentials and the audit trail ---------------------------------- */

#define STORE_CREDENTIAL_API_KEY "api_key"
#define STORE_CREDENTIAL_OAUTH_CLIENT "oauth_client"

/* A credential row. Strings are borrowed (valid during the call that hands
 * the struct over). */
struct store_credential {
	const char *id;
	const char *kind;           /* STORE_CREDENTIAL_API_KEY or _OAUTH_CLIENT */
	const char *name;
	const char *secret_hash;    /* hex SHA-256 of the secret */
	const char *scopes;         /* space-separated */
	int64_t created_at_ms;
	int64_t expires_at_ms;      /* 0: never */
	int64_t revoked_at_ms;      /* 0: not revoked */
	const char *previous_secret_hash;  /* NULL unless rotated */
	int64_t previous_expires_at_ms;    /* end of the old secret's grace */
	int64_t secret_rotated_at_ms;      /* 0: never rotated */
};

int store_tx_credential_insert(struct store_tx *tx,
			       const struct store_credential *c);
/* Marks the credential `id` of `kind` revoked; *found is false if there is
 * no such credential. */
int store_tx_credential_revoke(struct store_tx *tx, const char *id,
			       const char *kind, int64_t now_ms, bool *found);
/* Replaces the secret of live credential `id` of `kind`; the old one stays
 * valid until `previous_expires_at_ms`. *found is false if there is no such
 * live credential. */
int store_tx_credential_rotate(struct store_tx *tx, const char *id,
			       const char *kind, const char *secret_hash,
			       int64_t previous_expires_at_ms, int64_t now_ms,
			       bool *found);

/* The id of the live (not revoked) credential named `name`, if any, into
 * `id` (`id_size` bytes): names are unique among live credentials. */
int store_tx_credential_live_name(struct store_tx *tx, const char *name,
				  char *id, size_t id_size, bool *found);

/* An access token signing key as stored. Strings are borrowed. */
struct store_signing_key {
	const char *kid;
	const char *secret;        /* the HMAC secret, as text */
	int64_t created_at_ms;
	int64_t retired_at_ms;     /* 0: active */
};

int store_tx_signing_key_insert(struct store_tx *tx,
				const struct store_signing_key *k);
/* Marks active key `kid` retired at now_ms. *found is false if there is no
 * such active key. */
int store_tx_signing_key_retire(struct store_tx *tx, const char *kid,
				int64_t now_ms, bool *found);
/* How many signing keys are active (not retired). */
int store_tx_signing_keys_active(struct store_tx *tx, int64_t *count);

/* ---- links: provider identities of accounts ---------------------------- */

#define STORE_EXTERNAL_ID_MAX 128

enum store_link_state {
	STORE_LINK_LINKED,
	STORE_LINK_RELINK_REQUIRED,  /* the provider refused its stored tokens */
};
/* "linked", "relink_required" (static strings). */
const char *store_link_state_name(enum store_link_state s);

/* A link as stored. Strings are borrowed. */
struct store_link {
	const char *account_id;
	const char *provider;
	const char *external_id;
	enum store_link_state state;
	int64_t linked_at_ms;
	int64_t updated_at_ms;
	const void *tokens;        /* sealed provider tokens, or NULL */
	size_t tokens_len;
};

/* What store_tx_link_put did. */
enum store_link_result {
	STORE_LINK_CREATED,     /* a new link */
	STORE_LINK_UNCHANGED,   /* the account already had this identity */
	STORE_LINK_REPLACED,    /* the account's link now names this identity */
	STORE_LINK_TAKEN,       /* another account holds it: nothing written */
	STORE_LINK_NO_ACCOUNT,  /* no such account: nothing written */
};

/* A link read inside a transaction, in storage of its own. */
struct store_link_row {
	char external_id[STORE_EXTERNAL_ID_MAX + 1];
	enum store_link_state state;
	int64_t linked_at_ms;
};

/* The link of `account_id` at `provider`, if any. */
int store_tx_link_get(struct store_tx *tx, const char *account_id,
		      const char *provider, struct store_link_row *out,
		      bool *found);
/* Links `account_id` to `external_id` at `provider` (at most one link per
 * account and provider; an identity belongs to one account). On
 * _CREATED, _UNCHANGED and _REPLACED, *out is the link as it now is. */
int store_tx_link_put(struct store_tx *tx, const char *account_id,
		      const char *provider, const char *external_id,
		      int64_t now_ms, enum store_link_result *result,
		      struct store_link_row *out);
/* Stores sealed tokens for the link of `account_id` at `provider` (NULL:
 * none) and marks it linked; *found is false if there is no such link. */
int store_tx_link_tokens_set(struct store_tx *tx, const char *account_id,
			     const char *provider, const void *tokens,
			     size_t len, int64_t now_ms, bool *found);
/* Sets the state of the link of `account_id` at `provider`; *found is
 * false if there is no such link. */
int store_tx_link_state_set(struct store_tx *tx, const char *account_id,
			    const char *provider, enum store_link_state state,
			    int64_t now_ms, bool *found);
/* Removes the link of `account_id` at `provider`; *found tells whether
 * there was one. */
int store_tx_link_delete(struct store_tx *tx, const char *account_id,
			 const char *provider, bool *found);

/* ---- the browser link flow: single-use secrets -------------------------- */

/* Link tokens and OAuth states are stored by hash only: the hex SHA-256
 * of the secret (64 characters). Rows past their expiry by more than a
 * day are removed when new ones are added. */
#define STORE_SECRET_HASH_LEN 64
#define STORE_VERIFIER_MAX 255
#define STORE_RETURN_TO_MAX 2048

/* What spending a single-use secret found. */
enum store_secret_result {
	STORE_SECRET_SPENT,      /* it was live: now it is used */
	STORE_SECRET_UNKNOWN,    /* no such secret (or another provider's) */
	STORE_SECRET_EXPIRED,    /* past its expiry, never used */
	STORE_SECRET_USED,       /* spent before */
};

/* Adds a link token for `account_id`, live until expires_at_ms. */
int store_tx_link_token_add(struct store_tx *tx, const char *token_hash,
			    const char *account_id, int64_t now_ms,
			    int64_t expires_at_ms);
/* Spends the link token with `token_hash` if it is live at now_ms; on
 * STORE_SECRET_SPENT its account goes to `account_id` (`size` bytes).
 * Nothing is written otherwise. */
int store_tx_link_token_spend(struct store_tx *tx, const char *token_hash,
			      int64_t now_ms, char *account_id, size_t size,
			      enum store_secret_result *result);

/* An OAuth state to add. Strings are borrowed. */
struct store_oauth_state {
	const char *account_id;
	const char *provider;
	const char *verifier;        /* the PKCE code verifier (as the
				      * caller sealed it) */
	const char *return_to;       /* where the player goes afterwards */
	int64_t expires_at_ms;
};
/* A spent OAuth state, in storage of its own. */
struct store_oauth_state_row {
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	char verifier[STORE_VERIFIER_MAX + 1];
	char return_to[STORE_RETURN_TO_MAX + 1];
};

int store_tx_oauth_state_add(struct store_tx *tx, const char *state_hash,
			     const struct store_oauth_state *s, int64_t now_ms);
/* Spends the OAuth state with `state_hash` if it is live at now_ms and
 * was made for `provider` (a state of another provider is UNKNOWN and
 * stays live). On STORE_SECRET_SPENT *out holds it, and the stored
 * verifier is cleared. */
int store_tx_oauth_state_spend(struct store_tx *tx, const char *state_hash,
			       const char *provider, int64_t now_ms,
			       struct store_oauth_state_row *out,
			       enum store_secret_result *result);

/* ---- the outbox: side effects delivered after commit -------------------- */

enum store_outbox_status {
	STORE_OUTBOX_PENDING,
	STORE_OUTBOX_DELIVERED,
	STORE_OUTBOX_DEAD,       /* gave up: visible, retryable by an operator */
};
/* "pending", "delivered", "dead" (static strings). */
const char *store_outbox_status_name(enum store_outbox_status s);

/* A row to add, or one claimed. Strings are borrowed. */
struct store_outbox_item {
	int64_t id;                /* assigned on insert */
	const char *kind;          /* what delivers it: "report.twitch", … */
	const char *dedupe_key;    /* at most one pending row per kind and key */
	const char *account_id;    /* may be NULL */
	const char *payload;       /* JSON text */
	int64_t attempts;          /* deliveries tried so far */
	/* the request whose work queued it ("" or NULL: none); on add, NULL
	 * takes the calling thread's (util_trace_get) */
	const char *request_id;
};

/* Adds a pending row due at once, unless a pending row of the same kind
 * and key exists (*added false then). */
int store_tx_outbox_add(struct store_tx *tx, const struct store_outbox_item *it,
			int64_t now_ms, bool *added);

/* What became of a delivery. */
struct store_outbox_outcome {
	int64_t id;
	enum store_outbox_status status;   /* pending again: retry at next_at */
	int64_t next_attempt_at_ms;
	const char *error;                 /* NULL once delivered */
};
/* Records one delivery attempt: counts it, ends the lease. */
int store_tx_outbox_record(struct store_tx *tx,
			   const struct store_outbox_outcome *o, int64_t now_ms);

typedef void (*store_outbox_fn)(void *arg, const struct store_outbox_item *it);
/* Claims up to `limit` pending rows that are due at now_ms and not leased:
 * each gets a lease until now_ms + lease_ms (a crash lets it lapse, and the
 * row is claimed again), and is handed to fn once the claim has
 * committed (borrowed for the call). Returns 0, or a store_rc. */
int store_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
		       int limit, store_outbox_fn fn, void *arg);
/* True in *due if some pending row is due at now_ms and not leased: a
 * read, so an idle outbox costs no write. */
int store_outbox_due(struct store *st, int64_t now_ms, bool *due);
/* Rows per status. */
int store_outbox_counts(struct store *st,
			int64_t counts[STORE_OUTBOX_DEAD + 1]);

/* A row as an operator sees it. Strings are borrowed for the callback. */
struct store_outbox_row {
	int64_t id;
	const char *kind;
	const char *dedupe_key;
	const char *account_id;        /* may be NULL */
	const char *payload;
	enum store_outbox_status status;
	int64_t attempts;
	int64_t next_attempt_at_ms;
	const char *last_error;        /* NULL if none */
	int64_t created_at_ms;
	int64_t updated_at_ms;
};
typedef void (*store_outbox_row_fn)(void *arg, const struct store_outbox_row *r);
/* Reads rows newest first: of one status (`status` NULL: any), with ids
 * below `before_id` (0: from the newest), at most `limit`. */
int store_outbox_read(struct store *st, const char *status, int64_t before_id,
		      int64_t limit, store_outbox_row_fn fn, void *arg);
/* Reads an account's rows whose payload contains `needle` (a fulfilment
 * id: its reports and event deliveries), newest first, at most `limit`. */
int store_outbox_read_for(struct store *st, const char *account_id,
			  const char *needle, int64_t limit,
			  store_outbox_row_fn fn, void *arg);
typedef void (*store_outbox_kind_fn)(void *arg, const char *kind,
				     enum store_outbox_status status,
				     int64_t count);
/* Pending and dead rows by kind and status. */
int store_outbox_kinds_read(struct store *st, store_outbox_kind_fn fn,
			    void *arg);
/* Makes dead row `id` (0: every dead row) pending and due now with its
 * attempts counted afresh; a pending row `id` is made due now. A row
 * stays as it is while another row of its kind and key is pending.
 * *count gets how many rows changed. */
int store_tx_outbox_retry(struct store_tx *tx, int64_t id, int64_t now_ms,
			  int64_t *count);
/* Gives a pending delivery up (dead) with `error` as its last error,
 * unless it is being delivered right now (leased): *count is 1 if it was
 * given up, 0 if no pending, unleased delivery has that id. */
int store_tx_outbox_give_up(struct store_tx *tx, int64_t id,
			    const char *error, int64_t now_ms, int64_t *count);

/* Ends every lease on pending rows: at start, when this process is the
 * only one delivering (SQLite), the leases left are a crashed run's, and
 * its rows are due again at once rather than when the leases lapse.
 * *count gets how many rows were leased. */
int store_tx_outbox_unlease(struct store_tx *tx, int64_t *count);

/* One audit record. Strings are borrowed. */
struct store_audit {
	int64_t id;           /* assigned on insert; ignored by the insert */
	int64_t at_ms;
	const char *actor;    /* "cli:<user>", "server" */
	const char *action;   /* "credential.created", "catalog.reloaded", … */
	const char *target;   /* what it acted on, or NULL */
	const char *detail;   /* a JSON object as text */
};

int store_tx_audit_add(struct store_tx *tx, const struct store_audit *a);

/* Records that a write went through at now_ms (the health probe). */
int store_tx_health_touch(struct store_tx *tx, int64_t now_ms);

/* ---- nested savepoints: part of an intent undone alone --------------- */

/* Opens a savepoint inside the intent's transaction; it must be released
 * or rolled back before apply returns, and not nested in another one. */
int store_tx_savepoint(struct store_tx *tx);
/* Keeps what was written since the savepoint. */
int store_tx_savepoint_release(struct store_tx *tx);
/* Undoes what was written since the savepoint, and ends it. */
int store_tx_savepoint_rollback(struct store_tx *tx);

/* ---- broadcasts: grants to every account, until they expire ----------- */

/* A broadcast as stored. Strings are borrowed. */
struct store_broadcast {
	int64_t id;                 /* assigned on insert */
	const char *source;         /* with external_id: unique */
	const char *external_id;
	const char *namespace_;     /* catalog namespace of the lines' item ids */
	const char *lines;          /* JSON [{"item": "...", "quantity": n}] */
	const char *detail;         /* JSON object for people, or NULL */
	int64_t created_at_ms;
	int64_t expires_at_ms;      /* INT64_MAX: never */
};

/* Adds a broadcast unless one with its (source, external_id) exists;
 * *created tells which. */
int store_tx_broadcast_add(struct store_tx *tx, const struct store_broadcast *b,
			   bool *created);
/* Calls fn for each broadcast live at now_ms that `account_id` has not
 * had, oldest first; fn returns 0 to go on, or a store_rc that stops the
 * walk and is returned. The rows are read before the first call, so fn
 * may write in the transaction; the broadcast's strings are valid during
 * the call only. */
typedef int (*store_broadcast_fn)(void *arg, const struct store_broadcast *b);
int store_tx_broadcasts_pending(struct store_tx *tx, const char *account_id,
				int64_t now_ms, store_broadcast_fn fn, void *arg);
/* Records that `account_id` has had broadcast `id` (again: no change). */
int store_tx_broadcast_delivered(struct store_tx *tx, int64_t id,
				 const char *account_id, int64_t now_ms);
/* ---- events: what happened, for the game backend ----------------------- */

/* Adds an event of `type` about `account_id` (may be NULL) with `data`
 * (JSON text), in the transaction of the change it tells of, so it
 * exists exactly when that change committed; its id goes to *id. `id`
 * may be NULL when the id is not needed: a pipelining driver then sends
 * the insert without waiting for it. */
int store_tx_event_add(struct store_tx *tx, const char *type,
		       const char *account_id, int64_t created_at_ms,
		       const char *data_json, int64_t *id);

/* An event as stored. Strings are borrowed for the callback. */
struct store_event {
	int64_t id;
	/* Feed order is (txid, id). PostgreSQL: the id of the transaction
	 * that wrote it; SQLite (one writer, ids in commit order): 0. */
	int64_t txid;
	const char *type;
	const char *account_id;    /* may be NULL */
	int64_t created_at_ms;
	const char *data;          /* JSON text */
};
typedef void (*store_event_fn)(void *arg, const struct store_event *e);
/* Reads up to `limit` committed events after position (after_txid,
 * after_id) in feed order ((0, 0): from the first). Only events no
 * transaction can still come before are read: a later read from the last
 * position handed out sees every event committed since, none twice. */
int store_events_read(struct store *st, int64_t after_txid, int64_t after_id,
		      int64_t limit, store_event_fn fn, void *arg);

/* ---- GAMEPOT login validations (gamepot_login.c) ----------------------- */

/* A validation as stored. Strings are borrowed (valid during the call that
 * hands the struct over); optional ones are NULL when not given. The
 * state names are the sources module's (the table CHECKs them). */
struct store_gamepot_login {
	int64_t id;                /* assigned on insert */
	const char *account_id;
	const char *member_id;
	const char *token;         /* NULL once GAMEPOT has answered, and in
				    * store_gamepot_login_latest */
	const char *remote_ip;
	const char *platform;
	const char *state;         /* "pending" until answered */
	bool has_result;
	int64_t result;            /* GAMEPOT's status, if has_result */
	const char *message;       /* GAMEPOT's message, or NULL */
	bool account_suspended;    /* this validation suspended the account */
	int64_t attempts;          /* calls to GAMEPOT that failed */
	const char *last_error;    /* why the last of them failed, or NULL */
	int64_t created_at_ms;
	int64_t validated_at_ms;   /* 0 while pending */
};

/* Adds a pending validation of l's account_id, member_id, token,
 * remote_ip and platform; its id goes to *id. */
int store_tx_gamepot_login_add(struct store_tx *tx,
			       const struct store_gamepot_login *l,
			       int64_t now_ms, int64_t *id);
/* The state of validation `id` into `state` (`size` bytes); *found tells
 * whether there is one. */
int store_tx_gamepot_login_state(struct store_tx *tx, int64_t id, char *state,
				 size_t size, bool *found);
/* Records GAMEPOT's answer to pending validation l->id (l->state,
 * has_result/result, message, account_suspended) and drops its token.
 * *updated is false if it was not pending (nothing written). */
int store_tx_gamepot_login_finish(struct store_tx *tx,
				  const struct store_gamepot_login *l,
				  int64_t now_ms, bool *updated);
/* Counts a failed call to GAMEPOT for pending validation `id`, with why
 * (`error`, no secrets). */
int store_tx_gamepot_login_attempt(struct store_tx *tx, int64_t id,
				   const char *error, int64_t now_ms);

typedef void (*store_gamepot_login_fn)(void *arg,
				       const struct store_gamepot_login *l);
/* Reads validation `id` (with its token while pending); fn runs once if
 * it exists, and *found tells whether it did. */
int store_gamepot_login_read(struct store *st, int64_t id,
			     store_gamepot_login_fn fn, void *arg, bool *found);
/* Reads the newest validation of `account_id` (never its token); fn runs
 * once if there is one, and *found tells whether there was. */
int store_gamepot_login_latest(struct store *st, const char *account_id,
			       store_gamepot_login_fn fn, void *arg,
			       bool *found);

/* ---- reads (reader connections; never wait for the writer) ----------- */

struct store_account {
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	enum store_account_state state;
	int64_t created_at_ms;
	int64_t updated_at_ms;
};

int store_account_read(struct store *st, const char *account_id,
		       struct store_account *out, bool *found);

/* Row callbacks: pointers are borrowed for the duration of the call. */
struct store_instance_row {
	const char *instance_id;
	const char *catalog_id;
	const char *fulfillment_id;
	int64_t acquired_at_ms;
};
typedef void (*store_stackable_fn)(void *arg, const char *catalog_id,
				   int64_t amount);
typedef void (*store_instance_fn)(void *arg, const struct store_instance_row *r);

/* Reads an account's stackable balances and instances from one snapshot. */
int store_inventory_read(struct store *st, const char *account_id,
			 store_stackable_fn on_stackable,
			 store_instance_fn on_instance, void *arg);

struct store_history_row {
	const char *fulfillment_id;
	const char *source;
	const char *external_id;
	const char *account_id;
	const char *provider_item_id;
	const char *entitlement_id;     /* may be NULL */
	const char *status;
	const char *error_code;         /* may be NULL */
	const char *skipped;            /* JSON array text, may be NULL */
	int64_t created_at_ms;
	int64_t fulfilled_at_ms;        /* 0 if not completed */
	/* the entitlement as it arrived (JSON text); only store_fulfilment_read
	 * sets it, and NULL if not kept */
	const char *request;
};
typedef void (*store_history_fn)(void *arg, const struct store_history_row *r);

/* Reads an account's fulfilments, newest first, skipping `offset`. */
int store_history_read(struct store *st, const char *account_id,
		       int64_t offset, int64_t limit, store_history_fn fn,
		       void *arg);

/* What operators search fulfilments by; NULL or 0 means any. */
struct store_fulfilment_query {
	const char *account_id;
	const char *source;
	const char *external_id;
	const char *status;             /* "completed", "failed", … */
	int64_t since_ms;               /* created at or after */
	int64_t until_ms;               /* created before */
	int64_t before_row;             /* a cursor: only rows below it */
	int64_t limit;                  /* > 0 */
};
/* Reads the fulfilments matching q, newest first (by row: a page that
 * ends at row r goes on with before_row = r, and rows added meanwhile are
 * all above it). */
int store_fulfilments_search(struct store *st,
			     const struct store_fulfilment_query *q,
			     store_history_fn fn, void *arg);

/* Reads fulfilment `row` (fn, once) and its grants by line (gfn, as
 * store_tx_grants_read calls it), from one snapshot; *found is false if
 * there is no such row (no call then). */
int store_fulfilment_read(struct store *st, int64_t row, store_history_fn fn,
			  store_grant_fn gfn, void *arg, bool *found);

typedef void (*store_credential_fn)(void *arg, const struct store_credential *c);
/* Reads every credential, oldest first. */
int store_credentials_read(struct store *st, store_credential_fn fn, void *arg);

/* True in *found if a live credential (neither revoked nor expired at
 * now_ms) has the secret whose SHA-256 is `secret_hash` (hex), and, when
 * `id` is not NULL, that id. An indexed read, for credentials made since
 * the last full read. */
int store_credential_live(struct store *st, const char *secret_hash,
			  const char *id, int64_t now_ms, bool *found);

typedef void (*store_signing_key_fn)(void *arg,
				     const struct store_signing_key *k);
/* Reads every signing key, newest first. */
int store_signing_keys_read(struct store *st, store_signing_key_fn fn,
			    void *arg);

typedef void (*store_link_fn)(void *arg, const struct store_link *l);
/* Reads an account's links, by provider. */
int store_links_read(struct store *st, const char *account_id,
		     store_link_fn fn, void *arg);
/* The account linked to identity `external_id` at `provider`, into
 * `account` (`size` bytes); *found tells whether there is one. */
int store_link_holder_read(struct store *st, const char *provider,
			   const char *external_id, char *account, size_t size,
			   bool *found);

/* The account of fulfilment `row` into `account` (`size` bytes); *found
 * tells whether there is one. For an intent's order_key: the intent reads
 * it again under the account's lock. */
int store_fulfilment_account_read(struct store *st, int64_t row, char *account,
				  size_t size, bool *found);

typedef void (*store_audit_fn)(void *arg, const struct store_audit *a);
/* Reads the newest `limit` audit records (limit < 0: all), oldest first. */
int store_audit_read(struct store *st, int64_t limit, store_audit_fn fn,
		     void *arg);
/* Reads the audit records about `target`, oldest first, at most `limit`. */
int store_audit_read_for(struct store *st, const char *target, int64_t limit,
			 store_audit_fn fn, void *arg);

/* The latest expiry of any broadcast (0: there is none). */
int store_broadcasts_until(struct store *st, int64_t *until_ms);
/* Whether `account_id` has a broadcast live at now_ms still to get. */
int store_broadcasts_pending_any(struct store *st, const char *account_id,
				 int64_t now_ms, bool *any);

/* ---- backup and restore (backup.c; no store handle needed) ----------- */

/* What a backup holds, read from the file. */
struct store_backup_info {
	int schema_version;
	int64_t fulfilments;
	int64_t accounts;
	int64_t bytes;          /* size of the file */
};

/* Copies the database at `db_path`, which a running grantd may be writing
 * to, into the new file `to_path`: one read transaction, so one consistent
 * snapshot holding every commit made before it began. The copy is written
 * beside `to_path`, synced, checked like store_backup_check, then renamed
 * to `to_path` and the directory synced. The database is only read, as by
 * any reader: never created, written or checkpointed.
 * Returns 0 and the copy's *info; STORE_NOT_FOUND if there is no file at
 * `db_path`; STORE_EXISTS if `to_path` exists; STORE_ERR with a message in
 * *err (owned by the caller). On failure nothing is left at `to_path`. */
int store_backup(const char *db_path, const char *to_path,
		 struct store_backup_info *info, char **err);

/* Checks that `path` is a grantd backup this binary can restore: a
 * readable SQLite file whose integrity check passes, with grantd's tables
 * and a schema version from 1 to store_schema_latest(). Opens it read-only.
 * Returns 0 and *info, or STORE_ERR with *err (owned) naming the file and
 * what is wrong. */
int store_backup_check(const char *path, struct store_backup_info *info,
		       char **err);

/* Puts the backup at `from_path` in place as the database at `db_path`,
 * after checking it (store_backup_check). A database already at `db_path`
 * is replaced only if `replace`, and only while no process has it open;
 * its -wal, -shm and -journal files are removed before the new file takes
 * its name, so they cannot be applied to it. The copy is written beside
 * `db_path`, synced, renamed and the directory synced.
 * Returns 0 and the backup's *info; STORE_EXISTS if a database is at
 * `db_path` and !replace; STORE_BUSY if a process has it open; STORE_ERR
 * with *err (owned). If the checks or the copy fail, nothing at `db_path`
 * has changed. */
int store_restore(const char *from_path, const char *db_path, bool replace,
		  struct store_backup_info *info, char **err);

#endif
