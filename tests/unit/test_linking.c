/* Unit tests of the browser link flow's pieces: single-use secrets in the
 * store (link tokens, OAuth states), their shapes, the sealed PKCE
 * verifier, and return_to checking and rewriting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "linking/linking.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* ---- the store --------------------------------------------------------- */

struct spend {
	const char *hash;
	const char *provider;      /* NULL: a link token */
	int64_t now;
	enum store_secret_result result;
	char account[STORE_ACCOUNT_ID_MAX + 1];
	struct store_oauth_state_row st;
};

static int add_secrets(struct store_tx *tx, void *arg)
{
	struct store_oauth_state s = {
		.account_id = "player-1", .provider = "primegaming",
		.verifier = "sealed-verifier", .return_to = "https://game.example/",
		.expires_at_ms = 2000,
	};
	bool created;

	(void)arg;
	if (store_tx_account_put(tx, "player-1", STORE_ACCOUNT_ACTIVE, 1,
				 &created))
		return STORE_ERR;
	if (store_tx_link_token_add(tx, HASH_A, "player-1", 1000, 2000))
		return STORE_ERR;
	return store_tx_oauth_state_add(tx, HASH_B, &s, 1000);
}

static int spend_apply(struct store_tx *tx, void *arg)
{
	struct spend *s = arg;

	if (!s->provider)
		return store_tx_link_token_spend(tx, s->hash, s->now, s->account,
						 sizeof(s->account), &s->result);
	return store_tx_oauth_state_spend(tx, s->hash, s->provider, s->now,
					  &s->st, &s->result);
}

static enum store_secret_result spend(struct store *st, struct spend s)
{
	cr_assert_eq(store_run(st, spend_apply, &s), STORE_OK);
	return s.result;
}

Test(linking, link_tokens_are_spent_once_while_live)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct spend s = { .hash = HASH_A, .now = 1500 };

	cr_assert_eq(store_run(st, add_secrets, NULL), STORE_OK);
	cr_assert_eq(spend(st, (struct spend){ .hash = HASH_B, .now = 1500 }),
		     STORE_SECRET_UNKNOWN);
	cr_assert_eq(store_run(st, spend_apply, &s), STORE_OK);
	cr_assert_eq(s.result, STORE_SECRET_SPENT);
	cr_assert_str_eq(s.account, "player-1");
	cr_assert_eq(spend(st, s), STORE_SECRET_USED);
	store_close(st);
	test_rmdir(dir);
}

Test(linking, expired_secrets_are_refused_and_stay_unspent)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);

	cr_assert_eq(store_run(st, add_secrets, NULL), STORE_OK);
	cr_assert_eq(spend(st, (struct spend){ .hash = HASH_A, .now = 2000 }),
		     STORE_SECRET_EXPIRED);
	cr_assert_eq(spend(st, (struct spend){ .hash = HASH_B, .now = 2000,
					       .provider = "primegaming" }),
		     STORE_SECRET_EXPIRED);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM link_tokens WHERE "
				  "used_at_ms IS NULL"), 1);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM link_states WHERE "
				  "used_at_ms IS NULL"), 1);
	test_rmdir(dir);
}

Test(linking, a_state_is_spent_for_its_own_provider_only)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);
	struct spend s = { .hash = HASH_B, .now = 1500, .provider = "primegaming" };

	cr_assert_eq(store_run(st, add_secrets, NULL), STORE_OK);
	cr_assert_eq(spend(st, (struct spend){ .hash = HASH_B, .now = 1500,
					       .provider = "twitch" }),
		     STORE_SECRET_UNKNOWN);
	cr_assert_eq(store_run(st, spend_apply, &s), STORE_OK);
	cr_assert_eq(s.result, STORE_SECRET_SPENT);
	cr_assert_str_eq(s.st.account_id, "player-1");
	cr_assert_str_eq(s.st.verifier, "sealed-verifier");
	cr_assert_str_eq(s.st.return_to, "https://game.example/");
	cr_assert_eq(spend(st, s), STORE_SECRET_USED);
	store_close(st);
	/* the verifier is cleared once spent */
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM link_states WHERE "
				  "verifier = ''"), 1);
	test_rmdir(dir);
}

static int add_late(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_tx_link_token_add(tx, HASH_B, "player-1",
				       2000 + 25LL * 3600 * 1000,
				       3000 + 25LL * 3600 * 1000);
}

Test(linking, secrets_long_expired_are_removed)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir, 8);

	cr_assert_eq(store_run(st, add_secrets, NULL), STORE_OK);
	cr_assert_eq(store_run(st, add_late, NULL), STORE_OK);
	store_close(st);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM link_tokens"), 1);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM link_tokens WHERE "
				  "token_hash = '" HASH_B "'"), 1);
	test_rmdir(dir);
}

/* ---- secrets ----------------------------------------------------------- */

