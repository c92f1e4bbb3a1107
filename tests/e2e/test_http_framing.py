"""HTTP/1.1 framing under hostile input, from a raw socket: every ambiguous
or malformed request is refused with grantd's JSON error (or, for what is
not HTTP/1.x at all, the connection is closed), nothing is written, no
bytes after a refused request are read as another request, and a normal
client is still served afterwards."""
import json
import socket
import time

import pytest
import requests

pytestmark = pytest.mark.sqlite_only  # the HTTP layer, whatever the store

FULFILL = "/v1/primegaming/fulfillment"
MAX_HEADER_BYTES = 16384


# ---- a raw HTTP/1.1 client ----------------------------------------------------

def connect(g):
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s, limit_s=5.0):
    """Everything the server sends until it closes the connection or stays
    silent for 0.5 s after answering (or limit_s passes)."""
    data = b""
    deadline = time.monotonic() + limit_s
    s.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if data:
                return data, False
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def responses(data):
    """Splits raw bytes into (status, headers, body) triples, trusting
    Content-Length (grantd always sends it)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"truncated response: {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def exchange(g, raw, limit_s=5.0):
    """Sends raw bytes on a new connection; returns (responses, closed)."""
    s = connect(g)
    try:
        s.sendall(raw)
        data, closed = read_all(s, limit_s)
    finally:
        s.close()
    return responses(data), closed


def request_bytes(method, target, headers, body=b"", version="HTTP/1.1"):
    head = f"{method} ".encode() + target + f" {version}\r\n".encode()
    for k, v in headers:
        head += k + b": " + v + b"\r\n" if isinstance(k, bytes) else \
            f"{k}: ".encode() + (v if isinstance(v, bytes) else v.encode()) + \
            b"\r\n"
    return head + b"\r\n" + body


def fulfil_body(txn="t-raw"):
    return json.dumps({"account_id": "player-1", "sku": "pg_gold_100",
                       "transaction_id": txn}).encode()


def fulfil_headers(g, body, extra=()):
    return [("Host", "127.0.0.1"), ("Authorization", f"Bearer {g.prime_key}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))), *extra]


def assert_json_error(resp, status, code=None):
    st, headers, body = resp
    assert st == status, (st, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), \
        headers
    err = json.loads(body)["error"]
    assert err["code"] and err["message"], err
    if code:
        assert err["code"] == code, err
    return err


def assert_unharmed(g, before):
    """Nothing was written, and a normal client is served."""
    assert g.snapshot() == before
    r = requests.get(g.url("/healthz"), timeout=5)
    assert r.status_code == 200
    assert g.fulfill("player-1", "pg_gold_100", "t-normal").status_code == 200


@pytest.fixture
def g(grantd):
    return grantd


# ---- bytes that must never reach a handler ------------------------------------

def test_nul_in_path_is_400(g):
    before = g.snapshot()
    body = fulfil_body()
    got, closed = exchange(g, request_bytes(
        "POST", FULFILL.encode() + b"\x00.css", fulfil_headers(g, body), body))
    assert len(got) == 1
    assert_json_error(got[0], 400)
    assert_unharmed(g, before)


@pytest.mark.parametrize("header", ["Authorization", "Content-Type", "X-Note"])
def test_nul_in_header_value_is_400(g, header):
    before = g.snapshot()
    body = fulfil_body()
    headers = [(k, (v.encode() + b"\x00junk") if k == header else v)
               for k, v in fulfil_headers(g, body)]
    if header == "X-Note":
        headers.append(("X-Note", b"a\x00b"))
    got, _ = exchange(g, request_bytes("POST", FULFILL.encode(), headers, body))
    assert len(got) == 1
    assert_json_error(got[0], 400)
    assert_unharmed(g, before)


def test_control_bytes_in_path_are_400(g):
    before = g.snapshot()
    for bad in (b"\x01", b"\x7f", b"\x1b[2J"):
        got, _ = exchange(g, b"GET /healthz" + bad + b" HTTP/1.1\r\n"
                          b"Host: x\r\n\r\n")
        assert len(got) == 1, bad
        assert_json_error(got[0], 400)
    assert_unharmed(g, before)


# ---- message length: Content-Length and Transfer-Encoding ---------------------

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def test_two_different_content_lengths_are_400_and_close(g):
    before = g.snapshot()
    body = fulfil_body()
    headers = fulfil_headers(g, body) + [("Content-Length", "0")]
    got, closed = exchange(g, request_bytes("POST", FULFILL.encode(), headers,
                                            body + SMUGGLED))
    assert len(got) == 1, [r[0] for r in got]   # the smuggled GET unanswered
    assert_json_error(got[0], 400)
    assert closed
    assert_unharmed(g, before)


def test_repeated_equal_content_lengths_are_400(g):
    before = g.snapshot()
    body = fulfil_body()
    headers = fulfil_headers(g, body) + [("Content-Length", str(len(body)))]
    got, closed = exchange(g, request_bytes("POST", FULFILL.encode(), headers,
                                            body))
    assert len(got) == 1
    assert_json_error(got[0], 400)
    assert closed
    assert_unharmed(g, before)


def test_content_length_with_chunked_does_not_keep_the_connection(g):
    before = g.snapshot()
    body = fulfil_body()
    chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    headers = fulfil_headers(g, body) + [("Transfer-Encoding", "chunked")]
    got, closed = exchange(g, request_bytes("POST", FULFILL.encode(), headers,
                                            chunked + SMUGGLED))
    assert len(got) == 1, [r[0] for r in got]
    assert_json_error(got[0], 400)
    assert closed
    assert_unharmed(g, before)


@pytest.mark.parametrize("value", ["-1", "0x40", "+76", "76, 76", "7 6",
                                   "1" * 20, "", "abc"])
def test_malformed_content_length_is_one_json_400(g, value):
    before = g.snapshot()
    body = fulfil_body()
    headers = [(k, value if k == "Content-Length" else v)
               for k, v in fulfil_headers(g, body)]
    got, closed = exchange(g, request_bytes("POST", FULFILL.encode(), headers,
                                            body))
    assert len(got) == 1, [r[0] for r in got]
    assert_json_error(got[0], 400)
    assert_unharmed(g, before)


def test_content_length_with_trailing_space_is_its_number(g):
    """Whitespace around a field value is not part of it (RFC 9110 5.5)."""
    body = fulfil_body("t-cl-space")
    headers = [(k, v + " " if k == "Content-Length" else v)
               for k, v in fulfil_headers(g, body)]
    got, _ = exchange(g, request_bytes("POST", FULFILL.encode(), headers,
                                       body))
    assert [r[0] for r in got] == [200]


@pytest.mark.parametrize("coding", ["identity", "gzip, chunked", "gzip",
                                    "chunked, chunked", "x"])
def test_unknown_transfer_coding_is_501_at_once(g, coding):
    before = g.snapshot()
    body = fulfil_body()
    headers = [(k, v) for k, v in fulfil_headers(g, body)
               if k != "Content-Length"] + [("Transfer-Encoding", coding)]
    t0 = time.monotonic()
    got, closed = exchange(g, request_bytes("POST", FULFILL.encode(), headers,
                                            body), limit_s=3)
    assert time.monotonic() - t0 < 2
    assert len(got) == 1
    assert_json_error(got[0], 501)
    assert closed
    assert_unharmed(g, before)


def test_chunked_body_is_accepted(g):
    body = fulfil_body("t-chunked")
    chunked = b"10\r\n" + body[:16] + b"\r\n" + \
        b"%x\r\n" % (len(body) - 16) + body[16:] + b"\r\n0\r\n\r\n"
    headers = [(k, v) for k, v in fulfil_headers(g, body)
               if k != "Content-Length"] + [("Transfer-Encoding", "chunked")]
    got, _ = exchange(g, request_bytes("POST", FULFILL.encode(), headers,
                                       chunked))
    assert [r[0] for r in got] == [200]
    assert g.balance("player-1", "gold") == 100


@pytest.mark.parametrize("size", ["ffffffffffffffffffff",
                                  "7fffffffffffffff",
                                  "100000000",
                                  "zz", "-1"])
def test_huge_or_bad_chunk_size_is_refused(g, size):
    before = g.snapshot()
    headers = [("Host", "x"), ("Authorization", f"Bearer {g.prime_key}"),
               ("Content-Type", "application/json"),
               ("Transfer-Encoding", "chunked")]
    got, closed = exchange(g, request_bytes(
        "POST", FULFILL.encode(), headers, size.encode() + b"\r\n{}"),
        limit_s=3)
    assert len(got) == 1
    assert got[0][0] in (400, 413), got[0][:2]
    assert_json_error(got[0], got[0][0])
    assert closed
    assert_unharmed(g, before)


# ---- headers ----------------------------------------------------------------

def test_two_authorization_headers_are_400(g):
    before = g.snapshot()
    body = fulfil_body()
    headers = fulfil_headers(g, body) + [("Authorization", "Bearer other")]
    got, _ = exchange(g, request_bytes("POST", FULFILL.encode(), headers, body))
    assert len(got) == 1
    err = assert_json_error(got[0], 400)
    assert "Authorization" in err["message"]
    assert_unharmed(g, before)


def test_header_block_over_the_limit_is_json_431(g):
    before = g.snapshot()
    pad = "a" * (MAX_HEADER_BYTES + 100)
    got, _ = exchange(g, request_bytes("GET", b"/healthz",
                                       [("Host", "x"), ("X-Pad", pad)]))
    assert len(got) == 1
    assert_json_error(got[0], 431)
    assert_unharmed(g, before)


@pytest.mark.parametrize("under", [64, 512, 2048])
def test_header_block_just_under_the_limit_is_answered(g, under):
    """Just under server.max_header_bytes: served, or a JSON 431, never a
    silent close."""
    pad = "a" * (MAX_HEADER_BYTES - under)
    got, _ = exchange(g, request_bytes("GET", b"/healthz",
                                       [("Host", "x"), ("X-Pad", pad)]))
    assert len(got) == 1
    if got[0][0] != 200:
        assert_json_error(got[0], 431)


def test_long_request_target_is_json_414_or_431(g):
    before = g.snapshot()
    got, _ = exchange(g, request_bytes(
        "GET", b"/healthz?" + b"a" * (MAX_HEADER_BYTES + 10), [("Host", "x")]))
    assert len(got) == 1
    assert got[0][0] in (414, 431)
    assert_json_error(got[0], got[0][0])
    assert_unharmed(g, before)


def test_header_without_colon_is_400(g):
    got, _ = exchange(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n")
    assert len(got) == 1
    assert_json_error(got[0], 400)


def test_whitespace_before_colon_is_400(g):
    got, _ = exchange(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization : Bearer x\r\n\r\n")
    assert len(got) == 1
    assert_json_error(got[0], 400)


def test_obsolete_line_folding_is_refused_or_unfolded(g):
    """RFC 9112 5.2: refuse with 400, or replace the fold with a space."""
    got, _ = exchange(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n"
                      b" folded\r\n\r\n")
    assert len(got) == 1
    if got[0][0] != 200:
        assert_json_error(got[0], 400)


# ---- request targets and versions ---------------------------------------------

def test_absolute_form_target_is_accepted(g):
    got, _ = exchange(g, b"GET http://127.0.0.1/healthz HTTP/1.1\r\n"
                      b"Host: 127.0.0.1\r\n\r\n")
    assert [r[0] for r in got] == [200]


def test_absolute_form_fulfilment_is_granted(g):
    body = fulfil_body("t-absolute")
    got, _ = exchange(g, request_bytes(
        "POST", f"http://127.0.0.1:{g.port}{FULFILL}".encode(),
        fulfil_headers(g, body), body))
    assert [r[0] for r in got] == [200]
    assert g.balance("player-1", "gold") == 100


@pytest.mark.parametrize("version", ["HTTP/2.0",
                                     "HTTP/3.0", "HTTP/1.2",
                                     "HTTP/9.9"])
def test_unsupported_version_is_json_505(g, version):
    got, _ = exchange(g, f"GET /healthz {version}\r\nHost: x\r\n\r\n".encode())
    assert len(got) == 1
    assert_json_error(got[0], 505)


@pytest.mark.parametrize("line", [b"GET /healthz HTTP/1.x", b"GET /healthz HTTP",
                                  b"GET /healthz http/1.1"])
def test_malformed_request_line_is_400(g, line):
    got, _ = exchange(g, line + b"\r\nHost: x\r\n\r\n")
    assert len(got) == 1, got
    assert got[0][0] in (400, 505)
    assert_json_error(got[0], got[0][0])


@pytest.mark.parametrize("line", [b"GET  /healthz HTTP/1.1",
                                  b"GET /healthz  HTTP/1.1"])
def test_request_line_with_doubled_spaces(g, line):
    """RFC 9112 3: a server may split the request line on runs of
    whitespace; if it does not, the answer is a JSON 400."""
    got, _ = exchange(g, line + b"\r\nHost: x\r\n\r\n")
    assert len(got) == 1, got
    if got[0][0] != 200:
        assert_json_error(got[0], 400)


def test_http09_request_is_refused(g):
    before = g.snapshot()
    got, closed = exchange(g, b"GET /healthz\r\n\r\n")
    assert closed
    assert all(r[0] >= 400 for r in got)
    for r in got:
        assert_json_error(r, r[0])
    assert_unharmed(g, before)


def test_http2_preface_is_refused_and_closed(g):
    before = g.snapshot()
    got, closed = exchange(g, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                           b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    assert closed
    assert len(got) <= 1
    for r in got:
        assert r[0] in (400, 505)
        assert_json_error(r, r[0])
    assert_unharmed(g, before)


def test_http11_without_host_is_400(g):
    got, _ = exchange(g, b"GET /healthz HTTP/1.1\r\n\r\n")
    assert len(got) == 1
    assert_json_error(got[0], 400)


# ---- truncation and pipelining --------------------------------------------------

@pytest.mark.parametrize("cut", ["request-line", "headers", "body"])
def test_truncated_request_grants_nothing(g, cut):
    before = g.snapshot()
    body = fulfil_body("t-truncated")
    raw = request_bytes("POST", FULFILL.encode(), fulfil_headers(g, body), body)
    at = {"request-line": 10, "headers": raw.index(b"Content-Type"),
          "body": len(raw) - 5}[cut]
    s = connect(g)
    s.sendall(raw[:at])
    s.shutdown(socket.SHUT_WR)
    data, _ = read_all(s, 3)
    s.close()
    for r in responses(data):
        assert r[0] == 400
        assert_json_error(r, 400)
    assert_unharmed(g, before)


def test_pipelined_requests_are_answered_in_order(g):
    bodies = [fulfil_body(f"t-pipe-{i}") for i in range(3)]
    raw = b"".join(request_bytes("POST", FULFILL.encode(),
                                 fulfil_headers(g, b), b) for b in bodies)
    raw += b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    got, _ = exchange(g, raw)
    assert [r[0] for r in got] == [200, 200, 200, 200]
    assert json.loads(got[3][2]) == {"status": "ok"}
    assert g.balance("player-1", "gold") == 300


def test_bad_request_in_a_pipeline_ends_it(g):
    before = g.snapshot()
    body = fulfil_body("t-pipe-bad")
    raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + \
        request_bytes("POST", FULFILL.encode(),
                      fulfil_headers(g, body) + [("Content-Length", "1")],
                      body) + SMUGGLED
    got, closed = exchange(g, raw)
    assert [r[0] for r in got] == [200, 400]
    assert closed
    assert_unharmed(g, before)


def test_endless_empty_lines_are_refused(g):
    """Empty lines before a request are skipped, but count against
    server.max_header_bytes: a stream of them is refused, not read forever."""
    before = g.snapshot()
    got, closed = exchange(g, b"\r\n" * (MAX_HEADER_BYTES + 1024))
    assert len(got) == 1
    assert got[0][0] in (414, 431)
    assert_json_error(got[0], got[0][0])
    assert closed
    assert_unharmed(g, before)
