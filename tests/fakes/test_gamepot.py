"""Self-tests of the GAMEPOT fake, driven with requests the way grantd will
call GAMEPOT: login validation and the external payment API."""
import json
import time

import pytest
import requests

from . import FakeGamepot
from .fixtures import providers_config
from .gamepot import LOGIN_PATH, PURCHASE_PATH

T = 5                                   # every request's timeout, seconds
MEMBER = "89a907ed-0e1d-42fb-ae4d-75e95581220d"
OTHER = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def loginauth(fake, session=None, **override):
    body = {"projectId": fake.project_id, "memberId": MEMBER,
            "token": override.pop("token", "t"), "remoteip": "203.0.113.7",
            "platform": ""}
    body.update(override)
    body = {k: v for k, v in body.items() if v is not None}
    return (session or requests).post(fake.url(LOGIN_PATH), json=body,
                                      timeout=T)


def purchase_body(fake, **override):
    body = {"projectId": fake.project_id, "store": "tpay",
            "productId": "purchase_001",
            "transactionId": "t-123412812-sadl-2384-75847",
            "memberId": MEMBER, "currency": "KRW", "price": 1000,
            "paymentId": "prepaid", "uniqueId": ""}
    body.update(override)
    return {k: v for k, v in body.items() if v is not None}


def purchase(fake, key=None, session=None, **override):
    return (session or requests).post(
        fake.url(PURCHASE_PATH), json=purchase_body(fake, **override),
        headers={"x-api-key": fake.api_key if key is None else key},
        timeout=T)


def status_of(resp):
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"status", "message"}
    assert isinstance(body["status"], int) and isinstance(body["message"], str)
    return body["status"]


# ---- config -----------------------------------------------------------------

def test_grantd_config_names_project_key_and_root(fake_gamepot):
    assert fake_gamepot.grantd_config() == {
        "project_id": fake_gamepot.project_id,
        "api_key": fake_gamepot.api_key, "api_base": fake_gamepot.base_url}
    assert providers_config(fake_gamepot)["providers"]["gamepot"][
        "api_base"].startswith("http://127.0.0.1:")


# ---- login validation -------------------------------------------------------

def test_login_valid_token_is_1_with_empty_message(fake_gamepot):
    token = fake_gamepot.add_member(MEMBER)
    r = loginauth(fake_gamepot, token=token)
    assert r.json() == {"status": 1, "message": ""}
    assert r.headers["Content-Type"] == "application/json"
    [check] = fake_gamepot.login_checks()
    assert (check.member_id, check.token, check.remoteip, check.status) == (
        MEMBER, token, "203.0.113.7", 1)


def test_login_given_token_is_used(fake_gamepot):
    assert fake_gamepot.add_member(MEMBER, "sdk-token-1") == "sdk-token-1"
    assert status_of(loginauth(fake_gamepot, token="sdk-token-1")) == 1


@pytest.mark.parametrize("missing", ["projectId", "memberId", "token"])
def test_login_missing_field_is_0(fake_gamepot, missing):
    token = fake_gamepot.add_member(MEMBER)
    for value in (None, ""):
        override = {"token": token, missing: value}
        assert status_of(loginauth(fake_gamepot, **override)) == 0
    assert [c.status for c in fake_gamepot.login_checks()] == [0, 0]


def test_login_remoteip_and_platform_are_optional(fake_gamepot):
    token = fake_gamepot.add_member(MEMBER)
    assert status_of(loginauth(fake_gamepot, token=token, remoteip=None,
                               platform=None)) == 1
    assert status_of(loginauth(fake_gamepot, token=token,
                               platform="pc")) == 1


def test_login_forged_token_is_minus_1(fake_gamepot):
    fake_gamepot.add_member(MEMBER)
    assert status_of(loginauth(fake_gamepot, token="forged")) == -1


def test_login_wrong_project_is_minus_1(fake_gamepot):
    token = fake_gamepot.add_member(MEMBER)
    assert status_of(loginauth(fake_gamepot, token=token,
                               projectId="another-project")) == -1


def test_login_other_members_token_is_minus_2(fake_gamepot):
    token = fake_gamepot.add_member(OTHER)
    assert status_of(loginauth(fake_gamepot, token=token)) == -2


