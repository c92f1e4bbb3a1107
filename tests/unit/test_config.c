/* unit/test_config.c: config loading: defaults, file values, environment
 * overrides, the options table, and the message for every kind of bad input. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config.h"
#include "app/config_int.h"
#include "util/util.h"

#define MAX_FILES 64

static char cfg_dir[] = "/tmp/grantd-test-config-XXXXXX";
static char *cfg_files[MAX_FILES];
static size_t cfg_n_files;
static const char *const *cfg_env; /* name, value, …, NULL */

static void cfg_setup(void)
{
	cr_assert_not_null(mkdtemp(cfg_dir));
}

static void cfg_teardown(void)
{
	for (size_t i = 0; i < cfg_n_files; i++) {
		unlink(cfg_files[i]);
		free(cfg_files[i]);
	}
	cfg_n_files = 0;
	rmdir(cfg_dir);
}

TestSuite(config, .init = cfg_setup, .fini = cfg_teardown);

/* Writes `text` to a new file in the test directory; returns its path
 * (owned by the fixture). */
static const char *write_yaml(const char *text)
{
	char *path;
	FILE *f;

	cr_assert_lt(cfg_n_files, MAX_FILES);
	path = util_xasprintf("%s/c%zu.yaml", cfg_dir, cfg_n_files);
	cfg_files[cfg_n_files++] = path;
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	cr_assert_eq(fclose(f), 0);
	return path;
}

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; cfg_env && cfg_env[i]; i += 2)
		if (strcmp(cfg_env[i], name) == 0)
			return cfg_env[i + 1];
	return NULL;
}

/* Joins the messages for assertion output (owned by the caller). */
static char *joined(const struct util_strlist *errs)
{
	struct util_buf b;

	util_buf_init(&b, 0);
	for (size_t i = 0; i < errs->len; i++)
		util_buf_printf(&b, "\n  %s", errs->items[i]);
	return util_buf_take(&b);
}

/* Expects exactly `n` messages: want[i] is the i-th message, where a
 * leading '@' stands for `path`. */
static void expect_errors(const struct util_strlist *errs, const char *path,
		size_t n, const char *const *want)
{
	char *all = joined(errs);

	cr_assert_eq(errs->len, n, "expected %zu problems, got:%s", n, all);
	for (size_t i = 0; i < n; i++) {
		char *w = want[i][0] == '@' ?
			util_xasprintf("%s%s", path, want[i] + 1) :
			util_xstrdup(want[i]);

		cr_assert_str_eq(errs->items[i], w);
		free(w);
	}
	free(all);
}

/* Loads `yaml` (written to a file) with the fake environment and expects
 * failure with exactly the one message `want` ('@' = the file's path). */
static void expect_one(const char *yaml, const char *want)
{
	struct util_strlist errs;
	struct config c;
	const char *path = write_yaml(yaml);

	util_strlist_init(&errs);
	cr_assert_eq(config_load(path, fake_getenv, &c, &errs), -1,
			"loaded: %s", yaml);
	expect_errors(&errs, path, 1, &want);
	util_strlist_release(&errs);
}

/* Loads `yaml` and expects success; the caller releases *c. */
static void expect_ok(const char *yaml, struct config *c)
{
	struct util_strlist errs;
	char *all;

	util_strlist_init(&errs);
	cr_assert_eq(config_load(write_yaml(yaml), fake_getenv, c, &errs), 0,
			"for %s", yaml);
	all = joined(&errs);
	cr_assert_eq(errs.len, 0, "%s", all);
	free(all);
	util_strlist_release(&errs);
}

static char *dump(const struct config *c)
{
	struct util_buf b;

	util_buf_init(&b, 0);
	config_dump(c, &b);
	return util_buf_take(&b);
}

static void expect_defaults(const struct config *c)
{
	cr_assert_str_eq(c->server.listen, "127.0.0.1:8080");
	cr_assert_eq(c->server.threads, 2);
	cr_assert_eq(c->server.max_body_bytes, 65536);
	cr_assert_str_eq(c->storage.driver, "sqlite");
	cr_assert_eq(c->storage.batch_max, 256);
	cr_assert_str_eq(c->storage.sqlite.path, "var/grantd.db");
	cr_assert_str_eq(c->storage.sqlite.synchronous, "full");
	cr_assert_str_eq(c->catalog.path, "examples/catalog.json");
	cr_assert_eq(c->accounts.auto_create, false);
	cr_assert_str_eq(c->log.level, "info");
}

