/* ops: structured JSON logging to stderr (one line per event) and the
 * Prometheus text format for /metrics. */
#ifndef GRANTD_OPS_H
#define GRANTD_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

enum ops_log_level {
	OPS_LOG_DEBUG,
	OPS_LOG_INFO,
	OPS_LOG_WARN,
	OPS_LOG_ERROR,
};

/* Sets the lowest level written; lines below it cost one comparison. */
void ops_log_set_level(enum ops_log_level level);
/* Parses "debug", "info", "warn" or "error". Returns 0 or -1. */
int ops_log_level_parse(const char *s, enum ops_log_level *out);
bool ops_log_enabled(enum ops_log_level level);

/* One JSON log line under construction:
 *   struct ops_log_line l;
 *   if (ops_log_begin(&l, OPS_LOG_INFO, "request")) {
 *           ops_log_str(&l, "path", path);
 *           ops_log_end(&l);
 *   }
 * Lines start with "time", "level" and "event". ops_log_begin returns false
 * (and nothing need be ended) when the level is filtered out. */
struct ops_log_line {
	char stack[1024];       /* most lines fit here */
	size_t len;
	struct util_buf heap;   /* used once a line outgrows the stack */
};

bool ops_log_begin(struct ops_log_line *l, enum ops_log_level level,
		   const char *event);
/* Starts a line whatever the level filter says: for the few lines every
 * operator needs (where the server listens), labelled with `level`. */
void ops_log_begin_always(struct ops_log_line *l, enum ops_log_level level,
			  const char *event);
/* Adds "key": "value"; a NULL value is written as null. */
void ops_log_str(struct ops_log_line *l, const char *key, const char *value);
void ops_log_int(struct ops_log_line *l, const char *key, int64_t value);
void ops_log_bool(struct ops_log_line *l, const char *key, bool value);
/* Finishes the line and hands it to the log thread, which writes lines to
 * stderr in order, many per write(2), within about a millisecond. */
void ops_log_end(struct ops_log_line *l);
/* Writes every pending line now (at shutdown; also run at exit). */
void ops_log_flush(void);

/* A limit of one line a second for an event that can repeat in bursts
 * (a failing disk): zero-initialise one per kind of line. */
struct ops_log_limit {
	atomic_llong last_ms;
	atomic_ullong suppressed;
};
/* True if a line may be written now (and then *suppressed is how many
 * were held back since the last one, and the count starts over); false
 * if one was written less than a second ago (this one is counted). */
bool ops_log_limit_take(struct ops_log_limit *lim, uint64_t *suppressed);

/* Shorthand for a line with a formatted "msg". */
void ops_log(enum ops_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Prometheus text format ------------------------------------------ */

/* Appends "# HELP" and "# TYPE" lines for a metric family. */
void ops_metric_family(struct util_buf *b, const char *name, const char *type,
		       const char *help);
/* Appends one sample. `kv` is a NULL-terminated list of label name/value
 * pairs, or NULL; values are escaped. */
void ops_metric_u64(struct util_buf *b, const char *name,
		    const char *const *kv, uint64_t value);
void ops_metric_f64(struct util_buf *b, const char *name,
		    const char *const *kv, double value);

#endif
