/* store/postgres/open.c: the PostgreSQL driver — connecting (the server's
 * version checked, migrations applied), its connection pools, closing,
 * its health check and counters. */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

/* The oldest server grantd runs against (ON CONFLICT, SKIP LOCKED,
 * hashtextextended, generated identity columns: all there since 11; 13 is
 * the oldest still supported upstream). */
#define PG_VERSION_MIN 130000

static int check_server(struct pg_conn *c, char **err)
{
	int v = PQserverVersion(c->pg);

	if (v >= PG_VERSION_MIN)
		return 0;
	*err = util_xasprintf("PostgreSQL %d.%d is too old: grantd needs 13 "
			      "or newer", v / 10000, v % 10000);
	return -1;
}

/* Half the pool writes (one writer thread each), the rest reads. */
static void pool_split(struct store *st, struct store_pg *pg)
{
	int size = st->opts.postgres.pool_size > 1 ?
		   st->opts.postgres.pool_size : 8;

	pg->writers = size / 2;
	if (pg->writers > STORE_WRITERS_MAX)
		pg->writers = STORE_WRITERS_MAX;
	pg->readers_max = size - pg->writers;
}

static int open_writers(struct store *st, struct store_pg *pg, char **err)
{
	pg->writer_conns = util_xcalloc((size_t)pg->writers,
					sizeof(struct pg_conn *));
	for (int i = 0; i < pg->writers; i++) {
		if (pg_conn_open(st, &pg->writer_conns[i], err))
			return -1;
		pg->writer_conns[i]->pipeline = true;
		if (pg_pipe_enter(pg->writer_conns[i])) {
			*err = util_xstrdup("cannot enter libpq's pipeline mode");
			return -1;
		}
	}
	st->writer.threads = pg->writers;
	return 0;
}

static int pg_open(struct store *st, char **err)
{
	struct store_pg *pg = util_xcalloc(1, sizeof(*pg));
	struct pg_conn *first = NULL;
	int rc = -1;

	st->driver_state = pg;
	pthread_mutex_init(&pg->lock, NULL);
	pthread_cond_init(&pg->reader_freed, NULL);
	pg->lock_ready = true;
	if (!st->opts.postgres.url || !*st->opts.postgres.url) {
		*err = util_xstrdup("storage.postgres.url must be set when "
				    "storage.driver is postgres");
		return -1;
	}
	pg->url = util_xstrdup(st->opts.postgres.url);
	st->opts.postgres.url = pg->url;
	pool_split(st, pg);
	if (pg_conn_open(st, &first, err) || check_server(first, err) ||
	    pg_migrate(first, &st->schema_version, err))
		goto out;
	if (open_writers(st, pg, err))
		goto out;
	/* the first connection becomes the first reader */
	pg->readers_open = 1;
	first->next_free = NULL;
	pg->free_readers = first;
	first = NULL;
	rc = 0;
out:
	pg_conn_close(first);
	return rc;
}

/* After the writer threads have stopped. */
static void pg_close(struct store *st)
{
	struct store_pg *pg = store_pg(st);
	struct pg_conn *c, *next;

	if (!pg)
		return;
	for (int i = 0; pg->writer_conns && i < pg->writers; i++)
		pg_conn_close(pg->writer_conns[i]);
	free(pg->writer_conns);
	for (c = pg->free_readers; c; c = next) {
		next = c->next_free;
		pg_conn_close(c);
	}
	if (pg->lock_ready) {
		pthread_cond_destroy(&pg->reader_freed);
		pthread_mutex_destroy(&pg->lock);
	}
	free(pg->url);
	free(pg);
	st->driver_state = NULL;
}

/* A read on a reader connection; a primary that turned read-only (a
 * demoted node before failover) counts as down for writes, so ask. */
PG_SQL(sql_writable, "SELECT pg_is_in_recovery()");

static int pg_ping(struct store *st)
{
	struct pg_conn *c = pg_reader_acquire(st);
	PGresult *res;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	res = pg_run(c, &sql_writable, NULL, "ping");
	if (res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0)
		rc = STORE_OK;
	PQclear(res);
	if (rc && pg_conn_lost(c))
		pg_conn_reset(st, c);
	pg_reader_release(st, c);
	return rc;
}

static void pg_stats(struct store *st, store_stat_fn fn, void *arg)
{
	struct store_pg *pg = store_pg(st);

	fn(arg, &(struct store_stat){ "postgres_reconnects_total", "counter",
		"Connections to PostgreSQL opened again after they were lost.",
		atomic_load(&pg->reconnects) });
	fn(arg, &(struct store_stat){ "postgres_writer_connections", "gauge",
		"Writer threads, each with its own connection.",
		(uint64_t)pg->writers });
	fn(arg, &(struct store_stat){ "postgres_reader_connections_max", "gauge",
		"Connections reads may open.", (uint64_t)pg->readers_max });
}

