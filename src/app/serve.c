/* app/serve.c: `grantd serve` — start-up in dependency order, the signal
 * loop (SIGHUP reloads the catalog, SIGTERM/SIGINT drain and exit) and an
 * orderly shutdown. */
#include "app/app.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app_int.h"
#include "auth/auth.h"
#include "engine/engine.h"
#include "linking/linking.h"
#include "ops/ops.h"
#include "outbound/outbound.h"
#include "outbox/outbox.h"
#include "sources/sources.h"

#define DRAIN_TIMEOUT_MS 30000
#define AUTH_REFRESH_MS 1000
#define STDERR_PROBLEMS_MAX 50 /* catalog problems printed at start-up */

struct server {
	struct config cfg;
	int listen_fd;             /* bound before anything is created */
	int listen_family;
	struct util_buf tls_cert;  /* PEM texts, while TLS is configured */
	struct util_buf tls_key;
	struct catalog_holder *catalog;
	struct store *store;
	struct auth *auth;
	struct engine *engine;
	struct outbound *outbound;
	struct outbox *outbox;
	struct pull *pull;
	struct linking *linking;
	struct offers_relay *offers;
	struct pull_settings pull_settings[APP_SOURCES_MAX];
	const struct pull_settings *pull_by_source[APP_SOURCES_MAX];
	struct gamepot_settings gamepot;
	struct util_cidr *gamepot_nets;
	/* events.webhooks, or the one of events.webhook_* */
	struct engine_webhook webhooks[ENGINE_WEBHOOKS_MAX];
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

/* Reads one PEM file for `key` into `out`. Returns 0, or -1 after
 * printing why: the system's reason, or that the file is empty. */
static int read_pem(const char *key, const char *path, struct util_buf *out)
{
	if (util_read_file(path, out)) {
		fprintf(stderr, "grantd: %s %s: cannot read: %s\n", key, path,
			util_strerror(errno));
		return -1;
	}
	if (out->len == 0) {
		fprintf(stderr, "grantd: %s %s: the file is empty\n", key, path);
		return -1;
	}
	return 0;
}

/* The webhooks events are queued for: events.webhooks (each checked as
 * it was read), or the single one of events.webhook_*, whose URL needs a
 * secret too. Their order is their index in deliveries' keys: append new
 * ones at the end. Returns 0 or -1 (printed). */
static int configure_webhooks(struct server *s)
{
	const struct config *c = &s->cfg;
	bool flat = c->events.webhook_url && *c->events.webhook_url;
	size_t n = 0;

	engine_events_configure(NULL, 0);
	if (flat && c->events.n_webhooks) {
		fprintf(stderr, "grantd: events: set events.webhooks or "
			"events.webhook_url, not both\n");
		return -1;
	}
	if (flat && (!c->events.webhook_secret || !*c->events.webhook_secret)) {
		fprintf(stderr, "grantd: events.webhook_secret: required with "
			"events.webhook_url (it signs every delivery)\n");
		return -1;
	}
	if (flat)
		s->webhooks[n++] = (struct engine_webhook){
			.url = c->events.webhook_url,
			.secret = c->events.webhook_secret,
			.events = (const char *const *)c->events.webhook_events.items,
			.n_events = c->events.webhook_events.len,
		};
	for (size_t i = 0; i < c->events.n_webhooks && n < ENGINE_WEBHOOKS_MAX; i++)
		s->webhooks[n++] = (struct engine_webhook){
			.url = c->events.webhooks[i].url,
			.secret = c->events.webhooks[i].secret,
			.events = (const char *const *)c->events.webhooks[i].events.items,
			.n_events = c->events.webhooks[i].events.len,
		};
	engine_events_configure(n ? s->webhooks : NULL, n);
	return 0;
}

/* Reads the TLS certificate and key, if configured. Returns 0 or -1
 * (printed). */
static int read_tls(struct server *s)
{
	const char *cert = s->cfg.server.tls.cert_file;
	const char *key = s->cfg.server.tls.key_file;

	util_buf_init(&s->tls_cert, 1 << 20);
	util_buf_init(&s->tls_key, 1 << 20);
	if (!*cert && !*key)
		return 0;
	if (!*cert || !*key) {
		fprintf(stderr, "grantd: server.tls: cert_file and key_file must "
			"be set together\n");
		return -1;
	}
	return read_pem("server.tls.cert_file", cert, &s->tls_cert) ||
	       read_pem("server.tls.key_file", key, &s->tls_key) ? -1 : 0;
}

/* The PEM texts are a certificate and its private key. */
static int check_tls(struct server *s)
{
	BIO *cb, *kb;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if (!s->tls_cert.len)
		return 0;
	cb = BIO_new_mem_buf(s->tls_cert.data, (int)s->tls_cert.len);
	kb = BIO_new_mem_buf(s->tls_key.data, (int)s->tls_key.len);
	if (!cb || !kb || !(cert = PEM_read_bio_X509(cb, NULL, NULL, NULL)))
		fprintf(stderr, "grantd: server.tls.cert_file %s: not a PEM "
			"certificate\n", s->cfg.server.tls.cert_file);
	else if (!(key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)))
		fprintf(stderr, "grantd: server.tls.key_file %s: not a PEM "
			"private key\n", s->cfg.server.tls.key_file);
	else if (X509_check_private_key(cert, key) != 1)
		fprintf(stderr, "grantd: server.tls.key_file %s: not the key of "
			"the certificate in server.tls.cert_file\n",
			s->cfg.server.tls.key_file);
	else
		rc = 0;
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(cb);
	BIO_free(kb);
	ERR_clear_error();
	return rc;
}

