/* app/config_table.c: the table of configuration keys (type, range, default,
 * environment variable, help) and the conversion of text into values. */
#include "app/config_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest host name accepted in server.listen (DNS limit). */
#define LISTEN_HOST_MAX 253

static const char *const storage_drivers[] = { "sqlite", NULL };
static const char *const sqlite_syncs[] = { "full", "normal", NULL };
static const char *const log_levels[] = {
	"debug", "info", "warn", "error", NULL,
};

static const char *const bool_true[] = { "true", "yes", "on", "1", NULL };
static const char *const bool_false[] = { "false", "no", "off", "0", NULL };

/* A port: 1 to 5 decimal digits, 0..65535. Returns 0 or -1. */
static int check_port(const char *p)
{
	size_t n = strlen(p);
	int64_t port;

	if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
		return -1;
	return util_parse_int64(p, 0, 65535, &port);
}

/* "[v6address]:port"; `v` starts with '['. Returns 0 or -1. */
static int check_listen_v6(const char *v)
{
	const char *end = strchr(v, ']');
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	size_t n;

	if (!end || end[1] != ':')
		return -1;
	n = (size_t)(end - v - 1);
	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, v + 1, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		return -1;
	return check_port(end + 2);
}

/* server.listen: "host:port" (host name or IPv4 address) or
 * "[ipv6]:port". Only the shape is checked; resolving is for the server. */
static int check_listen(const char *v)
{
	const char *colon;
	size_t host_len;

	if (v[0] == '[')
		return check_listen_v6(v);
	colon = strchr(v, ':');
	if (!colon || strchr(colon + 1, ':'))
		return -1;
	host_len = (size_t)(colon - v);
	if (host_len == 0 || host_len > LISTEN_HOST_MAX)
		return -1;
	if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789.-_") != host_len)
		return -1;
	return check_port(colon + 1);
}

static int check_nonempty(const char *v)
{
	return *v ? 0 : -1;
}

#define OPT_AT(member) offsetof(struct config, member)

