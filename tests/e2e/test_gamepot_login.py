"""GAMEPOT login validation: POST /v1/accounts/{id}/gamepot/login answers
202 at once, the outbox asks GAMEPOT's loginauth (the fake) in the
background, GET shows the newest result; a forged token or another
member's token suspends the account, whose later purchases are refused."""
import time
from pathlib import Path

import pytest

from conftest import ready
from fakes.fixtures import fake_gamepot  # noqa: F401
from fakes.gamepot import LOGIN_PATH
from oauth_util import audit
from pull_util import wait_for

CATALOG = Path(__file__).resolve().parent / "catalog_gamepot.json"
SECRET = "s3cr3t-Webhook-Path-0123456789abcdef"
PLAYER = "player-1"
PATH = f"/v1/accounts/{PLAYER}/gamepot/login"
FAST_RETRIES = {"initial_backoff_ms": 50, "max_backoff_ms": 200}


def login_grantd(make_grantd, fake, outbox=None, **gp):
    section = dict(fake.grantd_config(), webhook_secrets=[SECRET])
    section.update(gp)
    config = {"gamepot": section}
    if outbox:
        config["outbox"] = outbox
    g = ready(make_grantd(catalog=CATALOG, config=config))
    g.project_id = fake.project_id
    return g


@pytest.fixture
def g(make_grantd, fake_gamepot):
    return login_grantd(make_grantd, fake_gamepot)


def post(g, body, account=PLAYER, key=None, **kw):
    return g.request("POST", f"/v1/accounts/{account}/gamepot/login",
                     key=key or g.partner_key, json=body, **kw)


def get(g, account=PLAYER, key=None):
    return g.request("GET", f"/v1/accounts/{account}/gamepot/login",
                     key=key or g.partner_key)


def settled(g, account=PLAYER, timeout=10):
    """The newest validation once it is no longer pending."""
    seen = {}

    def done():
        r = get(g, account)
        assert r.status_code == 200, r.text
        seen.update(r.json())
        return seen["state"] != "pending"
    wait_for(done, timeout=timeout, what="the validation to settle")
    return seen


def account_state(g, account=PLAYER):
    r = g.request("GET", f"/v1/accounts/{account}", key=g.partner_key)
    assert r.status_code == 200, r.text
    return r.json()["state"]


def purchase(g, order, user=PLAYER):
    args = {"userId": user, "projectId": g.project_id, "platform": "android",
            "productId": "com.game.gold100", "store": "google",
            "transactionId": "GPA-" + order, "gamepotOrderId": order}
    r = g.request("GET", f"/v1/gamepot/{SECRET}/purchase", params=args)
    assert r.status_code == 200, r.text
    return r.json()


def validation_row(g, vid):
    with g.db() as db:
        return db.execute("SELECT token, state FROM gamepot_logins "
                          "WHERE id = ?", (vid,)).fetchone()


def start_login(g, fake, member="member-1", token=None, **extra):
    body = {"member_id": member, "token": token or fake.add_member(member)}
    body.update(extra)
    r = post(g, body)
    assert r.status_code == 202, r.text
    return r, body


# ---- results -------------------------------------------------------------


def test_valid_login_is_recorded(g, fake_gamepot):
    r, body = start_login(g, fake_gamepot, remote_ip="203.0.113.7",
                          platform="pc")
    answer = r.json()
    assert answer["status"] == "pending"
    assert answer["account_id"] == PLAYER
    assert answer["member_id"] == "member-1"
    assert isinstance(answer["validation_id"], int)
    assert r.headers["Location"] == PATH
    v = settled(g)
    assert v["validation_id"] == answer["validation_id"]
    assert v["state"] == "valid" and v["result"] == 1
    assert v["member_id"] == "member-1" and v["platform"] == "pc"
    assert v["remote_ip"] == "203.0.113.7"
    assert v["account_suspended"] is False
    assert v["attempts"] == 0 and v["last_error"] is None
    assert v["validated_at_millis"] >= v["requested_at_millis"]
    assert "token" not in v
    [call] = fake_gamepot.calls_to(LOGIN_PATH, "POST")
    assert call.header("content-type") == "application/json"
    assert call.json() == {"projectId": fake_gamepot.project_id,
                           "memberId": "member-1", "token": body["token"],
                           "remoteip": "203.0.113.7", "platform": "pc"}
    assert account_state(g) == "active"
    assert purchase(g, "GPA-1")["status"] == 1
    # the token is gone once GAMEPOT has answered, and never logged
    token, state = validation_row(g, v["validation_id"])
    assert token is None and state == "valid"
    with g.db() as db:
        payloads = [p for (p,) in db.execute("SELECT payload FROM outbox")]
    assert payloads and all(body["token"] not in p for p in payloads)
    g.wait_log("gamepot_login_validated")
    assert body["token"] not in g.stderr_path.read_text()


