/* auth/endpoint.c: POST /oauth2/token — the OAuth 2.0 client credentials
 * grant (RFC 6749 §4.4), with errors shaped as §5.2 prescribes. */
#include "auth/auth_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_ID_MAX HTTP_PRINCIPAL_ID_MAX
#define CLIENT_SECRET_MAX 128

/* Every answer of the token endpoint must not be cached (RFC 6749 §5.1). */
static void no_store(struct http_request *req)
{
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_header(req, "Pragma", "no-cache");
}

/* {"error": code, "error_description": …} with `status`. */
__attribute__((format(printf, 4, 5)))
static void oauth_error(struct http_request *req, unsigned status,
			const char *code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	no_store(req);
	if (status == 401)
		http_reply_header(req, "WWW-Authenticate", "Basic realm=\"grantd\"");
	http_reply_json(req, status, json_pack("{s:s, s:s}", "error", code,
					       "error_description", msg));
}

/* The client's credentials, from Basic or the body. */
struct client_auth {
	char id[CLIENT_ID_MAX + 1];
	char secret[CLIENT_SECRET_MAX + 1];
	bool basic;      /* presented with HTTP Basic */
	bool present;    /* some client authentication was presented */
};

/* Reads the request into *form and *ca. Returns false after replying with
 * invalid_request or invalid_client. */
static bool read_request(struct http_request *req, struct auth_form *form,
			 struct client_auth *ca)
{
	const char *authz = http_request_header(req, "Authorization");
	const char *body, *id, *secret;
	char bad[64];
	size_t len;
	int rc;

	if (!http_request_content_type_is(req, "application/x-www-form-urlencoded")) {
		oauth_error(req, 400, "invalid_request", "Content-Type must be "
			    "application/x-www-form-urlencoded");
		return false;
	}
	body = http_request_body(req, &len);
	rc = auth_form_parse(body, len, form, bad, sizeof(bad));
	if (rc == AUTH_FORM_DUPLICATE) {
		oauth_error(req, 400, "invalid_request", "parameter \"%s\" is "
			    "given more than once", bad);
		return false;
	}
	if (rc) {
		oauth_error(req, 400, "invalid_request", "the body is not a valid "
			    "application/x-www-form-urlencoded form");
		return false;
	}
	id = auth_form_get(form, "client_id");
	secret = auth_form_get(form, "client_secret");
	if (authz) {
		ca->basic = true;
		if (auth_basic_parse(authz, ca->id, sizeof(ca->id), ca->secret,
				     sizeof(ca->secret))) {
			oauth_error(req, 401, "invalid_client", "the Authorization "
				    "header is not valid HTTP Basic client "
				    "authentication");
			return false;
		}
		if (secret || (id && strcmp(id, ca->id) != 0)) {
			oauth_error(req, 400, "invalid_request", "use one client "
				    "authentication method: HTTP Basic or "
				    "client_id and client_secret in the body, not both");
			return false;
		}
		ca->present = true;
	} else if (id && secret) {
		if (strlen(id) > CLIENT_ID_MAX || strlen(secret) > CLIENT_SECRET_MAX) {
			oauth_error(req, 401, "invalid_client", "client "
				    "authentication failed");
			return false;
		}
		snprintf(ca->id, sizeof(ca->id), "%s", id);
		snprintf(ca->secret, sizeof(ca->secret), "%s", secret);
		ca->present = true;
	}
	if (!auth_form_get(form, "grant_type")) {
		oauth_error(req, 400, "invalid_request", "grant_type is required");
		return false;
	}
	return true;
}

/* Checks the requested scope against the client's. Returns false after
 * replying invalid_scope. */
static bool grant_scopes(struct http_request *req, const char *scope,
			 unsigned held, unsigned *granted)
{
	unsigned want;

	if (!scope) {
		*granted = held;
		return true;
	}
	if (!*scope || auth_scopes_parse(scope, &want) || want == 0) {
		oauth_error(req, 400, "invalid_scope", "unknown scope in \"%.64s\" "
			    "(known: %s)", scope, auth_scope_names());
		return false;
	}
	if ((want & held) != want) {
		oauth_error(req, 400, "invalid_scope", "the client may not have "
			    "scope \"%.64s\"", scope);
		return false;
	}
	*granted = want;
	return true;
}

/* Authenticates the client and checks what it asks for. Returns false
 * after replying. */
static bool authorize(struct http_request *req, struct auth *a,
		      const struct auth_form *form, const struct client_auth *ca,
		      struct http_principal *client, unsigned *scopes)
{
	enum auth_client_rc rc;
	unsigned retry = 0;
	char text[16];

	rc = ca->present ? auth_client_authenticate(a, ca->id, ca->secret, client) :
		AUTH_CLIENT_UNKNOWN;
	if (rc == AUTH_CLIENT_UNKNOWN) {
		oauth_error(req, 401, "invalid_client", ca->present ? "client "
			    "authentication failed" : "client authentication "
			    "is required (HTTP Basic, or client_id and "
			    "client_secret in the body)");
		return false;
	}
	http_request_set_principal(req, client);
	if (strcmp(auth_form_get(form, "grant_type"), "client_credentials") != 0) {
		oauth_error(req, 400, "unsupported_grant_type", "grant_type must "
			    "be client_credentials");
		return false;
	}
	if (rc == AUTH_CLIENT_NOT_OAUTH) {
		oauth_error(req, 400, "unauthorized_client", "\"%s\" is an API "
			    "key, not an OAuth client; send it as a bearer "
			    "credential instead", client->id);
		return false;
	}
	if (!grant_scopes(req, auth_form_get(form, "scope"), client->scopes, scopes))
		return false;
	if (!auth_rate_take(a, client->id, &retry)) {
		snprintf(text, sizeof(text), "%u", retry);
		http_reply_header(req, "Retry-After", text);
		no_store(req);
		http_reply_json(req, 429, json_pack("{s:s, s:s}", "error",
			"temporarily_unavailable", "error_description",
			"the client is over its rate limit; retry later"));
		return false;
	}
	return true;
}

static void issue(struct http_request *req, struct auth *a,
		  const struct http_principal *client, unsigned scopes)
{
	char names[128];
	int64_t expires_in;
	char *token = auth_issue_for(a, client->id, scopes, &expires_in);

	if (!token) {
		oauth_error(req, 500, "server_error", "the access token could not "
			    "be signed");
		return;
	}
	auth_scopes_format(scopes, names, sizeof(names));
	no_store(req);
	http_reply_json(req, 200, json_pack("{s:s, s:s, s:I, s:s}",
		"access_token", token, "token_type", "Bearer",
		"expires_in", (json_int_t)expires_in, "scope", names));
	free(token);
}

void auth_token_endpoint(struct http_request *req)
{
	struct auth *a = http_request_ctx(req);
	struct auth_form form = { .len = 0 };
	struct client_auth ca;
	struct http_principal client;
	unsigned scopes = 0;

	memset(&ca, 0, sizeof(ca));
	memset(&client, 0, sizeof(client));
	if (!auth_oauth_enabled(a)) {
		/* a new database gets a key at start, and the last active key
		 * cannot be retired: only a hand-edited database lands here */
		no_store(req);
		http_reply_error(req, 503, "OAuthUnavailable", "no access token "
				 "signing key is in force; see grantd signing-keys "
				 "list");
		return;
	}
	if (read_request(req, &form, &ca) &&
	    authorize(req, a, &form, &ca, &client, &scopes))
		issue(req, a, &client, scopes);
	auth_form_release(&form);
	explicit_bzero(ca.secret, sizeof(ca.secret));
}
