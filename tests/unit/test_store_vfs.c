/* Unit tests of the store's VFS (store/vfs.c): WAL frames gathered in
 * memory must all be in the file once a commit returns, whatever the
 * transaction's size, and a transaction that rolled back must leave nothing
 * a reader or a recovery could see. Each check reads the files through
 * SQLite's own unix VFS, or recovers a copy of them as after a crash. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "store/sqlite/sqlite_int.h"

/* Opens dir/name through the grantd VFS with the store's journal settings
 * and a small page cache, so that big transactions spill frames to the WAL
 * before they commit. */
static sqlite3 *open_gathering(const char *dir, const char *name)
{
	char *path = util_xasprintf("%s/%s", dir, name);
	sqlite3 *db = NULL;

	cr_assert_eq(store_vfs_register(), 0);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
				     SQLITE_OPEN_CREATE, STORE_VFS_NAME), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA page_size = 2048;"
				  "PRAGMA journal_mode = WAL;"
				  "PRAGMA synchronous = NORMAL;"
				  "PRAGMA cache_size = 20;"
				  "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);",
				  NULL, NULL, NULL), SQLITE_OK);
	sqlite3_wal_autocheckpoint(db, 0);  /* keep everything in the WAL */
	free(path);
	return db;
}

/* Inserts `rows` rows of `size` bytes each in one transaction. */
static void insert_rows(sqlite3 *db, int rows, int size, bool commit)
{
	sqlite3_stmt *s = NULL;
	void *blob = calloc(1, (size_t)size);

	cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?1)", -1,
					&s, NULL), SQLITE_OK);
	for (int i = 0; i < rows; i++) {
		memset(blob, 'a' + i % 26, (size_t)size);
		sqlite3_bind_blob(s, 1, blob, size, SQLITE_STATIC);
		cr_assert_eq(sqlite3_step(s), SQLITE_DONE);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	cr_assert_eq(sqlite3_exec(db, commit ? "COMMIT" : "ROLLBACK", NULL, NULL,
				  NULL), SQLITE_OK);
	free(blob);
}

/* Reads "count(*) total(length(v))" of dir/name through the unix VFS and
 * checks the database's integrity on the way. */
static void read_plain(const char *dir, const char *name, long long *count,
		       long long *bytes)
{
	char *path = util_xasprintf("%s/%s", dir, name);
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "unix"),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*), total(length(v)) FROM t",
					-1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	*count = sqlite3_column_int64(s, 0);
	*bytes = (long long)sqlite3_column_double(s, 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
}

/* Copies a file byte for byte (what a crash leaves is what the files hold). */
static void copy_file(const char *dir, const char *from, const char *to)
{
	char *a = util_xasprintf("%s/%s", dir, from), *b = util_xasprintf("%s/%s", dir, to);
	FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
	char buf[65536];
	size_t n;

	cr_assert(in && out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	free(a);
	free(b);
}

/* Copies g.db and its WAL as they are now, as a crash would leave them,
 * and reads the copy, which SQLite recovers from that WAL alone. */
static void read_recovered_copy(const char *dir, long long *count,
				long long *bytes)
{
	copy_file(dir, "g.db", "copy.db");
	copy_file(dir, "g.db-wal", "copy.db-wal");
	read_plain(dir, "copy.db", count, bytes);
}

/* Sizes around the points where the VFS changes behaviour: one frame, a
 * write split below 128 KiB, and more than its 512 KiB buffer (sent in
 * several pieces, with frames spilled before the commit). */
static const int row_counts[] = { 1, 100, 3000 };

Test(vfs, a_commit_is_in_the_files_when_it_returns)
{
	char *dir = test_tmpdir();
	sqlite3 *db = open_gathering(dir, "g.db");
	long long want = 0, count, bytes;

	for (size_t i = 0; i < sizeof(row_counts) / sizeof(row_counts[0]); i++) {
		insert_rows(db, row_counts[i], 1000, true);
		want += row_counts[i];
		read_plain(dir, "g.db", &count, &bytes);
		cr_assert_eq(count, want);
		cr_assert_eq(bytes, want * 1000);
	}
	read_recovered_copy(dir, &count, &bytes);
	cr_assert_eq(count, want, "copy has %lld rows of %lld", count, want);
	cr_assert_eq(bytes, want * 1000);
	sqlite3_close(db);
	test_rmdir(dir);
}

Test(vfs, a_rolled_back_transaction_leaves_nothing)
{
	char *dir = test_tmpdir();
	sqlite3 *db = open_gathering(dir, "g.db");
	long long count, bytes;

	insert_rows(db, 3000, 1000, false);  /* spills frames, then rolls back */
	insert_rows(db, 2, 10, true);        /* reuses the same WAL offsets */
	read_plain(dir, "g.db", &count, &bytes);
	cr_assert_eq(count, 2);
	cr_assert_eq(bytes, 20);
	read_recovered_copy(dir, &count, &bytes);
	cr_assert_eq(count, 2);
	cr_assert_eq(bytes, 20);
	sqlite3_close(db);
	test_rmdir(dir);
}

Test(vfs, a_checkpoint_and_restart_keep_every_commit)
{
	char *dir = test_tmpdir();
	sqlite3 *db = open_gathering(dir, "g.db");
	long long count, bytes;

	insert_rows(db, 500, 1000, true);
	cr_assert_eq(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART,
					       NULL, NULL), SQLITE_OK);
	insert_rows(db, 7, 1000, true);  /* written from the WAL's start again */
	read_recovered_copy(dir, &count, &bytes);
	cr_assert_eq(count, 507);
	cr_assert_eq(bytes, 507000);
	sqlite3_close(db);
	test_rmdir(dir);
}
