/* app/config.c: loads grantd.yaml through libcyaml with a schema derived from
 * the options table, then applies defaults, file values and GRANTD_*
 * environment overrides, reporting every problem with file, key and line. */
#include "app/config_int.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest configuration file read; anything bigger is surely a mistake. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Longest piece of user text quoted back in a message, in bytes. */
#define QUOTE_MAX 80
/* Backtrace lines kept from one libcyaml error (the schema is shallow). */
#define FRAMES_MAX 16

/* ---- the libcyaml schema, derived from the options table ---------------- */

/* One mapping in the file: the root ("") or a section ("storage.sqlite"). */
struct yaml_section {
	char *path;                   /* owned */
	size_t parent;                /* index in yaml_schema.secs (root: 0) */
	cyaml_schema_field_t *fields; /* owned; ends with a NULL key */
	size_t n_fields;
};

/* The schema of the whole file. Every mapping loads into a "node": an array
 * of n_slots pointers where slot i < config_options_len holds option i's
 * text (if the option lives in that mapping and the file sets it) and slot
 * config_options_len + j holds section j's node. Every leaf is an optional
 * string, so libcyaml checks structure only; the table checks values. */
struct yaml_schema {
	struct yaml_section *secs;    /* owned; [0] is the root */
	size_t n_secs;
	size_t max_secs;
	size_t max_fields;            /* capacity of every fields array */
	size_t n_slots;
	size_t *opt_sec;              /* owned; section index of each option */
	cyaml_schema_value_t top;
};

static uint32_t slot_offset(size_t slot)
{
	return (uint32_t)(slot * sizeof(void *));
}

/* Reads slot `slot` of a node libcyaml filled in. */
static void *slot_get(const void *node, size_t slot)
{
	void *p;

	memcpy(&p, (const char *)node + slot_offset(slot), sizeof(p));
	return p;
}

static void schema_add_field(struct yaml_schema *s, size_t sec,
		cyaml_schema_field_t field)
{
	struct yaml_section *m = &s->secs[sec];

	/* The array is zeroed, so the entry after the last stays the end. */
	UTIL_ASSERT(m->n_fields + 1 < s->max_fields);
	m->fields[m->n_fields++] = field;
}

static size_t schema_find(const struct yaml_schema *s, const char *path,
		size_t len)
{
	for (size_t i = 0; i < s->n_secs; i++)
		if (strlen(s->secs[i].path) == len &&
		    memcmp(s->secs[i].path, path, len) == 0)
			return i;
	return SIZE_MAX;
}

/* Returns the index of the section path[0..len), adding it (and any missing
 * parent) with an optional mapping field in its parent when new. */
static size_t schema_section(struct yaml_schema *s, const char *path, /* NOLINT(misc-no-recursion): as deep as the dots of a section name in the built-in option table */
		size_t len)
{
	size_t i = schema_find(s, path, len), parent, name;
	const char *dot;

	if (i != SIZE_MAX)
		return i;
	dot = memrchr(path, '.', len);
	name = dot ? (size_t)(dot - path) + 1 : 0;
	parent = schema_section(s, path, name ? name - 1 : 0);
	UTIL_ASSERT(s->n_secs < s->max_secs && name < len);
	i = s->n_secs++;
	s->secs[i].path = util_xstrndup(path, len);
	s->secs[i].parent = parent;
	s->secs[i].fields = util_xcalloc(s->max_fields,
			sizeof(cyaml_schema_field_t));
	schema_add_field(s, parent, (cyaml_schema_field_t){
		.key = s->secs[i].path + name,
		.data_offset = slot_offset(config_options_len + i),
		.value = {
			.type = CYAML_MAPPING,
			/* "section:" with nothing under it: all defaults */
			.flags = (enum cyaml_flag)(CYAML_FLAG_OPTIONAL |
					CYAML_FLAG_POINTER_NULL),
			.data_size = slot_offset(s->n_slots),
			.mapping = { .fields = s->secs[i].fields },
		},
	});
	return i;
}

/* A list option's entries: strings. */
static const cyaml_schema_value_t list_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