static const char full_yaml[] =
	"server:\n"
	"  listen: \"[::1]:0\"\n"
	"  threads: 1\n"
	"  max_body_bytes: 16777216\n"
	"storage:\n"
	"  driver: sqlite\n"
	"  batch_max: 4096\n"
	"  sqlite:\n"
	"    path: /data/g.db\n"
	"    synchronous: normal\n"
	"catalog:\n"
	"  path: cat.json\n"
	"accounts:\n"
	"  auto_create: yes\n"
	"log:\n"
	"  level: debug\n";

/* ---- good input ---------------------------------------------------------- */

Test(config, defaults_without_file)
{
	struct util_strlist errs;
	struct config c;

	util_strlist_init(&errs);
	cr_assert_eq(config_load(NULL, fake_getenv, &c, &errs), 0);
	cr_assert_eq(errs.len, 0);
	expect_defaults(&c);
	config_release(&c);
}

Test(config, empty_and_comment_only_files_give_defaults)
{
	static const char *const texts[] = {
		"", "# nothing set\n", "---\n", "# c\n---\n...\n",
		"server:\nstorage:\n  sqlite:\n",
		"server: {}\n",
	};
	struct config c;

	for (size_t i = 0; i < UTIL_ARRAY_LEN(texts); i++) {
		expect_ok(texts[i], &c);
		expect_defaults(&c);
		config_release(&c);
	}
}

Test(config, every_key_from_file)
{
	struct config c;

	expect_ok(full_yaml, &c);
	cr_assert_str_eq(c.server.listen, "[::1]:0");
	cr_assert_eq(c.server.threads, 1);
	cr_assert_eq(c.server.max_body_bytes, 16777216);
	cr_assert_str_eq(c.storage.driver, "sqlite");
	cr_assert_eq(c.storage.batch_max, 4096);
	cr_assert_str_eq(c.storage.sqlite.path, "/data/g.db");
	cr_assert_str_eq(c.storage.sqlite.synchronous, "normal");
	cr_assert_str_eq(c.catalog.path, "cat.json");
	cr_assert_eq(c.accounts.auto_create, true);
	cr_assert_str_eq(c.log.level, "debug");
	config_release(&c);
}

Test(config, flow_style_is_accepted)
{
	struct config c;

	expect_ok("server: {listen: \"0.0.0.0:9000\", threads: 8}\n"
		  "storage: {sqlite: {path: x.db}}\n", &c);
	cr_assert_str_eq(c.server.listen, "0.0.0.0:9000");
	cr_assert_eq(c.server.threads, 8);
	cr_assert_str_eq(c.storage.sqlite.path, "x.db");
	config_release(&c);
}

Test(config, env_overrides_file)
{
	static const char *const env[] = {
		"GRANTD_SERVER_THREADS", "8",
		"GRANTD_STORAGE_SQLITE_PATH", "/env/g.db",
		"GRANTD_ACCOUNTS_AUTO_CREATE", "OFF",
		"GRANTD_LOG_LEVEL", "WARN",
		NULL,
	};
	struct config c;

	cfg_env = env;
	expect_ok(full_yaml, &c);
	cr_assert_eq(c.server.threads, 8);
	cr_assert_str_eq(c.storage.sqlite.path, "/env/g.db");
	cr_assert_eq(c.accounts.auto_create, false);
	cr_assert_str_eq(c.log.level, "warn"); /* as the table spells it */
	cr_assert_str_eq(c.server.listen, "[::1]:0"); /* not overridden */
	config_release(&c);
}

Test(config, env_applies_without_file)
{
	static const char *const env[] = {
		"GRANTD_SERVER_LISTEN", "[::]:80", NULL,
	};
	struct util_strlist errs;
	struct config c;

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load(NULL, fake_getenv, &c, &errs), 0);
	cr_assert_str_eq(c.server.listen, "[::]:80");
	config_release(&c);
}

Test(config, no_getenv_means_no_overrides)
{
	static const char *const env[] = { "GRANTD_SERVER_THREADS", "9", NULL };
	struct util_strlist errs;
	struct config c;

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load(write_yaml("server:\n  threads: 3\n"), NULL,
				&c, &errs), 0);
	cr_assert_eq(c.server.threads, 3);
	config_release(&c);
}

Test(config, bool_spellings)
{
	static const char *const yes[] = {
		"true", "TRUE", "Yes", "on", "1", "\"1\"",
	};
	static const char *const no[] = { "false", "False", "NO", "off", "0" };
	struct config c;
	char *yaml;

	for (size_t i = 0; i < UTIL_ARRAY_LEN(yes) + UTIL_ARRAY_LEN(no); i++) {
		bool want = i < UTIL_ARRAY_LEN(yes);

		yaml = util_xasprintf("accounts:\n  auto_create: %s\n", want ?
				yes[i] : no[i - UTIL_ARRAY_LEN(yes)]);
		expect_ok(yaml, &c);
		cr_assert_eq(c.accounts.auto_create, want, "%s", yaml);
		config_release(&c);
		free(yaml);
	}
}

