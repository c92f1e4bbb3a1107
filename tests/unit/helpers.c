/* tests/unit/helpers.c: temporary directories, stores and catalogs. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

char *test_tmpdir(void)
{
	char tmpl[] = "/tmp/grantd-unit-XXXXXX";
	char *dir = mkdtemp(tmpl);

	cr_assert_not_null(dir);
	return util_xstrdup(dir);
}

void test_rmdir(char *dir)
{
	char *cmd = util_xasprintf("rm -rf '%s'", dir);

	cr_assert_eq(system(cmd), 0);
	free(cmd);
	free(dir);
}

struct store *test_store_open(const char *dir, int batch_max)
{
	char *path = util_xasprintf("%s/test.db", dir);
	struct store_options opts = {
		.batch_max = batch_max,
		.sqlite = { .path = path, .synchronous_full = true },
	};
	struct store *st = NULL;
	char *err = NULL;

	cr_assert_eq(store_open(&opts, &st, &err), 0, "store_open: %s", err);
	free(path);
	return st;
}

struct catalog *test_catalog(const char *json)
{
	struct util_strlist problems;
	struct catalog *c = NULL;

	util_strlist_init(&problems);
	cr_assert_eq(catalog_parse(json, strlen(json), &c, &problems), 0,
		     "catalog: %s", problems.len ? problems.items[0] : "?");
	util_strlist_release(&problems);
	return c;
}

long long test_sql_int(const char *dir, const char *sql)
{
	char *path = util_xasprintf("%s/test.db", dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
	return v;
}
