/* util/trace.c: the request id the calling thread works for. */
#include "util/util.h"

#include <stdio.h>

static _Thread_local char current[UTIL_TRACE_MAX];

void util_trace_set(const char *request_id)
{
	snprintf(current, sizeof(current), "%s", request_id ? request_id : "");
}

const char *util_trace_get(void)
{
	return current;
}
