/* store/sqlite/backup.c: consistent copies of a database that grantd may be
 * writing to, the checks a file must pass to count as a grantd backup, and
 * putting a backup in place as the database.
 *
 * A copy is `VACUUM INTO` on a read-only connection: it runs in one read
 * transaction, so it is one snapshot of the database, WAL included, holding
 * every commit made before it began. While it runs the server's WAL cannot
 * start over (as with any long reader) and keeps growing; nothing else
 * waits for it. Every file is written beside its final name, synced, then
 * renamed and its directory synced, so a crash leaves either no file or the
 * whole one under that name (and at worst a stray "<name>.tmp-XXXXXX"). */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000

/* Tables every grantd schema has had since version 1. */
static const char *const grantd_tables[] = {
	"accounts", "fulfillments", "grants", "credentials",
};

/* SQLite's locks (os_unix.c). In the database file: the pending byte at
 * 1 GiB, the reserved byte, then 510 shared bytes; a connection to a
 * database in WAL mode holds a read lock on a shared byte for as long as it
 * is open. In the -shm file, every such connection holds a read lock on
 * the "dead man switch" byte. */
#define DB_LOCK_START 0x40000000
#define DB_LOCK_LEN 512
#define SHM_DMS_BYTE 128

/* Files a database leaves beside it; stale ones must never meet a
 * restored database (SQLite would apply them to it). */
static const char *const side_files[] = { "-wal", "-shm", "-journal" };

/* ---- files ------------------------------------------------------------ */

/* fsyncs the file at `path`, or the directory holding it if `dir`.
 * Returns 0 or -1 with *err (owned). */
static int sync_path(const char *path, bool dir, char **err)
{
	const char *slash = strrchr(path, '/');
	char *name = !dir ? util_xstrdup(path) :
		!slash ? util_xstrdup(".") :
		util_xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	int fd = open(name, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;

	if (rc)
		*err = util_xasprintf("cannot sync %s: %s", name, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(name);
	return rc;
}

/* Gives `from` the name `to` unless `to` exists (then errno is EEXIST). */
static int rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link refuses to replace. */
	if (link(from, to))
		return -1;
	unlink(from);
	return 0;
}

/* Takes an open file description lock on `len` bytes at `start` of `path`;
 * it conflicts with SQLite's POSIX locks (even in this process) and lasts
 * until *fd is closed. Returns 0 (*fd is -1 if there is no such file),
 * STORE_BUSY if another lock is in the way, or STORE_ERR with *err. */
static int lock_bytes(const char *path, off_t start, off_t len, int *fd,
		      char **err)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };
	int rc;

	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT)
			return STORE_OK;
		*err = util_xasprintf("cannot open %s: %s", path, strerror(errno));
		return STORE_ERR;
	}
	if (fcntl(*fd, F_OFD_SETLK, &fl) == 0)
		return STORE_OK;
	rc = errno == EAGAIN || errno == EACCES ? STORE_BUSY : STORE_ERR;
	if (rc == STORE_ERR)
		*err = util_xasprintf("cannot lock %s: %s", path, strerror(errno));
	close(*fd);
	*fd = -1;
	return rc;
}

/* Makes sure no connection has the database at `db_path` open, and keeps
 * new ones out until fds[0..1] are closed: a write lock on the bytes every
 * connection holds a read lock on. Returns 0, STORE_BUSY or STORE_ERR. */
static int lock_database(const char *db_path, int fds[2], char **err)
{
	char *shm = util_xasprintf("%s-shm", db_path);
	int rc = lock_bytes(db_path, DB_LOCK_START, DB_LOCK_LEN, &fds[0], err);

	if (rc == STORE_OK)
		rc = lock_bytes(shm, SHM_DMS_BYTE, 1, &fds[1], err);
	free(shm);
	return rc;
}

