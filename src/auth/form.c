/* auth/form.c: parsing of application/x-www-form-urlencoded bodies and of
 * HTTP Basic credentials, as the OAuth token endpoint receives them. */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void auth_form_release(struct auth_form *f)
{
	for (size_t i = 0; i < f->len; i++) {
		free(f->names[i]);
		free(f->values[i]);
	}
	f->len = 0;
}

/* Decodes one name or value; NULL if malformed (bad escape, a NUL, or a
 * control character). Owned by the caller. */
static char *decode_component(const char *in, size_t n)
{
	char *out = util_xmalloc(n + 1);
	long len = util_percent_decode(in, n, out, true);

	if (len < 0 || !util_is_printable_ascii(out, (size_t)len)) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

/* Adds one "name=value" pair. Returns 0, or an AUTH_FORM_* failure. */
static int add_pair(struct auth_form *f, const char *pair, size_t n)
{
	const char *eq = memchr(pair, '=', n);
	char *name, *value;

	if (!eq)
		return AUTH_FORM_MALFORMED;
	name = decode_component(pair, (size_t)(eq - pair));
	value = decode_component(eq + 1, n - (size_t)(eq - pair) - 1);
	if (!name || !value || !*name) {
		free(name);
		free(value);
		return AUTH_FORM_MALFORMED;
	}
	if (auth_form_get(f, name)) {
		free(name);
		free(value);
		return AUTH_FORM_DUPLICATE;
	}
	if (f->len == AUTH_FORM_MAX) {
		free(name);
		free(value);
		return AUTH_FORM_TOO_MANY;
	}
	f->names[f->len] = name;
	f->values[f->len++] = value;
	return 0;
}

int auth_form_parse(const char *body, size_t len, struct auth_form *f,
		    char *bad_name, size_t bad_size)
{
	size_t i = 0;
	int rc;

	f->len = 0;
	bad_name[0] = '\0';
	while (i < len) {
		const char *amp = memchr(body + i, '&', len - i);
		size_t n = amp ? (size_t)(amp - body) - i : len - i;

		if (n > 0 && (rc = add_pair(f, body + i, n))) {
			if (rc == AUTH_FORM_DUPLICATE) {
				const char *eq = memchr(body + i, '=', n);
				size_t k = (size_t)(eq - (body + i));

				snprintf(bad_name, bad_size, "%.*s", (int)k,
					 body + i);
			}
			auth_form_release(f);
			return rc;
		}
		i += n + 1;
	}
	return 0;
}

const char *auth_form_get(const struct auth_form *f, const char *name)
{
	for (size_t i = 0; i < f->len; i++)
		if (strcmp(f->names[i], name) == 0)
			return f->values[i];
	return NULL;
}

/* Decodes one form-urlencoded half of a Basic credential into out. */
static int basic_part(const char *in, size_t n, char *out, size_t size)
{
	char *v = decode_component(in, n);
	int rc = -1;

	if (v && *v && strlen(v) < size) {
		memcpy(out, v, strlen(v) + 1);
		rc = 0;
	}
	free(v);
	return rc;
}

int auth_basic_parse(const char *authorization, char *id, size_t id_size,
		     char *secret, size_t secret_size)
{
	char decoded[512];
	const char *p;
	char *colon;
	size_t n;
	long len;

	if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
		return -1;
	p = authorization + 6;
	while (*p == ' ')
		p++;
	n = strlen(p);
	while (n && p[n - 1] == ' ')
		n--;
	if (n == 0 || n > 4 * ((sizeof(decoded) - 1) / 3))
		return -1;
	len = util_base64_decode(p, n, decoded, false);
	if (len <= 0)
		return -1;
	decoded[len] = '\0';
	if (strlen(decoded) != (size_t)len)
		return -1;
	colon = strchr(decoded, ':');
	if (!colon)
		return -1;
	/* RFC 6749 §2.3.1: both halves are form-urlencoded first. */
	if (basic_part(decoded, (size_t)(colon - decoded), id, id_size) ||
	    basic_part(colon + 1, strlen(colon + 1), secret, secret_size))
		return -1;
	return 0;
}
