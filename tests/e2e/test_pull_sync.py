"""A sync across several providers at once: each provider's part runs
concurrently (four slow providers take as long as one), one provider down
never stops the others, and a second sync grants nothing more."""
import time

from pull_util import (EPIC_GOLD, STEAM_FROST_APP, STEAM_GOLD, TWITCH_GOLD,
                       by_provider, link, outbox_rows, pull_grantd, sync,
                       wait_for)

TWITCH_USER = "25009227"
EPIC_ACCOUNT = "0123456789abcdef0123456789abcdef"
STEAMID = "76561197960287930"


def three(make_grantd, fake_twitch, fake_epic, fake_steam, **kw):
    # the catalog's DLC belongs to the publisher (else Steam answers 403)
    fake_steam.publisher_appids.add(STEAM_FROST_APP)
    g = pull_grantd(make_grantd, fake_twitch, fake_epic, fake_steam, **kw)
    link(g, "twitch", TWITCH_USER)
    link(g, "epic", EPIC_ACCOUNT)
    link(g, "steam", STEAMID)
    return g


def seed(fake_twitch, fake_epic, fake_steam):
    return (fake_twitch.add_drop(TWITCH_USER, TWITCH_GOLD),
            fake_epic.add_entitlement(EPIC_ACCOUNT, EPIC_GOLD, consumable=True),
            fake_steam.add_item(STEAMID, STEAM_GOLD))


def test_one_provider_down_never_stops_the_others(make_grantd, fake_twitch,
                                                  fake_epic, fake_steam):
    g = three(make_grantd, fake_twitch, fake_epic, fake_steam)
    drop, ent, item = seed(fake_twitch, fake_epic, fake_steam)
    fake_epic.fail("/epic/ecom", 503, times=None)
    answer = sync(g)
    assert {(f["provider_id"], f["provider_entitlement_id"])
            for f in answer["fulfilled"]} == {("twitch", drop), ("steam", item)}
    assert answer["unfulfilled"] == [{
        "provider_id": "epic", "provider_item_id": None,
        "provider_entitlement_id": None, "reason": "ProviderUnavailable"}]
    assert g.balance("player-1", "gold") == 120
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED" and
             fake_steam.quantity(item) == 0, what="the two reports")
    assert not fake_epic.redeemed(ent)
    # Epic is back: the next sync grants its entitlement, and only it
    fake_epic.clear_faults()
    ok, bad = by_provider(sync(g), "epic")
    assert bad == [] and [f["provider_entitlement_id"] for f in ok] == [ent]
    wait_for(lambda: fake_epic.redeemed(ent), what="the Epic report")
    assert g.balance("player-1", "gold") == 180
    assert {h["provider_id"] for h in g.history("player-1")} == \
        {"twitch", "epic", "steam"}
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 180


def test_providers_are_asked_at_once(make_grantd, fake_twitch, fake_epic,
                                     fake_steam):
    g = three(make_grantd, fake_twitch, fake_epic, fake_steam)
    seed(fake_twitch, fake_epic, fake_steam)
    delay = 0.4
    fake_twitch.delay("/helix/entitlements/drops", delay, method="GET")
    fake_epic.delay("/epic/ecom", delay, method="GET")
    fake_steam.delay("/IInventoryService/GetInventory", delay)
    t0 = time.monotonic()
    answer = sync(g)
    elapsed = time.monotonic() - t0
    assert len(answer["fulfilled"]) == 3 and answer["unfulfilled"] == []
    # one after another would take three delays; at once, about one
    assert delay <= elapsed < 2 * delay, elapsed
    assert g.balance("player-1", "gold") == 180


def test_a_provider_not_configured_is_skipped(make_grantd, fake_twitch):
    """A link to a provider whose section lacks credentials is not asked;
    its background sync is delivered as nothing to do."""
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", TWITCH_USER)
    link(g, "steam", STEAMID)
    drop = fake_twitch.add_drop(TWITCH_USER, TWITCH_GOLD)
    ok, bad = by_provider(sync(g), "twitch")
    assert bad == [] and [f["provider_entitlement_id"] for f in ok] == [drop]
    assert [r[2] for r in outbox_rows(g, "sync.steam")] == ["delivered"]


def test_sync_of_an_unknown_account_is_404(make_grantd, fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    r = g.request("POST", "/v1/accounts/nobody/entitlements/sync",
                  key=g.partner_key)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "AccountNotFound"
    r = g.request("POST", "/v1/accounts/player-1/entitlements/sync",
                  key=g.prime_key)
    assert r.status_code == 403
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}  # no links
