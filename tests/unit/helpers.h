/* tests/unit/helpers.h: temporary directories, stores and catalogs shared by
 * the unit tests. */
#ifndef GRANTD_TEST_HELPERS_H
#define GRANTD_TEST_HELPERS_H

#include "catalog/catalog.h"
#include "store/store.h"

/* A fresh directory under /tmp (owned string; remove with test_rmdir). */
char *test_tmpdir(void);
void test_rmdir(char *dir);
/* Opens a store at dir/test.db. */
struct store *test_store_open(const char *dir, int batch_max);
/* Parses a catalog that must be valid. */
struct catalog *test_catalog(const char *json);
/* Reads one integer from a SQL query on dir/test.db (-1 on error). */
long long test_sql_int(const char *dir, const char *sql);

#endif
