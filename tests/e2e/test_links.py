"""Links between accounts and provider identities, made by the game backend
(scope partner): PUT, GET and DELETE /v1/accounts/{id}/links[/{provider}],
one link per account and provider, an identity linked to one account only
(409 AlreadyLinked), SteamID64s checked, bad input changing nothing."""
import re
import threading

import pytest

STEAM_ID = "76561197960287930"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def put_link(g, account, provider, external_id=None, body=None, key=None):
    return g.request("PUT", f"/v1/accounts/{account}/links/{provider}",
                     key=key or g.partner_key,
                     json=body if body is not None else {"external_id": external_id})


def links(g, account):
    r = g.request("GET", f"/v1/accounts/{account}/links", key=g.partner_key)
    assert r.status_code == 200, r.text
    return r.json()["links"]


def delete_link(g, account, provider):
    return g.request("DELETE", f"/v1/accounts/{account}/links/{provider}",
                     key=g.partner_key)


def error(r):
    return r.json()["error"]


def test_link_list_replace_and_unlink(grantd):
    r = put_link(grantd, "player-1", "twitch", "25009227")
    assert r.status_code == 201, r.text
    link = r.json()
    assert set(link) == {"provider", "external_id", "state", "linked_at"}
    assert link["provider"] == "twitch" and link["external_id"] == "25009227"
    assert link["state"] == "linked" and RFC3339.fullmatch(link["linked_at"])
    # the same identity again: nothing changes
    again = put_link(grantd, "player-1", "twitch", "25009227")
    assert again.status_code == 200 and again.json() == link
    assert put_link(grantd, "player-1", "steam", STEAM_ID).status_code == 201
    assert put_link(grantd, "player-1", "epic", "0b0f09b400854b9b98932dd9e5abe7c5").status_code == 201
    assert [l["provider"] for l in links(grantd, "player-1")] == ["epic", "steam", "twitch"]
    # another identity for the same provider replaces the link
    r = put_link(grantd, "player-1", "twitch", "31337")
    assert r.status_code == 200 and r.json()["external_id"] == "31337"
    assert {l["provider"]: l["external_id"] for l in links(grantd, "player-1")}["twitch"] == "31337"
    # unlink
    r = delete_link(grantd, "player-1", "twitch")
    assert r.status_code == 204 and r.content == b""
    assert "Content-Type" not in r.headers
    assert [l["provider"] for l in links(grantd, "player-1")] == ["epic", "steam"]
    r = delete_link(grantd, "player-1", "twitch")
    assert r.status_code == 404 and error(r)["code"] == "LinkNotFound"


def test_an_identity_belongs_to_one_account(grantd):
    assert grantd.put_account("player-2").status_code == 201
    assert put_link(grantd, "player-1", "steam", STEAM_ID).status_code == 201
    before = grantd.snapshot()
    r = put_link(grantd, "player-2", "steam", STEAM_ID)
    assert r.status_code == 409, r.text
    assert error(r)["code"] == "AlreadyLinked"
    assert STEAM_ID in error(r)["message"] and "player-1" not in error(r)["message"]
    assert grantd.snapshot() == before
    assert links(grantd, "player-2") == []
    # once unlinked there, it can be linked here
    assert delete_link(grantd, "player-1", "steam").status_code == 204
    assert put_link(grantd, "player-2", "steam", STEAM_ID).status_code == 201


def test_a_race_for_one_identity_has_one_winner(grantd):
    accounts = [f"racer-{i}" for i in range(8)]
    for a in accounts:
        assert grantd.put_account(a).status_code == 201
    results = {}
    barrier = threading.Barrier(len(accounts))

    def link(a):
        barrier.wait(timeout=10)
        results[a] = put_link(grantd, a, "twitch", "424242").status_code

    threads = [threading.Thread(target=link, args=(a,)) for a in accounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(results.values()) == [201] + [409] * (len(accounts) - 1), results
    with grantd.db() as c:
        assert c.execute("SELECT count(*) FROM links WHERE provider = 'twitch'"
                         " AND external_id = '424242'").fetchone()[0] == 1


@pytest.mark.parametrize("external_id", ["7656119796028793", "765611979602879300",
                                         "7656119796028793a", " 76561197960287930"])
def test_steam_ids_must_be_steamid64s(grantd, external_id):
    before = grantd.snapshot()
    r = put_link(grantd, "player-1", "steam", external_id)
    assert r.status_code == 400, r.text
    assert error(r) == {"code": "InvalidRequest",
                        "message": "external_id: must be a SteamID64: 17 decimal digits"}
    assert grantd.snapshot() == before


@pytest.mark.parametrize("body,message", [
    ({}, "external_id: required"),
    ({"external_id": 7}, "external_id: must be a string"),
    ({"external_id": ""}, "external_id: must be 1 to 128 printable ASCII characters"),
    ({"external_id": "x" * 129}, "external_id: must be 1 to 128 printable ASCII characters"),
    ({"external_id": "tab\there"}, "external_id: must be 1 to 128 printable ASCII characters"),
    ({"external_id": "ok", "state": "linked"}, 'body: unknown field "state"'),
    ([], "body: must be a JSON object"),
])
def test_bad_bodies_change_nothing(grantd, body, message):
    before = grantd.snapshot()
    r = put_link(grantd, "player-1", "twitch", body=body)
    assert r.status_code == 400, r.text
    assert error(r) == {"code": "InvalidRequest", "message": message}
    assert grantd.snapshot() == before


@pytest.mark.parametrize("raw,tail", [
    (b'{"external_id": "a\\u0000b"}', "NUL characters are not allowed"),
    (b'{"external_id": "a", "external_id": "b"}', "duplicate object key"),
    (b'{"external_id": ', "unexpected token near end of file"),
])
def test_malformed_json_changes_nothing(grantd, raw, tail):
    before = grantd.snapshot()
    r = grantd.request("PUT", "/v1/accounts/player-1/links/twitch", key=grantd.partner_key,
                       data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert error(r)["message"].startswith("body: invalid JSON at line 1")
    assert tail in error(r)["message"], error(r)
    assert grantd.snapshot() == before


def test_unknown_provider_and_account(grantd):
    r = put_link(grantd, "player-1", "myspace", "tom")
    assert r.status_code == 404
    assert error(r)["code"] == "UnknownProvider"
    assert "primegaming, twitch, epic, steam" in error(r)["message"]
    assert delete_link(grantd, "player-1", "myspace").status_code == 404
    for r in (put_link(grantd, "ghost", "twitch", "1"), delete_link(grantd, "ghost", "twitch"),
              grantd.request("GET", "/v1/accounts/ghost/links", key=grantd.partner_key)):
        assert r.status_code == 404 and error(r)["code"] == "AccountNotFound", r.text
    with grantd.db() as c:
        assert c.execute("SELECT count(*) FROM links").fetchone()[0] == 0


def test_links_need_the_partner_scope(grantd):
    r = put_link(grantd, "player-1", "twitch", "1", key=grantd.prime_key)
    assert r.status_code == 403
    r = grantd.request("GET", "/v1/accounts/player-1/links")
    assert r.status_code == 401
    r = grantd.request("PATCH", "/v1/accounts/player-1/links/twitch", key=grantd.partner_key)
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"PUT", "DELETE"}


def test_links_survive_a_restart(grantd):
    assert put_link(grantd, "player-1", "primegaming", "amzn1.account.AEXAMPLE").status_code == 201
    before = links(grantd, "player-1")
    grantd.kill9()
    grantd.start()
    assert links(grantd, "player-1") == before