def test_login_expired_token_is_minus_3(fake_gamepot):
    token = fake_gamepot.add_member(MEMBER, expired=True)
    assert status_of(loginauth(fake_gamepot, token=token)) == -3


def test_login_token_expires_after_ttl_on_fake_clock(fake_gamepot):
    token = fake_gamepot.add_member(MEMBER)
    fake_gamepot.advance_clock(fake_gamepot.token_ttl - 5)
    assert status_of(loginauth(fake_gamepot, token=token)) == 1
    fake_gamepot.advance_clock(10)
    assert status_of(loginauth(fake_gamepot, token=token)) == -3


def test_expire_member(fake_gamepot):
    token = fake_gamepot.add_member(MEMBER)
    fake_gamepot.expire_member(MEMBER)
    assert status_of(loginauth(fake_gamepot, token=token)) == -3


@pytest.mark.parametrize("status", [1, 0, -1, -2, -3])
def test_login_result_forces_next_answer_then_recovers(fake_gamepot, status):
    token = fake_gamepot.add_member(MEMBER)
    other = fake_gamepot.add_member(OTHER)
    fake_gamepot.login_result(MEMBER, status, times=2)
    assert status_of(loginauth(fake_gamepot, token=other,
                               memberId=OTHER)) == 1
    assert [status_of(loginauth(fake_gamepot, token=token))
            for _ in range(3)] == [status, status, 1]


def test_login_result_forever_and_bad_arguments(fake_gamepot):
    fake_gamepot.login_result(MEMBER, -1, times=None)
    token = fake_gamepot.add_member(MEMBER)
    assert {status_of(loginauth(fake_gamepot, token=token))
            for _ in range(3)} == {-1}
    with pytest.raises(ValueError):
        fake_gamepot.login_result(MEMBER, 7)
    with pytest.raises(ValueError):
        fake_gamepot.login_result(MEMBER, 1, times=0)


@pytest.mark.parametrize("body,ctype", [
    (b"{", "application/json"), (b"[]", "application/json"),
    (b"null", "application/json"), (b"\xff", "application/json"),
    (b'{"projectId":1,"memberId":2,"token":3}', "application/json"),
    (b"projectId=p&memberId=m&token=t", "application/x-www-form-urlencoded")])
def test_login_body_that_is_not_a_json_object_is_0(fake_gamepot, body, ctype):
    r = requests.post(fake_gamepot.url(LOGIN_PATH), data=body,
                      headers={"Content-Type": ctype}, timeout=T)
    assert status_of(r) == 0


def test_login_needs_no_api_key(fake_gamepot):
    token = fake_gamepot.add_member(MEMBER)
    r = requests.post(fake_gamepot.url(LOGIN_PATH), json={
        "projectId": fake_gamepot.project_id, "memberId": MEMBER,
        "token": token}, headers={"x-api-key": "anything"}, timeout=T)
    assert status_of(r) == 1


# ---- external payment -------------------------------------------------------

def test_purchase_is_recorded_and_answers_1(fake_gamepot):
    r = purchase(fake_gamepot)
    assert r.json() == {"status": 1, "message": ""}
    assert fake_gamepot.purchases() == [purchase_body(fake_gamepot)]
    assert fake_gamepot.purchase("t-123412812-sadl-2384-75847")[
        "price"] == 1000
    assert fake_gamepot.purchase("nope") is None
    assert fake_gamepot.purchase_results() == [
        ("t-123412812-sadl-2384-75847", 1)]


def test_purchase_repeated_transaction_is_minus_5_and_not_recorded_twice(
        fake_gamepot):
    with requests.Session() as http:
        assert status_of(purchase(fake_gamepot, session=http)) == 1
        r = purchase(fake_gamepot, session=http, productId="other_item")
        assert r.json() == {"status": -5,
                            "message": "transactionId already exists"}
        assert status_of(purchase(fake_gamepot, session=http,
                                  transactionId="t-2")) == 1
    assert [p["transactionId"] for p in fake_gamepot.purchases()] == [
        "t-123412812-sadl-2384-75847", "t-2"]
    assert fake_gamepot.purchases()[0]["productId"] == "purchase_001"
    assert fake_gamepot.purchases(member_id=OTHER) == []


@pytest.mark.parametrize("missing", ["projectId", "transactionId",
                                     "productId", "store", "memberId"])
