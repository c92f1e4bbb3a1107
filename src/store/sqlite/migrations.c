/* store/sqlite/migrations.c: the versioned schema, embedded and applied in
 * order. */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>

/* Each entry moves the schema from version i to i+1. Never edit a released
 * entry; append a new one. (CHECKs use OR chains, not IN lists: SQLite
 * builds an ephemeral table for an IN list on every insert.) */
static const char *const migrations[] = {
	/* 1: accounts, fulfilments, grants, inventory, claims, credentials. */
	"CREATE TABLE accounts ("
	"  account_id TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL"
	"    CHECK (state = 'active' OR state = 'suspended' OR state = 'banned'),"
	"  created_at_ms INTEGER NOT NULL,"
	"  updated_at_ms INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE fulfillments ("
	"  row_id INTEGER PRIMARY KEY,"  /* fulfillment_id is derived from it */
	"  source TEXT NOT NULL,"
	"  external_id TEXT NOT NULL,"
	"  account_id TEXT NOT NULL,"
	"  provider_item_id TEXT NOT NULL,"
	"  entitlement_id TEXT,"
	"  request_fingerprint BLOB NOT NULL,"
	"  status TEXT NOT NULL"
	"    CHECK (status = 'pending' OR status = 'completed' OR"
	"           status = 'failed' OR status = 'revoked'),"
	"  error_code TEXT,"
	"  skipped TEXT,"
	"  created_at_ms INTEGER NOT NULL,"
	"  updated_at_ms INTEGER NOT NULL,"
	"  fulfilled_at_ms INTEGER,"
	"  UNIQUE (source, external_id)"
	");"
	"CREATE INDEX fulfillments_by_account ON fulfillments (account_id, row_id);"
	"CREATE TABLE grants ("
	"  fulfillment_row INTEGER NOT NULL REFERENCES fulfillments (row_id),"
	"  line INTEGER NOT NULL,"
	"  catalog_id TEXT NOT NULL,"
	"  amount INTEGER NOT NULL,"
	"  instance_id TEXT,"
	"  PRIMARY KEY (fulfillment_row, line)"
	") WITHOUT ROWID;"
	"CREATE TABLE inventory_stackables ("
	"  account_id TEXT NOT NULL,"
	"  catalog_id TEXT NOT NULL,"
	"  amount INTEGER NOT NULL,"
	"  PRIMARY KEY (account_id, catalog_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE inventory_instances ("
	"  instance_id TEXT PRIMARY KEY,"
	"  account_id TEXT NOT NULL,"
	"  catalog_id TEXT NOT NULL,"
	"  fulfillment_row INTEGER NOT NULL,"
	"  acquired_at_ms INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX inventory_instances_by_account"
	"  ON inventory_instances (account_id, catalog_id);"
	"CREATE TABLE claims ("
	"  account_id TEXT NOT NULL,"
	"  entitlement_id TEXT NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  updated_at_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (account_id, entitlement_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE credentials ("
	"  id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  secret_hash TEXT NOT NULL UNIQUE,"
	"  scopes TEXT NOT NULL,"
	"  created_at_ms INTEGER NOT NULL,"
	"  expires_at_ms INTEGER,"
	"  revoked_at_ms INTEGER,"
	"  updated_at_ms INTEGER NOT NULL"
	");",
	/* 2: OAuth clients with secret rotation, and the audit trail. */
	"ALTER TABLE credentials ADD COLUMN previous_secret_hash TEXT;"
	"ALTER TABLE credentials ADD COLUMN previous_expires_at_ms INTEGER;"
	"ALTER TABLE credentials ADD COLUMN secret_rotated_at_ms INTEGER;"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at_ms INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT,"
	"  detail TEXT NOT NULL"
	");",
	/* 3: names unique among live credentials (older duplicates get their
	 * id appended, keeping the newest as named), and access token signing
	 * keys kept in the database. */
	"UPDATE credentials SET name = substr(name, 1, 38) || ' (' || id || ')'"
	"  WHERE revoked_at_ms IS NULL AND EXISTS (SELECT 1 FROM credentials n"
	"    WHERE n.name = credentials.name AND n.revoked_at_ms IS NULL"
	"      AND (n.created_at_ms > credentials.created_at_ms OR"
	"           (n.created_at_ms = credentials.created_at_ms AND"
	"            n.id > credentials.id)));"
	"CREATE UNIQUE INDEX credentials_live_name ON credentials (name)"
	"  WHERE revoked_at_ms IS NULL;"
	"CREATE TABLE signing_keys ("
	"  kid TEXT PRIMARY KEY,"
	"  secret TEXT NOT NULL,"
	"  created_at_ms INTEGER NOT NULL,"
	"  retired_at_ms INTEGER"
	");",
	/* 4: recorded outcomes in the engine's provider-neutral words, not
	 * Prime Gaming's (which only its push API's answers use). */
	"UPDATE fulfillments SET error_code = CASE error_code"
	"  WHEN 'InvalidCustomer' THEN 'UnknownAccount'"
	"  WHEN 'InvalidSku' THEN 'UnknownItem'"
	"  WHEN 'SkuExpired' THEN 'NotAvailable'"
	"  WHEN 'TransactionConflict' THEN 'Conflict'"
	"  ELSE error_code END"
	"  WHERE error_code = 'InvalidCustomer' OR error_code = 'InvalidSku' OR"
	"    error_code = 'SkuExpired' OR error_code = 'TransactionConflict';",
	/* 5: which provider identity belongs to which player: one link per
	 * account and provider, and an identity linked to one account only. */
	"CREATE TABLE links ("
	"  account_id TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  external_id TEXT NOT NULL,"
	"  state TEXT NOT NULL"
	"    CHECK (state = 'linked' OR state = 'relink_required'),"
	"  linked_at_ms INTEGER NOT NULL,"
	"  updated_at_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (account_id, provider),"
	"  UNIQUE (provider, external_id)"
	") WITHOUT ROWID;",
	/* 6: the outbox: side effects written in the transaction of the
	 * change they follow, delivered after commit, retried with backoff.
	 * A row is claimed by setting a lease; one pending row per key. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  dedupe_key TEXT NOT NULL,"
	"  account_id TEXT,"
	"  payload TEXT NOT NULL,"
	"  status TEXT NOT NULL"
	"    CHECK (status = 'pending' OR status = 'delivered' OR status = 'dead'),"
	"  attempts INTEGER NOT NULL,"
	"  next_attempt_at_ms INTEGER NOT NULL,"
	"  lease_until_ms INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created_at_ms INTEGER NOT NULL,"
	"  updated_at_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX outbox_due ON outbox (next_attempt_at_ms)"
	"  WHERE status = 'pending';"
	"CREATE UNIQUE INDEX outbox_pending_key ON outbox (kind, dedupe_key)"
	"  WHERE status = 'pending';"
	"CREATE INDEX outbox_by_status ON outbox (status, id);",
	/* 7: a link's provider tokens (from the browser flow), sealed with
	 * AES-256-GCM by the pull side; NULL when it holds none. */
	"ALTER TABLE links ADD COLUMN tokens BLOB;",
	/* 8: the browser link flow's single-use secrets, kept only as hex
	 * SHA-256 hashes: link tokens a game backend hands a player, and the
	 * OAuth states of links in progress (with the PKCE verifier, sealed
	 * by the state and cleared once spent, and where to send the player
	 * back). */
	"CREATE TABLE link_tokens ("
	"  token_hash TEXT PRIMARY KEY,"
	"  account_id TEXT NOT NULL,"
	"  created_at_ms INTEGER NOT NULL,"
	"  expires_at_ms INTEGER NOT NULL,"
	"  used_at_ms INTEGER"
	") WITHOUT ROWID;"
	"CREATE INDEX link_tokens_by_expiry ON link_tokens (expires_at_ms);"
	"CREATE TABLE link_states ("
	"  state_hash TEXT PRIMARY KEY,"
	"  account_id TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  verifier TEXT NOT NULL,"
	"  return_to TEXT NOT NULL,"
	"  created_at_ms INTEGER NOT NULL,"
	"  expires_at_ms INTEGER NOT NULL,"
	"  used_at_ms INTEGER"
	") WITHOUT ROWID;"
	"CREATE INDEX link_states_by_expiry ON link_states (expires_at_ms);",
	/* 9: broadcasts — grants to every account (a GAMEPOT gift to "all"),
	 * stored once and granted to each account on its next fulfilment,
	 * sync or inventory read until they expire — and which accounts have
	 * had each. */
	"CREATE TABLE broadcasts ("
	"  id INTEGER PRIMARY KEY,"
	"  source TEXT NOT NULL,"
	"  external_id TEXT NOT NULL,"
	"  namespace TEXT NOT NULL,"
	"  lines TEXT NOT NULL,"
	"  detail TEXT,"
	"  created_at_ms INTEGER NOT NULL,"
	"  expires_at_ms INTEGER NOT NULL,"
	"  UNIQUE (source, external_id)"
	");"
	"CREATE INDEX broadcasts_by_expiry ON broadcasts (expires_at_ms);"
	"CREATE TABLE broadcast_deliveries ("
	"  broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id),"
	"  account_id TEXT NOT NULL,"
	"  delivered_at_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (broadcast_id, account_id)"
	") WITHOUT ROWID;",
	/* 10: GAMEPOT login validations asked for by the game backend and
	 * checked with GAMEPOT in the background: the SDK token is kept only
	 * until GAMEPOT has answered (then NULL), the result and whether it
	 * suspended the account for good. */
	"CREATE TABLE gamepot_logins ("
	"  id INTEGER PRIMARY KEY,"
	"  account_id TEXT NOT NULL,"
	"  member_id TEXT NOT NULL,"
	"  token TEXT,"
	"  remote_ip TEXT,"
	"  platform TEXT,"
	"  state TEXT NOT NULL"
	"    CHECK (state = 'pending' OR state = 'valid' OR"
	"           state = 'missing_data' OR state = 'forged' OR"
	"           state = 'member_mismatch' OR state = 'expired' OR"
	"           state = 'unknown_result'),"
	"  result INTEGER,"
	"  message TEXT,"
	"  account_suspended INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created_at_ms INTEGER NOT NULL,"
	"  updated_at_ms INTEGER NOT NULL,"
	"  validated_at_ms INTEGER"
	");"
	"CREATE INDEX gamepot_logins_by_account ON gamepot_logins (account_id, id);",
	/* 11: one row the readiness probe writes while writes are failing, to
	 * see when the database takes them again. */
	"CREATE TABLE health ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  at_ms INTEGER NOT NULL"
	");",
	/* 12: events for the game backend (the feed and its webhooks), each
	 * written in the transaction of the change it tells of; with one
	 * writer, id order is commit order. Pending webhook deliveries are
	 * found by kind and account, to hold an account's later events back
	 * until its earlier ones are delivered. */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  type TEXT NOT NULL,"
	"  account_id TEXT,"
	"  created_at_ms INTEGER NOT NULL,"
	"  data TEXT NOT NULL"
	");"
	"CREATE INDEX outbox_pending_account ON outbox (kind, account_id, id)"
	"  WHERE status = 'pending';",
	/* 13: revocations: what was taken back from a fulfilment, by whom and
	 * why; its grants rows stay as the ledger of what it granted. */
	"CREATE TABLE revocations ("
	"  fulfillment_row INTEGER PRIMARY KEY,"
	"  account_id TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  released_claim INTEGER NOT NULL,"
	"  removed TEXT NOT NULL,"
	"  shortfall TEXT NOT NULL,"
	"  revoked_at_ms INTEGER NOT NULL"
	");",
	/* 14: what support staff look up about one fulfilment: its
	 * deliveries (by account) and its audit records (by target). */
	("CREATE INDEX outbox_by_account ON outbox (account_id, id);"
	 "CREATE INDEX audit_by_target ON audit (target, id);"),
	/* 15: the request whose work queued a delivery, for its log lines. */
	"ALTER TABLE outbox ADD COLUMN request_id TEXT;",
	/* 16: the entitlement as it arrived, for support staff. */
	"ALTER TABLE fulfillments ADD COLUMN request TEXT;",
};