/* The slot holding a list option's entry count. */
static size_t count_slot(const struct yaml_schema *s, size_t i)
{
	return s->n_slots - config_options_len + i;
}

static void schema_add_list(struct yaml_schema *s, size_t i)
{
	const struct config_option *opt = &config_options[i];

	schema_add_field(s, s->opt_sec[i], (cyaml_schema_field_t){
		.key = opt->key,
		.data_offset = slot_offset(i),
		.count_offset = slot_offset(count_slot(s, i)),
		.count_size = sizeof(void *),
		.value = {
			.type = CYAML_SEQUENCE,
			.flags = (enum cyaml_flag)(CYAML_FLAG_OPTIONAL |
					CYAML_FLAG_POINTER),
			.data_size = sizeof(char *),
			.sequence = { .entry = &list_entry, .min = 0,
				      .max = CYAML_UNLIMITED },
		},
	});
}

static void schema_add_option(struct yaml_schema *s, size_t i)
{
	const struct config_option *opt = &config_options[i];

	s->opt_sec[i] = schema_section(s, opt->section, strlen(opt->section));
	if (opt->type == CONFIG_LIST) {
		schema_add_list(s, i);
		return;
	}
	schema_add_field(s, s->opt_sec[i], (cyaml_schema_field_t){
		.key = opt->key,
		.data_offset = slot_offset(i),
		.value = {
			.type = CYAML_STRING,
			.flags = (enum cyaml_flag)(CYAML_FLAG_OPTIONAL |
					CYAML_FLAG_POINTER),
			.data_size = sizeof(char *),
			.string = { .min = 0, .max = CYAML_UNLIMITED },
		},
	});
}

/* Builds the schema; release it with schema_release. */
static void schema_init(struct yaml_schema *s)
{
	size_t max = 1;

	for (size_t i = 0; i < config_options_len; i++) {
		max++;
		for (const char *p = config_options[i].section; *p; p++)
			max += *p == '.';
	}
	s->max_secs = max;
	s->max_fields = config_options_len + max + 1;
	/* options, sections, then a count for each option (lists use it) */
	s->n_slots = config_options_len + max + config_options_len;
	s->secs = util_xcalloc(max, sizeof(*s->secs));
	s->opt_sec = util_xcalloc(config_options_len, sizeof(*s->opt_sec));
	s->secs[0].path = util_xstrdup("");
	s->secs[0].fields = util_xcalloc(s->max_fields,
			sizeof(cyaml_schema_field_t));
	s->n_secs = 1;
	for (size_t i = 0; i < config_options_len; i++)
		schema_add_option(s, i);
	/* events.webhooks, a list of mappings, is read apart
	 * (config_webhooks.c): libcyaml only lets it be */
	schema_add_field(s, schema_section(s, "events", 6),
			 (cyaml_schema_field_t)CYAML_FIELD_IGNORE("webhooks",
						CYAML_FLAG_OPTIONAL));
	s->top = (cyaml_schema_value_t){
		.type = CYAML_MAPPING,
		/* a document with nothing in it ("---" alone) is empty too */
		.flags = CYAML_FLAG_POINTER_NULL,
		.data_size = slot_offset(s->n_slots),
		.mapping = { .fields = s->secs[0].fields },
	};
}

static void schema_release(struct yaml_schema *s)
{
	for (size_t i = 0; i < s->n_secs; i++) {
		free(s->secs[i].path);
		free(s->secs[i].fields);
	}
	free(s->secs);
	free(s->opt_sec);
}

/* The node section `sec` was loaded into, or NULL if the file lacks it. */
static const void *schema_node(const struct yaml_schema *s, const void *root, /* NOLINT(misc-no-recursion): as deep as the section's parents in the built-in option table */
		size_t sec)
{
	const void *parent;

	if (sec == 0 || !root)
		return root;
	parent = schema_node(s, root, s->secs[sec].parent);
	return parent ? slot_get(parent, config_options_len + sec) : NULL;
}

/* Appends the keys of the section at `path`, comma-separated. */
static void schema_keys(const struct yaml_schema *s, const char *path,
		struct util_buf *out)
{
	size_t sec = schema_find(s, path, strlen(path));