def test_purchase_missing_field_is_minus_1(fake_gamepot, missing):
    assert status_of(purchase(fake_gamepot, **{missing: None})) == -1
    assert status_of(purchase(fake_gamepot, **{missing: ""})) == -1
    assert fake_gamepot.purchases() == []


def test_purchase_optional_fields_may_be_left_out(fake_gamepot):
    assert status_of(purchase(fake_gamepot, currency=None, paymentId=None,
                              uniqueId=None)) == 1


@pytest.mark.parametrize("price", ["1000", None, True, [1000], {"v": 1}])
def test_purchase_price_not_a_number_is_minus_2(fake_gamepot, price):
    body = purchase_body(fake_gamepot)
    body["price"] = price
    r = requests.post(fake_gamepot.url(PURCHASE_PATH), json=body,
                      headers={"x-api-key": fake_gamepot.api_key}, timeout=T)
    assert status_of(r) == -2


@pytest.mark.parametrize("price", ["NaN", "Infinity", "-Infinity"])
def test_purchase_price_not_finite_is_minus_2(fake_gamepot, price):
    body = json.dumps(purchase_body(fake_gamepot, price=0)).replace(
        '"price": 0', '"price": ' + price)
    r = requests.post(fake_gamepot.url(PURCHASE_PATH), data=body, headers={
        "x-api-key": fake_gamepot.api_key,
        "Content-Type": "application/json"}, timeout=T)
    assert status_of(r) == -2


def test_purchase_price_may_be_fractional(fake_gamepot):
    assert status_of(purchase(fake_gamepot, price=4.99, currency="USD")) == 1


def test_purchase_wrong_project_is_minus_3(fake_gamepot):
    assert status_of(purchase(fake_gamepot, projectId="another")) == -3


def test_purchase_project_without_the_api_is_minus_4():
    with FakeGamepot(thirdparty_enabled=False) as fake:
        assert status_of(purchase(fake)) == -4
        assert fake.purchases() == []


@pytest.mark.parametrize("code", [-1, -2, -3, -4, -5, -6])
def test_fail_purchase_forces_each_code_then_recovers(fake_gamepot, code):
    fake_gamepot.fail_purchase(code)
    r = purchase(fake_gamepot)
    assert status_of(r) == code and r.json()["message"]
    assert fake_gamepot.purchases() == []
    assert status_of(purchase(fake_gamepot)) == 1
    assert len(fake_gamepot.purchases()) == 1


def test_fail_purchase_times_and_order(fake_gamepot):
    fake_gamepot.fail_purchase(-6, times=2)
    fake_gamepot.fail_purchase(-4)
    assert [status_of(purchase(fake_gamepot)) for _ in range(4)] == [
        -6, -6, -4, 1]
    with pytest.raises(ValueError):
        fake_gamepot.fail_purchase(1)
    with pytest.raises(ValueError):
        fake_gamepot.fail_purchase(-7)


def test_db_error_then_retry_records_once(fake_gamepot):
    """A -6 records nothing, so the retry with the same transactionId is 1."""
    fake_gamepot.fail_purchase(-6)
    assert status_of(purchase(fake_gamepot)) == -6
    assert status_of(purchase(fake_gamepot)) == 1
    assert status_of(purchase(fake_gamepot)) == -5
    assert len(fake_gamepot.purchases()) == 1


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_purchase_wrong_or_missing_key_is_401_gateway_error(fake_gamepot,
                                                            key):
    fake_gamepot.fail_purchase(-6)        # not used up by refused calls
    r = purchase(fake_gamepot, key=key)
    assert r.status_code == 401
    assert r.json() == {"error": {
        "errorCode": "200", "message": "Authentication Failed",
        "details": "Invalid authentication information."}}
    r = requests.post(fake_gamepot.url(PURCHASE_PATH),
                      json=purchase_body(fake_gamepot), timeout=T)
    assert r.status_code == 401
    assert fake_gamepot.purchases() == [] and \
        fake_gamepot.purchase_results() == []
    assert status_of(purchase(fake_gamepot)) == -6