Test(config, good_listen_addresses)
{
	static const char *const good[] = {
		"127.0.0.1:8080", "0.0.0.0:0", "localhost:65535", "[::1]:8080",
		"[::]:80", "grantd-1.internal:443", "[2001:db8::7]:00080",
	};
	struct config c;
	char *yaml;

	for (size_t i = 0; i < UTIL_ARRAY_LEN(good); i++) {
		yaml = util_xasprintf("server:\n  listen: \"%s\"\n", good[i]);
		expect_ok(yaml, &c);
		cr_assert_str_eq(c.server.listen, good[i]);
		config_release(&c);
		free(yaml);
	}
}

/* ---- bad values ---------------------------------------------------------- */

Test(config, int_out_of_range)
{
	expect_one("storage:\n  batch_max: 5000\n",
		   "@:2:14: storage.batch_max: must be an integer from 1 to 4096 (got \"5000\")");
	expect_one("server:\n  threads: 0\n",
		   "@:2:12: server.threads: must be an integer from 1 to 64 (got \"0\")");
	expect_one("server:\n  max_body_bytes: 16777217\n",
		   "@:2:19: server.max_body_bytes: must be an integer from 1 to 16777216 (got \"16777217\")");
	expect_one("server:\n  threads: 99999999999999999999\n",
		   "@:2:12: server.threads: must be an integer from 1 to 64 (got \"99999999999999999999\")");
}

Test(config, int_not_a_number)
{
	static const char *const bad[] = {
		"abc", "1.5", "0x10", "1e3", "4k", "",
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
		char *yaml = util_xasprintf("storage:\n  batch_max: \"%s\"\n",
				bad[i]);
		char *want = util_xasprintf(
			"@:2:14: storage.batch_max: must be an integer from 1 to 4096 (got \"%s\")",
			bad[i]);

		expect_one(yaml, want);
		free(yaml);
		free(want);
	}
}

Test(config, bad_bool)
{
	expect_one("accounts:\n  auto_create: maybe\n",
		   "@:2:16: accounts.auto_create: must be true or false (or yes/no, on/off, 1/0) (got \"maybe\")");
	expect_one("accounts:\n  auto_create: 2\n",
		   "@:2:16: accounts.auto_create: must be true or false (or yes/no, on/off, 1/0) (got \"2\")");
}

Test(config, bad_enum)
{
	expect_one("log:\n  level: loud\n",
		   "@:2:10: log.level: must be one of debug, info, warn, error (got \"loud\")");
	expect_one("storage:\n  driver: mysql\n",
		   "@:2:11: storage.driver: must be one of sqlite, postgres "
		   "(got \"mysql\")");
	expect_one("storage:\n  sqlite:\n    synchronous: off\n",
		   "@:3:18: storage.sqlite.synchronous: must be one of full, normal (got \"off\")");
}

Test(config, empty_paths)
{
	expect_one("catalog:\n  path: \"\"\n",
		   "@:2:9: catalog.path: must not be empty (got \"\")");
	expect_one("storage:\n  sqlite:\n    path:\n",
		   "@:3:10: storage.sqlite.path: must not be empty (got \"\")");
}

Test(config, bad_listen_addresses)
{
	static const char *const bad[] = {
		"8080", "host:", "host:99999", "[::1]8080", "", ":8080",
		"::1:8080", "[::1]:", "[]:80", "[zz]:80", "[::1:80", "host:-1",
		"host:+80", "host:80x", "host:123456", "a b:80", "host:8080:1",
		"[127.0.0.1]:80",
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
		char *yaml = util_xasprintf("server:\n  listen: \"%s\"\n",
				bad[i]);
		char *want = util_xasprintf(
			"@:2:11: server.listen: must be host:port or [ipv6]:port with a port from 0 to 65535 (got \"%s\")",
			bad[i]);

		expect_one(yaml, want);
		free(yaml);
		free(want);
	}
}

Test(config, long_and_odd_values_are_cut_and_escaped)
{
	char yaml[400], want[400];

	snprintf(yaml, sizeof(yaml), "log:\n  level: \"%0100d\\t\"\n", 0);
	snprintf(want, sizeof(want),
		 "@:2:10: log.level: must be one of debug, info, warn, error (got \"%080d\"...)",
		 0);
	expect_one(yaml, want);
	expect_one("log:\n  level: \"a\\tb\\\"c\"\n",
		   "@:2:10: log.level: must be one of debug, info, warn, error (got \"a\\u0009b\\\"c\")");
}

