/* ops/metrics.c: writing the Prometheus text exposition format. */
#include "ops/ops.h"

#include <inttypes.h>

void ops_metric_family(struct util_buf *b, const char *name, const char *type,
		       const char *help)
{
	util_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Appends a label value with \, " and newline escaped. */
static void label_value(struct util_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			util_buf_putc(b, '\\');
		if (*v == '\n') {
			util_buf_puts(b, "\\n");
			continue;
		}
		util_buf_putc(b, *v);
	}
}

static void labels(struct util_buf *b, const char *const *kv)
{
	if (!kv || !kv[0])
		return;
	util_buf_putc(b, '{');
	for (size_t i = 0; kv[i]; i += 2) {
		util_buf_printf(b, "%s%s=\"", i ? "," : "", kv[i]);
		label_value(b, kv[i + 1]);
		util_buf_putc(b, '"');
	}
	util_buf_putc(b, '}');
}

void ops_metric_u64(struct util_buf *b, const char *name,
		    const char *const *kv, uint64_t value)
{
	util_buf_puts(b, name);
	labels(b, kv);
	util_buf_printf(b, " %" PRIu64 "\n", value);
}

void ops_metric_f64(struct util_buf *b, const char *name,
		    const char *const *kv, double value)
{
	util_buf_puts(b, name);
	labels(b, kv);
	util_buf_printf(b, " %.9g\n", value);
}