/* A configured signing keys file must be there and valid. */
static int check_signing_keys_file(struct server *s)
{
	const char *path = s->cfg.auth.signing_keys_file;
	struct auth_signing_keys keys = { .len = 0 };
	struct util_buf text;
	char *err = NULL;
	int rc = 0;

	if (!*path)
		return 0;
	util_buf_init(&text, 1 << 20);
	if (util_read_file(path, &text)) {
		fprintf(stderr, "grantd: auth.signing_keys_file: %s: cannot read: "
			"%s\n", path, util_strerror(errno));
		rc = -1;
	} else if (auth_signing_keys_parse(text.data ? text.data : "",
					   text.len, &keys, &err)) {
		fprintf(stderr, "grantd: auth.signing_keys_file: %s: %s\n", path,
			err);
		free(err);
		rc = -1;
	}
	auth_signing_keys_release(&keys);
	util_buf_release(&text);
	return rc;
}

/* Binds the listening socket first: a taken address must stop start-up
 * before a database is created. */
static int bind_listener(struct server *s)
{
	char *err = NULL;

	if (http_listen(s->cfg.server.listen, &s->listen_fd, &s->listen_family,
			&err) == 0)
		return 0;
	s->listen_fd = 0;
	fprintf(stderr, "grantd: %s\n", err);
	free(err);
	return -1;
}

static bool tls_on(const struct server *s)
{
	return s->tls_cert.len > 0;
}

/* The line that says where to reach the server: written at every log
 * level, since scripts and operators look for it. */
static void log_listening(struct server *s)
{
	const char *listen = s->cfg.server.listen;
	unsigned port = http_server_port(s->http);
	struct ops_log_line l;
	char *address;

	address = util_xasprintf("%.*s:%u", (int)(strrchr(listen, ':') - listen),
				 listen, port);
	ops_log_begin_always(&l, OPS_LOG_INFO, "listening");
	ops_log_str(&l, "address", address);
	ops_log_str(&l, "listen", listen);
	ops_log_int(&l, "port", port);
	ops_log_int(&l, "pid", (int64_t)getpid());
	ops_log_int(&l, "threads", s->cfg.server.threads);
	ops_log_bool(&l, "tls", tls_on(s));
	ops_log_bool(&l, "oauth", auth_oauth_enabled(s->auth));
	ops_log_str(&l, "signing_keys", *s->cfg.auth.signing_keys_file ?
		    s->cfg.auth.signing_keys_file : "database");
	ops_log_str(&l, "storage", s->cfg.storage.driver);
	if (strcmp(s->cfg.storage.driver, "sqlite") == 0)
		ops_log_str(&l, "database", s->cfg.storage.sqlite.path);
	ops_log_str(&l, "catalog", s->cfg.catalog.path);
	ops_log_str(&l, "version", GRANTD_VERSION);
	ops_log_end(&l);
	free(address);
}

