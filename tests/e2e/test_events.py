"""Events for the game backend: grant.created, account.suspended and
link.created written with the change they tell of; the pull feed
(GET /v1/events) in commit order with an opaque cursor; signed webhooks
delivered at least once, in order per account, across failures and
restarts."""
import hashlib
import hmac
import http.server
import json
import threading
import time

from conftest import ready
from fakes.fixtures import fake_gamepot  # noqa: F401

SECRET = "whsec-test-0123456789"
FAST_OUTBOX = {"initial_backoff_ms": 20, "max_backoff_ms": 100}


class Receiver:
    """A loopback webhook receiver: answers 500 to the first `fail` calls
    of each event id, then 204. Keeps every call and the accepted ones in
    arrival order."""

    def __init__(self, fail=0, port=0):
        self.fail = fail
        self.calls = []          # (event id, headers, body) of every call
        self.accepted = []       # (headers, body bytes, parsed) accepted
        self.tries = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                eid = headers.get("grantd-event-id")
                with outer.lock:
                    outer.calls.append((eid, headers, body))
                    n = outer.tries[eid] = outer.tries.get(eid, 0) + 1
                    ok = n > outer.fail
                    if ok:
                        outer.accepted.append((headers, body,
                                               json.loads(body)))
                self.send_response(204 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks/grantd"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def accepted_ids(self):
        with self.lock:
            return [a[2]["id"] for a in self.accepted]

    def wait_accepted(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.accepted_ids()) >= n:
                return
            time.sleep(0.05)
        raise AssertionError(f"{len(self.accepted_ids())} of {n} events "
                             "accepted")


def webhook_config(url, events=None):
    hook = {"webhook_url": url, "webhook_secret": SECRET}
    if events:
        hook["webhook_events"] = events
    return {"events": hook, "outbox": FAST_OUTBOX}


def feed(g, after=None, limit=None, key=None):
    params = {}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = limit
    r = g.request("GET", "/v1/events", key=key or g.partner_key,
                  params=params)
    assert r.status_code == 200, r.text
    return r.json()


def feed_all(g, limit=1000):
    events, cursor = [], None
    while True:
        page = feed(g, cursor, limit)
        events += page["events"]
        cursor = page["next_cursor"]
        if not page["events"]:
            return events, cursor


def by_account(events):
    out = {}
    for e in events:
        out.setdefault(e["account_id"], []).append(e["id"])
    return out


def signature_ok(headers, body):
    parts = dict(p.split("=", 1) for p in headers["grantd-signature"].split(","))
    want = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + body,
                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"]) and \
        abs(int(parts["t"]) - time.time()) < 600


def test_grants_make_grant_created_events(make_grantd):
    g = ready(make_grantd())
    assert g.fulfill("player-1", "pg_gold_100", "tx-1").status_code == 200
    assert g.fulfill("player-1", "pg_starter", "tx-2").status_code == 200
    # a replay, a refusal: no event
    assert g.fulfill("player-1", "pg_gold_100", "tx-1").status_code == 200
    assert g.fulfill("player-1", "no_such_sku", "tx-3").status_code != 200
    events, _ = feed_all(g)
    grants = [e for e in events if e["type"] == "grant.created"]
    assert len(grants) == 2
    first, second = grants
    assert first["account_id"] == "player-1"
    assert first["created_at"].endswith("Z")
    d = first["data"]
    assert d["source"] == "primegaming" and d["external_id"] == "tx-1"
    assert d["provider_item_id"] == "pg_gold_100"
    assert d["entitlement_id"] == "gold-100" and d["status"] == "completed"
    assert d["fulfillment_id"].startswith("f_") and d["fulfilled_at"]
    assert d["grants"] == [{"line": 0, "catalog_id": "gold", "amount": 100}]
    lines = second["data"]["grants"]
    assert [x["line"] for x in lines] == list(range(len(lines)))
    inst = [x for x in lines if "instance_id" in x]
    assert {x["catalog_id"] for x in inst} == {"hat_red", "sword"}
    assert all(x["amount"] == 1 for x in inst)
    owned = {i["instance_id"] for i in g.inventory("player-1")["instanced"]}
    assert {x["instance_id"] for x in inst} <= owned
    hist = {h["fulfillment_id"] for h in g.history("player-1")}
    assert {first["data"]["fulfillment_id"],
            second["data"]["fulfillment_id"]} <= hist


def test_suspension_and_link_events(make_grantd):
    g = ready(make_grantd())
    assert g.put_account("player-1", "suspended").status_code == 200
    assert g.put_account("player-1", "suspended").status_code == 200  # no change
    assert g.put_account("player-1", "banned").status_code == 200
    assert g.put_account("player-1", "active").status_code == 200
    assert g.put_account("player-2", "banned").status_code == 201
    r = g.request("PUT", "/v1/accounts/player-1/links/twitch",
                  key=g.partner_key, json={"external_id": "tw-77"})
    assert r.status_code == 201, r.text
    r = g.request("PUT", "/v1/accounts/player-1/links/twitch",
                  key=g.partner_key, json={"external_id": "tw-77"})
    assert r.status_code == 200  # unchanged: no event
    events, _ = feed_all(g)
    sus = [e for e in events if e["type"] == "account.suspended"]
    assert [(e["account_id"], e["data"]["state"], e["data"]["previous_state"])
            for e in sus] == [("player-1", "suspended", "active"),
                              ("player-1", "banned", "suspended"),
                              ("player-2", "banned", None)]
    assert all(e["data"]["cause"] == "api" for e in sus)
    links = [e for e in events if e["type"] == "link.created"]
    assert len(links) == 1
    assert links[0]["account_id"] == "player-1"
    assert links[0]["data"]["provider"] == "twitch"
    assert links[0]["data"]["external_id"] == "tw-77"
    assert links[0]["data"]["via"] == "api"


def test_feed_scope_and_bad_parameters(make_grantd):
    g = ready(make_grantd())
    r = g.request("GET", "/v1/events", key=g.prime_key)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "Forbidden"
    assert g.request("GET", "/v1/events").status_code == 401
    for bad in ["", "x", "1", "-1", "1-", "-", "01-2", "1-02", "1--2",
                "1-2-3", "+1-2", "1- 2", "99999999999999999999-1",
                "9223372036854775808-1", "1-9223372036854775808", "a-b"]:
        r = g.request("GET", "/v1/events", key=g.partner_key,
                      params={"after": bad})
        assert r.status_code == 400, bad
        err = r.json()["error"]
        assert err["code"] == "InvalidRequest" and "after" in err["message"]
    for bad in ["0", "1001", "x", "-5", ""]:
        r = g.request("GET", "/v1/events", key=g.partner_key,
                      params={"limit": bad})
        assert r.status_code == 400, bad
        err = r.json()["error"]
        assert err["code"] == "InvalidRequest" and "limit" in err["message"]
    page = feed(g)
    assert page["events"] == []
    # an empty page hands the same position back
    assert feed(g, page["next_cursor"])["next_cursor"] == page["next_cursor"]


def test_failing_receiver_gets_each_event_once_in_order(make_grantd):
    rx = Receiver(fail=3)
    try:
        g = ready(make_grantd(config=webhook_config(rx.url)))
        assert g.put_account("player-2").status_code == 201
        for i in range(3):
            for acct in ("player-1", "player-2"):
                assert g.fulfill(acct, "pg_gold_100",
                                 f"{acct}-tx-{i}").status_code == 200
        assert g.put_account("player-2", "suspended").status_code == 200
        events, _ = feed_all(g)
        assert len(events) == 7
        rx.wait_accepted(len(events))
        time.sleep(0.3)  # nothing more arrives
        accepted = rx.accepted_ids()
        assert sorted(accepted) == sorted(e["id"] for e in events)
        assert len(set(accepted)) == len(accepted)
        for eid, n in rx.tries.items():
            assert n == 4, (eid, n)
        for headers, body, parsed in rx.accepted:
            assert signature_ok(headers, body)
            assert headers["content-type"] == "application/json"
            assert headers["grantd-event-id"] == str(parsed["id"])
            assert set(parsed) == {"id", "type", "created_at", "account_id",
                                   "data"}
        for _, headers, body in rx.calls:
            assert signature_ok(headers, body)
        # the webhook stream per account is the feed's
        assert by_account([a[2] for a in rx.accepted]) == by_account(events)
        for ids in by_account(events).values():
            assert ids == sorted(ids)
        # each delivered body is the feed's event
        feed_by_id = {e["id"]: e for e in events}
        for _, _, parsed in rx.accepted:
            assert parsed == feed_by_id[parsed["id"]]
    finally:
        rx.stop()


def test_webhook_event_filter(make_grantd):
    rx = Receiver()
    try:
        g = ready(make_grantd(config=webhook_config(
            rx.url, ["account.suspended"])))
        assert g.fulfill("player-1", "pg_gold_100", "tx-1").status_code == 200
        assert g.put_account("player-1", "suspended").status_code == 200
        rx.wait_accepted(1)
        time.sleep(0.5)
        assert [a[2]["type"] for a in rx.accepted] == ["account.suspended"]
        assert len(feed_all(g)[0]) == 2
    finally:
        rx.stop()


def test_receiver_down_across_restart_loses_nothing(make_grantd):
    rx = Receiver()
    port = rx.port
    rx.stop()                       # down: connections refused
    g = ready(make_grantd(config=webhook_config(
        f"http://127.0.0.1:{port}/hooks/grantd")))
    for i in range(5):
        assert g.fulfill("player-1", "pg_gold_100", f"tx-{i}").status_code == 200
    g.wait_log("outbox_retry", count=1)
    g.stop()
    g.start()
    assert g.fulfill("player-1", "pg_gold_100", "tx-after").status_code == 200
    rx = Receiver(port=port)
    try:
        events, _ = feed_all(g)
        assert len(events) == 6     # an account made active is no event
        rx.wait_accepted(6)
        ids = [e["id"] for e in events if e["type"] == "grant.created"]
        assert rx.accepted_ids() == ids
    finally:
        rx.stop()


def test_feed_paging_under_concurrent_inserts(make_grantd):
    g = ready(make_grantd())
    accounts = [f"acct-{i}" for i in range(4)]
    for a in accounts:
        assert g.put_account(a).status_code == 201
    per_thread = 25
    errors = []

    def post(acct):
        for i in range(per_thread):
            r = g.fulfill(acct, "pg_gold_100", f"{acct}-{i}")
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=post, args=(a,)) for a in accounts]
    for t in threads:
        t.start()
    seen, cursor = [], None
    while any(t.is_alive() for t in threads):
        page = feed(g, cursor, 7)
        seen += page["events"]
        cursor = page["next_cursor"]
    for t in threads:
        t.join()
    assert not errors
    deadline = time.monotonic() + 10
    while len(seen) < len(accounts) * per_thread and \
            time.monotonic() < deadline:
        page = feed(g, cursor, 7)
        seen += page["events"]
        cursor = page["next_cursor"]
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)) == len(accounts) * per_thread
    assert feed(g, cursor)["events"] == []
    # a reader from the start sees the same events in the same order
    again, _ = feed_all(g, limit=13)
    assert [e["id"] for e in again] == ids
    for acct, got in by_account(seen).items():
        exts = [e["data"]["external_id"] for e in seen
                if e["account_id"] == acct]
        assert exts == [f"{acct}-{i}" for i in range(per_thread)]
        assert len(got) == per_thread


