/* fuzz_primegaming_body: the Prime Gaming fulfilment body parser. */
#include <stdint.h>
#include <string.h>

#include "catalog/catalog.h"
#include "sources/sources.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sources_pg_body b;
	const char *code;
	char msg[512];
	json_t *root = NULL;

	if (sources_primegaming_parse((const char *)data, size, &root, &b, &code,
				      msg, sizeof(msg)) == 0) {
		/* Accepted fields are non-empty, bounded, NUL-free strings. */
		UTIL_ASSERT(strlen(b.account_id) > 0 && strlen(b.account_id) <= 256);
		UTIL_ASSERT(strlen(b.transaction_id) > 0 &&
			    strlen(b.transaction_id) <= 256);
		UTIL_ASSERT(catalog_sku_valid(b.sku, strlen(b.sku)));
		json_decref(root);
	} else {
		UTIL_ASSERT(root == NULL);
		UTIL_ASSERT(msg[0] != '\0');
	}
	return 0;
}