	if (sec == SIZE_MAX)
		return;
	for (size_t j = 0; j < s->secs[sec].n_fields; j++)
		util_buf_printf(out, "%s%s", j ? ", " : "",
				s->secs[sec].fields[j].key);
}

/* ---- what libcyaml logs ------------------------------------------------- */

/* One "  in mapping [field 'x'] (line: L, column: C)" backtrace line. */
struct yaml_frame {
	char *field;  /* owned; NULL for a bare "in mapping" line */
	size_t line, col;
};

/* Everything libcyaml logged while loading one document. */
struct yaml_log {
	char *error;                  /* owned; first error, "Load: " cut */
	struct yaml_frame frames[FRAMES_MAX]; /* innermost first */
	size_t n_frames;
	struct util_strlist warnings; /* "Load: " cut */
};

static const char *after_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Reads the decimal number at *s into *out and moves *s past it.
 * Returns 0, or -1 if there is none or it does not fit. */
static int read_size(const char **s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (**s < '0' || **s > '9')
		return -1;
	errno = 0;
	v = strtoull(*s, &end, 10);
	if (errno || v > SIZE_MAX)
		return -1;
	*out = (size_t)v;
	*s = end;
	return 0;
}

/* libcyaml's "(line: L, column: C)" at `s` into f. Returns 0 or -1. */
static int yaml_frame_position(const char *s, struct yaml_frame *f)
{
	if (!(s = after_prefix(s, "(line: ")) || read_size(&s, &f->line) ||
	    !(s = after_prefix(s, ", column: ")) || read_size(&s, &f->col))
		return -1;
	return *s == ')' ? 0 : -1;
}

/* Records `msg` if it is a backtrace line; false if it is not one. */
static bool yaml_log_frame(struct yaml_log *log, const char *msg)
{
	struct yaml_frame f = { NULL, 0, 0 };
	const char *name, *pos = strrchr(msg, '(');

	if (!after_prefix(msg, "  in "))
		return false;
	if (!pos || log->n_frames == FRAMES_MAX ||
	    yaml_frame_position(pos, &f))
		return true;
	if ((name = after_prefix(msg, "  in mapping field '")) != NULL) {
		const char *end = strchr(name, '\'');

		if (!end)
			return true;
		f.field = util_xstrndup(name, (size_t)(end - name));
	} else if (!after_prefix(msg, "  in mapping (")) {
		return true;
	}
	log->frames[log->n_frames++] = f;
	return true;
}

/* cyaml_log_fn_t: keeps messages for config_load's report, prints nothing. */
__attribute__((format(printf, 3, 0)))
static void yaml_log_fn(cyaml_log_t level, void *ctx, const char *fmt,
		va_list args)
{
	struct yaml_log *log = ctx;
	struct util_buf b;
	const char *text;

	util_buf_init(&b, 0);
	util_buf_vprintf(&b, fmt, args);
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	text = b.data ? b.data : "";
	if (after_prefix(text, "Load: "))
		text += strlen("Load: ");
	if (level < CYAML_LOG_ERROR)
		util_strlist_add(&log->warnings, "%s", text);
	else if (!yaml_log_frame(log, b.data ? b.data : "") &&
		 strcmp(text, "Backtrace:") != 0 && !log->error)
		log->error = util_xstrdup(text);
	util_buf_release(&b);
}

static void yaml_log_release(struct yaml_log *log)
{
	free(log->error);
	for (size_t i = 0; i < log->n_frames; i++)
		free(log->frames[i].field);
	util_strlist_release(&log->warnings);
}

/* ---- turning libcyaml's messages into problems -------------------------- */

/* The file being loaded, for messages. */
struct yaml_src {
	const char *name;
	const char *data;             /* not NUL-terminated */
	size_t len;
	const struct yaml_schema *schema;
	const struct config_pos *pos; /* where keys and values are */
	struct util_strlist *errors;
};

