"""OAuth 2.0 client credentials (RFC 6749 §4.4, §5): a real OAuth client
library fetches tokens, every §5.2 error, the access token's claims, and
every way a token must be refused (expired, unknown key or kid, alg none,
wrong audience or issuer, revoked client, widened scope), signing key
rotation with SIGHUP, client secret rotation, and secrets kept out of logs."""
import hashlib
import hmac
import json
import os
import re
import signal
import time

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from conftest import ready
from oauth_util import (
    FULFILL, TOKEN_PATH, access_token, assert_invalid_token, assert_no_store,
    assert_not_logged, assert_oauth_error, b64url, claims_for, clients_list,
    configure_oauth, create_client, decode_jwt, fetch_token, forge_jwt,
    fulfill_with, hs256_header, known_secrets, new_signing_secret, oauth_ready,
    revoke_client, rotate_client_secret, token_request, verify_hs256,
    wait_for_client, wait_until, write_signing_keys)

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def og(make_grantd):
    """A running grantd with OAuth on (one signing key "k1"), API keys
    prime/backend, clients prime-oauth (fulfillment:primegaming) and
    backend-oauth (partner), and the account player-1. At the end, no
    key, secret or token the test used may be in its logs."""
    g = oauth_ready(make_grantd)
    yield g
    if g.proc is not None:
        g.stop()
    assert_not_logged(g, known_secrets(g))


def creds(c):
    return (c["client_id"], c["client_secret"])


def fulfilment_rows(g, tid):
    with g.db() as c:
        return c.execute("SELECT count(*) FROM fulfillments WHERE external_id = ?",
                         (tid,)).fetchone()[0]


# ---- a real OAuth client library ------------------------------------------------------

def _session_recording(client_id, seen, scope=None):
    sess = OAuth2Session(client=BackendApplicationClient(client_id=client_id, scope=scope),
                         scope=scope)
    sess.hooks["response"].append(lambda r, *a, **k: seen.append(r.request))
    return sess


