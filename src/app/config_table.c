/* app/config_table.c: the table of configuration keys (type, range, default,
 * environment variable, help) and the conversion of text into values. */
#include "app/config_int.h"

#include "engine/engine.h"
#include "offers/offers.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest host name accepted in server.listen (DNS limit). */
#define LISTEN_HOST_MAX 253

static const char *const storage_drivers[] = { "sqlite", "postgres", NULL };
static const char *const sqlite_syncs[] = { "full", "normal", NULL };
static const char *const log_levels[] = {
	"debug", "info", "warn", "error", NULL,
};

static const char *const test_payment_policies[] = { "grant", "reject", NULL };
static const char *const nonce_sizes[] = { "8", "12", NULL };
static const char *const revoke_policies[] = {
	"clamp", "allow_negative", "fail", NULL,
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

/* linking.public_url: "" (unset) or an http(s) URL grantd appends
 * "/v1/link/..." to. */
static int check_public_url(const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return 0;
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
		return -1;
	if (strpbrk(v, "?#") || v[n - 1] == '/' ||
	    !util_is_printable_ascii(v, n) || strchr(v, ' '))
		return -1;
	return strlen(strchr(v, ':') + 3) ? 0 : -1;
}

/* A provider's endpoint or base URL: http(s), no query, fragment or
 * trailing slash (grantd appends paths), no spaces. */
int config_check_url(const char *v)
{
	size_t n = strlen(v);

	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
		return -1;
	if (strpbrk(v, "?# ") || v[n - 1] == '/' || !util_is_printable_ascii(v, n))
		return -1;
	return strlen(strchr(v, ':') + 3) ? 0 : -1;
}

/* An address or CIDR network. Returns 0 or -1. */
static int check_cidr(const char *v)
{
	struct util_cidr c;

	return util_cidr_parse(v, &c);
}

/* events.webhook_events: an event type grantd emits. */
static int check_event_type(const char *v)
{
	return engine_event_type_known(v) ? 0 : -1;
}

/* tentuplay.verify_url: "" (the relay is off) or a URL as config_check_url. */
static int check_optional_url(const char *v)
{
	return *v ? config_check_url(v) : 0;
}

/* An HTTP header name: 1 to 64 token characters (RFC 9110 §5.1). */
static int check_header_name(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 64)
		return -1;
	return strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789!#$%&'*+-.^_`|~") == n ? 0 : -1;
}

