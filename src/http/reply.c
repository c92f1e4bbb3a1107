/* http/reply.c: building replies (JSON, errors, headers) and handing them to
 * libmicrohttpd, directly or by resuming a suspended request. */
#include "http/http_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Adds the standard and extra headers; frees the extra ones. */
static void add_headers(struct http_request *req, struct MHD_Response *r,
			const char *content_type)
{
	if (content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					content_type);
	MHD_add_response_header(r, "X-Request-Id", req->request_id);
	for (size_t i = 0; i < req->n_headers; i++) {
		MHD_add_response_header(r, req->headers[i].name,
					req->headers[i].value);
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	req->n_headers = 0;
}

/* Installs the response; resumes the request if it was suspended. */
static void finish_typed(struct http_request *req, unsigned status,
			 struct MHD_Response *r, const char *content_type)
{
	if (!r)
		util_bug(__FILE__, __LINE__, "cannot create response");
	if (req->response)
		util_bug(__FILE__, __LINE__, "second reply to one request");
	add_headers(req, r, content_type);
	req->status = status;
	req->response = r;
	if (req->state == HTTP_REQ_SUSPENDED)
		MHD_resume_connection(req->conn);
}

static void finish(struct http_request *req, unsigned status,
		   struct MHD_Response *r)
{
	finish_typed(req, status, r, "application/json");
}

void http_reply_static(struct http_request *req, unsigned status,
		       const char *json)
{
	finish(req, status, MHD_create_response_from_buffer(
		       strlen(json), (void *)json, MHD_RESPMEM_PERSISTENT));
}

void http_reply_bytes(struct http_request *req, unsigned status,
		      const char *content_type, const void *data, size_t len)
{
	finish_typed(req, status, MHD_create_response_from_buffer(
			     len, (void *)data, MHD_RESPMEM_PERSISTENT),
		     content_type);
}

static void reply_owned(struct http_request *req, unsigned status, char *text,
			size_t len)
{
	finish(req, status, MHD_create_response_from_buffer(len, text,
							    MHD_RESPMEM_MUST_FREE));
}

void http_reply_empty(struct http_request *req, unsigned status)
{
	finish_typed(req, status, MHD_create_response_from_buffer(
			     0, NULL, MHD_RESPMEM_PERSISTENT), NULL);
}

void http_reply_text(struct http_request *req, unsigned status,
		     const char *content_type, char *text)
{
	finish_typed(req, status, MHD_create_response_from_buffer(
			     strlen(text), text, MHD_RESPMEM_MUST_FREE),
		     content_type);
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
	MHD_suspend_connection(req->conn);
}

enum MHD_Result http_request_queue(struct http_request *req)
{
	enum MHD_Result rc = MHD_queue_response(req->conn, req->status,
						req->response);

	MHD_destroy_response(req->response);
	req->response = NULL;
	req->state = HTTP_REQ_ANSWERED;
	return rc;
}

void http_request_free(struct http_request *req)
{
	if (!req)
		return;
	if (req->state_free)
		req->state_free(req->state_ptr);
	if (req->response)
		MHD_destroy_response(req->response);
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
