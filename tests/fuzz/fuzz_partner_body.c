/* fuzz_partner_body: the bodies of the partner API — PUT /v1/accounts/{id}
 * and PUT /v1/accounts/{id}/links/{provider}, whose external id is then
 * checked as each linkable provider would, POST
 * /v1/fulfillments/{id}/revoke, and the reason bodies of operator
 * actions. */
#include <stdint.h>
#include <string.h>

#include "partner/partner.h"
#include "sources/sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void link_body(const uint8_t *data, size_t size)
{
	const struct source *const *all;
	const char *id = NULL;
	json_t *root = NULL;
	char msg[256] = "";
	size_t n;

	if (partner_parse_link_body((const char *)data, size, &id, &root, msg,
				    sizeof(msg))) {
		UTIL_ASSERT(msg[0] != '\0' && root == NULL);
		return;
	}
	UTIL_ASSERT(id != NULL && root != NULL);
	all = sources_all(&n);
	for (size_t i = 0; i < n; i++)
		if (all[i]->linkable && sources_check_external_id(all[i], id, msg,
								  sizeof(msg)))
			UTIL_ASSERT(strncmp(msg, "external_id: ", 13) == 0);
	json_decref(root);
}

static void revoke_body(const uint8_t *data, size_t size)
{
	char reason[PARTNER_REVOKE_REASON_BYTES_MAX + 1], msg[256] = "";
	enum store_account_state state = STORE_ACCOUNT_ACTIVE;
	bool release = true;

	if (partner_parse_revoke_body((const char *)data, size, reason,
				      sizeof(reason), &release, msg,
				      sizeof(msg))) {
		UTIL_ASSERT(msg[0] != '\0');
		return;
	}
	UTIL_ASSERT(reason[0] != '\0' &&
		    strlen(reason) <= PARTNER_REVOKE_REASON_BYTES_MAX);
	if (partner_parse_reason_body((const char *)data, size, reason,
				      sizeof(reason), msg, sizeof(msg)) == 0)
		UTIL_ASSERT(reason[0] != '\0');
	else
		UTIL_ASSERT(msg[0] != '\0');
	if (partner_parse_state_body((const char *)data, size, &state, reason,
				     sizeof(reason), msg, sizeof(msg)) == 0)
		UTIL_ASSERT(reason[0] != '\0' && state <= STORE_ACCOUNT_BANNED);
	else
		UTIL_ASSERT(msg[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum store_account_state state = STORE_ACCOUNT_ACTIVE;
	char msg[512] = "";

	if (partner_parse_account_body((const char *)data, size, &state, msg,
				       sizeof(msg)) == 0)
		UTIL_ASSERT(state <= STORE_ACCOUNT_BANNED);
	else
		UTIL_ASSERT(msg[0] != '\0');
	link_body(data, size);
	revoke_body(data, size);
	return 0;
}