static const struct store_ops pg_ops = {
	.tx_account_get = store_pg_tx_account_get,
	.tx_account_put = store_pg_tx_account_put,
	.tx_fulfilment_find = store_pg_tx_fulfilment_find,
	.tx_fulfilment_claim = store_pg_tx_fulfilment_claim,
	.tx_fulfilment_update = store_pg_tx_fulfilment_update,
	.tx_claim_count = store_pg_tx_claim_count,
	.tx_claim_add = store_pg_tx_claim_add,
	.tx_instance_owned = store_pg_tx_instance_owned,
	.tx_grant_stackable = store_pg_tx_grant_stackable,
	.tx_grant_instance = store_pg_tx_grant_instance,
	.tx_fulfilment_get = store_pg_tx_fulfilment_get,
	.tx_grants_read = store_pg_tx_grants_read,
	.tx_stackable_get = store_pg_tx_stackable_get,
	.tx_stackable_add = store_pg_tx_stackable_add,
	.tx_instance_delete = store_pg_tx_instance_delete,
	.tx_claim_release = store_pg_tx_claim_release,
	.tx_revocation_add = store_pg_tx_revocation_add,
	.tx_revocation_get = store_pg_tx_revocation_get,
	.tx_credential_insert = store_pg_tx_credential_insert,
	.tx_credential_revoke = store_pg_tx_credential_revoke,
	.tx_credential_rotate = store_pg_tx_credential_rotate,
	.tx_credential_live_name = store_pg_tx_credential_live_name,
	.tx_signing_key_insert = store_pg_tx_signing_key_insert,
	.tx_signing_key_retire = store_pg_tx_signing_key_retire,
	.tx_signing_keys_active = store_pg_tx_signing_keys_active,
	.tx_link_get = store_pg_tx_link_get,
	.tx_link_put = store_pg_tx_link_put,
	.tx_link_tokens_set = store_pg_tx_link_tokens_set,
	.tx_link_state_set = store_pg_tx_link_state_set,
	.tx_link_delete = store_pg_tx_link_delete,
	.tx_link_token_add = store_pg_tx_link_token_add,
	.tx_link_token_spend = store_pg_tx_link_token_spend,
	.tx_oauth_state_add = store_pg_tx_oauth_state_add,
	.tx_oauth_state_spend = store_pg_tx_oauth_state_spend,
	.tx_outbox_add = store_pg_tx_outbox_add,
	.tx_outbox_record = store_pg_tx_outbox_record,
	.outbox_claim = store_pg_outbox_claim,
	.outbox_due = store_pg_outbox_due,
	.outbox_counts = store_pg_outbox_counts,
	.outbox_read = store_pg_outbox_read,
	.outbox_read_for = store_pg_outbox_read_for,
	.audit_read_for = store_pg_audit_read_for,
	.outbox_kinds_read = store_pg_outbox_kinds_read,
	.tx_outbox_retry = store_pg_tx_outbox_retry,
	.tx_outbox_give_up = store_pg_tx_outbox_give_up,
	.tx_outbox_unlease = store_pg_tx_outbox_unlease,
	.tx_audit_add = store_pg_tx_audit_add,
	.tx_health_touch = store_pg_tx_health_touch,
	.tx_savepoint = store_pg_tx_savepoint,
	.tx_savepoint_release = store_pg_tx_savepoint_release,
	.tx_savepoint_rollback = store_pg_tx_savepoint_rollback,
	.tx_broadcast_add = store_pg_tx_broadcast_add,
	.tx_broadcasts_pending = store_pg_tx_broadcasts_pending,
	.tx_broadcast_delivered = store_pg_tx_broadcast_delivered,
	.tx_gamepot_login_add = store_pg_tx_gamepot_login_add,
	.tx_gamepot_login_state = store_pg_tx_gamepot_login_state,
	.tx_gamepot_login_finish = store_pg_tx_gamepot_login_finish,
	.tx_gamepot_login_attempt = store_pg_tx_gamepot_login_attempt,
	.gamepot_login_read = store_pg_gamepot_login_read,
	.gamepot_login_latest = store_pg_gamepot_login_latest,
	.account_read = store_pg_account_read,
	.inventory_read = store_pg_inventory_read,
	.history_read = store_pg_history_read,
	.fulfilments_search = store_pg_fulfilments_search,
	.fulfilment_read = store_pg_fulfilment_read,
	.credentials_read = store_pg_credentials_read,
	.credential_live = store_pg_credential_live,
	.signing_keys_read = store_pg_signing_keys_read,
	.links_read = store_pg_links_read,
	.fulfilment_account_read = store_pg_fulfilment_account_read,
	.link_holder_read = store_pg_link_holder_read,
	.audit_read = store_pg_audit_read,
	.tx_event_add = store_pg_tx_event_add,
	.events_read = store_pg_events_read,
	.broadcasts_until = store_pg_broadcasts_until,
	.broadcasts_pending_any = store_pg_broadcasts_pending_any,
};

const struct store_driver store_pg_driver = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.ping = pg_ping,
	.stats = pg_stats,
	.writer = &store_pg_writer_ops,
	.ops = &pg_ops,
};
