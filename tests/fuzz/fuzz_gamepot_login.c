/* fuzz_gamepot_login: GAMEPOT login validation's parsers — the game
 * backend's request body and GAMEPOT's loginauth answer. */
#include <stdint.h>
#include <string.h>

#include "sources/sources.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *v, size_t max, bool required)
{
	if (!v) {
		UTIL_ASSERT(!required);
		return;
	}
	UTIL_ASSERT(strlen(v) > 0 && strlen(v) <= max);
	UTIL_ASSERT(util_is_printable_ascii(v, strlen(v)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sources_gp_login l;
	json_t *root = NULL;
	char msg[256], message[64];
	long long status = 0;

	msg[0] = '\0';
	if (sources_gamepot_login_parse((const char *)data, size, &l, &root,
					msg, sizeof(msg)) == 0) {
		UTIL_ASSERT(root);
		check_field(l.member_id, SOURCES_GP_MEMBER_ID_MAX, true);
		check_field(l.token, SOURCES_GP_TOKEN_MAX, true);
		check_field(l.remote_ip, SOURCES_GP_REMOTE_IP_MAX, false);
		check_field(l.platform, SOURCES_GP_PLATFORM_MAX, false);
		json_decref(root);
	} else {
		UTIL_ASSERT(!root && msg[0] != '\0');
		UTIL_ASSERT(!l.member_id && !l.token);
	}
	if (sources_gamepot_login_answer((const char *)data, size, &status,
					 message, sizeof(message)) == 0)
		UTIL_ASSERT(strlen(message) < sizeof(message));
	(void)sources_gamepot_login_state_name(
		sources_gamepot_login_state_of(status));
	return 0;
}
