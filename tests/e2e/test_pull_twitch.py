"""Twitch Drops pulled by grantd: CLAIMED drops of a linked user are granted
once through the catalog, marked FULFILLED through the outbox, and the
rest of Helix's behaviour (paging, token expiry, rate limits, per-id
statuses) is handled."""
import pytest

from pull_util import (TWITCH_GEMS, TWITCH_GOLD, by_provider, link,
                       outbox_rows, pull_grantd, sync, wait_for)

USER = "25009227"


def test_sync_grants_linked_drops_once_and_reports_them(make_grantd,
                                                        fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    gold = fake_twitch.add_drop(USER, TWITCH_GOLD)
    gems = fake_twitch.add_drop(USER, TWITCH_GEMS)
    other = fake_twitch.add_drop("99999", TWITCH_GOLD)
    answer = sync(g)
    ok, bad = by_provider(answer, "twitch")
    assert bad == []
    assert {(f["provider_entitlement_id"], f["provider_item_id"]) for f in ok} \
        == {(gold, TWITCH_GOLD), (gems, TWITCH_GEMS)}
    assert all(f["fulfillment_id"].startswith("f_") for f in ok)
    assert g.balance("player-1", "gold") == 60
    assert g.balance("player-1", "gems") == 5
    wait_for(lambda: fake_twitch.drop_status(gold) == "FULFILLED" and
             fake_twitch.drop_status(gems) == "FULFILLED", what="reports")
    assert fake_twitch.drop_status(other) == "CLAIMED"
    history = g.history("player-1")
    assert {(h["provider_id"], h["external_id"]) for h in history} == \
        {("twitch", gold), ("twitch", gems)}
    # a second sync: Twitch no longer lists them, nothing more is granted
    again = sync(g)
    assert again == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 60
    assert g.balance("player-1", "gems") == 5


def test_drops_across_pages_are_all_granted_and_fulfilled_in_batches(
        make_grantd, fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    drops = [fake_twitch.add_drop(USER, TWITCH_GEMS) for _ in range(1205)]
    answer = sync(g)
    ok, bad = by_provider(answer, "twitch")
    assert bad == [] and len(ok) == 1205
    assert {f["provider_entitlement_id"] for f in ok} == set(drops)
    gets = fake_twitch.calls_to("/helix/entitlements/drops", "GET")
    assert len(gets) >= 2                       # a second page was followed
    assert any("after" in c.query for c in gets)
    assert g.balance("player-1", "gems") == 5 * 1205
    wait_for(lambda: all(fake_twitch.drop_status(d) == "FULFILLED"
                         for d in drops), timeout=30, what="reports")
    patches = fake_twitch.calls_to("/helix/entitlements/drops", "PATCH")
    assert all(len(p.json()["entitlement_ids"]) <= 100 for p in patches)
    assert len(patches) < 1205 / 10             # batched, not one per drop
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gems") == 5 * 1205


def test_expired_app_token_is_replaced_once(make_grantd, fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    first = fake_twitch.add_drop(USER, TWITCH_GOLD)
    sync(g)
    wait_for(lambda: fake_twitch.drop_status(first) == "FULFILLED")
    tokens = fake_twitch.token_count("client_credentials")
    fake_twitch.expire_tokens()
    second = fake_twitch.add_drop(USER, TWITCH_GOLD)
    ok, bad = by_provider(sync(g), "twitch")
    assert bad == [] and [f["provider_entitlement_id"] for f in ok] == [second]
    assert fake_twitch.token_count("client_credentials") == tokens + 1
    assert g.balance("player-1", "gold") == 120
    wait_for(lambda: fake_twitch.drop_status(second) == "FULFILLED")


def test_rate_limit_waits_for_ratelimit_reset(make_grantd, fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    drop = fake_twitch.add_drop(USER, TWITCH_GOLD)
    fake_twitch.clear_calls()
    fake_twitch.fail("/helix/entitlements/drops", 429, method="GET")
    ok, bad = by_provider(sync(g), "twitch")
    assert bad == [] and [f["provider_entitlement_id"] for f in ok] == [drop]
    gets = fake_twitch.calls_to("/helix/entitlements/drops", "GET")
    assert gets[0].status == 429 and all(c.status == 200 for c in gets[1:])
    # every later call waited for the reset the 429 named (now + 1 s,
    # whole epoch seconds)
    reset = int(gets[0].time) + 1
    assert all(c.time >= reset - 0.02 for c in gets[1:])
    assert g.balance("player-1", "gold") == 60


def test_update_failed_is_retried_and_not_found_is_final(make_grantd,
                                                         fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    flaky = fake_twitch.add_drop(USER, TWITCH_GOLD)
    fine = fake_twitch.add_drop(USER, TWITCH_GEMS)
    fake_twitch.update_failed([flaky], times=2)
    sync(g)
    wait_for(lambda: fake_twitch.drop_status(flaky) == "FULFILLED" and
             fake_twitch.drop_status(fine) == "FULFILLED", what="reports")
    # recorded once Twitch's answers are back, a moment after Twitch has them
    wait_for(lambda: all(r[2] != "pending"
                         for r in outbox_rows(g, "report.twitch")),
             what="the deliveries recorded")
    rows = {r[1]: r for r in outbox_rows(g, "report.twitch")}
    assert rows[flaky][2] == "delivered" and rows[flaky][3] == 3
    assert rows[fine][2] == "delivered" and rows[fine][3] == 1
    assert g.balance("player-1", "gold") == 60


def test_a_drop_twitch_no_longer_knows_is_dead_not_retried(make_grantd,
                                                          fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    drop = fake_twitch.add_drop(USER, TWITCH_GOLD)
    # the report is held back while the drop disappears at Twitch
    fake_twitch.fail("/helix/entitlements/drops", 503, times=1,
                     method="PATCH")
    sync(g)
    with fake_twitch.lock:
        del fake_twitch._drops[drop]
    wait_for(lambda: [r[2] for r in outbox_rows(g, "report.twitch")] ==
             ["dead"], what="a dead report")
    [row] = outbox_rows(g, "report.twitch")
    assert "NOT_FOUND" in row[4] and row[3] == 2
    assert g.balance("player-1", "gold") == 60


def test_unmapped_drop_is_reported_unfulfilled_and_left_claimed(make_grantd,
                                                                fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    unknown = fake_twitch.add_drop(USER, "00000000-0000-4000-8000-000000000000")
    known = fake_twitch.add_drop(USER, TWITCH_GOLD)
    ok, bad = by_provider(sync(g), "twitch")
    assert [f["provider_entitlement_id"] for f in ok] == [known]
    assert bad == [{"provider_id": "twitch",
                    "provider_item_id": "00000000-0000-4000-8000-000000000000",
                    "provider_entitlement_id": unknown,
                    "reason": "UnknownItem"}]
    wait_for(lambda: fake_twitch.drop_status(known) == "FULFILLED")
    assert fake_twitch.drop_status(unknown) == "CLAIMED"
    assert all(unknown not in p.json()["entitlement_ids"] for p in
               fake_twitch.calls_to("/helix/entitlements/drops", "PATCH"))
    [failed] = [h for h in g.history("player-1") if h["external_id"] == unknown]
    assert failed["error_code"] == "UnknownItem"
    assert g.balance("player-1", "gold") == 60


@pytest.mark.parametrize("fault", ["500", "garbage", "disconnect", "timeout"])
def test_twitch_down_is_provider_unavailable_and_nothing_changes(
        make_grantd, fake_twitch, fault):
    g = pull_grantd(make_grantd, fake_twitch, config={
        "providers": {"twitch": {"timeout_ms": 300}}})
    link(g, "twitch", USER)
    fake_twitch.add_drop(USER, TWITCH_GOLD)
    path = "/helix/entitlements/drops"
    if fault == "500":
        fake_twitch.fail(path, 500, times=None)
    elif fault == "garbage":
        fake_twitch.garbage(path, times=None)
    elif fault == "disconnect":
        fake_twitch.disconnect(path, times=None)
    else:
        fake_twitch.delay(path, 2)
    answer = sync(g)
    assert answer["fulfilled"] == []
    assert answer["unfulfilled"] == [{
        "provider_id": "twitch", "provider_item_id": None,
        "provider_entitlement_id": None, "reason": "ProviderUnavailable"}]
    assert g.balance("player-1", "gold") == 0
    assert g.history("player-1") == []


def test_a_late_link_fulfils_drops_claimed_before_it(make_grantd, fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    early = fake_twitch.add_drop(USER, TWITCH_GOLD)
    # linking queues a background sync of the provider: no sync call
    link(g, "twitch", USER, settle=False)
    wait_for(lambda: g.balance("player-1", "gold") == 60, what="the grant")
    wait_for(lambda: fake_twitch.drop_status(early) == "FULFILLED")
    assert [r[2] for r in outbox_rows(g, "sync.twitch")] == ["delivered"]


def test_polling_fulfils_linked_users_drops_without_a_call(make_grantd,
                                                           fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch, config={
        "providers": {"twitch": {"poll_interval_seconds": 1}}})
    link(g, "twitch", USER)
    g.put_account("player-2")
    mine = fake_twitch.add_drop(USER, TWITCH_GOLD)
    stranger = fake_twitch.add_drop("424242", TWITCH_GEMS)
    wait_for(lambda: g.balance("player-1", "gold") == 60, what="polling")
    wait_for(lambda: fake_twitch.drop_status(mine) == "FULFILLED")
    assert fake_twitch.drop_status(stranger) == "CLAIMED"
    assert g.history("player-1")[0]["external_id"] == mine
    # the poll asks by game alone, not per user
    assert any("user_id" not in c.query for c in
               fake_twitch.calls_to("/helix/entitlements/drops", "GET"))
    # the stranger links later: their earlier drop is fulfilled then
    link(g, "twitch", "424242", account="player-2", settle=False)
    wait_for(lambda: g.balance("player-2", "gems") == 5, what="late link")
    wait_for(lambda: fake_twitch.drop_status(stranger) == "FULFILLED")
    assert g.balance("player-1", "gold") == 60


def test_kill_after_grant_before_report_delivers_after_restart(make_grantd,
                                                               fake_twitch):
    # the report fails until the test lets it through: it must not run out
    # of attempts (and go dead) meanwhile, however slow the machine
    g = pull_grantd(make_grantd, fake_twitch, config={
        "outbox": {"max_attempts": 1000}})
    drop = fake_twitch.add_drop(USER, TWITCH_GOLD)
    # reports cannot get through: the grant is committed, the report pending
    fake_twitch.fail("/helix/entitlements/drops", 503, times=None,
                     method="PATCH")
    link(g, "twitch", USER, settle=False)
    wait_for(lambda: g.balance("player-1", "gold") == 60)
    wait_for(lambda: [r[2] for r in outbox_rows(g, "report.twitch")] ==
             ["pending"])
    g.kill9()
    # while grantd is down the drop is still CLAIMED; a restart and a sync
    # see it again and grant nothing
    assert fake_twitch.drop_status(drop) == "CLAIMED"
    g.start()
    ok, bad = by_provider(sync(g), "twitch")
    assert bad == [] and [f["provider_entitlement_id"] for f in ok] == [drop]
    assert g.balance("player-1", "gold") == 60
    fake_twitch.clear_faults()
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED",
             what="the report after restart")
    assert g.balance("player-1", "gold") == 60
    assert len([h for h in g.history("player-1")
                if h["provider_id"] == "twitch"]) == 1


def test_secrets_and_tokens_never_reach_the_log(make_grantd, fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch, config={
        "providers": {"twitch": {"timeout_ms": 300}}})
    link(g, "twitch", USER)
    # failures of every kind, so every message path writes a line
    fake_twitch.fail("/helix/entitlements/drops", 503, times=2,
                     method="PATCH")
    fake_twitch.add_drop(USER, TWITCH_GOLD)
    sync(g)
    wait_for(lambda: [r[2] for r in outbox_rows(g, "report.twitch")] ==
             ["delivered"], what="the report")
    fake_twitch.expire_tokens()
    fake_twitch.fail("/oauth2/token", 500)
    fake_twitch.fail("/helix/entitlements/drops", 401, method="GET")
    sync(g)
    fake_twitch.fail("/helix/entitlements/drops", 401, times=2, method="GET")
    sync(g)
    fake_twitch.garbage("/helix/entitlements/drops", method="GET")
    sync(g)
    g.stop()
    log = g.stderr_path.read_text() + g.stdout_path.read_text()
    assert "pull_fetch_failed" in log and "outbox_retry" in log
    assert fake_twitch.client_secret not in log
    tokens = [c.header("authorization").split()[-1]
              for c in fake_twitch.calls_to("/helix")
              if c.header("authorization")]
    assert tokens and not any(t in log for t in tokens)
    with g.db() as db:
        errors = " ".join(r[0] or "" for r in db.execute(
            "SELECT last_error FROM outbox"))
    assert fake_twitch.client_secret not in errors
    assert not any(t in errors for t in tokens)


def test_an_answer_over_the_cap_is_provider_unavailable(make_grantd,
                                                        fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch, config={
        "providers": {"twitch": {"max_response_bytes": 4096}}})
    link(g, "twitch", USER)
    for _ in range(40):  # about 9 KiB of drops: over the 4 KiB cap
        fake_twitch.add_drop(USER, TWITCH_GOLD)
    answer = sync(g)
    assert answer["unfulfilled"] == [{
        "provider_id": "twitch", "provider_item_id": None,
        "provider_entitlement_id": None, "reason": "ProviderUnavailable"}]
    assert g.balance("player-1", "gold") == 0
    g.stop()
    assert "answer larger than 4096 bytes" in g.stderr_path.read_text()


@pytest.mark.sqlite_only
def test_a_report_in_hand_at_kill_is_delivered_right_after_restart(
        make_grantd, fake_twitch):
    """A delivery holds a lease (60 s) while in hand; after kill -9 the
    restart ends the dead run's leases, so the report goes out at once."""
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    drop = fake_twitch.add_drop(USER, TWITCH_GOLD)
    # the first report hangs, then gets no answer: it never gets through
    fake_twitch.delay("/helix/entitlements/drops", 3, times=1, method="PATCH")
    fake_twitch.disconnect("/helix/entitlements/drops", method="PATCH")
    sync(g)
    wait_for(lambda: fake_twitch.calls_to("/helix/entitlements/drops",
                                          "PATCH"), what="the report in hand")
    g.kill9()
    g.start()
    # without the dead run's lease ended this would wait out its 60 s
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED",
             timeout=15, what="the report after restart")
    assert "outbox_unleased" in [l["event"] for l in g.log_lines()]
    assert g.balance("player-1", "gold") == 60
