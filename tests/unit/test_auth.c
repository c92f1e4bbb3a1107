/* Unit tests of auth: the bearer header, form and Basic parsing, base64, the signing keys
 * file, access tokens (issued and every way one is refused), the rate
 * limiter, and the credential cache with keys, clients and rotation. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "auth/auth_int.h"
#include "helpers.h"

#define SECRET_A "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
#define SECRET_B "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxw"

/* ---- base64 and forms --------------------------------------------------- */

Test(base64, decodes_both_alphabets_strictly)
{
	char out[16];

	cr_assert_eq(util_base64_decode("aGk=", 4, out, false), 2);
	cr_assert_eq(memcmp(out, "hi", 2), 0);
	cr_assert_eq(util_base64_decode("aGk", 3, out, true), 2);
	cr_assert_eq(util_base64_decode("-_8", 3, out, true), 2);
	cr_assert_eq(util_base64_decode("aGk", 3, out, false), -1);   /* no padding */
	cr_assert_eq(util_base64_decode("aGl=", 4, out, false), -1);  /* stray bits */
	cr_assert_eq(util_base64_decode("a===", 4, out, false), -1);
	cr_assert_eq(util_base64_decode("a", 1, out, true), -1);
	cr_assert_eq(util_base64_decode("a+", 2, out, true), -1);     /* wrong alphabet */
}

Test(bearer, plain_or_quoted_token_scheme_in_any_case)
{
	char t[16];

	cr_assert_eq(auth_bearer_token("Bearer abc", t, sizeof(t)), 0);
	cr_assert_str_eq(t, "abc");
	cr_assert_eq(auth_bearer_token("bearer \"abc\"", t, sizeof(t)), 0);
	cr_assert_str_eq(t, "abc");
	cr_assert_eq(auth_bearer_token("BEARER   \"a.b.c\"", t, sizeof(t)), 0);
	cr_assert_str_eq(t, "a.b.c");
	cr_assert_eq(auth_bearer_token(NULL, t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Basic abc", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer ", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer \"\"", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer \"abc", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer abc\"", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer \"\"abc\"\"", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer \"a\"b\"", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer \"", t, sizeof(t)), -1);
	cr_assert_eq(auth_bearer_token("Bearer 0123456789abcdef", t, sizeof(t)), -1);
}

Test(form, parses_decodes_and_refuses_duplicates)
{
	struct auth_form f;
	char bad[32];

	cr_assert_eq(auth_form_parse("grant_type=client_credentials&scope=a+b%3Ac",
				     43, &f, bad, sizeof(bad)), 0);
	cr_assert_str_eq(auth_form_get(&f, "grant_type"), "client_credentials");
	cr_assert_str_eq(auth_form_get(&f, "scope"), "a b:c");
	cr_assert_null(auth_form_get(&f, "client_id"));
	auth_form_release(&f);

	cr_assert_eq(auth_form_parse("a=1&&b=", 7, &f, bad, sizeof(bad)), 0);
	cr_assert_str_eq(auth_form_get(&f, "b"), "");
	auth_form_release(&f);

	cr_assert_eq(auth_form_parse("a=1&a=2", 7, &f, bad, sizeof(bad)),
		     AUTH_FORM_DUPLICATE);
	cr_assert_str_eq(bad, "a");
	cr_assert_eq(auth_form_parse("novalue", 7, &f, bad, sizeof(bad)),
		     AUTH_FORM_MALFORMED);
	cr_assert_eq(auth_form_parse("a=%zz", 5, &f, bad, sizeof(bad)),
		     AUTH_FORM_MALFORMED);
	cr_assert_eq(auth_form_parse("a=%00", 5, &f, bad, sizeof(bad)),
		     AUTH_FORM_MALFORMED);
	cr_assert_eq(auth_form_parse("=x", 2, &f, bad, sizeof(bad)),
		     AUTH_FORM_MALFORMED);
}

