/* fuzz/fuzz_config.c: libFuzzer target that loads arbitrary bytes as a
 * grantd.yaml (in memory, through the same path config_load uses) and then
 * dumps and frees whatever came out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "app/config_int.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every variable is "set" to the same value, so the environment path and
 * its messages are exercised too; inputs starting with '!' use it. */
static const char *fuzz_env_value;

static const char *fuzz_getenv(const char *name)
{
	(void)name;
	return fuzz_env_value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct util_strlist errors;
	struct util_buf out;
	struct config c;
	char *env = NULL;

	if (size > 0 && data[0] == '!') {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) : size;

		env = util_xstrndup((const char *)data + 1, n - 1);
		data += n;
		size -= n;
	}
	fuzz_env_value = env;
	util_strlist_init(&errors);
	util_buf_init(&out, 0);
	if (config_load_mem("fuzz.yaml", (const char *)data, size,
			env ? fuzz_getenv : NULL, &c, &errors) == 0) {
		UTIL_ASSERT(errors.len == 0);
		config_dump(&c, &out);
		config_release(&c);
	} else {
		UTIL_ASSERT(errors.len > 0);
	}
	util_buf_release(&out);
	util_strlist_release(&errors);
	free(env);
	return 0;
}
