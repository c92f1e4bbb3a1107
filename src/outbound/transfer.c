/* outbound/transfer.c: one request — its libcurl handle with grantd's
 * rules (http and https only, TLS verified, no redirects, a timeout and a
 * response cap), the headers it keeps, and its answer. */
#include "outbound/outbound_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const error_names[] = {
	[OUTBOUND_OK] = "ok",
	[OUTBOUND_TIMEOUT] = "timeout",
	[OUTBOUND_TOO_LARGE] = "too_large",
	[OUTBOUND_CONNECT] = "connect",
	[OUTBOUND_FAILED] = "failed",
	[OUTBOUND_CLOSED] = "closed",
};

const char *outbound_error_name(enum outbound_error e)
{
	return error_names[e];
}

/* CURLOPT_WRITEFUNCTION: keeps the body up to the cap. */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct outbound_transfer *t = arg;

	if (util_buf_append(&t->response, data, size * n)) {
		t->too_large = true;
		return 0;  /* libcurl stops with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* Copies the value of header line `line` into out if it is `name`. */
static void header_value(const char *line, size_t n, const char *name,
			 char out[OUTBOUND_HEADER_VALUE_MAX])
{
	size_t k = strlen(name), end;

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	end = n;
	while (end && isspace((unsigned char)line[end - 1]))
		end--;
	if (end >= OUTBOUND_HEADER_VALUE_MAX)
		end = OUTBOUND_HEADER_VALUE_MAX - 1;
	memcpy(out, line, end);
	out[end] = '\0';
}

/* CURLOPT_HEADERFUNCTION: keeps the headers callers act on. */
static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct outbound_transfer *t = arg;

	header_value(line, size * n, "Retry-After", t->retry_after);
	header_value(line, size * n, "Ratelimit-Reset", t->ratelimit_reset);
	return size * n;
}

/* Applies the method and body. */
static void set_method(struct outbound_transfer *t, const struct outbound_request *r)
{
	const char *m = r->method ? r->method : "GET";

	if (r->body) {
		t->body = util_xmalloc(r->body_len + 1);
		memcpy(t->body, r->body, r->body_len);
		t->body[r->body_len] = '\0';
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->body_len);
	}
	if (strcmp(m, "GET") == 0 && !r->body)
		curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
	else if (strcmp(m, "POST") != 0)
		curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, m);
}

static void set_options(struct outbound_transfer *t, const struct outbound_request *r)
{
	CURL *e = t->easy;

	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 5000L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "grantd/" GRANTD_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	/* no "Expect: 100-continue" wait on larger bodies */
	t->headers = curl_slist_append(t->headers, "Expect:");
	for (size_t i = 0; i < OUTBOUND_HEADERS_MAX && r->headers[i]; i++)
		t->headers = curl_slist_append(t->headers, r->headers[i]);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	set_method(t, r);
}

struct outbound_transfer *outbound__transfer_new(const struct outbound_request *r)
{
	struct outbound_transfer *t = util_xcalloc(1, sizeof(*t));

	t->url = util_xstrdup(r->url ? r->url : "");
	t->done = r->done;
	t->arg = r->arg;
	t->peer = r->peer ? r->peer : "other";
	t->start_us = util_mono_us();
	util_buf_init(&t->response, r->max_response_bytes ?
		      r->max_response_bytes : 4u << 20);
	t->easy = curl_easy_init();
	if (t->easy)
		set_options(t, r);
	else
		t->refused = true;
	return t;
}

void outbound__transfer_free(struct outbound_transfer *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	util_buf_release(&t->response);
	free(t->url);
	free(t->body);
	free(t);
}

static enum outbound_error classify(const struct outbound_transfer *t, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return OUTBOUND_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return OUTBOUND_TIMEOUT;
	case CURLE_WRITE_ERROR:
		return t->too_large ? OUTBOUND_TOO_LARGE : OUTBOUND_FAILED;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return OUTBOUND_CONNECT;
	default:
		return OUTBOUND_FAILED;
	}
}

