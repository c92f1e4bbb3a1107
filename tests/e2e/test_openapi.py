"""docs/openapi.yaml against the server: it names every route of the
router table and no other, GET /openapi.yaml serves it byte for byte, and
real answers of a running grantd validate against the schemas it gives for
their route and status."""
import re

import pytest
import yaml
from jsonschema import Draft202012Validator, RefResolver

from conftest import REPO, ready
from pull_util import pull_grantd

DOC_PATH = REPO / "docs" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# `{ HTTP_GET, "/v1/...", ...` in a route table (src/app/routes.c, and the
# sources' tables it appends)
ROUTE_RE = re.compile(r'\{\s*HTTP_(GET|PUT|POST|DELETE|PATCH)\s*,\s*"(/[^"]*)"')


@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(DOC_PATH.read_text())


def normalise(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def router_routes():
    """The (method, path) pairs of every route table in src/."""
    found = set()
    for c in sorted((REPO / "src").rglob("*.c")):
        for m in ROUTE_RE.finditer(c.read_text()):
            found.add((m.group(1).lower(), normalise(m.group(2))))
    return found


def documented_routes(doc):
    return {(method, normalise(path))
            for path, item in doc["paths"].items()
            for method in item if method in METHODS}


def test_document_names_exactly_the_routers_routes(doc):
    routes = router_routes()
    # the router table really was found (routes.c and the sources' tables)
    assert ("post", "/oauth2/token") in routes
    assert ("get", "/v1/gamepot/{}/coupon") in routes
    assert ("post", "/v1/primegaming/fulfillment") in routes
    assert ("get", "/openapi.yaml") in routes
    documented = documented_routes(doc)
    assert sorted(routes - documented) == [], "routes not in docs/openapi.yaml"
    assert sorted(documented - routes) == [], "documented routes no router has"


def test_every_operation_is_described(doc):
    ids = set()
    for path, item in doc["paths"].items():
        for method in (m for m in item if m in METHODS):
            op = item[method]
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            assert "security" in op, where
            assert op["operationId"] not in ids, where
            ids.add(op["operationId"])
            # every path parameter is declared (on the path or the operation)
            params = {p["name"] for p in item.get("parameters", []) +
                      op.get("parameters", []) if "$ref" not in p}
            params |= {doc["components"]["parameters"][
                p["$ref"].rsplit("/", 1)[1]]["name"]
                for p in item.get("parameters", []) + op.get("parameters", [])
                if "$ref" in p}
            for name in re.findall(r"\{([^}]*)\}", path):
                assert name in params, f"{where}: {{{name}}} not declared"


def test_served_document_is_the_file(grantd):
    r = grantd.request("GET", "/openapi.yaml")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/yaml"
    assert r.content == DOC_PATH.read_bytes()
    assert grantd.request("HEAD", "/openapi.yaml").status_code == 200


# ---- real answers against the schemas ------------------------------------

def deref(doc, obj):
    while "$ref" in obj:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj


class Checker:
    """Validates answers against the document; counts what it checked."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = RefResolver.from_schema(doc)
        self.checked = set()

    def __call__(self, r, method, template, status=None):
        """r: a requests answer to `method` on the path `template`."""
        if status is not None:
            assert r.status_code == status, (method, template, r.text)
        op = self.doc["paths"][template][method.lower()]
        code = str(r.status_code)
        assert code in op["responses"], \
            f"{method} {template}: status {code} is not documented ({r.text})"
        resp = deref(self.doc, op["responses"][code])
        self.checked.add((method.lower(), template, code))
        content = resp.get("content")
        if not content:
            assert r.content == b"", (method, template, code)
            return None
        ctype = r.headers["Content-Type"].split(";")[0].strip()
        assert ctype in content, (method, template, code, ctype)
        if ctype != "application/json":
            return r.text
        body = r.json()
        Draft202012Validator(content[ctype]["schema"],
                             resolver=self.resolver).validate(body)
        return body


@pytest.fixture
def check(doc):
    return Checker(doc)


def test_answers_validate_against_the_schemas(make_grantd, check):
    g = ready(make_grantd(), operator=True)
    pk = g.partner_key
    acct = "/v1/accounts/{account_id}"

    # accounts
    check(g.request("PUT", "/v1/accounts/player-2", key=pk,
                    json={"state": "active"}), "PUT", acct, 201)
    check(g.request("PUT", "/v1/accounts/player-2", key=pk,
                    json={"state": "suspended"}), "PUT", acct, 200)
    body = check(g.request("GET", "/v1/accounts/player-2", key=pk),
                 "GET", acct, 200)
    assert body["state"] == "suspended"
    body = check(g.request("GET", "/v1/accounts/nobody", key=pk),
                 "GET", acct, 404)
    assert body["error"]["code"] == "AccountNotFound"
    check(g.request("PUT", "/v1/accounts/player-2", key=pk,
                    json={"state": "asleep"}), "PUT", acct, 400)
    check(g.request("PUT", "/v1/accounts/player-2", key=pk, data="x",
                    headers={"Content-Type": "text/plain"}), "PUT", acct, 415)
    # no credential, an unknown one, a credential without the scope
    check(g.request("GET", "/v1/accounts/player-1"), "GET", acct, 401)
    check(g.request("GET", "/v1/accounts/player-1", key="gdk_nothing"),
          "GET", acct, 401)
    check(g.request("GET", "/v1/accounts/player-1", key=g.prime_key),
          "GET", acct, 403)

    # Prime Gaming fulfilment: 200, 400 (not in the catalog), 409
    pg = "/v1/primegaming/fulfillment"
    assert check(g.fulfill("player-1", "pg_gold_100", "oa-1"),
                 "POST", pg, 200) == {}
    assert check(g.fulfill("player-1", "pg_gold_100", "oa-1"),
                 "POST", pg, 200) == {}
    body = check(g.fulfill("player-1", "no_such_sku", "oa-2"), "POST", pg, 400)
    assert body["error"]["code"] == "InvalidSku"
    body = check(g.fulfill("player-1", "pg_starter", "oa-1"), "POST", pg, 409)
    assert body["error"]["code"] == "TransactionConflict"
    body = check(g.fulfill("player-2", "pg_gold_100", "oa-3"), "POST", pg, 400)
    assert body["error"]["code"] == "AccountStateError"
    check(g.request("POST", pg, key=g.prime_key, json={"sku": 1}),
          "POST", pg, 400)
    check(g.request("POST", pg, key=pk, json={}), "POST", pg, 403)

    # inventory and history (a completed and two failed records)
    body = check(g.request("GET", f"/v1/accounts/player-1/inventory", key=pk),
                 "GET", acct + "/inventory", 200)
    assert body["stackables"]
    check(g.request("GET", "/v1/accounts/nobody/inventory", key=pk),
          "GET", acct + "/inventory", 404)
    hist = acct + "/entitlements/history"
    body = check(g.request("GET", "/v1/accounts/player-1/entitlements/history",
                           key=pk), "GET", hist, 200)
    assert {r["provider_entitlement_record_status"]
            for r in body["provider_entitlement_records"]} == \
        {"completed", "failed"}
    check(g.request("GET", "/v1/accounts/player-2/entitlements/history",
                    key=pk), "GET", hist, 200)
    check(g.request("GET", "/v1/accounts/player-1/entitlements/history",
                    key=pk, params={"page_size": 0}), "GET", hist, 400)

    # links
    link = acct + "/links/{provider}"
    steam_id = "76561197960287930"
    check(g.request("PUT", "/v1/accounts/player-1/links/steam", key=pk,
                    json={"external_id": steam_id}), "PUT", link, 201)
    check(g.request("PUT", "/v1/accounts/player-1/links/steam", key=pk,
                    json={"external_id": steam_id}), "PUT", link, 200)
    body = check(g.request("PUT", "/v1/accounts/player-2/links/steam", key=pk,
                           json={"external_id": steam_id}), "PUT", link, 409)
    assert body["error"]["code"] == "AlreadyLinked"
    check(g.request("PUT", "/v1/accounts/player-1/links/myspace", key=pk,
                    json={"external_id": "x"}), "PUT", link, 404)
    check(g.request("PUT", "/v1/accounts/player-1/links/steam", key=pk,
                    json={"external_id": steam_id, "x": 1}), "PUT", link, 400)
    body = check(g.request("GET", "/v1/accounts/player-1/links", key=pk),
                 "GET", acct + "/links", 200)
    assert [x["provider"] for x in body["links"]] == ["steam"]
    check(g.request("GET", "/v1/accounts/nobody/links", key=pk),
          "GET", acct + "/links", 404)
    check(g.request("DELETE", "/v1/accounts/player-1/links/steam", key=pk),
          "DELETE", link, 204)
    body = check(g.request("DELETE", "/v1/accounts/player-1/links/steam",
                           key=pk), "DELETE", link, 404)
    assert body["error"]["code"] == "LinkNotFound"

    # sync with no links, link tokens and the browser flow while linking is off
    body = check(g.request("POST", "/v1/accounts/player-1/entitlements/sync",
                           key=pk), "POST", acct + "/entitlements/sync", 200)
    assert body == {"fulfilled": [], "unfulfilled": []}
    check(g.request("POST", "/v1/accounts/nobody/entitlements/sync", key=pk),
          "POST", acct + "/entitlements/sync", 404)
    check(g.request("POST", "/v1/accounts/player-1/link-tokens", key=pk),
          "POST", acct + "/link-tokens", 404)
    check(g.request("GET", "/v1/link/primegaming/start",
                    params={"link_token": "glt_x", "return_to": "https://a/"},
                    allow_redirects=False),
          "GET", "/v1/link/{provider}/start", 404)
    check(g.request("GET", "/v1/link/primegaming/callback",
                    params={"state": "x", "code": "y"},
                    allow_redirects=False),
          "GET", "/v1/link/{provider}/callback", 404)

    # GAMEPOT and TentuPlay routes, not configured here
    login = acct + "/gamepot/login"
    body = check(g.request("GET", "/v1/accounts/player-1/gamepot/login",
                           key=pk), "GET", login, 404)
    assert body["error"]["code"] == "LoginValidationNotFound"
    body = check(g.request("POST", "/v1/accounts/player-1/gamepot/login",
                           key=pk, json={"member_id": "m-1", "token": "t"}),
                 "POST", login, 503)
    assert body["error"]["code"] == "GamepotNotConfigured"
    check(g.request("POST", "/v1/accounts/player-1/gamepot/login", key=pk,
                    json={"token": "t"}), "POST", login, 400)
    pay = acct + "/gamepot/external-payments"
    check(g.request("POST", "/v1/accounts/player-1/gamepot/external-payments",
                    key=pk, json={"store": "tpay"}), "POST", pay, 400)
    check(g.request("POST", "/v1/accounts/player-1/gamepot/external-payments",
                    key=pk, json={
                        "store": "tpay", "product_id": "p", "currency": "KRW",
                        "transaction_id": "t-1", "price": 1000,
                        "payment_id": "prepaid"}), "POST", pay, 503)
    check(g.request("POST", "/v1/accounts/player-1/offers/verify", key=pk,
                    json={"offer_id": 10}), "POST", acct + "/offers/verify",
          503)
    check(g.request("POST", "/v1/accounts/player-1/offers/verify", key=pk,
                    json={"offer_id": -1}), "POST", acct + "/offers/verify",
          400)
    check(g.request("POST", "/v1/accounts/player-1/offers/0/redeem", key=pk,
                    json={"sku": "x"}),
          "POST", acct + "/offers/{offer_id}/redeem", 400)
    hook = "/v1/gamepot/{webhook_secret}/purchase"
    body = check(g.request("GET", "/v1/gamepot/wrong/purchase",
                           params={"userId": "player-1"}), "GET", hook, 404)
    assert body["error"]["code"] == "NotFound"

    # events and revocations
    events = check(g.request("GET", "/v1/events", key=pk),
                   "GET", "/v1/events", 200)
    assert "grant.created" in {e["type"] for e in events["events"]}
    check(g.request("GET", "/v1/events", key=pk,
                    params={"after": events["next_cursor"], "limit": 1}),
          "GET", "/v1/events", 200)
    check(g.request("GET", "/v1/events", key=pk, params={"after": "x"}),
          "GET", "/v1/events", 400)
    records = g.history("player-1")
    done = next(r["fulfillment_id"] for r in records
                if r["provider_entitlement_record_status"] == "completed")
    failed = next(r["fulfillment_id"] for r in records
                  if r["provider_entitlement_record_status"] == "failed")
    revoke = "/v1/fulfillments/{fulfillment_id}/revoke"
    for key in (pk, g.ops_key):  # the second is a replay
        body = check(g.request("POST", f"/v1/fulfillments/{done}/revoke",
                               key=key, json={"reason": "refunded"}),
                     "POST", revoke, 200)
        assert body["removed"]["stackables"]
    body = check(g.request("POST", f"/v1/fulfillments/{failed}/revoke",
                           key=pk, json={"reason": "x"}), "POST", revoke, 409)
    assert body["error"]["code"] == "NotGranted"
    check(g.request("POST", "/v1/fulfillments/f_0000000000000999/revoke",
                    key=pk, json={"reason": "x"}), "POST", revoke, 404)
    check(g.request("POST", f"/v1/fulfillments/{done}/revoke", key=pk,
                    json={"reason": ""}), "POST", revoke, 400)
    check(g.request("POST", f"/v1/fulfillments/{done}/revoke",
                    key=g.prime_key, json={"reason": "x"}),
          "POST", revoke, 403)
    body = check(g.request("GET", hist.replace("{account_id}", "player-1"),
                           key=pk), "GET", hist, 200)
    assert "revoked" in {r["provider_entitlement_record_status"]
                         for r in body["provider_entitlement_records"]}
    check(g.request("GET", "/v1/events", key=pk), "GET", "/v1/events", 200)

    # OAuth: a client that does not authenticate
    body = check(g.request("POST", "/oauth2/token",
                           data={"grant_type": "client_credentials"}),
                 "POST", "/oauth2/token", 401)
    assert body["error"] == "invalid_client"

    # operations
    check(g.request("GET", "/healthz"), "GET", "/healthz", 200)
    check(g.request("GET", "/readyz"), "GET", "/readyz", 200)
    text = check(g.request("GET", "/metrics", key=g.ops_key),
                 "GET", "/metrics", 200)
    assert "grantd_http_requests_total" in text
    check(g.request("GET", "/metrics", key=pk), "GET", "/metrics", 403)
    check(g.request("GET", "/metrics"), "GET", "/metrics", 401)
    outbox = "/v1/operator/outbox"
    check(g.request("GET", outbox, key=g.ops_key), "GET", outbox, 200)
    check(g.request("GET", outbox, key=g.ops_key, params={"status": "dead"}),
          "GET", outbox, 200)
    check(g.request("GET", outbox, key=g.ops_key, params={"status": "x"}),
          "GET", outbox, 400)
    check(g.request("GET", outbox, key=pk), "GET", outbox, 403)
    retry = "/v1/operator/outbox/{id}/retry"
    check(g.request("POST", "/v1/operator/outbox/abc/retry", key=g.ops_key),
          "POST", retry, 404)
    check(g.request("POST", "/v1/operator/outbox/999/retry", key=g.ops_key),
          "POST", retry, 409)
    body = check(g.request("POST", "/v1/operator/outbox/retry-dead",
                           key=g.ops_key),
                 "POST", "/v1/operator/outbox/retry-dead", 200)
    assert body == {"retried": 0}
    give_up = "/v1/operator/outbox/{id}/give-up"
    check(g.request("POST", "/v1/operator/outbox/999/give-up", key=g.ops_key,
                    json={"reason": "x"}), "POST", give_up, 409)
    check(g.request("POST", "/v1/operator/outbox/abc/give-up", key=g.ops_key,
                    json={"reason": "x"}), "POST", give_up, 404)
    check(g.request("POST", "/v1/operator/outbox/999/give-up", key=g.ops_key,
                    json={}), "POST", give_up, 400)
    # support staff's fulfilment routes
    search = "/v1/operator/fulfillments"
    body = check(g.request("GET", search, key=g.ops_key,
                           params={"limit": 2}), "GET", search, 200)
    fid = body["fulfillments"][0]["fulfillment_id"]
    check(g.request("GET", search, key=g.ops_key,
                    params={"status": "x"}), "GET", search, 400)
    one = "/v1/operator/fulfillments/{fulfillment_id}"
    check(g.request("GET", f"{search}/{fid}", key=g.ops_key), "GET", one, 200)
    check(g.request("GET", f"{search}/f_00000000000fffff", key=g.ops_key),
          "GET", one, 404)
    hist = "/v1/operator/accounts/{account_id}/entitlements/history"
    check(g.request("GET", "/v1/operator/accounts/player-1/entitlements/history",
                    key=g.ops_key), "GET", hist, 200)
    state = "/v1/operator/accounts/{account_id}/state"
    check(g.request("PUT", "/v1/operator/accounts/player-2/state",
                    key=g.ops_key, json={"state": "banned", "reason": "r"}),
          "PUT", state, 200)
    check(g.request("PUT", "/v1/operator/accounts/ghost/state", key=g.ops_key,
                    json={"state": "banned", "reason": "r"}), "PUT", state, 404)
    check(g.request("GET", "/openapi.yaml"), "GET", "/openapi.yaml", 200)

    # a good share of the document was exercised
    assert len({(m, t) for m, t, _ in check.checked}) >= 27


def test_outbox_deliveries_validate(make_grantd, check, fake_twitch):
    """A listed delivery (a sync queued by a Twitch link) and a retry."""

    g = pull_grantd(make_grantd, fake_twitch)
    ops = g.create_key("ops", "operator")
    r = g.request("PUT", "/v1/accounts/player-1/links/twitch",
                  key=g.partner_key, json={"external_id": "25009227"})
    check(r, "PUT", "/v1/accounts/{account_id}/links/{provider}", 201)
    g.outbox_settled()
    body = check(g.request("GET", "/v1/operator/outbox", key=ops),
                 "GET", "/v1/operator/outbox", 200)
    assert [d["kind"] for d in body["deliveries"]] == ["sync.twitch"]
    assert body["deliveries"][0]["status"] == "delivered"
    check(g.request("GET", "/v1/operator/outbox", key=ops,
                    params={"limit": 1}), "GET", "/v1/operator/outbox", 200)