def test_optional_fields_go_empty(g, fake_gamepot):
    start_login(g, fake_gamepot, platform="", remote_ip="")
    v = settled(g)
    assert v["state"] == "valid"
    assert v["platform"] is None and v["remote_ip"] is None
    [check] = fake_gamepot.login_checks()
    assert check.remoteip == "" and check.platform == ""


def test_get_shows_the_newest(g, fake_gamepot):
    start_login(g, fake_gamepot)
    first = settled(g)
    r, _ = start_login(g, fake_gamepot, member="member-2")
    second = settled(g)
    assert second["validation_id"] == r.json()["validation_id"]
    assert second["validation_id"] > first["validation_id"]
    assert second["member_id"] == "member-2"


def suspended_checks(g, v, state, error_code):
    assert v["state"] == state
    assert v["account_suspended"] is True
    assert account_state(g) == "suspended"
    # a later purchase is refused by the engine
    answer = purchase(g, "GPA-after")
    assert answer["status"] == 0
    assert answer["message"].startswith("AccountStateError: ")
    # the audit trail says why
    entries = [e for e in audit(g) if e["actor"] == "gamepot"]
    failed = [e for e in entries if e["action"] == "gamepot.login_failed"]
    suspended = [e for e in entries
                 if e["action"] == "gamepot.account_suspended"]
    assert len(failed) == 1 and len(suspended) == 1
    assert failed[0]["target"] == PLAYER
    assert failed[0]["detail"]["state"] == state
    assert failed[0]["detail"]["result"] == v["result"]
    assert failed[0]["detail"]["account_suspended"] is True
    assert f"status {v['result']}" in suspended[0]["detail"]["reason"]
    assert suspended[0]["detail"]["validation_id"] == v["validation_id"]
    # and so does the account's history
    records = g.history(PLAYER)
    login = [r for r in records if r["external_id"].startswith("login:")]
    assert len(login) == 1
    assert login[0]["provider_id"] == "gamepot"
    assert login[0]["external_id"] == f"login:{v['validation_id']}"
    assert login[0]["provider_entitlement_record_status"] == "failed"
    assert login[0]["error_code"] == error_code
    assert login[0]["provider_item_id"] == "loginauth"


def test_forged_token_suspends_the_account(g, fake_gamepot):
    fake_gamepot.add_member("member-1")
    start_login(g, fake_gamepot, token="not-a-token-gamepot-issued")
    v = settled(g)
    assert v["result"] == -1
    assert v["message"] == "Token validation failed"
    suspended_checks(g, v, "forged", "LoginTokenForged")


def test_member_mismatch_suspends_the_account(g, fake_gamepot):
    other = fake_gamepot.add_member("someone-else")
    start_login(g, fake_gamepot, token=other)
    v = settled(g)
    assert v["result"] == -2
    suspended_checks(g, v, "member_mismatch", "LoginMemberMismatch")


def test_without_blocking_a_failure_is_recorded_only(make_grantd,
                                                     fake_gamepot):
    g = login_grantd(make_grantd, fake_gamepot,
                     login_validation={"block_on_failure": False})
    start_login(g, fake_gamepot, token="forged-token")
    v = settled(g)
    assert v["state"] == "forged" and v["account_suspended"] is False
    assert account_state(g) == "active"
    assert purchase(g, "GPA-2")["status"] == 1
    [failed] = [e for e in audit(g) if e["action"] == "gamepot.login_failed"]
    assert failed["detail"]["account_suspended"] is False
    assert failed["detail"]["block_on_failure"] is False
    assert not [e for e in audit(g)
                if e["action"] == "gamepot.account_suspended"]
    assert not [r for r in g.history(PLAYER)
                if r["external_id"].startswith("login:")]