Test(linking, secrets_have_one_shape)
{
	char a[LINKING_SECRET_MAX + 1], b[LINKING_SECRET_MAX + 1];

	cr_assert_eq(linking_secret_new(LINKING_TOKEN_PREFIX, a, sizeof(a)), 0);
	cr_assert_eq(linking_secret_new(LINKING_TOKEN_PREFIX, b, sizeof(b)), 0);
	cr_assert_eq(strlen(a), 47);
	cr_assert_str_neq(a, b);
	cr_assert(linking_secret_well_formed(LINKING_TOKEN_PREFIX, a));
	cr_assert_not(linking_secret_well_formed("", a));
	cr_assert(linking_secret_well_formed("", a + 4));
	cr_assert_not(linking_secret_well_formed("", NULL));
	a[10] = '+';
	cr_assert_not(linking_secret_well_formed(LINKING_TOKEN_PREFIX, a));
	b[46] = '\0';
	cr_assert_not(linking_secret_well_formed(LINKING_TOKEN_PREFIX, b));
}

Test(linking, pkce_challenge_is_rfc_7636_s256)
{
	char c[LINKING_CHALLENGE_LEN + 1];

	/* RFC 7636 appendix B */
	linking_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
	cr_assert_str_eq(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

Test(linking, the_verifier_opens_only_with_its_state)
{
	char sealed[LINKING_VERIFIER_SEALED_MAX + 1], out[LINKING_SECRET_MAX + 1];
	const char *v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

	cr_assert_eq(linking_verifier_seal("state-1", v, sealed, sizeof(sealed)), 0);
	cr_assert_null(strstr(sealed, v));
	cr_assert_leq(strlen(sealed), STORE_VERIFIER_MAX);
	cr_assert_eq(linking_verifier_open("state-1", sealed, out, sizeof(out)), 0);
	cr_assert_str_eq(out, v);
	cr_assert_eq(linking_verifier_open("state-2", sealed, out, sizeof(out)), -1);
	cr_assert_eq(linking_verifier_open("state-1", "", out, sizeof(out)), -1);
	cr_assert_eq(linking_verifier_open("state-1", "!!", out, sizeof(out)), -1);
}

/* ---- return_to ---------------------------------------------------------- */

Test(linking, return_to_must_start_with_an_allowed_prefix)
{
	struct util_strlist allow;
	static const char *const ok[] = {
		"https://game.example/", "https://game.example/a?b=c#d",
		"https://host.example", "https://host.example/x",
		"https://host.example?x", "https://host.example#x",
		"mygame://linked", "mygame://linked/more",
	};
	static const char *const bad[] = {
		"", "https://evil.example/", "https://game.example",
		"https://host.example.evil.test/", "https://host.example@evil.test",
		"https://host.example:99", "https://game.example/a b",
		"https://game.example/\\evil", "https://game.example/\t",
		"mygame:/", "HTTPS://game.example/",
	};

	util_strlist_init(&allow);
	util_strlist_add(&allow, "https://game.example/");
	util_strlist_add(&allow, "https://host.example");
	util_strlist_add(&allow, "mygame://linked");
	for (size_t i = 0; i < UTIL_ARRAY_LEN(ok); i++)
		cr_assert_eq(linking_return_to_check(ok[i], &allow), 0, "%s", ok[i]);
	for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++)
		cr_assert_eq(linking_return_to_check(bad[i], &allow), -1, "%s",
			     bad[i]);
	cr_assert_eq(linking_return_to_check(NULL, &allow), -1);
	util_strlist_release(&allow);
	util_strlist_init(&allow);
	cr_assert_eq(linking_return_to_check("https://game.example/", &allow), -1);
	util_strlist_release(&allow);
}

Test(linking, the_answer_is_added_to_return_to_query)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "https://g.example/done", "https://g.example/done?linked=a b" },
		{ "https://g.example/done?x=1", "https://g.example/done?x=1&linked=a b" },
		{ "https://g.example/done?", "https://g.example/done?linked=a b" },
		{ "https://g.example/done?x=1&", "https://g.example/done?x=1&linked=a b" },
		{ "https://g.example/d#f?g", "https://g.example/d?linked=a b#f?g" },
		{ "https://g.example/d?x#f", "https://g.example/d?x&linked=a b#f" },
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
		struct util_buf b;
		char *want = util_xstrdup(cases[i].out);

		*strchr(want, ' ') = '\0';
		util_buf_init(&b, 0);
		linking_return_url(cases[i].in, "linked", "a b", &b);
		cr_assert(strncmp(b.data, want, strlen(want)) == 0, "%s", b.data);
		cr_assert_not_null(strstr(b.data, "linked=a%20b"), "%s", b.data);
		cr_assert_str_eq(strstr(b.data, "%20b") + 4,
				 strstr(cases[i].out, " b") + 2, "%s", b.data);
		util_buf_release(&b);
		free(want);
	}
}
