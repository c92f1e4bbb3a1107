/* app/console.c: the operator console's static files (embedded at build
 * time from console/), served under /console/ without a credential and
 * with a strict Content-Security-Policy; its data comes from the
 * operator routes, which need the key. */
#include "app/app_int.h"

#include <string.h>

/* No inline script or style, nothing from elsewhere, never framed. */
#define CONSOLE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

static const struct {
	const char *suffix;
	const char *type;
} content_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
};

static const char *content_type_of(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < UTIL_ARRAY_LEN(content_types); i++) {
		size_t k = strlen(content_types[i].suffix);

		if (n > k && strcmp(name + n - k, content_types[i].suffix) == 0)
			return content_types[i].type;
	}
	return "application/octet-stream";
}

static void security_headers(struct http_request *req)
{
	http_reply_header(req, "Content-Security-Policy", CONSOLE_CSP);
	http_reply_header(req, "X-Content-Type-Options", "nosniff");
	http_reply_header(req, "Referrer-Policy", "no-referrer");
	http_reply_header(req, "X-Frame-Options", "DENY");
	/* a new build brings new files: revalidate rather than mix versions */
	http_reply_header(req, "Cache-Control", "no-cache");
}

static void serve(struct http_request *req, const char *name)
{
	security_headers(req);
	for (size_t i = 0; name && i < app_console_asset_count; i++) {
		const struct app_console_asset *a = &app_console_assets[i];

		if (strcmp(a->name, name) == 0) {
			http_reply_bytes(req, 200, content_type_of(a->name),
					 a->data, a->len);
			return;
		}
	}
	http_reply_error(req, 404, "NotFound", "no such console file");
}

void app_console_index(struct http_request *req)
{
	serve(req, "index.html");
}

void app_console_file(struct http_request *req)
{
	serve(req, http_request_param(req, "file"));
}
