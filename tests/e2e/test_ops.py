"""Operations: health endpoints, the per-request JSON log line, SIGTERM
draining in-flight requests, 256 simultaneous keep-alive connections, the
listening line and the pid file."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import GRANTD

FULFILL = "/v1/primegaming/fulfillment"
REQUEST_FIELDS = {"time", "level", "event", "request_id", "method", "path", "status",
                  "duration_us", "credential", "credential_id", "account", "transaction"}
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def request_line(g, request_id, timeout=5):
    """The access-log line of one request (written just after the reply, so
    it is polled for). Fails unless there is exactly one."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [l for l in g.log_lines("request") if l.get("request_id") == request_id]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(lines) == 1, f"{len(lines)} log lines for request {request_id}"
    return lines[0]


def completed(g):
    """External ids of completed fulfilments, read from the database."""
    with g.db() as c:
        return {r[0] for r in c.execute(
            "SELECT external_id FROM fulfillments WHERE status='completed'")}


def fulfil_body(tid, account="player-1", sku="pg_gold_100"):
    return {"account_id": account, "sku": sku, "transaction_id": tid}


# ---- health ---------------------------------------------------------------------

@pytest.mark.parametrize("path,body", [("/healthz", {"status": "ok"}),
                                       ("/readyz", {"status": "ready"})])
def test_health_endpoints(grantd, path, body):
    r = requests.get(grantd.url(path), timeout=10)  # no credential needed
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == body
    assert r.headers["X-Request-Id"]
    r = requests.head(grantd.url(path), timeout=10)
    assert r.status_code == 200 and r.content == b""
    r = requests.post(grantd.url(path), timeout=10)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"


# ---- the request log --------------------------------------------------------------

def test_request_log_line_for_a_fulfilment(grantd):
    r = grantd.fulfill("player-1", "pg_gold_100", "t-log-1",
                       headers={"X-Request-Id": "ops-log-1"})
    assert r.status_code == 200
    assert r.headers["X-Request-Id"] == "ops-log-1"
    line = request_line(grantd, "ops-log-1")
    assert REQUEST_FIELDS <= set(line)
    assert TIME_RE.fullmatch(line["time"]), line["time"]
    assert line["level"] == "info"
    assert line["event"] == "request"
    assert line["method"] == "POST"
    assert line["path"] == FULFILL
    assert line["status"] == 200
    assert isinstance(line["duration_us"], int) and line["duration_us"] >= 0
    assert line["credential"] == "prime"
    assert line["credential_id"] == grantd.keys["prime"]["id"]
    assert line["account"] == "player-1"
    assert line["transaction"] == "t-log-1"


def test_request_log_line_for_a_failed_fulfilment(grantd):
    r = grantd.fulfill("nobody", "pg_gold_100", "t-log-2", headers={"X-Request-Id": "ops-log-2"})
    assert r.status_code == 400
    line = request_line(grantd, "ops-log-2")
    assert line["status"] == 400
    assert line["account"] == "nobody" and line["transaction"] == "t-log-2"


def test_request_log_lines_match_responses(grantd):
    """One line per request, whatever the outcome; its request_id is the
    X-Request-Id the caller got; the credential is the key's name or null."""
    partner_id = grantd.keys["backend"]["id"]
    prime_id = grantd.keys["prime"]["id"]
    cases = [
        # (method, path, key, status, credential, credential_id, account)
        ("GET", "/v1/accounts/player-1", grantd.partner_key, 200, "backend", partner_id, "player-1"),
        ("GET", "/v1/accounts/player-1/inventory", grantd.partner_key, 200, "backend", partner_id, "player-1"),
        ("GET", "/v1/accounts/ghost", grantd.partner_key, 404, "backend", partner_id, "ghost"),
        ("GET", "/v1/accounts/player-1", grantd.prime_key, 403, "prime", prime_id, None),
        ("GET", "/v1/accounts/player-1", None, 401, None, None, None),
        ("GET", "/v1/accounts/player-1", "gdk_bogus-token-value", 401, None, None, None),
        ("GET", "/healthz", None, 200, None, None, None),
        ("GET", "/no/such/route", grantd.partner_key, 404, None, None, None),
        ("DELETE", "/v1/accounts/player-1", grantd.partner_key, 405, None, None, None),
        ("POST", FULFILL, grantd.prime_key, 400, "prime", prime_id, None),  # empty body
    ]
    seen = set()
    for method, path, key, status, cred, cred_id, account in cases:
        r = grantd.request(method, path, key=key,
                           json={} if method == "POST" else None)
        assert r.status_code == status, (method, path, r.text)
        rid = r.headers["X-Request-Id"]
        assert rid and rid not in seen
        seen.add(rid)
        line = request_line(grantd, rid)
        assert REQUEST_FIELDS <= set(line)
        assert (line["method"], line["path"], line["status"]) == (method, path, status)
        assert line["credential"] == cred, (method, path)
        assert line["credential_id"] == cred_id, (method, path)
        # the handler names the account once it has checked the path
        assert line["account"] == account, (method, path)
        assert line["transaction"] is None
    # a generated request id is unique per request; the log has one line each
    assert len(seen) == len(cases)