/* Appends `s` as a quoted, escaped string, cut after QUOTE_MAX bytes. */
static void put_quoted(struct util_buf *b, const char *s)
{
	size_t n = strlen(s);
	char *cut;

	if (n <= QUOTE_MAX) {
		util_buf_json_str(b, s);
		return;
	}
	n = QUOTE_MAX;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	cut = util_xstrndup(s, n);
	util_buf_json_str(b, cut);
	util_buf_puts(b, "...");
	free(cut);
}

/* Adds "<file>:<line>:<col>: <text>", or "<file>: <text>" when line is 0. */
static void add_problem(const struct yaml_src *src, size_t line, size_t col,
		const char *text)
{
	if (line)
		util_strlist_add(src->errors, "%s:%zu:%zu: %s", src->name, line,
				col, text);
	else
		util_strlist_add(src->errors, "%s: %s", src->name, text);
}

/* Appends the dotted path of the backtrace's fields, outermost first. */
static void frames_path(const struct yaml_log *log, struct util_buf *out)
{
	size_t start = out->len;

	for (size_t i = log->n_frames; i-- > 0;)
		if (log->frames[i].field)
			util_buf_printf(out, "%s%s",
					out->len > start ? "." : "",
					log->frames[i].field);
	if (!out->data)
		util_buf_puts(out, "");
}

/* Adds text at the position of key `path` (nth occurrence), or without a
 * position if the file has none for it. */
static void add_at_key(const struct yaml_src *src, const char *path, size_t nth,
		const char *text)
{
	const struct config_pos_entry *e = config_pos_find(src->pos, path, nth);

	add_problem(src, e ? e->key.line : 0, e ? e->key.col : 0, text);
}

static void report_unknown_key(const struct yaml_src *src,
		const struct yaml_log *log, const char *key)
{
	struct util_buf b, path;

	util_buf_init(&b, 0);
	util_buf_init(&path, 0);
	frames_path(log, &path);
	util_buf_puts(&b, "unknown key ");
	put_quoted(&b, key);
	if (path.len)
		util_buf_printf(&b, " in %s (known keys: ", path.data);
	else
		util_buf_puts(&b, " at the top level (known keys: ");
	schema_keys(src->schema, path.data, &b);
	util_buf_putc(&b, ')');
	if (path.len)
		util_buf_putc(&path, '.');
	util_buf_puts(&path, key);
	add_at_key(src, path.data, 0, b.data);
	util_buf_release(&b);
	util_buf_release(&path);
}

static const char *event_desc(const char *event)
{
	if (strcmp(event, "SCALAR") == 0)
		return "a single value";
	if (strcmp(event, "SEQUENCE_START") == 0)
		return "a list";
	if (strcmp(event, "MAPPING_START") == 0)
		return "a section of keys";
	return "something else";
}

/* "Expecting MAPPING, got event: SCALAR" and the like ("Expecting " cut). */
static void report_shape(const struct yaml_src *src,
		const struct yaml_log *log, const char *msg)
{
	const char *got = strstr(msg, "got event: ");
	const char *desc = event_desc(got ? got + strlen("got event: ") : "");
	struct util_buf b, path;

	util_buf_init(&b, 0);
	util_buf_init(&path, 0);
	frames_path(log, &path);
	if (!after_prefix(msg, "MAPPING")) {
		util_buf_printf(&b, "%s: must be a single value, not %s",
				path.len ? path.data : "value", desc);
	} else {
		if (path.len)
			util_buf_printf(&b, "%s: must be a section with the keys ",
					path.data);
		else
			util_buf_puts(&b,
				"the file must be a mapping of the sections ");
		schema_keys(src->schema, path.data, &b);
		util_buf_printf(&b, ", not %s", desc);
	}
	add_problem(src, log->n_frames ? log->frames[0].line : 0,
			log->n_frames ? log->frames[0].col : 0, b.data);
	util_buf_release(&b);
	util_buf_release(&path);
}

/* "Mapping field already seen: threads". The backtrace's innermost field
 * is the repeated key; its position is the previous value's, so none is
 * given. */
