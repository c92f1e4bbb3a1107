/* sources/pull_http.c: what every pull provider shares — calls with the
 * provider's timeout and cap, describing failures without secrets, form
 * and URL encoding, OAuth token requests, and rate limits. */
#include "sources/pull_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Refresh an app token this long before it expires. */
#define APP_TOKEN_MARGIN_MS 60000
/* The longest rate-limit pause honoured. */
#define RATE_LIMIT_MAX_MS 60000

void pull_tokens_release(struct pull_tokens *t)
{
	free(t->access);
	free(t->refresh);
	memset(t, 0, sizeof(*t));
}

void pull_fetch_add(struct pull_fetch *f, const char *entitlement_id,
		    const char *item_id, enum catalog_provider ns,
		    int64_t quantity, const char *report)
{
	struct pull_item *it;

	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 16;
		f->items = util_xrealloc(f->items, f->cap * sizeof(*f->items));
	}
	it = &f->items[f->n++];
	it->entitlement_id = util_xstrdup(entitlement_id);
	it->item_id = util_xstrdup(item_id);
	it->ns = ns;
	it->quantity = quantity;
	it->report = report ? util_xstrdup(report) : NULL;
	it->user_id = NULL;
}

void pull_fetch_fail(struct pull_fetch *f, enum pull_status status,
		     const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
}

void pull_fetch_release(struct pull_fetch *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->items[i].entitlement_id);
		free(f->items[i].item_id);
		free(f->items[i].report);
		free(f->items[i].user_id);
	}
	free(f->items);
	memset(f, 0, sizeof(*f));
}

/* ---- calls ------------------------------------------------------------- */

static void fill_request(const struct pull_provider *p,
			 struct outbound_request *r)
{
	r->peer = p->source->id;
	r->timeout_ms = (long)p->settings.timeout_ms;
	r->max_response_bytes = (size_t)p->settings.max_response_bytes;
}

void pull_http(struct pull_provider *p, const char *method, const char *url,
	       const char *const *headers, const char *body,
	       struct outbound_result *out)
{
	struct outbound_request r = {
		.method = method, .url = url, .body = body,
		.body_len = body ? strlen(body) : 0,
	};

	for (size_t i = 0; headers && headers[i] && i < OUTBOUND_HEADERS_MAX; i++)
		r.headers[i] = headers[i];
	fill_request(p, &r);
	outbound_run(p->outbound, &r, out, 1);
}

void pull_http_many(struct pull_provider *p, struct outbound_request *reqs,
		    struct outbound_result *results, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fill_request(p, &reqs[i]);
	outbound_run(p->outbound, reqs, results, n);
}

void pull_describe(const struct pull_provider *p, const char *what,
		   const struct outbound_result *r, char *out, size_t size)
{
	const char *name = p->source->id;

	if (r->error == OUTBOUND_TIMEOUT)
		snprintf(out, size, "%s: %s: no answer within %lld ms", name,
			 what, (long long)p->settings.timeout_ms);
	else if (r->error == OUTBOUND_TOO_LARGE)
		snprintf(out, size, "%s: %s: answer larger than %lld bytes",
			 name, what, (long long)p->settings.max_response_bytes);
	else if (r->error != OUTBOUND_OK)
		snprintf(out, size, "%s: %s: %s", name, what, r->message);
	else
		snprintf(out, size, "%s: %s: HTTP %ld", name, what, r->status);
}

bool pull_transient(const struct outbound_result *r)
{
	return r->error != OUTBOUND_OK || r->status == 429 || r->status >= 500;
}

char *pull_json_text(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	UTIL_ASSERT(text);
	return text;
}

json_t *pull_json(const struct outbound_result *r)
{
	if (r->error != OUTBOUND_OK)
		return NULL;
	return json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
}

/* ---- encoding ---------------------------------------------------------- */

void pull_form_add(struct util_buf *b, const char *name, const char *value)
{
	if (b->len)
		util_buf_putc(b, '&');
	util_buf_puts(b, name);
	util_buf_putc(b, '=');
	util_percent_encode(b, value);
}

/* "Authorization: Basic base64(id:secret)" (RFC 6749 §2.3.1: each part
 * form-encoded first). Returns an owned header line. */
