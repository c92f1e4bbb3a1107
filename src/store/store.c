/* store/store.c: opening and closing the store, names of enumerations. */
#include "store/store_int.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static const char *const outbox_statuses[] = {
	[STORE_OUTBOX_PENDING] = "pending",
	[STORE_OUTBOX_DELIVERED] = "delivered",
	[STORE_OUTBOX_DEAD] = "dead",
};

const char *store_outbox_status_name(enum store_outbox_status s)
{
	return outbox_statuses[s];
}

static const char *const link_states[] = {
	[STORE_LINK_LINKED] = "linked",
	[STORE_LINK_RELINK_REQUIRED] = "relink_required",
};

const char *store_link_state_name(enum store_link_state s)
{
	return link_states[s];
}

enum store_link_state store_link_state_of(const char *text)
{
	return text && strcmp(text, link_states[STORE_LINK_RELINK_REQUIRED]) == 0 ?
		STORE_LINK_RELINK_REQUIRED : STORE_LINK_LINKED;
}

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

void store_fulfilment_id_format(int64_t row, char out[STORE_FULFILMENT_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v = (uint64_t)row;

	out[0] = 'f';
	out[1] = '_';
	for (int i = 0; i < 16; i++)
		out[2 + i] = hex[(v >> (60 - 4 * i)) & 15];
	out[STORE_FULFILMENT_ID_LEN] = '\0';
}

int store_fulfilment_id_parse(const char *id, int64_t *row)
{
	uint64_t v = 0;

	if (strlen(id) != STORE_FULFILMENT_ID_LEN || id[0] != 'f' || id[1] != '_')
		return -1;
	for (int i = 2; i < STORE_FULFILMENT_ID_LEN; i++) {
		char c = id[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	if (v == 0 || v > INT64_MAX)
		return -1;
	*row = (int64_t)v;
	return 0;
}

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

int store_open(const struct store_options *opts, struct store **out, char **err)
{
	struct store *st;

	*out = NULL;
	if (opts->driver && strcmp(opts->driver, "sqlite") != 0) {
		*err = util_xasprintf("unknown storage driver \"%s\"",
				      opts->driver);
		return -1;
	}
	if (check_path(opts->sqlite.path, opts->must_exist, err))
		return -1;
	st = util_xcalloc(1, sizeof(*st));

	st->opts = *opts;
	st->opts.driver = "sqlite";
	st->writer_ops = &store_sqlite_writer_ops;
	st->path = util_xstrdup(opts->sqlite.path);
	st->opts.sqlite.path = st->path;
	st->checkpointer.db_fd = -1;
	st->syncer.wal_fd = -1;
	pthread_mutex_init(&st->readers_lock, NULL);
	if (store_conn_open(st, &st->writer_conn, err))
		goto fail;
	if (store_migrate(st->writer_conn, &st->schema_version, err) ||
	    store_checkpointer_start(st, err) || store_syncer_start(st, err))
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
	store_syncer_stop(st);
	store_checkpointer_stop(st);
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
