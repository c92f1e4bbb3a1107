"""The pull sync benchmark: grantd against the loopback provider fakes
(tests/fakes), each answering its entitlement listing after a fixed delay.

Accounts linked to every provider are synced by a few concurrent clients;
the figures are entitlements granted per second and the sync latency. The
baseline, measured in the same run, is the sync of accounts linked to one
provider: with the providers asked at once, a sync of four takes about as
long as a sync of one (ratio near 1), not four times as long.

Writes a "Pull sync" section into bench/results/latest.md (replacing an
earlier one) and prints a summary line. Run: /usr/bin/python3 bench/sync.py
[--quick]."""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from fakes.epic import FakeEpic            # noqa: E402
from fakes.primegaming import FakePrimeGaming  # noqa: E402
from fakes.steam import FakeSteam          # noqa: E402
from fakes.twitch import FakeTwitch        # noqa: E402

RESULTS = REPO / "bench" / "results" / "latest.md"
CATALOG = REPO / "tests" / "e2e" / "catalog_pull.json"
LATENCY_S = 0.05          # each fake's listing answers after this
CLIENTS = 8               # concurrent sync callers
TWITCH_GOLD = "9e2d4c1a-0b3f-4e5d-8c7a-6b1f2e3d4c5b"
EPIC_GOLD = "a51c0e2b9f3d4e6a8b7c1d2e3f405162"
STEAM_GOLD = "10010"
STEAM_FROST_APP = 3141590
PG_GOLD = "pg_gold_60"
GOLD_EACH = 60            # every entitlement above grants 60 gold


def log(msg):
    print(f"bench-sync: {msg}", flush=True)


def percentile(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


class Grantd:
    def __init__(self, binary, workdir, providers):
        self.dir = workdir
        self.db = workdir / "grantd.db"
        self.config = workdir / "grantd.yaml"
        cfg = {
            "server": {"listen": "127.0.0.1:0", "threads": 2},
            "storage": {"sqlite": {"path": str(self.db)}},
            "catalog": {"path": str(CATALOG)},
            "auth": {"rate_limit": {"per_second": 1000000, "burst": 1000000}},
            "providers": providers,
            "outbox": {"initial_backoff_ms": 50, "max_backoff_ms": 500},
            "log": {"level": "warn"},
        }
        self.config.write_text(json.dumps(cfg))  # JSON is YAML
        self.binary = binary
        self.proc = None
        self.port = None
        self.cli("migrate")
        out = self.cli("keys", "create", "--name", "bench", "--scope",
                       "partner", "--json").stdout
        self.key = json.loads(out.strip().splitlines()[-1])["key"]

    def cli(self, *args):
        return subprocess.run([str(self.binary), args[0], *args[1:],
                               "--config", str(self.config)],
                              capture_output=True, text=True, check=True,
                              timeout=60)

    def start(self):
        self.stderr = open(self.dir / "stderr.log", "w")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = (self.dir / "stderr.log").read_text()
            m = re.search(r'"event":"listening".*?"port":(\d+)', text)
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.05)
        raise RuntimeError("grantd did not start: " + text[-500:])

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
            self.stderr.close()

    def request(self, method, path, **kw):
        return requests.request(method, f"http://127.0.0.1:{self.port}{path}",
                                headers={"Authorization": f"Bearer {self.key}"},
                                timeout=30, **kw)

    def pending(self):
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM outbox WHERE status = "
                              "'pending'").fetchone()[0]


def link_all(g, fakes, account, index, providers):
    ids = {"twitch": str(10_000_000 + index),
           "epic": f"{index:032x}",
           "steam": str(76561197960265728 + index)}
    r = g.request("PUT", f"/v1/accounts/{account}", json={"state": "active"})
    assert r.status_code in (200, 201), r.text
    for p in providers:
        if p == "primegaming":
            ids[p] = link_primegaming(g, fakes[p], account)
            continue
        r = g.request("PUT", f"/v1/accounts/{account}/links/{p}",
                      json={"external_id": ids[p]})
        assert r.status_code in (200, 201), r.text
    return ids