/* Lets the process hold as many descriptors as it is allowed to: the
 * connection table (server.max_connections) plus the database's, the
 * outbound clients' and the log's, which the usual soft limit of 1024
 * does not cover. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int start_http(struct server *s)
{
	const struct config *c = &s->cfg;
	struct http_options opts = {
		.listen = c->server.listen,
		.threads = (int)c->server.threads,
		.max_body_bytes = (size_t)c->server.max_body_bytes,
		.connection_timeout_s = (unsigned)c->server.connection_timeout_seconds,
		.request_header_timeout_s =
			(unsigned)c->server.request_header_timeout_seconds,
		.max_connections = (unsigned)c->server.max_connections,
		.max_connections_per_ip = (unsigned)c->server.max_connections_per_ip,
		.max_header_bytes = (size_t)c->server.max_header_bytes,
		.tls_cert_pem = tls_on(s) ? s->tls_cert.data : NULL,
		.tls_key_pem = tls_on(s) ? s->tls_key.data : NULL,
		.routes = s->routes,
		.auth = auth_check,
		.auth_arg = s->auth,
		.listen_fd = s->listen_fd,
		.listen_family = s->listen_family,
	};
	char *err = NULL;

	opts.n_routes = app_routes_build(s->routes, &s->ctx);
	raise_fd_limit();
	s->listen_fd = 0;          /* the server owns it now */
	if (http_server_start(&opts, &s->http, &err)) {
		fprintf(stderr, "grantd: %s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

/* Warns when the signing keys file can be read by others than its owner. */
static void check_key_file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		ops_log(OPS_LOG_WARN, "signing_keys_file_readable", "%s can be "
			"read by other users; chmod 600 it", path);
}

/* Without a signing keys file the keys live in the database; a new
 * database gets its first key here, so OAuth works from the first start. */
static int ensure_stored_key(struct server *s)
{
	bool created = false;

	if (app_signing_keys_ensure(s->store, &created)) {
		fprintf(stderr, "grantd: cannot create an access token signing "
			"key in the database\n");
		return -1;
	}
	if (created)
		ops_log(OPS_LOG_INFO, "signing_key_created", "the first access "
			"token signing key was made and stored in the database");
	return 0;
}

static int start_auth(struct server *s)
{
	const struct config *c = &s->cfg;
	bool file = *c->auth.signing_keys_file != '\0';
	struct auth_options opts = {
		.refresh_ms = AUTH_REFRESH_MS,
		.issuer = c->auth.issuer,
		.audience = c->auth.audience,
		.token_ttl_s = c->auth.token_ttl_seconds,
		.rate_per_second = c->auth.rate_limit.per_second,
		.rate_burst = c->auth.rate_limit.burst,
		.signing_keys_in_store = !file,
	};
	char *err = NULL;

	if (!file && ensure_stored_key(s))
		return -1;
	s->auth = auth_new(s->store, &opts);
	if (!s->auth)
		return -1;
	if (!file)
		return 0;
	if (auth_signing_keys_load(s->auth, c->auth.signing_keys_file, &err)) {
		fprintf(stderr, "grantd: auth.signing_keys_file: %s\n", err);
		free(err);
		return -1;
	}
	check_key_file_mode(c->auth.signing_keys_file);
	return 0;
}

/* The catalog at start: a missing or invalid one stops start-up, with
 * every problem on stderr (and in the log). Returns a new snapshot or NULL. */
static struct catalog *load_catalog(const char *path)
{
	struct util_strlist problems;
	struct catalog *c;

	util_strlist_init(&problems);
	c = app_catalog_load(path, "catalog_invalid", &problems);
	if (!c) {
		/* the log line first, so it never lands inside the lines below */
		ops_log_flush();
		fprintf(stderr, "grantd: catalog %s has %zu problem(s); nothing "
			"was started:\n", path, problems.len);
		for (size_t i = 0; i < problems.len && i < STDERR_PROBLEMS_MAX; i++)
			fprintf(stderr, "  %s\n", problems.items[i]);
		if (problems.len > STDERR_PROBLEMS_MAX)
			fprintf(stderr, "  ... and %zu more\n",
				problems.len - STDERR_PROBLEMS_MAX);
		fprintf(stderr, "grantd: check a catalog with: grantd catalog "
			"check %s\n", path);
	}
	util_strlist_release(&problems);
	return c;
}

/* providers.<id> as the pull side reads it. */
static void settings_of(const struct config_provider *c, struct pull_settings *ps)
{
#define S(x) (c->x ? c->x : "")
	*ps = (struct pull_settings){
		.client_id = S(client_id), .client_secret = S(client_secret),
		.game_id = S(game_id), .deployment_id = S(deployment_id),
		.sandbox_id = S(sandbox_id), .publisher_key = S(publisher_key),
		.app_id = S(app_id), .authorize_url = S(authorize_url),
		.token_url = S(token_url), .profile_url = S(profile_url),
		.auth_base = S(auth_base), .api_base = S(api_base),
		.timeout_ms = c->timeout_ms,
		.max_response_bytes = c->max_response_bytes,
		.poll_interval_seconds = c->poll_interval_seconds,
	};
#undef S
}

/* The configured section of source `id`, or NULL. */
static const struct config_provider *provider_config(const struct config *c,
						     const char *id)
{
	if (strcmp(id, "primegaming") == 0)
		return &c->providers.primegaming;
	if (strcmp(id, "twitch") == 0)
		return &c->providers.twitch;
	if (strcmp(id, "epic") == 0)
		return &c->providers.epic;
	if (strcmp(id, "steam") == 0)
		return &c->providers.steam;
	return NULL;
}

/* The key sealing provider tokens: linking.token_key_file, or (SQLite)
 * one made beside the database on first start. */
static int load_token_key(struct server *s, unsigned char key[UTIL_SEAL_KEY_LEN])
{
	const char *file = s->cfg.linking.token_key_file;
	char *path, *err = NULL;
	bool created;
	int rc;

	if (!*file && strcmp(s->cfg.storage.driver, "sqlite") != 0) {
		/* nodes sharing a database must share the key too */
		fprintf(stderr, "grantd: linking.token_key_file must be set "
			"with storage.driver %s: every node sealing provider "
			"tokens in the shared database needs the same key\n",
			s->cfg.storage.driver);
		return -1;
	}
	path = *file ? util_xstrdup(file) :
	       linking_token_key_default_path(s->cfg.storage.sqlite.path);
	rc = linking_token_key_load(path, !*file, key, &created, &err);
	if (rc) {
		fprintf(stderr, "grantd: linking.token_key_file: %s\n", err);
		free(err);
	} else if (created) {
		ops_log(OPS_LOG_INFO, "token_key_created", "a key sealing "
			"provider tokens was made at %s; back it up with the "
			"database", path);
	}
	free(path);
	return rc;
}

/* Says which providers grantd calls, and warns of a section that sets
 * some of a provider's credentials but not all (so it stays off). */
static void log_providers(struct server *s)
{
	size_t n;
	const struct source *const *all = sources_all(&n);

	for (size_t i = 0; i < n; i++) {
		const char *missing[8];
		size_t k, total;

		if (!all[i]->pull || !s->pull_by_source[i])
			continue;
		total = 0;
		while (all[i]->required[total])
			total++;
		k = sources_pull_missing(all[i], s->pull_by_source[i], missing,
					 UTIL_ARRAY_LEN(missing));
		if (k == 0)
			ops_log(OPS_LOG_INFO, "provider_enabled", "%s: grantd "
				"fetches its entitlements and reports them",
				all[i]->id);
		else if (k < total)
			ops_log(OPS_LOG_WARN, "provider_incomplete", "%s stays "
				"off: providers.%s.%s is not set%s", all[i]->id,
				all[i]->id, missing[0],
				k > 1 ? " (nor other required keys)" : "");
	}
}

/* The outbound loop, the outbox (not started yet) and the providers
 * grantd calls. */
static int start_pull(struct server *s)
{
	const struct config *c = &s->cfg;
	struct outbox_options oo = {
		.initial_backoff_ms = c->outbox.initial_backoff_ms,
		.max_backoff_ms = c->outbox.max_backoff_ms,
		.max_attempts = c->outbox.max_attempts,
		.lease_ms = c->outbox.lease_ms,
	};
	unsigned char key[UTIL_SEAL_KEY_LEN];
	struct pull_options po = {
		.store = s->store, .engine = s->engine, .catalog = s->catalog,
		.settings = s->pull_by_source, .token_key = key,
	};
	size_t n;
	const struct source *const *all = sources_all(&n);
	char *err = NULL;
	int rc = -1;

	UTIL_ASSERT(n <= APP_SOURCES_MAX);
	for (size_t i = 0; i < n; i++) {
		const struct config_provider *pc = provider_config(c, all[i]->id);

		if (pc)
			settings_of(pc, &s->pull_settings[i]);
		s->pull_by_source[i] = pc ? &s->pull_settings[i] : NULL;
	}
	if (load_token_key(s, key))
		return -1;
	if (outbound_new(&s->outbound, &err))
		goto out;
	s->outbox = outbox_new(s->store, &oo);
	po.outbound = s->outbound;
	po.outbox = s->outbox;
	if (pull_new(&po, &s->pull, &err))
		goto out;
	log_providers(s);
	rc = 0;
out:
	if (err) {
		fprintf(stderr, "grantd: %s\n", err);
		free(err);
	}
	memset(key, 0, sizeof(key));
	return rc;
}

/* gamepot.*: the purchase webhook's settings (the config validated every
 * network already). */
static void gamepot_settings(struct server *s)
{
	const struct util_strlist *ips = &s->cfg.gamepot.allowed_ips;
	const struct util_strlist *keys = &s->cfg.gamepot.webhook_secrets;

	s->gamepot_nets = util_xcalloc(ips->len + 1, sizeof(*s->gamepot_nets));
	for (size_t i = 0; i < ips->len; i++)
		if (util_cidr_parse(ips->items[i], &s->gamepot_nets[i]))
			util_bug(__FILE__, __LINE__, "gamepot.allowed_ips unchecked");
	s->gamepot = (struct gamepot_settings){
		.engine = s->engine,
		.project_id = s->cfg.gamepot.project_id ?
			      s->cfg.gamepot.project_id : "",
		.secrets = (const char *const *)keys->items,
		.n_secrets = keys->len,
		.allowed = s->gamepot_nets,
		.n_allowed = ips->len,
		.reject_test_payments = s->cfg.gamepot.test_payments &&
			strcmp(s->cfg.gamepot.test_payments, "reject") == 0,
		.store = s->store,
		.catalog = s->catalog,
		.outbound = s->outbound,
		.outbox = s->outbox,
		.api_base = s->cfg.gamepot.api_base,
		.api_key = s->cfg.gamepot.api_key ? s->cfg.gamepot.api_key : "",
		.timeout_ms = s->cfg.gamepot.timeout_ms,
		.block_on_failure = s->cfg.gamepot.login_validation.block_on_failure,
	};
	s->ctx.gamepot = &s->gamepot;
}

/* Registers the outbox kinds delivered outside the pull runtime, then
 * starts the outbox thread. */
static int start_outbox(struct server *s)
{
	sources_gamepot_login_register(&s->gamepot);
	partner_webhooks_register(s->outbox, s->outbound);
	if (outbox_start(s->outbox)) {
		fprintf(stderr, "grantd: cannot start the outbox thread\n");
		return -1;
	}
	return 0;
}

/* tentuplay.nonce_bytes as a number; 0 (which the relay refuses) if it is
 * not one. */
static int nonce_size(const char *choice)
{
	int64_t n;

	return util_parse_int64(choice, 1, 64, &n) ? 0 : (int)n;
}

/* The TentuPlay offer relay (off while tentuplay.verify_url is empty). */
static int start_offers(struct server *s)
{
	const struct config *c = &s->cfg;
	struct offers_relay_options o = {
		.outbound = s->outbound, .store = s->store,
		.engine = s->engine,
		.grant_on_redeem = c->tentuplay.grant_on_redeem,
		.verify_url = c->tentuplay.verify_url,
		.api_key = c->tentuplay.api_key,
		.api_key_header = c->tentuplay.api_key_header,
		.payload_key = c->tentuplay.payload_key,
		.nonce_bytes = nonce_size(c->tentuplay.nonce_bytes),
		.timezone = c->tentuplay.timezone,
		.timeout_ms = c->tentuplay.timeout_ms,
	};
	char *err = NULL;

	if (offers_relay_new(&o, &s->offers, &err)) {
		fprintf(stderr, "grantd: %s\n", err);
		free(err);
		return -1;
	}
	if (*c->tentuplay.verify_url)
		ops_log(OPS_LOG_INFO, "provider_enabled", "tentuplay: grantd "
			"relays offer verifications");
	s->ctx.offers = s->offers;
	return 0;
}

static int start(struct server *s)
{
	struct catalog *c;
	enum ops_log_level level;
	struct engine_options eopts;

	if (ops_log_level_parse(s->cfg.log.level, &level) == 0)
		ops_log_set_level(level);
	if (!(c = load_catalog(s->cfg.catalog.path)))
		return -1;
	s->catalog = catalog_holder_new(c);
	if (read_tls(s) || check_tls(s) || check_signing_keys_file(s) ||
	    configure_webhooks(s) || bind_listener(s))
		return -1;
	/* everything that can refuse to start has; now the database */
	s->store = app_store_open(&s->cfg, true);
	if (!s->store || start_auth(s))
		return -1;
	eopts.auto_create_accounts = s->cfg.accounts.auto_create;
	UTIL_ASSERT(engine_revoke_policy_parse(s->cfg.revocation.stackable,
					       &eopts.revoke_stackable) == 0);
	s->engine = engine_new(&eopts, s->store, s->catalog);
	s->ctx.store = s->store;
	s->ctx.catalog = s->catalog;
	s->ctx.catalog_path = s->cfg.catalog.path;
	s->ctx.engine = s->engine;
	s->ctx.auth = s->auth;
	if (start_pull(s))
		return -1;
	gamepot_settings(s);
	if (start_outbox(s))
		return -1;
	s->ctx.pull = s->pull;
	s->ctx.outbox = s->outbox;
	s->ctx.links = (struct partner_links){ s->store, s->outbox };
	s->ctx.inventory = (struct partner_inventory){ s->store, s->engine };
	s->linking = linking_new(&(struct linking_options){
		.store = s->store, .pull = s->pull,
		.public_url = s->cfg.linking.public_url,
		.return_to_allow = &s->cfg.linking.return_to_allow });
	s->ctx.linking = s->linking;
	if (start_offers(s))
		return -1;
	return start_http(s);
}

static void reload_catalog(struct server *s)
{
	app_catalog_reload(&(struct app_catalog_reload_args){
		.store = s->store, .holder = s->catalog,
		.path = s->cfg.catalog.path, .actor = "server" }, NULL, NULL);
}

/* SIGHUP also rereads the signing keys; a bad file keeps those in force. */
static void reload_signing_keys(struct server *s)
{
	const char *path = s->cfg.auth.signing_keys_file;
	char *err = NULL;

	if (!*path)
		return;
	if (auth_signing_keys_load(s->auth, path, &err)) {
		ops_log(OPS_LOG_ERROR, "signing_keys_reload_failed", "%s; the "
			"signing keys in force are kept", err);
		free(err);
		return;
	}
	check_key_file_mode(path);
	ops_log(OPS_LOG_INFO, "signing_keys_reloaded", "%s", path);
	app_audit_record(s->store, "server", "signing_keys.reloaded", path,
			 json_object());
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
			reload_signing_keys(s);
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
	}
	/* What answers suspended requests ends while the server still holds
	 * them: syncs past the drain finish, relay calls in flight end. */
	pull_stop(s->pull);
	outbound_stop(s->outbound);
	http_server_stop(s->http);
	linking_free(s->linking);
	outbox_free(s->outbox);    /* after the delivery in hand, which may */
	pull_free(s->pull);        /* use the pull runtime: freed after it */
	outbound_free(s->outbound);
	offers_relay_free(s->offers);
	auth_free(s->auth);
	store_close(s->store);  /* after HTTP: finishes the current commit */
	engine_free(s->engine);
	if (s->listen_fd > 0)
		close(s->listen_fd);   /* start-up stopped before the server */
	free(s->gamepot_nets);
	catalog_holder_free(s->catalog);
	config_release(&s->cfg);
	util_buf_release(&s->tls_cert);
	util_buf_release(&s->tls_key);
}