static void report_duplicate(const struct yaml_src *src,
		const struct yaml_log *log, const char *key)
{
	struct util_buf path;
	char *text;

	util_buf_init(&path, 0);
	frames_path(log, &path);
	if (!log->n_frames || !log->frames[0].field ||
	    strcmp(log->frames[0].field, key) != 0)
		util_buf_printf(&path, "%s%s", path.len ? "." : "", key);
	text = util_xasprintf("%s: set more than once", path.data);
	add_at_key(src, path.data, 1, text);  /* at the second one */
	free(text);
	util_buf_release(&path);
}

/* libyaml's own errors and anything unexpected: libcyaml only knows the
 * last good position before the problem. */
static void report_after(const struct yaml_src *src,
		const struct yaml_log *log, const char *what, const char *msg)
{
	if (log->n_frames && log->frames[0].line)
		util_strlist_add(src->errors,
				"%s: %s after line %zu, column %zu: %s",
				src->name, what, log->frames[0].line,
				log->frames[0].col, msg);
	else
		util_strlist_add(src->errors, "%s: %s: %s", src->name, what,
				msg);
}

/* libyaml's error, at the place libyaml names. A tab is named: YAML
 * indents with spaces only, and a tab is invisible in most editors. */
static void report_syntax(const struct yaml_src *src,
		const struct yaml_log *log, const char *problem)
{
	const struct config_pos *p = src->pos;
	struct util_buf b;

	if (!p->failed) {
		report_after(src, log, "YAML syntax error", problem);
		return;
	}
	util_buf_init(&b, 0);
	if (p->tab)
		util_buf_puts(&b, "YAML syntax error: a tab character; YAML "
				"indents with spaces only");
	else
		util_buf_printf(&b, "YAML syntax error: %s", p->problem);
	if (p->context && !p->tab)
		util_buf_printf(&b, " (%s that starts at line %zu, column %zu)",
				p->context, p->context_at.line, p->context_at.col);
	add_problem(src, p->at.line, p->at.col, b.data);
	util_buf_release(&b);
}

/* "No anchor found for alias: 'name'" ("No anchor …: " cut). */
static void report_alias(const struct yaml_src *src,
		const struct yaml_log *log, const char *quoted)
{
	size_t n = strlen(quoted);
	char *msg;

	if (n >= 2 && quoted[0] == '\'' && quoted[n - 1] == '\'') {
		quoted++;
		n -= 2;
	}
	msg = util_xasprintf("alias *%.*s refers to no earlier anchor &%.*s",
			(int)n, quoted, (int)n, quoted);
	if (src->pos->alias.line)
		add_problem(src, src->pos->alias.line, src->pos->alias.col, msg);
	else
		report_after(src, log, "YAML error", msg);
	free(msg);
}

/* libcyaml's error messages this file knows how to explain. */
static const struct {
	const char *prefix;
	void (*report)(const struct yaml_src *src, const struct yaml_log *log,
			const char *rest);
} yaml_errors[] = {
	{ "Unexpected key: ", report_unknown_key },
	{ "Expecting ", report_shape },
	{ "Mapping field already seen: ", report_duplicate },
	{ "libyaml: ", report_syntax },
	{ "No anchor found for alias: ", report_alias },
};

static void yaml_report(const struct yaml_src *src, const struct yaml_log *log,
		cyaml_err_t err)
{
	const char *msg = log->error ? log->error : cyaml_strerror(err);
	const char *rest;

	for (size_t i = 0; i < UTIL_ARRAY_LEN(yaml_errors); i++) {
		if ((rest = after_prefix(msg, yaml_errors[i].prefix)) != NULL) {
			yaml_errors[i].report(src, log, rest);
			return;
		}
	}
	if (!log->error && err == CYAML_ERR_INTERNAL_ERROR &&
	    src->pos->complex_key.line)
		/* what libcyaml 1.3 does, silently, with a list or a section
		 * used as a key ("{[a]: 1}", "? {}") */
		add_problem(src, src->pos->complex_key.line,
				src->pos->complex_key.col,
				"a list or a section cannot be a key");
	else if (!log->error && err == CYAML_ERR_INTERNAL_ERROR)
		report_after(src, log, "cannot load", "libcyaml internal error");
	else
		report_after(src, log, "cannot load", msg);
}