/* Removes the -wal, -shm and -journal files of the database at `db_path`. */
static int remove_side_files(const char *db_path, char **err)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(side_files); i++) {
		char *path = util_xasprintf("%s%s", db_path, side_files[i]);
		int rc = unlink(path) == 0 || errno == ENOENT ? 0 : -1;

		if (rc)
			*err = util_xasprintf("cannot remove %s: %s", path,
					      strerror(errno));
		free(path);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- SQLite ----------------------------------------------------------- */

/* Opens `path` read-only. It never closes with a checkpoint (it could not
 * anyway; this also keeps it from taking the exclusive lock it would try
 * first). Returns 0 and the connection, or -1 with *err (SQLite's
 * message). */
static int open_read_only(const char *path, sqlite3 **out, char **err)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	if (store_vfs_register()) {
		*err = util_xstrdup("cannot register the SQLite VFS");
		return -1;
	}
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, STORE_VFS_NAME);
	if (rc != SQLITE_OK) {
		*err = util_xstrdup(db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	*out = db;
	return 0;
}

/* Runs `sql`, whose first row's first column is the answer: an integer
 * (*num) or, if `text` is not NULL, a string (owned, in *text). Returns 0,
 * or -1 with *err (SQLite's message). */
static int query_one(sqlite3 *db, const char *sql, int64_t *num, char **text,
		     char **err)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && text)
		*text = util_xstrdup(sqlite3_column_text(s, 0) ?
				     (const char *)sqlite3_column_text(s, 0) : "");
	else if (rc == SQLITE_ROW)
		*num = sqlite3_column_int64(s, 0);
	else
		*err = util_xstrdup(rc == SQLITE_DONE ? "no result" :
				    sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Sets *missing (borrowed) to the first grantd table `db` lacks, or NULL. */
static int find_missing_table(sqlite3 *db, const char **missing, char **err)
{
	*missing = NULL;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(grantd_tables) && !*missing; i++) {
		char *sql = sqlite3_mprintf("SELECT count(*) FROM sqlite_master"
					    " WHERE type = 'table' AND name = %Q",
					    grantd_tables[i]);
		int64_t n = 0;
		int rc = query_one(db, sql, &n, NULL, err);

		sqlite3_free(sql);
		if (rc)
			return -1;
		if (n == 0)
			*missing = grantd_tables[i];
	}
	return 0;
}

/* Checks the database open on `db` (see store_backup_check) and counts its
 * rows into *info. Returns 0, or -1 with *why (owned) saying what is
 * wrong. */
static int check_open(sqlite3 *db, struct store_backup_info *info, char **why)
{
	const char *missing = NULL;
	char *text = NULL, *err = NULL;
	int64_t version = 0;
	int latest = store_schema_latest();

	if (query_one(db, "PRAGMA integrity_check", NULL, &text, &err))
		goto not_grantd;
	if (strcmp(text, "ok") != 0) {
		err = util_xasprintf("integrity check failed: %s", text);
		goto not_grantd;
	}
	if (query_one(db, "PRAGMA user_version", &version, NULL, &err))
		goto not_grantd;
	if (version > latest) {
		*why = util_xasprintf("schema version %lld is newer than this "
				      "grantd knows (%d)", (long long)version, latest);
		goto fail;
	}
	if (find_missing_table(db, &missing, &err))
		goto not_grantd;
	if (missing || version < 1) {
		err = missing ? util_xasprintf("it has no %s table", missing) :
			util_xasprintf("schema version %lld", (long long)version);
		goto not_grantd;
	}
	info->schema_version = (int)version;
	if (query_one(db, "SELECT count(*) FROM fulfillments", &info->fulfilments,
		      NULL, &err) ||
	    query_one(db, "SELECT count(*) FROM accounts", &info->accounts, NULL,
		      &err))
		goto not_grantd;
	free(text);
	return 0;
not_grantd:
	*why = util_xasprintf("not a grantd backup: %s", err);
fail:
	free(text);
	free(err);
	return -1;
}

/* Opens `path` read-only and checks it. Returns 0 with the connection in
 * *out (if out is not NULL; else closed) and *info, or -1 with *err. */
static int check_file(const char *path, sqlite3 **out,
		      struct store_backup_info *info, char **err)
{
	struct stat sb;
	sqlite3 *db = NULL;
	char *why = NULL, *msg = NULL;

	if (stat(path, &sb)) {
		*err = util_xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode))
		why = util_xstrdup("not a grantd backup: not a regular file");
	else if (open_read_only(path, &db, &msg))
		why = util_xasprintf("not a grantd backup: %s", msg);
	else
		check_open(db, info, &why);
	free(msg);
	if (why) {
		*err = util_xasprintf("%s: %s", path, why);
		free(why);
		sqlite3_close(db);
		return -1;
	}
	info->bytes = (int64_t)sb.st_size;
	if (out)
		*out = db;
	else
		sqlite3_close(db);
	return 0;
}

/* Writes one consistent copy of the database open on `db` into a new file
 * beside `target`, synced to disk. Returns 0 and the file's path (owned)
 * in *tmp, or -1 with *err (then no file is left behind). */
