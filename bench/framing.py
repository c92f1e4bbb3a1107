#!/usr/bin/python3
"""bench/framing.py: hostile HTTP/1.1 framing from a raw socket against a bare
HTTP server (bench/baseline.c on libmicrohttpd, bench/baseline_h2o.c on h2o),
judged by the expectations of tests/e2e/test_http_framing.py adapted to a
server that answers any POST 200 {} and GET /healthz {"status":"ok"}.

  bench/framing.py --port P            run every case against 127.0.0.1:P
  bench/framing.py --compare           start build/grantd_baseline and
                                       build/grantd_baseline_h2o on ephemeral
                                       loopback ports, run every case on both,
                                       print a markdown table side by side
  bench/framing.py [--compare] --throughput
                                       (also) wrk both (POST of a 100-byte JSON
                                       body, 2 threads, 64 connections, 10 s,
                                       3 rounds alternating)

Both baselines run with a 16384-byte header limit (grantd's default
server.max_header_bytes): libmicrohttpd's connection memory limit, and an
application check of the request line and headers in the h2o baseline
(h2o 2.2.5 fixes its own limit when it is built). Standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("BENCH_BUILD_DIR", REPO / "build"))
MAX_HEADER_BYTES = 16384
FULFILL = b"/v1/primegaming/fulfillment"
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
HEALTH_BODY = b'{"status":"ok"}'
SERVERS = (("MHD 0.9.75", "grantd_baseline"), ("h2o 2.2.5", "grantd_baseline_h2o"))


# ---- a raw HTTP/1.1 client ----------------------------------------------------

def read_all(s, limit_s):
    """What the server sends until it closes, or stays silent 0.5 s after
    answering, or limit_s passes; returns (bytes, closed)."""
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


def dechunk(rest):
    """(body, remaining bytes) of a chunked body, or None if it is cut."""
    body = b""
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return None
        n = int(line.split(b";")[0], 16)
        if n == 0:
            _, sep, rest = rest.partition(b"\r\n")
            return body, rest
        body, rest = body + rest[:n], rest[n + 2:]


def responses(data):
    """Splits raw bytes into (status, headers, body); a trailing fragment
    that does not parse becomes (None, {}, bytes)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        if not sep or not m:
            out.append((None, {}, data))
            break
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            got = dechunk(rest)
            if got is None:
                out.append((int(m.group(1)), headers, rest))
                break
            body, data = got
        elif "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        else:
            body, data = rest, b""
        out.append((int(m.group(1)), headers, body))
    return out


def is_json_error(resp):
    st, headers, body = resp
    if not headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        err = json.loads(body)["error"]
        return bool(err["code"] and err["message"])
    except (ValueError, KeyError, TypeError):
        return False


def request_bytes(method, target, headers, body=b"", version=b"HTTP/1.1"):
    head = method + b" " + target + b" " + version + b"\r\n"
    for k, v in headers:
        head += k + b": " + v + b"\r\n"
    return head + b"\r\n" + body


BODY = json.dumps({"account_id": "player-1", "sku": "pg_gold_100",
                   "transaction_id": "t-raw"}).encode()


def fulfil_headers(body=BODY, extra=()):
    return [(b"Host", b"127.0.0.1"), (b"Authorization", b"Bearer k"),
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(body)).encode()), *extra]


def chunked(body):
    return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


# ---- the cases ------------------------------------------------------------------

class Case:
    """raw: the bytes sent; expect(r) -> None or why it fails, where r is a
    dict: statuses, resps, closed, elapsed. smuggle: whether bytes after the
    first request must not be answered. shut: half-close after sending."""

    def __init__(self, name, raw, expect, smuggle=False, shut=False, limit_s=5.0):
        self.name, self.raw, self.expect = name, raw, expect
        self.smuggle, self.shut, self.limit_s = smuggle, shut, limit_s


def one_json(*allowed, close=False, within=None):
    """Exactly one response, its status in allowed, with a JSON error body."""
    def check(r):
        if len(r["resps"]) != 1:
            return f"{len(r['resps'])} responses"
        if r["statuses"][0] not in allowed:
            return f"status {r['statuses'][0]}"
        if not is_json_error(r["resps"][0]):
            return "not JSON"
        if close and not r["closed"]:
            return "kept open"
        if within and r["elapsed"] > within:
            return f"took {r['elapsed']:.1f} s"
        return None
    return check


