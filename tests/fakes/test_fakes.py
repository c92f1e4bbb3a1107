"""Self-tests of the provider fakes: each fake is driven with requests the way
grantd will call the real provider, and every control and fault is tried."""
import base64
import json
import secrets
import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from . import (FakeEpic, FakePrimeGaming, FakeProvider, FakeSteam, FakeTwitch,
               Response, pkce_challenge)
from .fixtures import providers_config, running

T = 5                                   # every request's timeout, seconds
FORM_TYPE = "application/x-www-form-urlencoded"
CALLBACK = "http://127.0.0.1:9/link/callback"
SCOPES = {FakeTwitch: "", FakeEpic: "basic_profile",
          FakePrimeGaming: "games::prime profile"}
DROP_KEYS = {"id", "benefit_id", "timestamp", "user_id", "game_id",
             "fulfillment_status", "last_updated"}
EPIC_KEYS = {"id", "entitlementName", "namespace", "catalogItemId",
             "entitlementType", "grantDate", "consumable", "status",
             "useCount", "entitlementSource", "active"}
ITEM_KEYS = {"accountid", "itemid", "quantity", "originalitemid", "itemdefid",
             "appid", "acquired", "state", "origin", "state_changed_timestamp"}
TWITCH_401 = {"error": "Unauthorized", "status": 401,
              "message": "Invalid OAuth token"}


# ---- OAuth helpers ----------------------------------------------------------

def pkce():
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_challenge(verifier)


def authorize(fake, challenge, state="st-1", **override):
    """GET the fake's authorize endpoint as a browser would; no redirects."""
    params = {"client_id": fake.client_id, "redirect_uri": CALLBACK,
              "response_type": "code", "scope": SCOPES[type(fake)],
              "state": state, "code_challenge": challenge,
              "code_challenge_method": "S256"}
    params.update(override)
    params = {k: v for k, v in params.items() if v is not None}
    return requests.get(fake.url(fake.authorize_path), params=params,
                        allow_redirects=False, timeout=T)


