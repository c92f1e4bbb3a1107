/* app/cli.c: the one-shot commands migrate and catalog check, and opening
 * the store for a command. */
#include "app/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"
#include "ops/ops.h"

struct store *app_open_for_command(const char *config_path, struct config *cfg,
				   bool create)
{
	struct store *st;

	ops_log_set_level(OPS_LOG_WARN);
	if (app_config_load(config_path, cfg))
		return NULL;
	st = app_store_open(cfg, create);
	if (!st)
		config_release(cfg);
	return st;
}

int app_migrate(const char *config_path)
{
	struct config cfg;
	struct store *st = app_open_for_command(config_path, &cfg, true);

	if (!st)
		return 1;
	if (strcmp(cfg.storage.driver, "sqlite") == 0)
		printf("database %s is at schema version %d\n",
		       cfg.storage.sqlite.path, store_schema_version(st));
	else  /* the URL may hold a password */
		printf("%s database is at schema version %d\n",
		       cfg.storage.driver, store_schema_version(st));
	store_close(st);
	config_release(&cfg);
	return 0;
}

int app_catalog_check(const char *catalog_path)
{
	struct util_strlist problems;
	struct catalog *c = NULL;
	int named = 0;

	util_strlist_init(&problems);
	if (catalog_load_file(catalog_path, &c, &problems)) {
		for (size_t i = 0; i < problems.len; i++)
			printf("%s\n", problems.items[i]);
		fprintf(stderr, "%s: %zu problem(s); the catalog is refused\n",
			catalog_path, problems.len);
		util_strlist_release(&problems);
		return 1;
	}
	printf("%s: ok: %zu items, %zu bundles, %zu entitlements; provider item "
	       "ids:", catalog_path, catalog_item_count(c),
	       catalog_bundle_count(c), catalog_entitlement_count(c));
	for (int p = 0; p < CATALOG_PROVIDER_COUNT; p++) {
		size_t ids = catalog_provider_id_count(c, (enum catalog_provider)p);

		if (ids)
			printf("%s %s %zu", named++ ? "," : "",
			       catalog_namespace_path((enum catalog_provider)p), ids);
	}
	printf("%s\n", named ? "" : " none");
	catalog_unref(c);
	util_strlist_release(&problems);
	return 0;
}
