/* Unit tests of store backups (store/backup.c): a copy taken while a store
 * is open holds every commit made before it and the store keeps working;
 * missing sources and existing targets are refused without creating
 * anything; files that are not grantd backups are named as such; a restore
 * refuses a database in use and removes the old one's WAL. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

struct accounts {
	int from;
	int count;
};

static int put_accounts(struct store_tx *tx, void *arg)
{
	struct accounts *a = arg;
	char id[32];
	bool created;

	for (int i = a->from; i < a->from + a->count; i++) {
		snprintf(id, sizeof(id), "acct-%d", i);
		if (store_tx_account_put(tx, id, STORE_ACCOUNT_ACTIVE, 1, &created))
			return STORE_ERR;
	}
	return STORE_OK;
}

static void add_accounts(struct store *st, int from, int count)
{
	struct accounts a = { from, count };

	cr_assert_eq(store_run(st, put_accounts, &a), STORE_OK);
}

static bool exists(const char *dir, const char *name)
{
	char *path = util_xasprintf("%s/%s", dir, name);
	bool found = access(path, F_OK) == 0;

	free(path);
	return found;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs `sql` on a new SQLite file at `path`. */
static void make_sqlite(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Asserts that store_backup_check refuses `path` with a message that
 * contains `want`. */
static void check_refuses(const char *path, const char *want)
{
	struct store_backup_info info;
	char *err = NULL;

	cr_assert_eq(store_backup_check(path, &info, &err), STORE_ERR);
	cr_assert_not_null(strstr(err, want), "message: %s", err);
	free(err);
}

Test(backup, copies_an_open_store_which_keeps_working)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 64);
	char *db = util_xasprintf("%s/test.db", dir);
	char *to = util_xasprintf("%s/copy.db", dir);
	struct store_backup_info info = { 0 };
	char *err = NULL;

	add_accounts(st, 0, 50);
	cr_assert_eq(store_backup(db, to, &info, &err), STORE_OK, "%s", err);
	add_accounts(st, 50, 10);   /* the store still writes */
	cr_assert_eq(info.schema_version, store_schema_latest());
	cr_assert_eq(info.accounts, 50);
	cr_assert_eq(info.fulfilments, 0);
	cr_assert_gt(info.bytes, 0);
	cr_assert_eq(store_backup_check(to, &info, &err), STORE_OK, "%s", err);
	cr_assert_eq(info.accounts, 50);
	cr_assert_eq(store_backup(db, to, &info, &err), STORE_EXISTS);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 60);
	free(db);
	free(to);
	test_rmdir(dir);
}

Test(backup, creates_nothing_without_a_database)
{
	char *dir = test_tmpdir();
	char *db = util_xasprintf("%s/none.db", dir);
	char *to = util_xasprintf("%s/copy.db", dir);
	struct store_backup_info info;
	char *err = NULL;

	cr_assert_eq(store_backup(db, to, &info, &err), STORE_NOT_FOUND);
	cr_assert_null(err);
	cr_assert(!exists(dir, "none.db") && !exists(dir, "none.db-wal") &&
		  !exists(dir, "copy.db"));
	free(db);
	free(to);
	test_rmdir(dir);
}

Test(backup, check_names_what_is_wrong)
{
	char *dir = test_tmpdir();
	char *text = util_xasprintf("%s/text.db", dir);
	char *other = util_xasprintf("%s/other.db", dir);
	char *newer = util_xasprintf("%s/newer.db", dir);
	char *sql = sqlite3_mprintf("CREATE TABLE accounts (a); CREATE TABLE "
				    "fulfillments (a); CREATE TABLE grants (a);"
				    " CREATE TABLE credentials (a);"
				    " PRAGMA user_version = %d;",
				    store_schema_latest() + 1);
	char *want = util_xasprintf("schema version %d is newer than this grantd "
				    "knows (%d)", store_schema_latest() + 1,
				    store_schema_latest());

	write_file(text, "not a database at all, but long enough to look like one");
	make_sqlite(other, "CREATE TABLE accounts (a)");
	make_sqlite(newer, sql);
	check_refuses(text, "text.db: not a grantd backup: file is not a database");
	check_refuses(other, "not a grantd backup: it has no fulfillments table");
	check_refuses(newer, want);
	sqlite3_free(sql);
	free(want);
	free(text);
	free(other);
	free(newer);
	test_rmdir(dir);
}

Test(backup, restore_refuses_a_database_in_use_and_replaces_it_after)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 64);
	char *db = util_xasprintf("%s/test.db", dir);
	char *from = util_xasprintf("%s/copy.db", dir);
	struct store_backup_info info;
	char *err = NULL;

	add_accounts(st, 0, 5);
	cr_assert_eq(store_backup(db, from, &info, &err), STORE_OK, "%s", err);
	add_accounts(st, 5, 5);
	cr_assert_eq(store_restore(from, db, false, &info, &err), STORE_EXISTS);
	cr_assert_eq(store_restore(from, db, true, &info, &err), STORE_BUSY);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 10);
	cr_assert_eq(store_restore(from, db, true, &info, &err), STORE_OK, "%s", err);
	cr_assert_eq(info.accounts, 5);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 5);
	st = test_store_open(dir, 64);
	add_accounts(st, 100, 1);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 6);
	free(db);
	free(from);
	test_rmdir(dir);
}

Test(backup, restore_removes_a_stale_wal)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 64);
	char *db = util_xasprintf("%s/test.db", dir);
	char *from = util_xasprintf("%s/copy.db", dir);
	char *wal = util_xasprintf("%s/test.db-wal", dir);
	struct store_backup_info info;
	char *err = NULL;

	add_accounts(st, 0, 3);
	cr_assert_eq(store_backup(db, from, &info, &err), STORE_OK, "%s", err);
	store_close(st);
	cr_assert_eq(unlink(db), 0);
	write_file(wal, "left behind by a database that is gone");
	cr_assert_eq(store_restore(from, db, false, &info, &err), STORE_OK, "%s", err);
	cr_assert(!exists(dir, "test.db-wal") && !exists(dir, "test.db-shm"));
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), 3);
	cr_assert_eq(test_sql_int(dir, "PRAGMA user_version"), store_schema_latest());
	free(db);
	free(from);
	free(wal);
	test_rmdir(dir);
}
