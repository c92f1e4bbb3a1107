/* store/sqlite/conn.c: SQLite connections, their pragmas, the statement
 * cache and the pool of reader connections. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>

#include "ops/ops.h"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_SAVEPOINT] = "SAVEPOINT intent",
	[STMT_RELEASE] = "RELEASE intent",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO intent",
	[STMT_ACCOUNT_GET] = "SELECT state FROM accounts WHERE account_id = ?1",
	[STMT_ACCOUNT_INSERT] =
		"INSERT INTO accounts (account_id, state, created_at_ms,"
		" updated_at_ms) VALUES (?1, ?2, ?3, ?3)",
	[STMT_ACCOUNT_UPDATE] =
		"UPDATE accounts SET state = ?2, updated_at_ms = ?3"
		" WHERE account_id = ?1",
	[STMT_FULFILMENT_FIND] =
		"SELECT row_id, request_fingerprint, status,"
		" entitlement_id IS NOT NULL"
		" FROM fulfillments WHERE source = ?1 AND external_id = ?2",
	[STMT_FULFILMENT_INSERT] =
		"INSERT INTO fulfillments (source, external_id,"
		" account_id, provider_item_id, entitlement_id,"
		" request_fingerprint, status, error_code, skipped,"
		" created_at_ms, updated_at_ms, fulfilled_at_ms, request)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
		" ON CONFLICT (source, external_id) DO NOTHING",
	[STMT_FULFILMENT_UPDATE] =
		"UPDATE fulfillments SET account_id = ?2, provider_item_id = ?3,"
		" entitlement_id = ?4, request_fingerprint = ?5, status = ?6,"
		" error_code = ?7, skipped = ?8, updated_at_ms = ?9,"
		" fulfilled_at_ms = ?10, request = ?11 WHERE row_id = ?1",
	[STMT_CLAIM_COUNT] =
		"SELECT count FROM claims"
		" WHERE account_id = ?1 AND entitlement_id = ?2",
	[STMT_CLAIM_ADD] =
		"INSERT INTO claims (account_id, entitlement_id, count,"
		" updated_at_ms) VALUES (?1, ?2, 1, ?3)"
		" ON CONFLICT (account_id, entitlement_id) DO UPDATE"
		" SET count = count + 1, updated_at_ms = excluded.updated_at_ms",
	[STMT_INSTANCE_OWNED] =
		"SELECT 1 FROM inventory_instances"
		" WHERE account_id = ?1 AND catalog_id = ?2 LIMIT 1",
	[STMT_GRANT_INSERT] =
		"INSERT INTO grants (fulfillment_row, line, catalog_id, amount,"
		" instance_id) VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_STACKABLE_ADD] =
		"INSERT INTO inventory_stackables (account_id, catalog_id, amount)"
		" VALUES (?1, ?2, ?3) ON CONFLICT (account_id, catalog_id)"
		" DO UPDATE SET amount = amount + excluded.amount",
	[STMT_INSTANCE_INSERT] =
		"INSERT INTO inventory_instances (instance_id, account_id,"
		" catalog_id, fulfillment_row, acquired_at_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_FULFILMENT_GET] =
		"SELECT account_id, entitlement_id, status FROM fulfillments"
		" WHERE row_id = ?1",
	[STMT_FULFILMENT_REVOKE] =
		"UPDATE fulfillments SET status = 'revoked', updated_at_ms = ?2"
		" WHERE row_id = ?1",
	[STMT_GRANTS_READ] =
		"SELECT line, catalog_id, amount, instance_id FROM grants"
		" WHERE fulfillment_row = ?1 ORDER BY line",
	[STMT_STACKABLE_GET] =
		"SELECT amount FROM inventory_stackables"
		" WHERE account_id = ?1 AND catalog_id = ?2",
	[STMT_INSTANCE_DELETE] =
		"DELETE FROM inventory_instances"
		" WHERE instance_id = ?1 AND account_id = ?2",
	[STMT_CLAIM_RELEASE] =
		"UPDATE claims SET count = max(count - 1, 0), updated_at_ms = ?3"
		" WHERE account_id = ?1 AND entitlement_id = ?2",
	[STMT_REVOCATION_ADD] =
		"INSERT INTO revocations (fulfillment_row, account_id, reason,"
		" actor, released_claim, removed, shortfall, revoked_at_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_REVOCATION_GET] =
		"SELECT account_id, reason, actor, released_claim, removed,"
		" shortfall, revoked_at_ms FROM revocations"
		" WHERE fulfillment_row = ?1",
	[STMT_CREDENTIAL_INSERT] =
		"INSERT INTO credentials (id, kind, name, secret_hash, scopes,"
		" created_at_ms, expires_at_ms, revoked_at_ms, updated_at_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?6)",
	[STMT_CREDENTIAL_REVOKE] =
		"UPDATE credentials SET revoked_at_ms ="
		" coalesce(revoked_at_ms, ?2), updated_at_ms = ?2"
		" WHERE id = ?1 AND kind = ?3",
	[STMT_CREDENTIAL_ROTATE] =
		"UPDATE credentials SET previous_secret_hash = secret_hash,"
		" previous_expires_at_ms = ?3, secret_hash = ?2,"
		" secret_rotated_at_ms = ?4, updated_at_ms = ?4"
		" WHERE id = ?1 AND kind = ?5 AND revoked_at_ms IS NULL",
	[STMT_CREDENTIAL_LIVE_NAME] =
		"SELECT id FROM credentials WHERE name = ?1"
		" AND revoked_at_ms IS NULL LIMIT 1",
	[STMT_SIGNING_KEY_INSERT] =
		"INSERT INTO signing_keys (kid, secret, created_at_ms)"
		" VALUES (?1, ?2, ?3)",
	[STMT_SIGNING_KEY_RETIRE] =
		"UPDATE signing_keys SET retired_at_ms = ?2"
		" WHERE kid = ?1 AND retired_at_ms IS NULL",
	[STMT_SIGNING_KEYS_ACTIVE] =
		"SELECT count(*) FROM signing_keys WHERE retired_at_ms IS NULL",
	[STMT_LINK_BY_IDENTITY] =
		"SELECT account_id FROM links WHERE provider = ?1"
		" AND external_id = ?2",
	[STMT_LINK_BY_ACCOUNT] =
		"SELECT external_id, state, linked_at_ms FROM links"
		" WHERE account_id = ?1 AND provider = ?2",
	[STMT_LINK_UPSERT] =
		"INSERT INTO links (account_id, provider, external_id, state,"
		" linked_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, 'linked', ?4, ?4)"
		" ON CONFLICT (account_id, provider) DO UPDATE SET"
		" external_id = excluded.external_id, state = 'linked',"
		" linked_at_ms = excluded.linked_at_ms, tokens = NULL,"
		" updated_at_ms = excluded.updated_at_ms",
	[STMT_LINK_DELETE] =
		"DELETE FROM links WHERE account_id = ?1 AND provider = ?2",
	[STMT_LINK_TOKENS_SET] =
		"UPDATE links SET tokens = ?3, state = 'linked', updated_at_ms = ?4"
		" WHERE account_id = ?1 AND provider = ?2",
	[STMT_LINK_STATE_SET] =
		"UPDATE links SET state = ?3, updated_at_ms = ?4"
		" WHERE account_id = ?1 AND provider = ?2",
	[STMT_LINK_TOKEN_ADD] =
		"INSERT INTO link_tokens (token_hash, account_id, created_at_ms,"
		" expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
	[STMT_LINK_TOKEN_PRUNE] =
		"DELETE FROM link_tokens WHERE expires_at_ms < ?1",
	[STMT_LINK_TOKEN_GET] =
		"SELECT account_id, expires_at_ms, used_at_ms FROM link_tokens"
		" WHERE token_hash = ?1",
	[STMT_LINK_TOKEN_USE] =
		"UPDATE link_tokens SET used_at_ms = ?2 WHERE token_hash = ?1",
	[STMT_OAUTH_STATE_ADD] =
		"INSERT INTO link_states (state_hash, account_id, provider,"
		" verifier, return_to, created_at_ms, expires_at_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_OAUTH_STATE_PRUNE] =
		"DELETE FROM link_states WHERE expires_at_ms < ?1",
	[STMT_OAUTH_STATE_GET] =
		"SELECT account_id, provider, verifier, return_to, expires_at_ms,"
		" used_at_ms FROM link_states WHERE state_hash = ?1",
	[STMT_OAUTH_STATE_USE] =
		"UPDATE link_states SET used_at_ms = ?2, verifier = ''"
		" WHERE state_hash = ?1",
	[STMT_OUTBOX_ADD] =
		"INSERT INTO outbox (kind, dedupe_key, account_id, payload, status,"
		" attempts, next_attempt_at_ms, lease_until_ms, created_at_ms,"
		" updated_at_ms, request_id)"
		" VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, 0, ?5, ?5, ?6)"
		" ON CONFLICT (kind, dedupe_key) WHERE status = 'pending' DO NOTHING",
	[STMT_OUTBOX_CLAIM] =
		"UPDATE outbox SET lease_until_ms = ?1 + ?2, updated_at_ms = ?1"
		" WHERE id IN (SELECT id FROM outbox WHERE status = 'pending'"
		" AND next_attempt_at_ms <= ?1 AND lease_until_ms <= ?1"
		/* an event webhook waits for the same webhook's earlier
		 * events of its account: delivered in commit order */
		" AND (kind != 'event.webhook' OR NOT EXISTS (SELECT 1"
		"  FROM outbox e WHERE e.kind = 'event.webhook'"
		"  AND e.status = 'pending' AND e.account_id IS outbox.account_id"
		"  AND e.id < outbox.id AND substr(e.dedupe_key, 1,"
		"  instr(e.dedupe_key, ':')) = substr(outbox.dedupe_key, 1,"
		"  instr(outbox.dedupe_key, ':'))))"
		" ORDER BY next_attempt_at_ms, id LIMIT ?3)"
		" RETURNING id, kind, dedupe_key, account_id, payload, attempts,"
		" request_id",
	[STMT_OUTBOX_RECORD] =
		"UPDATE outbox SET status = ?2, attempts = attempts + 1,"
		" next_attempt_at_ms = ?3, lease_until_ms = 0, last_error = ?4,"
		" updated_at_ms = ?5 WHERE id = ?1",
	/* a dead (or pending) row due now with its attempts counted afresh;
	 * not while another row of its key is pending, and of several dead
	 * rows of a key only the newest */
	[STMT_OUTBOX_GIVE_UP] =
		"UPDATE outbox SET status = 'dead', last_error = ?3,"
		" lease_until_ms = 0, updated_at_ms = ?2"
		" WHERE id = ?1 AND status = 'pending' AND lease_until_ms <= ?2",
	[STMT_OUTBOX_RETRY] =
		"UPDATE outbox SET status = 'pending', attempts = 0,"
		" next_attempt_at_ms = ?1, lease_until_ms = 0, updated_at_ms = ?1"
		" WHERE (?2 = 0 OR id = ?2) AND (status = 'dead' OR"
		" (status = 'pending' AND ?2 != 0 AND lease_until_ms <= ?1))"
		" AND (status = 'pending' OR (NOT EXISTS (SELECT 1 FROM outbox p"
		"  WHERE p.status = 'pending' AND p.kind = outbox.kind"
		"  AND p.dedupe_key = outbox.dedupe_key)"
		" AND id = (SELECT max(d.id) FROM outbox d WHERE d.status = 'dead'"
		"  AND d.kind = outbox.kind AND d.dedupe_key = outbox.dedupe_key)))",
	[STMT_OUTBOX_UNLEASE] =
		"UPDATE outbox SET lease_until_ms = 0 WHERE status = 'pending'"
		" AND lease_until_ms != 0",
	[STMT_AUDIT_INSERT] =
		"INSERT INTO audit (at_ms, actor, action, target, detail)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_HEALTH_TOUCH] =
		"INSERT INTO health (id, at_ms) VALUES (1, ?1)"
		" ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
	[STMT_NESTED_SAVEPOINT] = "SAVEPOINT nested",
	[STMT_NESTED_RELEASE] = "RELEASE nested",
	[STMT_NESTED_ROLLBACK_TO] = "ROLLBACK TO nested",
	[STMT_BROADCAST_ADD] =
		"INSERT INTO broadcasts (source, external_id, namespace, lines,"
		" detail, created_at_ms, expires_at_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT (source, external_id) DO NOTHING",
	[STMT_BROADCAST_PENDING] =
		"SELECT id, source, external_id, namespace, lines, detail,"
		" created_at_ms, expires_at_ms FROM broadcasts b"
		" WHERE expires_at_ms > ?2 AND NOT EXISTS (SELECT 1 FROM"
		"  broadcast_deliveries d WHERE d.broadcast_id = b.id"
		"  AND d.account_id = ?1) ORDER BY id",
	[STMT_BROADCAST_DELIVERED] =
		"INSERT INTO broadcast_deliveries (broadcast_id, account_id,"
		" delivered_at_ms) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (broadcast_id, account_id) DO NOTHING",
	[STMT_GP_LOGIN_ADD] =
		"INSERT INTO gamepot_logins (account_id, member_id, token,"
		" remote_ip, platform, state, account_suspended, attempts,"
		" created_at_ms, updated_at_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, 0, ?6, ?6)",
	[STMT_GP_LOGIN_STATE] =
		"SELECT state FROM gamepot_logins WHERE id = ?1",
	/* the token is dropped with the answer that used it */
	[STMT_GP_LOGIN_FINISH] =
		"UPDATE gamepot_logins SET state = ?2, result = ?3, message = ?4,"
		" account_suspended = ?5, token = NULL, validated_at_ms = ?6,"
		" updated_at_ms = ?6 WHERE id = ?1 AND state = 'pending'",
	[STMT_GP_LOGIN_ATTEMPT] =
		"UPDATE gamepot_logins SET attempts = attempts + 1,"
		" last_error = ?2, updated_at_ms = ?3"
		" WHERE id = ?1 AND state = 'pending'",
	[STMT_EVENT_ADD] =
		"INSERT INTO events (type, account_id, created_at_ms, data)"
		" VALUES (?1, ?2, ?3, ?4)",
	[STMT_READ_BEGIN] = "BEGIN",
	[STMT_READ_END] = "COMMIT",
	[STMT_READ_ACCOUNT] =
		"SELECT account_id, state, created_at_ms, updated_at_ms"
		" FROM accounts WHERE account_id = ?1",
	[STMT_READ_STACKABLES] =
		"SELECT catalog_id, amount FROM inventory_stackables"
		" WHERE account_id = ?1 ORDER BY catalog_id",
	[STMT_READ_INSTANCES] =
		"SELECT instance_id, catalog_id, fulfillment_row, acquired_at_ms"
		" FROM inventory_instances WHERE account_id = ?1"
		" ORDER BY acquired_at_ms, instance_id",
	[STMT_READ_HISTORY] =
		"SELECT row_id, source, external_id, account_id,"
		" provider_item_id, entitlement_id, status, error_code, skipped,"
		" created_at_ms, fulfilled_at_ms FROM fulfillments"
		" WHERE account_id = ?1 ORDER BY row_id DESC"
		" LIMIT ?2 OFFSET ?3",
	[STMT_READ_SEARCH] =
		"SELECT row_id, source, external_id, account_id,"
		" provider_item_id, entitlement_id, status, error_code, skipped,"
		" created_at_ms, fulfilled_at_ms FROM fulfillments"
		" WHERE (?1 IS NULL OR account_id = ?1)"
		" AND (?2 IS NULL OR source = ?2)"
		" AND (?3 IS NULL OR external_id = ?3)"
		" AND (?4 IS NULL OR status = ?4)"
		" AND created_at_ms >= ?5 AND created_at_ms < ?6"
		" AND row_id < ?7 ORDER BY row_id DESC LIMIT ?8",
	[STMT_READ_FULFILMENT] =
		"SELECT row_id, source, external_id, account_id,"
		" provider_item_id, entitlement_id, status, error_code, skipped,"
		" created_at_ms, fulfilled_at_ms, request FROM fulfillments"
		" WHERE row_id = ?1",
	[STMT_READ_CREDENTIALS] =
		"SELECT id, kind, name, secret_hash, scopes, created_at_ms,"
		" expires_at_ms, revoked_at_ms, previous_secret_hash,"
		" previous_expires_at_ms, secret_rotated_at_ms FROM credentials"
		" ORDER BY created_at_ms, id",
	[STMT_READ_AUDIT] =
		"SELECT id, at_ms, actor, action, target, detail FROM"
		" (SELECT * FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[STMT_READ_CREDENTIAL_LIVE] =
		"SELECT 1 FROM credentials WHERE secret_hash = ?1"
		" AND revoked_at_ms IS NULL AND (?2 IS NULL OR id = ?2)"
		" AND (expires_at_ms IS NULL OR expires_at_ms > ?3)",
	[STMT_READ_SIGNING_KEYS] =
		"SELECT kid, secret, created_at_ms, retired_at_ms"
		" FROM signing_keys ORDER BY created_at_ms DESC, kid DESC",
	[STMT_READ_LINKS] =
		"SELECT provider, external_id, state, linked_at_ms, updated_at_ms,"
		" tokens FROM links WHERE account_id = ?1 ORDER BY provider",
	[STMT_READ_LINK_HOLDER] =
		"SELECT account_id FROM links WHERE provider = ?1"
		" AND external_id = ?2",
	[STMT_READ_FULFILMENT_ACCOUNT] =
		"SELECT account_id FROM fulfillments WHERE row_id = ?1",
	[STMT_READ_OUTBOX_DUE] =
		"SELECT 1 FROM outbox WHERE status = 'pending'"
		" AND next_attempt_at_ms <= ?1 AND lease_until_ms <= ?1 LIMIT 1",
	[STMT_READ_OUTBOX_COUNTS] =
		"SELECT status, count(*) FROM outbox GROUP BY status",
	[STMT_READ_OUTBOX_ROWS] =
		"SELECT id, kind, dedupe_key, account_id, payload, status,"
		" attempts, next_attempt_at_ms, last_error, created_at_ms,"
		" updated_at_ms FROM outbox WHERE (?1 IS NULL OR status = ?1)"
		" AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3",
	[STMT_READ_OUTBOX_FOR] =
		"SELECT id, kind, dedupe_key, account_id, payload, status,"
		" attempts, next_attempt_at_ms, last_error, created_at_ms,"
		" updated_at_ms FROM outbox WHERE account_id = ?1"
		" AND instr(payload, ?2) > 0 ORDER BY id DESC LIMIT ?3",
	[STMT_READ_AUDIT_FOR] =
		"SELECT id, at_ms, actor, action, target, detail FROM audit"
		" WHERE target = ?1 ORDER BY id LIMIT ?2",
	[STMT_READ_OUTBOX_KINDS] =
		"SELECT kind, status, count(*) FROM outbox"
		" WHERE status != 'delivered' GROUP BY kind, status",
	[STMT_READ_BROADCAST_UNTIL] =
		"SELECT max(expires_at_ms) FROM broadcasts",
	[STMT_READ_BROADCAST_PENDING] =
		"SELECT 1 FROM broadcasts b WHERE expires_at_ms > ?2"
		" AND NOT EXISTS (SELECT 1 FROM broadcast_deliveries d"
		"  WHERE d.broadcast_id = b.id AND d.account_id = ?1) LIMIT 1",
	[STMT_READ_GP_LOGIN] =
		"SELECT id, account_id, member_id, token, remote_ip, platform,"
		" state, result, message, account_suspended, attempts, last_error,"
		" created_at_ms, validated_at_ms FROM gamepot_logins WHERE id = ?1",
	/* the newest of an account, without its token */
	[STMT_READ_GP_LOGIN_LATEST] =
		"SELECT id, account_id, member_id, NULL, remote_ip, platform,"
		" state, result, message, account_suspended, attempts, last_error,"
		" created_at_ms, validated_at_ms FROM gamepot_logins"
		" WHERE account_id = ?1 ORDER BY id DESC LIMIT 1",
	/* one writer: id order is commit order, and the txid is 0 */
	[STMT_READ_EVENTS] =
		"SELECT id, type, account_id, created_at_ms, data FROM events"
		" WHERE id > ?1 ORDER BY id LIMIT ?2",
	[STMT_PING] = "SELECT 1",
};

