"""Epic Games Store entitlements pulled by grantd: a linked account's open
entitlements are granted once through the catalog; CONSUMABLE offers are
redeemed through the outbox, durable ones (ADDON, EDITION) never are; token
expiry, provider failures and redeem failures are survived."""
import base64
import time
from urllib.parse import parse_qs

from pull_util import (EPIC_EMOTE, EPIC_FROST, EPIC_GOLD, by_provider, link,
                       outbox_rows, pull_grantd, sync, wait_for)

ACCOUNT = "b1c2d3e4f5a64b7c8d9e0f1a2b3c4d5e"     # the fake's default Epic user
UNMAPPED = "ffffffffffffffffffffffffffffffff"  # in no catalog entry

FULFILLED_KEYS = {"provider_id", "provider_item_id", "provider_entitlement_id",
                  "fulfillment_id"}
UNFULFILLED_KEYS = {"provider_id", "provider_item_id",
                    "provider_entitlement_id", "reason"}


def linked(g, fake):
    """Links player-1 to the Epic account and waits for the background
    sync the link queues, so the tests' own syncs and faults meet no
    other caller."""
    link(g, "epic", ACCOUNT)
    wait_for(lambda: [r[2] for r in outbox_rows(g, "sync.epic")] ==
             ["delivered"], what="the link's background sync")


def assert_shape(answer):
    assert set(answer) == {"fulfilled", "unfulfilled"}
    assert all(set(f) == FULFILLED_KEYS for f in answer["fulfilled"])
    assert all(set(u) == UNFULFILLED_KEYS for u in answer["unfulfilled"])


def instanced(g, catalog_id):
    return [i for i in g.inventory("player-1")["instanced"]
            if i["catalog_id"] == catalog_id]


def redeem_calls(fake):
    return fake.calls_to(f"/epic/ecom/v3/identities/{ACCOUNT}/entitlements/"
                         "redeem", "PUT")


