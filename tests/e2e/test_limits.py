"""Limits: the per-credential token bucket (429 + Retry-After, and a throttled
request changes nothing), and the connection-level protections — per-IP and
total connection limits, the idle timeout against slow-loris clients, and
the header size limit."""
import errno
import http.client
import re
import select
import socket
import time

import pytest
import requests

from conftest import ready
from oauth_util import (
    FULFILL, access_token, assert_no_store,
    fulfill_with, oauth_ready, token_request, wait_until)

CC = {"grant_type": "client_credentials"}


def limited(make_grantd, per_second=5, burst=5, name="g", env=None, **config):
    g = make_grantd(name, config={"auth": {"rate_limit": {"per_second": per_second,
                                                          "burst": burst}}, **config},
                    env=env)
    return ready(g, operator=True)


def retry_after(r):
    v = r.headers.get("Retry-After")
    assert v is not None and re.fullmatch(r"[0-9]+", v), dict(r.headers)
    assert int(v) >= 1, v
    return int(v)


def fulfilment_count(g, tid):
    with g.db() as c:
        return c.execute("SELECT count(*) FROM fulfillments WHERE source = 'primegaming'"
                         " AND external_id = ?", (tid,)).fetchone()[0]


def metric(g, name, **labels):
    r = g.request("GET", "/metrics", key=g.ops_key)
    assert r.status_code == 200, r.text
    total = 0
    found = False
    for line in r.text.splitlines():
        if not line.startswith(name + "{"):
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name):line.rindex("}") + 1]))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else 0


# ---- the token bucket --------------------------------------------------------------------

def test_burst_over_the_limit_is_throttled_and_changes_nothing(make_grantd):
    g = limited(make_grantd, per_second=5, burst=5)
    s = requests.Session()
    results = []
    t0 = time.monotonic()
    for i in range(20):
        tid = f"burst-{i}"
        r = s.post(g.url(FULFILL), timeout=10,
                   headers={"Authorization": f"Bearer {g.prime_key}"},
                   json={"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": tid})
        results.append((tid, r))
    elapsed = time.monotonic() - t0
    s.close()
    ok = [tid for tid, r in results if r.status_code == 200]
    throttled = [(tid, r) for tid, r in results if r.status_code == 429]
    assert len(ok) + len(throttled) == 20, [(t, r.status_code, r.text) for t, r in results]
    # the burst is served, then the bucket refills at 5 per second
    assert [tid for tid, _ in results[:5]] == ok[:5], [r.status_code for _, r in results]
    assert 5 <= len(ok) <= 5 + int(5 * elapsed) + 1, (len(ok), elapsed)
    assert len(throttled) >= 20 - (5 + int(5 * elapsed) + 1)
    for tid, r in throttled:
        assert retry_after(r) <= 60
        assert r.headers["Content-Type"] == "application/json"
        assert r.json() == {"error": {"code": "RequestThrottled",
                                      "message": f"{tid} has been throttled."}}
    # no throttled request left a trace; every served one is granted once
    for tid, _ in throttled:
        assert fulfilment_count(g, tid) == 0, tid
    for tid in ok:
        assert fulfilment_count(g, tid) == 1, tid
    assert g.balance("player-1", "gold") == 100 * len(ok)
    assert {rec["external_id"] for rec in g.history("player-1")} == set(ok)
    # /metrics counts the 429s on the route
    # (counted when a request completes, just after its answer: polled)
    wait_until(lambda: metric(g, "grantd_http_requests_total", route="primegaming.fulfill",
                              status="429") == len(throttled), 3,
               what=f"{len(throttled)} 429s counted in /metrics")
    # after waiting as told, the credential works again, and the throttled
    # transaction is granted now
    time.sleep(min(retry_after(throttled[-1][1]), 3) + 0.2)
    tid = throttled[-1][0]
    r = g.fulfill("player-1", "pg_gold_100", tid)
    assert r.status_code == 200, r.text
    assert fulfilment_count(g, tid) == 1
    assert g.balance("player-1", "gold") == 100 * (len(ok) + 1)


