"""GAMEPOT's purchase webhook: the documented query fields in, its
{"status", "message"} body out; the secret in the path is the credential
and never shows in a log line."""
import json
from pathlib import Path

import pytest

from conftest import ready

CATALOG = Path(__file__).resolve().parent / "catalog_gamepot.json"
SECRET = "s3cr3t-Webhook-Path-0123456789abcdef"
OLD_SECRET = "old-rotated-secret-fedcba9876543210"
PROJECT = "e948e5bc-dccd-4729-b9b0-b547ae34b85d"
OK = {"status": 1, "message": ""}


def gamepot(make_grantd, **gp):
    cfg = {"project_id": PROJECT, "webhook_secrets": [SECRET, OLD_SECRET]}
    cfg.update(gp)
    return ready(make_grantd(catalog=CATALOG, config={"gamepot": cfg}))


@pytest.fixture
def g(make_grantd):
    return gamepot(make_grantd)


def args(order="GPA-1000-0001", user="player-1", product="com.game.gold100",
         **extra):
    a = {"userId": user, "orderId": "o-" + order, "projectId": PROJECT,
         "platform": "android", "productId": product, "store": "google",
         "payment": "card", "transactionId": "GPA-" + order,
         "gamepotOrderId": order, "uniqueId": "u-1", "serverId": "s1",
         "playerId": "p1", "etc": "x y", "tp": "0"}
    a.update(extra)
    return {k: v for k, v in a.items() if v is not None}


def purchase(g, secret=SECRET, **kw):
    return g.request("GET", f"/v1/gamepot/{secret}/purchase", params=args(**kw))


def test_purchase_grants_and_answers_status_1(g):
    r = purchase(g)
    assert r.status_code == 200
    assert r.json() == OK
    assert g.balance("player-1", "gold") == 100
    [rec] = g.history("player-1")
    assert rec["provider_id"] == "gamepot"
    assert rec["external_id"] == "GPA-1000-0001"  # gamepotOrderId
    assert rec["provider_item_id"] == "com.game.gold100"
    assert rec["provider_entitlement_id"] == "gold-100"
    assert rec["provider_entitlement_record_status"] == "completed"


def test_transaction_id_is_the_key_without_gamepot_order_id(g):
    assert purchase(g, gamepotOrderId=None, transactionId="T-77").json() == OK
    [rec] = g.history("player-1")
    assert rec["external_id"] == "T-77"


def test_long_order_id_is_kept_as_its_digest(g):
    order = "G" * 512
    for _ in range(2):
        assert purchase(g, order=order, orderId="o",
                        transactionId="t").json() == OK
    [rec] = g.history("player-1")
    assert rec["external_id"].startswith("sha256:")
    assert g.balance("player-1", "gold") == 100


def test_repeat_grants_nothing_more(g):
    for _ in range(3):
        r = purchase(g)
        assert r.status_code == 200 and r.json() == OK
    assert g.balance("player-1", "gold") == 100
    assert len(g.history("player-1")) == 1


def test_repeat_with_other_fields_conflicts(g):
    assert purchase(g).json() == OK
    before = g.snapshot()
    for other in ({"product": "com.game.dragon"}, {"store": "apple"},
                  {"etc": "changed"}, {"tp": "1"}):
        r = purchase(g, **other)
        assert r.status_code == 200
        assert r.json()["status"] == 0
        assert r.json()["message"].startswith("Conflict: ")
    assert g.snapshot() == before


def test_unknown_product_is_status_0(g):
    r = purchase(g, product="com.game.nosuch")
    assert r.status_code == 200
    assert r.json()["status"] == 0
    assert r.json()["message"].startswith("UnknownItem: ")
    assert g.balance("player-1", "gold") == 0


def test_unknown_account_is_status_0(g):
    r = purchase(g, user="nobody")
    assert r.json()["status"] == 0
    assert r.json()["message"].startswith("UnknownAccount: ")


def test_wrong_secret_is_404_and_never_logged(g):
    before = g.snapshot()
    for secret in ("not-the-secret", SECRET + "x", SECRET[:-1]):
        r = purchase(g, secret=secret)
        assert r.status_code == 404
        assert secret not in r.text
    assert g.snapshot() == before
    assert purchase(g).json() == OK
    # another method and a path under the secret: the router's own errors
    r = g.request("PUT", f"/v1/gamepot/{SECRET}/purchase")
    assert r.status_code == 405 and SECRET not in r.text
    r = g.request("GET", f"/v1/gamepot/{SECRET}/nosuch")
    assert r.status_code == 404 and SECRET not in r.text
    g.wait_log("request", count=6)
    text = g.stderr_path.read_text()
    for secret in (SECRET, "not-the-secret", SECRET[:-1]):
        assert secret not in text
    paths = [l["path"] for l in g.log_lines("request")
             if "gamepot" in l.get("path", "")]
    assert "/v1/gamepot/(redacted)/purchase" in paths
    assert all("(redacted)" in p for p in paths)