const struct config_option config_options[] = {
	{
		.section = "server", .key = "listen",
		.env = "GRANTD_SERVER_LISTEN",
		.type = CONFIG_STRING, .check = check_listen,
		/* user-visible text stays on one line so it can be grepped */
		.rule = "must be host:port or [ipv6]:port with a port from 0 to 65535",
		.def = "127.0.0.1:8080", .offset = OPT_AT(server.listen),
		.help = "address:port of the HTTP API; port 0 picks a free one",
	},
	{
		.section = "server", .key = "threads",
		.env = "GRANTD_SERVER_THREADS",
		.type = CONFIG_INT, .min = 1, .max = 64,
		.def = "2", .offset = OPT_AT(server.threads),
		.help = "HTTP threads; 1 runs a single poll-mode thread",
	},
	{
		.section = "server", .key = "max_body_bytes",
		.env = "GRANTD_SERVER_MAX_BODY_BYTES",
		.type = CONFIG_INT, .min = 1, .max = 16777216,
		.def = "65536", .offset = OPT_AT(server.max_body_bytes),
		.help = "largest request body accepted; bigger ones get 413",
	},
	{
		.section = "server", .key = "connection_timeout_seconds",
		.env = "GRANTD_SERVER_CONNECTION_TIMEOUT_SECONDS",
		.type = CONFIG_INT, .min = 1, .max = 3600,
		.def = "30", .offset = OPT_AT(server.connection_timeout_seconds),
		.help = "a connection idle this long is closed",
	},
	{
		.section = "server", .key = "max_connections",
		.env = "GRANTD_SERVER_MAX_CONNECTIONS",
		.type = CONFIG_INT, .min = 1, .max = 65536,
		.def = "1024", .offset = OPT_AT(server.max_connections),
		.help = "open connections at most; more wait until one closes",
	},
	{
		.section = "server", .key = "max_connections_per_ip",
		.env = "GRANTD_SERVER_MAX_CONNECTIONS_PER_IP",
		.type = CONFIG_INT, .min = 0, .max = 65536,
		.def = "256", .offset = OPT_AT(server.max_connections_per_ip),
		.help = "open connections per client address; 0: no limit (behind a proxy)",
	},
	{
		.section = "server", .key = "max_header_bytes",
		.env = "GRANTD_SERVER_MAX_HEADER_BYTES",
		.type = CONFIG_INT, .min = 4096, .max = 1048576,
		.def = "16384", .offset = OPT_AT(server.max_header_bytes),
		.help = "memory per connection for the request line and headers",
	},
	{
		.section = "server.tls", .key = "cert_file",
		.env = "GRANTD_SERVER_TLS_CERT_FILE",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(server.tls.cert_file),
		.help = "PEM certificate chain; with key_file, serve HTTPS only",
	},
	{
		.section = "server.tls", .key = "key_file",
		.env = "GRANTD_SERVER_TLS_KEY_FILE",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(server.tls.key_file),
		.help = "PEM private key of cert_file",
	},
	{
		.section = "storage", .key = "driver",
		.env = "GRANTD_STORAGE_DRIVER",
		.type = CONFIG_ENUM, .choices = storage_drivers,
		.def = "sqlite", .offset = OPT_AT(storage.driver),
		.help = "database engine",
	},
	{
		.section = "storage", .key = "batch_max",
		.env = "GRANTD_STORAGE_BATCH_MAX",
		.type = CONFIG_INT, .min = 1, .max = 4096,
		.def = "256", .offset = OPT_AT(storage.batch_max),
		.help = "most intents the writer groups into one commit",
	},
	{
		.section = "storage.sqlite", .key = "path",
		.env = "GRANTD_STORAGE_SQLITE_PATH",
		.type = CONFIG_STRING, .check = check_nonempty,
		.rule = "must not be empty",
		.def = "var/grantd.db", .offset = OPT_AT(storage.sqlite.path),
		.help = "SQLite database file, created if missing",
	},
	{
		.section = "storage.sqlite", .key = "synchronous",
		.env = "GRANTD_STORAGE_SQLITE_SYNCHRONOUS",
		.type = CONFIG_ENUM, .choices = sqlite_syncs,
		.def = "full", .offset = OPT_AT(storage.sqlite.synchronous),
		.help = "full survives power loss; normal only a process crash",
	},
	{
		.section = "catalog", .key = "path",
		.env = "GRANTD_CATALOG_PATH",
		.type = CONFIG_STRING, .check = check_nonempty,
		.rule = "must not be empty",
		.def = "examples/catalog.json", .offset = OPT_AT(catalog.path),
		.help = "catalog (JSON) mapping provider items to game items",
	},
	{
		.section = "accounts", .key = "auto_create",
		.env = "GRANTD_ACCOUNTS_AUTO_CREATE",
		.type = CONFIG_BOOL,
		.def = "false", .offset = OPT_AT(accounts.auto_create),
		.help = "create unknown accounts instead of refusing them",
	},
	{
		.section = "auth", .key = "signing_keys_file",
		.env = "GRANTD_AUTH_SIGNING_KEYS_FILE",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(auth.signing_keys_file),
		.help = "access token signing keys, \"kid secret\" per line; empty: keys kept in the database",
	},
	{
		.section = "auth", .key = "issuer",
		.env = "GRANTD_AUTH_ISSUER",
		.type = CONFIG_STRING, .check = check_nonempty,
		.rule = "must not be empty",
		.def = "grantd", .offset = OPT_AT(auth.issuer),
		.help = "the iss claim of access tokens",
	},
	{
		.section = "auth", .key = "audience",
		.env = "GRANTD_AUTH_AUDIENCE",
		.type = CONFIG_STRING, .check = check_nonempty,
		.rule = "must not be empty",
		.def = "grantd", .offset = OPT_AT(auth.audience),
		.help = "the aud claim access tokens carry and must carry",
	},
	{
		.section = "auth", .key = "token_ttl_seconds",
		.env = "GRANTD_AUTH_TOKEN_TTL_SECONDS",
		.type = CONFIG_INT, .min = 1, .max = 86400,
		.def = "900", .offset = OPT_AT(auth.token_ttl_seconds),
		.help = "lifetime of an access token",
	},
	{
		.section = "auth", .key = "client_secret_grace_seconds",
		.env = "GRANTD_AUTH_CLIENT_SECRET_GRACE_SECONDS",
		.type = CONFIG_INT, .min = 0, .max = 2592000,
		.def = "86400", .offset = OPT_AT(auth.client_secret_grace_seconds),
		.help = "how long a client's old secret works after rotate-secret",
	},
	{
		.section = "auth.rate_limit", .key = "per_second",
		.env = "GRANTD_AUTH_RATE_LIMIT_PER_SECOND",
		.type = CONFIG_INT, .min = 0, .max = 1000000,
		.def = "1000", .offset = OPT_AT(auth.rate_limit.per_second),
		.help = "requests per second per credential; 0: no limit",
	},
	{
		.section = "auth.rate_limit", .key = "burst",
		.env = "GRANTD_AUTH_RATE_LIMIT_BURST",
		.type = CONFIG_INT, .min = 1, .max = 10000000,
		.def = "2000", .offset = OPT_AT(auth.rate_limit.burst),
		.help = "requests a credential may make at once above the rate",
	},
	{
		.section = "log", .key = "level",
		.env = "GRANTD_LOG_LEVEL",
		.type = CONFIG_ENUM, .choices = log_levels,
		.def = "info", .offset = OPT_AT(log.level),
		.help = "least severe log level written to stderr",
	},
};

