/* offers_int.h: helpers shared by the files of the offers module only. */
#ifndef GRANTD_OFFERS_INT_H
#define GRANTD_OFFERS_INT_H

#include <stddef.h>

/* Formats a reason into why (skipped when why is NULL or why_size is 0).
 * Always returns -1, so a check can `return offers__fail(...)`. */
int offers__fail(char *why, size_t why_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
