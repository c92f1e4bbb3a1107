/* fuzz_gamepot_query: the GAMEPOT webhooks' query/form parsers — the
 * purchase fields, and the coupon fields with their itemId JSON array. */
#include <stdint.h>
#include <string.h>

#include "sources/sources.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void coupon(const uint8_t *data, size_t size)
{
	static const size_t max[] = {
#define ROW(id, name, m) m,
		SOURCES_GP_COUPON_FIELDS(ROW)
#undef ROW
	};
	struct sources_gp_coupon c;
	char msg[512];

	msg[0] = '\0';
	if (sources_gamepot_coupon_parse((const char *)data, size, &c, msg,
					 sizeof(msg)) != 0) {
		UTIL_ASSERT(msg[0] != '\0');
		UTIL_ASSERT(c.items == NULL && c.n_items == 0);
		for (size_t i = 0; i < SOURCES_GP_COUPON_FIELD_COUNT; i++)
			UTIL_ASSERT(c.field[i] == NULL);
		return;
	}
	for (size_t i = 0; i < SOURCES_GP_COUPON_FIELD_COUNT; i++)
		UTIL_ASSERT(!c.field[i] || (strlen(c.field[i]) > 0 &&
					    strlen(c.field[i]) <= max[i]));
	UTIL_ASSERT(c.n_items >= 1 && c.n_items <= SOURCES_GP_COUPON_ITEMS_MAX);
	for (size_t i = 0; i < c.n_items; i++) {
		UTIL_ASSERT(c.items[i].item_id && c.items[i].item_id[0]);
		UTIL_ASSERT(c.items[i].count >= 1 &&
			    c.items[i].count <= ENGINE_QUANTITY_MAX);
	}
	UTIL_ASSERT(strlen(c.key) == SOURCES_GP_COUPON_KEY_LEN &&
		    strncmp(c.key, "coupon:", 7) == 0);
	sources_gamepot_coupon_release(&c);
}

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
	coupon(data, size);
	return 0;
}
