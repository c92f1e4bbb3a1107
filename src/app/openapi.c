/* app/openapi.c: GET /openapi.yaml — the OpenAPI document (docs/openapi.yaml)
 * as built into the binary. */
#include "app/app_int.h"

#include <string.h>

void app_openapi(struct http_request *req)
{
	char *text = util_xmalloc(app_openapi_yaml_len + 1);

	memcpy(text, app_openapi_yaml, app_openapi_yaml_len + 1);
	http_reply_text(req, 200, "application/yaml", text);
}
