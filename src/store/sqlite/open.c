/* store/sqlite/open.c: the SQLite driver — opening a database file (its
 * directory checked, migrations applied, the checkpointer and syncer
 * started), closing it, and its health check. */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/ops.h"

/* Checks that the database exists (must_exist) or can be created: a
 * missing directory is named, as SQLite's "unable to open" would not. */
static int check_path(const char *path, bool must_exist, char **err)
{
	struct stat sb;
	char *dir;
	int rc = 0;

	if (stat(path, &sb) == 0)
		return 0;
	if (errno != ENOENT)
		return 0;  /* SQLite reports it */
	if (must_exist) {
		*err = util_xasprintf("no database at %s: start grantd serve or "
				      "run grantd migrate first", path);
		return -1;
	}
	dir = util_xstrdup(path);
	if (stat(dirname(dir), &sb) != 0) {
		*err = util_xasprintf("cannot create the database %s: the "
				      "directory %s does not exist", path, dir);
		rc = -1;
	} else if (!S_ISDIR(sb.st_mode)) {
		*err = util_xasprintf("cannot create the database %s: %s is not "
				      "a directory", path, dir);
		rc = -1;
	}
	free(dir);
	return rc;
}

/* The writer's wait for a lock another process holds, in place of the
 * other connections' busy_timeout: the same 10 s, in 10 ms naps, with a
 * warning once it has waited a second (writes are stalled meanwhile). */
#define BUSY_NAP_MS 10
#define BUSY_WARN_NAPS (1000 / BUSY_NAP_MS)
#define BUSY_MAX_NAPS (10000 / BUSY_NAP_MS)

static int writer_busy(void *arg, int naps)
{
	struct store_sqlite *sq = arg;

	if (naps >= BUSY_MAX_NAPS)
		return 0;   /* SQLITE_BUSY: the batch fails */
	if (naps == BUSY_WARN_NAPS)
		ops_log(OPS_LOG_WARN, "store_lock_wait", "%s: another process "
			"has held the database locked for a second; writes wait "
			"(up to 10 s)", sq->path);
	usleep(BUSY_NAP_MS * 1000);
	return 1;
}

static int sqlite_open(struct store *st, char **err)
{
	struct store_sqlite *sq = util_xcalloc(1, sizeof(*sq));

	sq->checkpointer.db_fd = -1;   /* what close looks at, first */
	sq->syncer.wal_fd = -1;
	st->driver_state = sq;
	if (check_path(st->opts.sqlite.path, st->opts.must_exist, err))
		return -1;
	sq->path = util_xstrdup(st->opts.sqlite.path);
	st->opts.sqlite.path = sq->path;
	pthread_mutex_init(&sq->readers_lock, NULL);
	sq->readers_ready = true;
	if (store_conn_open(st, &sq->writer_conn, err))
		return -1;
	sqlite3_busy_handler(sq->writer_conn->db, writer_busy, sq);
	if (store_migrate(sq->writer_conn, &st->schema_version, err) ||
	    store_checkpointer_start(st, err) || store_syncer_start(st, err))
		return -1;
	return 0;
}

/* After the writer has stopped: the syncer answers what it holds. */
static void sqlite_close(struct store *st)
{
	struct store_sqlite *sq = store_sqlite(st);
	struct store_conn *c, *next;

	if (!sq)
		return;
	store_syncer_stop(st);
	store_checkpointer_stop(st);
	store_conn_close(sq->writer_conn);
	for (c = sq->free_readers; c; c = next) {
		next = c->next_free;
		store_conn_close(c);
	}
	if (sq->readers_ready)
		pthread_mutex_destroy(&sq->readers_lock);
	free(sq->path);
	free(sq);
	st->driver_state = NULL;
}

static int sqlite_ping(struct store *st)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	if (store_syncer_broken(st)) {
		store_reader_release(st, c);
		return STORE_ERR;
	}
	s = store_conn_stmt(c, STMT_PING);
	if (s && sqlite3_step(s) == SQLITE_ROW)
		rc = STORE_OK;
	if (s)
		sqlite3_reset(s);
	store_reader_release(st, c);
	return rc;
}