def exhaust(g, send, limit=40):
    """Calls send(i) until it answers 429 (at most `limit` times); returns the
    429 answer."""
    for i in range(limit):
        r = send(i)
        if r.status_code == 429:
            return r
        assert r.status_code < 300, (r.status_code, r.text)
    raise AssertionError(f"no 429 after {limit} requests")


def test_throttled_request_is_not_acted_on(make_grantd):
    g = limited(make_grantd, per_second=1, burst=3)
    exhaust(g, lambda i: g.fulfill("player-1", "pg_gold_100", f"pre-{i}"))
    before = g.snapshot()
    # a failed attempt (no such account) would be recorded if it were handled
    r = g.fulfill("nobody", "pg_gold_100", "thr-nobody")
    assert r.status_code == 429
    assert r.json()["error"] == {"code": "RequestThrottled",
                                 "message": "thr-nobody has been throttled."}
    # a body that does not parse: the message names "request"
    r = g.request("POST", FULFILL, key=g.prime_key, data="{not json",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 429
    assert r.json()["error"] == {"code": "RequestThrottled",
                                 "message": "request has been throttled."}
    retry_after(r)
    assert g.snapshot() == before
    assert fulfilment_count(g, "thr-nobody") == 0


def test_partner_route_over_the_limit(make_grantd):
    g = limited(make_grantd, per_second=1, burst=4)
    r = exhaust(g, lambda i: g.request("GET", "/v1/accounts/player-1", key=g.partner_key))
    assert r.status_code == 429
    retry_after(r)
    err = r.json()["error"]
    assert err["code"] == "RequestThrottled"
    assert err["message"].startswith(
        f'credential "backend" ({g.keys["backend"]["id"]}) is over its rate limit'), err
    # a throttled write changes nothing
    before = g.snapshot()
    r = g.put_account("never-made")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RequestThrottled"
    retry_after(r)
    assert g.snapshot() == before
    wait_until(lambda: metric(g, "grantd_http_requests_total", route="accounts.get",
                              status="429") >= 1, 3, what="429 counted in /metrics")


def test_separate_credentials_have_separate_buckets(make_grantd):
    g = limited(make_grantd, per_second=1, burst=4)
    other = g.create_key("prime-2", "fulfillment:primegaming")
    time.sleep(1.2)  # the credential cache reloads every second
    exhaust(g, lambda i: g.fulfill("player-1", "pg_gold_100", f"a-{i}"))
    # the other Prime Gaming key and the partner key are untouched
    for i in range(4):
        r = g.fulfill("player-1", "pg_gold_100", f"b-{i}", key=other)
        assert r.status_code == 200, (i, r.text)
    assert g.request("GET", "/v1/accounts/player-1", key=g.partner_key).status_code == 200
    # and the first key is still throttled
    assert g.fulfill("player-1", "pg_gold_100", "a-late").status_code == 429


def test_unauthenticated_routes_are_not_throttled(make_grantd):
    g = limited(make_grantd, per_second=1, burst=1)
    s = requests.Session()
    for _ in range(30):
        assert s.get(g.url("/healthz"), timeout=10).status_code == 200
    s.close()


def test_zero_per_second_is_no_limit(make_grantd):
    g = limited(make_grantd, per_second=0, burst=1)
    s = requests.Session()
    for i in range(30):
        r = s.post(g.url(FULFILL), timeout=10,
                   headers={"Authorization": f"Bearer {g.prime_key}"},
                   json={"account_id": "player-1", "sku": "pg_gold_100",
                         "transaction_id": f"nolimit-{i}"})
        assert r.status_code == 200, (i, r.status_code, r.text)
    s.close()


def test_rate_limit_from_the_environment(make_grantd):
    g = make_grantd(env={"GRANTD_AUTH_RATE_LIMIT_PER_SECOND": "1",
                         "GRANTD_AUTH_RATE_LIMIT_BURST": "3"})
    ready(g)
    r = exhaust(g, lambda i: g.fulfill("player-1", "pg_gold_100", f"env-{i}"), limit=8)
    retry_after(r)
    assert len(g.history("player-1")) <= 4


def test_oauth_client_bucket_covers_token_endpoint_and_tokens(make_grantd):
    g = oauth_ready(make_grantd, auth={"rate_limit": {"per_second": 1, "burst": 3}})
    c = g.clients["prime-oauth"]
    token = access_token(g, c)  # one from the client's bucket
    served = 0
    r = None
    for i in range(10):
        r = fulfill_with(g, token, "player-1", "pg_gold_100", f"oc-{i}")
        if r.status_code == 429:
            break
        assert r.status_code == 200, r.text
        served += 1
    assert r.status_code == 429
    assert served <= 3, served
    assert r.json()["error"] == {"code": "RequestThrottled",
                                 "message": f"oc-{served} has been throttled."}
    retry_after(r)
    assert fulfilment_count(g, f"oc-{served}") == 0
    # the token endpoint shares the client's bucket
    r = token_request(g, CC, auth=(c["client_id"], c["client_secret"]))
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "temporarily_unavailable"
    assert isinstance(r.json()["error_description"], str)
    assert "access_token" not in r.json()
    retry_after(r)
    assert_no_store(r)
    # other credentials are not affected
    other = g.clients["backend-oauth"]
    assert g.request("GET", "/v1/accounts/player-1",
                     key=access_token(g, other)).status_code == 200
    assert g.fulfill("player-1", "pg_gold_100", "oc-key").status_code == 200


def test_token_endpoint_over_the_limit(make_grantd):
    g = oauth_ready(make_grantd, auth={"rate_limit": {"per_second": 1, "burst": 2}})
    c = g.clients["backend-oauth"]
    r = exhaust(g, lambda i: token_request(g, CC, auth=(c["client_id"], c["client_secret"])),
                limit=8)
    assert r.json()["error"] == "temporarily_unavailable"
    assert_no_store(r)
    wait = retry_after(r)
    time.sleep(min(wait, 3) + 0.2)
    assert token_request(g, CC, auth=(c["client_id"], c["client_secret"])).status_code == 200


# ---- connections ------------------------------------------------------------------------------

PARTIAL = (b"POST /v1/primegaming/fulfillment HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: appl")


def open_partial(port, n, source="127.0.0.1"):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.settimeout(5)
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            try:
                s.sendall(PARTIAL)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed by the server already
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def is_closed(s):
    """True if the server has closed s (EOF or reset); never blocks."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        data = s.recv(4096, socket.MSG_PEEK)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except OSError as e:
        return e.errno in (errno.ECONNRESET, errno.EPIPE)
    if data == b"":
        return True
    # the server answered something (e.g. an error): drain it, then look again
    try:
        data = s.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return True
    return data == b""


def served_from(port, source, path="/healthz", timeout=3, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        t0 = time.monotonic()
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r.status, body, time.monotonic() - t0
    finally:
        conn.close()


def test_slow_loris_cannot_hold_the_server(make_grantd):
    timeout_s = 3
    g = ready(make_grantd(config={"server": {"max_connections_per_ip": 32,
                                             "connection_timeout_seconds": timeout_s}}),
              operator=True)
    time.sleep(0.3)  # the harness's own connections are gone
    socks = open_partial(g.port, 100)
    t_sent = time.monotonic()
    try:
        # a normal client from another address is served at once, repeatedly
        for _ in range(3):
            status, body, took = served_from(g.port, "127.0.0.2")
            assert status == 200 and took < 1.0, (status, body, took)
        conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=3,
                                          source_address=("127.0.0.2", 0))
        conn.request("POST", FULFILL, body=b'{"account_id": "player-1", "sku": "pg_gold_100",'
                     b' "transaction_id": "loris-1"}',
                     headers={"Authorization": f"Bearer {g.prime_key}",
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 200, r.read()
        r.read()
        conn.close()
        # the connections over the per-IP limit were closed at once; the
        # others are held only until the idle timeout
        time.sleep(0.5)
        closed = [is_closed(s) for s in socks]
        held = closed.count(False)
        assert 20 <= held <= 32, held
        assert closed.count(True) >= 68, closed.count(True)
        assert time.monotonic() - t_sent < timeout_s - 0.5
        # once the held ones time out, every half-sent connection is closed
        deadline = t_sent + timeout_s + 5
        while time.monotonic() < deadline and not all(is_closed(s) for s in socks):
            time.sleep(0.2)
        still = sum(not is_closed(s) for s in socks)
        assert still == 0, f"{still} half-sent connections still open after " \
                           f"{time.monotonic() - t_sent:.1f}s"
        assert time.monotonic() - t_sent >= timeout_s - 1.0
    finally:
        for s in socks:
            s.close()
    # and 127.0.0.1 is served again
    status, _, _ = served_from(g.port, "127.0.0.1")
    assert status == 200
    assert g.connections_closed("per_ip_limit") >= 68
    assert g.fulfill("player-1", "pg_gold_100", "loris-2").status_code == 200
    assert g.proc.poll() is None


def test_idle_timeout_is_an_inactivity_timeout(make_grantd):
    """A complete keep-alive connection left idle is closed after the timeout."""
    g = ready(make_grantd(config={"server": {"connection_timeout_seconds": 1}}))
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data
        t0 = time.monotonic()
        s.settimeout(6)
        try:
            rest = s.recv(4096)
        except ConnectionResetError:
            rest = b""
        assert rest == b""
        took = time.monotonic() - t0
        assert 0.5 <= took <= 4, took
    finally:
        s.close()


def test_total_connection_limit(make_grantd):
    """Near server.max_connections, a new connection is served at once, and
    the held connection idle longest (none has completed a request) is
    closed to keep room; a client that was served keeps its connection
    while idle ones are closed."""
    limit = 8     # 4 are kept free (1/16 of the table, at least 4)
    g = ready(make_grantd(config={"server": {"max_connections": limit,
                                             "max_connections_per_ip": 0,
                                             "connection_timeout_seconds": 30}}))
    time.sleep(0.3)
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    served = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    served.sendall(get)
    assert served.recv(4096).startswith(b"HTTP/1.1 200")
    socks = []
    try:
        for _ in range(3):
            socks += open_partial(g.port, 1)
            time.sleep(0.1)
        time.sleep(0.3)
        assert not any(is_closed(s) for s in socks), "closed under the limit"
        fresh = send_raw(g.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                         b"Connection: close\r\n\r\n")
        assert fresh.startswith(b"HTTP/1.1 200"), fresh
        time.sleep(0.3)
        # the oldest partial connection made room; the rest, and the
        # served one, are open
        assert [is_closed(s) for s in socks] == [True, False, False]
        served.sendall(get)
        assert served.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for s in socks:
            s.close()
        served.close()
    assert g.proc.poll() is None


def send_raw(port, data, timeout=5):
    """Sends data on a fresh connection and returns whatever comes back
    before the server closes (b"" if it reset without an answer)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got:
                head, _, body = got.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    finally:
        s.close()
    return got


@pytest.mark.parametrize("size", [6000, 100_000])
def test_huge_header_is_refused_and_the_server_keeps_serving(make_grantd, size):
    g = ready(make_grantd(config={"server": {"max_header_bytes": 4096}}))
    req = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size +
           b"\r\n\r\n")
    got = send_raw(g.port, req)
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", got)
    assert m, f"no HTTP answer to a {size}-byte header: {got[:200]!r}"
    assert int(m.group(1)) in (400, 413, 431), got[:200]
    # a modest header is fine, and the server goes on serving
    got = send_raw(g.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Small: " +
                   b"a" * 1000 + b"\r\nConnection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200"), got[:200]
    assert g.fulfill("player-1", "pg_gold_100", f"big-{size}").status_code == 200
    assert g.proc.poll() is None


def test_many_headers_are_refused(make_grantd):
    g = ready(make_grantd(config={"server": {"max_header_bytes": 4096}}))
    hdrs = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(400))
    got = send_raw(g.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + hdrs + b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", got)
    assert m and int(m.group(1)) in (400, 413, 431), got[:200]
    assert requests.get(g.url("/healthz"), timeout=5).status_code == 200
