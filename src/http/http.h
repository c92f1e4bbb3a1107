/* http: the HTTP/1.1 server — route table, request bodies, request ids,
 * authentication hook, JSON replies, and suspend/resume for replies that
 * wait on a commit. */
#ifndef GRANTD_HTTP_H
#define GRANTD_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PUT = 1 << 2,
	HTTP_DELETE = 1 << 3,
	HTTP_PATCH = 1 << 4,
};

struct http_request;  /* opaque; one per HTTP request */

typedef void (*http_handler_fn)(struct http_request *req);

/* Route flags. */
#define HTTP_ROUTE_JSON_BODY 1u  /* Content-Type must be application/json */
/* The route's path parameters are secrets (a webhook secret in the URL):
 * the access log and the router's error messages show each as
 * "(redacted)", for this route and for any path that shares its literal
 * segments up to the parameter, matched or not. */
#define HTTP_ROUTE_SECRET_PARAMS 2u
/* The route's scopes are alternatives: a credential with any one of them
 * may call it (by default it needs every one). */
#define HTTP_ROUTE_ANY_SCOPE 4u

/* One row of the route table. A pattern is a path whose segments are
 * literals or "{name}" parameters, e.g. "/v1/accounts/{account_id}"; it
 * may end with a slash ("/console/"), which the request path must too.
 * Parameters are percent-decoded and must be non-empty. */
struct http_route {
	enum http_method method;
	const char *pattern;
	http_handler_fn handler;
	unsigned scopes;       /* credential scopes required; 0: no credential */
	unsigned flags;
	const char *name;      /* short name for logs, e.g. "primegaming.fulfill" */
	void *ctx;             /* handed to the handler via http_request_ctx */
	/* Answers a request whose credential is over its rate limit, once the
	 * body is read (Retry-After is already set); NULL: a generic 429
	 * RequestThrottled. It must reply with 429 and change nothing. */
	http_handler_fn throttled;
};

/* Who made the request, filled by the authentication hook. */
#define HTTP_PRINCIPAL_ID_MAX 48
#define HTTP_PRINCIPAL_NAME_MAX 64
struct http_principal {
	char id[HTTP_PRINCIPAL_ID_MAX + 1];
	char name[HTTP_PRINCIPAL_NAME_MAX + 1];
	unsigned scopes;
	unsigned retry_after_s;  /* with HTTP_AUTH_THROTTLED */
};

enum http_auth_result {
	HTTP_AUTH_OK,
	HTTP_AUTH_MISSING,    /* no credential: 401 */
	HTTP_AUTH_INVALID,    /* unknown, revoked or expired credential: 401 */
	HTTP_AUTH_FORBIDDEN,  /* valid credential without the scope: 403 */
	HTTP_AUTH_THROTTLED,  /* valid, but over its rate limit: 429 */
};

/* Checks an Authorization header value (NULL if absent) against the scopes
 * a route requires; fills *out unless the result is _MISSING or _INVALID.
 * With HTTP_AUTH_ANY_SCOPE set in required_scopes, any one of the other
 * bits suffices (a route with HTTP_ROUTE_ANY_SCOPE); otherwise every bit
 * is required. */
#define HTTP_AUTH_ANY_SCOPE (1u << 31)
typedef enum http_auth_result (*http_auth_fn)(void *arg,
					      const char *authorization,
					      unsigned required_scopes,
					      struct http_principal *out);

struct http_options {
	const char *listen;          /* "host:port", "[v6addr]:port"; port 0 = any */
	int threads;                 /* >= 1: event loops, each a thread */
	size_t max_body_bytes;
	unsigned connection_timeout_s;  /* idle connections are closed */
	/* a connection's first request header block must be in this soon */
	unsigned request_header_timeout_s;
	unsigned max_connections;
	unsigned max_connections_per_ip; /* 0: no limit */
	size_t max_header_bytes;        /* per-connection memory for headers */
	const char *tls_cert_pem;       /* both set: HTTPS only (TLS 1.2+); */
	const char *tls_key_pem;        /* the PEM texts, borrowed */
	const struct http_route *routes;
	size_t n_routes;
	http_auth_fn auth;
	void *auth_arg;
	/* A socket http_listen opened earlier (taken over, closed by the
	 * server), or 0: the server opens `listen` itself. */
	int listen_fd;
	int listen_family;
};

struct http_server;

/* Opens a listening TCP socket on "host:port" or "[v6]:port" (port 0: any
 * free port), so a caller can find the address taken before it creates
 * anything else. Returns 0 with the socket in *fd (owned by the caller,
 * or handed to http_server_start) and its family in *family, or -1 with
 * a message naming the address and the reason in *err (owned). */
int http_listen(const char *address, int *fd, int *family, char **err);

/* Starts listening and serving. Returns 0 and a new server, or -1 and a
 * message in *err (owned by the caller). */
int http_server_start(const struct http_options *opts, struct http_server **out,
		      char **err);
/* The port actually bound (useful when listening on port 0). */
uint16_t http_server_port(const struct http_server *s);
/* Stops accepting new connections. Requests already begun are served to
 * the end; new requests on connections still open get 503 ShuttingDown
 * with Connection: close. */
void http_server_quiesce(struct http_server *s);
/* Waits until no request is in flight, or `timeout_ms` passes.
 * Returns 0 if idle, -1 on timeout. */
int http_server_wait_idle(struct http_server *s, int timeout_ms);
/* Closes every connection and frees the server. Accepts NULL. */
void http_server_stop(struct http_server *s);