Test(config, env_errors_name_the_variable)
{
	static const char *const env[] = {
		"GRANTD_STORAGE_BATCH_MAX", "0",
		"GRANTD_LOG_LEVEL", "loud",
		"GRANTD_SERVER_LISTEN", "8080",
		NULL,
	};
	static const char *const want[] = {
		"GRANTD_SERVER_LISTEN: must be host:port or [ipv6]:port with a port from 0 to 65535 (got \"8080\")",
		"GRANTD_STORAGE_BATCH_MAX: must be an integer from 1 to 4096 (got \"0\")",
		"GRANTD_LOG_LEVEL: must be one of debug, info, warn, error (got \"loud\")",
	};
	struct util_strlist errs;
	struct config c;

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load(NULL, fake_getenv, &c, &errs), -1);
	expect_errors(&errs, NULL, 3, want);
	util_strlist_release(&errs);
}

Test(config, env_empty_value_is_a_value)
{
	static const char *const env[] = { "GRANTD_SERVER_THREADS", "", NULL };
	static const char *const want[] = {
		"GRANTD_SERVER_THREADS: must be an integer from 1 to 64 (got \"\")",
	};
	struct util_strlist errs;
	struct config c;

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load(NULL, fake_getenv, &c, &errs), -1);
	expect_errors(&errs, NULL, 1, want);
	util_strlist_release(&errs);
}

/* ---- bad structure ------------------------------------------------------- */

Test(config, unknown_key_at_top_level)
{
	expect_one("server:\n  threads: 2\nbogus: 1\n",
		   "@:3:1: unknown key \"bogus\" at the top level (known keys: server, storage, catalog, accounts, revocation, auth, providers, linking, outbox, events, gamepot, tentuplay, log)");
}

Test(config, unknown_key_nested)
{
	expect_one("server:\n  listen: \"1.2.3.4:5\"\n  thredas: 4\n",
		   "@:3:3: unknown key \"thredas\" in server (known keys: listen, threads, max_body_bytes, connection_timeout_seconds, request_header_timeout_seconds, max_connections, max_connections_per_ip, max_header_bytes, tls)");
	expect_one("storage:\n  driver: sqlite\n  sqlite:\n    pth: x\n",
		   "@:4:5: unknown key \"pth\" in storage.sqlite (known keys: path, synchronous)");
	expect_one("server: {listen: \"a:1\", \"bo gus\": 1}\n",
		   "@:1:25: unknown key \"bo gus\" in server (known keys: listen, threads, max_body_bytes, connection_timeout_seconds, request_header_timeout_seconds, max_connections, max_connections_per_ip, max_header_bytes, tls)");
}

Test(config, unknown_key_that_exists_elsewhere_points_at_the_right_one)
{
	/* "path" is a key in other sections: the message points at the
	 * unknown one, found by its place in the tree, not by its text */
	expect_one("storage:\n  sqlite:\n    path: a.db\npath: b\n",
		   "@:4:1: unknown key \"path\" at the top level (known keys: server, storage, catalog, accounts, revocation, auth, providers, linking, outbox, events, gamepot, tentuplay, log)");
}

Test(config, scalar_where_section_expected)
{
	expect_one("server: 5\n",
		   "@:1:9: server: must be a section with the keys listen, threads, max_body_bytes, connection_timeout_seconds, request_header_timeout_seconds, max_connections, max_connections_per_ip, max_header_bytes, tls, not a single value");
	expect_one("storage:\n  sqlite: [a]\n",
		   "@:2:11: storage.sqlite: must be a section with the keys path, synchronous, not a list");
}

Test(config, section_where_value_expected)
{
	expect_one("server:\n  threads: [1, 2]\n",
		   "@:2:12: server.threads: must be a single value, not a list");
	expect_one("log:\n  level:\n    name: x\n",
		   "@:3:5: log.level: must be a single value, not a section of keys");
}

Test(config, top_level_must_be_a_mapping)
{
	expect_one("- server\n",
		   "@: the file must be a mapping of the sections server, storage, catalog, accounts, revocation, auth, providers, linking, outbox, events, gamepot, tentuplay, log, not a list");
	expect_one("just text\n",
		   "@: the file must be a mapping of the sections server, storage, catalog, accounts, revocation, auth, providers, linking, outbox, events, gamepot, tentuplay, log, not a single value");
}

