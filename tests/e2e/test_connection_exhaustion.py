"""Connection exhaustion: clients that open connections and never finish a
request (idle, or dripping a header byte at a time) from many addresses
cannot keep a normal client from a fresh address from being served. The
defaults do it: 64 connections per address, a 10 s deadline for a request
header block, and room kept free by closing the connection idle longest."""
import resource
import socket
import threading
import time

import pytest

from conftest import ready

from reliability import record

pytestmark = pytest.mark.sqlite_only  # the HTTP layer, whatever the store

PROBES = 100
PROBE_LIMIT_S = 1.0


@pytest.fixture(autouse=True)
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 16384)
    if want < 12000:
        pytest.skip(f"needs 12000 open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_from(address, port):
    """A connection from a loopback address (127.0.0.0/8 is all local),
    or None if the server or the kernel refuses it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.bind((address, 0))
        s.connect_ex(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    return s


def probe(g, address="127.0.0.250"):
    """One request from a fresh connection on `address`: its latency."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.bind((address, 0))
        s.connect(("127.0.0.1", g.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close"
                  b"\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:100]
    return time.monotonic() - t0


def probe_many(g, spacing_s=0.02, times=None):
    """PROBES probes: the latencies over PROBE_LIMIT_S (and each latency
    in `times`, if given)."""
    slow = []
    for i in range(PROBES):
        took = probe(g)
        if times is not None:
            times.append(took)
        if took > PROBE_LIMIT_S:
            slow.append(round(took, 2))
        time.sleep(spacing_s)
    return slow


def close_all(socks):
    for s in socks:
        if s is not None:
            s.close()


def test_ten_thousand_idle_connections_from_40_addresses(grantd):
    socks, times, t0 = [], [], time.monotonic()
    try:
        deadline = time.monotonic() + 60
        for i in range(10000):
            socks.append(open_from(f"127.0.0.{2 + i % 40}", grantd.port))
            assert time.monotonic() < deadline, "opening took over 60 s"
        # the flood's own SYNs, dropped while the listen queue was full,
        # are retried by the kernel 1 and 3 s later: the probes measure
        # service while the connections are held, not that retry storm
        time.sleep(3.5)
        slow = probe_many(grantd, times=times)
        assert not slow, f"{len(slow)} probes over {PROBE_LIMIT_S} s: {slow}"
    finally:
        close_all(socks)
    assert grantd.fulfill("player-1", "pg_gold_100", "t-after").status_code == 200
    record("test_connection_exhaustion.py::test_ten_thousand_idle_"
           "connections_from_40_addresses", driver=grantd.driver,
           requests=len(times),
           faults=sum(1 for s in socks if s is not None),
           probes_answered=len(times),
           slowest_probe_ms=round(max(times) * 1000, 1),
           seconds=round(time.monotonic() - t0, 1))


def drip(socks, stop, every_s):
    """Sends one more header byte on every connection every `every_s`."""
    line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    sent = 0
    while not stop.wait(every_s if sent else 0):
        for s in socks:
            try:
                s.send(line[sent:sent + 1])
            except OSError:
                pass
        sent += 1


def test_slow_drip_from_5_addresses(grantd):
    socks = [open_from(f"127.0.0.{2 + i % 5}", grantd.port)
             for i in range(1100)]
    stop, times = threading.Event(), []
    dripper = threading.Thread(target=drip, args=(socks, stop, 10.0))
    dripper.start()
    try:
        t0 = time.monotonic()
        slow = probe_many(grantd, spacing_s=0.12, times=times)  # ~12 s
        assert not slow, f"{len(slow)} probes over {PROBE_LIMIT_S} s: {slow}"
        # past the 10 s deadline every dripping connection is closed
        time.sleep(max(0.0, 11.5 - (time.monotonic() - t0)))
        still_open = 0
        for s in socks:
            if s is None:
                continue
            try:
                if s.recv(1) != b"":
                    still_open += 1
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
        assert still_open == 0, f"{still_open} dripping connections open"
    finally:
        stop.set()
        dripper.join()
        close_all(socks)
    record("test_connection_exhaustion.py::test_slow_drip_from_5_addresses",
           driver=grantd.driver, requests=len(times),
           faults=sum(1 for s in socks if s is not None),
           probes_answered=len(times),
           slowest_probe_ms=round(max(times) * 1000, 1),
           seconds=round(time.monotonic() - t0, 1))


def test_header_deadline_closes_a_silent_connection(make_grantd):
    g = ready(make_grantd(config={"server": {
        "request_header_timeout_seconds": 1}}), operator=True)
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    t0 = time.monotonic()
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    while True:
        chunk = s.recv(100)
        if not chunk:
            break
        s.sendall(b"X")   # trickling in, byte by byte
        time.sleep(0.1)
    took = time.monotonic() - t0
    s.close()
    assert 0.9 <= took < 2.5, took
    assert g.connections_closed("header_timeout") == 1
    assert g.connections_closed("evicted") == 0


def test_full_table_keeps_room_by_evicting_the_oldest_idle(make_grantd):
    g = ready(make_grantd(config={"server": {
        "max_connections": 64, "max_connections_per_ip": 0}}), operator=True)
    # a client that has been served keeps its connection over idle ones
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    kept = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    kept.sendall(get)
    assert kept.recv(4096).startswith(b"HTTP/1.1 200")
    socks = [open_from("127.0.0.2", g.port) for _ in range(300)]
    try:
        time.sleep(0.3)
        for _ in range(20):
            assert probe(g, "127.0.0.3") < PROBE_LIMIT_S
        kept.sendall(get)
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        # 300 idle connections into 60 places: most were evicted
        assert g.connections_closed("evicted") >= 300 - 64
        assert g.connections_closed("per_ip_limit") == 0
    finally:
        close_all(socks)
        kept.close()