/* ---- inside a handler: what was asked (all borrowed, valid until the
 * request completes) ---------------------------------------------------- */

/* The ctx of the route that matched (borrowed). */
void *http_request_ctx(const struct http_request *req);
const char *http_request_id(const struct http_request *req);
/* A path parameter by name, decoded; NULL if the route has none by that name. */
const char *http_request_param(const struct http_request *req, const char *name);
/* A query argument, percent-decoded ('+' is a space); NULL if absent.
 * Sets *bad when present but malformed. */
const char *http_request_query(struct http_request *req, const char *name,
			       bool *bad);
/* The whole query string as received, "k=v&k2=v2" with values still
 * %-encoded (borrowed; "" when there is none). */
const char *http_request_query_string(struct http_request *req);
/* The client's address (a struct sockaddr_in or _in6; borrowed), or NULL
 * if unknown. */
const void *http_request_client_addr(const struct http_request *req);
/* An optional integer query argument in [min, max] into *out (left as is
 * when absent). Returns 0, or replies 400 InvalidRequest naming the
 * argument and its range, and returns -1. */
int http_request_query_int(struct http_request *req, const char *name,
			   int64_t min, int64_t max, int64_t *out);
/* The rate limit's retry delay in seconds (inside a throttled handler). */
unsigned http_request_retry_after(const struct http_request *req);
/* True if the request's Content-Type is `type` (any case), optionally
 * followed by parameters ("; charset=utf-8"). */
bool http_request_content_type_is(const struct http_request *req,
				  const char *type);
/* A request header, NULL if absent. */
const char *http_request_header(const struct http_request *req, const char *name);
/* Writes "body: invalid JSON at line L column C: <why>" for jansson's
 * error `e` into msg, in words for people: jansson's own text for some
 * errors names its flags ("\u0000 is not allowed without JSON_ALLOW_NUL"). */
void http_json_error_format(const json_error_t *e, char *msg, size_t size);

/* The body (NUL-terminated; may be empty). */
const char *http_request_body(const struct http_request *req, size_t *len);
const struct http_principal *http_request_principal(const struct http_request *req);
/* Records who made the request, for handlers that authenticate it
 * themselves (the access log names the credential). */
void http_request_set_principal(struct http_request *req,
				const struct http_principal *p);

/* Adds fields to the request's access log line (copied). */
void http_request_log_account(struct http_request *req, const char *account_id);
void http_request_log_transaction(struct http_request *req, const char *id);

/* Attaches handler state freed with `free_fn` when the request completes. */
void http_request_set_state(struct http_request *req, void *state,
			    void (*free_fn)(void *state));

/* ---- statistics ------------------------------------------------------- */

/* Upper bounds (seconds) of the request duration histogram buckets; the
 * last bucket is +Inf. */
#define HTTP_LATENCY_BUCKETS 13
extern const double http_latency_bounds[HTTP_LATENCY_BUCKETS - 1];

/* Counts for one route ("unmatched" for requests no route took). */
struct http_route_stats {
	const char *name;
	uint64_t by_status[600];                  /* index: HTTP status */
	uint64_t latency[HTTP_LATENCY_BUCKETS];   /* non-cumulative */
	double latency_sum;                       /* seconds */
	uint64_t count;
};
typedef void (*http_route_stats_fn)(void *arg, const struct http_route_stats *s);

/* Calls fn for every route of the server handling `req`, then the
 * unmatched pseudo-route. */
void http_stats_each(const struct http_request *req, http_route_stats_fn fn,
		     void *arg);
/* Requests being handled now by the server handling `req`. */
long http_stats_in_flight(const struct http_request *req);

/* The connection table of the server handling `req`: open connections,
 * and connections closed by its defences since start. */
struct http_conn_stats {
	uint64_t open;
	uint64_t header_timeouts;  /* no request head by the deadline */
	uint64_t evicted;          /* closed to make room in a full table */
	uint64_t refused_per_ip;   /* over server.max_connections_per_ip */
};
void http_stats_connections(const struct http_request *req,
			    struct http_conn_stats *out);

/* ---- answering: exactly one reply per request ------------------------ */

/* Adds a response header to the coming reply (both strings copied). */
void http_reply_header(struct http_request *req, const char *name,
		       const char *value);
/* Replies with a JSON document; takes over the caller's reference. */
void http_reply_json(struct http_request *req, unsigned status, json_t *body);
/* Replies with `text` (owned: taken over and freed) as `content_type`. */
void http_reply_text(struct http_request *req, unsigned status,
		     const char *content_type, char *text);
/* Replies with `len` static bytes (not copied; must outlive the reply) as
 * `content_type`. */
void http_reply_bytes(struct http_request *req, unsigned status,
		      const char *content_type, const void *data, size_t len);
/* Replies with no body and no Content-Type (204 No Content). */
void http_reply_empty(struct http_request *req, unsigned status);
/* Replies with a static JSON text (not copied; must outlive the reply). */
void http_reply_static(struct http_request *req, unsigned status,
		       const char *json);
/* Replies {"error": {"code": code, "message": <formatted>}}. */
void http_reply_error(struct http_request *req, unsigned status,
		      const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Defers the reply: call in the handler BEFORE handing work to another
 * thread. That thread later calls one of the http_reply_* functions, which
 * resumes the request. */
void http_request_suspend(struct http_request *req);

#endif
