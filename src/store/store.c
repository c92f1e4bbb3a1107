/* store/store.c: opening and closing the store, names of enumerations. */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const account_states[] = {
	[STORE_ACCOUNT_ACTIVE] = "active",
	[STORE_ACCOUNT_SUSPENDED] = "suspended",
	[STORE_ACCOUNT_BANNED] = "banned",
};

static const char *const fulfilment_statuses[] = {
	[STORE_FULFILMENT_PENDING] = "pending",
	[STORE_FULFILMENT_COMPLETED] = "completed",
	[STORE_FULFILMENT_FAILED] = "failed",
	[STORE_FULFILMENT_REVOKED] = "revoked",
};

const char *store_account_state_name(enum store_account_state s)
{
	return account_states[s];
}

int store_account_state_parse(const char *s, enum store_account_state *out)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(account_states); i++) {
		if (strcmp(s, account_states[i]) == 0) {
			*out = (enum store_account_state)i;
			return 0;
		}
	}
	return -1;
}

const char *store_fulfilment_status_name(enum store_fulfilment_status s)
{
	return fulfilment_statuses[s];
}

int store_open(const struct store_options *opts, struct store **out, char **err)
{
	struct store *st = util_xcalloc(1, sizeof(*st));

	st->opts = *opts;
	st->path = util_xstrdup(opts->sqlite_path);
	st->opts.sqlite_path = st->path;
	pthread_mutex_init(&st->readers_lock, NULL);
	if (store_conn_open(st, &st->writer_conn, err))
		goto fail;
	if (store_migrate(st->writer_conn, &st->schema_version, err))
		goto fail;
	if (store_writer_start(st)) {
		*err = util_xstrdup("cannot start the writer thread");
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	*out = NULL;
	return -1;
}

void store_close(struct store *st)
{
	struct store_conn *c, *next;

	if (!st)
		return;
	store_writer_stop(st);
	store_conn_close(st->writer_conn);
	for (c = st->free_readers; c; c = next) {
		next = c->next_free;
		store_conn_close(c);
	}
	pthread_mutex_destroy(&st->readers_lock);
	free(st->path);
	free(st);
}

int store_schema_version(struct store *st)
{
	return st->schema_version;
}

int store_ping(struct store *st)
{
	struct store_conn *c = store_reader_acquire(st);
	sqlite3_stmt *s;
	int rc = STORE_ERR;

	if (!c)
		return STORE_ERR;
	s = store_conn_stmt(c, STMT_PING);
	if (s && sqlite3_step(s) == SQLITE_ROW)
		rc = STORE_OK;
	if (s)
		sqlite3_reset(s);
	store_reader_release(st, c);
	return rc;
}
