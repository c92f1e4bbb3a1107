"""TentuPlay offer redemption: POST /v1/accounts/{id}/offers/{offer_id}/redeem
verifies the offer with TentuPlay (the fake), checks that it offers the SKU
and records the redemption once, granting the SKU's catalog entry when
tentuplay.grant_on_redeem is true."""
import threading
from pathlib import Path

import pytest

from conftest import ready
from fakes.fixtures import tentuplay_config
from fakes.tentuplay import AI, VERIFY_PATH, ai_offer

CATALOG = Path(__file__).resolve().parent / "catalog_offers.json"
PLAYER = "player-1"
PACK = "diamond_pack_500"       # the fake's personalised offer product_id
SLUG = "diamond_500"            # the fake's AI offer purchasable_slug


def relay(make_grantd, fake, grant=True, **override):
    return ready(make_grantd(catalog=CATALOG, config=tentuplay_config(
        fake, grant_on_redeem=grant, **override)))


def redeem(g, offer_id, sku=PACK, account=PLAYER, status=200, body=None):
    r = g.request("POST", f"/v1/accounts/{account}/offers/{offer_id}/redeem",
                  key=g.partner_key,
                  json={"sku": sku} if body is None else body)
    assert r.status_code == status, r.text
    return r.json()


def two_slug_offer():
    """An AI offer recommending two SKUs of two stores."""
    offer = ai_offer(SLUG)
    offer["recommendations"].append({"store": "apple", "product_list": [{
        "purchasable_slug": "gems_50", "product_index": "2",
        "purchase_link": "", "start_datetime": "2026-01-01 00:00:00",
        "end_datetime": "2099-12-31 23:59:59"}]})
    return offer