static void yaml_report_warning(const struct yaml_src *src, const char *msg)
{
	if (strcmp(msg, "Ignoring documents after first in stream") == 0)
		add_problem(src, src->pos->second_document.line,
				src->pos->second_document.col,
				"only one YAML document is allowed (found a "
				"second \"---\")");
	else
		util_strlist_add(src->errors, "%s: %s", src->name, msg);
}

/* ---- loading ------------------------------------------------------------ */

/* Parses the file into *raw (free with yaml_free). Returns 0, or -1 after
 * adding problems; warnings are added as problems but still return 0 so
 * the values are checked too. */
static int yaml_load(const struct yaml_src *src, void **raw)
{
	struct yaml_log log = { .error = NULL, .n_frames = 0 };
	cyaml_config_t cfg = {
		.log_fn = yaml_log_fn,
		.log_ctx = &log,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_WARNING,
		.flags = CYAML_CFG_DEFAULT,
	};
	cyaml_err_t err;

	util_strlist_init(&log.warnings);
	err = cyaml_load_data((const uint8_t *)src->data, src->len, &cfg,
			&src->schema->top, raw, NULL);
	if (err != CYAML_OK)
		yaml_report(src, &log, err);
	for (size_t i = 0; i < log.warnings.len; i++)
		yaml_report_warning(src, log.warnings.items[i]);
	yaml_log_release(&log);
	return err == CYAML_OK ? 0 : -1;
}

static void yaml_free(const struct yaml_schema *s, void *raw)
{
	cyaml_config_t cfg = {
		.log_fn = NULL,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
	};

	if (raw)
		cyaml_free(&cfg, &s->top, raw, 0);
}

/* Appends "<file>:<line>:<col>: <section.key>: " for a value from the
 * file (its position when known). */
static void value_prefix(const struct yaml_src *src,
		const struct config_option *opt, struct util_buf *b)
{
	char *path = util_xasprintf("%s.%s", opt->section, opt->key);
	const struct config_pos_entry *e = config_pos_find(src->pos, path, 0);

	if (e && e->value.line)
		util_buf_printf(b, "%s:%zu:%zu: %s: ", src->name, e->value.line,
				e->value.col, path);
	else
		util_buf_printf(b, "%s: %s: ", src->name, path);
	free(path);
}

/* Converts and stores one value; a bad one becomes a problem naming the
 * file, place and key (src != NULL) or else the environment variable. */
static void apply_value(const struct config_option *opt, const char *text,
		const struct yaml_src *src, struct config *c,
		struct util_strlist *errors)
{
	struct util_buf b;

	if (config_option_set(opt, text, c) == 0)
		return;
	util_buf_init(&b, 0);
	if (src)
		value_prefix(src, opt, &b);
	else
		util_buf_printf(&b, "%s: ", opt->env);
	config_option_rule(opt, &b);
	util_buf_puts(&b, " (got ");
	put_quoted(&b, text);
	util_buf_putc(&b, ')');
	util_strlist_add(errors, "%s", b.data);
	util_buf_release(&b);
}

static void apply_defaults(struct config *c)
{
	for (size_t i = 0; i < config_options_len; i++) {
		int rc = config_option_set(&config_options[i],
				config_options[i].def, c);

		UTIL_ASSERT(rc == 0); /* a default the table rejects is a bug */
	}
}

/* A list from the file as one text, entries on lines of their own; an
 * entry with whitespace in it is refused by the list's rule. Returns the
 * text (owned) or NULL if the file does not set the list. */
static char *list_text(const struct yaml_schema *s, const void *node, size_t i)
{
	char **items = node ? slot_get(node, i) : NULL;
	size_t n = node ? (size_t)(uintptr_t)slot_get(node, count_slot(s, i)) : 0;
	struct util_buf b;

	if (!items)
		return NULL;
	util_buf_init(&b, 0);
	util_buf_puts(&b, "");
	for (size_t j = 0; j < n; j++) {
		if (strpbrk(items[j], " \t\r\n") || !*items[j])
			util_buf_putc(&b, '\x01');  /* not printable: refused */
		util_buf_printf(&b, "%s\n", items[j]);
	}
	return util_buf_take(&b);
}

