"""The operator console's data routes: one account with its links and
inventory, the catalog in force with its version, and a catalog reload over
HTTP that acts as SIGHUP does (audited; a bad file changes nothing and
names every problem); all behind the operator scope. The console's static
files are public and carry a strict Content-Security-Policy."""
import hashlib
import json

import pytest

from conftest import ready

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")


@pytest.fixture
def g(make_grantd):
    return ready(make_grantd(), operator=True)


def audit_rows(g, action):
    with g.db() as c:
        return [(r[0], json.loads(r[1])) for r in c.execute(
            "SELECT actor, detail FROM audit WHERE action = ? ORDER BY id",
            (action,)).fetchall()]


def test_account_with_links_and_inventory(g):
    assert g.fulfill("player-1", "pg_starter", "t-1").status_code == 200
    r = g.request("PUT", "/v1/accounts/player-1/links/twitch",
                  key=g.partner_key, json={"external_id": "25009227"})
    assert r.status_code in (200, 201), r.text
    r = g.request("GET", "/v1/operator/accounts/player-1", key=g.ops_key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"account", "links", "inventory"}
    partner = g.request("GET", "/v1/accounts/player-1",
                        key=g.partner_key).json()
    assert body["account"] == partner
    links = g.request("GET", "/v1/accounts/player-1/links",
                      key=g.partner_key).json()["links"]
    assert body["links"] == links and links[0]["provider"] == "twitch"
    inv = g.inventory("player-1")
    assert body["inventory"] == {"stackables": inv["stackables"],
                                 "instanced": inv["instanced"]}
    assert {"catalog_id": "gold", "amount": 100} in inv["stackables"]
    r = g.request("GET", "/v1/operator/accounts/nobody", key=g.ops_key)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "AccountNotFound"


def test_catalog_in_force(g):
    r = g.request("GET", "/v1/operator/catalog", key=g.ops_key)
    assert r.status_code == 200, r.text
    body = r.json()
    content = g.catalog_path.read_bytes()
    assert body["version"] == hashlib.sha256(content).hexdigest()
    assert body["loaded_at"].endswith("Z")
    by_id = {e["id"]: e for e in body["entries"]}
    source = json.loads(content)
    assert list(by_id) == [e["id"] for e in source["entitlements"]]
    starter = by_id["starter"]
    assert starter["provider_ids"] == [{"primeGaming": {"sku": "pg_starter"}}]
    assert starter["bundle_id"] == "starter_bundle"
    assert starter["grants"] == [
        {"catalog_id": "gold", "kind": "stackable", "amount": 100},
        {"catalog_id": "hat_red", "kind": "instanced", "amount": 1},
        {"catalog_id": "sword", "kind": "instanced", "amount": 1}]
    assert starter["limit_per_account"] is None
    assert starter["availability"] is None
    assert by_id["gold-500-once"]["limit_per_account"] == 1
    assert by_id["expired-gems"]["availability"] == {
        "starts_at": "2019-01-01T00:00:00.000Z",
        "ends_at": "2020-01-01T00:00:00.000Z"}
    assert by_id["future-gems"]["availability"]["ends_at"] is None
    assert by_id["twitch-gems"]["provider_ids"] == [
        {"twitchDrop": {"rewardId": "df1e2846-be27-4188-8da9-665aa0a2204d"}}]
    items = {i["catalog_id"]: i for i in body["items"]}
    assert items["gold"] == {"catalog_id": "gold", "kind": "stackable",
                             "name": "Gold"}
    assert items["hat_red"]["unique"] is True
    assert items["sword"]["unique"] is False


def test_reload_good_and_bad(g):
    before = g.request("GET", "/v1/operator/catalog", key=g.ops_key).json()
    source = json.loads(g.catalog_path.read_text())
    source["items"].append({"catalogId": "cape", "kind": "instanced",
                            "name": "Cape"})
    source["entitlements"].append({
        "id": "cape", "instanced": {"catalogId": "cape"},
        "providerDetails": [{"primeGaming": {"sku": "pg_cape"}}]})
    g.catalog_path.write_text(json.dumps(source))
    r = g.request("POST", "/v1/operator/catalog/reload", key=g.ops_key)
    assert r.status_code == 200, r.text
    assert r.json() == {"reloaded": True,
                        "entries": len(source["entitlements"])}
    after = g.request("GET", "/v1/operator/catalog", key=g.ops_key).json()
    assert after["version"] != before["version"]
    assert after["version"] == hashlib.sha256(
        g.catalog_path.read_bytes()).hexdigest()
    assert g.fulfill("player-1", "pg_cape", "t-cape").status_code == 200
    [(actor, detail)] = audit_rows(g, "catalog.reloaded")
    assert actor == "api:ops"
    assert detail["entitlements"] == len(source["entitlements"])
    assert detail["version"] == after["version"]

    # two problems: both named; the catalog in force stays
    source["entitlements"][0]["stackable"]["amount"] = 0
    source["entitlements"][1]["stackable"]["catalogId"] = "nothing"
    g.catalog_path.write_text(json.dumps(source))
    r = g.request("POST", "/v1/operator/catalog/reload", key=g.ops_key)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "CatalogInvalid" and err["message"]
    assert len(err["problems"]) == 2
    assert any(p.startswith("entitlements[0].stackable.amount")
               for p in err["problems"])
    assert any(p.startswith("entitlements[1].stackable.catalogId")
               for p in err["problems"])
    still = g.request("GET", "/v1/operator/catalog", key=g.ops_key).json()
    assert still == after
    assert g.fulfill("player-1", "pg_cape", "t-cape-2").status_code == 200
    [(actor, detail)] = audit_rows(g, "catalog.reload_failed")
    assert actor == "api:ops" and detail["problem_count"] == 2

    g.catalog_path.write_text("{not json")
    r = g.request("POST", "/v1/operator/catalog/reload", key=g.ops_key)
    assert r.status_code == 422
    assert r.json()["error"]["problems"][0].startswith("$: invalid JSON")


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/operator/accounts/player-1"),
    ("GET", "/v1/operator/catalog"),
    ("POST", "/v1/operator/catalog/reload"),
])
def test_routes_need_the_operator_scope(g, method, path):
    r = g.request(method, path, key=g.partner_key)
    assert r.status_code == 403, r.text
    r = g.request(method, path)
    assert r.status_code == 401, r.text


def test_console_files_are_public_with_a_strict_policy(g):
    for path, ctype in [("/console/", "text/html"),
                        ("/console/index.html", "text/html"),
                        ("/console/app.js", "text/javascript"),
                        ("/console/console.css", "text/css")]:
        r = g.request("GET", path)
        assert r.status_code == 200, (path, r.status_code)
        assert r.headers["Content-Type"].startswith(ctype), path
        assert r.headers["Content-Security-Policy"] == CSP
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
    r = g.request("GET", "/console/nothing.js")
    assert r.status_code == 404
    assert r.headers["Content-Security-Policy"] == CSP
    assert "<script>" not in g.request("GET", "/console/").text.replace(
        "<script type=\"module\" src=", "")