def test_requests_oauthlib_with_http_basic(og, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback
    c = og.clients["prime-oauth"]
    seen = []
    sess = _session_recording(c["client_id"], seen)
    token = sess.fetch_token(token_url=og.url(TOKEN_PATH), client_id=c["client_id"],
                             client_secret=c["client_secret"])
    og.__dict__.setdefault("issued_tokens", []).append(token["access_token"])
    # the library really used client_secret_basic
    [tr] = seen
    assert tr.headers["Authorization"].startswith("Basic ")
    assert "client_secret" not in (tr.body or "")
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 900
    assert token["scope"] in (["fulfillment:primegaming"], "fulfillment:primegaming")
    r = sess.post(og.url(FULFILL), timeout=10,
                  json={"account_id": "player-1", "sku": "pg_gold_100",
                        "transaction_id": "oauth-basic-1"})
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert seen[-1].headers["Authorization"] == "Bearer " + token["access_token"]
    assert og.balance("player-1", "gold") == 100
    [rec] = og.history("player-1")
    assert rec["external_id"] == "oauth-basic-1"
    assert rec["provider_entitlement_record_status"] == "completed"


def test_requests_oauthlib_with_body_authentication(og, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    c = og.clients["prime-oauth"]
    seen = []
    sess = _session_recording(c["client_id"], seen, scope=["fulfillment:primegaming"])
    token = sess.fetch_token(token_url=og.url(TOKEN_PATH), client_id=c["client_id"],
                             client_secret=c["client_secret"], include_client_id=True)
    og.__dict__.setdefault("issued_tokens", []).append(token["access_token"])
    [tr] = seen
    assert "Authorization" not in tr.headers  # client_secret_post only
    body = dict(p.split("=", 1) for p in tr.body.split("&"))
    assert body["client_id"] == c["client_id"]
    assert body["client_secret"] == c["client_secret"]
    assert body["grant_type"] == "client_credentials"
    assert token["token_type"] == "Bearer"
    r = sess.post(og.url(FULFILL), timeout=10,
                  json={"account_id": "player-1", "sku": "pg_starter",
                        "transaction_id": "oauth-body-1"})
    assert r.status_code == 200, r.text
    assert og.balance("player-1", "gold") == 100
    # a retry with the same token is a replay: nothing more is granted
    r = sess.post(og.url(FULFILL), timeout=10,
                  json={"account_id": "player-1", "sku": "pg_starter",
                        "transaction_id": "oauth-body-1"})
    assert r.status_code == 200 and r.json() == {}
    assert og.balance("player-1", "gold") == 100


def test_access_token_works_on_every_partner_route(og):
    token = access_token(og, og.clients["backend-oauth"])
    assert og.request("PUT", "/v1/accounts/player-9", key=token,
                      json={"state": "active"}).status_code == 201
    for path in ("/v1/accounts/player-9", "/v1/accounts/player-9/inventory",
                 "/v1/accounts/player-9/entitlements/history"):
        r = og.request("GET", path, key=token)
        assert r.status_code == 200, (path, r.text)
    assert og.request("PUT", "/v1/accounts/player-9", key=token,
                      json={"state": "suspended"}).status_code == 200
    # the partner token has no fulfilment scope and no operator scope
    r = fulfill_with(og, token, "player-1", "pg_gold_100", "oauth-partner-1")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "Forbidden"
    assert "insufficient_scope" in r.headers["WWW-Authenticate"]
    assert og.request("GET", "/metrics", key=token).status_code == 403
    assert fulfilment_rows(og, "oauth-partner-1") == 0


def test_request_log_names_the_client_not_the_token(og):
    c = og.clients["prime-oauth"]
    token = access_token(og, c)
    r = fulfill_with(og, token, "player-1", "pg_gold_100", "oauth-log-1",
                     headers={"X-Request-Id": "oauth-log-1"})
    assert r.status_code == 200
    line = wait_until(lambda: [l for l in og.log_lines("request")
                               if l.get("request_id") == "oauth-log-1"], 5,
                      what="request log line")[0]
    assert line["credential"] == "prime-oauth"
    assert line["credential_id"] == c["client_id"]
    assert token not in json.dumps(line)


# ---- the token answer and the JWT ----------------------------------------------------------

def test_token_answer_and_claims(og):
    c = og.clients["prime-oauth"]
    t0 = time.time()
    r = token_request(og, CC, auth=creds(c))
    t1 = time.time()
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert_no_store(r)
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "fulfillment:primegaming"
    header, claims, sig = decode_jwt(body["access_token"])
    assert header["alg"] == "HS256"
    assert header["kid"] == "k1"
    assert header.get("typ", "JWT") == "JWT"
    assert len(sig) == 32
    kid, secret = og.signing_keys[0]
    assert verify_hs256(body["access_token"], secret), "not HS256 under the k1 key"
    assert {"iss", "sub", "aud", "iat", "exp", "jti", "scope"} <= set(claims)
    assert claims["iss"] == "grantd"
    assert claims["sub"] == c["client_id"]
    assert claims["aud"] == "grantd"
    assert int(t0) - 1 <= claims["iat"] <= t1 + 1
    assert claims["exp"] == claims["iat"] + 900
    assert claims["scope"] == "fulfillment:primegaming"
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    # every token is a new one
    other = fetch_token(og, c)["access_token"]
    assert other != body["access_token"]
    assert decode_jwt(other)[1]["jti"] != claims["jti"]


def test_issuer_audience_and_ttl_come_from_config(make_grantd):
    g = oauth_ready(make_grantd, auth={"issuer": "https://grantd.example",
                                       "audience": "primegaming", "token_ttl_seconds": 60})
    c = g.clients["prime-oauth"]
    body = fetch_token(g, c)
    assert body["expires_in"] == 60
    _, claims, _ = decode_jwt(body["access_token"])
    assert claims["iss"] == "https://grantd.example"
    assert claims["aud"] == "primegaming"
    assert claims["exp"] - claims["iat"] == 60
    assert fulfill_with(g, body["access_token"], "player-1", "pg_gold_100",
                        "oauth-iss-1").status_code == 200
    # a token with the default issuer and audience is not one of this server's
    kid, secret = g.signing_keys[0]
    forged = forge_jwt(hs256_header(kid), claims_for(c["client_id"], "fulfillment:primegaming"),
                       secret)
    assert_invalid_token(fulfill_with(g, forged, "player-1", "pg_gold_100", "oauth-iss-2"))
    good = forge_jwt(hs256_header(kid), claims_for(
        c["client_id"], "fulfillment:primegaming", issuer="https://grantd.example",
        audience="primegaming"), secret)
    assert fulfill_with(g, good, "player-1", "pg_gold_100", "oauth-iss-3").status_code == 200


def test_scope_parameter_narrows_the_token(og):
    both = wait_for_client(og, create_client(og, "both", "fulfillment:primegaming", "partner"))
    full = fetch_token(og, both)
    assert set(full["scope"].split(" ")) == {"fulfillment:primegaming", "partner"}
    assert set(decode_jwt(full["access_token"])[1]["scope"].split(" ")) == \
        {"fulfillment:primegaming", "partner"}
    narrow = fetch_token(og, both, scope="partner")
    assert narrow["scope"] == "partner"
    assert decode_jwt(narrow["access_token"])[1]["scope"] == "partner"
    assert og.request("GET", "/v1/accounts/player-1",
                      key=narrow["access_token"]).status_code == 200
    r = fulfill_with(og, narrow["access_token"], "player-1", "pg_gold_100", "oauth-narrow")
    assert r.status_code == 403
    assert fulfilment_rows(og, "oauth-narrow") == 0
    # the full token does both
    assert fulfill_with(og, full["access_token"], "player-1", "pg_gold_100",
                        "oauth-full").status_code == 200
    assert og.request("GET", "/v1/accounts/player-1",
                      key=full["access_token"]).status_code == 200
    # both scopes named explicitly, in the other order
    r = token_request(og, {**CC, "scope": "partner fulfillment:primegaming"}, auth=creds(both))
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split(" ")) == {"fulfillment:primegaming", "partner"}


def test_basic_with_the_same_body_client_id_is_allowed(og):
    c = og.clients["prime-oauth"]
    r = token_request(og, {**CC, "client_id": c["client_id"]}, auth=creds(c))
    assert r.status_code == 200, r.text
    assert_no_store(r)


def test_unknown_parameters_are_ignored(og):
    c = og.clients["prime-oauth"]
    r = token_request(og, {**CC, "audience": "x", "resource": "y"}, auth=creds(c))
    assert r.status_code == 200, r.text


def test_basic_credentials_are_form_urlencoded(og):
    """client_secret_basic: base64(urlencode(id) ":" urlencode(secret)). The
    ids and secrets need no escaping, but an escaped one must decode."""
    import base64
    c = og.clients["prime-oauth"]
    # '_' needs no escaping, so %5F must decode to it (RFC 6749 §2.3.1)
    cid = c["client_id"].replace("_", "%5F")
    raw = base64.b64encode(f"{cid}:{c['client_secret']}".encode()).decode()
    r = token_request(og, CC, headers={"Authorization": "Basic " + raw})
    assert r.status_code == 200, r.text


# ---- RFC 6749 §5.2 errors ----------------------------------------------------------------

def _invalid_request_cases(g):
    c = g.clients["prime-oauth"]
    cid, sec = creds(c)
    basic = creds(c)
    other = g.clients["backend-oauth"]["client_id"]
    return {
        "json-content-type": dict(body=json.dumps({"grant_type": "client_credentials",
                                                   "client_id": cid, "client_secret": sec}),
                                  headers={"Content-Type": "application/json"}),
        "text-content-type": dict(body=f"grant_type=client_credentials&client_id={cid}"
                                       f"&client_secret={sec}",
                                  headers={"Content-Type": "text/plain"}),
        "no-content-type": dict(body=f"grant_type=client_credentials&client_id={cid}"
                                     f"&client_secret={sec}",
                                headers={"Content-Type": None}),
        "missing-grant-type": dict(data={"scope": "fulfillment:primegaming"}, auth=basic),
        "missing-grant-type-body-auth": dict(data={"client_id": cid, "client_secret": sec}),
        "empty-body": dict(body="", auth=basic),
        "duplicate-grant-type": dict(data=[("grant_type", "client_credentials"),
                                           ("grant_type", "client_credentials")], auth=basic),
        "duplicate-scope": dict(data=[("grant_type", "client_credentials"),
                                      ("scope", "fulfillment:primegaming"),
                                      ("scope", "fulfillment:primegaming")], auth=basic),
        "duplicate-client-id": dict(data=[("grant_type", "client_credentials"),
                                          ("client_id", cid), ("client_id", cid),
                                          ("client_secret", sec)]),
        "duplicate-client-secret": dict(data=[("grant_type", "client_credentials"),
                                              ("client_id", cid), ("client_secret", sec),
                                              ("client_secret", sec)]),
        "basic-and-body-secret": dict(data={**CC, "client_secret": sec}, auth=basic),
        "basic-and-body-id-and-secret": dict(data={**CC, "client_id": cid,
                                                   "client_secret": sec}, auth=basic),
        "basic-and-other-body-id": dict(data={**CC, "client_id": other}, auth=basic),
        "malformed-escape": dict(body="grant_type=client_credentials&scope=%zz", auth=basic),
    }


INVALID_REQUEST = ["json-content-type", "text-content-type", "no-content-type",
                   "missing-grant-type", "missing-grant-type-body-auth", "empty-body",
                   "duplicate-grant-type", "duplicate-scope", "duplicate-client-id",
                   "duplicate-client-secret", "basic-and-body-secret",
                   "basic-and-body-id-and-secret", "basic-and-other-body-id",
                   "malformed-escape"]


def test_invalid_request(og):
    cases = _invalid_request_cases(og)
    assert sorted(cases) == sorted(INVALID_REQUEST)
    failures = []
    for name in INVALID_REQUEST:
        r = token_request(og, **cases[name])
        try:
            assert_oauth_error(r, "invalid_request")
        except AssertionError as e:
            failures.append(f"{name}: {e}")
    assert not failures, "\n".join(failures)


def test_invalid_request_comes_before_invalid_client(og):
    # no client authentication at all, and no grant_type: the request is malformed first
    assert_oauth_error(token_request(og, {"scope": "partner"}), "invalid_request")
    # an unknown client with a duplicate parameter
    r = token_request(og, [("grant_type", "client_credentials"),
                           ("grant_type", "client_credentials")],
                      auth=("client_0000000000000000", "gdcs_" + "A" * 43))
    assert_oauth_error(r, "invalid_request")


def test_invalid_client(og):
    c = og.clients["prime-oauth"]
    cid, sec = creds(c)
    other = og.clients["backend-oauth"]
    cases = {
        "no-authentication": dict(data=CC),
        "body-id-without-secret": dict(data={**CC, "client_id": cid}),
        "basic-unknown-client": dict(data=CC, auth=("client_0123456789abcdef", sec)),
        "basic-wrong-secret": dict(data=CC, auth=(cid, "gdcs_" + "B" * 43)),
        "basic-other-clients-secret": dict(data=CC, auth=(cid, other["client_secret"])),
        "basic-empty-secret": dict(data=CC, auth=(cid, "")),
        "body-wrong-secret": dict(data={**CC, "client_id": cid,
                                        "client_secret": sec[:-1] + ("A" if sec[-1] != "A" else "B")}),
        "body-unknown-client": dict(data={**CC, "client_id": "client_ffffffffffffffff",
                                          "client_secret": sec}),
        "api-key-as-client-secret": dict(data=CC, auth=(cid, og.prime_key)),
        "wrong-secret-bad-grant-type": dict(data={"grant_type": "password"},
                                            auth=(cid, "gdcs_" + "C" * 43)),
        "wrong-secret-bad-scope": dict(data={**CC, "scope": "admin"},
                                       auth=(cid, "gdcs_" + "C" * 43)),
    }
    failures = []
    for name, kw in cases.items():
        r = token_request(og, **kw)
        try:
            assert_oauth_error(r, "invalid_client", 401)
        except AssertionError as e:
            failures.append(f"{name}: {e}")
    assert not failures, "\n".join(failures)


def test_unsupported_grant_type(og):
    c = og.clients["prime-oauth"]
    for gt in ("password", "authorization_code", "refresh_token", "Client_Credentials"):
        r = token_request(og, {"grant_type": gt}, auth=creds(c))
        assert_oauth_error(r, "unsupported_grant_type")
    # body authentication too, and before scope checks
    r = token_request(og, {"grant_type": "implicit", "scope": "admin",
                           "client_id": c["client_id"], "client_secret": c["client_secret"]})
    assert_oauth_error(r, "unsupported_grant_type")
    # and before unauthorized_client
    key = og.keys["prime"]
    r = token_request(og, {"grant_type": "password"}, auth=(key["id"], key["key"]))
    assert_oauth_error(r, "unsupported_grant_type")


def test_unauthorized_client_for_an_api_key(og):
    key = og.keys["prime"]
    assert re.fullmatch(r"key_[0-9a-f]{16}", key["id"])
    assert_oauth_error(token_request(og, CC, auth=(key["id"], key["key"])),
                       "unauthorized_client")
    assert_oauth_error(token_request(og, {**CC, "client_id": key["id"],
                                          "client_secret": key["key"]}),
                       "unauthorized_client")
    # before invalid_scope
    assert_oauth_error(token_request(og, {**CC, "scope": "admin"},
                                     auth=(key["id"], key["key"])),
                       "unauthorized_client")
    # an API key id with a wrong key is no authentication at all
    assert_oauth_error(token_request(og, CC, auth=(key["id"], "gdk_" + "A" * 43)),
                       "invalid_client", 401)


def test_invalid_scope(og):
    prime = og.clients["prime-oauth"]
    for scope in ("admin", "partner", "operator", "fulfillment:primegaming partner",
                  "Fulfillment:PrimeGaming", ""):
        r = token_request(og, {**CC, "scope": scope}, auth=creds(prime))
        try:
            assert_oauth_error(r, "invalid_scope")
        except AssertionError as e:
            raise AssertionError(f"scope {scope!r}: {e}")
    # body authentication, scope escalation of the partner client
    backend = og.clients["backend-oauth"]
    r = token_request(og, {**CC, "scope": "fulfillment:primegaming",
                           "client_id": backend["client_id"],
                           "client_secret": backend["client_secret"]})
    assert_oauth_error(r, "invalid_scope")


def test_errors_change_nothing_and_issue_no_token(og):
    before = og.snapshot()
    c = og.clients["prime-oauth"]
    token_request(og, {**CC, "scope": "partner"}, auth=creds(c))
    token_request(og, {"grant_type": "password"}, auth=creds(c))
    token_request(og, CC, auth=(c["client_id"], "gdcs_" + "D" * 43))
    after = og.snapshot()
    # the audit table only gains rows for operator actions, never for a token request
    assert before == after


# ---- tokens that must be refused -----------------------------------------------------------

def _sign(alg_name, header, claims, key):
    h = b64url(json.dumps(header))
    p = b64url(json.dumps(claims))
    digest = {"HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg_name]
    sig = hmac.new(key.encode(), f"{h}.{p}".encode(), digest).digest()
    return f"{h}.{p}.{b64url(sig)}"


def test_forged_token_with_the_right_key_is_accepted(og):
    """The control for the refusals below: a hand-made token with the
    configured key and the right claims works, so each refusal is for the one
    thing changed."""
    c = og.clients["prime-oauth"]
    kid, secret = og.signing_keys[0]
    tok = forge_jwt(hs256_header(kid), claims_for(c["client_id"], "fulfillment:primegaming"),
                    secret)
    r = fulfill_with(og, tok, "player-1", "pg_gold_100", "forged-ok")
    assert r.status_code == 200, r.text


def test_refused_tokens(og):
    c = og.clients["prime-oauth"]
    cid = c["client_id"]
    kid, secret = og.signing_keys[0]
    scope = "fulfillment:primegaming"
    now = int(time.time())
    good_claims = claims_for(cid, scope)
    good = forge_jwt(hs256_header(kid), good_claims, secret)
    h, p, s = good.split(".")
    tampered_claims = dict(good_claims, sub=og.clients["backend-oauth"]["client_id"])
    cases = {
        "expired": forge_jwt(hs256_header(kid), claims_for(cid, scope, iat=now - 600,
                                                           exp=now - 5), secret),
        "expired-long-ago": forge_jwt(hs256_header(kid), claims_for(cid, scope, iat=1000,
                                                                    exp=2000), secret),
        "unknown-kid": forge_jwt(hs256_header("k9"), good_claims, secret),
        "unknown-key": forge_jwt(hs256_header(kid), good_claims, new_signing_secret()),
        "alg-none": forge_jwt({"alg": "none", "typ": "JWT", "kid": kid}, good_claims),
        "alg-none-with-signature": forge_jwt({"alg": "none", "typ": "JWT", "kid": kid},
                                             good_claims)[:-1] + "." + s,
        "alg-None": forge_jwt({"alg": "None", "typ": "JWT", "kid": kid}, good_claims),
        "alg-HS512": _sign("HS512", {"alg": "HS512", "typ": "JWT", "kid": kid},
                           good_claims, secret),
        "alg-HS384": _sign("HS384", {"alg": "HS384", "typ": "JWT", "kid": kid},
                           good_claims, secret),
        "alg-RS256-header-hs-signature": forge_jwt({"alg": "RS256", "typ": "JWT", "kid": kid},
                                                   good_claims, secret),
        "wrong-audience": forge_jwt(hs256_header(kid), claims_for(cid, scope, audience="other"),
                                    secret),
        "wrong-issuer": forge_jwt(hs256_header(kid), claims_for(cid, scope, issuer="evil"),
                                  secret),
        "unknown-client": forge_jwt(hs256_header(kid), claims_for("client_0123456789abcdef",
                                                                  scope), secret),
        "api-key-as-subject": forge_jwt(hs256_header(kid), claims_for(og.keys["prime"]["id"],
                                                                      scope), secret),
        "tampered-payload": f"{h}.{b64url(json.dumps(tampered_claims))}.{s}",
        "bad-signature": f"{h}.{p}.{s[:-2]}AA" if not s.endswith("AA") else f"{h}.{p}.{s[:-2]}BB",
        "no-signature": f"{h}.{p}.",
        "two-parts": f"{h}.{p}",
        "four-parts": f"{good}.{s}",
        "garbage": "not-a-token",
        "bad-base64": "!!!.???.***",
        "json-not-object": f"{b64url('[1]')}.{p}.{s}",
    }
    failures = []
    for name, tok in cases.items():
        tid = f"refused-{name}"
        r = fulfill_with(og, tok, "player-1", "pg_gold_100", tid)
        try:
            assert_invalid_token(r)
            assert fulfilment_rows(og, tid) == 0
        except AssertionError as e:
            failures.append(f"{name}: {e}")
    assert not failures, "\n".join(failures)
    # the server's own token is fine after all that
    assert fulfill_with(og, access_token(og, c), "player-1", "pg_gold_100",
                        "refused-after").status_code == 200
    assert og.balance("player-1", "gold") == 100


def test_token_expires_after_its_ttl(make_grantd):
    g = oauth_ready(make_grantd, auth={"token_ttl_seconds": 1})
    body = fetch_token(g, g.clients["prime-oauth"])
    assert body["expires_in"] == 1
    _, claims, _ = decode_jwt(body["access_token"])
    assert claims["exp"] - claims["iat"] == 1
    time.sleep(2.1)
    assert_invalid_token(fulfill_with(g, body["access_token"], "player-1", "pg_gold_100",
                                      "ttl-1"))
    assert fulfilment_rows(g, "ttl-1") == 0
    # a fresh one works
    assert fulfill_with(g, access_token(g, g.clients["prime-oauth"]), "player-1",
                        "pg_gold_100", "ttl-2").status_code == 200


def test_revoked_clients_tokens_stop_working(og):
    c = og.clients["prime-oauth"]
    token = access_token(og, c)
    assert fulfill_with(og, token, "player-1", "pg_gold_100", "rev-0").status_code == 200
    revoke_client(og, c["client_id"])
    t0 = time.monotonic()
    n = [0]

    def refused():
        n[0] += 1
        r = fulfill_with(og, token, "player-1", "pg_gold_100", f"rev-{n[0]}")
        return [r] if r.status_code == 401 else None  # a 401 Response is falsy

    [r] = wait_until(refused, 2.0, interval=0.05, what="revoked client's token refused")
    assert time.monotonic() - t0 <= 2.0
    assert_invalid_token(r)
    # it stays refused, and the client cannot get a new token
    assert_invalid_token(fulfill_with(og, token, "player-1", "pg_gold_100", "rev-x"))
    assert_oauth_error(token_request(og, CC, auth=creds(c)), "invalid_client", 401)
    [row] = [x for x in clients_list(og) if x["client_id"] == c["client_id"]]
    assert isinstance(row["revoked_at_millis"], int)
    # the other client is unaffected
    assert og.request("GET", "/v1/accounts/player-1",
                      key=access_token(og, og.clients["backend-oauth"])).status_code == 200


def test_forged_wider_scope_is_not_widened(og):
    c = og.clients["prime-oauth"]
    kid, secret = og.signing_keys[0]
    wide = forge_jwt(hs256_header(kid), claims_for(
        c["client_id"], "fulfillment:primegaming partner operator"), secret)
    r = og.request("GET", "/v1/accounts/player-1", key=wide)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "Forbidden"
    r = og.request("PUT", "/v1/accounts/intruder", key=wide, json={"state": "active"})
    assert r.status_code == 403
    assert og.request("GET", "/metrics", key=wide).status_code == 403
    # what the client does hold still works
    assert fulfill_with(og, wide, "player-1", "pg_gold_100", "wide-1").status_code == 200
    # a token claiming only a scope the client lacks grants nothing at all
    other = forge_jwt(hs256_header(kid), claims_for(c["client_id"], "partner"), secret)
    assert og.request("GET", "/v1/accounts/player-1", key=other).status_code == 403
    assert fulfill_with(og, other, "player-1", "pg_gold_100", "wide-2").status_code == 403
    with og.db() as db:
        assert db.execute("SELECT count(*) FROM accounts WHERE account_id='intruder'"
                          ).fetchone()[0] == 0
    assert fulfilment_rows(og, "wide-2") == 0


# ---- signing keys: rotation, reload, bad files -------------------------------------------------

def test_signing_key_rotation_with_sighup(og):
    c = og.clients["prime-oauth"]
    k1 = og.signing_keys[0]
    old = access_token(og, c)
    assert decode_jwt(old)[0]["kid"] == "k1"
    k2 = ("k2", new_signing_secret())
    og.signing_keys.append(k2)  # checked against the logs at the end
    write_signing_keys(og.signing_keys_path, [k2, k1])
    og.proc.send_signal(signal.SIGHUP)
    og.wait_log("signing_keys_reloaded", count=1)
    # the k1 token still verifies; new tokens are signed with k2
    assert fulfill_with(og, old, "player-1", "pg_gold_100", "rot-1").status_code == 200
    new = access_token(og, c)
    assert decode_jwt(new)[0]["kid"] == "k2"
    assert verify_hs256(new, k2[1])
    assert fulfill_with(og, new, "player-1", "pg_gold_100", "rot-2").status_code == 200
    # k1 removed: its tokens fail, k2's still work
    write_signing_keys(og.signing_keys_path, [k2])
    og.proc.send_signal(signal.SIGHUP)
    og.wait_log("signing_keys_reloaded", count=2)
    assert_invalid_token(fulfill_with(og, old, "player-1", "pg_gold_100", "rot-3"))
    assert fulfilment_rows(og, "rot-3") == 0
    assert fulfill_with(og, new, "player-1", "pg_gold_100", "rot-4").status_code == 200


def test_bad_signing_keys_file_on_sighup_keeps_the_keys(og):
    c = og.clients["prime-oauth"]
    token = access_token(og, c)
    og.signing_keys_path.write_text("k2 tooshort\n")
    os.chmod(og.signing_keys_path, 0o600)
    og.proc.send_signal(signal.SIGHUP)
    og.wait_log("signing_keys_reload_failed")
    assert not og.log_lines("signing_keys_reloaded")
    assert fulfill_with(og, token, "player-1", "pg_gold_100", "badkeys-1").status_code == 200
    new = access_token(og, c)
    assert decode_jwt(new)[0]["kid"] == "k1"
    assert fulfill_with(og, new, "player-1", "pg_gold_100", "badkeys-2").status_code == 200


@pytest.mark.parametrize("text,line", [
    ("# signing keys\n\nk1 {good}\nk2 short\n", 4),
    ("k1 {good}\nbad/kid {good}\n", 2),
    ("k1 {good} extra\n", 1),
    ("k1\n", 1),
    ("{longkid} {good}\n", 1),
], ids=["short-secret", "bad-kid", "three-fields", "no-secret", "kid-too-long"])
def test_bad_signing_keys_file_stops_start_up(make_grantd, text, line):
    g = make_grantd()
    configure_oauth(g)
    g.signing_keys_path.write_text(text.format(good=new_signing_secret(), longkid="k" * 65))
    os.chmod(g.signing_keys_path, 0o600)
    err = g.serve_fails()
    assert str(g.signing_keys_path) in err, err
    assert (f"{g.signing_keys_path}:{line}" in err or f"line {line}" in err), err


def test_missing_signing_keys_file_stops_start_up(make_grantd):
    g = make_grantd()
    configure_oauth(g)
    g.signing_keys_path.unlink()
    err = g.serve_fails()
    assert str(g.signing_keys_path) in err, err


def test_readable_signing_keys_file_logs_a_warning(make_grantd):
    g = make_grantd()
    configure_oauth(g)
    os.chmod(g.signing_keys_path, 0o644)
    g.start()
    [w] = g.log_lines("signing_keys_file_readable")
    assert w["level"] in ("warn", "warning"), w
    assert not [l for l in g.log_lines() if l.get("event") == "signing_keys_file_readable"
                and g.signing_keys[0][1] in json.dumps(l)]
    # it still serves tokens
    c = create_client(g, "late", "partner")
    wait_until(lambda: token_request(g, CC, auth=creds(c)).status_code == 200, 2.5,
               what="a client made while serving gets a token")


# ---- client secret rotation -------------------------------------------------------------------

def test_rotate_secret_with_grace_period(make_grantd):
    g = oauth_ready(make_grantd, auth={"client_secret_grace_seconds": 2})
    c = g.clients["prime-oauth"]
    old_secret = c["client_secret"]
    token_before = access_token(g, c)
    t0 = time.time()
    out = rotate_client_secret(g, c["client_id"])
    new_secret = out["client_secret"]
    assert new_secret != old_secret
    assert abs(out["previous_secret_expires_at_millis"] - (t0 + 2) * 1000) < 1500
    # both secrets work during the grace period (the new one once the cache has it)
    wait_until(lambda: token_request(g, CC, auth=(c["client_id"], new_secret)).status_code == 200,
               2.0, what="new secret accepted")
    assert token_request(g, CC, auth=(c["client_id"], old_secret)).status_code == 200
    # after it, only the new one
    wait_until(lambda: token_request(g, CC, auth=(c["client_id"], old_secret)).status_code == 401,
               4.0, what="old secret refused after the grace period")
    assert time.time() - t0 >= 1.9
    assert_oauth_error(token_request(g, CC, auth=(c["client_id"], old_secret)),
                       "invalid_client", 401)
    assert_oauth_error(token_request(g, {**CC, "client_id": c["client_id"],
                                         "client_secret": old_secret}),
                       "invalid_client", 401)
    assert token_request(g, CC, auth=(c["client_id"], new_secret)).status_code == 200
    # rotating the secret is not revoking the client: its tokens keep working
    assert fulfill_with(g, token_before, "player-1", "pg_gold_100", "rot-s-1").status_code == 200
    [row] = [x for x in clients_list(g) if x["client_id"] == c["client_id"]]
    assert row["previous_secret_expires_at_millis"] == out["previous_secret_expires_at_millis"]
    assert isinstance(row["secret_rotated_at_millis"], int)
    assert row["revoked_at_millis"] is None
    with g.db() as db:
        cur, prev = db.execute("SELECT secret_hash, previous_secret_hash FROM credentials"
                               " WHERE id = ?", (c["client_id"],)).fetchone()
    assert cur == hashlib.sha256(new_secret.encode()).hexdigest()
    assert prev == hashlib.sha256(old_secret.encode()).hexdigest()


def test_rotate_secret_without_grace(make_grantd):
    g = oauth_ready(make_grantd, auth={"client_secret_grace_seconds": 0})
    c = g.clients["prime-oauth"]
    old_secret = c["client_secret"]
    out = rotate_client_secret(g, c["client_id"])
    wait_until(lambda: token_request(g, CC, auth=(c["client_id"], old_secret)).status_code == 401,
               2.0, what="old secret refused at once")
    wait_until(lambda: token_request(g, CC, auth=(c["client_id"], out["client_secret"])
                                     ).status_code == 200, 2.0, what="new secret accepted")
    # a second rotation: the first new secret is now the old one, and goes at once
    out2 = rotate_client_secret(g, c["client_id"])
    wait_until(lambda: token_request(g, CC, auth=(c["client_id"], out["client_secret"])
                                     ).status_code == 401, 2.0, what="second rotation")
    wait_until(lambda: token_request(g, CC, auth=(c["client_id"], out2["client_secret"])
                                     ).status_code == 200, 2.0, what="newest secret accepted")


# ---- nothing secret in the logs -----------------------------------------------------------------

def test_no_secret_or_token_in_the_logs(make_grantd, monkeypatch):
    g = oauth_ready(make_grantd, auth={"client_secret_grace_seconds": 0},
                    config={"log": {"level": "debug"}})
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    prime, backend = g.clients["prime-oauth"], g.clients["backend-oauth"]
    secrets_ = [prime["client_secret"], backend["client_secret"], g.prime_key, g.partner_key]
    tokens = []
    # successes: Basic, body, library
    tokens.append(access_token(g, prime))
    r = token_request(g, {**CC, "client_id": backend["client_id"],
                          "client_secret": backend["client_secret"]})
    assert r.status_code == 200
    tokens.append(r.json()["access_token"])
    sess = OAuth2Session(client=BackendApplicationClient(client_id=prime["client_id"]))
    tokens.append(sess.fetch_token(token_url=g.url(TOKEN_PATH), client_id=prime["client_id"],
                                   client_secret=prime["client_secret"])["access_token"])
    for i, t in enumerate(tokens):
        fulfill_with(g, t, "player-1", "pg_gold_100", f"log-{i}")
        g.request("GET", "/v1/accounts/player-1", key=t)
    # failures with secrets in them
    wrong = "gdcs_" + "W" * 43
    secrets_.append(wrong)
    token_request(g, CC, auth=(prime["client_id"], wrong))
    token_request(g, {**CC, "client_id": prime["client_id"], "client_secret": wrong})
    token_request(g, {**CC, "client_secret": prime["client_secret"]},
                  auth=creds(prime))  # invalid_request with a real secret in the body
    token_request(g, CC, auth=(g.keys["prime"]["id"], g.prime_key))  # unauthorized_client
    token_request(g, {**CC, "scope": "partner"}, auth=creds(prime))  # invalid_scope
    kid, secret = g.signing_keys[0]
    forged = forge_jwt(hs256_header(kid), claims_for(prime["client_id"], "partner",
                                                     audience="x"), secret)
    tokens.append(forged)
    fulfill_with(g, forged, "player-1", "pg_gold_100", "log-forged")
    # rotation and revocation
    out = rotate_client_secret(g, prime["client_id"])
    secrets_.append(out["client_secret"])
    [r] = wait_until(lambda: (lambda r: [r] if r.status_code == 200 else None)(
        token_request(g, CC, auth=(prime["client_id"], out["client_secret"]))), 2.5,
        what="the new secret accepted")
    tokens.append(r.json()["access_token"])
    revoke_client(g, backend["client_id"])
    g.proc.send_signal(signal.SIGHUP)
    g.wait_log("signing_keys_reloaded")
    assert g.stop() == 0
    assert_not_logged(g, secrets_ + tokens + [secret])
    for t in tokens:
        # not even the signature part alone
        assert t.split(".")[2] not in g.stderr_path.read_text()