def test_webhook_url_needs_a_secret(make_grantd):
    g = make_grantd(config={"events": {"webhook_url": "http://127.0.0.1:9/x"}})
    err = g.serve_fails()
    assert "events.webhook_secret" in err
    g.write_config({"events": {"webhook_url": "http://127.0.0.1:9/x",
                               "webhook_secret": "s",
                               "webhook_events": ["grant.nope"]}})
    err = g.serve_fails()
    assert "events.webhook_events" in err


def test_gamepot_login_suspension_is_an_event(make_grantd, fake_gamepot):
    from test_gamepot_login import PLAYER, login_grantd, settled, start_login
    g = login_grantd(make_grantd, fake_gamepot)
    fake_gamepot.add_member("member-1")
    start_login(g, fake_gamepot, token="not-a-token-gamepot-issued")
    v = settled(g)
    assert v["account_suspended"] is True
    sus = [e for e in feed_all(g)[0] if e["type"] == "account.suspended"]
    assert len(sus) == 1
    assert sus[0]["account_id"] == PLAYER
    assert sus[0]["data"] == {"account_id": PLAYER, "state": "suspended",
                              "previous_state": "active",
                              "cause": "gamepot_login",
                              "validation_id": v["validation_id"]}


def test_a_revocation_is_a_grant_revoked_event(make_grantd):
    """Revoking a fulfilment writes grant.revoked after its grant.created,
    with the revocation as data; revoking it again writes nothing more."""
    g = ready(make_grantd())
    assert g.fulfill("player-1", "pg_starter", "t-rev").status_code == 200
    [rec] = [r for r in g.history("player-1") if r["external_id"] == "t-rev"]
    fid = rec["fulfillment_id"]
    path = f"/v1/fulfillments/{fid}/revoke"
    r = g.request("POST", path, key=g.partner_key, json={"reason": "refund"})
    assert r.status_code == 200, r.text
    again = g.request("POST", path, key=g.partner_key,
                      json={"reason": "refund"})
    assert again.status_code == 200 and again.json() == r.json()
    events, _ = feed_all(g)
    mine = [e for e in events if e["account_id"] == "player-1" and
            e["type"].startswith("grant.")]
    assert [e["type"] for e in mine] == ["grant.created", "grant.revoked"]
    assert mine[1]["data"] == r.json()
    assert mine[1]["data"]["removed"]["stackables"] == \
        [{"catalog_id": "gold", "amount": 100, "shortfall": 0}]