Test(config, yaml_syntax_error)
{
	expect_one("server:\n  listen: \"127.0.0.1:80\n",
		   "@:3:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar that starts at line 2, column 11)");
	expect_one("server:\n  listen: a\n   threads: 1\n",
		   "@:3:11: YAML syntax error: mapping values are not allowed in this context");
	/* a tab says so, wherever it is in the line */
	expect_one("server:\n\tthreads: 1\n",
		   "@:2:1: YAML syntax error: a tab character; YAML indents with spaces only");
	expect_one("server:\n  listen: \"a:1\"\n  \tthreads: 1\n",
		   "@:3:3: YAML syntax error: a tab character; YAML indents with spaces only");
}

Test(config, duplicate_key)
{
	expect_one("server:\n  threads: 1\n  listen: \"a:1\"\n  threads: 2\n",
		   "@:4:3: server.threads: set more than once");
	expect_one("log: {}\nlog: {}\n", "@:2:1: log: set more than once");
}

Test(config, unknown_alias)
{
	expect_one("server:\n  listen: *addr\n",
		   "@:2:11: alias *addr refers to no earlier anchor &addr");
}

Test(config, complex_key)
{
	expect_one("server: {[a]: 1}\n",
		   "@:1:10: a list or a section cannot be a key");
}

Test(config, second_document_is_refused)
{
	expect_one("server: {}\n---\nserver: {}\n",
		   "@:2:1: only one YAML document is allowed (found a second \"---\")");
}

Test(config, missing_file)
{
	static const char *const want[] = {
		"@: cannot read: No such file or directory",
	};
	struct util_strlist errs;
	struct config c;
	char *path = util_xasprintf("%s/absent.yaml", cfg_dir);

	util_strlist_init(&errs);
	cr_assert_eq(config_load(path, fake_getenv, &c, &errs), -1);
	expect_errors(&errs, path, 1, want);
	util_strlist_release(&errs);
	free(path);
}

Test(config, directory_is_not_a_file)
{
	static const char *const want[] = { "@: cannot read: not a regular file" };
	struct util_strlist errs;
	struct config c;

	util_strlist_init(&errs);
	cr_assert_eq(config_load(cfg_dir, fake_getenv, &c, &errs), -1);
	expect_errors(&errs, cfg_dir, 1, want);
	util_strlist_release(&errs);
}

/* ---- several problems ---------------------------------------------------- */

Test(config, several_problems_reported_together)
{
	static const char *const env[] = {
		"GRANTD_STORAGE_BATCH_MAX", "0",
		"GRANTD_ACCOUNTS_AUTO_CREATE", "maybe",
		NULL,
	};
	static const char *const want[] = {
		"@:2:11: server.listen: must be host:port or [ipv6]:port with a port from 0 to 65535 (got \"8080\")",
		"@:3:12: server.threads: must be an integer from 1 to 64 (got \"0\")",
		"@:5:10: log.level: must be one of debug, info, warn, error (got \"loud\")",
		"GRANTD_STORAGE_BATCH_MAX: must be an integer from 1 to 4096 (got \"0\")",
		"GRANTD_ACCOUNTS_AUTO_CREATE: must be true or false (or yes/no, on/off, 1/0) (got \"maybe\")",
	};
	struct util_strlist errs;
	struct config c;
	const char *path = write_yaml("server:\n  listen: \"8080\"\n"
			"  threads: 0\nlog:\n  level: loud\n");

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load(path, fake_getenv, &c, &errs), -1);
	expect_errors(&errs, path, UTIL_ARRAY_LEN(want), want);
	util_strlist_release(&errs);
}

Test(config, structure_error_and_env_error_together)
{
	static const char *const env[] = { "GRANTD_LOG_LEVEL", "loud", NULL };
	static const char *const want[] = {
		"@:1:1: unknown key \"sever\" at the top level (known keys: server, storage, catalog, accounts, revocation, auth, providers, linking, outbox, events, gamepot, tentuplay, log)",
		"GRANTD_LOG_LEVEL: must be one of debug, info, warn, error (got \"loud\")",
	};
	struct util_strlist errs;
	struct config c;
	const char *path = write_yaml("sever:\n  threads: 4\n");

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load(path, fake_getenv, &c, &errs), -1);
	expect_errors(&errs, path, 2, want);
	util_strlist_release(&errs);
}

Test(config, missing_file_and_env_error_together)
{
	static const char *const env[] = { "GRANTD_SERVER_THREADS", "x", NULL };
	static const char *const want[] = {
		"/nonexistent/grantd.yaml: cannot read: No such file or directory",
		"GRANTD_SERVER_THREADS: must be an integer from 1 to 64 (got \"x\")",
	};
	struct util_strlist errs;
	struct config c;

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load("/nonexistent/grantd.yaml", fake_getenv, &c,
				&errs), -1);
	expect_errors(&errs, NULL, 2, want);
	util_strlist_release(&errs);
}