def test_consumable_is_granted_once_and_redeemed(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    gold = fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    answer = sync(g)
    assert_shape(answer)
    ok, bad = by_provider(answer, "epic")
    assert bad == []
    [f] = ok
    assert (f["provider_item_id"], f["provider_entitlement_id"]) == \
        (EPIC_GOLD, gold)
    assert f["fulfillment_id"].startswith("f_")
    assert g.balance("player-1", "gold") == 60
    wait_for(lambda: fake_epic.redeemed(gold), what="the redeem")
    [put] = redeem_calls(fake_epic)
    assert put.json() == {"entitlementIds": [gold],
                          "sandboxId": fake_epic.sandbox_id}
    assert put.header("authorization").startswith("Bearer ")
    # the list call names the sandbox; the token is the application's,
    # asked with HTTP Basic and the deployment id
    gets = fake_epic.calls_to(f"/epic/ecom/v3/identities/{ACCOUNT}/"
                              "entitlements", "GET")
    assert [g.query["sandboxId"] for g in gets] == \
        [fake_epic.sandbox_id] * 2        # the link's sync, then this one
    [token] = fake_epic.calls_to("/epic/oauth/v2/token", "POST")
    form = parse_qs(token.body.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["deployment_id"] == [fake_epic.deployment_id]
    assert "client_secret" not in form
    basic = base64.b64decode(token.header("authorization").split()[1])
    assert basic.decode() == \
        f"{fake_epic.client_id}:{fake_epic.client_secret}"
    [record] = g.history("player-1")
    assert (record["provider_id"], record["external_id"],
            record["provider_item_id"], record["fulfillment_id"],
            record["provider_entitlement_record_status"]) == \
        ("epic", gold, EPIC_GOLD, f["fulfillment_id"], "completed")
    # redeemed: Epic no longer lists it, so nothing more is granted
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 60
    assert len(g.history("player-1")) == 1
    assert len(redeem_calls(fake_epic)) == 1
    assert [r[2] for r in outbox_rows(g, "report.epic")] == ["delivered"]


def test_durable_offers_are_granted_once_and_never_redeemed(make_grantd,
                                                            fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    emote = fake_epic.add_entitlement(ACCOUNT, EPIC_EMOTE)
    frost = fake_epic.add_entitlement(ACCOUNT, EPIC_FROST,
                                      entitlement_type="EXECUTABLE")
    answer = sync(g)
    assert_shape(answer)
    ok, bad = by_provider(answer, "epic")
    assert bad == []
    first = {f["provider_entitlement_id"]: f for f in ok}
    assert {(i, f["provider_item_id"]) for i, f in first.items()} == \
        {(emote, EPIC_EMOTE), (frost, EPIC_FROST)}
    assert len(instanced(g, "emote_wave")) == 1
    assert len(instanced(g, "skin_frost")) == 1
    # Epic keeps listing them: a second sync finds them granted already
    again, bad = by_provider(sync(g), "epic")
    assert bad == []
    assert {f["provider_entitlement_id"]: f["fulfillment_id"]
            for f in again} == \
        {i: f["fulfillment_id"] for i, f in first.items()}
    assert len(instanced(g, "emote_wave")) == 1
    assert len(instanced(g, "skin_frost")) == 1
    assert {(h["external_id"], h["provider_entitlement_record_status"])
            for h in g.history("player-1")} == \
        {(emote, "completed"), (frost, "completed")}
    assert not fake_epic.redeemed(emote) and not fake_epic.redeemed(frost)
    assert redeem_calls(fake_epic) == []
    assert outbox_rows(g, "report.epic") == []


def test_unmapped_item_is_unknown_and_left_unredeemed(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    stray = fake_epic.add_entitlement(ACCOUNT, UNMAPPED, consumable=True)
    answer = sync(g)
    assert_shape(answer)
    assert answer == {"fulfilled": [], "unfulfilled": [{
        "provider_id": "epic", "provider_item_id": UNMAPPED,
        "provider_entitlement_id": stray, "reason": "UnknownItem"}]}
    assert g.inventory("player-1")["stackables"] == []
    assert g.inventory("player-1")["instanced"] == []
    [record] = g.history("player-1")
    assert (record["external_id"], record["provider_entitlement_record_status"],
            record["error_code"]) == (stray, "failed", "UnknownItem")
    assert not fake_epic.redeemed(stray)
    assert redeem_calls(fake_epic) == []
    assert outbox_rows(g, "report.epic") == []


def test_expired_token_is_replaced_mid_way(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    assert fake_epic.token_count("client_credentials") == 1
    fake_epic.expire_tokens()
    gold = fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    ok, bad = by_provider(sync(g), "epic")
    assert bad == []
    assert [f["provider_entitlement_id"] for f in ok] == [gold]
    assert g.balance("player-1", "gold") == 60
    assert fake_epic.token_count("client_credentials") == 2
    lists = fake_epic.calls_to(f"/epic/ecom/v3/identities/{ACCOUNT}/"
                               "entitlements", "GET")
    assert [c.status for c in lists] == [200, 401, 200]
    wait_for(lambda: fake_epic.redeemed(gold), what="the redeem")
    assert fake_epic.token_count("client_credentials") == 2


def test_provider_error_grants_nothing(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    gold = fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    fake_epic.fail("/epic/ecom/v3/identities", 500)
    answer = sync(g)
    assert_shape(answer)
    assert answer == {"fulfilled": [], "unfulfilled": [{
        "provider_id": "epic", "provider_item_id": None,
        "provider_entitlement_id": None, "reason": "ProviderUnavailable"}]}
    assert g.balance("player-1", "gold") == 0
    assert g.history("player-1") == []
    assert not fake_epic.redeemed(gold)
    # Epic is back: the next sync grants it, once
    ok, _ = by_provider(sync(g), "epic")
    assert [f["provider_entitlement_id"] for f in ok] == [gold]
    assert g.balance("player-1", "gold") == 60
    wait_for(lambda: fake_epic.redeemed(gold), what="the redeem")


def test_invalid_json_grants_nothing(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    fake_epic.add_entitlement(ACCOUNT, EPIC_EMOTE)
    fake_epic.garbage("/epic/ecom/v3/identities")
    answer = sync(g)
    assert answer == {"fulfilled": [], "unfulfilled": [{
        "provider_id": "epic", "provider_item_id": None,
        "provider_entitlement_id": None, "reason": "ProviderUnavailable"}]}
    assert g.inventory("player-1")["stackables"] == []
    assert g.inventory("player-1")["instanced"] == []
    assert g.history("player-1") == []
    assert redeem_calls(fake_epic) == []
    [line] = g.wait_log("pull_fetch_failed")
    assert line["msg"] == "epic: GET entitlements: invalid JSON"


def test_failed_redeem_is_retried_until_delivered(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    gold = fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    fake_epic.fail(f"/epic/ecom/v3/identities/{ACCOUNT}/entitlements/redeem",
                   500, method="PUT")
    ok, _ = by_provider(sync(g), "epic")
    assert [f["provider_entitlement_id"] for f in ok] == [gold]
    wait_for(lambda: fake_epic.redeemed(gold), what="the retried redeem")
    assert [c.status for c in redeem_calls(fake_epic)] == [500, 204]
    wait_for(lambda: [r[2] for r in outbox_rows(g, "report.epic")] ==
             ["delivered"], what="the row delivered")
    [(_, dedupe, _, attempts, _)] = outbox_rows(g, "report.epic")
    assert (dedupe, attempts) == (gold, 2)
    assert g.balance("player-1", "gold") == 60
    assert len(g.history("player-1")) == 1
    # nothing granted twice afterwards
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 60


def test_redeem_refused_for_the_entitlement_is_given_up(make_grantd,
                                                        fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    gold = fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    fake_epic.fail(f"/epic/ecom/v3/identities/{ACCOUNT}/entitlements/redeem",
                   404, method="PUT")
    sync(g)
    wait_for(lambda: [r[2] for r in outbox_rows(g, "report.epic")] ==
             ["dead"], what="the row given up")
    [(_, _, _, attempts, error)] = outbox_rows(g, "report.epic")
    assert attempts == 1
    assert "HTTP 404" in error and gold in error
    assert fake_epic.client_secret not in error
    assert len(redeem_calls(fake_epic)) == 1
    assert not fake_epic.redeemed(gold)
    assert g.balance("player-1", "gold") == 60


def test_secrets_stay_out_of_logs(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    fake_epic.fail("/epic/oauth/v2/token", 401, times=None)
    fake_epic.expire_tokens()
    answer = sync(g)
    assert [u["reason"] for u in answer["unfulfilled"]] == \
        ["ProviderUnavailable"]
    assert g.balance("player-1", "gold") == 0
    [line] = g.wait_log("pull_fetch_failed")
    assert line["msg"].startswith("epic: token: HTTP 401")
    log = g.stderr_path.read_text()
    assert fake_epic.client_secret not in log
    basic = base64.b64encode(
        f"{fake_epic.client_id}:{fake_epic.client_secret}".encode()).decode()
    assert basic not in log


def test_rate_limit_is_waited_out(make_grantd, fake_epic):
    g = pull_grantd(make_grantd, fake_epic)
    linked(g, fake_epic)
    gold = fake_epic.add_entitlement(ACCOUNT, EPIC_GOLD, consumable=True)
    fake_epic.fail("/epic/ecom/v3/identities", 429,
                   headers={"Retry-After": "1"}, method="GET")
    answer = sync(g)
    assert [u["reason"] for u in answer["unfulfilled"]] == \
        ["ProviderUnavailable"]
    assert g.balance("player-1", "gold") == 0
    # the next call waits for the second Epic asked for, then goes through
    t0 = time.monotonic()
    ok, _ = by_provider(sync(g), "epic")
    assert time.monotonic() - t0 > 0.5
    assert [f["provider_entitlement_id"] for f in ok] == [gold]
    assert g.balance("player-1", "gold") == 60
    lists = fake_epic.calls_to(f"/epic/ecom/v3/identities/{ACCOUNT}/"
                               "entitlements", "GET")
    assert [c.status for c in lists][-2:] == [429, 200]