Test(form, basic_credentials_are_form_decoded)
{
	char id[64], secret[64];

	/* base64("client%3A1:s%2Bcret") */
	cr_assert_eq(auth_basic_parse("Basic Y2xpZW50JTNBMTpzJTJCY3JldA==", id,
				      sizeof(id), secret, sizeof(secret)), 0);
	cr_assert_str_eq(id, "client:1");
	cr_assert_str_eq(secret, "s+cret");
	cr_assert_eq(auth_basic_parse("Bearer abc", id, sizeof(id), secret,
				      sizeof(secret)), -1);
	/* base64("nocolon") */
	cr_assert_eq(auth_basic_parse("Basic bm9jb2xvbg==", id, sizeof(id), secret,
				      sizeof(secret)), -1);
	/* base64(":x"): empty id */
	cr_assert_eq(auth_basic_parse("Basic Ong=", id, sizeof(id), secret,
				      sizeof(secret)), -1);
	cr_assert_eq(auth_basic_parse("Basic !!!!", id, sizeof(id), secret,
				      sizeof(secret)), -1);
}

/* ---- signing keys --------------------------------------------------------- */

Test(signing_keys, parses_lines_and_names_the_bad_one)
{
	struct auth_signing_keys k;
	const char *good = "# keys\n\nnew " SECRET_B "\r\nold  " SECRET_A "  \n";
	const char *bad[] = {
		"k1 short\n",
		"k1\n",
		"k/1 " SECRET_A "\n",
		"k1 " SECRET_A "\nk1 " SECRET_B "\n",
		"k1 " SECRET_A " extra\n",
		"# nothing\n",
	};
	char *err = NULL;

	cr_assert_eq(auth_signing_keys_parse(good, strlen(good), &k, &err), 0);
	cr_assert_eq(k.len, 2);
	cr_assert_str_eq(k.keys[0].kid, "new");
	cr_assert_eq(k.keys[1].secret_len, strlen(SECRET_A));
	auth_signing_keys_release(&k);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(auth_signing_keys_parse(bad[i], strlen(bad[i]), &k, &err),
			     -1, "%s", bad[i]);
		cr_assert_not_null(err);
		free(err);
		err = NULL;
	}
}

/* ---- access tokens ----------------------------------------------------- */

static void keys_of(struct auth_signing_keys *k, const char *text)
{
	char *err = NULL;

	cr_assert_eq(auth_signing_keys_parse(text, strlen(text), k, &err), 0, "%s", err);
}

/* Builds "b64(header).b64(payload).b64(HMAC)" by hand. */
static char *forge(const char *header, const char *payload, const char *secret)
{
	char h[512], p[1024], sig[64], *out;
	unsigned char mac[32];
	unsigned int mac_len;
	size_t n;

	util_base64url_encode(header, strlen(header), h);
	util_base64url_encode(payload, strlen(payload), p);
	out = util_xasprintf("%s.%s", h, p);
	n = strlen(out);
	if (!secret)
		return out;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)out, n,
	     mac, &mac_len);
	util_base64url_encode(mac, mac_len, sig);
	free(out);
	return util_xasprintf("%s.%s.%s", h, p, sig);
}

#define NOW 1800000000

Test(token, issues_and_verifies_with_every_claim)
{
	struct auth_signing_keys k;
	struct auth_token_claims c;
	char *t, *dot, payload[512];
	long n;
	json_t *j;

	keys_of(&k, "k1 " SECRET_A "\n");
	t = auth_token_issue(&k, "grantd", "aud1", "client_x",
			     AUTH_SCOPE_PARTNER | AUTH_SCOPE_OPERATOR, NOW, 900);
	cr_assert_not_null(t);
	cr_assert_eq(auth_token_verify(&k, "grantd", "aud1", t, NOW, &c), 0);
	cr_assert_str_eq(c.sub, "client_x");
	cr_assert_eq(c.scopes, AUTH_SCOPE_PARTNER | AUTH_SCOPE_OPERATOR);
	cr_assert_eq(c.exp, NOW + 900);
	dot = strchr(t, '.');
	n = util_base64_decode(dot + 1, (size_t)(strchr(dot + 1, '.') - dot - 1),
			       payload, true);
	cr_assert_gt(n, 0);
	payload[n] = '\0';
	j = json_loads(payload, 0, NULL);
	cr_assert_not_null(json_object_get(j, "jti"));
	cr_assert_eq(json_integer_value(json_object_get(j, "iat")), NOW);
	json_decref(j);
	/* expired at exp; wrong audience; wrong issuer */
	cr_assert_eq(auth_token_verify(&k, "grantd", "aud1", t, NOW + 900, &c), -1);
	cr_assert_eq(auth_token_verify(&k, "grantd", "aud2", t, NOW, &c), -1);
	cr_assert_eq(auth_token_verify(&k, "other", "aud1", t, NOW, &c), -1);
	free(t);
	auth_signing_keys_release(&k);
}

