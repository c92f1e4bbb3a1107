/* http/router.c: the route table compiled into segments and matched against
 * the raw request path, parameters percent-decoded one segment at a time. */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	enum http_method bit;
	const char *name;
} methods[] = {
	{ HTTP_GET, "GET" },
	{ HTTP_POST, "POST" },
	{ HTTP_PUT, "PUT" },
	{ HTTP_DELETE, "DELETE" },
	{ HTTP_PATCH, "PATCH" },
};

enum http_method http_method_parse(const char *name)
{
	if (strcmp(name, "HEAD") == 0)
		return HTTP_GET;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(methods); i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

void http_methods_format(unsigned bits, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < UTIL_ARRAY_LEN(methods) && used < size; i++) {
		if (!(bits & methods[i].bit))
			continue;
		used += (size_t)snprintf(out + used, size - used, "%s%s",
					 used ? ", " : "", methods[i].name);
		if (methods[i].bit == HTTP_GET && used < size)
			used += (size_t)snprintf(out + used, size - used, ", HEAD");
	}
}

static int compile_one(struct http_compiled_route *cr, const struct http_route *r,
		       char **err)
{
	const char *p = r->pattern;

	cr->route = r;
	if (*p != '/')
		goto bad;
	while (*p == '/') {
		const char *start = ++p;
		size_t len;

		while (*p && *p != '/')
			p++;
		len = (size_t)(p - start);
		if (cr->n_segments == HTTP_MAX_SEGMENTS)
			goto bad;
		/* an empty segment only as a trailing slash ("/console/") */
		if (len == 0 && (*p != '\0' || cr->n_segments == 0))
			goto bad;
		cr->owned[cr->n_segments] = util_xstrndup(start, len);
		if (start[0] == '{' && start[len - 1] == '}' && len > 2) {
			cr->owned[cr->n_segments][len - 1] = '\0';
			cr->param_name[cr->n_segments] = cr->owned[cr->n_segments] + 1;
		} else {
			cr->literal[cr->n_segments] = cr->owned[cr->n_segments];
		}
		cr->n_segments++;
	}
	if (*p == '\0')
		return 0;
bad:
	*err = util_xasprintf("bad route pattern \"%s\"", r->pattern);
	return -1;
}

int http_router_compile(struct http_server *s, char **err)
{
	s->n_routes = s->opts.n_routes;
	s->routes = util_xcalloc(s->n_routes, sizeof(*s->routes));
	for (size_t i = 0; i < s->n_routes; i++)
		if (compile_one(&s->routes[i], &s->opts.routes[i], err))
			return -1;
	return 0;
}

void http_router_free(struct http_server *s)
{
	for (size_t i = 0; s->routes && i < s->n_routes; i++)
		for (size_t j = 0; j < s->routes[i].n_segments; j++)
			free(s->routes[i].owned[j]);
	free(s->routes);
	s->routes = NULL;
}

/* Splits the raw path into segments (pointers into `path`, lengths). */
static size_t split_path(const char *path, const char **seg, size_t *len)
{
	size_t n = 0;
	const char *p = path;

	if (*p != '/')
		return SIZE_MAX;
	while (*p == '/') {
		const char *start = ++p;

		while (*p && *p != '/' && *p != '?')
			p++;
		if (n == HTTP_MAX_SEGMENTS)
			return SIZE_MAX;
		seg[n] = start;
		len[n] = (size_t)(p - start);
		n++;
	}
	return n;
}

static bool segments_match(const struct http_compiled_route *cr, size_t n,
			   const char **seg, const size_t *len)
{
	if (cr->n_segments != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *lit = cr->literal[i];

		if (!lit && len[i] == 0)
			return false;  /* a parameter is never empty */
		if (lit && (strlen(lit) != len[i] || memcmp(lit, seg[i], len[i]) != 0))
			return false;
	}
	return true;
}

static void clear_params(struct http_request *req)
{
	for (size_t i = 0; i < req->n_params; i++)
		free(req->param_value[i]);
	req->n_params = 0;
}

/* Decodes the parameters of a matched route (its `n` segments, seg and
 * len) into req. Returns 0 or -1. */
static int bind_params(const struct http_compiled_route *cr,
		       struct http_request *req, size_t n, const char **seg,
		       const size_t *len)
{
	clear_params(req);
	for (size_t i = 0; i < n && i < cr->n_segments; i++) {
		char *v;

		if (!cr->param_name[i])
			continue;
		if (req->n_params == HTTP_MAX_PARAMS)
			return -1;
		v = util_xmalloc(len[i] + 1);
		req->param_name[req->n_params] = cr->param_name[i];
		req->param_value[req->n_params++] = v;
		if (util_percent_decode(seg[i], len[i], v, false) <= 0)
			return -1;
	}
	return 0;
}

char *http_router_redact(const struct http_server *s, const char *url)
{
	static const char mask[] = "(redacted)";
	const char *seg[HTTP_MAX_SEGMENTS];
	size_t len[HTTP_MAX_SEGMENTS];
	bool hide[HTTP_MAX_SEGMENTS] = { false };
	size_t n = split_path(url, seg, len);
	struct util_buf out;

	if (n == SIZE_MAX) {
		/* not a path the router takes: redact everything past a
		 * prefix no secret route shares, i.e. keep nothing */
		for (size_t i = 0; i < s->n_routes; i++)
			if (s->routes[i].route->flags & HTTP_ROUTE_SECRET_PARAMS)
				return util_xstrdup(mask);
		return util_xstrdup(url);
	}
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct http_compiled_route *cr = &s->routes[i];

		if (!(cr->route->flags & HTTP_ROUTE_SECRET_PARAMS))
			continue;
		for (size_t k = 0; k < n && k < cr->n_segments; k++) {
			const char *lit = cr->literal[k];

			if (!lit) {
				hide[k] = true;
				continue;
			}
			if (strlen(lit) != len[k] || memcmp(lit, seg[k], len[k]) != 0)
				break;
		}
	}
	util_buf_init(&out, 0);
	for (size_t k = 0; k < n; k++) {
		util_buf_puts(&out, "/");
		if (hide[k])
			util_buf_puts(&out, mask);
		else
			util_buf_append(&out, seg[k], len[k]);
	}
	return util_buf_take(&out);
}

const struct http_compiled_route *http_router_match(struct http_server *s,
						    struct http_request *req,
						    enum http_method method,
						    unsigned *allowed,
						    bool *bad_param)
{
	const char *seg[HTTP_MAX_SEGMENTS];
	size_t len[HTTP_MAX_SEGMENTS];
	size_t n = split_path(req->url, seg, len);

	*allowed = 0;
	*bad_param = false;
	if (n == SIZE_MAX)
		return NULL;
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct http_compiled_route *cr = &s->routes[i];

		if (!segments_match(cr, n, seg, len))
			continue;
		*allowed |= (unsigned)cr->route->method;
		if (cr->route->method != method)
			continue;
		*bad_param = bind_params(cr, req, n, seg, len) != 0;
		return cr;
	}
	return NULL;
}
