/* offers/validate.c: whether a decrypted TentuPlay offer may be used by an
 * account now — its player, is_opened, expire_at and its shape. */
#include "offers/offers.h"
#include "offers/offers_int.h"

#include <stdio.h>
#include <string.h>

/* Reads exactly `n` digits of s into *out. Returns 0 or -1. */
static int read_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int offers_zone_parse(const char *zone, int *offset_minutes, char *why,
		      size_t why_size)
{
	size_t n = zone ? strlen(zone) : 0;
	int sign, hh = 0, mm = 0;
	bool ok = false;

	if (n == 0 || strcmp(zone, "UTC") == 0 || strcmp(zone, "Z") == 0) {
		*offset_minutes = 0;
		return 0;
	}
	if (zone[0] != '+' && zone[0] != '-')
		goto bad;
	sign = zone[0] == '-' ? -1 : 1;
	if (n == 3)
		ok = read_digits(zone + 1, 2, &hh) == 0;
	else if (n == 5)
		ok = read_digits(zone + 1, 2, &hh) == 0 &&
		     read_digits(zone + 3, 2, &mm) == 0;
	else if (n == 6)
		ok = zone[3] == ':' && read_digits(zone + 1, 2, &hh) == 0 &&
		     read_digits(zone + 4, 2, &mm) == 0;
	if (!ok)
		goto bad;
	if (mm > 59 || hh * 60 + mm > OFFERS_ZONE_MINUTES_MAX)
		goto bad;
	*offset_minutes = sign * (hh * 60 + mm);
	return 0;
bad:
	return offers__fail(why, why_size,
			    "zone \"%.40s\" is not UTC or an offset like +09:00",
			    zone);
}

int offers_local_time_parse(const char *s, int offset_minutes, int64_t *out_ms)
{
	char text[48];
	int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;

	/* Exactly "YYYY-MM-DD hh:mm:ss"; the RFC 3339 reader checks the rest. */
	if (!s || strlen(s) != 19 || s[10] != ' ' ||
	    off > OFFERS_ZONE_MINUTES_MAX)
		return -1;
	snprintf(text, sizeof(text), "%.10sT%.8s%c%02d:%02d", s, s + 11,
		 offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
	return util_rfc3339_parse(text, out_ms);
}

/* Checks expire_at (borrowed; NULL when missing). Returns 0 or -1. */
static int check_expiry(const json_t *expire_at, int64_t now_ms,
			int offset_minutes, char *why, size_t why_size)
{
	int64_t at;

	if (!expire_at)
		return offers__fail(why, why_size, "expire_at is missing");
	if (json_is_null(expire_at))
		return 0;
	if (!json_is_string(expire_at) ||
	    offers_local_time_parse(json_string_value(expire_at),
				    offset_minutes, &at))
		return offers__fail(why, why_size,
				    "expire_at is not \"YYYY-MM-DD hh:mm:ss\"");
	if (now_ms >= at)
		return offers__fail(why, why_size, "offer expired at %s",
				    json_string_value(expire_at));
	return 0;
}

/* Checks the offer member: a personalised offer or an AI offer (the two
 * shapes TentuPlay documents). Returns 0 or -1. */
static int check_shape(const json_t *offer, char *why, size_t why_size)
{
	const json_t *type;

	if (!json_is_object(offer))
		return offers__fail(why, why_size, "offer is not an object");
	type = json_object_get(offer, "offer_type");
	if (!type) {
		if (!json_is_string(json_object_get(offer, "product_id")))
			return offers__fail(why, why_size,
					    "personalised offer without product_id");
		return 0;
	}
	if (!json_is_string(type) || strcmp(json_string_value(type), "ai") != 0)
		return offers__fail(why, why_size, "unknown offer_type");
	if (!json_is_array(json_object_get(offer, "recommendations")))
		return offers__fail(why, why_size,
				    "AI offer without recommendations");
	return 0;
}

/* Checks the decoded document against the account and now. */
static int check_document(const json_t *doc, const char *account_id,
			  int64_t now_ms, int offset_minutes, char *why,
			  size_t why_size)
{
	const json_t *player = json_object_get(doc, "player_uuid");

	if (!json_is_string(player))
		return offers__fail(why, why_size, "player_uuid is not a string");
	if (strcmp(json_string_value(player), account_id) != 0)
		return offers__fail(why, why_size,
				    "offer is for another player");
	if (!json_is_true(json_object_get(doc, "is_opened")))
		return offers__fail(why, why_size, "offer is not opened");
	if (check_expiry(json_object_get(doc, "expire_at"), now_ms,
			 offset_minutes, why, why_size))
		return -1;
	return check_shape(json_object_get(doc, "offer"), why, why_size);
}

int offers_validate(const char *plain, size_t len, const char *account_id,
		    int64_t now_ms, int offset_minutes, json_t **offer,
		    char *why, size_t why_size)
{
	json_t *doc = NULL;
	int rc = -1;

	*offer = NULL;
	if (!account_id || !*account_id) {
		offers__fail(why, why_size, "no account to check the offer for");
		goto out;
	}
	/* Duplicate keys are refused: two player_uuid would be ambiguous. */
	doc = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		offers__fail(why, why_size,
			     "decrypted result is not a JSON object "
			     "(wrong payload key or nonce length?)");
		goto out;
	}
	if (check_document(doc, account_id, now_ms, offset_minutes, why,
			   why_size))
		goto out;
	*offer = doc;
	doc = NULL;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}
