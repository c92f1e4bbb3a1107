/* sources/gamepot_int.h (private to the GAMEPOT files): what the purchase
 * and coupon webhooks share — admission by path secret and address, the
 * form parser, the {"status", "message"} replies. */
#ifndef GRANTD_SOURCES_GAMEPOT_INT_H
#define GRANTD_SOURCES_GAMEPOT_INT_H

#include "sources/sources.h"

/* The reply GAMEPOT reads on success; HTTP 200 (static). */
extern const char gamepot_success[];

/* {"status": 0, "message": <formatted>} with HTTP `status`. */
void gamepot_reply_failure(struct http_request *req, unsigned status,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Admits a webhook call: an allowed address (else 403) and a configured
 * path secret (else 404), then finds its fields — a form-encoded POST
 * body, else the query string (borrowed from req). Returns 0, or -1 once
 * it has replied. */
int gamepot_webhook_form(struct http_request *req,
			 const struct gamepot_settings *gs, const char **form,
			 size_t *len);
/* True if `given` (may be NULL) is this server's projectId. */
bool gamepot_project_ok(const struct gamepot_settings *gs, const char *given);

/* A field a webhook carries, and its longest value in bytes. */
struct gamepot_field {
	const char *name;
	size_t max;
};
#define GAMEPOT_FIELDS_MAX 32

/* Parses form-encoded fields ("k=v&…", '+' a space, %-escapes) named in
 * spec into field[i] (owned; NULL when absent or empty). Unknown names are
 * ignored; a name given twice, a malformed escape or a value over its
 * maximum is refused. Returns 0, or -1 with msg (and nothing owned). */
int gamepot_form_parse(const char *form, size_t len,
		       const struct gamepot_field *spec, size_t n_spec,
		       char **field, char *msg, size_t msg_size);
void gamepot_fields_release(char **field, size_t n);

/* An idempotency key for `id`: itself if it fits a store key and is
 * printable ASCII, else "sha256:<hex>" of it. */
void gamepot_make_key(const char *id, char out[STORE_EXTERNAL_ID_MAX + 1]);

/* GET or POST /v1/gamepot/{webhook_secret}/coupon (gamepot_coupon.c). */
void gamepot_coupon_handler(struct http_request *req);

#endif