def test_purchase_body_that_is_not_a_json_object_is_minus_1(fake_gamepot):
    for body in (b"{", b"[]", b"\xff"):
        r = requests.post(fake_gamepot.url(PURCHASE_PATH), data=body, headers={
            "x-api-key": fake_gamepot.api_key,
            "Content-Type": "application/json"}, timeout=T)
        assert status_of(r) == -1
    r = requests.post(fake_gamepot.url(PURCHASE_PATH),
                      data=purchase_body(fake_gamepot),
                      headers={"x-api-key": fake_gamepot.api_key}, timeout=T)
    assert status_of(r) == -1


def test_purchase_request_is_logged_with_key_header(fake_gamepot):
    purchase(fake_gamepot)
    [call] = fake_gamepot.calls_to(PURCHASE_PATH, "POST")
    assert call.header("x-api-key") == fake_gamepot.api_key
    assert call.content_type == "application/json"
    assert call.json()["transactionId"] == "t-123412812-sadl-2384-75847"


# ---- routes and faults ------------------------------------------------------

def test_unknown_path_and_wrong_method_use_gateway_shape(fake_gamepot):
    r = requests.post(fake_gamepot.url("/gpapps/v1/v1/thirdparty/purchase"),
                      json={}, timeout=T)
    assert r.status_code == 404 and r.json()["error"]["errorCode"] == "300"
    r = requests.get(fake_gamepot.url(LOGIN_PATH), timeout=T)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert r.json()["error"]["message"] == "Method Not Allowed"


@pytest.mark.parametrize("path", [LOGIN_PATH, PURCHASE_PATH])
def test_injected_http_failure_then_recovery(fake_gamepot, path):
    fake_gamepot.fail(path, 503)
    token = fake_gamepot.add_member(MEMBER)
    call = (lambda: loginauth(fake_gamepot, token=token)) \
        if path == LOGIN_PATH else (lambda: purchase(fake_gamepot))
    r = call()
    assert r.status_code == 503
    assert r.json()["error"]["message"] == "Service Unavailable"
    assert fake_gamepot.purchases() == []
    assert status_of(call()) == 1


def test_injected_garbage_and_disconnect(fake_gamepot):
    fake_gamepot.garbage(PURCHASE_PATH)
    r = purchase(fake_gamepot)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    fake_gamepot.disconnect(PURCHASE_PATH)
    with pytest.raises(requests.ConnectionError):
        purchase(fake_gamepot)
    assert fake_gamepot.purchases() == []
    assert status_of(purchase(fake_gamepot)) == 1


def test_lost_answer_then_retry_is_minus_5(fake_gamepot):
    """The fake records before a delayed answer times out, as GAMEPOT would:
    grantd's retry then meets -5 and must treat it as already done."""
    fake_gamepot.delay(PURCHASE_PATH, 0.5, times=1)
    with pytest.raises(requests.Timeout):
        requests.post(fake_gamepot.url(PURCHASE_PATH),
                      json=purchase_body(fake_gamepot),
                      headers={"x-api-key": fake_gamepot.api_key},
                      timeout=0.1)
    # The delayed request is answered after the client gave up.
    for _ in range(50):
        if fake_gamepot.purchases():
            break
        time.sleep(0.02)
    assert status_of(purchase(fake_gamepot)) == -5
    assert len(fake_gamepot.purchases()) == 1


def test_malformed_requests_never_crash(fake_gamepot):
    with requests.Session() as http:
        for _, path, _ in fake_gamepot.routes():
            for body in (b"", b"{", b"[]", b"null", b"\xff\xfe", b"1e999",
                         b'{"price":NaN}', b'{"transactionId":[1]}'):
                for ctype in ("application/json", "text/plain"):
                    r = http.post(fake_gamepot.url(path), data=body, headers={
                        "Content-Type": ctype,
                        "x-api-key": fake_gamepot.api_key}, timeout=T)
                    assert r.status_code == 200, (path, body)
    fake_gamepot.check()


def test_purchase_checks_run_in_the_documented_order(fake_gamepot):
    """Missing fields, price, project, then duplicate (README "Choices")."""
    assert status_of(purchase(fake_gamepot)) == 1
    assert status_of(purchase(fake_gamepot, price="1", store=None)) == -1
    assert status_of(purchase(fake_gamepot, price="1",
                              projectId="another")) == -2
    assert status_of(purchase(fake_gamepot, projectId="another")) == -3
    assert status_of(purchase(fake_gamepot)) == -5
