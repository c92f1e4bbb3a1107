/* app/serve.c: `grantd serve` — start-up in dependency order, the signal
 * loop (SIGHUP reloads the catalog, SIGTERM/SIGINT drain and exit) and an
 * orderly shutdown. */
#include "app/app.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"
#include "auth/auth.h"
#include "engine/engine.h"
#include "ops/ops.h"

#define DRAIN_TIMEOUT_MS 30000
#define AUTH_REFRESH_MS 1000

struct server {
	struct config cfg;
	struct catalog_holder *catalog;
	struct store *store;
	struct auth *auth;
	struct engine *engine;
	struct app_ctx ctx;
	struct http_route routes[APP_ROUTES_MAX];
	struct http_server *http;
};

static void count_key(void *arg, const struct store_credential *c)
{
	if (!c->revoked_at_ms)
		(*(size_t *)arg)++;
}

/* Prints the commands a newcomer needs when no key exists yet. */
static void print_first_start(struct server *s, const char *argv0,
			      const char *config_path)
{
	size_t live = 0;
	unsigned port = http_server_port(s->http);

	if (store_credentials_read(s->store, count_key, &live) || live > 0)
		return;
	printf("grantd is listening on port %u. No API key exists yet; create one "
	       "for Prime Gaming and one for your backend:\n"
	       "  %s keys create --config %s --name prime --scope fulfillment:primegaming\n"
	       "  %s keys create --config %s --name backend --scope partner\n"
	       "Then create a player and fulfil a demo SKU:\n"
	       "  curl -X PUT http://127.0.0.1:%u/v1/accounts/player-1 "
	       "-H 'Authorization: Bearer <backend key>' "
	       "-H 'Content-Type: application/json' -d '{\"state\":\"active\"}'\n"
	       "  curl -X POST http://127.0.0.1:%u/v1/primegaming/fulfillment "
	       "-H 'Authorization: Bearer <prime key>' "
	       "-H 'Content-Type: application/json' "
	       "-d '{\"account_id\":\"player-1\",\"sku\":\"primegaming_season01_drop01\","
	       "\"transaction_id\":\"demo-1\"}'\n",
	       port, argv0, config_path, argv0, config_path, port, port);
	fflush(stdout);
}

static int start_http(struct server *s)
{
	struct http_options opts = {
		.listen = s->cfg.server.listen,
		.threads = (int)s->cfg.server.threads,
		.max_body_bytes = (size_t)s->cfg.server.max_body_bytes,
		.routes = s->routes,
		.auth = auth_check,
		.auth_arg = s->auth,
	};
	struct ops_log_line l;
	char *err = NULL;

	opts.n_routes = app_routes_build(s->routes, &s->ctx);
	if (http_server_start(&opts, &s->http, &err)) {
		fprintf(stderr, "grantd: %s\n", err);
		free(err);
		return -1;
	}
	if (ops_log_begin(&l, OPS_LOG_INFO, "listening")) {
		ops_log_str(&l, "listen", s->cfg.server.listen);
		ops_log_int(&l, "port", http_server_port(s->http));
		ops_log_int(&l, "threads", s->cfg.server.threads);
		ops_log_str(&l, "database", s->cfg.storage.sqlite.path);
		ops_log_str(&l, "catalog", s->cfg.catalog.path);
		ops_log_str(&l, "version", GRANTD_VERSION);
		ops_log_end(&l);
	}
	return 0;
}

static int start(struct server *s)
{
	struct catalog *c;
	enum ops_log_level level;
	struct engine_options eopts;

	if (ops_log_level_parse(s->cfg.log.level, &level) == 0)
		ops_log_set_level(level);
	c = app_catalog_load(s->cfg.catalog.path, "catalog_invalid");
	if (!c) {
		fprintf(stderr, "grantd: catalog %s is invalid (see the log); "
			"check it with: grantd catalog check %s\n",
			s->cfg.catalog.path, s->cfg.catalog.path);
		return -1;
	}
	s->catalog = catalog_holder_new(c);
	s->store = app_store_open(&s->cfg);
	if (!s->store)
		return -1;
	s->auth = auth_new(s->store, AUTH_REFRESH_MS);
	if (!s->auth)
		return -1;
	eopts.auto_create_accounts = s->cfg.accounts.auto_create;
	s->engine = engine_new(&eopts, s->store, s->catalog);
	s->ctx.store = s->store;
	s->ctx.catalog = s->catalog;
	s->ctx.engine = s->engine;
	return start_http(s);
}

static void reload_catalog(struct server *s)
{
	struct catalog *c = app_catalog_load(s->cfg.catalog.path,
					     "catalog_reload_failed");
	struct ops_log_line l;

	if (!c)
		return;  /* the old catalog stays in force; the log says why */
	if (ops_log_begin(&l, OPS_LOG_INFO, "catalog_reloaded")) {
		ops_log_str(&l, "path", s->cfg.catalog.path);
		ops_log_int(&l, "entitlements", (int64_t)catalog_entitlement_count(c));
		ops_log_int(&l, "items", (int64_t)catalog_item_count(c));
		ops_log_end(&l);
	}
	catalog_holder_swap(s->catalog, c);
}

/* Waits for signals until asked to stop. */
static void signal_loop(struct server *s, const sigset_t *set)
{
	for (;;) {
		int sig = 0;

		if (sigwait(set, &sig))
			continue;
		if (sig == SIGHUP) {
			reload_catalog(s);
			continue;
		}
		ops_log(OPS_LOG_INFO, "shutting_down", "signal %d: draining "
			"in-flight requests", sig);
		return;
	}
}

static void stop(struct server *s)
{
	if (s->http) {
		http_server_quiesce(s->http);
		if (http_server_wait_idle(s->http, DRAIN_TIMEOUT_MS))
			ops_log(OPS_LOG_WARN, "drain_timeout", "requests still in "
				"flight after %d ms", DRAIN_TIMEOUT_MS);
		http_server_stop(s->http);
	}
	auth_free(s->auth);
	store_close(s->store);  /* after HTTP: finishes the current commit */
	engine_free(s->engine);
	catalog_holder_free(s->catalog);
	config_release(&s->cfg);
}

int app_serve(const char *config_path, const char *argv0)
{
	struct server s;
	sigset_t set;
	int rc = 1;

	memset(&s, 0, sizeof(s));
	/* Block the signals before any thread starts, so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (app_config_load(config_path, &s.cfg))
		return 1;
	if (start(&s) == 0) {
		print_first_start(&s, argv0, config_path);
		signal_loop(&s, &set);
		rc = 0;
	}
	stop(&s);
	if (rc == 0)
		ops_log(OPS_LOG_INFO, "stopped", "clean shutdown");
	ops_log_flush();
	return rc;
}