static char *basic_header(const char *id, const char *secret)
{
	struct util_buf plain;
	unsigned char *enc;
	char *line;

	util_buf_init(&plain, 0);
	util_percent_encode(&plain, id);
	util_buf_putc(&plain, ':');
	util_percent_encode(&plain, secret);
	enc = util_xmalloc(4 * (plain.len / 3 + 1) + 1);
	EVP_EncodeBlock(enc, (const unsigned char *)plain.data, (int)plain.len);
	line = util_xasprintf("Authorization: Basic %s", (char *)enc);
	free(enc);
	util_buf_release(&plain);
	return line;
}

/* POSTs a token request: `form` plus the client's credentials. Returns
 * the parsed answer (new reference) with the status in *status, or NULL
 * with why in err (and *status 0 for a transport failure). */
static json_t *token_request(struct pull_provider *p, const char *url,
			     bool basic, struct util_buf *form, long *status,
			     char *err, size_t size)
{
	const struct pull_settings *s = &p->settings;
	char *auth = NULL;
	const char *headers[3] = {
		"Content-Type: application/x-www-form-urlencoded",
	};
	struct outbound_result r;
	json_t *j = NULL;

	if (basic) {
		auth = basic_header(s->client_id, s->client_secret);
		headers[1] = auth;
	} else {
		pull_form_add(form, "client_id", s->client_id);
		pull_form_add(form, "client_secret", s->client_secret);
	}
	pull_http(p, "POST", url, headers, form->data ? form->data : "", &r);
	*status = r.error == OUTBOUND_OK ? r.status : 0;
	if (r.error != OUTBOUND_OK || !(j = pull_json(&r)) || !json_is_object(j)) {
		if (r.error == OUTBOUND_OK && r.status < 500 && r.status != 429)
			snprintf(err, size, "%s: token: HTTP %ld without a "
				 "JSON answer", p->source->id, r.status);
		else
			pull_describe(p, "token", &r, err, size);
		json_decref(j);
		j = NULL;
	}
	outbound_result_release(&r);
	free(auth);
	return j;
}

int pull_tokens_from_json(json_t *answer, struct pull_tokens *out)
{
	const char *access = json_string_value(json_object_get(answer,
							       "access_token"));
	const char *refresh = json_string_value(json_object_get(answer,
								"refresh_token"));
	json_t *expires = json_object_get(answer, "expires_in");

	if (!access || !*access)
		return -1;
	memset(out, 0, sizeof(*out));
	out->access = util_xstrdup(access);
	out->refresh = refresh && *refresh ? util_xstrdup(refresh) : NULL;
	if (json_is_integer(expires) && json_integer_value(expires) > 0)
		out->expires_at_ms = util_now_ms() +
				     json_integer_value(expires) * 1000;
	return 0;
}

/* The OAuth error code of a token answer ("invalid_grant"), or "". */
static const char *oauth_error(json_t *answer)
{
	const char *e = json_string_value(json_object_get(answer, "error"));

	return e ? e : "";
}

char *pull_app_token(struct pull_provider *p, const char *token_url, bool basic,
		     const char *extra_form, char *err, size_t size)
{
	struct util_buf form;
	struct pull_tokens t;
	char *token = NULL;
	json_t *j;
	long status;

	pthread_mutex_lock(&p->lock);
	if (p->app_token && p->app_token_expires_ms > util_now_ms())
		token = util_xstrdup(p->app_token);
	pthread_mutex_unlock(&p->lock);
	if (token)
		return token;
	util_buf_init(&form, 0);
	pull_form_add(&form, "grant_type", "client_credentials");
	if (extra_form && *extra_form) {
		util_buf_putc(&form, '&');
		util_buf_puts(&form, extra_form);
	}
	j = token_request(p, token_url, basic, &form, &status, err, size);
	util_buf_release(&form);
	if (!j)
		return NULL;
	if (status != 200 || pull_tokens_from_json(j, &t)) {
		snprintf(err, size, "%s: token: HTTP %ld %s", p->source->id,
			 status, oauth_error(j));
		json_decref(j);
		return NULL;
	}
	json_decref(j);
	pthread_mutex_lock(&p->lock);
	free(p->app_token);
	p->app_token = util_xstrdup(t.access);
	p->app_token_expires_ms = (t.expires_at_ms ? t.expires_at_ms :
				   util_now_ms() + 3600000) - APP_TOKEN_MARGIN_MS;
	pthread_mutex_unlock(&p->lock);
	token = t.access;
	t.access = NULL;
	pull_tokens_release(&t);
	return token;
}