def test_rotated_second_secret_works(g):
    assert purchase(g, secret=OLD_SECRET).json() == OK
    assert g.balance("player-1", "gold") == 100


def test_wrong_project_is_status_0(g):
    before = g.snapshot()
    r = purchase(g, projectId="someone-else")
    assert r.status_code == 200
    assert r.json() == {"status": 0,
                        "message": "projectId: not this server's project"}
    assert g.snapshot() == before


@pytest.mark.parametrize("field,limit", [
    ("userId", 128), ("transactionId", 512), ("store", 64),
    ("projectId", 128), ("productId", 256), ("platform", 128),
    ("payment", 64), ("uniqueId", 512), ("gamepotOrderId", 512)])
def test_over_long_fields_are_refused(g, field, limit):
    before = g.snapshot()
    r = purchase(g, **{field: "a" * (limit + 1)})
    assert r.status_code == 200
    assert r.json() == {"status": 0, "message":
                        f"{field}: must be at most {limit} bytes (got {limit + 1})"}
    assert g.snapshot() == before


@pytest.mark.parametrize("missing", ["userId", "projectId", "productId"])
def test_missing_fields_are_refused(g, missing):
    r = purchase(g, **{missing: None})
    assert r.json() == {"status": 0, "message": f"{missing}: required"}


def test_bad_tp_and_duplicate_fields_are_refused(g):
    assert purchase(g, tp="2").json() == {"status": 0,
                                          "message": "tp: must be 0 or 1"}
    r = g.request("GET", f"/v1/gamepot/{SECRET}/purchase?userId=player-1"
                  f"&userId=player-2&projectId={PROJECT}&productId=x&transactionId=t")
    assert r.json() == {"status": 0, "message": "userId: given more than once"}


def test_test_payment_granted_by_default_and_recorded(g):
    assert purchase(g, tp="1").json() == OK
    assert g.balance("player-1", "gold") == 100
    with g.db() as c:
        [(actor, detail)] = c.execute(
            "SELECT actor, detail FROM audit WHERE action = "
            "'gamepot.test_payment'").fetchall()
    assert actor == "gamepot"
    assert json.loads(detail)["test_payment"] is True
    assert json.loads(detail)["external_id"] == "GPA-1000-0001"
    assert g.log_lines("gamepot_test_payment")


def test_test_payment_rejected_by_policy(make_grantd):
    g = gamepot(make_grantd, test_payments="reject")
    before = g.snapshot()
    r = purchase(g, tp="1")
    assert r.status_code == 200
    assert r.json()["status"] == 0
    assert "test payments are not accepted" in r.json()["message"]
    assert g.snapshot() == before
    assert purchase(g, order="real-1", tp="0").json() == OK


def test_post_form_variant(g):
    r = g.request("POST", f"/v1/gamepot/{SECRET}/purchase", data=args())
    assert r.status_code == 200 and r.json() == OK
    # the same order by GET is a repeat
    assert purchase(g).json() == OK
    assert g.balance("player-1", "gold") == 100
    r = g.request("POST", f"/v1/gamepot/{SECRET}/purchase",
                  data=json.dumps(args(order="j")),
                  headers={"Content-Type": "application/json"})
    assert r.json()["status"] == 0


def test_disallowed_address_is_403(make_grantd):
    g = gamepot(make_grantd, allowed_ips=["192.0.2.0/24"])
    before = g.snapshot()
    r = purchase(g)
    assert r.status_code == 403
    assert r.json()["status"] == 0
    assert g.snapshot() == before


def test_allowed_address_is_served(make_grantd):
    g = gamepot(make_grantd, allowed_ips=["10.0.0.0/8", "127.0.0.0/8"])
    assert purchase(g).json() == OK


def test_no_secret_configured_is_404(make_grantd):
    g = ready(make_grantd(catalog=CATALOG,
                          config={"gamepot": {"project_id": PROJECT}}))
    assert purchase(g).status_code == 404
