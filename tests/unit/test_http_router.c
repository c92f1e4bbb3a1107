/* Unit tests of the router: literal and parameter segments, per-segment
 * percent-decoding, 404 versus 405 with the allowed methods. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/http_int.h"

static void noop(struct http_request *req)
{
	(void)req;
}

static const struct http_route table[] = {
	{ HTTP_POST, "/v1/primegaming/fulfillment", noop, 0, 0, "pg", NULL, NULL },
	{ HTTP_PUT, "/v1/accounts/{account_id}", noop, 0, 0, "put", NULL, NULL },
	{ HTTP_GET, "/v1/accounts/{account_id}", noop, 0, 0, "get", NULL, NULL },
	{ HTTP_GET, "/v1/accounts/{account_id}/inventory", noop, 0, 0, "inv", NULL, NULL },
	{ HTTP_GET, "/v1/hook/{secret}/buy", noop, 0, HTTP_ROUTE_SECRET_PARAMS,
	  "hook", NULL, NULL },
	{ HTTP_GET, "/console/", noop, 0, 0, "console", NULL, NULL },
	{ HTTP_GET, "/console/{file}", noop, 0, 0, "console.file", NULL, NULL },
};

static struct http_server server;
static struct http_request req;

static void setup(void)
{
	char *err = NULL;

	memset(&server, 0, sizeof(server));
	memset(&req, 0, sizeof(req));
	server.opts.routes = table;
	server.opts.n_routes = UTIL_ARRAY_LEN(table);
	cr_assert_eq(http_router_compile(&server, &err), 0);
}

static void teardown(void)
{
	for (size_t i = 0; i < req.n_params; i++)
		free(req.param_value[i]);
	http_router_free(&server);
}

static const char *match(const char *method, const char *url, unsigned *allowed,
			 bool *bad)
{
	const struct http_compiled_route *r;

	req.url = url;
	r = http_router_match(&server, &req, http_method_parse(method), allowed, bad);
	return r ? r->route->name : NULL;
}

TestSuite(router, .init = setup, .fini = teardown);

Test(router, matches_literals_and_params)
{
	unsigned allowed;
	bool bad;

	cr_assert_str_eq(match("POST", "/v1/primegaming/fulfillment", &allowed, &bad), "pg");
	cr_assert_str_eq(match("GET", "/v1/accounts/p%2F1/inventory", &allowed, &bad), "inv");
	cr_assert_str_eq(http_request_param(&req, "account_id"), "p/1");
	cr_assert_str_eq(match("HEAD", "/v1/accounts/p1", &allowed, &bad), "get");
}

Test(router, wrong_method_lists_allowed)
{
	unsigned allowed;
	bool bad;
	char text[64];

	cr_assert_null(match("DELETE", "/v1/accounts/p1", &allowed, &bad));
	cr_assert_eq(allowed, HTTP_GET | HTTP_PUT);
	http_methods_format(allowed, text, sizeof(text));
	cr_assert_str_eq(text, "GET, HEAD, PUT");
	cr_assert_null(match("GET", "/v1/primegaming/fulfillment", &allowed, &bad));
	cr_assert_eq(allowed, HTTP_POST);
}

Test(router, unknown_paths_are_not_found)
{
	unsigned allowed;
	bool bad;
	static const char *paths[] = {
		"/", "/v1", "/v1/accounts", "/v1/accounts/", "/v1/accounts/p1/",
		"/v1/primegaming/fulfillment/x", "//v1/accounts/p1", "v1/accounts/p1",
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(paths); i++) {
		cr_assert_null(match("GET", paths[i], &allowed, &bad), "%s", paths[i]);
		cr_assert_eq(allowed, 0, "%s", paths[i]);
	}
}

Test(router, malformed_params_are_flagged)
{
	unsigned allowed;
	bool bad;

	cr_assert_not_null(match("GET", "/v1/accounts/%zz", &allowed, &bad));
	cr_assert(bad);
	cr_assert_not_null(match("GET", "/v1/accounts/a%00b", &allowed, &bad));
	cr_assert(bad);
}

Test(router, secret_params_are_redacted_matched_or_not)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "/v1/hook/s3cret/buy", "/v1/hook/(redacted)/buy" },
		{ "/v1/hook/s3cret/other/deeper", "/v1/hook/(redacted)/other/deeper" },
		{ "/v1/hook/s3cret", "/v1/hook/(redacted)" },
		{ "/v1/hook/", "/v1/hook/(redacted)" },
		{ "/v1/accounts/p1", "/v1/accounts/p1" },
		{ "/v1/hooks/s3cret/buy", "/v1/hooks/s3cret/buy" },
		{ "no-slash", "(redacted)" },
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
		char *got = http_router_redact(&server, cases[i].url);

		cr_assert_str_eq(got, cases[i].want, "%s", cases[i].url);
		free(got);
	}
}

Test(router, trailing_slash_is_a_segment_of_its_own)
{
	unsigned allowed;
	bool bad;

	cr_assert_str_eq(match("GET", "/console/", &allowed, &bad), "console");
	cr_assert_str_eq(match("GET", "/console/app.js", &allowed, &bad),
			 "console.file");
	cr_assert_str_eq(http_request_param(&req, "file"), "app.js");
	cr_assert_null(match("GET", "/console", &allowed, &bad));
	cr_assert_null(match("GET", "/console//", &allowed, &bad));
	cr_assert_null(match("GET", "/v1/accounts/", &allowed, &bad));
}

Test(router, empty_segments_are_refused_but_a_trailing_slash)
{
	static const struct http_route bad_tables[][1] = {
		{ { HTTP_GET, "/", noop, 0, 0, "root", NULL, NULL } },
		{ { HTTP_GET, "/a//b", noop, 0, 0, "double", NULL, NULL } },
		{ { HTTP_GET, "/a//", noop, 0, 0, "double end", NULL, NULL } },
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(bad_tables); i++) {
		struct http_server s = { 0 };
		char *err = NULL;

		s.opts.routes = bad_tables[i];
		s.opts.n_routes = 1;
		cr_assert_eq(http_router_compile(&s, &err), -1, "%zu", i);
		free(err);
		http_router_free(&s);
	}
}