def test_a_suspended_account_is_not_suspended_twice(g, fake_gamepot):
    for _ in range(2):
        start_login(g, fake_gamepot, token="forged-token")
        v = settled(g)
        assert v["state"] == "forged"
    assert v["account_suspended"] is False   # it already was
    assert len([e for e in audit(g)
                if e["action"] == "gamepot.account_suspended"]) == 1
    assert len([e for e in audit(g)
                if e["action"] == "gamepot.login_failed"]) == 2


@pytest.mark.parametrize("result, state", [(-3, "expired"),
                                           (0, "missing_data")])
def test_expired_and_missing_data_are_recorded_only(g, fake_gamepot, result,
                                                    state):
    if result == -3:
        token = fake_gamepot.add_member("member-1", expired=True)
    else:
        token = fake_gamepot.add_member("member-1")
        fake_gamepot.login_result("member-1", 0)
    start_login(g, fake_gamepot, token=token)
    v = settled(g)
    assert v["state"] == state and v["result"] == result
    assert v["account_suspended"] is False
    assert account_state(g) == "active"
    assert not [e for e in audit(g) if e["actor"] == "gamepot"]
    assert g.history(PLAYER) == []
    assert validation_row(g, v["validation_id"])[0] is None


# ---- GAMEPOT failing or slow -----------------------------------------------


def test_server_errors_are_retried(make_grantd, fake_gamepot):
    g = login_grantd(make_grantd, fake_gamepot, outbox=FAST_RETRIES)
    fake_gamepot.fail(LOGIN_PATH, 503, times=2)
    start_login(g, fake_gamepot)
    v = settled(g)
    assert v["state"] == "valid"
    assert v["attempts"] == 2 and "HTTP 503" in v["last_error"]
    assert len(fake_gamepot.calls_to(LOGIN_PATH)) == 3


def test_dropped_connections_are_retried(make_grantd, fake_gamepot):
    g = login_grantd(make_grantd, fake_gamepot, outbox=FAST_RETRIES)
    fake_gamepot.disconnect(LOGIN_PATH, times=2)
    start_login(g, fake_gamepot)
    v = settled(g)
    assert v["state"] == "valid" and v["attempts"] == 2


def test_gamepot_down_then_up(make_grantd, fake_gamepot):
    """GAMEPOT unreachable: the validation stays pending across a restart
    and completes once GAMEPOT can be reached."""
    g = login_grantd(make_grantd, fake_gamepot, outbox=FAST_RETRIES,
                     api_base="http://127.0.0.1:9")   # nothing listens
    r, _ = start_login(g, fake_gamepot)

    def failed_twice():
        return get(g).json()["attempts"] >= 2
    wait_for(failed_twice, what="failed attempts")
    v = get(g).json()
    assert v["state"] == "pending" and v["last_error"]
    assert v["result"] is None and v["validated_at_millis"] is None
    g.stop()
    g.write_config({"gamepot": dict(fake_gamepot.grantd_config(),
                                    webhook_secrets=[SECRET]),
                    "outbox": FAST_RETRIES})
    g.start()
    v = settled(g)
    assert v["validation_id"] == r.json()["validation_id"]
    assert v["state"] == "valid"


def test_post_does_not_wait_for_gamepot(g, fake_gamepot):
    fake_gamepot.delay(LOGIN_PATH, 2.0)
    t0 = time.monotonic()
    r, _ = start_login(g, fake_gamepot)
    assert time.monotonic() - t0 < 1.0
    assert get(g).json()["state"] == "pending"
    # other partner calls are served meanwhile
    t0 = time.monotonic()
    r2, _ = start_login(g, fake_gamepot, member="member-2")
    assert time.monotonic() - t0 < 1.0
    assert r2.json()["validation_id"] > r.json()["validation_id"]
    assert settled(g)["state"] == "valid"