/* A failing disk fails every statement: one line a second, with how many
 * failures it stands for. */
static struct ops_log_limit error_limit;

void store_log_error(struct store_conn *c, const char *what, int rc)
{
	struct ops_log_line l;
	uint64_t suppressed;

	if (!ops_log_enabled(OPS_LOG_ERROR) ||
	    !ops_log_limit_take(&error_limit, &suppressed) ||
	    !ops_log_begin(&l, OPS_LOG_ERROR, "store_error"))
		return;
	ops_log_str(&l, "op", what);
	ops_log_int(&l, "sqlite_code", rc);
	ops_log_str(&l, "msg", c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	ops_log_int(&l, "repeated", (int64_t)suppressed);
	ops_log_end(&l);
}

/* page_size applies when the database is created: 2 KiB pages halve the
 * WAL bytes a fulfilment writes (it dirties a few leaf pages scattered by
 * account), and the WAL's fdatasync is paid per byte; smaller pages cost
 * more tree depth than they save (bench/, docs/performance.md).
 * journal_size_limit: after a checkpoint resets the WAL, a file larger
 * than this is truncated to it. It is set well above the size at which the
 * WAL restarts (checkpoint.c), so the file normally keeps its blocks:
 * overwriting them syncs faster than growing the file, and truncating a
 * big WAL had stalled the commit that restarted it for tens of ms. */
#define PRAGMAS "PRAGMA page_size = 2048; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;" \
	"PRAGMA foreign_keys = OFF; PRAGMA journal_size_limit = 268435456;"

/* synchronous=NORMAL on every connection: commits do not fsync, SQLite
 * syncs around checkpoints and stays consistent across power loss. When
 * storage.sqlite.synchronous is "full", the syncer (syncer.c) fsyncs the
 * WAL before any commit is acknowledged. */
static int apply_pragmas(struct store *st, sqlite3 *db, char **err)
{
	char *msg = NULL;
	const char *sql = PRAGMAS "PRAGMA synchronous = NORMAL;";

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	*err = util_xasprintf("%s: %s", store_sqlite(st)->path, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

int store_conn_open(struct store *st, struct store_conn **out, char **err)
{
	struct store_conn *c = util_xcalloc(1, sizeof(*c));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX;
	int rc;

	if (store_vfs_register()) {
		*err = util_xstrdup("cannot register the SQLite VFS");
		goto fail;
	}
	rc = sqlite3_open_v2(store_sqlite(st)->path, &c->db, flags, STORE_VFS_NAME);
	if (rc != SQLITE_OK) {
		*err = util_xasprintf("cannot open %s: %s", store_sqlite(st)->path,
				      c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	if (apply_pragmas(st, c->db, err))
		goto fail;
	*out = c;
	return 0;
fail:
	store_conn_close(c);
	return -1;
}

void store_conn_close(struct store_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	sqlite3_close(c->db);
	free(c);
}

sqlite3_stmt *store_conn_stmt(struct store_conn *c, enum store_stmt id)
{
	sqlite3_stmt *s = c->stmts[id];
	int rc;

	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				&s, NULL);
	if (rc != SQLITE_OK) {
		store_log_error(c, stmt_sql[id], rc);
		return NULL;
	}
	c->stmts[id] = s;
	return s;
}

/* Steps a statement returning at most one row; *row tells whether it did.
 * The row stays readable until the next use of the statement. */
int store_conn_step_row(struct store_conn *c, sqlite3_stmt *s, bool *row,
			const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		*row = true;
		return STORE_OK;
	}
	sqlite3_reset(s);
	*row = false;
	if (rc == SQLITE_DONE)
		return STORE_OK;
	store_log_error(c, what, rc);
	return STORE_ERR;
}

int store_conn_exec(struct store_conn *c, enum store_stmt id)
{
	sqlite3_stmt *s = store_conn_stmt(c, id);
	int rc;

	if (!s)
		return STORE_ERR;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_log_error(c, stmt_sql[id], rc);
		return STORE_ERR;
	}
	return STORE_OK;
}

struct store_conn *store_reader_acquire(struct store *st)
{
	struct store_conn *c;
	char *err = NULL;

	pthread_mutex_lock(&store_sqlite(st)->readers_lock);
	c = store_sqlite(st)->free_readers;
	if (c)
		store_sqlite(st)->free_readers = c->next_free;
	pthread_mutex_unlock(&store_sqlite(st)->readers_lock);
	if (c)
		return c;
	if (store_conn_open(st, &c, &err)) {
		ops_log(OPS_LOG_ERROR, "store_error", "reader: %s", err);
		free(err);
		return NULL;
	}
	return c;
}

void store_reader_release(struct store *st, struct store_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&store_sqlite(st)->readers_lock);
	c->next_free = store_sqlite(st)->free_readers;
	store_sqlite(st)->free_readers = c;
	pthread_mutex_unlock(&store_sqlite(st)->readers_lock);
}