Test(token, refuses_forgeries)
{
	struct auth_signing_keys k;
	struct auth_token_claims c;
	const char *claims = "{\"iss\":\"grantd\",\"aud\":\"grantd\",\"sub\":\"c\","
			     "\"exp\":1900000000,\"scope\":\"partner\"}";
	struct {
		const char *header, *payload, *secret;
		int want;
	} cases[] = {
		{ "{\"alg\":\"HS256\",\"kid\":\"k1\"}", claims, SECRET_A, 0 },
		{ "{\"alg\":\"HS256\",\"kid\":\"k1\"}", claims, SECRET_B, -1 },
		{ "{\"alg\":\"HS256\",\"kid\":\"k9\"}", claims, SECRET_A, -1 },
		{ "{\"alg\":\"HS256\"}", claims, SECRET_A, -1 },
		{ "{\"alg\":\"none\",\"kid\":\"k1\"}", claims, NULL, -1 },
		{ "{\"alg\":\"none\",\"kid\":\"k1\"}", claims, SECRET_A, -1 },
		{ "{\"alg\":\"HS512\",\"kid\":\"k1\"}", claims, SECRET_A, -1 },
		{ "{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"x\"]}", claims, SECRET_A, -1 },
		{ "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
		  "{\"iss\":\"grantd\",\"aud\":\"grantd\",\"sub\":\"c\","
		  "\"exp\":1900000000,\"scope\":\"partner root\"}", SECRET_A, -1 },
		{ "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
		  "{\"iss\":\"grantd\",\"aud\":\"grantd\",\"sub\":\"c\","
		  "\"scope\":\"partner\"}", SECRET_A, -1 },  /* no exp */
		{ "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
		  "{\"iss\":\"grantd\",\"aud\":\"grantd\",\"sub\":\"c\",\"nbf\":1900000000,"
		  "\"exp\":1900000001,\"scope\":\"partner\"}", SECRET_A, -1 },
	};

	keys_of(&k, "k1 " SECRET_A "\nk2 " SECRET_B "\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = forge(cases[i].header, cases[i].payload, cases[i].secret);

		cr_assert_eq(auth_token_verify(&k, "grantd", "grantd", t, NOW, &c),
			     cases[i].want, "case %zu: %s", i, t);
		free(t);
	}
	cr_assert_eq(auth_token_verify(&k, "grantd", "grantd", "a.b", NOW, &c), -1);
	cr_assert_eq(auth_token_verify(&k, "grantd", "grantd", "a.b.c.d", NOW, &c), -1);
	auth_signing_keys_release(&k);
}

Test(token, every_listed_key_verifies_and_the_first_signs)
{
	struct auth_signing_keys old, both, fresh;
	struct auth_token_claims c;
	char *t;

	keys_of(&old, "k1 " SECRET_A "\n");
	keys_of(&both, "k2 " SECRET_B "\nk1 " SECRET_A "\n");
	keys_of(&fresh, "k2 " SECRET_B "\n");
	t = auth_token_issue(&old, "grantd", "grantd", "c", AUTH_SCOPE_PARTNER, NOW, 60);
	cr_assert_eq(auth_token_verify(&both, "grantd", "grantd", t, NOW, &c), 0);
	cr_assert_eq(auth_token_verify(&fresh, "grantd", "grantd", t, NOW, &c), -1);
	free(t);
	t = auth_token_issue(&both, "grantd", "grantd", "c", AUTH_SCOPE_PARTNER, NOW, 60);
	cr_assert_eq(auth_token_verify(&fresh, "grantd", "grantd", t, NOW, &c), 0);
	free(t);
	auth_signing_keys_release(&old);
	auth_signing_keys_release(&both);
	auth_signing_keys_release(&fresh);
}