def test_unknown_result_is_recorded(g, fake_gamepot):
    fake_gamepot.fail(LOGIN_PATH, 200, body={"status": -9, "message": "?"})
    start_login(g, fake_gamepot)
    v = settled(g)
    assert v["state"] == "unknown_result" and v["result"] == -9
    assert account_state(g) == "active"


# ---- bad requests -----------------------------------------------------------


@pytest.mark.parametrize("body, words", [
    ({}, "member_id: required"),
    ({"member_id": "m"}, "token: required"),
    ({"token": "t"}, "member_id: required"),
    ({"member_id": "", "token": "t"}, "member_id: must be 1 to 128"),
    ({"member_id": "m" * 129, "token": "t"}, "member_id: must be 1 to 128"),
    ({"member_id": "m", "token": "t" * 2049}, "token: must be 1 to 2048"),
    ({"member_id": "m", "token": 12}, "token: must be a string"),
    ({"member_id": None, "token": "t"}, "member_id: must be a string"),
    ({"member_id": "m\n", "token": "t"}, "member_id: must be"),
    ({"member_id": "m", "token": "t\u00e9"}, "token: must be"),
    ({"member_id": "m", "token": "t", "remote_ip": "not-an-ip"},
     "remote_ip: must be an IPv4 or IPv6 address"),
    ({"member_id": "m", "token": "t", "remote_ip": "1.2.3.4.5"},
     "remote_ip"),
    ({"member_id": "m", "token": "t", "remote_ip": 1234}, "remote_ip"),
    ({"member_id": "m", "token": "t", "platform": "p" * 33}, "platform"),
    ({"member_id": "m", "token": "t", "projectId": "x"},
     'body: unknown field "projectId"'),
    (["member_id", "token"], "body: must be a JSON object"),
])
def test_bad_bodies_are_refused(g, fake_gamepot, body, words):
    before = g.snapshot()
    r = post(g, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidRequest"
    assert words in r.json()["error"]["message"]
    assert g.snapshot() == before
    assert fake_gamepot.calls_to(LOGIN_PATH) == []


def test_malformed_json_and_content_type(g):
    before = g.snapshot()
    for data, ctype, status in (
            ('{"member_id": "m", "token": ', "application/json", 400),
            ('{"member_id": "m", "member_id": "n", "token": "t"}',
             "application/json", 400),
            ('{"member_id": "m", "token": "t"}', "text/plain", 415)):
        r = g.request("POST", PATH, key=g.partner_key, data=data,
                      headers={"Content-Type": ctype})
        assert r.status_code == status, r.text
    assert g.snapshot() == before


def test_the_token_is_not_echoed_in_errors(g):
    secret = "tok-" + "s" * 3000
    r = post(g, {"member_id": "m", "token": secret})
    assert r.status_code == 400
    assert secret[:40] not in r.text


def test_unknown_account_is_404(g, fake_gamepot):
    before = g.snapshot()
    r = post(g, {"member_id": "m", "token": "t"}, account="nobody")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "AccountNotFound"
    r = get(g, account="nobody")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "AccountNotFound"
    assert g.snapshot() == before


def test_no_validation_yet_is_404(g):
    r = get(g)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "LoginValidationNotFound"


def test_scopes(g):
    body = {"member_id": "m", "token": "t"}
    before = g.snapshot()
    assert g.request("POST", PATH, json=body).status_code == 401
    assert g.request("GET", PATH).status_code == 401
    assert post(g, body, key=g.prime_key).status_code == 403
    assert get(g, key=g.prime_key).status_code == 403
    assert post(g, body, key="not-a-key").status_code == 401
    assert g.snapshot() == before


def test_without_a_project_it_is_off(make_grantd, fake_gamepot):
    g = login_grantd(make_grantd, fake_gamepot, project_id="")
    before = g.snapshot()
    r = post(g, {"member_id": "m", "token": "t"})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "GamepotNotConfigured"
    assert g.snapshot() == before