static int copy_beside(sqlite3 *db, const char *target, char **tmp, char **err)
{
	char *path = util_xasprintf("%s.tmp-XXXXXX", target);
	sqlite3_stmt *s = NULL;
	int fd = mkstemp(path), rc;

	if (fd < 0) {
		*err = util_xasprintf("cannot create %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	close(fd);
	/* VACUUM INTO writes into an empty file as into a new one. */
	rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		*err = util_xasprintf("cannot copy into %s: %s", path,
				      sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sync_path(path, false, err))
		goto fail;
	*tmp = path;
	return 0;
fail:
	sqlite3_finalize(s);
	unlink(path);
	free(path);
	return -1;
}

/* Opens the database at `db_path` to copy it and reads its schema version,
 * which must be one this binary knows. Returns 0, or -1 with *err. */
static int open_source(const char *db_path, sqlite3 **db, int64_t *version,
		       char **err)
{
	int latest = store_schema_latest();
	char *msg = NULL;

	if (open_read_only(db_path, db, &msg) ||
	    query_one(*db, "PRAGMA user_version", version, NULL, &msg)) {
		*err = util_xasprintf("%s: %s", db_path, msg);
		free(msg);
		return -1;
	}
	if (*version >= 1 && *version <= latest)
		return 0;
	if (*version < 1)
		*err = util_xasprintf("%s: not a grantd database (schema version "
				      "%lld)", db_path, (long long)*version);
	else
		*err = util_xasprintf("%s: schema version %lld is newer than this "
				      "grantd knows (%d)", db_path,
				      (long long)*version, latest);
	return -1;
}

/* Checks the copy at `tmp` of a database at schema `version`. Returns 0
 * and *info, or -1 with *err. */
static int verify_copy(const char *tmp, int64_t version,
		       struct store_backup_info *info, char **err)
{
	char *why = NULL;

	if (check_file(tmp, NULL, info, &why)) {
		*err = util_xasprintf("the copy failed its check: %s", why);
		free(why);
		return -1;
	}
	if (info->schema_version != version) {
		*err = util_xasprintf("the database moved from schema version "
				      "%lld to %d during the copy; run it again",
				      (long long)version, info->schema_version);
		return -1;
	}
	return 0;
}

int store_backup(const char *db_path, const char *to_path,
		 struct store_backup_info *info, char **err)
{
	struct stat sb;
	sqlite3 *db = NULL;
	char *tmp = NULL;
	int64_t version = 0;
	int rc = STORE_ERR;

	if (stat(db_path, &sb)) {
		if (errno == ENOENT)
			return STORE_NOT_FOUND;
		*err = util_xasprintf("%s: %s", db_path, strerror(errno));
		return STORE_ERR;
	}
	if (lstat(to_path, &sb) == 0)
		return STORE_EXISTS;
	if (open_source(db_path, &db, &version, err) ||
	    copy_beside(db, to_path, &tmp, err))
		goto out;
	sqlite3_close(db);  /* done with the database before anything else */
	db = NULL;
	if (verify_copy(tmp, version, info, err))
		goto out;
	if (rename_new(tmp, to_path)) {
		rc = errno == EEXIST ? STORE_EXISTS : STORE_ERR;
		if (rc == STORE_ERR)
			*err = util_xasprintf("cannot rename %s to %s: %s", tmp,
					      to_path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (sync_path(to_path, true, err)) {
		unlink(to_path);
		goto out;
	}
	rc = STORE_OK;
out:
	if (tmp)
		unlink(tmp);
	free(tmp);
	sqlite3_close(db);
	return rc;
}

int store_backup_check(const char *path, struct store_backup_info *info,
		       char **err)
{
	return check_file(path, NULL, info, err) ? STORE_ERR : STORE_OK;
}

/* Refuses a target that is the backup itself (STORE_ERR), or an existing
 * database unless `replace` (STORE_EXISTS). */
static int target_allowed(const char *from_path, const char *db_path,
			  bool replace, char **err)
{
	struct stat from, to;

	if (stat(db_path, &to))
		return STORE_OK;
	if (stat(from_path, &from) == 0 && from.st_dev == to.st_dev &&
	    from.st_ino == to.st_ino) {
		*err = util_xasprintf("%s is the database itself; restore from a "
				      "copy", from_path);
		return STORE_ERR;
	}
	return replace ? STORE_OK : STORE_EXISTS;
}

/* Gives the file at `tmp` the permissions of the database it replaces. */
static void keep_mode(const char *db_path, const char *tmp)
{
	struct stat sb;

	if (stat(db_path, &sb) == 0)
		chmod(tmp, sb.st_mode & 07777);
}

int store_restore(const char *from_path, const char *db_path, bool replace,
		  struct store_backup_info *info, char **err)
{
	int locks[2] = { -1, -1 };
	sqlite3 *db = NULL;
	char *tmp = NULL;
	int rc;

	if (check_file(from_path, &db, info, err))
		return STORE_ERR;
	if ((rc = target_allowed(from_path, db_path, replace, err)) ||
	    (rc = lock_database(db_path, locks, err)))
		goto out;
	rc = STORE_ERR;
	if (copy_beside(db, db_path, &tmp, err))
		goto out;
	keep_mode(db_path, tmp);
	/* Nothing uses the old database (locked above): its WAL and shared
	 * memory go first, so no crash can pair them with the new file. */
	if (remove_side_files(db_path, err))
		goto out;
	if (rename(tmp, db_path)) {
		*err = util_xasprintf("cannot rename %s to %s: %s", tmp, db_path,
				      strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	rc = sync_path(db_path, true, err) ? STORE_ERR : STORE_OK;
out:
	if (tmp)
		unlink(tmp);
	free(tmp);
	for (int i = 0; i < 2; i++)
		if (locks[i] >= 0)
			close(locks[i]);
	sqlite3_close(db);
	return rc;
}