static const struct store_ops sqlite_ops = {
	.tx_account_get = store_sqlite_tx_account_get,
	.tx_account_put = store_sqlite_tx_account_put,
	.tx_fulfilment_find = store_sqlite_tx_fulfilment_find,
	.tx_fulfilment_claim = store_sqlite_tx_fulfilment_claim,
	.tx_fulfilment_update = store_sqlite_tx_fulfilment_update,
	.tx_claim_count = store_sqlite_tx_claim_count,
	.tx_claim_add = store_sqlite_tx_claim_add,
	.tx_instance_owned = store_sqlite_tx_instance_owned,
	.tx_grant_stackable = store_sqlite_tx_grant_stackable,
	.tx_grant_instance = store_sqlite_tx_grant_instance,
	.tx_fulfilment_get = store_sqlite_tx_fulfilment_get,
	.tx_grants_read = store_sqlite_tx_grants_read,
	.tx_stackable_get = store_sqlite_tx_stackable_get,
	.tx_stackable_add = store_sqlite_tx_stackable_add,
	.tx_instance_delete = store_sqlite_tx_instance_delete,
	.tx_claim_release = store_sqlite_tx_claim_release,
	.tx_revocation_add = store_sqlite_tx_revocation_add,
	.tx_revocation_get = store_sqlite_tx_revocation_get,
	.tx_credential_insert = store_sqlite_tx_credential_insert,
	.tx_credential_revoke = store_sqlite_tx_credential_revoke,
	.tx_credential_rotate = store_sqlite_tx_credential_rotate,
	.tx_credential_live_name = store_sqlite_tx_credential_live_name,
	.tx_signing_key_insert = store_sqlite_tx_signing_key_insert,
	.tx_signing_key_retire = store_sqlite_tx_signing_key_retire,
	.tx_signing_keys_active = store_sqlite_tx_signing_keys_active,
	.tx_link_get = store_sqlite_tx_link_get,
	.tx_link_put = store_sqlite_tx_link_put,
	.tx_link_tokens_set = store_sqlite_tx_link_tokens_set,
	.tx_link_state_set = store_sqlite_tx_link_state_set,
	.tx_link_delete = store_sqlite_tx_link_delete,
	.tx_link_token_add = store_sqlite_tx_link_token_add,
	.tx_link_token_spend = store_sqlite_tx_link_token_spend,
	.tx_oauth_state_add = store_sqlite_tx_oauth_state_add,
	.tx_oauth_state_spend = store_sqlite_tx_oauth_state_spend,
	.tx_outbox_add = store_sqlite_tx_outbox_add,
	.tx_outbox_record = store_sqlite_tx_outbox_record,
	.outbox_claim = store_sqlite_outbox_claim,
	.outbox_due = store_sqlite_outbox_due,
	.outbox_counts = store_sqlite_outbox_counts,
	.outbox_read = store_sqlite_outbox_read,
	.outbox_read_for = store_sqlite_outbox_read_for,
	.audit_read_for = store_sqlite_audit_read_for,
	.outbox_kinds_read = store_sqlite_outbox_kinds_read,
	.tx_outbox_retry = store_sqlite_tx_outbox_retry,
	.tx_outbox_give_up = store_sqlite_tx_outbox_give_up,
	.tx_outbox_unlease = store_sqlite_tx_outbox_unlease,
	.tx_audit_add = store_sqlite_tx_audit_add,
	.tx_health_touch = store_sqlite_tx_health_touch,
	.tx_savepoint = store_sqlite_tx_savepoint,
	.tx_savepoint_release = store_sqlite_tx_savepoint_release,
	.tx_savepoint_rollback = store_sqlite_tx_savepoint_rollback,
	.tx_broadcast_add = store_sqlite_tx_broadcast_add,
	.tx_broadcasts_pending = store_sqlite_tx_broadcasts_pending,
	.tx_broadcast_delivered = store_sqlite_tx_broadcast_delivered,
	.tx_gamepot_login_add = store_sqlite_tx_gamepot_login_add,
	.tx_gamepot_login_state = store_sqlite_tx_gamepot_login_state,
	.tx_gamepot_login_finish = store_sqlite_tx_gamepot_login_finish,
	.tx_gamepot_login_attempt = store_sqlite_tx_gamepot_login_attempt,
	.gamepot_login_read = store_sqlite_gamepot_login_read,
	.gamepot_login_latest = store_sqlite_gamepot_login_latest,
	.account_read = store_sqlite_account_read,
	.inventory_read = store_sqlite_inventory_read,
	.history_read = store_sqlite_history_read,
	.fulfilments_search = store_sqlite_fulfilments_search,
	.fulfilment_read = store_sqlite_fulfilment_read,
	.credentials_read = store_sqlite_credentials_read,
	.credential_live = store_sqlite_credential_live,
	.signing_keys_read = store_sqlite_signing_keys_read,
	.links_read = store_sqlite_links_read,
	.fulfilment_account_read = store_sqlite_fulfilment_account_read,
	.link_holder_read = store_sqlite_link_holder_read,
	.audit_read = store_sqlite_audit_read,
	.tx_event_add = store_sqlite_tx_event_add,
	.events_read = store_sqlite_events_read,
	.broadcasts_until = store_sqlite_broadcasts_until,
	.broadcasts_pending_any = store_sqlite_broadcasts_pending_any,
};

const struct store_driver store_sqlite_driver = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.ping = sqlite_ping,
	.stats = store_sqlite_stats,
	.writer = &store_sqlite_writer_ops,
	.ops = &sqlite_ops,
};
