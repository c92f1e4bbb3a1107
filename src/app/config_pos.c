/* app/config_pos.c: where each key and value of the configuration file
 * sits, read with libyaml's event parser, so every message can point at
 * file:line:column — and libyaml's own syntax errors, with their place. */
#include "app/config_int.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Mappings nested deeper than this are walked but not recorded. */
#define POS_DEPTH_MAX 32

struct pos_frame {
	bool mapping;        /* else a sequence */
	bool expect_key;     /* mapping: the next node is a key */
	size_t path_len;     /* this node's path in the shared buffer */
	size_t entry;        /* mapping: the entry of the key awaiting its value */
};

struct pos_walk {
	struct config_pos *out;
	struct pos_frame stack[POS_DEPTH_MAX];
	size_t depth;
	struct util_buf path;  /* dotted path of the innermost node */
	size_t documents;
};

static void mark_at(const yaml_mark_t *m, struct config_pos_mark *out)
{
	out->line = m->line + 1;
	out->col = m->column + 1;
}

/* The innermost recorded frame; NULL at the top, or below the depth
 * recorded (nothing there is recorded). */
static struct pos_frame *top(struct pos_walk *w)
{
	return w->depth && w->depth <= POS_DEPTH_MAX ? &w->stack[w->depth - 1] :
		NULL;
}

/* A key: records its entry, and extends the path for its value. */
static void on_key(struct pos_walk *w, const char *key, const yaml_mark_t *m)
{
	struct config_pos *p = w->out;
	struct pos_frame *f = top(w);
	struct config_pos_entry *e;

	w->path.len = f->path_len;
	if (w->path.data)
		w->path.data[w->path.len] = '\0';
	util_buf_printf(&w->path, "%s%s", f->path_len ? "." : "", key);
	if (p->len == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->items = util_xrealloc(p->items, p->cap * sizeof(*p->items));
	}
	e = &p->items[p->len];
	memset(e, 0, sizeof(*e));
	e->path = util_xstrdup(w->path.data);
	mark_at(m, &e->key);
	f->entry = p->len++;
	f->expect_key = false;
}

/* A value starts at m: recorded for the key it belongs to, if any. */
static void on_value(struct pos_walk *w, const yaml_mark_t *m)
{
	struct pos_frame *f = top(w);

	if (!f || !f->mapping || f->expect_key)
		return;
	if (f->entry < w->out->len)
		mark_at(m, &w->out->items[f->entry].value);
	f->expect_key = true;
}

/* A non-scalar key: remembered (it is refused later), its value skipped. */
static void on_complex_key(struct pos_walk *w, const yaml_mark_t *m)
{
	struct pos_frame *f = top(w);

	if (!w->out->complex_key.line)
		mark_at(m, &w->out->complex_key);
	f->entry = SIZE_MAX;
	f->expect_key = false;
}

static void push(struct pos_walk *w, bool mapping, const yaml_mark_t *m)
{
	struct pos_frame *f = top(w);

	if (f && f->mapping && f->expect_key)
		on_complex_key(w, m);
	else if (f)
		on_value(w, m);
	if (w->depth >= POS_DEPTH_MAX) {
		w->depth++;  /* counted, not recorded */
		return;
	}
	w->stack[w->depth++] = (struct pos_frame){
		.mapping = mapping, .expect_key = true,
		.path_len = w->path.len, .entry = SIZE_MAX,
	};
}

static void pop(struct pos_walk *w)
{
	if (w->depth == 0)
		return;
	w->depth--;
	if (w->depth < POS_DEPTH_MAX && w->depth) {
		w->path.len = w->stack[w->depth].path_len;
		if (w->path.data)
			w->path.data[w->path.len] = '\0';
	}
}

/* Handles one event; returns false at the end of the stream. */
static bool on_event(struct pos_walk *w, const yaml_event_t *ev)
{
	struct pos_frame *f = top(w);

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++w->documents == 2)
			mark_at(&ev->start_mark, &w->out->second_document);
		break;
	case YAML_MAPPING_START_EVENT:
		push(w, true, &ev->start_mark);
		break;
	case YAML_SEQUENCE_START_EVENT:
		push(w, false, &ev->start_mark);
		break;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		pop(w);
		break;
	case YAML_SCALAR_EVENT:
		if (f && f->mapping && f->expect_key)
			on_key(w, (const char *)ev->data.scalar.value, &ev->start_mark);
		else
			on_value(w, &ev->start_mark);
		break;
	case YAML_ALIAS_EVENT:
		if (!w->out->alias.line)
			mark_at(&ev->start_mark, &w->out->alias);
		if (f && f->mapping && f->expect_key)
			on_complex_key(w, &ev->start_mark);
		else
			on_value(w, &ev->start_mark);
		break;
	case YAML_STREAM_END_EVENT:
		return false;
	default:
		break;
	}
	return true;
}

/* Keeps libyaml's error: what, where, and in what context. */
static void on_error(const yaml_parser_t *parser, const char *data, size_t len,
		     struct config_pos *out)
{
	out->failed = true;
	out->problem = util_xstrdup(parser->problem ? parser->problem :
				    "the file cannot be parsed");
	mark_at(&parser->problem_mark, &out->at);
	out->tab = parser->problem_mark.index < len &&
		   data[parser->problem_mark.index] == '\t';
	if (parser->context) {
		out->context = util_xstrdup(parser->context);
		mark_at(&parser->context_mark, &out->context_at);
	}
}

void config_pos_scan(const char *data, size_t len, struct config_pos *out)
{
	struct pos_walk w = { .out = out };
	yaml_parser_t parser;
	yaml_event_t ev;
	bool more = true;

	memset(out, 0, sizeof(*out));
	util_buf_init(&w.path, 0);
	if (!yaml_parser_initialize(&parser)) {
		out->failed = true;
		out->problem = util_xstrdup("out of memory");
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (more) {
		if (!yaml_parser_parse(&parser, &ev)) {
			on_error(&parser, data, len, out);
			break;
		}
		more = on_event(&w, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	util_buf_release(&w.path);
}

const struct config_pos_entry *config_pos_find(const struct config_pos *p,
					       const char *path, size_t nth)
{
	for (size_t i = 0; i < p->len; i++)
		if (strcmp(p->items[i].path, path) == 0 && nth-- == 0)
			return &p->items[i];
	return NULL;
}

void config_pos_release(struct config_pos *p)
{
	for (size_t i = 0; i < p->len; i++)
		free(p->items[i].path);
	free(p->items);
	free(p->problem);
	free(p->context);
	memset(p, 0, sizeof(*p));
}