def test_kill_9_under_load_loses_no_event_and_sends_none_uncommitted(
        make_grantd):
    """Fulfilments under load, grantd killed with SIGKILL between commits
    and deliveries, then started again: every acknowledged grant has its
    event, every event the receiver got is in the feed (nothing was sent
    for a change that did not commit), and each is accepted once at
    least, in order per account."""
    rx = Receiver()
    cfg = webhook_config(rx.url)
    # a killed node's claims lapse after the lease (PostgreSQL)
    cfg["outbox"] = dict(cfg["outbox"], lease_ms=3000)
    g = ready(make_grantd(config=cfg))
    for a in ("p-0", "p-1", "p-2"):
        assert g.put_account(a).status_code == 201
    acked, stop = [], threading.Event()

    def load(w):
        import requests
        with requests.Session() as s:
            for i in range(100000):
                if stop.is_set():
                    return
                txn = f"k-{w}-{i}"
                try:
                    r = s.post(g.url("/v1/primegaming/fulfillment"),
                               headers={"Authorization":
                                        f"Bearer {g.prime_key}"},
                               json={"account_id": f"p-{w % 3}",
                                     "sku": "pg_gold_100",
                                     "transaction_id": txn}, timeout=10)
                except requests.RequestException:
                    return
                if r.status_code == 200:
                    acked.append(txn)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(6)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        g.kill9()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert len(acked) > 30, "the load did not get going"
        g.start()
        events, _ = feed_all(g)
        granted = {e["data"]["external_id"] for e in events
                   if e["type"] == "grant.created"}
        assert set(acked) <= granted            # none lost
        ids = {e["id"] for e in events}
        # at least once: a delivery cut off by the kill comes again, so
        # wait for every id, not for a count
        deadline = time.monotonic() + 60
        while set(rx.accepted_ids()) != ids and time.monotonic() < deadline:
            assert set(rx.accepted_ids()) <= ids   # none uncommitted
            time.sleep(0.05)
        assert set(rx.accepted_ids()) <= ids   # none for an uncommitted change
        assert set(rx.accepted_ids()) == ids   # each delivered
        order = {}
        for _, _, parsed in rx.accepted:
            order.setdefault(parsed["account_id"], []).append(parsed["id"])
        for account, got in order.items():
            firsts = list(dict.fromkeys(got))   # at least once: first arrivals
            assert firsts == sorted(firsts), account
    finally:
        rx.stop()