static int exec_sql(sqlite3 *db, const char *sql, char **err, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	*err = util_xasprintf("%s: %s", what, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

static int read_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW)
		goto out;
	*version = sqlite3_column_int(s, 0);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* Applies the next pending migration in its own transaction, reading the
 * version inside it so that two processes starting together cannot both
 * apply the same step. Sets *done when nothing was pending. */
static int apply_next(sqlite3 *db, int want, bool *done, char **err)
{
	char what[64], bump[64];
	int have = 0;

	if (exec_sql(db, "BEGIN IMMEDIATE", err, "migration"))
		return -1;
	if (read_version(db, &have)) {
		*err = util_xasprintf("cannot read schema version: %s",
				      sqlite3_errmsg(db));
		goto fail;
	}
	if (have > want) {
		*err = util_xasprintf("database schema version %d is newer than "
				      "this grantd knows (%d)", have, want);
		goto fail;
	}
	*done = have == want;
	if (*done)
		return exec_sql(db, "COMMIT", err, "migration");
	snprintf(what, sizeof(what), "migration %d", have + 1);
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", have + 1);
	if (exec_sql(db, migrations[have], err, what) ||
	    exec_sql(db, bump, err, what) ||
	    exec_sql(db, "COMMIT", err, what))
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int store_schema_latest(void)
{
	return (int)UTIL_ARRAY_LEN(migrations);
}

int store_migrate(struct store_conn *c, int *version, char **err)
{
	int want = store_schema_latest();
	bool done = false;

	while (!done)
		if (apply_next(c->db, want, &done, err))
			return -1;
	*version = want;
	return 0;
}