def test_redeem_grants_and_history_shows_the_offer(make_grantd,
                                                   fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    doc = fake_tentuplay.add_offer(PLAYER, 10)
    answer = redeem(g, 10)
    assert answer["fulfillment_id"].startswith("f_")
    assert answer["offer_id"] == 10 and answer["sku"] == PACK
    assert answer["granted"] is True and answer["replayed"] is False
    assert answer["offer"] == doc
    assert g.balance(PLAYER, "gold") == 500
    [rec] = g.history(PLAYER)
    assert rec["fulfillment_id"] == answer["fulfillment_id"]
    assert rec["provider_id"] == "tentuplay"
    assert rec["external_id"] == f"offer:10:{PLAYER}"
    assert rec["provider_item_id"] == PACK
    assert rec["provider_entitlement_id"] == "offer-diamond-pack"
    assert rec["provider_entitlement_record_status"] == "completed"
    [call] = fake_tentuplay.calls_to(VERIFY_PATH, "POST")
    assert call.json() == {"player_uuid": PLAYER, "offer_id": 10}


def test_redeem_records_only_when_grant_on_redeem_is_false(make_grantd,
                                                           fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay, grant=False)
    fake_tentuplay.add_offer(PLAYER, 10)
    # an SKU the catalog does not map is recorded too: nothing is looked up
    fake_tentuplay.add_offer(PLAYER, 11, offer=ai_offer("not_in_catalog"),
                             kind=AI)
    first = redeem(g, 10)
    assert first["granted"] is False and first["replayed"] is False
    other = redeem(g, 11, sku="not_in_catalog")
    assert other["granted"] is False
    assert g.inventory(PLAYER)["stackables"] == []
    assert g.inventory(PLAYER)["instanced"] == []
    records = {r["external_id"]: r for r in g.history(PLAYER)}
    assert set(records) == {f"offer:10:{PLAYER}", f"offer:11:{PLAYER}"}
    rec = records[f"offer:10:{PLAYER}"]
    assert rec["fulfillment_id"] == first["fulfillment_id"]
    assert rec["provider_entitlement_record_status"] == "completed"
    assert rec["provider_entitlement_id"] is None
    assert rec["provider_item_id"] == PACK and rec["error_code"] is None
    # recorded once
    again = redeem(g, 10)
    assert again["replayed"] is True and again["granted"] is False
    assert again["fulfillment_id"] == first["fulfillment_id"]
    assert len(g.history(PLAYER)) == 2
    with g.db() as c:
        assert c.execute("SELECT count(*) FROM grants").fetchone()[0] == 0


def test_repeat_replays_without_a_second_grant(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 10)
    first = redeem(g, 10)
    again = redeem(g, 10)
    assert again["replayed"] is True and again["granted"] is True
    assert again["fulfillment_id"] == first["fulfillment_id"]
    assert g.balance(PLAYER, "gold") == 500
    assert len(g.history(PLAYER)) == 1
    # every repeat asks TentuPlay again
    assert len(fake_tentuplay.calls_to(VERIFY_PATH, "POST")) == 2


def test_concurrent_repeats_grant_once(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 10)
    answers = []

    def one():
        answers.append(redeem(g, 10))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(answers) == 8
    assert len({a["fulfillment_id"] for a in answers}) == 1
    assert sum(not a["replayed"] for a in answers) == 1
    assert g.balance(PLAYER, "gold") == 500


def test_another_sku_for_the_same_offer_conflicts(make_grantd,
                                                  fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 12, kind=AI, offer=two_slug_offer())
    first = redeem(g, 12, sku=SLUG)
    assert first["granted"] is True
    before = g.snapshot()
    err = redeem(g, 12, sku="gems_50", status=409)["error"]
    assert err["code"] == "Conflict" and "12" in err["message"]
    assert g.snapshot() == before
    assert g.balance(PLAYER, "gems") == 500
    # the same offer id for another player is another redemption
    assert g.put_account("player-2").status_code == 201
    fake_tentuplay.add_offer("player-2", 12, kind=AI, offer=two_slug_offer())
    assert redeem(g, 12, sku="gems_50", account="player-2")["granted"]
    assert g.balance("player-2", "gems") == 50


def test_ai_offer_redeems_any_of_its_slugs(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    doc = fake_tentuplay.add_offer(PLAYER, 13, kind=AI,
                                   offer=two_slug_offer(), expire_at=None)
    answer = redeem(g, 13, sku="gems_50")
    assert answer["granted"] is True and answer["offer"] == doc
    assert answer["offer"]["offer"]["offer_type"] == "ai"
    assert g.balance(PLAYER, "gems") == 50
    [rec] = g.history(PLAYER)
    assert rec["provider_entitlement_id"] == "offer-gems-50"


def test_twelve_byte_nonce(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay, nonce_bytes=12)
    fake_tentuplay.add_offer(PLAYER, 14, kind=AI, nonce_bytes=12)
    assert redeem(g, 14, sku=SLUG)["granted"] is True
    assert g.balance(PLAYER, "gems") == 500
    # an 8-byte answer read with 12 is garbage: not valid, nothing recorded
    fake_tentuplay.add_offer(PLAYER, 15, nonce_bytes=8)
    err = redeem(g, 15, status=409)["error"]
    assert err["code"] == "OfferNotValid"
    assert len(g.history(PLAYER)) == 1


@pytest.mark.parametrize("setup, words", [
    (dict(expire_at="2001-01-01 00:00:00"), "expired"),
    (dict(is_opened=False), "not opened"),
    (dict(document={"player_uuid": "someone-else", "offer": {
        "product_id": PACK}, "is_opened": True, "expire_at": None}),
     "another player"),
    (dict(tamper=True), ""),
    (dict(result="zz-not-hex-or-base64!"), ""),
])
def test_invalid_offers_are_refused_and_nothing_is_recorded(
        make_grantd, fake_tentuplay, setup, words):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 20, **setup)
    before = g.snapshot()
    err = redeem(g, 20, status=409)["error"]
    assert err["code"] == "OfferNotValid"
    assert words in err["message"] and "20" in err["message"]
    assert g.snapshot() == before
    assert g.history(PLAYER) == []


@pytest.mark.parametrize("kind, sku", [
    (None, "gems_50"),          # personalised: only its product_id
    (None, SLUG),
    (AI, PACK),                 # AI: only its purchasable_slugs
])
def test_sku_not_in_the_offer_is_refused(make_grantd, fake_tentuplay, kind,
                                         sku):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 21, **({"kind": kind} if kind else {}))
    before = g.snapshot()
    err = redeem(g, 21, sku=sku, status=409)["error"]
    assert err["code"] == "OfferSkuMismatch" and sku in err["message"]
    assert g.snapshot() == before


def test_sku_outside_the_catalog_grants_nothing(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 22, kind=AI, offer=ai_offer("unmapped"))
    err = redeem(g, 22, sku="unmapped", status=422)["error"]
    assert err["code"] == "UnknownSku" and "unmapped" in err["message"]
    assert g.inventory(PLAYER)["stackables"] == []
    [rec] = g.history(PLAYER)
    assert rec["provider_entitlement_record_status"] == "failed"
    assert rec["error_code"] == "UnknownItem"