/* ---- rate limits ------------------------------------------------------- */

Test(limiter, allows_the_burst_then_refills_at_the_rate)
{
	struct auth_limiter *l = auth_limiter_new(2, 3);
	unsigned retry = 0;

	for (int i = 0; i < 3; i++)
		cr_assert(auth_limiter_take(l, "a", 1000000, &retry));
	cr_assert_not(auth_limiter_take(l, "a", 1000000, &retry));
	cr_assert_eq(retry, 1);
	cr_assert(auth_limiter_take(l, "b", 1000000, &retry));  /* its own bucket */
	cr_assert(auth_limiter_take(l, "a", 1500000, &retry));  /* +0.5 s = 1 token */
	cr_assert_not(auth_limiter_take(l, "a", 1500000, &retry));
	cr_assert(auth_limiter_take(l, "a", 60000000, &retry));
	auth_limiter_free(l);
}

Test(limiter, retry_after_covers_a_slow_rate)
{
	struct auth_limiter *l = auth_limiter_new(0.25, 1);
	unsigned retry = 0;

	cr_assert(auth_limiter_take(l, "a", 0, &retry));
	cr_assert_not(auth_limiter_take(l, "a", 0, &retry));
	cr_assert_eq(retry, 4);
	auth_limiter_free(l);
}

/* ---- the cache with a real store ------------------------------------------ */

struct insert_arg {
	const struct store_credential *c;
	const char *rotate_hash;
	int64_t grace_until;
};

static int insert_apply(struct store_tx *tx, void *arg)
{
	struct insert_arg *ia = arg;
	bool found;

	if (ia->rotate_hash)
		return store_tx_credential_rotate(tx, ia->c->id, ia->c->kind,
						  ia->rotate_hash, ia->grace_until,
						  util_now_ms(), &found);
	return store_tx_credential_insert(tx, ia->c);
}

static struct http_principal who;