def served_or_json(*errors):
    def check(r):
        if len(r["resps"]) != 1:
            return f"{len(r['resps'])} responses"
        st = r["statuses"][0]
        if st == 200 or (st in errors and is_json_error(r["resps"][0])):
            return None
        return f"status {st}" + \
            ("" if is_json_error(r["resps"][0]) else ", not JSON")
    return check


def statuses_are(want, last_body=None, close=False):
    def check(r):
        if r["statuses"] != want:
            return f"got {r['statuses']}"
        if last_body is not None and r["resps"][-1][2] != last_body:
            return "last body differs"
        if close and not r["closed"]:
            return "kept open"
        return None
    return check


def refused_and_closed(max_resps=None, allowed=None):
    def check(r):
        if not r["closed"]:
            return "kept open"
        if max_resps is not None and len(r["resps"]) > max_resps:
            return f"{len(r['resps'])} responses"
        for st, resp in zip(r["statuses"], r["resps"]):
            if st is None or st < 400 or (allowed and st not in allowed):
                return f"status {st}"
            if not is_json_error(resp):
                return "not JSON"
        return None
    return check


def only_json_400s(r):
    for st, resp in zip(r["statuses"], r["resps"]):
        if st != 400 or not is_json_error(resp):
            return f"status {st}" + ("" if is_json_error(resp) else ", not JSON")
    return None