const size_t config_options_len = UTIL_ARRAY_LEN(config_options);

/* Index of `text` in the NULL-terminated `list` (any case), or -1. */
static int find_word(const char *const *list, const char *text)
{
	for (int i = 0; list[i]; i++)
		if (strcasecmp(list[i], text) == 0)
			return i;
	return -1;
}

static void *field_of(const struct config_option *opt, const struct config *c)
{
	return (char *)c + opt->offset;
}

static void set_string(const struct config_option *opt, struct config *c,
		const char *value)
{
	char **field = field_of(opt, c);

	free(*field);
	*field = util_xstrdup(value);
}

int config_option_set(const struct config_option *opt, const char *text,
		struct config *c)
{
	int64_t v;
	int i;

	switch (opt->type) {
	case CONFIG_STRING:
		if (opt->check && opt->check(text))
			return -1;
		set_string(opt, c, text);
		return 0;
	case CONFIG_INT:
		if (util_parse_int64(text, opt->min, opt->max, &v))
			return -1;
		*(int64_t *)field_of(opt, c) = v;
		return 0;
	case CONFIG_BOOL:
		if (find_word(bool_true, text) >= 0)
			*(bool *)field_of(opt, c) = true;
		else if (find_word(bool_false, text) >= 0)
			*(bool *)field_of(opt, c) = false;
		else
			return -1;
		return 0;
	case CONFIG_ENUM:
		if ((i = find_word(opt->choices, text)) < 0)
			return -1;
		set_string(opt, c, opt->choices[i]);
		return 0;
	}
	util_bug(__FILE__, __LINE__, "unknown option type");
}

void config_option_rule(const struct config_option *opt, struct util_buf *out)
{
	switch (opt->type) {
	case CONFIG_STRING:
		util_buf_puts(out, opt->rule ? opt->rule : "is not acceptable");
		return;
	case CONFIG_INT:
		util_buf_printf(out, "must be an integer from %" PRId64
				" to %" PRId64, opt->min, opt->max);
		return;
	case CONFIG_BOOL:
		util_buf_puts(out, "must be true or false "
				"(or yes/no, on/off, 1/0)");
		return;
	case CONFIG_ENUM:
		util_buf_puts(out, opt->choices[1] ? "must be one of " :
				"must be ");
		for (size_t i = 0; opt->choices[i]; i++)
			util_buf_printf(out, "%s%s", i ? ", " : "",
					opt->choices[i]);
		return;
	}
	util_bug(__FILE__, __LINE__, "unknown option type");
}

void config_option_format(const struct config_option *opt,
		const struct config *c, struct util_buf *out)
{
	const char *s;

	switch (opt->type) {
	case CONFIG_STRING:
	case CONFIG_ENUM:
		s = *(char *const *)field_of(opt, c);
		util_buf_puts(out, s ? s : "");
		return;
	case CONFIG_INT:
		util_buf_printf(out, "%" PRId64,
				*(const int64_t *)field_of(opt, c));
		return;
	case CONFIG_BOOL:
		util_buf_puts(out, *(const bool *)field_of(opt, c) ?
				"true" : "false");
		return;
	}
	util_bug(__FILE__, __LINE__, "unknown option type");
}

void config_option_clear(const struct config_option *opt, struct config *c)
{
	char **field;

	if (opt->type != CONFIG_STRING && opt->type != CONFIG_ENUM)
		return;
	field = field_of(opt, c);
	free(*field);
	*field = NULL;
}
