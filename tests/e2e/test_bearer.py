"""The Authorization header as the Prime Gaming push document writes it
(`Bearer "<API key or access token>"`) and as most clients write it
(`Bearer <token>`), on every family of authenticated routes, for API keys
and access tokens alike; malformed headers are still refused."""
import pytest

from oauth_util import BEARER_INVALID, access_token, create_client, oauth_ready

FULFILL = "/v1/primegaming/fulfillment"


@pytest.fixture
def g(make_grantd):
    g = oauth_ready(make_grantd)
    g.ops_key = g.create_key("ops", "operator")
    g.ops_client = create_client(g, "ops-oauth", "operator")
    g.stop()
    g.start()  # the new key and client are loaded at start
    return g


def forms(token):
    """Both accepted header forms, with the scheme in several cases."""
    return [f"Bearer {token}", f'Bearer "{token}"', f'bearer "{token}"',
            f"BEARER {token}"]


def prime_tokens(g):
    return {"api_key": g.prime_key,
            "access_token": access_token(g, g.clients["prime-oauth"])}


def partner_tokens(g):
    return {"api_key": g.partner_key,
            "access_token": access_token(g, g.clients["backend-oauth"])}


def call(g, method, path, authorization, **kw):
    return g.request(method, path, headers={"Authorization": authorization}, **kw)


@pytest.mark.parametrize("kind", ["api_key", "access_token"])
def test_primegaming_fulfillment_takes_both_forms(g, kind):
    token = prime_tokens(g)[kind]
    for i, header in enumerate(forms(token)):
        body = {"account_id": "player-1", "sku": "pg_gold_100",
                "transaction_id": f"t-{kind}-{i}"}
        r = call(g, "POST", FULFILL, header, json=body)
        assert r.status_code == 200, (header, r.text)
        assert r.json() == {}
    assert g.balance("player-1", "gold") == 100 * len(forms(token))


@pytest.mark.parametrize("kind", ["api_key", "access_token"])
def test_partner_routes_take_both_forms(g, kind):
    token = partner_tokens(g)[kind]
    for i, header in enumerate(forms(token)):
        r = call(g, "PUT", f"/v1/accounts/p-{kind}-{i}", header, json={"state": "active"})
        assert r.status_code == 201, (header, r.text)
        for path in (f"/v1/accounts/p-{kind}-{i}", f"/v1/accounts/p-{kind}-{i}/inventory",
                     f"/v1/accounts/p-{kind}-{i}/entitlements/history"):
            r = call(g, "GET", path, header)
            assert r.status_code == 200, (header, path, r.text)


@pytest.mark.parametrize("kind", ["api_key", "access_token"])
def test_operator_routes_take_both_forms(g, kind):
    token = g.ops_key if kind == "api_key" else access_token(g, g.ops_client)
    for header in forms(token):
        r = call(g, "GET", "/metrics", header)
        assert r.status_code == 200, (header, r.text)
        assert "grantd_" in r.text


@pytest.mark.parametrize("template", [
    '"{t}',            # unbalanced
    '{t}"',
    '""{t}""',         # two pairs
    '"{t}" extra',
    "'{t}'",           # single quotes are not quotes here
    '"{t}"x"',
    '""',
    '"',
])
def test_malformed_headers_are_still_refused(g, template):
    before = g.snapshot()
    for token in prime_tokens(g).values():
        header = "Bearer " + template.format(t=token)
        body = {"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "t-bad"}
        r = call(g, "POST", FULFILL, header, json=body)
        assert r.status_code == 401, (header, r.text)
        assert r.headers["WWW-Authenticate"] == BEARER_INVALID
        assert r.json()["error"]["code"] == "Unauthorized"
    assert g.snapshot() == before


def test_quoted_wrong_key_is_401_and_scope_still_applies(g):
    r = call(g, "GET", "/metrics", 'Bearer "gdk_not_a_real_key"')
    assert r.status_code == 401
    # a quoted partner key on a Prime Gaming route is a 403, not a pass
    body = {"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "t-scope"}
    r = call(g, "POST", FULFILL, f'Bearer "{g.partner_key}"', json=body)
    assert r.status_code == 403
    assert g.balance("player-1", "gold") == 0
