"""Helpers for the pull tests: a grantd pointed at provider fakes, linking,
syncing, and waiting for the outbox."""
import time
from pathlib import Path

from conftest import ready
from fakes.fixtures import providers_config

PULL_CATALOG = Path(__file__).resolve().parent / "catalog_pull.json"

# catalog_pull.json's provider item ids
TWITCH_GOLD = "9e2d4c1a-0b3f-4e5d-8c7a-6b1f2e3d4c5b"
TWITCH_GEMS = "df1e2846-be27-4188-8da9-665aa0a2204d"
STEAM_GOLD = "10010"
STEAM_EMOTE = "10020"
STEAM_FROST_APP = 3141590
EPIC_GOLD = "a51c0e2b9f3d4e6a8b7c1d2e3f405162"      # CONSUMABLE
EPIC_EMOTE = "c3d4e5f60718293a4b5c6d7e8f901a2b"     # ADDON (durable)
EPIC_FROST = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"     # EDITION (durable)
PG_GOLD = "pg_gold_60"
PG_GEMS = "pg_gems_5"


def pull_grantd(make_grantd, *fakes, config=None, outbox_fast=True, **kw):
    """A running grantd with the pull catalog, pointed at `fakes`, with a
    partner key and the account "player-1". The outbox retries quickly
    unless outbox_fast is False."""
    cfg = providers_config(*fakes)
    if outbox_fast:
        cfg["outbox"] = {"initial_backoff_ms": 50, "max_backoff_ms": 200}
    for section, values in (config or {}).items():
        if isinstance(values, dict) and isinstance(cfg.get(section), dict):
            for k, v in values.items():
                if isinstance(v, dict) and isinstance(cfg[section].get(k), dict):
                    cfg[section][k].update(v)
                else:
                    cfg[section][k] = v
        else:
            cfg[section] = values
    g = make_grantd(catalog=PULL_CATALOG, config=cfg, **kw)
    return ready(g)


def link(g, provider, external_id, account="player-1", settle=True):
    """Links the account; with `settle`, waits until the background sync
    the new link queued has run, so a test's own sync is the only one."""
    r = g.request("PUT", f"/v1/accounts/{account}/links/{provider}",
                  json={"external_id": external_id}, key=g.partner_key)
    assert r.status_code in (200, 201), r.text
    if settle:
        wait_for(lambda: not [row for row in outbox_rows(g, f"sync.{provider}")
                              if row[1] == account and row[2] == "pending"],
                 what="the link's background sync")
    return r.json()


def sync(g, account="player-1", status=200):
    r = g.request("POST", f"/v1/accounts/{account}/entitlements/sync",
                  key=g.partner_key)
    assert r.status_code == status, r.text
    return r.json()


def wait_for(cond, timeout=10, what="condition"):
    """Polls cond() until it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def outbox_rows(g, kind=None):
    """The outbox as (kind, dedupe_key, status, attempts, last_error)."""
    q = "SELECT kind, dedupe_key, status, attempts, last_error FROM outbox"
    args = ()
    if kind:
        q += " WHERE kind = ?"
        args = (kind,)
    with g.db() as db:
        return db.execute(q + " ORDER BY id", args).fetchall()


def by_provider(answer, provider):
    """The fulfilled and unfulfilled entries of one provider."""
    return ([f for f in answer["fulfilled"] if f["provider_id"] == provider],
            [u for u in answer["unfulfilled"] if u["provider_id"] == provider])
