/* http/request.c: what a handler can read from its request. */
#include "http/http_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void *http_request_ctx(const struct http_request *req)
{
	return req->route ? req->route->route->ctx : NULL;
}

const char *http_request_id(const struct http_request *req)
{
	return req->request_id;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_params; i++)
		if (strcmp(req->param_name[i], name) == 0)
			return req->param_value[i];
	return NULL;
}

/* The raw value of the first query argument named `name` (compared as
 * sent), into *v and *n; false if absent or without '='. */
static bool query_lookup(const char *q, const char *name, const char **v,
			 size_t *n)
{
	size_t name_len = strlen(name);

	while (*q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);
		size_t key_len = eq ? (size_t)(eq - q) : len;

		if (key_len == name_len && memcmp(q, name, name_len) == 0) {
			if (!eq)
				return false;
			*v = eq + 1;
			*n = len - key_len - 1;
			return true;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return false;
}

const char *http_request_query(struct http_request *req, const char *name,
			       bool *bad)
{
	const char *raw;
	size_t n;
	char *v;

	*bad = false;
	if (!query_lookup(req->query, name, &raw, &n))
		return NULL;
	v = util_xmalloc(n + 1);
	if (util_percent_decode(raw, n, v, true) < 0) {
		free(v);
		*bad = true;
		return NULL;
	}
	util_strlist_add(&req->query_values, "%s", v);
	free(v);
	return req->query_values.items[req->query_values.len - 1];
}

const char *http_request_query_string(struct http_request *req)
{
	return req->query;
}

const void *http_request_client_addr(const struct http_request *req)
{
	return req->conn ? http_conn_addr(req->conn) : NULL;
}

int http_request_query_int(struct http_request *req, const char *name,
			   int64_t min, int64_t max, int64_t *out)
{
	bool bad;
	const char *v = http_request_query(req, name, &bad);

	if (!v && !bad)
		return 0;
	if (bad || util_parse_int64(v, min, max, out)) {
		http_reply_error(req, 400, "InvalidRequest", "%s: must be an "
				 "integer from %" PRId64 " to %" PRId64, name,
				 min, max);
		return -1;
	}
	return 0;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	const struct http_field *f = http_head_field(&req->head, name);

	return f ? f->value : NULL;
}

bool http_request_content_type_is(const struct http_request *req,
				  const char *type)
{
	const char *ct = http_request_header(req, "Content-Type");
	size_t n = strlen(type);

	if (!ct || strncasecmp(ct, type, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
	*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

const struct http_principal *http_request_principal(const struct http_request *req)
{
	return req->has_principal ? &req->principal : NULL;
}

void http_request_set_principal(struct http_request *req,
				const struct http_principal *p)
{
	req->principal = *p;
	req->has_principal = true;
}

unsigned http_request_retry_after(const struct http_request *req)
{
	return req->principal.retry_after_s;
}

void http_request_log_account(struct http_request *req, const char *account_id)
{
	free(req->log_account);
	req->log_account = util_xstrdup(account_id);
}

void http_request_log_transaction(struct http_request *req, const char *id)
{
	free(req->log_transaction);
	req->log_transaction = util_xstrdup(id);
}

void http_request_set_state(struct http_request *req, void *state,
			    void (*free_fn)(void *state))
{
	req->state_ptr = state;
	req->state_free = free_fn;
}

void http_json_error_format(const json_error_t *e, char *msg, size_t size)
{
	const char *why = e->text;

	if (json_error_code(e) == json_error_null_character)
		why = "NUL characters are not allowed";
	snprintf(msg, size, "body: invalid JSON at line %d column %d: %s",
		 e->line, e->column, why);
}