Test(cache, keys_clients_tokens_and_rotation)
{
	char *dir = test_tmpdir(), *path, *err = NULL, *t;
	struct store *st = test_store_open(dir, 8);
	char key[AUTH_KEY_LEN + 1], kid[AUTH_KEY_ID_LEN + 1], khash[65];
	char sec[AUTH_CLIENT_SECRET_LEN + 1], cid[AUTH_CLIENT_ID_LEN + 1], chash[65];
	char sec2[AUTH_CLIENT_SECRET_LEN + 1], chash2[65], bearer[600];
	struct store_credential k = { .id = kid, .kind = STORE_CREDENTIAL_API_KEY,
				      .name = "k", .secret_hash = khash,
				      .scopes = "partner", .created_at_ms = 1 };
	struct store_credential c = { .id = cid, .kind = STORE_CREDENTIAL_OAUTH_CLIENT,
				      .name = "c", .secret_hash = chash,
				      .scopes = "fulfillment:primegaming",
				      .created_at_ms = 1 };
	struct insert_arg ia = { .c = &k };
	struct auth_options opts = { .refresh_ms = 60000, .issuer = "grantd",
				     .audience = "grantd", .token_ttl_s = 60 };
	struct auth *a;
	int64_t ttl;
	FILE *f;

	cr_assert_eq(auth_key_generate(key, kid), 0);
	cr_assert_eq(auth_client_generate(sec, cid), 0);
	cr_assert_eq(strncmp(sec, "gdcs_", 5), 0);
	cr_assert_eq(strlen(sec), AUTH_CLIENT_SECRET_LEN);
	auth_secret_hash(key, khash);
	auth_secret_hash(sec, chash);
	cr_assert_eq(store_run(st, insert_apply, &ia), 0);
	ia.c = &c;
	cr_assert_eq(store_run(st, insert_apply, &ia), 0);
	a = auth_new(st, &opts);
	cr_assert_not_null(a);

	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who), HTTP_AUTH_OK);
	cr_assert_str_eq(who.id, kid);
	cr_assert_eq(auth_client_authenticate(a, cid, sec, &who), AUTH_CLIENT_OK);
	cr_assert_eq(auth_client_authenticate(a, cid, key, &who), AUTH_CLIENT_UNKNOWN);
	cr_assert_eq(auth_client_authenticate(a, kid, key, &who), AUTH_CLIENT_NOT_OAUTH);
	/* a client secret is not a bearer credential */
	snprintf(bearer, sizeof(bearer), "Bearer %s", sec);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PRIMEGAMING, &who),
		     HTTP_AUTH_INVALID);

	/* no signing keys: no tokens */
	cr_assert_not(auth_oauth_enabled(a));
	cr_assert_null(auth_issue_for(a, cid, AUTH_SCOPE_PRIMEGAMING, &ttl));
	path = util_xasprintf("%s/keys", dir);
	f = fopen(path, "w");
	fputs("k1 " SECRET_A "\n", f);
	fclose(f);
	cr_assert_eq(auth_signing_keys_load(a, path, &err), 0);
	t = auth_issue_for(a, cid, AUTH_SCOPE_PRIMEGAMING, &ttl);
	cr_assert_not_null(t);
	snprintf(bearer, sizeof(bearer), "Bearer %s", t);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PRIMEGAMING, &who), HTTP_AUTH_OK);
	cr_assert_str_eq(who.id, cid);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who),
		     HTTP_AUTH_FORBIDDEN);
	/* scopes as alternatives: any one of them is enough */
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PRIMEGAMING |
				AUTH_SCOPE_PARTNER, &who), HTTP_AUTH_FORBIDDEN);
	cr_assert_eq(auth_check(a, bearer, HTTP_AUTH_ANY_SCOPE |
				AUTH_SCOPE_PRIMEGAMING | AUTH_SCOPE_PARTNER,
				&who), HTTP_AUTH_OK);
	cr_assert_eq(auth_check(a, bearer, HTTP_AUTH_ANY_SCOPE |
				AUTH_SCOPE_OPERATOR | AUTH_SCOPE_PARTNER,
				&who), HTTP_AUTH_FORBIDDEN);
	/* a token claiming more than the client holds gets only what it holds */
	free(t);
	t = auth_issue_for(a, cid, AUTH_SCOPE_PRIMEGAMING | AUTH_SCOPE_OPERATOR, &ttl);
	snprintf(bearer, sizeof(bearer), "Bearer %s", t);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_OPERATOR, &who),
		     HTTP_AUTH_FORBIDDEN);
	free(t);

	/* rotation: both secrets work during the grace, then only the new */
	cr_assert_eq(auth_client_generate(sec2, NULL), 0);
	auth_secret_hash(sec2, chash2);
	ia.rotate_hash = chash2;
	ia.grace_until = util_now_ms() + 60000;
	cr_assert_eq(store_run(st, insert_apply, &ia), 0);
	cr_assert_eq(auth_refresh(a), 0);
	cr_assert_eq(auth_client_authenticate(a, cid, sec, &who), AUTH_CLIENT_OK);
	cr_assert_eq(auth_client_authenticate(a, cid, sec2, &who), AUTH_CLIENT_OK);
	ia.rotate_hash = chash;  /* rotate back, with the grace already over */
	ia.grace_until = util_now_ms() - 1;
	cr_assert_eq(store_run(st, insert_apply, &ia), 0);
	cr_assert_eq(auth_refresh(a), 0);
	cr_assert_eq(auth_client_authenticate(a, cid, sec2, &who), AUTH_CLIENT_UNKNOWN);
	cr_assert_eq(auth_client_authenticate(a, cid, sec, &who), AUTH_CLIENT_OK);

	auth_free(a);
	store_close(st);
	free(path);
	test_rmdir(dir);
}

