/* fuzz_events_cursor: the events feed's `after` cursor, as a client may
 * send anything: a parsed cursor must format back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = util_xstrndup((const char *)data, size);
	char again[ENGINE_EVENTS_CURSOR_MAX];
	int64_t txid = -1, id = -1;

	if (engine_events_cursor_parse(text, &txid, &id) == 0) {
		UTIL_ASSERT(txid >= 0 && id >= 0);
		engine_events_cursor_format(txid, id, again);
		/* canonical: one text per position (strndup stops at a NUL) */
		UTIL_ASSERT(strcmp(again, text) == 0);
	} else {
		UTIL_ASSERT(txid == -1 && id == -1);
	}
	free(text);
	return 0;
}
