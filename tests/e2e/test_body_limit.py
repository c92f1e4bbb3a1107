"""Bodies over server.max_body_bytes: every client reads the 413 JSON
error — those that send the whole body before reading the answer (Python
requests, most HTTP libraries), and those that wait for "100 Continue"
(curl) — and nothing is written."""
import json
import shutil
import socket
import subprocess
import time

import pytest
import requests

FULFILL = "/v1/primegaming/fulfillment"
LIMIT = 64 * 1024
SIZES = [LIMIT + 1, 1024 * 1024, 10 * 1024 * 1024]


def body_of(size):
    """A JSON document of exactly `size` bytes."""
    head = '{"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "t-big", "pad": "'
    return (head + "x" * (size - len(head) - 2) + '"}').encode()


def assert_413(status, headers, text):
    assert status == 413, text[:200]
    assert headers.get("Connection", "").lower() == "close", headers
    err = json.loads(text)["error"]
    assert err["code"] == "PayloadTooLarge"
    assert str(LIMIT) in err["message"]


def request_lines(g, status):
    return [l for l in g.log_lines("request") if l.get("status") == status]


def wait_until(fn, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.mark.parametrize("size", SIZES)
def test_requests_without_expect_reads_the_413(grantd, size):
    before = grantd.snapshot()
    body = body_of(size)
    assert len(body) == size
    r = requests.post(grantd.url(FULFILL), data=body, timeout=30,
                      headers={"Authorization": f"Bearer {grantd.prime_key}",
                               "Content-Type": "application/json"})
    assert "Expect" not in r.request.headers
    assert_413(r.status_code, r.headers, r.text)
    assert grantd.snapshot() == before
    big = wait_until(lambda: request_lines(grantd, 413))
    assert not any(l.get("aborted") for l in big), big
    assert grantd.fulfill("player-1", "pg_gold_100", "t-after").status_code == 200


@pytest.mark.parametrize("size", [1024 * 1024, 10 * 1024 * 1024])
def test_partner_route_reads_the_413(grantd, size):
    r = requests.put(grantd.url("/v1/accounts/player-2"), data=body_of(size), timeout=30,
                     headers={"Authorization": f"Bearer {grantd.partner_key}",
                              "Content-Type": "application/json"})
    assert_413(r.status_code, r.headers, r.text)
    assert grantd.request("GET", "/v1/accounts/player-2",
                          key=grantd.partner_key).status_code == 404


def test_chunked_body_without_length_reads_the_413(grantd):
    before = grantd.snapshot()

    def gen():
        for _ in range(160):
            yield b"x" * 65536       # 10 MiB in all, no Content-Length
    r = requests.post(grantd.url(FULFILL), data=gen(), timeout=30,
                      headers={"Authorization": f"Bearer {grantd.prime_key}",
                               "Content-Type": "application/json"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert_413(r.status_code, r.headers, r.text)
    assert grantd.snapshot() == before


def test_unauthenticated_big_body_reads_the_401(grantd):
    r = requests.post(grantd.url(FULFILL), data=body_of(10 * 1024 * 1024), timeout=30,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "Unauthorized"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("size", SIZES)
def test_curl_with_expect_reads_the_413_without_sending_the_body(grantd, tmp_path, size):
    path = tmp_path / "body.json"
    path.write_bytes(body_of(size))
    out = subprocess.run(
        ["curl", "-sS", "-i", "-X", "POST", grantd.url(FULFILL),
         "-H", f"Authorization: Bearer {grantd.prime_key}",
         "-H", "Content-Type: application/json", "-H", "Expect: 100-continue",
         "--data-binary", f"@{path}", "-w", "\nuploaded=%{size_upload}\n"],
        capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    stdout = out.stdout.decode()
    head, _, rest = stdout.partition("\r\n\r\n")
    body, _, trailer = rest.rpartition("\nuploaded=")
    assert head.startswith("HTTP/1.1 413"), stdout[:300]
    assert "100 Continue" not in head
    headers = dict(l.split(": ", 1) for l in head.split("\r\n")[1:])
    assert_413(413, headers, body)
    assert int(trailer) == 0  # the answer came before the body was asked for


def test_declared_length_beyond_what_is_drained_is_answered_at_once(grantd):
    """A body larger than grantd would ever read and discard gets its 413
    before it is sent, without Expect."""
    head = (f"POST {FULFILL} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {grantd.prime_key}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {200 * 1024 * 1024}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", grantd.port), timeout=10) as s:
        s.sendall(head.encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert b"PayloadTooLarge" in reply