Test(cache, throttles_per_credential)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	char key[AUTH_KEY_LEN + 1], kid[AUTH_KEY_ID_LEN + 1], khash[65], bearer[80];
	struct store_credential k = { .id = kid, .kind = STORE_CREDENTIAL_API_KEY,
				      .name = "k", .secret_hash = khash,
				      .scopes = "partner", .created_at_ms = 1 };
	struct insert_arg ia = { .c = &k };
	struct auth_options opts = { .refresh_ms = 60000, .rate_per_second = 1,
				     .rate_burst = 2 };
	struct auth *a;

	cr_assert_eq(auth_key_generate(key, kid), 0);
	auth_secret_hash(key, khash);
	cr_assert_eq(store_run(st, insert_apply, &ia), 0);
	a = auth_new(st, &opts);
	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who), HTTP_AUTH_OK);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who), HTTP_AUTH_OK);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who),
		     HTTP_AUTH_THROTTLED);
	cr_assert_geq(who.retry_after_s, 1);
	/* an unknown credential is refused before it costs anyone a token */
	cr_assert_eq(auth_check(a, "Bearer gdk_nope", AUTH_SCOPE_PARTNER, &who),
		     HTTP_AUTH_INVALID);
	auth_free(a);
	store_close(st);
	test_rmdir(dir);
}

/* ---- credentials the snapshot lacks, and stored signing keys ------------- */

Test(missing, remembers_digests_until_cleared_and_stays_bounded)
{
	struct auth_missing *m = auth_missing_new(4);
	unsigned char d[8][32];

	for (int i = 0; i < 8; i++)
		util_sha256(&i, sizeof(i), d[i]);
	cr_assert_not(auth_missing_has(m, d[0]));
	auth_missing_add(m, d[0]);
	cr_assert(auth_missing_has(m, d[0]));
	cr_assert_not(auth_missing_has(m, d[1]));
	for (int i = 1; i < 8; i++)
		auth_missing_add(m, d[i]);
	/* four slots: at most four remembered, the latest in its slot always */
	int held = 0;
	for (int i = 0; i < 8; i++)
		held += auth_missing_has(m, d[i]);
	cr_assert_leq(held, 4);
	cr_assert(auth_missing_has(m, d[7]));
	auth_missing_clear(m);
	for (int i = 0; i < 8; i++)
		cr_assert_not(auth_missing_has(m, d[i]));
	auth_missing_free(m);
}

Test(cache, a_credential_made_after_the_last_reload_works_at_once)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	char key[AUTH_KEY_LEN + 1], kid[AUTH_KEY_ID_LEN + 1], khash[65], bearer[80];
	char sec[AUTH_CLIENT_SECRET_LEN + 1], cid[AUTH_CLIENT_ID_LEN + 1], chash[65];
	struct store_credential k = { .id = kid, .kind = STORE_CREDENTIAL_API_KEY,
				      .name = "k", .secret_hash = khash,
				      .scopes = "partner", .created_at_ms = 1 };
	struct store_credential c = { .id = cid, .kind = STORE_CREDENTIAL_OAUTH_CLIENT,
				      .name = "c", .secret_hash = chash,
				      .scopes = "partner", .created_at_ms = 1 };
	struct insert_arg ia = { .c = &k };
	/* a reload interval far beyond the test: only the miss path can help */
	struct auth_options opts = { .refresh_ms = 3600 * 1000 };
	struct auth_stats stats;
	struct auth *a = auth_new(st, &opts);

	cr_assert_eq(auth_key_generate(key, kid), 0);
	cr_assert_eq(auth_client_generate(sec, cid), 0);
	auth_secret_hash(key, khash);
	auth_secret_hash(sec, chash);
	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who), HTTP_AUTH_INVALID);
	cr_assert_eq(store_run(st, insert_apply, &ia), 0);
	/* known missing until the next reload: still refused, no lookup */
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who), HTTP_AUTH_INVALID);
	auth_stats_get(a, &stats);
	cr_assert_eq(stats.lookups_missing, 1);
	cr_assert_eq(stats.lookups_skipped, 1);
	cr_assert_eq(auth_refresh(a), 0);
	cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who), HTTP_AUTH_OK);

	/* a client made after the reload is found on its first use */
	ia.c = &c;
	cr_assert_eq(store_run(st, insert_apply, &ia), 0);
	cr_assert_eq(auth_client_authenticate(a, cid, sec, &who), AUTH_CLIENT_OK);
	cr_assert_str_eq(who.id, cid);
	auth_stats_get(a, &stats);
	cr_assert_eq(stats.lookups_found, 1);
	/* a wrong secret for it is looked up once, then known missing */
	cr_assert_eq(auth_client_authenticate(a, cid, key, &who), AUTH_CLIENT_UNKNOWN);
	cr_assert_eq(auth_client_authenticate(a, cid, key, &who), AUTH_CLIENT_UNKNOWN);
	auth_stats_get(a, &stats);
	cr_assert_eq(stats.lookups_missing, 2);
	cr_assert_eq(stats.lookups_skipped, 2);
	auth_free(a);
	store_close(st);
	test_rmdir(dir);
}

