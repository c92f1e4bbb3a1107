/* app/config.h (private to app): the YAML configuration, its defaults and
 * GRANTD_<SECTION>_<KEY> environment overrides. */
#ifndef GRANTD_APP_CONFIG_H
#define GRANTD_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* providers.<id>: a provider grantd calls. Keys a provider does not have
 * stay NULL. */
struct config_provider {
	char *client_id, *client_secret;
	char *game_id;
	char *deployment_id, *sandbox_id;
	char *publisher_key, *app_id;
	char *authorize_url, *token_url, *profile_url;
	char *auth_base, *api_base;
	int64_t timeout_ms;
	int64_t max_response_bytes;
	int64_t poll_interval_seconds;
};

/* The whole configuration after defaults, file and environment are merged.
 * Every string is owned by the struct and freed by config_release. */
/* One webhook of events.webhooks. */
struct config_webhook {
	char *url;
	char *secret;
	struct util_strlist events;          /* types; empty: all */
};

struct config {
	struct {
		char *listen;            /* "127.0.0.1:8080"; host:port, [v6]:port */
		int64_t threads;         /* HTTP threads, 1..64, default 2 */
		int64_t max_body_bytes;  /* 1..16777216, default 65536 */
		int64_t connection_timeout_seconds; /* idle timeout, default 30 */
		int64_t request_header_timeout_seconds; /* default 10 */
		int64_t max_connections;        /* default 1024 */
		int64_t max_connections_per_ip; /* default 64; 0: no limit */
		int64_t max_header_bytes;       /* default 16384 */
		struct {
			char *cert_file;     /* "" (default): plain HTTP */
			char *key_file;
		} tls;
	} server;
	struct {
		char *driver;            /* "sqlite" (default) or "postgres" */
		int64_t batch_max;       /* intents per commit, 1..4096, default 256 */
		struct {
			char *path;          /* "var/grantd.db" */
			char *synchronous;   /* "full" (default) or "normal" */
		} sqlite;
		struct {
			char *url;           /* libpq connection string or URI */
			int64_t pool_size;   /* connections per node, default 8 */
			int64_t statement_timeout_ms;  /* default 5000 */
			int64_t connect_timeout_ms;    /* default 5000 */
		} postgres;
	} storage;
	struct {
		char *path;              /* "examples/catalog.json" */
	} catalog;
	struct {
		bool auto_create;        /* false */
	} accounts;
	struct {
		char *stackable;         /* "clamp", "allow_negative", "fail" */
	} revocation;
	struct {
		char *signing_keys_file; /* "" (default): keys in the database */
		char *issuer;            /* "grantd" */
		char *audience;          /* "grantd" */
		int64_t token_ttl_seconds;           /* default 900 */
		int64_t client_secret_grace_seconds; /* default 86400 */
		struct {
			int64_t per_second;  /* default 1000; 0: no limit */
			int64_t burst;       /* default 2000 */
		} rate_limit;
	} auth;
	struct {
		struct config_provider primegaming, twitch, epic, steam;
	} providers;
	struct {
		char *public_url;        /* "": the browser link flow is off */
		struct util_strlist return_to_allow; /* URL prefixes */
		char *token_key_file;    /* "": <database>.token-key */
	} linking;
	struct {
		int64_t initial_backoff_ms;  /* default 1000 */
		int64_t max_backoff_ms;      /* default 300000 */
		int64_t max_attempts;        /* default 20 */
		int64_t lease_ms;            /* default 60000 */
	} outbox;
	struct {
		char *webhook_url;           /* "": no webhook */
		char *webhook_secret;        /* secret; required with the url */
		struct util_strlist webhook_events; /* types; empty: all */
		/* events.webhooks: a list of {url, secret, events} (owned) */
		struct config_webhook *webhooks;
		size_t n_webhooks;
	} events;
	struct {
		char *project_id;            /* "": any projectId is refused */
		struct util_strlist webhook_secrets; /* the path secrets accepted */
		struct util_strlist allowed_ips;     /* CIDRs; empty: any address */
		char *test_payments;         /* "grant" (default) or "reject" */
		char *api_base;              /* GAMEPOT's server API */
		char *api_key;               /* secret; "": external payments off */
		int64_t timeout_ms;          /* default 5000 */
		struct {
			bool block_on_failure;   /* true */
		} login_validation;
	} gamepot;
	struct {
		char *verify_url;        /* "": the offer relay is off */
		char *api_key;           /* secret */
		char *api_key_header;    /* "x-api-key" */
		char *payload_key;       /* secret; 32 bytes (AES-256) */
		char *nonce_bytes;       /* "8" (default) or "12" */
		char *timezone;          /* of expire_at; "UTC" or a fixed offset */
		bool grant_on_redeem;    /* false */
		int64_t timeout_ms;      /* default 5000 */
	} tentuplay;
	struct {
		char *level;             /* "debug", "info" (default), "warn", "error" */
	} log;
};

/* Looks up an environment variable; NULL if unset. Tests pass their own. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fills *out with the defaults, then the YAML file at `path` (NULL: no file),
 * then environment overrides read through `getenv_fn` (NULL: none).
 * Returns 0, or -1 after appending one message per problem to `errors`; each
 * names the file (or the variable) and the key, e.g.
 * "grantd.yaml: server.threads: must be an integer from 1 to 64" or
 * "GRANTD_SERVER_THREADS: must be an integer from 1 to 64".
 * Unknown keys, wrong nesting and bad values are all problems. On failure
 * *out is released and need not be released again. */
int config_load(const char *path, config_getenv_fn getenv_fn, struct config *out,
		struct util_strlist *errors);

/* Frees every string the config owns; accepts a zeroed struct. */
void config_release(struct config *c);

/* Appends every key with its current value, one "section.key = value" line
 * each, for `grantd config` style dumps and docs checks. */
void config_dump(const struct config *c, struct util_buf *out);

#endif