Test(config, bad_file_value_reported_even_if_env_overrides_it)
{
	static const char *const env[] = { "GRANTD_SERVER_THREADS", "4", NULL };
	static const char *const want[] = {
		"@:2:12: server.threads: must be an integer from 1 to 64 (got \"100\")",
	};
	struct util_strlist errs;
	struct config c;
	const char *path = write_yaml("server:\n  threads: 100\n");

	cfg_env = env;
	util_strlist_init(&errs);
	cr_assert_eq(config_load(path, fake_getenv, &c, &errs), -1);
	expect_errors(&errs, path, 1, want);
	util_strlist_release(&errs);
}

Test(config, failure_releases_config_and_keeps_earlier_errors)
{
	static const struct config zero;
	struct util_strlist errs;
	struct config c;

	util_strlist_init(&errs);
	util_strlist_add(&errs, "earlier");
	cr_assert_eq(config_load(write_yaml("log:\n  level: loud\n"),
				fake_getenv, &c, &errs), -1);
	cr_assert_eq(errs.len, 2);
	cr_assert_str_eq(errs.items[0], "earlier");
	cr_assert_eq(memcmp(&c, &zero, sizeof(c)), 0);
	config_release(&c); /* a zeroed struct is fine */
	util_strlist_release(&errs);

	/* earlier problems in the list do not make a good load fail */
	util_strlist_init(&errs);
	util_strlist_add(&errs, "earlier");
	cr_assert_eq(config_load(NULL, fake_getenv, &c, &errs), 0);
	config_release(&c);
	util_strlist_release(&errs);
}

/* ---- in-memory loading, dump, table, example and docs -------------------- */

Test(config, load_mem_needs_no_terminator)
{
	static const char text[] = "server:\n  threads: 7";
	struct util_strlist errs;
	struct config c;
	char *data = util_xmalloc(sizeof(text) - 1);

	memcpy(data, text, sizeof(text) - 1);
	util_strlist_init(&errs);
	cr_assert_eq(config_load_mem("mem", data, sizeof(text) - 1, NULL, &c,
				&errs), 0);
	cr_assert_eq(c.server.threads, 7);
	config_release(&c);
	free(data);
}

Test(config, dump_lists_every_key_in_table_order)
{
	struct util_strlist errs;
	struct config c;
	char *text;

	util_strlist_init(&errs);
	cr_assert_eq(config_load(NULL, NULL, &c, &errs), 0);
	text = dump(&c);
	cr_assert_str_eq(text,
		"server.listen = 127.0.0.1:8080\n"
		"server.threads = 2\n"
		"server.max_body_bytes = 65536\n"
		"server.connection_timeout_seconds = 30\n"
		"server.request_header_timeout_seconds = 10\n"
		"server.max_connections = 1024\n"
		"server.max_connections_per_ip = 64\n"
		"server.max_header_bytes = 16384\n"
		"server.tls.cert_file = \n"
		"server.tls.key_file = \n"
		"storage.driver = sqlite\n"
		"storage.batch_max = 256\n"
		"storage.sqlite.path = var/grantd.db\n"
		"storage.sqlite.synchronous = full\n"
		"storage.postgres.url = \n"
		"storage.postgres.pool_size = 8\n"
		"storage.postgres.statement_timeout_ms = 5000\n"
		"storage.postgres.connect_timeout_ms = 5000\n"
		"catalog.path = examples/catalog.json\n"
		"accounts.auto_create = false\n"
		"revocation.stackable = clamp\n"
		"auth.signing_keys_file = \n"
		"auth.issuer = grantd\n"
		"auth.audience = grantd\n"
		"auth.token_ttl_seconds = 900\n"
		"auth.client_secret_grace_seconds = 86400\n"
		"auth.rate_limit.per_second = 1000\n"
		"auth.rate_limit.burst = 2000\n"
		"providers.primegaming.client_id = \n"
		"providers.primegaming.client_secret = \n"
		"providers.primegaming.authorize_url = https://www.amazon.com/ap/oa\n"
		"providers.primegaming.token_url = https://api.amazon.com/auth/o2/token\n"
		"providers.primegaming.profile_url = https://api.amazon.com/user/profile\n"
		"providers.primegaming.api_base = https://twitch.amazon.com/api\n"
		"providers.primegaming.timeout_ms = 5000\n"
		"providers.primegaming.max_response_bytes = 4194304\n"
		"providers.twitch.client_id = \n"
		"providers.twitch.client_secret = \n"
		"providers.twitch.game_id = \n"
		"providers.twitch.auth_base = https://id.twitch.tv/oauth2\n"
		"providers.twitch.api_base = https://api.twitch.tv/helix\n"
		"providers.twitch.poll_interval_seconds = 0\n"
		"providers.twitch.timeout_ms = 5000\n"
		"providers.twitch.max_response_bytes = 4194304\n"
		"providers.epic.client_id = \n"
		"providers.epic.client_secret = \n"
		"providers.epic.deployment_id = \n"
		"providers.epic.sandbox_id = \n"
		"providers.epic.authorize_url = https://www.epicgames.com/id/authorize\n"
		"providers.epic.auth_base = https://api.epicgames.dev/epic/oauth/v2\n"
		"providers.epic.api_base = https://api.epicgames.dev/epic/ecom/v3\n"
		"providers.epic.timeout_ms = 5000\n"
		"providers.epic.max_response_bytes = 4194304\n"
		"providers.steam.publisher_key = \n"
		"providers.steam.app_id = \n"
		"providers.steam.api_base = https://partner.steam-api.com\n"
		"providers.steam.timeout_ms = 5000\n"
		"providers.steam.max_response_bytes = 4194304\n"
		"linking.public_url = \n"
		"linking.return_to_allow = \n"
		"linking.token_key_file = \n"
		"outbox.initial_backoff_ms = 1000\n"
		"outbox.max_backoff_ms = 300000\n"
		"outbox.max_attempts = 20\n"
		"outbox.lease_ms = 60000\n"
		"events.webhook_url = \n"
		"events.webhook_secret = \n"
		"events.webhook_events = \n"
		"gamepot.project_id = \n"
		"gamepot.webhook_secrets = \n"
		"gamepot.allowed_ips = \n"
		"gamepot.test_payments = grant\n"
		"gamepot.api_base = https://gamepot.apigw.ntruss.com\n"
		"gamepot.api_key = \n"
		"gamepot.timeout_ms = 5000\n"
		"gamepot.login_validation.block_on_failure = true\n"
		"tentuplay.verify_url = \n"
		"tentuplay.api_key = \n"
		"tentuplay.api_key_header = x-api-key\n"
		"tentuplay.payload_key = \n"
		"tentuplay.nonce_bytes = 8\n"
		"tentuplay.timezone = UTC\n"
		"tentuplay.grant_on_redeem = false\n"
		"tentuplay.timeout_ms = 5000\n"
		"log.level = info\n"
		"events.webhooks = 0\n");
	free(text);
	config_release(&c);
}

