"""A request's id follows its work: the X-Request-Id a caller sends (or
the one grantd makes) is on the log lines written while handling it, on
the outbox rows it queued, and on the log lines of their deliveries —
provider reports and event webhooks — however much later they run."""
from pull_util import (TWITCH_GOLD, link, outbox_rows, pull_grantd, sync,
                       wait_for)

USER = "25009227"


def lines_with(g, request_id, event=None):
    return [l for l in g.log_lines(event) if l.get("request_id") == request_id]


def test_a_sync_request_id_reaches_its_report_deliveries(make_grantd,
                                                         fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    link(g, "twitch", USER)
    drop = fake_twitch.add_drop(USER, TWITCH_GOLD)
    fake_twitch.fail("/helix/entitlements/drops", 503, times=1,
                     method="PATCH")
    r = g.request("POST", "/v1/accounts/player-1/entitlements/sync",
                  key=g.partner_key, headers={"X-Request-Id": "trace-sync-1"})
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"] == "trace-sync-1"
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED",
             what="the report")
    # the report row names the request; its failed first attempt's log
    # line does too
    with g.db() as db:
        ids = [row[0] for row in db.execute(
            "SELECT request_id FROM outbox WHERE kind = 'report.twitch'")]
    assert ids == ["trace-sync-1"]
    wait_for(lambda: lines_with(g, "trace-sync-1", "outbox_retry"),
             what="the retry's log line")
    [access] = [l for l in g.log_lines("request")
                if l.get("request_id") == "trace-sync-1"]
    assert access["route"] == "sync.post" or access["path"].endswith("/sync")


def test_a_fulfilment_request_id_reaches_its_webhook_delivery(make_grantd):
    from conftest import ready
    g = ready(make_grantd(config={"events": {
        "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "s3"},
        "outbox": {"initial_backoff_ms": 50, "max_backoff_ms": 100}}))
    r = g.fulfill("player-1", "pg_gold_100", "t-trace",
                  headers={"X-Request-Id": "trace-push-7"})
    assert r.status_code == 200, r.text
    wait_for(lambda: lines_with(g, "trace-push-7", "outbox_retry"),
             what="the webhook's failed delivery logged with the id")
    [row] = [row for row in outbox_rows(g, "event.webhook")]
    with g.db() as db:
        [(rid,)] = db.execute("SELECT request_id FROM outbox WHERE kind ="
                              " 'event.webhook'").fetchall()
    assert rid == "trace-push-7"
    # a request made without an id gets grantd's, on its rows too
    r = g.fulfill("player-1", "pg_gold_100", "t-trace-2")
    made = r.headers["X-Request-Id"]
    with g.db() as db:
        got = {x for (x,) in db.execute("SELECT request_id FROM outbox")}
    assert made in got
    assert row[0] == "event.webhook"