void outbound__answer(struct outbound_transfer *t, CURLcode rc,
		      enum outbound_error forced)
{
	struct outbound_response r = {
		.error = forced != OUTBOUND_OK ? forced : classify(t, rc),
		.body = t->response.data ? t->response.data : "",
		.len = t->response.len,
		.retry_after = t->retry_after[0] ? t->retry_after : NULL,
		.ratelimit_reset = t->ratelimit_reset[0] ? t->ratelimit_reset : NULL,
		.duration_us = util_mono_us() - t->start_us,
	};
	char message[CURL_ERROR_SIZE + 64];

	if (r.error == OUTBOUND_OK && t->easy)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
	if (r.error == OUTBOUND_OK)
		snprintf(message, sizeof(message), "HTTP %ld", r.status);
	else if (r.error == OUTBOUND_TOO_LARGE)
		snprintf(message, sizeof(message), "the answer is larger than %zu "
			 "bytes", t->response.max);
	else if (r.error == OUTBOUND_CLOSED)
		snprintf(message, sizeof(message), "abandoned: grantd is stopping");
	else
		snprintf(message, sizeof(message), "%s", t->errbuf[0] ? t->errbuf :
			 curl_easy_strerror(rc));
	r.message = message;
	outbound__count(t->peer, r.error, r.status);
	if (t->done)
		t->done(&r, t->arg);
}

/* ---- waiting for several answers ------------------------------------------ */

struct run_state {
	pthread_mutex_t lock;
	pthread_cond_t all_done;
	size_t left;
};

struct run_slot {
	struct run_state *state;
	struct outbound_result *result;
};

static char *dup_or_null(const char *s)
{
	return s ? util_xstrdup(s) : NULL;
}

static void keep(const struct outbound_response *r, struct outbound_result *out)
{
	out->error = r->error;
	out->status = r->status;
	out->body = util_xmalloc(r->len + 1);
	memcpy(out->body, r->body, r->len);
	out->body[r->len] = '\0';
	out->len = r->len;
	out->retry_after = dup_or_null(r->retry_after);
	out->ratelimit_reset = dup_or_null(r->ratelimit_reset);
	snprintf(out->message, sizeof(out->message), "%s", r->message);
	out->duration_us = r->duration_us;
}

static void run_done(const struct outbound_response *r, void *arg)
{
	struct run_slot *slot = arg;

	keep(r, slot->result);
	pthread_mutex_lock(&slot->state->lock);
	if (--slot->state->left == 0)
		pthread_cond_signal(&slot->state->all_done);
	pthread_mutex_unlock(&slot->state->lock);
}

void outbound_run(struct outbound *o, const struct outbound_request *reqs,
		  struct outbound_result *results, size_t n)
{
	struct run_state state = { .left = n };
	struct run_slot *slots = util_xcalloc(n ? n : 1, sizeof(*slots));

	pthread_mutex_init(&state.lock, NULL);
	pthread_cond_init(&state.all_done, NULL);
	memset(results, 0, n * sizeof(*results));
	for (size_t i = 0; i < n; i++) {
		struct outbound_request r = reqs[i];
		struct outbound_response closed = { .error = OUTBOUND_CLOSED,
						    .body = "", .message =
						    "abandoned: grantd is stopping" };

		slots[i] = (struct run_slot){ &state, &results[i] };
		r.done = run_done;
		r.arg = &slots[i];
		if (outbound_submit(o, &r))
			run_done(&closed, &slots[i]);
	}
	pthread_mutex_lock(&state.lock);
	while (state.left)
		pthread_cond_wait(&state.all_done, &state.lock);
	pthread_mutex_unlock(&state.lock);
	pthread_cond_destroy(&state.all_done);
	pthread_mutex_destroy(&state.lock);
	free(slots);
}

void outbound_result_release(struct outbound_result *r)
{
	free(r->body);
	free(r->retry_after);
	free(r->ratelimit_reset);
	memset(r, 0, sizeof(*r));
}

void outbound_url_for_log(const char *url, char *out, size_t size)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *at = strchr(host, '@'), *slash = strchr(host, '/');
	size_t keep_len;

	if (at && (!slash || at < slash))
		host = at + 1;  /* drop user:password@ */
	keep_len = strcspn(host, "?#");
	snprintf(out, size, "%.*s%.*s", scheme ? (int)(scheme + 3 - url) : 0, url,
		 (int)keep_len, host);
}