def cases():
    out = []
    add = out.append
    b = BODY
    add(Case("NUL in path", request_bytes(b"POST", FULFILL + b"\x00.css",
                                          fulfil_headers(), b), one_json(400)))
    for h in (b"Authorization", b"Content-Type"):
        hs = [(k, v + b"\x00junk" if k == h else v) for k, v in fulfil_headers()]
        add(Case(f"NUL in {h.decode()} value",
                 request_bytes(b"POST", FULFILL, hs, b), one_json(400)))
    add(Case("NUL in X-Note value", request_bytes(
        b"POST", FULFILL, fulfil_headers(extra=[(b"X-Note", b"a\x00b")]), b),
        one_json(400)))
    for bad, label in ((b"\x01", "0x01"), (b"\x7f", "0x7f"), (b"\x1b[2J", "ESC[2J")):
        add(Case(f"control byte {label} in path",
                 b"GET /healthz" + bad + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                 one_json(400)))
    add(Case("two different CL + smuggled GET", request_bytes(
        b"POST", FULFILL, fulfil_headers(extra=[(b"Content-Length", b"0")]),
        b + SMUGGLED), one_json(400, close=True), smuggle=True))
    add(Case("two equal CL", request_bytes(
        b"POST", FULFILL,
        fulfil_headers(extra=[(b"Content-Length", str(len(b)).encode())]), b),
        one_json(400, close=True)))
    add(Case("CL + chunked + smuggled GET", request_bytes(
        b"POST", FULFILL,
        fulfil_headers(extra=[(b"Transfer-Encoding", b"chunked")]),
        chunked(b) + SMUGGLED), one_json(400, close=True), smuggle=True))
    for value in (b"-1", b"0x40", b"+76", b"76, 76", b"7 6", b"1" * 20, b"",
                  b"abc", b"76 "):
        hs = [(k, value if k == b"Content-Length" else v)
              for k, v in fulfil_headers()]
        check = served_or_json(400) if value == b"76 " else one_json(400)
        add(Case(f"CL {value.decode()!r}",
                 request_bytes(b"POST", FULFILL, hs, b), check))
    no_cl = [(k, v) for k, v in fulfil_headers() if k != b"Content-Length"]
    for coding in (b"identity", b"gzip, chunked", b"gzip", b"chunked, chunked",
                   b"x"):
        add(Case(f"TE {coding.decode()!r}", request_bytes(
            b"POST", FULFILL, no_cl + [(b"Transfer-Encoding", coding)], b),
            one_json(501, close=True, within=2.0), limit_s=3.0))
    add(Case("chunked body (2 chunks)", request_bytes(
        b"POST", FULFILL, no_cl + [(b"Transfer-Encoding", b"chunked")],
        b"10\r\n" + b[:16] + b"\r\n" + chunked(b[16:])), statuses_are([200])))
    for size in (b"ffffffffffffffffffff", b"7fffffffffffffff", b"100000000",
                 b"zz", b"-1"):
        add(Case(f"chunk size {size.decode()}", request_bytes(
            b"POST", FULFILL, no_cl + [(b"Transfer-Encoding", b"chunked")],
            size + b"\r\n{}"), one_json(400, 413, close=True), limit_s=3.0))
    pad = b"a" * (MAX_HEADER_BYTES + 100)
    add(Case("header block over the limit", request_bytes(
        b"GET", b"/healthz", [(b"Host", b"x"), (b"X-Pad", pad)]), one_json(431)))
    for under in (64, 512, 2048):
        pad = b"a" * (MAX_HEADER_BYTES - under)
        add(Case(f"header block limit-{under}", request_bytes(
            b"GET", b"/healthz", [(b"Host", b"x"), (b"X-Pad", pad)]),
            served_or_json(431)))
    add(Case("long target (16 KiB)", request_bytes(
        b"GET", b"/healthz?" + b"a" * (MAX_HEADER_BYTES + 10), [(b"Host", b"x")]),
        one_json(414, 431)))
    add(Case("header without colon",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", one_json(400)))
    add(Case("whitespace before colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
             b"Authorization : Bearer x\r\n\r\n", one_json(400)))
    add(Case("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n"
             b" folded\r\n\r\n", one_json(400)))
    add(Case("absolute-form GET /healthz", b"GET http://127.0.0.1/healthz "
             b"HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
             statuses_are([200], last_body=HEALTH_BODY)))
    add(Case("absolute-form POST", request_bytes(
        b"POST", b"http://127.0.0.1" + FULFILL, fulfil_headers(), b),
        statuses_are([200])))
    for v in (b"HTTP/2.0", b"HTTP/3.0", b"HTTP/1.2", b"HTTP/9.9"):
        add(Case(f"version {v.decode()}",
                 b"GET /healthz " + v + b"\r\nHost: x\r\n\r\n", one_json(505)))
    for line in (b"GET /healthz HTTP/1.x", b"GET /healthz HTTP",
                 b"GET /healthz http/1.1", b"GET  /healthz HTTP/1.1",
                 b"GET /healthz  HTTP/1.1"):
        add(Case(f"request line {line.decode()!r}", line + b"\r\nHost: x\r\n\r\n",
                 one_json(400, 505)))
    add(Case("HTTP/0.9 GET", b"GET /healthz\r\n\r\n", refused_and_closed()))
    add(Case("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
             b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
             refused_and_closed(1, (400, 505))))
    add(Case("HTTP/1.1 without Host", b"GET /healthz HTTP/1.1\r\n\r\n",
             one_json(400)))
    raw = request_bytes(b"POST", FULFILL, fulfil_headers(), b)
    for cut, at in (("request-line", 10), ("headers", raw.index(b"Content-Type")),
                    ("body", len(raw) - 5)):
        add(Case(f"truncated in {cut}", raw[:at], only_json_400s, shut=True,
                 limit_s=3.0))
    add(Case("pipeline 3 POST + GET",
             raw * 3 + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
             statuses_are([200, 200, 200, 200], last_body=HEALTH_BODY)))
    add(Case("bad request in a pipeline",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + request_bytes(
                 b"POST", FULFILL, fulfil_headers(extra=[(b"Content-Length", b"1")]),
                 b) + SMUGGLED,
             statuses_are([200, 400], close=True)))
    return out


# ---- running ----------------------------------------------------------------------

def healthy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data, _ = read_all(s, 3)
        r = responses(data)
        return bool(r) and r[0][0] == 200
    except OSError:
        return False


def run_case(port, case):
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(case.raw)
        if case.shut:
            s.shutdown(socket.SHUT_WR)
        data, closed = read_all(s, case.limit_s)
    elapsed = time.monotonic() - t0
    resps = responses(data)
    r = {"resps": resps, "statuses": [x[0] for x in resps], "closed": closed,
         "elapsed": elapsed}
    r["json"] = [is_json_error(x) for x in resps if x[0] and x[0] >= 400]
    r["smuggled"] = case.smuggle and any(x[2] == HEALTH_BODY for x in resps)
    why = case.expect(r)
    if why is None and r["smuggled"]:
        why = "smuggled GET answered"
    if why is None and not healthy(port):
        why = "server not serving afterwards"
    r["verdict"] = "PASS" if why is None else f"FAIL ({why})"
    return r


def describe(r):
    st = ",".join("?" if s is None else str(s) for s in r["statuses"]) or "none"
    parts = [st]
    if r["json"]:
        parts.append("json" if all(r["json"]) else "not-json")
    parts.append("closed" if r["closed"] else "open")
    if r["smuggled"]:
        parts.append("SMUGGLED")
    if r["elapsed"] > 2:
        parts.append(f"{r['elapsed']:.0f}s")
    return " ".join(parts)


def run_all(port):
    return [(c.name, run_case(port, c)) for c in cases()]


def print_single(results):
    passed = sum(r["verdict"] == "PASS" for _, r in results)
    for name, r in results:
        print(f"{name:40} {describe(r):32} {r['verdict']}")
    print(f"{passed}/{len(results)} pass")


# ---- servers and throughput ---------------------------------------------------------

def start_server(binary, threads=2):
    args = [str(binary), "--port", "0", "--threads", str(threads),
            "--max-header-bytes", str(MAX_HEADER_BYTES)]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    line = p.stdout.readline()
    try:
        return p, json.loads(line)["port"]
    except (ValueError, KeyError):
        stop_server(p)
        raise SystemExit(f"framing: {binary} did not start: {line!r}")


def stop_server(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


WRK_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"account_id":"bench-4711","sku":"bench_gold_100","transaction_id":"wrk-0-123456789","note":"xxxxx"}'
"""


def wrk_rps(port, lua, seconds):
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", lua,
                          f"http://127.0.0.1:{port}/v1/primegaming/fulfillment"],
                         capture_output=True, text=True, timeout=seconds + 30)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if not m:
        raise SystemExit(f"framing: wrk output not understood:\n{out.stdout}{out.stderr}")
    return float(m.group(1)), int(bad.group(1)) if bad else 0


def throughput(ports, rounds=3, seconds=10):
    if not shutil.which("wrk"):
        raise SystemExit("framing: wrk is not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA)
        lua = f.name
    body_len = len(re.search(r"wrk.body = '(.*)'", WRK_LUA).group(1))
    rps = {name: [] for name, _ in SERVERS}
    try:
        for i in range(rounds):
            for (name, _), port in zip(SERVERS, ports):
                v, bad = wrk_rps(port, lua, seconds)
                rps[name].append(v)
                print(f"round {i + 1} {name}: {v:.0f} req/s"
                      + (f" ({bad} non-2xx)" if bad else ""), flush=True)
    finally:
        os.unlink(lua)
    print(f"\nwrk -t2 -c64 -d{seconds}s, POST of a {body_len}-byte JSON body, "
          f"server threads 2, {rounds} rounds alternating\n")
    print("| server | " + " | ".join(f"round {i + 1}" for i in range(rounds))
          + " | mean |")
    print("|---" * (rounds + 2) + "|")
    means = {}
    for name, vals in rps.items():
        means[name] = sum(vals) / len(vals)
        print(f"| {name} | " + " | ".join(f"{v:.0f}" for v in vals)
              + f" | {means[name]:.0f} |")
    a, b = (means[n] for n, _ in SERVERS)
    print(f"\nratio h2o/MHD: {b / a:.2f}")


def compare(with_framing, with_throughput):
    procs = []
    try:
        ports = []
        for _, binary in SERVERS:
            p, port = start_server(BUILD / binary)
            procs.append(p)
            ports.append(port)
        if with_framing:
            print_table([run_all(port) for port in ports])
        if with_throughput:
            print()
            throughput(ports)
    finally:
        for p in procs:
            stop_server(p)


def print_table(results):
    print("| case | " + " | ".join(n for n, _ in SERVERS) + " |")
    print("|---|---|---|")
    for i, (name, _) in enumerate(results[0]):
        cells = [f"{describe(res[i][1])} **{res[i][1]['verdict']}**"
                 if res[i][1]['verdict'] == "PASS" else
                 f"{describe(res[i][1])} {res[i][1]['verdict']}"
                 for res in results]
        print(f"| {name} | " + " | ".join(cells) + " |")
    totals = [sum(r["verdict"] == "PASS" for _, r in res) for res in results]
    print("| **passed** | " + " | ".join(f"{t}/{len(results[0])}" for t in totals)
          + " |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--throughput", action="store_true")
    a = ap.parse_args()
    if a.compare or a.throughput:
        compare(a.compare, a.throughput)
    elif a.port:
        print_single(run_all(a.port))
    else:
        ap.error("give --port P or --compare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