void pull_app_token_forget(struct pull_provider *p, const char *token)
{
	pthread_mutex_lock(&p->lock);
	if (p->app_token && token && strcmp(p->app_token, token) == 0) {
		free(p->app_token);
		p->app_token = NULL;
	}
	pthread_mutex_unlock(&p->lock);
}

int pull_refresh_user_token(struct pull_provider *p, struct pull_link *link,
			    const char *token_url, bool basic, char *err,
			    size_t size)
{
	struct util_buf form;
	struct pull_tokens t;
	json_t *j;
	long status;

	if (!link->tokens.refresh) {
		snprintf(err, size, "%s: the link holds no refresh token; the "
			 "player must link again", p->source->id);
		link->relink_required = true;
		return -1;
	}
	util_buf_init(&form, 0);
	pull_form_add(&form, "grant_type", "refresh_token");
	pull_form_add(&form, "refresh_token", link->tokens.refresh);
	j = token_request(p, token_url, basic, &form, &status, err, size);
	util_buf_release(&form);
	if (!j)
		return -2;
	if (status == 200 && pull_tokens_from_json(j, &t) == 0) {
		if (!t.refresh)  /* the same refresh token stays valid */
			t.refresh = util_xstrdup(link->tokens.refresh);
		pull_tokens_release(&link->tokens);
		link->tokens = t;
		link->tokens_changed = true;
		json_decref(j);
		return 0;
	}
	snprintf(err, size, "%s: refresh: HTTP %ld %s", p->source->id, status,
		 oauth_error(j));
	json_decref(j);
	if (status == 400 || status == 401) {
		/* invalid_grant, or a provider that answers with a status
		 * alone: the refresh token is dead either way */
		link->relink_required = true;
		return -1;
	}
	return -2;
}

int pull_code_exchange(struct pull_provider *p, const char *token_url,
		       bool basic, const char *code, const char *verifier,
		       const char *redirect_uri, struct pull_tokens *out,
		       json_t **answer, char *err, size_t size)
{
	struct util_buf form;
	json_t *j;
	long status;

	*answer = NULL;
	util_buf_init(&form, 0);
	pull_form_add(&form, "grant_type", "authorization_code");
	pull_form_add(&form, "code", code);
	pull_form_add(&form, "redirect_uri", redirect_uri);
	pull_form_add(&form, "code_verifier", verifier);
	j = token_request(p, token_url, basic, &form, &status, err, size);
	util_buf_release(&form);
	if (!j)
		return -1;
	if (status != 200 || pull_tokens_from_json(j, out)) {
		snprintf(err, size, "%s: code exchange: HTTP %ld %s",
			 p->source->id, status, oauth_error(j));
		json_decref(j);
		return -1;
	}
	*answer = j;
	return 0;
}

/* ---- rate limits ------------------------------------------------------- */

void pull_note_rate_limit(struct pull_provider *p, const struct outbound_result *r)
{
	int64_t now = util_now_ms(), until = now + 1000, v;

	if (r->ratelimit_reset &&
	    util_parse_int64(r->ratelimit_reset, 0, INT64_MAX / 1000, &v) == 0)
		until = v * 1000;
	else if (r->retry_after &&
		 util_parse_int64(r->retry_after, 0, 86400, &v) == 0)
		until = now + v * 1000;
	if (until > now + RATE_LIMIT_MAX_MS)
		until = now + RATE_LIMIT_MAX_MS;
	pthread_mutex_lock(&p->lock);
	if (until > p->blocked_until_ms)
		p->blocked_until_ms = until;
	pthread_mutex_unlock(&p->lock);
}

bool pull_rate_limited(struct pull_provider *p, int64_t *ms)
{
	int64_t now = util_now_ms();
	bool limited;

	pthread_mutex_lock(&p->lock);
	limited = p->blocked_until_ms > now;
	*ms = limited ? p->blocked_until_ms - now : 0;
	pthread_mutex_unlock(&p->lock);
	return limited;
}