Test(cache, distinct_unknown_keys_are_looked_up_within_the_budget)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct auth_options opts = { .refresh_ms = 3600 * 1000 };
	struct auth *a = auth_new(st, &opts);
	struct auth_stats stats;
	char bearer[80];

	for (int i = 0; i < 500; i++) {
		snprintf(bearer, sizeof(bearer), "Bearer gdk_unknown_%d", i);
		cr_assert_eq(auth_check(a, bearer, AUTH_SCOPE_PARTNER, &who),
			     HTTP_AUTH_INVALID);
	}
	auth_stats_get(a, &stats);
	/* the burst, plus what refilled while the loop ran (well under 1 s) */
	cr_assert_leq(stats.lookups_missing, AUTH_LOOKUPS_PER_SECOND * 2);
	cr_assert_eq(stats.lookups_missing + stats.lookups_skipped, 500);
	auth_free(a);
	store_close(st);
	test_rmdir(dir);
}

static int signing_key_apply(struct store_tx *tx, void *arg)
{
	const struct store_signing_key *k = arg;
	bool found;

	if (k->retired_at_ms)
		return store_tx_signing_key_retire(tx, k->kid, k->retired_at_ms, &found);
	return store_tx_signing_key_insert(tx, k);
}

Test(signing_store, newest_active_signs_then_active_then_retiring)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	int64_t now = util_now_ms();
	struct store_signing_key rows[] = {
		{ "sk_a", SECRET_A, now - 5000, 0 },
		{ "sk_b", SECRET_B, now - 4000, 0 },
		{ "sk_c", SECRET_A "c", now - 3000, 0 },
		{ "sk_d", SECRET_B "d", now - 2000, 0 },
	};
	struct store_signing_key retire_a = { "sk_a", NULL, 0, now - 100000 };
	struct store_signing_key retire_c = { "sk_c", NULL, 0, now - 1000 };
	struct auth_signing_keys k;
	char kid[AUTH_STORE_KID_LEN + 1], secret[AUTH_STORE_SECRET_LEN + 1];

	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(store_run(st, signing_key_apply, &rows[i]), 0);
	cr_assert_eq(store_run(st, signing_key_apply, &retire_a), 0);
	cr_assert_eq(store_run(st, signing_key_apply, &retire_c), 0);
	/* ttl 60 s: sk_a retired 100 s ago is gone, sk_c 1 s ago still verifies */
	cr_assert_eq(auth_signing_keys_read_store(st, now, 60, &k), 0);
	cr_assert_eq(k.len, 3);
	cr_assert_str_eq(k.keys[0].kid, "sk_d");
	cr_assert_str_eq(k.keys[1].kid, "sk_b");
	cr_assert_str_eq(k.keys[2].kid, "sk_c");
	cr_assert_eq(k.keys[0].secret_len, strlen(SECRET_B "d"));
	auth_signing_keys_release(&k);
	cr_assert_eq(auth_key_state_of(&retire_c, false, now, 60), AUTH_KEY_RETIRING);
	cr_assert_eq(auth_key_state_of(&retire_a, false, now, 60), AUTH_KEY_RETIRED);
	cr_assert_eq(auth_key_state_of(&rows[3], true, now, 60), AUTH_KEY_SIGNING);
	cr_assert_eq(auth_key_state_of(&rows[1], false, now, 60), AUTH_KEY_VERIFYING);
	cr_assert_str_eq(auth_key_state_name(AUTH_KEY_RETIRING), "retiring");

	cr_assert_eq(auth_signing_key_generate(kid, secret), 0);
	cr_assert_eq(strlen(kid), AUTH_STORE_KID_LEN);
	cr_assert_eq(strlen(secret), AUTH_STORE_SECRET_LEN);
	cr_assert_eq(strncmp(kid, "sk_", 3), 0);
	store_close(st);
	test_rmdir(dir);
}