def test_a_list_of_webhooks_each_gets_its_types(make_grantd):
    """events.webhooks: each receiver gets the types it names (all when
    it names none), signed with its own secret; set with the flat keys
    too, start-up refuses."""
    grants, everything = Receiver(), Receiver()
    try:
        cfg = {"events": {"webhooks": [
            {"url": grants.url, "secret": SECRET,
             "events": ["grant.created"]},
            {"url": everything.url, "secret": SECRET}]},
            "outbox": FAST_OUTBOX}
        g = make_grantd(config=cfg)
        g.prime_key = g.create_key("prime", "fulfillment:primegaming")
        g.partner_key = g.create_key("backend", "partner")
        g.start()
        assert g.put_account("player-1").status_code == 201
        assert g.fulfill("player-1", "pg_gold_100", "t-l").status_code == 200
        assert g.put_account("player-1", "suspended").status_code == 200
        everything.wait_accepted(2)
        grants.wait_accepted(1)
        time.sleep(0.3)
        assert [a[2]["type"] for a in grants.accepted] == ["grant.created"]
        assert sorted(a[2]["type"] for a in everything.accepted) == \
            ["account.suspended", "grant.created"]
        for rx in (grants, everything):
            for headers, body, _ in rx.accepted:
                assert signature_ok(headers, body)
        g.stop()
        cfg["events"]["webhook_url"] = grants.url
        cfg["events"]["webhook_secret"] = SECRET
        g.write_config(cfg)
        err = g.serve_fails()
        assert "set events.webhooks or events.webhook_url, not both" in err
    finally:
        grants.stop()
        everything.stop()
