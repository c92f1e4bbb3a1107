/* app/common.c: loading configuration, the store and the catalog for every
 * command, with problems reported to the operator. */
#include "app/app_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

static const char *env_lookup(const char *name)
{
	return getenv(name);
}

int app_config_load(const char *path, struct config *out)
{
	struct util_strlist errors;
	int rc;

	util_strlist_init(&errors);
	rc = config_load(path, env_lookup, out, &errors);
	for (size_t i = 0; i < errors.len; i++)
		fprintf(stderr, "grantd: config: %s\n", errors.items[i]);
	util_strlist_release(&errors);
	return rc;
}

void app_print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	printf("%s\n", text ? text : "null");
	free(text);
	json_decref(j);
}

struct store *app_store_open(const struct config *cfg, bool create)
{
	struct store_options opts = {
		.driver = cfg->storage.driver,
		.must_exist = !create,
		.batch_max = (int)cfg->storage.batch_max,
		.sqlite = {
			.path = cfg->storage.sqlite.path,
			.synchronous_full = strcmp(cfg->storage.sqlite.synchronous,
						   "full") == 0,
		},
		.postgres = {
			.url = cfg->storage.postgres.url,
			.pool_size = (int)cfg->storage.postgres.pool_size,
			.statement_timeout_ms =
				(int)cfg->storage.postgres.statement_timeout_ms,
			.connect_timeout_ms =
				(int)cfg->storage.postgres.connect_timeout_ms,
		},
	};
	struct store *st = NULL;
	char *err = NULL;

	if (store_open(&opts, &st, &err)) {
		fprintf(stderr, "grantd: storage: %s\n", err);
		free(err);
		return NULL;
	}
	return st;
}

struct catalog *app_catalog_load(const char *path, const char *event,
				 struct util_strlist *problems_out)
{
	struct util_strlist problems;
	struct catalog *c = NULL;
	struct ops_log_line l;
	struct util_buf all;

	util_strlist_init(&problems);
	if (catalog_load_file(path, &c, &problems) == 0)
		goto out;
	util_buf_init(&all, 0);
	for (size_t i = 0; i < problems.len; i++)
		util_buf_printf(&all, "%s%s", i ? "\n" : "", problems.items[i]);
	if (ops_log_begin(&l, OPS_LOG_ERROR, event)) {
		ops_log_str(&l, "path", path);
		ops_log_int(&l, "problem_count", (int64_t)problems.len);
		ops_log_str(&l, "problems", all.data ? all.data : "");
		ops_log_end(&l);
	}
	util_buf_release(&all);
	for (size_t i = 0; problems_out && i < problems.len; i++)
		util_strlist_add(problems_out, "%s", problems.items[i]);
out:
	util_strlist_release(&problems);
	return c;
}
