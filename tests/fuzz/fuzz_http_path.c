/* fuzz_http_path: route matching and per-segment decoding of request paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void noop(struct http_request *req)
{
	(void)req;
}

static const struct http_route table[] = {
	{ HTTP_POST, "/v1/primegaming/fulfillment", noop, 0, 0, "pg", NULL, NULL },
	{ HTTP_PUT, "/v1/accounts/{account_id}", noop, 0, 0, "put", NULL, NULL },
	{ HTTP_GET, "/v1/accounts/{account_id}", noop, 0, 0, "get", NULL, NULL },
	{ HTTP_GET, "/v1/accounts/{account_id}/entitlements/history", noop, 0, 0,
	  "history", NULL, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_server server;
	static bool ready;
	struct http_request req;
	unsigned allowed;
	bool bad;
	char *url = util_xstrndup((const char *)data, size);
	char *err = NULL;
	const struct http_compiled_route *r;

	if (!ready) {
		server.opts.routes = table;
		server.opts.n_routes = UTIL_ARRAY_LEN(table);
		UTIL_ASSERT(http_router_compile(&server, &err) == 0);
		ready = true;
	}
	memset(&req, 0, sizeof(req));
	req.url = url;
	r = http_router_match(&server, &req, HTTP_GET, &allowed, &bad);
	if (r && !bad) {
		const char *id = http_request_param(&req, "account_id");

		UTIL_ASSERT(id && *id);
		UTIL_ASSERT(strlen(id) <= size);
	}
	for (size_t i = 0; i < req.n_params; i++)
		free(req.param_value[i]);
	free(url);
	return 0;
}