Test(config, table_is_consistent)
{
	for (size_t i = 0; i < config_options_len; i++) {
		const struct config_option *o = &config_options[i];
		struct util_buf env;

		util_buf_init(&env, 0);
		util_buf_puts(&env, "GRANTD_");
		for (const char *p = o->section; *p; p++)
			util_buf_putc(&env, *p == '.' ? '_' :
					(char)toupper((unsigned char)*p));
		util_buf_putc(&env, '_');
		for (const char *p = o->key; *p; p++)
			util_buf_putc(&env, (char)toupper((unsigned char)*p));
		cr_assert_str_eq(o->env, env.data);
		util_buf_release(&env);
		cr_assert(o->section[0] && o->key[0] && o->help && o->help[0]);
		cr_assert_not_null(o->def);
		cr_assert(o->type != CONFIG_ENUM || o->choices, "%s", o->key);
		for (size_t j = 0; j < config_options_len; j++) {
			const struct config_option *p = &config_options[j];
			char *sub = util_xasprintf("%s.%s", o->section, o->key);

			cr_assert(j == i || strcmp(o->section, p->section) ||
				  strcmp(o->key, p->key), "duplicate %s", sub);
			/* a key must not also be a section name */
			cr_assert(strncmp(p->section, sub, strlen(sub)) ||
				  (p->section[strlen(sub)] != '\0' &&
				   p->section[strlen(sub)] != '.'),
				  "%s is both a key and a section", sub);
			free(sub);
		}
	}
}

/* Reads a whole file from the repository (tests run from its top). */
static char *slurp(const char *path)
{
	struct util_buf b;
	char chunk[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f, "cannot open %s (run from the repository top)",
			path);
	util_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		util_buf_append(&b, chunk, n);
	fclose(f);
	return util_buf_take(&b);
}

