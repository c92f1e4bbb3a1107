/* http/reply.c: building replies (JSON, errors, headers), resuming a
 * suspended request, and the reply's status line and headers. */
#include "http/http_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void http_reply_header(struct http_request *req, const char *name,
		       const char *value)
{
	struct http_header_pair *h;

	if (req->n_headers == HTTP_MAX_EXTRA_HEADERS)
		util_bug(__FILE__, __LINE__, "too many reply headers");
	h = &req->headers[req->n_headers++];
	h->name = util_xstrdup(name);
	h->value = util_xstrdup(value);
}

/* Installs the response; resumes the request if it was suspended. The
 * resume comes last: the connection's thread may send and free the
 * request as soon as it is called. */
static void finish_typed(struct http_request *req, unsigned status,
			 const char *body, size_t len, char *owned,
			 const char *content_type)
{
	if (req->response.set)
		util_bug(__FILE__, __LINE__, "second reply to one request");
	req->status = status;
	req->response.body = body;
	req->response.len = len;
	req->response.owned = owned;
	req->response.content_type = content_type;
	req->response.set = true;
	if (req->state == HTTP_REQ_SUSPENDED)
		http_conn_resume(req->conn);
}

void http_reply_static(struct http_request *req, unsigned status,
		       const char *json)
{
	finish_typed(req, status, json, strlen(json), NULL, "application/json");
}

void http_reply_bytes(struct http_request *req, unsigned status,
		      const char *content_type, const void *data, size_t len)
{
	finish_typed(req, status, data, len, NULL, content_type);
}

static void reply_owned(struct http_request *req, unsigned status, char *text,
			size_t len)
{
	finish_typed(req, status, text, len, text, "application/json");
}

void http_reply_empty(struct http_request *req, unsigned status)
{
	finish_typed(req, status, "", 0, NULL, NULL);
}

void http_reply_text(struct http_request *req, unsigned status,
		     const char *content_type, char *text)
{
	finish_typed(req, status, text, strlen(text), text, content_type);
}

void http_reply_json(struct http_request *req, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (!text)
		util_bug(__FILE__, __LINE__, "json_dumps failed");
	reply_owned(req, status, text, strlen(text));
}

void http_reply_error(struct http_request *req, unsigned status,
		      const char *code, const char *fmt, ...)
{
	struct util_buf b;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	util_buf_init(&b, 0);
	util_buf_puts(&b, "{\"error\":{\"code\":");
	util_buf_json_str(&b, code);
	util_buf_puts(&b, ",\"message\":");
	util_buf_json_str(&b, msg);
	util_buf_puts(&b, "}}");
	reply_owned(req, status, b.data, b.len);
}

void http_request_suspend(struct http_request *req)
{
	if (req->state != HTTP_REQ_HANDLING)
		util_bug(__FILE__, __LINE__, "suspend outside a handler");
	req->state = HTTP_REQ_SUSPENDED;
}

static const char *reason_phrase(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Status";
}

/* An IMF-fixdate for the Date header, remade once a second per thread. */
static const char *http_date(void)
{
	static _Thread_local char text[40];
	static _Thread_local time_t made;
	time_t now = time(NULL);
	struct tm tm;

	if (now != made) {
		gmtime_r(&now, &tm);
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		made = now;
	}
	return text;
}

static void put_header(struct util_buf *out, const char *name,
		       const char *value)
{
	util_buf_puts(out, name);
	util_buf_puts(out, ": ");
	util_buf_puts(out, value);
	util_buf_puts(out, "\r\n");
}

void http_reply_head(struct http_request *req, struct util_buf *out, bool close)
{
	char line[64];

	snprintf(line, sizeof(line), "HTTP/1.1 %u %s\r\n", req->status,
		 reason_phrase(req->status));
	util_buf_puts(out, line);
	put_header(out, "Date", http_date());
	if (req->response.content_type)
		put_header(out, "Content-Type", req->response.content_type);
	put_header(out, "X-Request-Id", req->request_id);
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, "Connection") != 0)
			put_header(out, req->headers[i].name, req->headers[i].value);
	if (close)
		put_header(out, "Connection", "close");
	if (req->status != 204 && req->status != 304) {
		snprintf(line, sizeof(line), "%zu", req->response.len);
		put_header(out, "Content-Length", line);
	}
	util_buf_puts(out, "\r\n");
}

void http_request_free(struct http_request *req)
{
	if (!req)
		return;
	if (req->state_free)
		req->state_free(req->state_ptr);
	free(req->response.owned);
	free(req->head_bytes);
	for (size_t i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	for (size_t i = 0; i < req->n_params; i++)
		free(req->param_value[i]);
	util_buf_release(&req->body);
	util_strlist_release(&req->query_values);
	free(req->log_path);
	free(req->log_account);
	free(req->log_transaction);
	free(req);
}
