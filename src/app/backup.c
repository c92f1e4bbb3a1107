/* app/backup.c: `grantd backup` (a consistent copy of the configured
 * database, taken while grantd runs) and `grantd restore` (a checked backup
 * put in place of it). Neither writes an audit record: that needs the
 * store open, which writes to the live database or migrates the restored
 * one. */
#include "app/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"

/* Prints what a command did: one line of text, or one JSON object with
 * `path` (the backup file) and `database`. */
static void print_result(const char *path, const char *database,
			 const struct store_backup_info *info, bool json,
			 const char *text)
{
	if (!json) {
		printf("%s\n", text);
		return;
	}
	app_print_json(json_pack("{s:s, s:s, s:i, s:I, s:I, s:I}", "path", path,
				 "database", database, "schema_version",
				 info->schema_version, "fulfillments",
				 (json_int_t)info->fulfilments, "accounts",
				 (json_int_t)info->accounts, "bytes",
				 (json_int_t)info->bytes));
}

/* Prints why a backup or restore failed: `file` is the backup being
 * written (NULL for a restore). Takes over `err`. */
static void report_failure(int rc, const char *db, const char *file, char *err)
{
	if (rc == STORE_NOT_FOUND)
		fprintf(stderr, "grantd: no database at %s: start grantd serve or "
			"run grantd migrate first\n", db);
	else if (rc == STORE_EXISTS && file)
		fprintf(stderr, "grantd: %s already exists; choose a new file\n",
			file);
	else if (rc == STORE_EXISTS)
		fprintf(stderr, "grantd: a database already exists at %s; stop "
			"grantd and move it aside, or pass --force\n", db);
	else if (rc == STORE_BUSY)
		fprintf(stderr, "grantd: %s is in use (is grantd running?); stop "
			"it first\n", db);
	else
		fprintf(stderr, "grantd: %s\n", err ? err : "failed");
	free(err);
}

/* backup and restore copy SQLite files; a PostgreSQL database is backed
 * up with PostgreSQL's own tools. Returns 0 on SQLite, else says so and
 * releases cfg. */
static int sqlite_only(struct config *cfg, const char *command)
{
	if (strcmp(cfg->storage.driver, "sqlite") == 0)
		return 0;
	fprintf(stderr, "grantd: %s works on SQLite databases; back up "
		"PostgreSQL with pg_basebackup and WAL archiving, or pg_dump "
		"(see docs/deployment.md)\n", command);
	config_release(cfg);
	return -1;
}

int app_backup(const char *config_path, const char *to_path, bool json)
{
	struct store_backup_info info = { 0 };
	struct config cfg;
	const char *db;
	char *err = NULL, *text;
	int rc;

	if (app_config_load(config_path, &cfg))
		return 1;
	if (sqlite_only(&cfg, "backup"))
		return 1;
	db = cfg.storage.sqlite.path;
	rc = store_backup(db, to_path, &info, &err);
	if (rc == STORE_OK) {
		text = util_xasprintf("backup of %s written to %s: schema version "
				      "%d, %lld fulfilments, %lld accounts, %lld "
				      "bytes", db, to_path, info.schema_version,
				      (long long)info.fulfilments,
				      (long long)info.accounts,
				      (long long)info.bytes);
		print_result(to_path, db, &info, json, text);
		free(text);
	} else {
		report_failure(rc, db, to_path, err);
	}
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}

int app_restore(const char *config_path, const char *from_path, bool force,
		bool json)
{
	struct store_backup_info info = { 0 };
	struct config cfg;
	const char *db;
	char *err = NULL, *text;
	int rc;

	if (app_config_load(config_path, &cfg))
		return 1;
	if (sqlite_only(&cfg, "restore"))
		return 1;
	db = cfg.storage.sqlite.path;
	rc = store_restore(from_path, db, force, &info, &err);
	if (rc == STORE_OK) {
		text = util_xasprintf("restored %s to %s: schema version %d, %lld "
				      "fulfilments", from_path, db,
				      info.schema_version,
				      (long long)info.fulfilments);
		print_result(from_path, db, &info, json, text);
		free(text);
	} else {
		report_failure(rc, db, NULL, err);
	}
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}