Test(config, example_file_loads_cleanly_with_every_key)
{
	struct util_strlist errs;
	struct config c, d;
	char *text = slurp("examples/grantd.yaml"), *got, *want;

	util_strlist_init(&errs);
	cr_assert_eq(config_load("examples/grantd.yaml", fake_getenv, &c,
				&errs), 0);
	cr_assert_eq(errs.len, 0);
	for (size_t i = 0; i < config_options_len; i++) {
		char *line = util_xasprintf("%s:", config_options[i].key);

		cr_assert_not_null(strstr(text, line), "%s missing", line);
		cr_assert_not_null(strstr(text, config_options[i].env));
		free(line);
	}
	/* the example documents the defaults: it must not drift from them */
	cr_assert_eq(config_load(NULL, NULL, &d, &errs), 0);
	got = dump(&c);
	want = dump(&d);
	cr_assert_str_eq(got, want);
	free(got);
	free(want);
	free(text);
	config_release(&c);
	config_release(&d);
}

Test(config, docs_describe_every_key)
{
	char *text = slurp("docs/configuration.md");

	for (size_t i = 0; i < config_options_len; i++) {
		const struct config_option *o = &config_options[i];
		char *name = util_xasprintf("`%s.%s`", o->section, o->key);

		cr_assert_not_null(strstr(text, name), "%s missing", name);
		cr_assert_not_null(strstr(text, o->env), "%s missing", o->env);
		free(name);
	}
	free(text);
}

Test(config, tentuplay_keys_are_checked)
{
	struct config c;

	expect_one("tentuplay:\n  nonce_bytes: 16\n",
		   "@:2:16: tentuplay.nonce_bytes: must be one of 8, 12 (got \"16\")");
	expect_one("tentuplay:\n  timezone: Asia/Seoul\n",
		   "@:2:13: tentuplay.timezone: must be UTC, Z or a fixed offset such as +09:00 within 14 hours (got \"Asia/Seoul\")");
	expect_one("tentuplay:\n  api_key_header: \"x key\"\n",
		   "@:2:19: tentuplay.api_key_header: must be an HTTP header name (1 to 64 token characters) (got \"x key\")");
	expect_ok("tentuplay:\n  verify_url: http://127.0.0.1:9/verify\n"
		  "  nonce_bytes: 12\n  timezone: \"+09:00\"\n"
		  "  payload_key: abcdefghijklmnopqrstuvwxyz012345\n", &c);
	cr_assert_str_eq(c.tentuplay.nonce_bytes, "12");
	cr_assert_str_eq(c.tentuplay.timezone, "+09:00");
	cr_assert_str_eq(c.tentuplay.verify_url, "http://127.0.0.1:9/verify");
	config_release(&c);
}

Test(config, webhooks_list_is_read_checked_and_dumped_without_secrets)
{
	struct util_strlist errs;
	struct config c;
	const char *path = write_yaml(
		"events:\n"
		"  webhooks:\n"
		"    - url: https://game.example/hooks/grantd\n"
		"      secret: s3cret\n"
		"      events: [grant.created, grant.revoked]\n"
		"    - url: http://127.0.0.1:9000/all\n"
		"      secret: other\n");
	char *text;

	util_strlist_init(&errs);
	cr_assert_eq(config_load(path, fake_getenv, &c, &errs), 0);
	cr_assert_eq(c.events.n_webhooks, 2);
	cr_assert_str_eq(c.events.webhooks[0].url,
			 "https://game.example/hooks/grantd");
	cr_assert_eq(c.events.webhooks[0].events.len, 2);
	cr_assert_eq(c.events.webhooks[1].events.len, 0);
	text = dump(&c);
	cr_assert(strstr(text, "events.webhooks = 2 (https://game.example/"
			 "hooks/grantd, http://127.0.0.1:9000/all)\n"));
	cr_assert_null(strstr(text, "s3cret"));
	free(text);
	config_release(&c);
	util_strlist_release(&errs);
}

Test(config, webhooks_list_problems_are_named_with_their_place)
{
	expect_one("events:\n  webhooks:\n    - url: ftp://x\n      secret: s\n",
		   "@:3:7: events.webhooks[0].url: must be an http:// or "
		   "https:// URL without a query, fragment or trailing slash");
	expect_one("events:\n  webhooks:\n    - url: http://a.example\n",
		   "@:3:7: events.webhooks[0].secret: required (it signs every "
		   "delivery)");
	expect_one("events:\n  webhooks:\n    - url: http://a.example\n"
		   "      secret: s\n      events: [grant.eaten]\n",
		   "@:5:16: events.webhooks[0].events: must be a list of event "
		   "types (grant.created, grant.revoked, account.suspended, "
		   "link.created)");
	expect_one("events:\n  webhooks:\n    - url: http://a.example\n"
		   "      secret: s\n      colour: red\n",
		   "@:5:7: events.webhooks[0]: unknown key (known: url, secret, "
		   "events)");
	expect_one("events:\n  webhooks: http://a.example\n",
		   "@:2:13: events.webhooks: must be a list of {url, secret, "
		   "events}");
}
