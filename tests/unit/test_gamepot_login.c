/* Unit tests of GAMEPOT login validation's parsers: the game backend's
 * request body and GAMEPOT's loginauth answer, and the states its status
 * codes mean. */
#include <criterion/criterion.h>
#include <string.h>

#include "sources/sources.h"

/* Parses `body`; returns 0 or -1 with the message in msg. */
static int parse(const char *body, struct sources_gp_login *l, char *msg,
		 size_t size)
{
	json_t *root = NULL;
	int rc = sources_gamepot_login_parse(body, strlen(body), l, &root, msg,
					     size);

	if (rc == 0)
		cr_assert_not_null(root);
	else
		cr_assert_null(root);
	json_decref(root);
	return rc;
}

static void refused(const char *body, const char *want)
{
	struct sources_gp_login l;
	char msg[256];

	cr_assert_eq(parse(body, &l, msg, sizeof(msg)), -1, "%s accepted", body);
	cr_assert(strstr(msg, want), "%s: \"%s\" lacks \"%s\"", body, msg, want);
	cr_assert_null(l.member_id);
	cr_assert_null(l.token);
}

Test(gamepot_login, parse_accepts_every_field)
{
	struct sources_gp_login l;
	json_t *root = NULL;
	const char *body = "{\"member_id\": \"89a907ed-0e1d\", \"token\": "
			   "\"tok.en-1\", \"remote_ip\": \"2001:db8::1\", "
			   "\"platform\": \"pc\"}";
	char msg[256];

	cr_assert_eq(sources_gamepot_login_parse(body, strlen(body), &l, &root,
						 msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_str_eq(l.member_id, "89a907ed-0e1d");
	cr_assert_str_eq(l.token, "tok.en-1");
	cr_assert_str_eq(l.remote_ip, "2001:db8::1");
	cr_assert_str_eq(l.platform, "pc");
	json_decref(root);
}

Test(gamepot_login, parse_optional_fields_absent_or_empty)
{
	struct sources_gp_login l;
	char msg[256];

	cr_assert_eq(parse("{\"member_id\": \"m\", \"token\": \"t\"}", &l, msg,
			   sizeof(msg)), 0);
	cr_assert_eq(parse("{\"member_id\": \"m\", \"token\": \"t\", "
			   "\"remote_ip\": \"\", \"platform\": \"\"}", &l, msg,
			   sizeof(msg)), 0);
	cr_assert_eq(parse("{\"member_id\": \"m\", \"token\": \"t\", "
			   "\"remote_ip\": \"198.51.100.2\"}", &l, msg,
			   sizeof(msg)), 0);
}

Test(gamepot_login, parse_refuses_bad_bodies)
{
	char big[SOURCES_GP_TOKEN_MAX + 64];

	refused("", "body: invalid JSON");
	refused("[]", "body: must be a JSON object");
	refused("\"x\"", "body: must be a JSON object");
	refused("{}", "member_id: required");
	refused("{\"member_id\": \"m\"}", "token: required");
	refused("{\"member_id\": 1, \"token\": \"t\"}", "member_id: must be a string");
	refused("{\"member_id\": \"\", \"token\": \"t\"}", "member_id: must be 1 to 128");
	refused("{\"member_id\": \"m\", \"token\": \"\"}", "token: must be 1 to 2048");
	refused("{\"member_id\": \"m\\t\", \"token\": \"t\"}", "member_id: must be");
	refused("{\"member_id\": \"m\", \"token\": \"t\", \"x\": 1}",
		"body: unknown field \"x\"");
	refused("{\"member_id\": \"m\", \"member_id\": \"n\", \"token\": \"t\"}",
		"body: invalid JSON");
	refused("{\"member_id\": \"m\", \"token\": \"t\", \"remote_ip\": "
		"\"localhost\"}", "remote_ip: must be an IPv4 or IPv6 address");
	refused("{\"member_id\": \"m\", \"token\": \"t\", \"remote_ip\": null}",
		"remote_ip: must be a string");
	refused("{\"member_id\": \"m\", \"token\": \"t\", \"platform\": "
		"\"0123456789abcdef0123456789abcdefX\"}", "platform: must be at most 32");
	snprintf(big, sizeof(big), "{\"member_id\": \"m\", \"token\": \"%0*d\"}",
		 SOURCES_GP_TOKEN_MAX + 1, 0);
	refused(big, "token: must be 1 to 2048");
}

Test(gamepot_login, parse_limits_are_inclusive)
{
	char body[SOURCES_GP_TOKEN_MAX + 256];
	struct sources_gp_login l;
	char msg[256];

	snprintf(body, sizeof(body), "{\"member_id\": \"%0*d\", \"token\": "
		 "\"%0*d\"}", SOURCES_GP_MEMBER_ID_MAX, 0, SOURCES_GP_TOKEN_MAX, 0);
	cr_assert_eq(parse(body, &l, msg, sizeof(msg)), 0, "%s", msg);
}

Test(gamepot_login, answer_reads_status_and_message)
{
	const char *ok = "{\"status\": -2, \"message\": \"MemberId validation failed\"}";
	char msg[64];
	long long status = 99;

	cr_assert_eq(sources_gamepot_login_answer(ok, strlen(ok), &status, msg,
						  sizeof(msg)), 0);
	cr_assert_eq(status, -2);
	cr_assert_str_eq(msg, "MemberId validation failed");
	cr_assert_eq(sources_gamepot_login_answer("{\"status\":1}", 12, &status,
						  msg, sizeof(msg)), 0);
	cr_assert_eq(status, 1);
	cr_assert_str_eq(msg, "");
}

Test(gamepot_login, answer_refuses_what_is_not_a_result)
{
	static const char *const bad[] = {
		"", "null", "[1]", "{}", "{\"status\": \"1\"}",
		"{\"status\": 1.5}", "{\"error\": {\"errorCode\": \"200\"}}",
		"<html>gateway</html>",
	};
	char msg[64];
	long long status;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sources_gamepot_login_answer(bad[i], strlen(bad[i]),
							  &status, msg,
							  sizeof(msg)), -1,
			     "%s", bad[i]);
}

Test(gamepot_login, answer_message_is_cut_at_a_character)
{
	/* "é" is two bytes: a 4-byte buffer holds "ab" and the NUL, not
	 * half of it */
	const char *body = "{\"status\": 0, \"message\": \"ab\\u00e9cd\"}";
	char msg[4];
	long long status;

	cr_assert_eq(sources_gamepot_login_answer(body, strlen(body), &status,
						  msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "ab");
}

Test(gamepot_login, states_of_statuses)
{
	cr_assert_str_eq(sources_gamepot_login_state_name(
		sources_gamepot_login_state_of(1)), "valid");
	cr_assert_str_eq(sources_gamepot_login_state_name(
		sources_gamepot_login_state_of(0)), "missing_data");
	cr_assert_str_eq(sources_gamepot_login_state_name(
		sources_gamepot_login_state_of(-1)), "forged");
	cr_assert_str_eq(sources_gamepot_login_state_name(
		sources_gamepot_login_state_of(-2)), "member_mismatch");
	cr_assert_str_eq(sources_gamepot_login_state_name(
		sources_gamepot_login_state_of(-3)), "expired");
	cr_assert_str_eq(sources_gamepot_login_state_name(
		sources_gamepot_login_state_of(7)), "unknown_result");
	cr_assert_str_eq(sources_gamepot_login_state_name(
		SOURCES_GP_LOGIN_PENDING), "pending");
}