/* Writes our pid to `path` through a temporary file renamed over it, so a
 * reader never sees half a pid. Returns 0, or -1 after printing why. */
static int write_pid_file(const char *path)
{
	char *tmp = util_xasprintf("%s.%ld.tmp", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;

	if (f) {
		bool ok = fprintf(f, "%ld\n", (long)getpid()) > 0 &&
			  fflush(f) == 0 && fsync(fileno(f)) == 0;

		if (fclose(f) == 0 && ok && rename(tmp, path) == 0)
			rc = 0;
	}
	if (rc) {
		fprintf(stderr, "grantd: --pid-file %s: cannot write: %s\n", path,
			strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* Removes the pid file if it still names this process. */
static void remove_pid_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[32];
	int64_t pid;

	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (util_parse_int64(line, 1, INT64_MAX, &pid) == 0 &&
		    pid == (int64_t)getpid())
			unlink(path);
	}
	fclose(f);
}

int app_serve(const char *config_path, const char *pid_file, const char *argv0)
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
	/* the pid file exists by the time the listening line says so */
	if (start(&s) == 0 && (!pid_file || write_pid_file(pid_file) == 0)) {
		log_listening(&s);
		print_first_start(&s, argv0, config_path);
		signal_loop(&s, &set);
		rc = 0;
	}
	stop(&s);
	if (pid_file && rc == 0)
		remove_pid_file(pid_file);
	if (rc == 0)
		ops_log(OPS_LOG_INFO, "stopped", "clean shutdown");
	ops_log_flush();
	return rc;
}
