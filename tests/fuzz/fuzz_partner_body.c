/* fuzz_partner_body: the PUT /v1/accounts/{id} body parser. */
#include <stdint.h>
#include <string.h>

#include "partner/partner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum store_account_state state = STORE_ACCOUNT_ACTIVE;
	char msg[512] = "";

	if (partner_parse_account_body((const char *)data, size, &state, msg,
				       sizeof(msg)) == 0)
		UTIL_ASSERT(state <= STORE_ACCOUNT_BANNED);
	else
		UTIL_ASSERT(msg[0] != '\0');
	return 0;
}
