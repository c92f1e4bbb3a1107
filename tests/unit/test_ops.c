/* Unit tests of ops: the limit of one log line a second for repeating
 * events. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "ops/ops.h"

Test(ops, log_limit_lets_one_line_a_second_through_and_counts_the_rest)
{
	struct ops_log_limit lim = { 0 };
	uint64_t suppressed = 99;

	cr_assert(ops_log_limit_take(&lim, &suppressed));
	cr_assert_eq(suppressed, 0);
	for (int i = 0; i < 5; i++)
		cr_assert_not(ops_log_limit_take(&lim, &suppressed));
	usleep(1050 * 1000);
	cr_assert(ops_log_limit_take(&lim, &suppressed));
	cr_assert_eq(suppressed, 5);
	cr_assert_not(ops_log_limit_take(&lim, &suppressed));
}