def link_primegaming(g, fake, account):
    """The browser link flow, followed by hand."""
    user = fake.new_user_id()
    fake.next_login(user)
    r = g.request("POST", f"/v1/accounts/{account}/link-tokens")
    assert r.status_code == 201, r.text
    token = r.json()["link_token"]
    r = requests.get(f"http://127.0.0.1:{g.port}/v1/link/primegaming/start",
                     params={"link_token": token,
                             "return_to": "https://game.example/linked"},
                     allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    r = requests.get(r.headers["Location"], allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    r = requests.get(r.headers["Location"], allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "linked=primegaming" in \
        r.headers["Location"], r.headers.get("Location")
    return user


def seed(fakes, ids, per_provider):
    for _ in range(per_provider):
        if "twitch" in fakes:
            fakes["twitch"].add_drop(ids["twitch"], TWITCH_GOLD)
        if "epic" in fakes:
            fakes["epic"].add_entitlement(ids["epic"], EPIC_GOLD,
                                          consumable=True)
        if "steam" in fakes:
            fakes["steam"].add_item(ids["steam"], STEAM_GOLD)
        if "primegaming" in fakes:
            fakes["primegaming"].add_entitlement(ids["primegaming"], PG_GOLD)


def run_syncs(g, accounts):
    """Syncs every account once with CLIENTS callers; (latencies, granted,
    wall seconds)."""
    def one(account):
        t0 = time.perf_counter()
        r = g.request("POST", f"/v1/accounts/{account}/entitlements/sync")
        dt = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        body = r.json()
        if body["unfulfilled"]:
            raise RuntimeError(f"unfulfilled: {body['unfulfilled'][:3]}")
        return dt, len(body["fulfilled"])

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, accounts))
    wall = time.perf_counter() - t0
    return [r[0] for r in results], sum(r[1] for r in results), wall


def balance(g, account):
    r = g.request("GET", f"/v1/accounts/{account}/inventory")
    return {s["catalog_id"]: s["amount"] for s in r.json()["stackables"]}.get(
        "gold", 0)


def wait_reports(g, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if g.pending() == 0:
            return True
        time.sleep(0.2)
    return False


def measure(binary, scratch, providers, n_accounts, per_provider, label):
    fakes = {"twitch": FakeTwitch(ratelimit=10**9), "epic": FakeEpic(),
             "steam": FakeSteam(), "primegaming": FakePrimeGaming()}
    fakes = {p: f for p, f in fakes.items() if p in providers}
    if "steam" in fakes:  # the catalog's DLC app is the publisher's
        fakes["steam"].publisher_appids.add(STEAM_FROST_APP)
    listing = {"twitch": ("/helix/entitlements/drops", "GET"),
               "epic": ("/epic/ecom/v3/identities", "GET"),
               "steam": ("/I", "GET"),
               "primegaming": ("/api/entitlements", "GET")}
    for f in fakes.values():
        f.start()
    workdir = scratch / label
    workdir.mkdir()
    g = Grantd(binary, workdir, {p: f.grantd_config()
                                 for p, f in fakes.items()})
    if "primegaming" in fakes:
        with open(g.config) as fh:
            cfg = json.load(fh)
        cfg["linking"] = {"public_url": "http://127.0.0.1:{port}",
                          "return_to_allow": ["https://game.example/"]}
        g.config.write_text(json.dumps(cfg))
    try:
        g.start()
        if "primegaming" in fakes:  # the callback URL names the real port
            g.stop()
            cfg["server"]["listen"] = f"127.0.0.1:{g.port}"
            cfg["linking"]["public_url"] = f"http://127.0.0.1:{g.port}"
            g.config.write_text(json.dumps(cfg))
            g.start()
        accounts = [f"bench-{label}-{i}" for i in range(n_accounts)]
        ids = [link_all(g, fakes, a, i, providers)
               for i, a in enumerate(accounts)]
        wait_reports(g)              # the background syncs of new links
        for i in ids:
            seed(fakes, i, per_provider)
        for p, f in fakes.items():   # every listing now takes LATENCY_S
            f.delay(listing[p][0], LATENCY_S, method=listing[p][1])
        lat, granted, wall = run_syncs(g, accounts)
        reported = wait_reports(g)
        expected = len(providers) * per_provider * GOLD_EACH
        wrong = [a for a in accounts[:50] if balance(g, a) != expected]
        again, regranted, _ = run_syncs(g, accounts[:20])
        return {
            "label": label, "providers": len(providers),
            "accounts": n_accounts, "granted": granted, "wall_s": wall,
            "per_s": granted / wall if wall else 0,
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": percentile(lat, 99) * 1000,
            "max_ms": max(lat) * 1000,
            "reports_done": reported, "wrong_balances": len(wrong),
            "regranted": regranted,
        }
    finally:
        g.stop()
        for f in fakes.values():
            f.stop()


def report(results, quick):
    one, four = results
    ratio = four["p50_ms"] / one["p50_ms"] if one["p50_ms"] else float("nan")
    lines = [
        "## Pull sync (bench/sync.py)", "",
        f"Loopback fakes (tests/fakes) answer each entitlement listing after "
        f"{int(LATENCY_S * 1000)} ms; {CLIENTS} clients call "
        "`POST /v1/accounts/{id}/entitlements/sync` once per account. "
        "Entitlements/s = fulfilled entries / wall time. Ratio = p50 of the "
        "4-provider sync / p50 of the 1-provider sync in the same run: near 1 "
        "means the providers are asked at once (sequential calls would give 4).",
        "",
        "| providers | accounts | entitlements granted | wall s | entitlements/s "
        "| p50 ms | p99 ms | max ms | reports delivered | balances wrong | "
        "granted by a second sync |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['providers']} | {r['accounts']} | {r['granted']} | "
            f"{r['wall_s']:.2f} | {r['per_s']:.0f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | "
            f"{'all' if r['reports_done'] else 'NOT ALL'} | "
            f"{r['wrong_balances']} | {r['regranted']} |")
    summary = (f"bench-sync: ratio={ratio:.2f} per_s={four['per_s']:.0f} "
               f"p50_ms={four['p50_ms']:.1f} p99_ms={four['p99_ms']:.1f}")
    lines += ["", f"Summary: `{summary}`" + (" (quick)" if quick else ""), ""]
    text = RESULTS.read_text() if RESULTS.exists() else "# grantd benchmark\n"
    text = re.sub(r"\n## Pull sync \(bench/sync.py\).*?(?=\n## |\Z)", "", text,
                  flags=re.S)
    RESULTS.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines))
    return summary, ratio


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    binary = Path(os.environ.get("BENCH_BUILD_DIR", REPO / "build")) / "grantd"
    n = 40 if quick else 200
    scratch = Path(tempfile.mkdtemp(prefix="grantd-bench-sync-"))
    try:
        providers = os.environ.get("BENCH_SYNC_PROVIDERS",
                                   "twitch,epic,steam,primegaming").split(",")
        one = measure(binary, scratch, providers[:1], n, 5, "one")
        log(f"1 provider: p50 {one['p50_ms']:.1f} ms")
        four = measure(binary, scratch, providers, n, 5, "all")
        log(f"{len(providers)} providers: p50 {four['p50_ms']:.1f} ms, "
            f"{four['per_s']:.0f} entitlements/s")
        summary, ratio = report([one, four], quick)
        print(summary, flush=True)
        bad = (four["wrong_balances"] or four["regranted"] or
               one["wrong_balances"] or one["regranted"] or
               not four["reports_done"])
        return 1 if bad else 0
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