def test_no_secret_in_the_logs(grantd):
    operator_key = grantd.create_key("ops", "operator")
    bogus = "gdk_" + "A" * 43
    assert grantd.fulfill("player-1", "pg_gold_100", "t-secret").status_code == 200
    grantd.request("GET", "/v1/accounts/player-1", key=grantd.partner_key)
    grantd.request("GET", "/v1/accounts/player-1", key=operator_key)
    grantd.request("GET", "/v1/accounts/player-1", key=bogus)
    requests.get(grantd.url("/v1/accounts/player-1"), timeout=10,
                 headers={"Authorization": "Basic " + grantd.partner_key})
    grantd.request("GET", "/healthz", headers={"X-Request-Id": "last-one"})
    request_line(grantd, "last-one")
    assert grantd.stop() == 0
    text = grantd.stderr_path.read_text() + grantd.stdout_path.read_text()
    secrets = [k["key"] for k in grantd.keys.values()] + [bogus]
    assert len(secrets) == 4
    for secret in secrets:
        assert secret not in text
        assert secret[4:] not in text  # not even without its prefix


def test_bad_request_id_is_replaced(grantd):
    for given in ("has space", "x" * 129, "tab\there"):
        r = grantd.request("GET", "/healthz", headers={"X-Request-Id": given})
        assert r.status_code == 200
        rid = r.headers["X-Request-Id"]
        assert rid != given and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{12}", rid), rid
        request_line(grantd, rid)
    r = grantd.request("GET", "/healthz", headers={"X-Request-Id": "y" * 128})
    assert r.headers["X-Request-Id"] == "y" * 128


# ---- SIGTERM ----------------------------------------------------------------------

def test_sigterm_finishes_a_request_in_flight(grantd):
    """A request whose body is still arriving when SIGTERM comes is
    finished, committed and answered; new connections are refused."""
    body = json.dumps(fulfil_body("t-drain")).encode()
    head = (f"POST {FULFILL} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {grantd.prime_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-Id: drain-1\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", grantd.port), timeout=10) as s:
        s.sendall(head + body[:10])
        time.sleep(0.2)  # let the server read the headers
        grantd.proc.send_signal(signal.SIGTERM)
        grantd.wait_log("shutting_down", timeout=5)
        assert grantd.proc.poll() is None, "exited with a request in flight"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", grantd.port), timeout=2).close()
        s.sendall(body[10:])
        reply = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in reply or not reply.endswith(b"{}"):
            assert time.monotonic() < deadline, reply
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 "), reply
    assert reply.endswith(b"\r\n\r\n{}")
    assert grantd.proc.wait(timeout=10) == 0
    assert grantd.stop() == 0
    assert completed(grantd) == {"t-drain"}
    events = [l["event"] for l in grantd.log_lines()]
    i = events.index("shutting_down")
    assert "stopped" in events[i:]
    assert request_line(grantd, "drain-1")["status"] == 200


def test_sigterm_under_load_loses_no_acknowledged_fulfilment(grantd):
    workers, per_worker_max = 6, 2000
    acked, refused, sent, lock = [], [], [], threading.Lock()
    stop_at = time.monotonic() + 20  # hard bound on every loop

    def worker(w):
        s = requests.Session()
        try:
            for i in range(per_worker_max):
                if time.monotonic() > stop_at:
                    return
                tid = f"w{w}-{i}"
                with lock:
                    sent.append(tid)
                try:
                    r = s.post(grantd.url(FULFILL), json=fulfil_body(tid), timeout=10,
                               headers={"Authorization": f"Bearer {grantd.prime_key}"})
                except requests.RequestException:
                    return  # the server has gone away: stop
                with lock:
                    if r.status_code == 200:
                        acked.append((tid, 200))
                    else:
                        refused.append((tid, r.status_code, r.json()["error"]["code"],
                                        r.headers.get("Connection")))
                        return  # told to go away: this connection is closing
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 60 and not refused and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 60, "the load never got going"
    grantd.proc.send_signal(signal.SIGTERM)
    rc = grantd.proc.wait(timeout=15)
    for t in threads:
        t.join(timeout=15)
        assert not t.is_alive()
    assert rc == 0
    grantd.stop()
    # Requests that arrived on open keep-alive connections after SIGTERM are
    # turned away (and only those): 503 ShuttingDown, Connection: close, and
    # nothing recorded for them.
    assert all(r[1:] == (503, "ShuttingDown", "close") for r in refused), refused
    acked = {tid for tid, _ in acked}
    done = completed(grantd)
    assert acked <= done, acked - done
    assert not done & {r[0] for r in refused}
    assert done <= set(sent)
    with grantd.db() as c:
        gold = c.execute("SELECT amount FROM inventory_stackables WHERE "
                         "account_id='player-1' AND catalog_id='gold'").fetchone()[0]
        assert c.execute("SELECT count(*) FROM fulfillments WHERE status!='completed'"
                         ).fetchone()[0] == 0
    assert gold == 100 * len(done)
    events = [l["event"] for l in grantd.log_lines()]
    assert "shutting_down" in events
    assert events[-1] == "stopped"
    assert "drain_timeout" not in events