/* tentuplay.timezone: what offers_zone_parse takes. */
static int check_zone(const char *v)
{
	int minutes;

	return offers_zone_parse(v, &minutes, NULL, 0);
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
		.section = "server", .key = "request_header_timeout_seconds",
		.env = "GRANTD_SERVER_REQUEST_HEADER_TIMEOUT_SECONDS",
		.type = CONFIG_INT, .min = 1, .max = 3600,
		.def = "10", .offset = OPT_AT(server.request_header_timeout_seconds),
		.help = "a new connection's request line and headers must be in "
			"this soon, however slowly they trickle",
	},
	{
		.section = "server", .key = "max_connections",
		.env = "GRANTD_SERVER_MAX_CONNECTIONS",
		.type = CONFIG_INT, .min = 1, .max = 65536,
		.def = "1024", .offset = OPT_AT(server.max_connections),
		.help = "open connections at most; when nearly full, the one idle "
			"longest is closed",
	},
	{
		.section = "server", .key = "max_connections_per_ip",
		.env = "GRANTD_SERVER_MAX_CONNECTIONS_PER_IP",
		.type = CONFIG_INT, .min = 0, .max = 65536,
		.def = "64", .offset = OPT_AT(server.max_connections_per_ip),
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
		.section = "storage.postgres", .key = "url",
		.env = "GRANTD_STORAGE_POSTGRES_URL",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(storage.postgres.url),
		.help = "libpq connection string or URI (several hosts with target_session_attrs=read-write fail over)",
	},
	{
		.section = "storage.postgres", .key = "pool_size",
		.env = "GRANTD_STORAGE_POSTGRES_POOL_SIZE",
		.type = CONFIG_INT, .min = 2, .max = 256,
		.def = "8", .offset = OPT_AT(storage.postgres.pool_size),
		.help = "connections this node opens: half write, half read",
	},
	{
		.section = "storage.postgres", .key = "statement_timeout_ms",
		.env = "GRANTD_STORAGE_POSTGRES_STATEMENT_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 100, .max = 600000,
		.def = "5000", .offset = OPT_AT(storage.postgres.statement_timeout_ms),
		.help = "longest a statement may run before the server cancels it",
	},
	{
		.section = "storage.postgres", .key = "connect_timeout_ms",
		.env = "GRANTD_STORAGE_POSTGRES_CONNECT_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 1000, .max = 600000,
		.def = "5000", .offset = OPT_AT(storage.postgres.connect_timeout_ms),
		.help = "longest a connection attempt waits (whole seconds)",
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
		.section = "revocation", .key = "stackable",
		.env = "GRANTD_REVOCATION_STACKABLE",
		.type = CONFIG_ENUM, .choices = revoke_policies,
		.def = "clamp", .offset = OPT_AT(revocation.stackable),
		.help = "what revoking does to a balance now below the amount granted: clamp (floor at 0), allow_negative or fail",
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
		.section = "providers.primegaming", .key = "client_id",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_CLIENT_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(providers.primegaming.client_id),
		.help = "Login with Amazon client id (its security profile)",
	},
	{
		.section = "providers.primegaming", .key = "client_secret",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_CLIENT_SECRET",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(providers.primegaming.client_secret),
		.help = "Login with Amazon client secret",
	},
	{
		.section = "providers.primegaming", .key = "authorize_url",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_AUTHORIZE_URL",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://www.amazon.com/ap/oa", .offset = OPT_AT(providers.primegaming.authorize_url),
		.help = "LWA authorize page players are sent to",
	},
	{
		.section = "providers.primegaming", .key = "token_url",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_TOKEN_URL",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://api.amazon.com/auth/o2/token", .offset = OPT_AT(providers.primegaming.token_url),
		.help = "LWA token endpoint",
	},
	{
		.section = "providers.primegaming", .key = "profile_url",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_PROFILE_URL",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://api.amazon.com/user/profile", .offset = OPT_AT(providers.primegaming.profile_url),
		.help = "LWA profile endpoint (the player's user_id)",
	},
	{
		.section = "providers.primegaming", .key = "api_base",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_API_BASE",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://twitch.amazon.com/api", .offset = OPT_AT(providers.primegaming.api_base),
		.help = "Prime Gaming entitlements API",
	},
	{
		.section = "providers.primegaming", .key = "timeout_ms",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 1, .max = 600000,
		.def = "5000", .offset = OPT_AT(providers.primegaming.timeout_ms),
		.help = "longest wait for one call to the provider",
	},
	{
		.section = "providers.primegaming", .key = "max_response_bytes",
		.env = "GRANTD_PROVIDERS_PRIMEGAMING_MAX_RESPONSE_BYTES",
		.type = CONFIG_INT, .min = 1024, .max = 268435456,
		.def = "4194304", .offset = OPT_AT(providers.primegaming.max_response_bytes),
		.help = "largest answer read from the provider",
	},
	{
		.section = "providers.twitch", .key = "client_id",
		.env = "GRANTD_PROVIDERS_TWITCH_CLIENT_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(providers.twitch.client_id),
		.help = "Twitch application client id",
	},
	{
		.section = "providers.twitch", .key = "client_secret",
		.env = "GRANTD_PROVIDERS_TWITCH_CLIENT_SECRET",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(providers.twitch.client_secret),
		.help = "Twitch application client secret",
	},
	{
		.section = "providers.twitch", .key = "game_id",
		.env = "GRANTD_PROVIDERS_TWITCH_GAME_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(providers.twitch.game_id),
		.help = "the Twitch game (category) id whose drops are fulfilled",
	},
	{
		.section = "providers.twitch", .key = "auth_base",
		.env = "GRANTD_PROVIDERS_TWITCH_AUTH_BASE",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://id.twitch.tv/oauth2", .offset = OPT_AT(providers.twitch.auth_base),
		.help = "Twitch OAuth base (token, authorize, validate)",
	},
	{
		.section = "providers.twitch", .key = "api_base",
		.env = "GRANTD_PROVIDERS_TWITCH_API_BASE",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://api.twitch.tv/helix", .offset = OPT_AT(providers.twitch.api_base),
		.help = "Twitch Helix API base",
	},
	{
		.section = "providers.twitch", .key = "poll_interval_seconds",
		.env = "GRANTD_PROVIDERS_TWITCH_POLL_INTERVAL_SECONDS",
		.type = CONFIG_INT, .min = 0, .max = 86400,
		.def = "0", .offset = OPT_AT(providers.twitch.poll_interval_seconds),
		.help = "ask Twitch for every claimed drop this often; 0: off",
	},
	{
		.section = "providers.twitch", .key = "timeout_ms",
		.env = "GRANTD_PROVIDERS_TWITCH_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 1, .max = 600000,
		.def = "5000", .offset = OPT_AT(providers.twitch.timeout_ms),
		.help = "longest wait for one call to the provider",
	},
	{
		.section = "providers.twitch", .key = "max_response_bytes",
		.env = "GRANTD_PROVIDERS_TWITCH_MAX_RESPONSE_BYTES",
		.type = CONFIG_INT, .min = 1024, .max = 268435456,
		.def = "4194304", .offset = OPT_AT(providers.twitch.max_response_bytes),
		.help = "largest answer read from the provider",
	},
	{
		.section = "providers.epic", .key = "client_id",
		.env = "GRANTD_PROVIDERS_EPIC_CLIENT_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(providers.epic.client_id),
		.help = "Epic Online Services client id",
	},
	{
		.section = "providers.epic", .key = "client_secret",
		.env = "GRANTD_PROVIDERS_EPIC_CLIENT_SECRET",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(providers.epic.client_secret),
		.help = "Epic Online Services client secret",
	},
	{
		.section = "providers.epic", .key = "deployment_id",
		.env = "GRANTD_PROVIDERS_EPIC_DEPLOYMENT_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(providers.epic.deployment_id),
		.help = "EOS deployment id",
	},
	{
		.section = "providers.epic", .key = "sandbox_id",
		.env = "GRANTD_PROVIDERS_EPIC_SANDBOX_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(providers.epic.sandbox_id),
		.help = "EOS sandbox id the entitlements live in",
	},
	{
		.section = "providers.epic", .key = "authorize_url",
		.env = "GRANTD_PROVIDERS_EPIC_AUTHORIZE_URL",
		.type = CONFIG_STRING,
		.def = "https://www.epicgames.com/id/authorize", .offset = OPT_AT(providers.epic.authorize_url),
		.help = "Epic Account Services authorize page (browser linking)",
	},
	{
		.section = "providers.epic", .key = "auth_base",
		.env = "GRANTD_PROVIDERS_EPIC_AUTH_BASE",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://api.epicgames.dev/epic/oauth/v2", .offset = OPT_AT(providers.epic.auth_base),
		.help = "Epic OAuth base (token)",
	},
	{
		.section = "providers.epic", .key = "api_base",
		.env = "GRANTD_PROVIDERS_EPIC_API_BASE",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://api.epicgames.dev/epic/ecom/v3", .offset = OPT_AT(providers.epic.api_base),
		.help = "Epic Ecom API base",
	},
	{
		.section = "providers.epic", .key = "timeout_ms",
		.env = "GRANTD_PROVIDERS_EPIC_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 1, .max = 600000,
		.def = "5000", .offset = OPT_AT(providers.epic.timeout_ms),
		.help = "longest wait for one call to the provider",
	},
	{
		.section = "providers.epic", .key = "max_response_bytes",
		.env = "GRANTD_PROVIDERS_EPIC_MAX_RESPONSE_BYTES",
		.type = CONFIG_INT, .min = 1024, .max = 268435456,
		.def = "4194304", .offset = OPT_AT(providers.epic.max_response_bytes),
		.help = "largest answer read from the provider",
	},
	{
		.section = "providers.steam", .key = "publisher_key",
		.env = "GRANTD_PROVIDERS_STEAM_PUBLISHER_KEY",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(providers.steam.publisher_key),
		.help = "Steamworks publisher Web API key",
	},
	{
		.section = "providers.steam", .key = "app_id",
		.env = "GRANTD_PROVIDERS_STEAM_APP_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(providers.steam.app_id),
		.help = "the game's Steam app id",
	},
	{
		.section = "providers.steam", .key = "api_base",
		.env = "GRANTD_PROVIDERS_STEAM_API_BASE",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://partner.steam-api.com", .offset = OPT_AT(providers.steam.api_base),
		.help = "Steam partner Web API base",
	},
	{
		.section = "providers.steam", .key = "timeout_ms",
		.env = "GRANTD_PROVIDERS_STEAM_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 1, .max = 600000,
		.def = "5000", .offset = OPT_AT(providers.steam.timeout_ms),
		.help = "longest wait for one call to the provider",
	},
	{
		.section = "providers.steam", .key = "max_response_bytes",
		.env = "GRANTD_PROVIDERS_STEAM_MAX_RESPONSE_BYTES",
		.type = CONFIG_INT, .min = 1024, .max = 268435456,
		.def = "4194304", .offset = OPT_AT(providers.steam.max_response_bytes),
		.help = "largest answer read from the provider",
	},
	{
		.section = "linking", .key = "public_url",
		.env = "GRANTD_LINKING_PUBLIC_URL",
		.type = CONFIG_STRING, .check = check_public_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "", .offset = OPT_AT(linking.public_url),
		.help = "grantd's address as players' browsers reach it (callback URLs)",
	},
	{
		.section = "linking", .key = "return_to_allow",
		.env = "GRANTD_LINKING_RETURN_TO_ALLOW",
		.type = CONFIG_LIST,
		.def = "", .offset = OPT_AT(linking.return_to_allow),
		.help = "URL prefixes a finished link may return the player to",
	},
	{
		.section = "linking", .key = "token_key_file",
		.env = "GRANTD_LINKING_TOKEN_KEY_FILE",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(linking.token_key_file),
		.help = "32-byte key sealing provider tokens; empty: a key file beside the database",
	},
	{
		.section = "outbox", .key = "initial_backoff_ms",
		.env = "GRANTD_OUTBOX_INITIAL_BACKOFF_MS",
		.type = CONFIG_INT, .min = 1, .max = 3600000,
		.def = "1000", .offset = OPT_AT(outbox.initial_backoff_ms),
		.help = "ceiling of the first retry's delay (full jitter)",
	},
	{
		.section = "outbox", .key = "max_backoff_ms",
		.env = "GRANTD_OUTBOX_MAX_BACKOFF_MS",
		.type = CONFIG_INT, .min = 1, .max = 86400000,
		.def = "300000", .offset = OPT_AT(outbox.max_backoff_ms),
		.help = "largest ceiling of a retry's delay",
	},
	{
		.section = "outbox", .key = "max_attempts",
		.env = "GRANTD_OUTBOX_MAX_ATTEMPTS",
		.type = CONFIG_INT, .min = 1, .max = 1000,
		.def = "20", .offset = OPT_AT(outbox.max_attempts),
		.help = "deliveries tried before a row is dead",
	},
	{
		.section = "outbox", .key = "lease_ms",
		.env = "GRANTD_OUTBOX_LEASE_MS",
		.type = CONFIG_INT, .min = 1000, .max = 3600000,
		.def = "60000", .offset = OPT_AT(outbox.lease_ms),
		.help = "how long a claimed delivery is a node's before another may take it",
	},
	{
		.section = "events", .key = "webhook_url",
		.env = "GRANTD_EVENTS_WEBHOOK_URL",
		.type = CONFIG_STRING, .check = check_optional_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "", .offset = OPT_AT(events.webhook_url),
		.help = "where events are POSTed; empty: no webhook (the feed still works)",
	},
	{
		.section = "events", .key = "webhook_secret",
		.env = "GRANTD_EVENTS_WEBHOOK_SECRET",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(events.webhook_secret),
		.help = "HMAC-SHA256 key of the grantd-signature header; required with webhook_url",
	},
	{
		.section = "events", .key = "webhook_events",
		.env = "GRANTD_EVENTS_WEBHOOK_EVENTS",
		.type = CONFIG_LIST, .check = check_event_type,
		.rule = "must be a list of event types (grant.created, grant.revoked, account.suspended, link.created)",
		.def = "", .offset = OPT_AT(events.webhook_events),
		.help = "event types the webhook gets; empty: every type",
	},
	{
		.section = "gamepot", .key = "project_id",
		.env = "GRANTD_GAMEPOT_PROJECT_ID",
		.type = CONFIG_STRING,
		.def = "", .offset = OPT_AT(gamepot.project_id),
		.help = "GAMEPOT project id webhooks must name; empty: webhooks refused",
	},
	{
		.section = "gamepot", .key = "webhook_secrets",
		.env = "GRANTD_GAMEPOT_WEBHOOK_SECRETS",
		.type = CONFIG_LIST, .secret = true,
		.def = "", .offset = OPT_AT(gamepot.webhook_secrets),
		.help = "secrets accepted in the webhook path (several while rotating)",
	},
	{
		.section = "gamepot", .key = "allowed_ips",
		.env = "GRANTD_GAMEPOT_ALLOWED_IPS",
		.type = CONFIG_LIST, .check = check_cidr,
		.rule = "must be a list of IPv4 or IPv6 addresses or CIDR networks",
		.def = "", .offset = OPT_AT(gamepot.allowed_ips),
		.help = "networks GAMEPOT's webhooks may come from; empty: any",
	},
	{
		.section = "gamepot", .key = "test_payments",
		.env = "GRANTD_GAMEPOT_TEST_PAYMENTS",
		.type = CONFIG_ENUM, .choices = test_payment_policies,
		.def = "grant", .offset = OPT_AT(gamepot.test_payments),
		.help = "what a test payment (tp=1) does: grant or reject",
	},
	{
		.section = "gamepot", .key = "api_base",
		.env = "GRANTD_GAMEPOT_API_BASE",
		.type = CONFIG_STRING, .check = config_check_url,
		.rule = "must be an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "https://gamepot.apigw.ntruss.com",
		.offset = OPT_AT(gamepot.api_base),
		.help = "base URL of GAMEPOT's server API (login validation, external payments)",
	},
	{
		.section = "gamepot", .key = "api_key",
		.env = "GRANTD_GAMEPOT_API_KEY",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(gamepot.api_key),
		.help = "GAMEPOT's API key, sent as x-api-key; empty: external payments off",
	},
	{
		.section = "gamepot", .key = "timeout_ms",
		.env = "GRANTD_GAMEPOT_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 1, .max = 600000,
		.def = "5000", .offset = OPT_AT(gamepot.timeout_ms),
		.help = "longest wait for GAMEPOT's answer",
	},
	{
		.section = "gamepot.login_validation", .key = "block_on_failure",
		.env = "GRANTD_GAMEPOT_LOGIN_VALIDATION_BLOCK_ON_FAILURE",
		.type = CONFIG_BOOL,
		.def = "true",
		.offset = OPT_AT(gamepot.login_validation.block_on_failure),
		.help = "a forged token or member mismatch suspends the account",
	},
	{
		.section = "tentuplay", .key = "verify_url",
		.env = "GRANTD_TENTUPLAY_VERIFY_URL",
		.type = CONFIG_STRING, .check = check_optional_url,
		.rule = "must be empty or an http:// or https:// URL without a query, fragment or trailing slash",
		.def = "", .offset = OPT_AT(tentuplay.verify_url),
		.help = "TentuPlay's offer verification endpoint; empty: the offer relay is off",
	},
	{
		.section = "tentuplay", .key = "api_key",
		.env = "GRANTD_TENTUPLAY_API_KEY",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(tentuplay.api_key),
		.help = "the API key TentuPlay issued, sent in api_key_header",
	},
	{
		.section = "tentuplay", .key = "api_key_header",
		.env = "GRANTD_TENTUPLAY_API_KEY_HEADER",
		.type = CONFIG_STRING, .check = check_header_name,
		.rule = "must be an HTTP header name (1 to 64 token characters)",
		.def = "x-api-key", .offset = OPT_AT(tentuplay.api_key_header),
		.help = "the header carrying api_key",
	},
	{
		.section = "tentuplay", .key = "payload_key",
		.env = "GRANTD_TENTUPLAY_PAYLOAD_KEY",
		.type = CONFIG_STRING, .secret = true,
		.def = "", .offset = OPT_AT(tentuplay.payload_key),
		.help = "the payload key TentuPlay issued: 32 bytes, the AES-256-CTR key of result",
	},
	{
		.section = "tentuplay", .key = "nonce_bytes",
		.env = "GRANTD_TENTUPLAY_NONCE_BYTES",
		.type = CONFIG_ENUM, .choices = nonce_sizes,
		.def = "8", .offset = OPT_AT(tentuplay.nonce_bytes),
		.help = "nonce length before the ciphertext: 8 (TentuPlay's sample code) or 12",
	},
	{
		.section = "tentuplay", .key = "timezone",
		.env = "GRANTD_TENTUPLAY_TIMEZONE",
		.type = CONFIG_STRING, .check = check_zone,
		.rule = "must be UTC, Z or a fixed offset such as +09:00 within 14 hours",
		.def = "UTC", .offset = OPT_AT(tentuplay.timezone),
		.help = "zone of an offer's expire_at",
	},
	{
		.section = "tentuplay", .key = "grant_on_redeem",
		.env = "GRANTD_TENTUPLAY_GRANT_ON_REDEEM",
		.type = CONFIG_BOOL,
		.def = "false", .offset = OPT_AT(tentuplay.grant_on_redeem),
		.help = "a redeemed offer also grants its SKU's entitlement",
	},
	{
		.section = "tentuplay", .key = "timeout_ms",
		.env = "GRANTD_TENTUPLAY_TIMEOUT_MS",
		.type = CONFIG_INT, .min = 1, .max = 600000,
		.def = "5000", .offset = OPT_AT(tentuplay.timeout_ms),
		.help = "longest wait for TentuPlay's answer",
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

/* A list: whitespace-separated words of printable ASCII, each kept. */
static int set_list(const struct config_option *opt, struct config *c,
		const char *text)
{
	static const char space[] = " \t\r\n";
	struct util_strlist *l = field_of(opt, c);
	const char *p = text;

	for (const char *q = text; *q; q++)
		if (!strchr(space, *q) && !util_is_printable_ascii(q, 1))
			return -1;
	if (opt->check) {
		/* every word must pass before the list changes */
		for (const char *q = text; *(q += strspn(q, space));) {
			size_t n = strcspn(q, space);
			char *w = util_xstrndup(q, n);
			int bad = opt->check(w);

			free(w);
			if (bad)
				return -1;
			q += n;
		}
	}
	util_strlist_release(l);
	while (*(p += strspn(p, space))) {
		size_t n = strcspn(p, space);

		util_strlist_add(l, "%.*s", (int)n, p);
		p += n;
	}
	return 0;
}

int config_option_set(const struct config_option *opt, const char *text,
		struct config *c)
{
	int64_t v;
	int i;

	switch (opt->type) {
	case CONFIG_LIST:
		return set_list(opt, c, text);
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
	case CONFIG_LIST:
		util_buf_puts(out, "must be a list of printable strings");
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
	const struct util_strlist *l;
	const char *s;

	if (opt->secret && opt->type == CONFIG_LIST) {
		l = field_of(opt, c);
		util_buf_puts(out, l->len ? "(set)" : "");
		return;
	}
	if (opt->secret) {
		s = *(char *const *)field_of(opt, c);
		util_buf_puts(out, s && *s ? "(set)" : "");
		return;
	}
	switch (opt->type) {
	case CONFIG_LIST:
		l = field_of(opt, c);
		for (size_t i = 0; i < l->len; i++)
			util_buf_printf(out, "%s%s", i ? " " : "", l->items[i]);
		return;
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

	if (opt->type == CONFIG_LIST) {
		util_strlist_release(field_of(opt, c));
		util_strlist_init(field_of(opt, c));
		return;
	}
	if (opt->type != CONFIG_STRING && opt->type != CONFIG_ENUM)
		return;
	field = field_of(opt, c);
	free(*field);
	*field = NULL;
}
