/* store/sqlite/open.c: the SQLite driver — opening a database file (its
 * directory checked, migrations applied, the checkpointer and syncer
 * started), closing it, and its health check. */
#include "store/store_int.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int sqlite_open(struct store *st, char **err)
{
	st->checkpointer.db_fd = -1;   /* what close looks at, first */
	st->syncer.wal_fd = -1;
	if (check_path(st->opts.sqlite.path, st->opts.must_exist, err))
		return -1;
	st->path = util_xstrdup(st->opts.sqlite.path);
	st->opts.sqlite.path = st->path;
	pthread_mutex_init(&st->readers_lock, NULL);
	st->readers_ready = true;
	if (store_conn_open(st, &st->writer_conn, err) ||
	    store_migrate(st->writer_conn, &st->schema_version, err) ||
	    store_checkpointer_start(st, err) || store_syncer_start(st, err))
		return -1;
	return 0;
}

/* After the writer has stopped: the syncer answers what it holds. */
static void sqlite_close(struct store *st)
{
	struct store_conn *c, *next;

	store_syncer_stop(st);
	store_checkpointer_stop(st);
	store_conn_close(st->writer_conn);
	st->writer_conn = NULL;
	for (c = st->free_readers; c; c = next) {
		next = c->next_free;
		store_conn_close(c);
	}
	st->free_readers = NULL;
	if (st->readers_ready)
		pthread_mutex_destroy(&st->readers_lock);
	st->readers_ready = false;
	free(st->path);
	st->path = NULL;
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

const struct store_driver store_sqlite_driver = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.ping = sqlite_ping,
	.stats = store_sqlite_stats,
	.writer = &store_sqlite_writer_ops,
};
