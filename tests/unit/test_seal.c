/* Unit tests of sealing provider tokens at rest (util_seal: AES-256-GCM
 * bound to its additional data) and of the token key file (linking). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "linking/linking.h"

static const unsigned char key_a[UTIL_SEAL_KEY_LEN] = { 1, 2, 3 };
static const unsigned char key_b[UTIL_SEAL_KEY_LEN] = { 9, 8, 7 };

static void seal(const unsigned char *key, const char *aad, const char *text,
		 struct util_buf *out)
{
	util_buf_init(out, 0);
	cr_assert_eq(util_seal(key, aad, strlen(aad), text, strlen(text), out), 0);
}

static int unseal(const unsigned char *key, const char *aad,
		  const struct util_buf *in, struct util_buf *out)
{
	util_buf_init(out, 0);
	return util_unseal(key, aad, strlen(aad), in->data, in->len, out);
}

Test(seal, round_trip_hides_the_text_and_uses_a_fresh_nonce)
{
	const char *text = "{\"access_token\":\"Atza|secret\"}";
	struct util_buf a, b, plain;

	seal(key_a, "player-1", text, &a);
	seal(key_a, "player-1", text, &b);
	cr_assert_eq(a.len, 1 + 12 + strlen(text) + 16);
	cr_assert_null(memmem(a.data, a.len, "Atza|secret", 11));
	cr_assert_neq(memcmp(a.data, b.data, a.len), 0);  /* another nonce */
	cr_assert_eq(unseal(key_a, "player-1", &a, &plain), 0);
	cr_assert_eq(plain.len, strlen(text));
	cr_assert_eq(memcmp(plain.data, text, plain.len), 0);
	util_buf_release(&a);
	util_buf_release(&b);
	util_buf_release(&plain);
}

Test(seal, refuses_another_key_another_aad_and_any_change)
{
	struct util_buf a, plain;

	seal(key_a, "twitch\nplayer-1", "tokens", &a);
	cr_assert_neq(unseal(key_b, "twitch\nplayer-1", &a, &plain), 0);
	util_buf_release(&plain);
	cr_assert_neq(unseal(key_a, "twitch\nplayer-2", &a, &plain), 0);
	util_buf_release(&plain);
	for (size_t i = 0; i < a.len; i++) {
		a.data[i] ^= 0x40;
		cr_assert_neq(unseal(key_a, "twitch\nplayer-1", &a, &plain), 0,
			      "a change at byte %zu was not noticed", i);
		util_buf_release(&plain);
		a.data[i] ^= 0x40;
	}
	a.len = 20;  /* shorter than a nonce and a tag */
	cr_assert_neq(unseal(key_a, "twitch\nplayer-1", &a, &plain), 0);
	util_buf_release(&plain);
	util_buf_release(&a);
}

Test(token_key, made_once_with_mode_0600_then_read_back)
{
	char *dir = test_tmpdir();
	char *path = util_xasprintf("%s/k", dir);
	unsigned char k1[UTIL_SEAL_KEY_LEN], k2[UTIL_SEAL_KEY_LEN];
	bool created;
	char *err = NULL;
	struct stat st;

	cr_assert_eq(linking_token_key_load(path, true, k1, &created, &err), 0);
	cr_assert(created);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(st.st_size, 65);  /* 64 hex digits and a newline */
	cr_assert_eq(linking_token_key_load(path, true, k2, &created, &err), 0);
	cr_assert_not(created);
	cr_assert_eq(memcmp(k1, k2, sizeof(k1)), 0);
	free(path);
	test_rmdir(dir);
}

Test(token_key, a_bad_or_missing_file_names_the_problem)
{
	char *dir = test_tmpdir();
	char *path = util_xasprintf("%s/k", dir);
	unsigned char k[UTIL_SEAL_KEY_LEN];
	bool created;
	char *err = NULL;
	FILE *f;

	cr_assert_neq(linking_token_key_load(path, false, k, &created, &err), 0);
	cr_assert_not_null(strstr(err, "cannot read"));
	free(err);
	f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	cr_assert_neq(linking_token_key_load(path, true, k, &created, &err), 0);
	cr_assert_not_null(strstr(err, "64 hex digits or 32 bytes"), "%s", err);
	free(err);
	f = fopen(path, "w");
	fwrite("0123456789abcdef0123456789abcdef", 1, 32, f);  /* 32 raw bytes */
	fclose(f);
	cr_assert_eq(linking_token_key_load(path, false, k, &created, &err), 0);
	cr_assert_eq(k[0], '0');
	free(path);
	test_rmdir(dir);
}
