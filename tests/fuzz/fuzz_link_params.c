/* fuzz_link_params: what the browser link flow reads from a player's
 * browser — link tokens and states (their shape, and a state opening a
 * sealed verifier) and return_to, checked against allowed prefixes and
 * given the flow's answer. The input is prefixes, one a line; its last
 * line is the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linking/linking.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits the input into allowed prefixes and the last line. */
static char *split(char *text, struct util_strlist *allow)
{
	char *line = text, *nl;

	while ((nl = strchr(line, '\n'))) {
		*nl = '\0';
		util_strlist_add(allow, "%s", line);
		line = nl + 1;
	}
	return line;
}

/* An accepted return_to keeps everything before its fragment, and the
 * answer added to it stays one printable URL. */
static void return_to(const char *url, const struct util_strlist *allow)
{
	size_t base = strcspn(url, "#");
	struct util_buf b;

	if (linking_return_to_check(url, allow))
		return;
	UTIL_ASSERT(strlen(url) <= LINKING_RETURN_TO_MAX);
	util_buf_init(&b, 0);
	linking_return_url(url, "error", "access_denied", &b);
	UTIL_ASSERT(strncmp(b.data, url, base) == 0);
	UTIL_ASSERT(util_is_printable_ascii(b.data, b.len));
	UTIL_ASSERT(strstr(b.data, "error=access_denied"));
	UTIL_ASSERT(strcmp(b.data + b.len - (strlen(url) - base),
			   url + base) == 0);
	util_buf_release(&b);
}

static void secrets(const char *value)
{
	char out[LINKING_SECRET_MAX + 1];

	if (linking_secret_well_formed(LINKING_TOKEN_PREFIX, value))
		UTIL_ASSERT(strlen(value) == 47);
	if (linking_secret_well_formed("", value))
		UTIL_ASSERT(strlen(value) == 43);
	/* a state that is not the one a verifier was sealed with opens
	 * nothing; garbage in place of the sealed verifier neither */
	UTIL_ASSERT(linking_verifier_open(value, "AQ", out, sizeof(out)) == -1);
	UTIL_ASSERT(linking_verifier_open("state", value, out, sizeof(out)) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = util_xstrndup((const char *)data, size);
	struct util_strlist allow;
	const char *value;

	util_strlist_init(&allow);
	value = split(text, &allow);
	return_to(value, &allow);
	secrets(value);
	util_strlist_release(&allow);
	free(text);
	return 0;
}