def test_idle_connections_do_not_delay_shutdown(grantd):
    """Idle keep-alive connections and a request whose headers never
    finished are not in flight: SIGTERM exits at once."""
    sessions = [requests.Session() for _ in range(10)]
    try:
        for s in sessions:
            assert s.get(grantd.url("/healthz"), timeout=10).status_code == 200
        with socket.create_connection(("127.0.0.1", grantd.port), timeout=10) as half:
            half.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            time.sleep(0.1)
            t0 = time.monotonic()
            grantd.proc.send_signal(signal.SIGTERM)
            assert grantd.proc.wait(timeout=10) == 0
            assert time.monotonic() - t0 < 3
    finally:
        for s in sessions:
            s.close()
    assert grantd.stop() == 0
    assert grantd.log_lines()[-1]["event"] == "stopped"


def test_sigint_also_stops_cleanly(grantd):
    assert grantd.fulfill("player-1", "pg_gold_100", "t-int").status_code == 200
    assert grantd.stop(signal.SIGINT) == 0
    assert grantd.log_lines()[-1]["event"] == "stopped"


# ---- 256 keep-alive connections ------------------------------------------------

def open_sockets(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


@pytest.mark.parametrize("threads", [1, 2])
def test_256_concurrent_keep_alive_connections(make_grantd, threads):
    n, rounds = 256, 2
    # one client address: over the default of 64 per address
    g = make_grantd(config={"server": {"threads": threads,
                                       "max_connections_per_ip": n}})
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    g.start()
    assert g.put_account("player-1").status_code == 201
    peak = []
    barrier = threading.Barrier(n, timeout=30,
                                action=lambda: peak.append(open_sockets(g.proc.pid)))
    headers = {"Authorization": f"Bearer {g.prime_key}"}

    def client(i):
        codes = []
        with requests.Session() as s:
            for j in range(rounds):
                r = s.post(g.url(FULFILL), json=fulfil_body(f"c{i}-{j}"), headers=headers,
                           timeout=20)
                codes.append(r.status_code)
                if j == 0:
                    barrier.wait()  # every connection is open (and idle) at once
        return codes

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as ex:
        results = list(ex.map(client, range(n), timeout=60))
    elapsed = time.monotonic() - t0
    assert all(codes == [200] * rounds for codes in results)
    assert elapsed < 30
    # the server held all 256 client connections (plus its listening socket)
    assert peak and peak[0] >= n + 1, peak
    with g.db() as c:
        assert c.execute("SELECT count(*) FROM fulfillments WHERE status='completed'"
                         ).fetchone()[0] == n * rounds
        assert c.execute("SELECT count(*) FROM fulfillments").fetchone()[0] == n * rounds
    assert g.balance("player-1", "gold") == 100 * n * rounds
    assert g.stop() == 0


# ---- the listening line and the pid file ---------------------------------------------

@pytest.mark.parametrize("level", ["debug", "info", "warn", "error"])
def test_the_listening_line_is_written_at_every_level(make_grantd, level):
    g = make_grantd(config={"log": {"level": level}})
    g.start()
    [line] = g.log_lines("listening")
    assert line["port"] == g.port and line["port"] > 0
    assert line["address"] == f"127.0.0.1:{g.port}"
    assert line["listen"] == "127.0.0.1:0"
    assert line["pid"] == g.proc.pid
    assert requests.get(g.url("/healthz"), timeout=5).status_code == 200
    assert g.stop() == 0


def test_pid_file_is_written_once_listening_and_removed_at_exit(make_grantd, tmp_path):
    g = make_grantd()
    pid_file = tmp_path / "run" / "grantd.pid"
    pid_file.parent.mkdir()
    g.start(args=["--pid-file", str(pid_file)])
    assert pid_file.read_text() == f"{g.proc.pid}\n"
    assert not list(pid_file.parent.glob("*.tmp"))
    # a script can signal it: SIGHUP reloads the catalog
    os.kill(int(pid_file.read_text()), signal.SIGHUP)
    g.wait_log("catalog_reloaded")
    assert g.stop() == 0
    assert not pid_file.exists()


def test_pid_file_that_cannot_be_written_stops_start_up(make_grantd, tmp_path):
    g = make_grantd()
    bad = tmp_path / "missing-dir" / "grantd.pid"
    r = subprocess.run([GRANTD, "serve", "--config", str(g.config_path),
                        "--pid-file", str(bad)], capture_output=True, text=True,
                       timeout=15)
    assert r.returncode == 1
    assert f"grantd: --pid-file {bad}: cannot write: No such file or directory" in r.stderr


@pytest.mark.parametrize("args", [["migrate"], ["keys", "list"], ["audit"]])
def test_only_serve_takes_a_pid_file(make_grantd, tmp_path, args):
    g = make_grantd()
    r = subprocess.run([GRANTD, *args, "--config", str(g.config_path),
                        "--pid-file", str(tmp_path / "p")], capture_output=True,
                       text=True, timeout=15)
    assert r.returncode == 2, r.stderr
    assert "takes no --pid-file" in r.stderr
    assert not (tmp_path / "p").exists()