def redirect_params(resp):
    """The query of a 302's Location as a dict, after checking its target."""
    assert resp.status_code == 302, resp.text
    loc = urlsplit(resp.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == CALLBACK
    return {k: v[0] for k, v in parse_qs(loc.query).items()}


def token(fake, secret=None, **form):
    """POST the token endpoint with the client authentication the provider
    uses (HTTP Basic for Epic, form fields otherwise)."""
    auth = None
    secret = secret or fake.client_secret
    if fake.client_auth == "basic":
        auth = (fake.client_id, secret)
    else:
        form = {"client_id": fake.client_id, "client_secret": secret, **form}
    return requests.post(fake.url(fake.token_path), data=form, auth=auth,
                         timeout=T)


def link(fake, user=None):
    """The whole browser flow for `user`: authorize, then code exchange.
    Returns the token answer."""
    if user is not None:
        fake.next_login(user)
    verifier, challenge = pkce()
    params = redirect_params(authorize(fake, challenge))
    r = token(fake, grant_type="authorization_code", code=params["code"],
              redirect_uri=CALLBACK, code_verifier=verifier)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(params=[FakeTwitch, FakeEpic, FakePrimeGaming],
                ids=["twitch", "epic", "primegaming"])
def oauth_fake(request):
    yield from running(request.param())


# ---- the framework ----------------------------------------------------------

class Echo(FakeProvider):
    """A minimal fake to test the framework."""
    provider_id = "echo"

    def routes(self):
        return [("GET", "/items/{item}", self.get_item),
                ("POST", "/echo", self.echo),
                ("GET", "/boom", self.boom)]

    def get_item(self, req, item):
        return Response.json({"item": item, "q": req.query_all("q")})

    def echo(self, req):
        return Response.json({"body": req.body.decode()})

    def boom(self, req):
        raise RuntimeError("a bug in the fake")


@pytest.fixture
def echo():
    yield from running(Echo())


def test_start_gives_loopback_url_and_stop_closes_port():
    fake = Echo()
    url = fake.start()
    try:
        assert url.startswith("http://127.0.0.1:") and fake.port > 0
        assert requests.get(url + "/items/a", timeout=T).status_code == 200
    finally:
        fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/items/a", timeout=T)
    fake.stop()     # a second stop is harmless


def test_context_manager_stops_on_error():
    with pytest.raises(KeyError):
        with Echo() as fake:
            url = fake.base_url
            raise KeyError("test")
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/items/a", timeout=T)


def test_routes_params_404_405(echo):
    r = requests.get(echo.url("/items/x%20y/"), params={"q": ["1", "2"]},
                     timeout=T)
    assert r.json() == {"item": "x y", "q": ["1", "2"]}
    assert requests.get(echo.url("/nope"), timeout=T).status_code == 404
    r = requests.delete(echo.url("/echo"), timeout=T)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"


def test_calls_record_method_path_query_headers_body(echo):
    requests.post(echo.url("/echo?a=1"), data=b"hello",
                  headers={"X-Thing": "v"}, timeout=T)
    [call] = echo.calls_to("/echo", "POST")
    assert (call.method, call.path, call.query, call.body, call.status) == (
        "POST", "/echo", {"a": "1"}, b"hello", 200)
    assert call.headers["x-thing"] == "v" and call.header("X-THING") == "v"
    echo.clear_calls()
    assert echo.calls == []


def test_chunked_body_is_read(echo):
    r = requests.post(echo.url("/echo"),
                      data=(p for p in [b"ab", b"cd", b"e"]), timeout=T)
    assert r.json() == {"body": "abcde"}
    assert echo.calls[0].header("transfer-encoding") == "chunked"


def test_oversized_body_is_413(echo):
    r = requests.post(echo.url("/echo"), data=b"x" * ((1 << 20) + 1),
                      timeout=T)
    assert r.status_code == 413


def test_handler_crash_is_500_and_fails_check():
    with Echo() as fake:
        r = requests.get(fake.url("/boom"), timeout=T)
        assert r.status_code == 500
        assert "Traceback" not in r.text
        with pytest.raises(AssertionError, match="a bug in the fake"):
            fake.check()


def test_fail_answers_status_times_then_recovers(echo):
    echo.fail("/items", 503, times=2)
    codes = [requests.get(echo.url("/items/a"), timeout=T).status_code
             for _ in range(3)]
    assert codes == [503, 503, 200]
    assert [c.status for c in echo.calls] == [503, 503, 200]


def test_fail_with_body_headers_and_method(echo):
    echo.fail("/echo", 500, body={"oops": 1}, headers={"X-A": "b"},
              method="POST")
    assert requests.get(echo.url("/items/a"), timeout=T).status_code == 200
    r = requests.post(echo.url("/echo"), timeout=T)
    assert (r.status_code, r.json(), r.headers["X-A"]) == (500, {"oops": 1},
                                                           "b")


def test_fail_forever_until_cleared(echo):
    echo.fail("/", 500, times=None)
    for _ in range(3):
        assert requests.get(echo.url("/items/a"), timeout=T).status_code == 500
    echo.clear_faults()
    assert requests.get(echo.url("/items/a"), timeout=T).status_code == 200
    with pytest.raises(ValueError):
        echo.fail("/", 500, times=0)


def test_garbage_is_200_with_invalid_json(echo):
    echo.garbage("/items")
    r = requests.get(echo.url("/items/a"), timeout=T)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(r.text)
    assert requests.get(echo.url("/items/a"), timeout=T).json()["item"] == "a"


def test_disconnect_closes_without_answer(echo):
    echo.disconnect("/items")
    with pytest.raises(requests.ConnectionError):
        requests.get(echo.url("/items/a"), timeout=T)
    assert requests.get(echo.url("/items/a"), timeout=T).status_code == 200


def test_delay_then_timeout_and_count(echo):
    echo.delay("/items", 0.3, times=1)
    with pytest.raises(requests.Timeout):
        requests.get(echo.url("/items/a"), timeout=0.1)
    start = time.monotonic()
    assert requests.get(echo.url("/items/a"), timeout=T).status_code == 200
    assert time.monotonic() - start < 0.2


def test_delay_combines_with_fail(echo):
    echo.delay("/items", 0.05, times=1)
    echo.fail("/items", 502)
    start = time.monotonic()
    assert requests.get(echo.url("/items/a"), timeout=T).status_code == 502
    assert time.monotonic() - start >= 0.05


def test_stop_wakes_a_delayed_request_quickly():
    fake = Echo()
    fake.start()
    fake.delay("/", 30)
    outcome = []

    def client():
        try:
            requests.get(fake.url("/items/a"), timeout=T)
            outcome.append("answered")
        except requests.RequestException:
            outcome.append("dropped")

    thread = threading.Thread(target=client)
    thread.start()
    for _ in range(100):            # until the request is in the fake
        if fake.calls:
            break
        time.sleep(0.01)
    start = time.monotonic()
    fake.stop()
    assert time.monotonic() - start < 1.0
    thread.join(T)
    assert outcome == ["dropped"]


def test_advance_clock_moves_now(echo):
    before = echo.now()
    echo.advance_clock(100)
    assert echo.now() - before >= 100


# ---- concurrency ------------------------------------------------------------

def _timed_parallel(calls):
    """Runs the zero-argument `calls` on one thread each; returns the wall
    time from start to the last finish, and their results."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls) + 1)

    def run(i):
        barrier.wait(T)
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,))
               for i in range(len(calls))]
    for t in threads:
        t.start()
    barrier.wait(T)
    start = time.monotonic()
    for t in threads:
        t.join(T)
    return time.monotonic() - start, results


def test_four_fakes_with_latency_answer_concurrently():
    with FakeTwitch() as tw, FakeEpic() as ep, FakeSteam() as st, \
            FakePrimeGaming() as pg:
        tw_token = token(tw, grant_type="client_credentials").json()
        ep_token = token(ep, grant_type="client_credentials").json()
        pg_token = pg.issue_tokens(pg.default_user, ["games::prime"])
        for fake in (tw, ep, st, pg):
            fake.delay("/", 0.3)
        calls = [
            lambda: requests.get(tw.url("/helix/entitlements/drops"), headers={
                "Authorization": "Bearer " + tw_token["access_token"],
                "Client-Id": tw.client_id}, timeout=T),
            lambda: requests.get(
                ep.url(f"/epic/ecom/v3/identities/{ep.default_user}"
                       "/entitlements"), params={"sandboxId": ep.sandbox_id},
                headers={"Authorization": "Bearer " +
                         ep_token["access_token"]}, timeout=T),
            lambda: requests.get(st.url("/IInventoryService/GetInventory/v1/"),
                                 params={"key": st.publisher_key,
                                         "appid": st.appid,
                                         "steamid": "76561197960287930"},
                                 timeout=T),
            lambda: requests.get(pg.url("/api/entitlements"), headers={
                "x-amz-access-token": pg_token["access_token"]}, timeout=T),
        ]
        elapsed, results = _timed_parallel(calls)
        assert [r.status_code for r in results] == [200] * 4
        # one at a time would take 1.2 s; the margin absorbs a busy machine
        assert 0.3 <= elapsed < 0.9, elapsed


def test_one_fake_answers_four_clients_concurrently(echo):
    echo.delay("/", 0.3)
    elapsed, results = _timed_parallel(
        [lambda: requests.get(echo.url("/items/a"), timeout=T)] * 4)
    assert [r.status_code for r in results] == [200] * 4
    assert 0.3 <= elapsed < 0.9, elapsed  # one at a time: 1.2 s


# ---- OAuth, the same on every OAuth fake ------------------------------------

def test_authorize_redirects_with_code_and_state(oauth_fake):
    _, challenge = pkce()
    params = redirect_params(authorize(oauth_fake, challenge, state="s t/1"))
    assert set(params) == {"code", "state"} and params["state"] == "s t/1"


def test_code_exchange_is_single_use(oauth_fake):
    verifier, challenge = pkce()
    code = redirect_params(authorize(oauth_fake, challenge))["code"]
    form = dict(grant_type="authorization_code", code=code,
                redirect_uri=CALLBACK, code_verifier=verifier)
    assert token(oauth_fake, **form).status_code == 200
    r = token(oauth_fake, **form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert set(r.json()) == {"error", "error_description"}


@pytest.mark.parametrize("change", [
    {"redirect_uri": CALLBACK + "x"},
    {"code_verifier": "A" * 43},
    {"code_verifier": None},
    {"code": "not-a-code"},
])
def test_code_exchange_refusals_are_invalid_grant(oauth_fake, change):
    verifier, challenge = pkce()
    code = redirect_params(authorize(oauth_fake, challenge))["code"]
    form = dict(grant_type="authorization_code", code=code,
                redirect_uri=CALLBACK, code_verifier=verifier)
    form.update(change)
    r = token(oauth_fake, **{k: v for k, v in form.items() if v is not None})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_code_expires(oauth_fake):
    verifier, challenge = pkce()
    code = redirect_params(authorize(oauth_fake, challenge))["code"]
    oauth_fake.advance_clock(oauth_fake.code_ttl + 1)
    r = token(oauth_fake, grant_type="authorization_code", code=code,
              redirect_uri=CALLBACK, code_verifier=verifier)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_wrong_client_secret_is_invalid_client(oauth_fake):
    r = token(oauth_fake, secret="wrong", grant_type="refresh_token",
              refresh_token="x")
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")


def test_unknown_grant_type(oauth_fake):
    r = token(oauth_fake, grant_type="password")
    assert (r.status_code, r.json()["error"]) == (400,
                                                  "unsupported_grant_type")


@pytest.mark.parametrize("change", [{"client_id": "someone-else"},
                                    {"redirect_uri": "ftp://x/cb"},
                                    {"redirect_uri": "http://evil.test/cb"}])
def test_authorize_bad_client_or_redirect_is_an_error_page(oauth_fake, change):
    _, challenge = pkce()
    r = authorize(oauth_fake, challenge, **change)
    assert r.status_code == 400 and "Location" not in r.headers


def test_registered_redirect_uri_must_match(oauth_fake):
    oauth_fake.register_redirect_uri("https://game.example/cb")
    _, challenge = pkce()
    assert authorize(oauth_fake, challenge).status_code == 400


@pytest.mark.parametrize("change,error", [
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
])
def test_authorize_errors_redirect_back(oauth_fake, change, error):
    _, challenge = pkce()
    params = redirect_params(authorize(oauth_fake, challenge, **change))
    assert params["error"] == error and params["state"] == "st-1"
    assert "code" not in params


def test_denied_login_redirects_access_denied(oauth_fake):
    oauth_fake.deny_next_login()
    _, challenge = pkce()
    params = redirect_params(authorize(oauth_fake, challenge))
    assert params["error"] == "access_denied" and "code" not in params
    link(oauth_fake)      # the next attempt works


def test_refresh_keeps_or_rotates_refresh_token(oauth_fake):
    first = link(oauth_fake)
    r = token(oauth_fake, grant_type="refresh_token",
              refresh_token=first["refresh_token"])
    assert r.status_code == 200
    assert r.json()["refresh_token"] == first["refresh_token"]
    assert r.json()["access_token"] != first["access_token"]
    oauth_fake.rotate_refresh_tokens = True
    rotated = token(oauth_fake, grant_type="refresh_token",
                    refresh_token=first["refresh_token"]).json()
    assert rotated["refresh_token"] != first["refresh_token"]
    r = token(oauth_fake, grant_type="refresh_token",
              refresh_token=first["refresh_token"])
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    assert oauth_fake.token_count("refresh_token") == 2


def test_revoked_refresh_token_is_invalid_grant(oauth_fake):
    tokens = link(oauth_fake)
    oauth_fake.revoke_refresh_tokens()
    r = token(oauth_fake, grant_type="refresh_token",
              refresh_token=tokens["refresh_token"])
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant",
                        "error_description": "Refresh token revoked"}


def test_token_endpoint_faults_use_oauth_shape(oauth_fake):
    oauth_fake.fail(oauth_fake.token_path, 503)
    r = token(oauth_fake, grant_type="refresh_token", refresh_token="x")
    assert (r.status_code, r.json()["error"]) == (503, "server_error")


def test_token_endpoint_wants_a_form(oauth_fake):
    auth = (oauth_fake.client_id, oauth_fake.client_secret)
    r = requests.post(oauth_fake.url(oauth_fake.token_path), auth=auth,
                      json={"grant_type": "client_credentials"}, timeout=T)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


# ---- Twitch -----------------------------------------------------------------

def app_token(fake):
    r = token(fake, grant_type="client_credentials")
    assert r.status_code == 200
    return r.json()["access_token"]


def helix(fake, bearer, method="GET", params=None, body=None, client_id=None):
    headers = {"Client-Id": client_id or fake.client_id}
    if bearer is not None:
        headers["Authorization"] = "Bearer " + bearer
    return requests.request(method, fake.url("/helix/entitlements/drops"),
                            params=params, json=body, headers=headers,
                            timeout=T)


def test_twitch_app_token_shape_and_query_string_variant(fake_twitch):
    r = token(fake_twitch, grant_type="client_credentials")
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "bearer" and isinstance(body["expires_in"],
                                                         int)
    assert len(body["access_token"]) == 30
    r = requests.post(fake_twitch.url("/oauth2/token"), params={
        "client_id": fake_twitch.client_id,
        "client_secret": fake_twitch.client_secret,
        "grant_type": "client_credentials"}, timeout=T)
    assert r.status_code == 200


def test_twitch_user_token_shape_and_validate(fake_twitch):
    fake_twitch.next_login("141981764", login="twitchdev")
    verifier, challenge = pkce()
    code = redirect_params(authorize(fake_twitch, challenge,
                                     scope="user:read:email"))["code"]
    body = token(fake_twitch, grant_type="authorization_code", code=code,
                 redirect_uri=CALLBACK, code_verifier=verifier).json()
    assert set(body) == {"access_token", "refresh_token", "expires_in",
                         "scope", "token_type"}
    assert body["scope"] == ["user:read:email"]
    r = requests.get(fake_twitch.url("/oauth2/validate"), headers={
        "Authorization": "OAuth " + body["access_token"]}, timeout=T)
    assert r.json() == {"client_id": fake_twitch.client_id,
                        "login": "twitchdev", "scopes": ["user:read:email"],
                        "user_id": "141981764",
                        "expires_in": r.json()["expires_in"]}
    r = requests.get(fake_twitch.url("/oauth2/validate"), headers={
        "Authorization": "Bearer " + body["access_token"]}, timeout=T)
    assert r.status_code == 401 and r.json() == TWITCH_401


def test_twitch_profile_set_at_login_survives_later_token_issue(fake_twitch):
    fake_twitch.next_login("141981764", login="twitchdev")
    fake_twitch.issue_tokens("141981764")
    assert fake_twitch.users["141981764"]["login"] == "twitchdev"


def test_twitch_validate_app_token_has_no_user(fake_twitch):
    r = requests.get(fake_twitch.url("/oauth2/validate"), headers={
        "Authorization": "OAuth " + app_token(fake_twitch)}, timeout=T)
    assert set(r.json()) == {"client_id", "scopes", "expires_in"}


def test_twitch_list_by_game_returns_every_user_all_strings(fake_twitch):
    a = fake_twitch.add_drop("111", "benefit-a")
    b = fake_twitch.add_drop("222", "benefit-b")
    fake_twitch.add_drop("333", "benefit-c", game_id="999")
    r = helix(fake_twitch, app_token(fake_twitch), params={
        "game_id": fake_twitch.game_id, "fulfillment_status": "CLAIMED",
        "first": 1000})
    body = r.json()
    assert set(body) == {"data", "pagination"} and body["pagination"] == {}
    assert {d["id"] for d in body["data"]} == {a, b}
    for drop in body["data"]:
        assert set(drop) == DROP_KEYS
        assert all(isinstance(v, str) for v in drop.values())
        assert drop["fulfillment_status"] == "CLAIMED"
        assert drop["timestamp"].endswith("Z")


def test_twitch_filters(fake_twitch):
    a = fake_twitch.add_drop("111", "b1")
    b = fake_twitch.add_drop("111", "b2", status="FULFILLED")
    c = fake_twitch.add_drop("222", "b3")
    tok = app_token(fake_twitch)

    def ids(**params):
        return {d["id"] for d in helix(fake_twitch, tok,
                                       params=params).json()["data"]}
    assert ids() == {a, b, c}
    assert ids(user_id="111") == {a, b}
    assert ids(user_id="111", fulfillment_status="FULFILLED") == {b}
    assert ids(id=[a, c]) == {a, c}


def test_twitch_pagination_walks_every_drop_once_in_no_set_order(fake_twitch):
    made = [fake_twitch.add_drop(str(i % 3), "b") for i in range(45)]
    tok = app_token(fake_twitch)
    seen, cursor, pages = [], None, 0
    for _ in range(10):
        params = {"game_id": fake_twitch.game_id, "first": 20}
        if cursor:
            params["after"] = cursor
        body = helix(fake_twitch, tok, params=params).json()
        pages += 1
        seen += [d["id"] for d in body["data"]]
        cursor = body["pagination"].get("cursor")
        if not cursor:
            assert body["pagination"] == {}
            break
    assert pages == 3 and sorted(seen) == sorted(made)
    assert seen != made


def test_twitch_pagination_survives_fulfilment_between_pages(fake_twitch):
    made = {fake_twitch.add_drop("1", "b") for _ in range(5)}
    tok = app_token(fake_twitch)
    params = {"fulfillment_status": "CLAIMED", "first": 2}
    page = helix(fake_twitch, tok, params=params).json()
    got = [d["id"] for d in page["data"]]
    helix(fake_twitch, tok, "PATCH", body={
        "fulfillment_status": "FULFILLED", "entitlement_ids": got})
    for _ in range(5):
        cursor = page["pagination"].get("cursor")
        if not cursor:
            break
        page = helix(fake_twitch, tok, params={**params, "after": cursor}
                     ).json()
        got += [d["id"] for d in page["data"]]
    assert sorted(got) == sorted(made)


@pytest.mark.parametrize("params,status", [
    ({"first": 0}, 400), ({"first": 1001}, 400), ({"first": "ten"}, 400),
    ({"fulfillment_status": "DONE"}, 400), ({"after": "!!notacursor"}, 400),
    ({"id": [f"id{i}" for i in range(101)]}, 400),
    ({"game_id": "424242"}, 403),
])
def test_twitch_get_bad_parameters(fake_twitch, params, status):
    r = helix(fake_twitch, app_token(fake_twitch), params=params)
    assert r.status_code == status
    assert set(r.json()) == {"error", "status", "message"}
    assert r.json()["status"] == status


@pytest.mark.parametrize("how", ["no-auth", "bad-token", "other-client-id",
                                 "expired"])
def test_twitch_401(fake_twitch, how):
    tok = app_token(fake_twitch)
    if how == "expired":
        fake_twitch.expire_tokens()
    bearer = {"no-auth": None, "bad-token": "nope"}.get(how, tok)
    client = "someone-else" if how == "other-client-id" else None
    r = helix(fake_twitch, bearer, client_id=client)
    assert r.status_code == 401 and r.json() == TWITCH_401


def test_twitch_patch_outcomes(fake_twitch):
    ok = fake_twitch.add_drop("1", "b")
    flaky = fake_twitch.add_drop("1", "b")
    foreign = fake_twitch.add_drop("2", "b", org_owned=False)
    unknown = "0b0e7e0a-1111-4222-8333-944455556666"
    fake_twitch.update_failed([flaky])
    tok = app_token(fake_twitch)
    r = helix(fake_twitch, tok, "PATCH", body={
        "fulfillment_status": "FULFILLED",
        "entitlement_ids": [ok, flaky, foreign, unknown, "not-a-uuid"]})
    assert r.status_code == 200
    assert r.json() == {"data": [
        {"status": "SUCCESS", "ids": [ok]},
        {"status": "INVALID_ID", "ids": ["not-a-uuid"]},
        {"status": "NOT_FOUND", "ids": [unknown]},
        {"status": "UNAUTHORIZED", "ids": [foreign]},
        {"status": "UPDATE_FAILED", "ids": [flaky]}]}
    assert fake_twitch.drop_status(ok) == "FULFILLED"
    assert fake_twitch.drop_status(flaky) == "CLAIMED"
    r = helix(fake_twitch, tok, "PATCH", body={
        "fulfillment_status": "FULFILLED", "entitlement_ids": [flaky]})
    assert r.json() == {"data": [{"status": "SUCCESS", "ids": [flaky]}]}
    claimed = helix(fake_twitch, tok, params={
        "fulfillment_status": "CLAIMED"}).json()["data"]
    assert claimed == []


@pytest.mark.parametrize("body", [
    {"fulfillment_status": "FULFILLED",
     "entitlement_ids": [f"{i:08d}-0000-4000-8000-000000000000"
                         for i in range(101)]},
    {"fulfillment_status": "GONE", "entitlement_ids": ["x"]},
    {"fulfillment_status": "FULFILLED", "entitlement_ids": "x"},
    {"fulfillment_status": "FULFILLED", "entitlement_ids": []},
    ["not", "an", "object"],
])
def test_twitch_patch_bad_bodies(fake_twitch, body):
    r = helix(fake_twitch, app_token(fake_twitch), "PATCH", body=body)
    assert r.status_code == 400 and r.json()["status"] == 400


def test_twitch_patch_needs_json_content_type(fake_twitch):
    r = requests.patch(fake_twitch.url("/helix/entitlements/drops"),
                       data="fulfillment_status=FULFILLED", headers={
                           "Authorization": "Bearer " + app_token(fake_twitch),
                           "Client-Id": fake_twitch.client_id}, timeout=T)
    assert r.status_code == 400


def test_twitch_user_token_sees_and_updates_only_own_drops(fake_twitch):
    mine = fake_twitch.add_drop("555", "b")
    other = fake_twitch.add_drop("666", "b")
    tok = link(fake_twitch, "555")["access_token"]
    data = helix(fake_twitch, tok).json()["data"]
    assert [d["id"] for d in data] == [mine]
    r = helix(fake_twitch, tok, "PATCH", body={
        "fulfillment_status": "FULFILLED", "entitlement_ids": [mine, other]})
    assert r.json()["data"] == [{"status": "SUCCESS", "ids": [mine]},
                                {"status": "UNAUTHORIZED", "ids": [other]}]


def test_twitch_user_token_with_user_id_per_policy():
    with FakeTwitch() as strict, FakeTwitch(user_token_user_id="match") as lax:
        for fake in (strict, lax):
            fake.add_drop("555", "b")
        s_tok = link(strict, "555")["access_token"]
        l_tok = link(lax, "555")["access_token"]
        assert helix(strict, s_tok, params={"user_id": "555"}
                     ).status_code == 400
        assert helix(lax, l_tok, params={"user_id": "555"}).status_code == 200
        assert helix(lax, l_tok, params={"user_id": "556"}).status_code == 400


def test_twitch_expired_user_token_then_refresh(fake_twitch):
    fake_twitch.add_drop("555", "b")
    tokens = link(fake_twitch, "555")
    fake_twitch.expire_tokens()
    assert helix(fake_twitch, tokens["access_token"]).status_code == 401
    fresh = token(fake_twitch, grant_type="refresh_token",
                  refresh_token=tokens["refresh_token"]).json()
    assert len(helix(fake_twitch, fresh["access_token"]).json()["data"]) == 1


def test_twitch_ratelimit_headers_and_injected_429(fake_twitch):
    tok = app_token(fake_twitch)
    r = helix(fake_twitch, tok)
    assert r.headers["Ratelimit-Limit"] == "800"
    assert int(r.headers["Ratelimit-Remaining"]) == 799
    assert int(r.headers["Ratelimit-Reset"]) > time.time()
    fake_twitch.fail("/helix", 429)
    r = helix(fake_twitch, tok)
    assert r.status_code == 429 and r.headers["Ratelimit-Remaining"] == "0"
    assert r.json() == {"error": "Too Many Requests", "status": 429,
                        "message": "Too Many Requests"}
    assert helix(fake_twitch, tok).status_code == 200


def test_twitch_bucket_runs_dry():
    with FakeTwitch(ratelimit=2) as fake:
        tok = app_token(fake)
        codes = [helix(fake, tok).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        fake.advance_clock(61)
        assert helix(fake, tok).status_code == 200


# ---- Epic -------------------------------------------------------------------

def ecom(fake, bearer, account, method="GET", params=None, body=None,
         suffix=""):
    url = fake.url(f"{fake.ecom_prefix}/identities/{account}/entitlements"
                   + suffix)
    return requests.request(method, url, params=params, json=body, headers={
        "Authorization": "Bearer " + bearer}, timeout=T)


def redeem(fake, bearer, account, ids, sandbox=None):
    return ecom(fake, bearer, account, "PUT", suffix="/redeem", body={
        "entitlementIds": ids, "sandboxId": sandbox or fake.sandbox_id})


def test_epic_client_credentials_need_basic_auth(fake_epic):
    r = token(fake_epic, grant_type="client_credentials",
              deployment_id=fake_epic.deployment_id)
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in",
                         "expires_at", "client_id", "application_id", "scope"}
    r = requests.post(fake_epic.url(fake_epic.token_path), data={
        "grant_type": "client_credentials", "client_id": fake_epic.client_id,
        "client_secret": fake_epic.client_secret}, timeout=T)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    r = token(fake_epic, grant_type="client_credentials", deployment_id="x")
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_epic_code_exchange_shape(fake_epic):
    account = "0123456789abcdef0123456789abcdef"
    body = link(fake_epic, account)
    assert set(body) == {"access_token", "token_type", "expires_in",
                         "expires_at", "refresh_token", "account_id",
                         "client_id", "application_id", "scope"}
    assert body["account_id"] == account and body["token_type"] == "bearer"
    assert body["scope"] == "basic_profile"
    expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ"
                                ).replace(tzinfo=timezone.utc).timestamp()
    assert abs(expires - time.time() - body["expires_in"]) < 5
    assert 7000 < body["expires_in"] <= 7200


def test_epic_list_is_a_bare_array_in_the_documented_shape(fake_epic):
    acct = fake_epic.default_user
    a = fake_epic.add_entitlement(acct, "a51c0e2b9f3d4e6a8b7c1d2e3f405162",
                                  consumable=True, entitlement_name="gold_60")
    fake_epic.add_entitlement("ffffffffffffffffffffffffffffffff", "other")
    tok = link(fake_epic)["access_token"]
    r = ecom(fake_epic, tok, acct, params={"sandboxId": fake_epic.sandbox_id})
    assert r.status_code == 200
    [ent] = r.json()
    assert set(ent) == EPIC_KEYS
    assert ent == {**ent, "id": a, "entitlementName": "gold_60",
                   "namespace": fake_epic.sandbox_id,
                   "catalogItemId": "a51c0e2b9f3d4e6a8b7c1d2e3f405162",
                   "entitlementType": "ENTITLEMENT", "consumable": True,
                   "status": "ACTIVE", "useCount": 0,
                   "entitlementSource": "eos", "active": True}


def test_epic_name_filter(fake_epic):
    acct = fake_epic.default_user
    a = fake_epic.add_entitlement(acct, "i1", entitlement_name="n1")
    fake_epic.add_entitlement(acct, "i2", entitlement_name="n2")
    c = fake_epic.add_entitlement(acct, "i3", entitlement_name="n3")
    app = token(fake_epic, grant_type="client_credentials").json()
    r = ecom(fake_epic, app["access_token"], acct, params={
        "sandboxId": fake_epic.sandbox_id, "entitlementName": ["n1", "n3"]})
    assert {e["id"] for e in r.json()} == {a, c}


def test_epic_redeem_is_idempotent_and_hides_entitlement(fake_epic):
    acct = fake_epic.default_user
    ent = fake_epic.add_entitlement(acct, "item", consumable=True)
    tok = link(fake_epic)["access_token"]
    for _ in range(2):
        r = redeem(fake_epic, tok, acct, [ent])
        assert r.status_code == 204 and r.content == b""
    assert fake_epic.redeemed(ent)
    params = {"sandboxId": fake_epic.sandbox_id}
    assert ecom(fake_epic, tok, acct, params=params).json() == []
    [shown] = ecom(fake_epic, tok, acct, params={
        **params, "includeRedeemed": "true"}).json()
    assert shown["id"] == ent and shown["redeemed"] is True


def test_epic_redeem_unknown_id_changes_nothing(fake_epic):
    acct = fake_epic.default_user
    ent = fake_epic.add_entitlement(acct, "item")
    foreign = fake_epic.add_entitlement("f" * 32, "item")
    tok = token(fake_epic, grant_type="client_credentials").json()[
        "access_token"]
    r = redeem(fake_epic, tok, acct, [ent, foreign])
    assert r.status_code == 404
    assert set(r.json()) == {"errorCode", "errorMessage", "messageVars",
                             "numericErrorCode", "originatingService",
                             "intent"}
    assert not fake_epic.redeemed(ent) and not fake_epic.redeemed(foreign)


@pytest.mark.parametrize("case,status", [
    ("no-sandbox", 400), ("other-sandbox", 403), ("other-account", 403),
    ("expired", 401), ("bad-token", 401)])
def test_epic_list_refusals(fake_epic, case, status):
    tokens = link(fake_epic)
    bearer = "nope" if case == "bad-token" else tokens["access_token"]
    account = "e" * 32 if case == "other-account" else fake_epic.default_user
    params = {"no-sandbox": {}, "other-sandbox": {"sandboxId": "x"}}.get(
        case, {"sandboxId": fake_epic.sandbox_id})
    if case == "expired":
        fake_epic.expire_tokens()
    r = ecom(fake_epic, bearer, account, params=params)
    assert r.status_code == status
    assert r.json()["errorCode"].startswith("errors.com.epicgames.")


@pytest.mark.parametrize("body,status", [
    ({"entitlementIds": [], "sandboxId": "SANDBOX"}, 400),
    ({"entitlementIds": "abc", "sandboxId": "SANDBOX"}, 400),
    ({"entitlementIds": ["a"]}, 400),
    ({"entitlementIds": ["a"], "sandboxId": "other"}, 403),
    (["a"], 400)])
def test_epic_redeem_bad_bodies(fake_epic, body, status):
    if isinstance(body, dict) and body.get("sandboxId") == "SANDBOX":
        body["sandboxId"] = fake_epic.sandbox_id
    tok = token(fake_epic, grant_type="client_credentials").json()[
        "access_token"]
    r = ecom(fake_epic, tok, fake_epic.default_user, "PUT", suffix="/redeem",
             body=body)
    assert r.status_code == status and "errorCode" in r.json()


def test_epic_expired_token_then_refresh(fake_epic):
    acct = fake_epic.default_user
    fake_epic.add_entitlement(acct, "item")
    tokens = link(fake_epic)
    fake_epic.expire_tokens()
    params = {"sandboxId": fake_epic.sandbox_id}
    assert ecom(fake_epic, tokens["access_token"], acct,
                params=params).status_code == 401
    fresh = token(fake_epic, grant_type="refresh_token",
                  refresh_token=tokens["refresh_token"]).json()
    assert fresh["account_id"] == acct
    assert len(ecom(fake_epic, fresh["access_token"], acct,
                    params=params).json()) == 1


def test_epic_ecom_version_is_configurable():
    with FakeEpic(ecom_version="v4") as fake:
        assert fake.grantd_config()["api_base"].endswith("/epic/ecom/v4")
        tok = token(fake, grant_type="client_credentials").json()[
            "access_token"]
        r = ecom(fake, tok, fake.default_user,
                 params={"sandboxId": fake.sandbox_id})
        assert r.status_code == 200 and r.json() == []
        r = requests.get(fake.url(f"/epic/ecom/v3/identities/{'a' * 32}/"
                                  "entitlements"), timeout=T)
        assert r.status_code == 404


# ---- Steam ------------------------------------------------------------------

STEAMID = "76561197960287930"


def steam_get(fake, method_path, **params):
    params = {"key": fake.publisher_key, "appid": fake.appid,
              "steamid": STEAMID, **params}
    return requests.get(fake.url(method_path), params=params, timeout=T)


def consume(fake, itemid, quantity="1", requestid=None, **extra):
    form = {"key": fake.publisher_key, "appid": str(fake.appid),
            "itemid": itemid, "quantity": quantity, "steamid": STEAMID,
            **extra}
    if requestid is not None:
        form["requestid"] = requestid
    return requests.post(fake.url("/IInventoryService/ConsumeItem/v1/"),
                         data=form, timeout=T)


def items_of(resp):
    assert resp.status_code == 200, resp.text
    envelope = resp.json()["response"]
    assert isinstance(envelope["item_json"], str)
    return json.loads(envelope["item_json"])


def test_steam_inventory_shape(fake_steam):
    itemid = fake_steam.add_item(STEAMID, 10010, quantity=3)
    fake_steam.add_item("76561197960287931", 10010)
    r = steam_get(fake_steam, "/IInventoryService/GetInventory/v1/")
    assert set(r.json()["response"]) == {"item_json", "etag",
                                         "removeditemids", "replayed"}
    [item] = items_of(r)
    assert set(item) == ITEM_KEYS
    assert item["itemid"] == itemid and int(itemid) > 2 ** 53
    assert item["itemdefid"] == "10010" and item["quantity"] == 3
    assert item["accountid"] == 22202 and item["appid"] == fake_steam.appid
    assert len(item["acquired"]) == 16 and item["acquired"][8] == "T"


def test_steam_input_json_is_accepted(fake_steam):
    fake_steam.add_item(STEAMID, 5)
    r = requests.get(fake_steam.url("/IInventoryService/GetInventory/v1"),
                     params={"key": fake_steam.publisher_key,
                             "input_json": json.dumps({
                                 "appid": fake_steam.appid,
                                 "steamid": int(STEAMID)})}, timeout=T)
    assert len(items_of(r)) == 1


@pytest.mark.parametrize("params,status", [
    ({"key": "WRONG"}, 403), ({"key": None}, 403), ({"appid": 999}, 403),
    ({"steamid": None}, 400), ({"input_json": "[1"}, 400)])
def test_steam_refusals(fake_steam, params, status):
    params = {"key": fake_steam.publisher_key, "appid": fake_steam.appid,
              "steamid": STEAMID, **params}
    r = requests.get(fake_steam.url("/IInventoryService/GetInventory/v1/"),
                     params={k: v for k, v in params.items()
                             if v is not None}, timeout=T)
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("text/html")


def test_steam_consume_with_requestid_replays(fake_steam):
    itemid = fake_steam.add_item(STEAMID, 10010, quantity=2)
    [item] = items_of(consume(fake_steam, itemid, requestid="42"))
    assert item["quantity"] == 1 and fake_steam.quantity(itemid) == 1
    r = consume(fake_steam, itemid, requestid="42")
    assert r.json()["response"]["replayed"] is True
    assert items_of(r)[0]["quantity"] == 1 and fake_steam.quantity(itemid) == 1
    [item] = items_of(consume(fake_steam, itemid, requestid="43"))
    assert item["quantity"] == 0
    assert items_of(steam_get(fake_steam,
                              "/IInventoryService/GetInventory/v1/")) == []
    assert [c.outcome for c in fake_steam.consume_calls] == [
        "consumed", "replayed", "consumed"]
    assert fake_steam.consume_calls[0].requestid == "42"
    assert "key" not in fake_steam.consume_calls[0].params


def test_steam_consume_failures_answer_empty_item_json(fake_steam):
    itemid = fake_steam.add_item(STEAMID, 10010)
    other = fake_steam.add_item("76561197960287931", 10010)
    assert items_of(consume(fake_steam, itemid, quantity="2")) == []
    assert items_of(consume(fake_steam, other)) == []
    assert items_of(consume(fake_steam, "123")) == []
    assert fake_steam.quantity(itemid) == 1
    assert consume(fake_steam, itemid, quantity="").status_code == 400
    assert consume(fake_steam, itemid, key="WRONG").status_code == 403
    r = requests.get(fake_steam.url("/IInventoryService/ConsumeItem/v1/"),
                     timeout=T)
    assert r.status_code == 405


def test_steam_app_ownership(fake_steam):
    fake_steam.set_owns_app(STEAMID, 1001)
    fake_steam.set_owns_app("76561197960287931", 1001, permanent=False,
                            ownersteamid=STEAMID)
    r = steam_get(fake_steam, "/ISteamUser/CheckAppOwnership/v4/", appid=1001)
    own = r.json()["appownership"]
    assert set(own) == {"ownsapp", "permanent", "timestamp", "timeexpires",
                        "ownersteamid", "sitelicense", "usercanceled"}
    assert own["ownsapp"] is True and own["permanent"] is True
    assert own["timeexpires"] == "never" and own["ownersteamid"] == STEAMID
    r = steam_get(fake_steam, "/ISteamUser/CheckAppOwnership/v4/",
                  appid=1001, steamid="76561197960287931")
    shared = r.json()["appownership"]
    assert shared["permanent"] is False and shared["ownersteamid"] == STEAMID
    r = steam_get(fake_steam, "/ISteamUser/CheckAppOwnership/v4/",
                  appid=1001, steamid="76561197960287999")
    assert r.json()["appownership"]["ownsapp"] is False
    assert steam_get(fake_steam, "/ISteamUser/CheckAppOwnership/v4/",
                     appid=7).status_code == 403


# ---- Prime Gaming -----------------------------------------------------------

def pg_api(fake, access, method="GET", path="/api/entitlements", body=None):
    return requests.request(method, fake.url(path), json=body, headers={
        "x-amz-access-token": access}, timeout=T)


def fulfil(fake, access, entitlement_id, instruction="FULFILL"):
    return pg_api(fake, access, "POST", "/api/fulfill", body={
        "FulfillmentStatusUpdates": [{
            "EntitlementId": entitlement_id, "LastInstruction": instruction,
            "FulfillmentAddress": "Player"}]})


def test_pg_link_token_and_profile(fake_primegaming):
    user = fake_primegaming.new_user_id()
    body = link(fake_primegaming, user)
    assert set(body) == {"access_token", "refresh_token", "token_type",
                         "expires_in"}
    assert body["access_token"].startswith("Atza|")
    assert body["refresh_token"].startswith("Atzr|")
    assert (body["token_type"], body["expires_in"]) == ("bearer", 3600)
    r = requests.get(fake_primegaming.url("/user/profile"), headers={
        "Authorization": "Bearer " + body["access_token"]}, timeout=T)
    assert r.json() == {"user_id": user,
                        **{k: fake_primegaming.users[user][k]
                           for k in ("name", "email")}}
    assert user.startswith("amzn1.account.") and len(user) == 42


def test_pg_list_and_fulfil(fake_primegaming):
    fp = fake_primegaming
    user = fp.default_user
    gold = fp.add_entitlement(user, "pg_gold_100")
    noop = fp.add_entitlement(user, "pg_skin.1", next_instruction="NOOP")
    fp.add_entitlement(fp.new_user_id(), "pg_gold_100")
    access = link(fp)["access_token"]
    r = pg_api(fp, access)
    assert r.status_code == 200
    assert sorted(r.json()["Entitlements"], key=lambda e: e["EntitlementId"]
                  ) == sorted([
                      {"EntitlementId": gold, "VendorProductId": "pg_gold_100",
                       "NextInstruction": "FULFILL"},
                      {"EntitlementId": noop, "VendorProductId": "pg_skin.1",
                       "NextInstruction": "NOOP"}],
                      key=lambda e: e["EntitlementId"])
    r = fulfil(fp, access, gold)
    assert r.json() == {"FulfillmentStatusUpdates": [
        {"EntitlementId": gold, "Result": "SUCCESS"}]}
    assert fp.fulfilled(gold)
    assert [e["EntitlementId"] for e in pg_api(fp, access).json()[
        "Entitlements"]] == [noop]
    assert fulfil(fp, access, gold).json()["FulfillmentStatusUpdates"][0][
        "Result"] == "SUCCESS"


def test_pg_fulfil_errors(fake_primegaming):
    fp = fake_primegaming
    mine = fp.add_entitlement(fp.default_user, "sku")
    theirs = fp.add_entitlement(fp.new_user_id(), "sku")
    access = link(fp)["access_token"]
    fp.fulfill_error([mine], times=2)
    results = [fulfil(fp, access, mine).json()["FulfillmentStatusUpdates"][0][
        "Result"] for _ in range(3)]
    assert results == ["ERROR", "ERROR", "SUCCESS"]
    for target in (theirs, "no-such-id"):
        assert fulfil(fp, access, target).json()["FulfillmentStatusUpdates"][
            0]["Result"] == "ERROR"
    assert not fp.fulfilled(theirs)


@pytest.mark.parametrize("body", [{}, {"FulfillmentStatusUpdates": []},
                                  {"FulfillmentStatusUpdates": [{"x": 1}]},
                                  [1, 2]])
def test_pg_fulfil_bad_bodies(fake_primegaming, body):
    access = link(fake_primegaming)["access_token"]
    r = pg_api(fake_primegaming, access, "POST", "/api/fulfill", body=body)
    assert r.status_code == 400
    assert set(r.json()) == {"error", "error_description"}


def test_pg_api_wants_x_amz_access_token(fake_primegaming):
    access = link(fake_primegaming)["access_token"]
    r = requests.get(fake_primegaming.url("/api/entitlements"), headers={
        "Authorization": "Bearer " + access}, timeout=T)
    assert r.status_code == 400 and r.json()["error"] == "invalid_token"


def test_pg_scopes(fake_primegaming):
    fp = fake_primegaming
    profile_only = fp.issue_tokens(fp.default_user, ["profile"])
    assert pg_api(fp, profile_only["access_token"]).status_code == 403
    prime_only = fp.issue_tokens(fp.default_user, ["games::prime"])
    r = requests.get(fp.url("/user/profile"), headers={
        "x-amz-access-token": prime_only["access_token"]}, timeout=T)
    assert r.status_code == 403
    _, challenge = pkce()
    assert redirect_params(authorize(fp, challenge, scope="games::prime bogus")
                           )["error"] == "invalid_scope"


def test_pg_games_prime_not_enabled():
    with FakePrimeGaming(games_prime_enabled=False) as fp:
        _, challenge = pkce()
        assert redirect_params(authorize(fp, challenge))["error"] == \
            "invalid_scope"


@pytest.mark.parametrize("status", [400, 401])
def test_pg_expired_token_status_is_configurable(status):
    with FakePrimeGaming(expired_token_status=status) as fp:
        fp.add_entitlement(fp.default_user, "sku")
        tokens = link(fp)
        fp.expire_tokens()
        r = pg_api(fp, tokens["access_token"])
        assert r.status_code == status
        assert r.json()["error"] == "invalid_token"
        fresh = token(fp, grant_type="refresh_token",
                      refresh_token=tokens["refresh_token"]).json()
        assert len(pg_api(fp, fresh["access_token"]).json()[
            "Entitlements"]) == 1


def test_pg_revoked_user_must_relink(fake_primegaming):
    fp = fake_primegaming
    tokens = link(fp)
    fp.revoke_user(fp.default_user)
    assert pg_api(fp, tokens["access_token"]).status_code == 400
    r = token(fp, grant_type="refresh_token",
              refresh_token=tokens["refresh_token"])
    assert r.json()["error"] == "invalid_grant"
    assert pg_api(fp, link(fp)["access_token"]).status_code == 200


def test_pg_no_client_credentials(fake_primegaming):
    r = token(fake_primegaming, grant_type="client_credentials")
    assert r.json()["error"] == "unsupported_grant_type"


# ---- fixtures and config ----------------------------------------------------

def test_providers_config_points_at_fakes(fake_twitch, fake_epic, fake_steam,
                                          fake_primegaming):
    cfg = providers_config(fake_twitch, fake_epic, fake_steam,
                           fake_primegaming)["providers"]
    assert set(cfg) == {"twitch", "epic", "steam", "primegaming"}
    assert set(cfg["twitch"]) == {"client_id", "client_secret", "game_id",
                                  "auth_base", "api_base"}
    assert set(cfg["primegaming"]) == {"client_id", "client_secret",
                                       "authorize_url", "token_url",
                                       "profile_url", "api_base"}
    assert cfg["twitch"]["api_base"] == fake_twitch.base_url + "/helix"
    assert cfg["steam"]["api_base"] == fake_steam.base_url
    r = requests.post(cfg["twitch"]["auth_base"] + "/token", data={
        "client_id": cfg["twitch"]["client_id"],
        "client_secret": cfg["twitch"]["client_secret"],
        "grant_type": "client_credentials"}, timeout=T)
    assert r.status_code == 200


def test_fakes_answer_unknown_paths_in_their_shape(fake_twitch, fake_epic,
                                                   fake_steam,
                                                   fake_primegaming):
    assert requests.get(fake_twitch.url("/helix/nope"), timeout=T).json()[
        "status"] == 404
    assert "errorCode" in requests.get(fake_epic.url("/epic/nope"),
                                       timeout=T).json()
    assert requests.get(fake_steam.url("/ISteamUser/Nope/v1/"), timeout=T
                        ).headers["Content-Type"].startswith("text/html")
    assert requests.get(fake_primegaming.url("/api/nope"), timeout=T).json()[
        "error"] == "not_found"


MALFORMED_BODIES = [b"", b"\xff\xfe", b"{", b"[]", b"null", b"a=%ff&b",
                    b'{"entitlement_ids":[1],"fulfillment_status":"FULFILLED"}',
                    b'{"FulfillmentStatusUpdates":[{"EntitlementId":1}]}',
                    b'{"entitlementIds":[null],"sandboxId":5}']
MALFORMED_QUERIES = ["?", "?first=%C2%B2&after=%00&appid=%C2%B2&steamid=1"
                     "&input_json=%5B1%5D&sandboxId=&includeRedeemed=x"]


@pytest.mark.parametrize("cls", [FakeTwitch, FakeEpic, FakeSteam,
                                 FakePrimeGaming])
def test_malformed_requests_get_4xx_never_a_crash(cls):
    """Valid credentials, broken everything else, on every route."""
    with cls() as fake, requests.Session() as http:
        headers, key = {}, getattr(fake, "publisher_key", "")
        if isinstance(fake, FakeSteam):
            fake.add_item(STEAMID, 1)
        else:
            tok = fake.issue_tokens(fake.default_user,
                                    ["games::prime", "profile"])
            headers = {"Authorization": "Bearer " + tok["access_token"],
                       "x-amz-access-token": tok["access_token"],
                       "Client-Id": fake.client_id}
        for method, pattern, _ in fake.routes():
            url = fake.url(pattern.replace("{identity}",
                                           getattr(fake, "default_user", "")))
            for body in MALFORMED_BODIES:
                for query in MALFORMED_QUERIES:
                    for ctype in ("application/json", FORM_TYPE):
                        r = http.request(
                            method, f"{url}{query}&key={key}", data=body,
                            headers={**headers, "Content-Type": ctype},
                            allow_redirects=False, timeout=T)
                        assert r.status_code < 500, (method, url, body)
        fake.check()


@pytest.mark.parametrize("cls,path,check", [
    (FakeTwitch, "/helix/entitlements/drops",
     lambda r: r.json() == {"error": "Internal Server Error", "status": 500,
                            "message": "Internal Server Error"}),
    (FakeEpic, "/epic/ecom/v3/identities/x/entitlements",
     lambda r: r.json()["errorCode"] == "errors.com.epicgames.common."
     "server_error"),
    (FakeSteam, "/IInventoryService/GetInventory/v1/",
     lambda r: r.headers["Content-Type"].startswith("text/html")),
    (FakePrimeGaming, "/api/entitlements",
     lambda r: r.json()["error"] == "server_error"),
])
def test_injected_failure_uses_provider_error_shape(cls, path, check):
    with cls() as fake:
        fake.fail(path, 500)
        r = requests.get(fake.url(path), timeout=T)
        assert r.status_code == 500 and check(r)


def test_basic_header_garbage_is_invalid_client(fake_epic):
    r = requests.post(fake_epic.url(fake_epic.token_path), data={
        "grant_type": "client_credentials"}, headers={
        "Authorization": "Basic %%%"}, timeout=T)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    bad = base64.b64encode(b"\xff\xfe:x").decode()
    r = requests.post(fake_epic.url(fake_epic.token_path), data={
        "grant_type": "client_credentials"}, headers={
        "Authorization": "Basic " + bad}, timeout=T)
    assert r.status_code == 401