def test_inactive_account_is_refused(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 23)
    assert g.put_account(PLAYER, "suspended").status_code == 200
    err = redeem(g, 23, status=409)["error"]
    assert err["code"] == "AccountStateError" and "suspended" in err["message"]
    assert g.balance(PLAYER, "gold") == 0
    # evaluated afresh once the account is active again
    assert g.put_account(PLAYER, "active").status_code == 200
    assert redeem(g, 23)["granted"] is True


def test_long_account_ids_get_a_hashed_key(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    player = "p" * 128
    assert g.put_account(player).status_code == 201
    fake_tentuplay.add_offer(player, 123456789012345678)
    first = redeem(g, 123456789012345678, account=player)
    assert first["offer_id"] == 123456789012345678
    [rec] = g.history(player)
    assert rec["external_id"].startswith("sha256:")
    assert len(rec["external_id"]) == len("sha256:") + 64
    again = redeem(g, 123456789012345678, account=player)
    assert again["replayed"] and again["fulfillment_id"] == \
        first["fulfillment_id"]
    assert g.balance(player, "gold") == 500


def test_tentuplay_down_refusing_or_broken_is_502(make_grantd,
                                                  fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    fake_tentuplay.add_offer(PLAYER, 30)
    before = g.snapshot()
    fake_tentuplay.refuse(PLAYER, 30)
    assert redeem(g, 30, status=502)["error"]["code"] == "TentuPlayRefused"
    fake_tentuplay.fail(VERIFY_PATH, 500)
    assert redeem(g, 31, status=502)["error"]["code"] == "TentuPlayError"
    fake_tentuplay.stop()
    err = redeem(g, 30, status=502)["error"]
    assert err["code"] == "TentuPlayUnavailable", err
    assert g.snapshot() == before


def test_timeout_is_502(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay, timeout_ms=200)
    fake_tentuplay.add_offer(PLAYER, 32)
    fake_tentuplay.delay(VERIFY_PATH, 1.0, times=1)
    err = redeem(g, 32, status=502)["error"]
    assert err["code"] == "TentuPlayUnavailable" and "200 ms" in err["message"]
    assert g.history(PLAYER) == []


@pytest.mark.parametrize("offer_id", [
    "0", "-1", "007", "1.5", "abc", "1e3", "1234567890123456789", "%2B1",
])
def test_bad_offer_id_is_400(make_grantd, fake_tentuplay, offer_id):
    g = relay(make_grantd, fake_tentuplay)
    err = redeem(g, offer_id, status=400)["error"]
    assert err["code"] == "InvalidRequest" and "offer_id" in err["message"]
    assert fake_tentuplay.calls == []


@pytest.mark.parametrize("body, words", [
    ({}, "sku: is required"),
    ({"sku": 5}, "sku: must be a string"),
    ({"sku": ""}, "sku: must be 1 to 256 bytes"),
    ({"sku": "a b"}, "[A-Za-z0-9_:.-]"),
    ({"sku": "x" * 257}, "sku: must be 1 to 256 bytes"),
    ({"sku": PACK, "offer_id": 10}, 'unknown field "offer_id"'),
    ([PACK], "must be a JSON object"),
])
def test_bad_body_is_400(make_grantd, fake_tentuplay, body, words):
    g = relay(make_grantd, fake_tentuplay)
    err = redeem(g, 10, status=400, body=body)["error"]
    assert err["code"] == "InvalidRequest" and words in err["message"]
    assert fake_tentuplay.calls == []


def test_body_must_be_json(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    path = f"/v1/accounts/{PLAYER}/offers/10/redeem"
    r = g.request("POST", path, key=g.partner_key, data="{not json",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == \
        "InvalidRequest"
    r = g.request("POST", path, key=g.partner_key, data="sku=x",
                  headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert fake_tentuplay.calls == []


def test_unknown_account_is_404(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    err = redeem(g, 10, account="nobody", status=404)["error"]
    assert err["code"] == "AccountNotFound"
    assert fake_tentuplay.calls == []


def test_not_configured_is_503(grantd):
    err = redeem(grantd, 10, status=503)["error"]
    assert err["code"] == "OffersNotConfigured"


def test_partner_scope_required(make_grantd, fake_tentuplay):
    g = relay(make_grantd, fake_tentuplay)
    r = g.request("POST", f"/v1/accounts/{PLAYER}/offers/10/redeem",
                  key=g.prime_key, json={"sku": PACK})
    assert r.status_code == 403
    r = g.request("POST", f"/v1/accounts/{PLAYER}/offers/10/redeem",
                  json={"sku": PACK})
    assert r.status_code == 401
    r = g.request("GET", f"/v1/accounts/{PLAYER}/offers/10/redeem",
                  key=g.partner_key)
    assert r.status_code == 405
