/* fuzz_gamepot_query: the GAMEPOT purchase webhook's query/form parser. */
#include <stdint.h>
#include <string.h>

#include "sources/sources.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t max[] = {
#define ROW(id, name, m) m,
		SOURCES_GP_FIELDS(ROW)
#undef ROW
	};
	struct sources_gp_purchase p;
	char msg[512];

	msg[0] = '\0';
	if (sources_gamepot_parse((const char *)data, size, &p, msg,
				  sizeof(msg)) == 0) {
		/* Fields are absent or non-empty, bounded, NUL-free. */
		for (size_t i = 0; i < SOURCES_GP_FIELD_COUNT; i++)
			UTIL_ASSERT(!p.field[i] || (strlen(p.field[i]) > 0 &&
						    strlen(p.field[i]) <= max[i]));
		UTIL_ASSERT(p.field[SOURCES_GP_USER_ID] &&
			    p.field[SOURCES_GP_PROJECT_ID] &&
			    p.field[SOURCES_GP_PRODUCT_ID]);
		UTIL_ASSERT(p.field[SOURCES_GP_GAMEPOT_ORDER_ID] ||
			    p.field[SOURCES_GP_TRANSACTION_ID]);
		sources_gamepot_purchase_release(&p);
	} else {
		UTIL_ASSERT(msg[0] != '\0');
		for (size_t i = 0; i < SOURCES_GP_FIELD_COUNT; i++)
			UTIL_ASSERT(p.field[i] == NULL);
	}
	return 0;
}