static void apply_file(const struct yaml_src *src, const void *raw,
		struct config *c)
{
	const struct yaml_schema *s = src->schema;

	for (size_t i = 0; i < config_options_len; i++) {
		const void *node = schema_node(s, raw, s->opt_sec[i]);
		const char *text;
		char *list;

		if (config_options[i].type == CONFIG_LIST) {
			if ((list = list_text(s, node, i)))
				apply_value(&config_options[i], list, src, c,
						src->errors);
			free(list);
			continue;
		}
		text = node ? slot_get(node, i) : NULL;
		if (text)
			apply_value(&config_options[i], text, src, c,
					src->errors);
	}
}

static void apply_env(config_getenv_fn getenv_fn, struct config *c,
		struct util_strlist *errors)
{
	for (size_t i = 0; i < config_options_len; i++) {
		const char *text = getenv_fn(config_options[i].env);

		if (text)
			apply_value(&config_options[i], text, NULL, c, errors);
	}
}

int config_load_mem(const char *name, const char *data, size_t len,
		config_getenv_fn getenv_fn, struct config *out,
		struct util_strlist *errors)
{
	struct yaml_schema schema;
	struct config_pos pos;
	struct yaml_src src = {
		.name = name, .data = data ? data : "", .len = data ? len : 0,
		.schema = &schema, .pos = &pos, .errors = errors,
	};
	size_t before = errors->len;
	void *raw = NULL;

	memset(out, 0, sizeof(*out));
	apply_defaults(out);
	schema_init(&schema);
	config_pos_scan(src.data, src.len, &pos);
	if (name && yaml_load(&src, &raw) == 0) {
		apply_file(&src, raw, out);
		config_webhooks_load(name, src.data, src.len, out, errors);
	}
	if (getenv_fn)
		apply_env(getenv_fn, out, errors);
	yaml_free(&schema, raw);
	schema_release(&schema);
	config_pos_release(&pos);
	if (errors->len == before)
		return 0;
	config_release(out);
	return -1;
}

/* Reads the file into `text`; on failure adds "<path>: cannot read: …". */
static int read_file(const char *path, struct util_buf *text,
		     struct util_strlist *errors)
{
	if (util_read_file(path, text) == 0)
		return 0;
	if (errno == EFBIG)
		util_strlist_add(errors, "%s: cannot read: larger than %d bytes",
				 path, CONFIG_FILE_MAX);
	else
		util_strlist_add(errors, "%s: cannot read: %s", path,
				 util_strerror(errno));
	return -1;
}

int config_load(const char *path, config_getenv_fn getenv_fn,
		struct config *out, struct util_strlist *errors)
{
	struct util_buf text;
	int rc;

	util_buf_init(&text, CONFIG_FILE_MAX);
	if (path && read_file(path, &text, errors)) {
		/* Check the environment anyway: every problem at once. */
		if (config_load_mem(NULL, NULL, 0, getenv_fn, out, errors) == 0)
			config_release(out);
		rc = -1;
		goto out;
	}
	rc = config_load_mem(path, text.data, text.len, getenv_fn, out, errors);
out:
	util_buf_release(&text);
	return rc;
}

void config_release(struct config *c)
{
	config_webhooks_release(c);
	for (size_t i = 0; i < config_options_len; i++)
		config_option_clear(&config_options[i], c);
	memset(c, 0, sizeof(*c));
}

void config_dump(const struct config *c, struct util_buf *out)
{
	for (size_t i = 0; i < config_options_len; i++) {
		const struct config_option *opt = &config_options[i];

		util_buf_printf(out, "%s.%s = ", opt->section, opt->key);
		config_option_format(opt, c, out);
		util_buf_putc(out, '\n');
	}
	/* the list's URLs, never its secrets */
	util_buf_printf(out, "events.webhooks = %zu", c->events.n_webhooks);
	for (size_t i = 0; i < c->events.n_webhooks; i++)
		util_buf_printf(out, "%s%s", i ? ", " : " (", c->events.webhooks[i].url);
	util_buf_puts(out, c->events.n_webhooks ? ")\n" : "\n");
}
