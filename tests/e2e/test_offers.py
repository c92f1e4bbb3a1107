"""TentuPlay offer verification relay: POST /v1/accounts/{id}/offers/verify
asks TentuPlay (the fake), decrypts its `result` and checks the offer."""
import pytest

from conftest import ready
from fakes.fixtures import tentuplay_config
from fakes.tentuplay import AI, VERIFY_PATH

PLAYER = "player-1"
PATH = f"/v1/accounts/{PLAYER}/offers/verify"


def relay(make_grantd, fake, **override):
    return ready(make_grantd(config=tentuplay_config(fake, **override)))


def verify(g, offer_id, account=PLAYER, status=200, body=None):
    r = g.request("POST", f"/v1/accounts/{account}/offers/verify",
                  key=g.partner_key,
                  json={"offer_id": offer_id} if body is None else body)
    assert r.status_code == status, r.text
    return r.json()


def test_valid_offer(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    doc = fake_tentuplay.add_offer(PLAYER, 10)
    answer = verify(g, 10)
    assert answer["valid"] is True and answer["reason"]
    assert answer["offer"] == doc
    [call] = fake_tentuplay.calls_to(VERIFY_PATH, "POST")
    assert call.json() == {"player_uuid": PLAYER, "offer_id": 10}
    assert call.header("x-api-key") == fake_tentuplay.api_key


def test_no_expiry_and_ai_shape(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    doc = fake_tentuplay.add_offer(PLAYER, 11, kind=AI, expire_at=None)
    answer = verify(g, 11)
    assert answer["valid"] is True, answer
    assert answer["offer"]["offer"]["offer_type"] == "ai"
    assert answer["offer"] == doc


def test_twelve_byte_nonce(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay, nonce_bytes=12)
    fake_tentuplay.add_offer(PLAYER, 12, nonce_bytes=12)
    assert verify(g, 12)["valid"] is True
    # an 8-byte answer read with 12 is garbage, caught
    fake_tentuplay.add_offer(PLAYER, 13, nonce_bytes=8)
    assert verify(g, 13)["valid"] is False


def test_base64_result(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 14, encoding="base64")
    assert verify(g, 14)["valid"] is True


@pytest.mark.parametrize("setup, words", [
    (dict(expire_at="2001-01-01 00:00:00"), "expired"),
    (dict(is_opened=False), "not opened"),
    (dict(document={"player_uuid": "someone-else", "offer": {
        "product_id": "x"}, "is_opened": True, "expire_at": None}),
     "another player"),
    (dict(tamper=True), ""),
    (dict(payload_key="Z" * 32), ""),
    (dict(result="zz-not-hex-or-base64!"), ""),
    (dict(document="this is not JSON"), "JSON"),
])
def test_invalid_offers(make_grantd, fake_tentuplay, setup, words):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 20, **setup)
    answer = verify(g, 20)
    assert answer["valid"] is False and answer["reason"], answer
    assert words in answer["reason"]
    assert set(answer) == {"valid", "reason", "offer"}


def test_wrong_payload_key_configured(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay, payload_key="W" * 32)
    fake_tentuplay.add_offer(PLAYER, 21)
    answer = verify(g, 21)
    assert answer["valid"] is False and answer["offer"] is None


def test_tentuplay_down_refusing_or_broken(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 30)
    fake_tentuplay.refuse(PLAYER, 30)
    assert verify(g, 30, status=502)["error"]["code"] == "TentuPlayRefused"
    fake_tentuplay.fail(VERIFY_PATH, 500)
    assert verify(g, 31, status=502)["error"]["code"] == "TentuPlayError"
    fake_tentuplay.stop()
    err = verify(g, 30, status=502)["error"]
    assert err["code"] == "TentuPlayUnavailable", err


def test_wrong_api_key_is_502(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay, api_key="wrong")
    fake_tentuplay.add_offer(PLAYER, 32)
    assert verify(g, 32, status=502)["error"]["code"] == "TentuPlayError"


@pytest.mark.parametrize("body", [
    {}, {"offer_id": "10"}, {"offer_id": 1.5}, {"offer_id": True},
    {"offer_id": -1}, {"offer_id": 10, "extra": 1}, [10],
])
def test_bad_body(make_grantd, fake_tentuplay, body):
    g = relay(make_grantd, fake_tentuplay)
    answer = verify(g, None, status=400, body=body)
    assert answer["error"]["code"] == "InvalidRequest"
    assert fake_tentuplay.calls == []


def test_unknown_account(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    answer = verify(g, 10, account="nobody", status=404)
    assert answer["error"]["code"] == "AccountNotFound"
    assert fake_tentuplay.calls == []


def test_not_configured(grantd):
    answer = verify(grantd, 10, status=503)
    assert answer["error"]["code"] == "OffersNotConfigured"


def test_partner_scope_required(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    r = g.request("POST", PATH, key=g.prime_key, json={"offer_id": 1})
    assert r.status_code == 403


def test_incomplete_config_refuses_to_start(make_grantd, fake_tentuplay):
    g = make_grantd(config=tentuplay_config(fake_tentuplay,
                                            payload_key="short"))
    out = g.serve_fails()
    assert "tentuplay.payload_key" in out and "short" not in out
