"""The browser link flow: a link token from the game backend, start →
provider authorize (PKCE) → callback → return_to, each secret single use;
the new link gets sealed tokens and a background sync, and every refusal
is a clear error that changes nothing."""
import base64
import hashlib
import time

import pytest

from link_util import (ALLOW, RETURN_TO, authorize, browser_link, get,
                       link_grantd, link_token, links, query_of, start,
                       wait_background_sync)
from pull_util import (PG_GEMS, PG_GOLD, TWITCH_GOLD, link, outbox_rows,
                       pull_grantd, wait_for)

PG_USER = "amzn1.account.AEXAMPLEPRIMEGAMINGUSER00001"


def age(g, table, column="expires_at_ms"):
    """Makes every secret of `table` expired a second ago, as if ten
    minutes had passed (the expiry is stored with each row)."""
    with g.db_write() as db:
        db.execute(f"UPDATE {table} SET {column} = ?",
                   (int(time.time() * 1000) - 1000,))


def rows(g, table):
    with g.db() as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


def error_of(r):
    assert r.headers["Content-Type"] == "application/json"
    assert "Location" not in r.headers
    return r.json()["error"]["code"]


# ---- the whole flow -------------------------------------------------------

@pytest.mark.sqlite_only
def test_flow_links_and_a_background_sync_grants_and_reports(
        make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(PG_USER, PG_GOLD)
    noop = fake_primegaming.add_entitlement(PG_USER, PG_GEMS, "NOOP")

    token = link_token(g)
    r = start(g, "primegaming", token)
    assert r.status_code == 302
    assert r.headers["Cache-Control"] == "no-store"
    to = r.headers["Location"]
    assert to.startswith(fake_primegaming.url("/ap/oa?"))
    q = query_of(to)
    callback_uri = g.url("/v1/link/primegaming/callback")
    assert q["client_id"] == fake_primegaming.client_id
    assert q["redirect_uri"] == callback_uri
    assert q["response_type"] == "code"
    assert q["scope"] == "games::prime profile"
    assert q["code_challenge_method"] == "S256"
    assert len(q["state"]) == 43 and len(q["code_challenge"]) == 43

    a = get(to)
    assert a.status_code == 302
    cb = get(a.headers["Location"])
    assert cb.status_code == 302, cb.text
    assert cb.headers["Location"] == RETURN_TO + "?linked=primegaming"

    # the code went back with the PKCE verifier of the challenge
    [exchange] = fake_primegaming.calls_to("/auth/o2/token", "POST")
    form = exchange.form()
    assert form["grant_type"] == "authorization_code"
    assert form["redirect_uri"] == callback_uri
    verifier = form["code_verifier"]
    assert base64.urlsafe_b64encode(hashlib.sha256(
        verifier.encode()).digest()).rstrip(b"=").decode() == \
        q["code_challenge"]

    [l] = links(g)
    assert (l["provider"], l["external_id"], l["state"]) == \
        ("primegaming", PG_USER, "linked")
    # granted and reported without any sync call from the game backend
    wait_for(lambda: g.balance("player-1", "gold") == 60, what="grant")
    wait_for(lambda: fake_primegaming.fulfilled(gold), what="report")
    assert not fake_primegaming.fulfilled(noop)
    assert g.balance("player-1", "gems") == 0
    assert [(h["provider_id"], h["external_id"])
            for h in g.history("player-1")] == [("primegaming", gold)]
    wait_background_sync(g, "primegaming")
    assert [r[:3] for r in outbox_rows(g, "sync.primegaming")] == \
        [("sync.primegaming", "player-1", "delivered")]

    # only hashes of the secrets are kept; both are spent
    [t] = rows(g, "link_tokens")
    assert t[0] == hashlib.sha256(token.encode()).hexdigest()
    assert t[1] == "player-1" and t[4] is not None
    [s] = rows(g, "link_states")
    assert s[0] == hashlib.sha256(q["state"].encode()).hexdigest()
    assert s[3] == "" and s[7] is not None     # verifier cleared, used
    data = g.db_path.read_bytes() + \
        g.db_path.with_name(g.db_path.name + "-wal").read_bytes()
    for secret in (token, q["state"], verifier):
        assert secret.encode() not in data


def test_return_to_keeps_its_query_and_fragment(make_grantd,
                                                 fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    back = browser_link(g, "primegaming",
                        return_to=ALLOW + "done?from=menu#top")
    assert back == ALLOW + "done?from=menu&linked=primegaming#top"


def test_twitch_flow_reads_the_user_id_from_validate(make_grantd,
                                                      fake_twitch):
    g = link_grantd(make_grantd, fake_twitch)
    fake_twitch.next_login("31415926")
    drop = fake_twitch.add_drop("31415926", TWITCH_GOLD)
    assert browser_link(g, "twitch") == RETURN_TO + "?linked=twitch"
    [l] = links(g)
    assert (l["provider"], l["external_id"], l["state"]) == \
        ("twitch", "31415926", "linked")
    [v] = fake_twitch.calls_to("/oauth2/validate")
    assert v.header("authorization").startswith("OAuth ")
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED",
             what="the drop granted and reported in the background")
    assert g.balance("player-1", "gold") == 60


def test_epic_flow_reads_the_account_id_from_the_token(make_grantd,
                                                        fake_epic):
    g = link_grantd(make_grantd, fake_epic, config={"providers": {"epic": {
        "authorize_url": fake_epic.url("/epic/oauth/v2/authorize")}}})
    user = "0123456789abcdef0123456789abcdef"
    fake_epic.next_login(user)
    r = start(g, "epic", link_token(g))
    assert r.status_code == 302
    assert query_of(r.headers["Location"])["scope"] == "basic_profile"
    cb = get(get(r.headers["Location"]).headers["Location"])
    assert cb.headers["Location"] == RETURN_TO + "?linked=epic"
    [l] = links(g)
    assert (l["provider"], l["external_id"], l["state"]) == \
        ("epic", user, "linked")
    [exchange] = [c for c in fake_epic.calls_to("/epic/oauth/v2/token", "POST")
                  if c.form().get("grant_type") == "authorization_code"]
    assert exchange.header("authorization").startswith("Basic ")
    # a first sync of the new link was scheduled with it, and it ran
    assert [row[:2] for row in outbox_rows(g, "sync.epic")] == \
        [("sync.epic", "player-1")]
    wait_for(lambda: fake_epic.calls_to(
        f"/epic/ecom/v3/identities/{user}/entitlements", "GET"),
        what="the background sync's fetch")


def test_linking_again_replaces_the_tokens(make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    browser_link(g, "primegaming")
    [first] = links(g)
    assert browser_link(g, "primegaming") == RETURN_TO + \
        "?linked=primegaming"
    [again] = links(g)
    assert again["external_id"] == first["external_id"] == PG_USER
    assert fake_primegaming.token_count("authorization_code") == 2
    wait_background_sync(g, "primegaming", 2)


# ---- link tokens -----------------------------------------------------------

def test_link_tokens_are_for_existing_accounts_and_partners(
        make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    before = int(time.time() * 1000)
    r = g.request("POST", "/v1/accounts/player-1/link-tokens",
                  key=g.partner_key)
    assert r.status_code == 201
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert set(body) == {"link_token", "expires_at"}
    assert body["link_token"].startswith("glt_")
    assert len(body["link_token"]) == 47
    [(expires,)] = [(row[3],) for row in rows(g, "link_tokens")]
    assert before + 600000 <= expires <= int(time.time() * 1000) + 600000
    assert body["expires_at"].endswith("Z")

    r = g.request("POST", "/v1/accounts/nobody/link-tokens",
                  key=g.partner_key)
    assert (r.status_code, error_of(r)) == (404, "AccountNotFound")
    r = g.request("POST", "/v1/accounts/player-1/link-tokens")
    assert r.status_code == 401
    r = g.request("POST", "/v1/accounts/player-1/link-tokens",
                  key=g.prime_key)
    assert r.status_code == 403
    r = g.request("POST", "/v1/accounts/player-1/link-tokens",
                  key=g.partner_key, json={"provider": "twitch"})
    assert (r.status_code, error_of(r)) == (400, "InvalidRequest")
    assert len(rows(g, "link_tokens")) == 1


def test_wrong_used_or_expired_link_tokens_are_refused(make_grantd,
                                                       fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    cases = [(None, 400, "InvalidRequest"),
             ("", 400, "InvalidRequest"),
             ("glt_short", 400, "InvalidLinkToken"),
             ("glt_" + "A" * 43, 400, "InvalidLinkToken")]
    for token, status, code in cases:
        r = start(g, "primegaming", token)
        assert (r.status_code, error_of(r)) == (status, code), token

    used = link_token(g)
    assert start(g, "primegaming", used).status_code == 302
    r = start(g, "primegaming", used)
    assert (r.status_code, error_of(r)) == (400, "LinkTokenUsed")

    late = link_token(g)
    age(g, "link_tokens")
    r = start(g, "primegaming", late)
    assert (r.status_code, error_of(r)) == (400, "LinkTokenExpired")
    # only the one good start made a state; nobody was sent anywhere
    assert len(rows(g, "link_states")) == 1
    assert fake_primegaming.calls == []


def test_bad_return_to_is_refused_before_any_redirect_and_keeps_the_token(
        make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    token = link_token(g)
    before = g.snapshot()
    for bad in (None, "", "https://evil.example/", "javascript:alert(1)",
                "https://game.example", "https://game.example.evil.test/",
                "https://game.example/ok\\..", "https://game.example/a b",
                ALLOW + "x" * 2100):
        r = start(g, "primegaming", token, return_to=bad)
        assert (r.status_code, error_of(r)) == (400, "InvalidReturnTo"), bad
    assert g.snapshot() == before
    # the token was not spent: it still starts a link
    r = start(g, "primegaming", token)
    assert r.status_code == 302


def test_a_prefix_without_a_path_cannot_be_stretched(make_grantd,
                                                      fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming, config={"linking": {
        "return_to_allow": ["https://game.example", "mygame://linked"]}})
    for bad in ("https://game.example.evil.test/",
                "https://game.example@evil.test/",
                "https://game.example:1@evil.test/"):
        r = start(g, "primegaming", link_token(g), return_to=bad)
        assert (r.status_code, error_of(r)) == (400, "InvalidReturnTo"), bad
    for good in ("https://game.example", "https://game.example/x",
                 "https://game.example?x=1", "mygame://linked/done"):
        assert start(g, "primegaming", link_token(g),
                     return_to=good).status_code == 302, good


# ---- states ---------------------------------------------------------------

def test_a_state_is_used_once(make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    callback = authorize(g, "primegaming")
    assert get(callback).headers["Location"] == RETURN_TO + \
        "?linked=primegaming"
    wait_background_sync(g, "primegaming")
    before = g.snapshot()
    r = get(callback)
    assert (r.status_code, error_of(r)) == (400, "StateUsed")
    assert g.snapshot() == before
    assert fake_primegaming.token_count("authorization_code") == 1


def test_an_expired_state_is_refused(make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    callback = authorize(g, "primegaming")
    age(g, "link_states")
    r = get(callback)
    assert (r.status_code, error_of(r)) == (400, "StateExpired")
    assert links(g) == []
    assert fake_primegaming.calls_to("/auth/o2/token") == []
    assert [s[7] for s in rows(g, "link_states")] == [None]   # not spent


def test_unknown_or_missing_states_are_refused(make_grantd,
                                               fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    callback = authorize(g, "primegaming")
    q = query_of(callback)
    base = g.url("/v1/link/primegaming/callback")
    for params, code in (({"code": q["code"]}, "InvalidState"),
                         ({"code": q["code"], "state": "x"}, "InvalidState"),
                         ({"code": q["code"], "state": "B" * 43},
                          "InvalidState")):
        r = get(base + "?" + "&".join(f"{k}={v}" for k, v in params.items()))
        assert (r.status_code, error_of(r)) == (400, code)
    # another provider's callback does not take (or spend) the state
    r = get(g.url("/v1/link/twitch/callback") + "?" + callback.split("?")[1])
    assert (r.status_code, error_of(r)) == (404, "ProviderNotEnabled")
    assert links(g) == []
    assert get(callback).headers["Location"] == RETURN_TO + \
        "?linked=primegaming"


def test_a_state_of_another_provider_is_unknown_here(
        make_grantd, fake_primegaming, fake_twitch):
    g = link_grantd(make_grantd, fake_primegaming, fake_twitch)
    callback = authorize(g, "primegaming")
    r = get(g.url("/v1/link/twitch/callback") + "?" + callback.split("?")[1])
    assert (r.status_code, error_of(r)) == (400, "InvalidState")
    assert fake_twitch.calls_to("/oauth2/token") == []
    assert get(callback).headers["Location"] == RETURN_TO + \
        "?linked=primegaming"


# ---- refusals on the way ---------------------------------------------------

def test_consent_denied_sends_the_player_back_with_an_error(
        make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    fake_primegaming.deny_next_login()
    back = browser_link(g, "primegaming")
    assert back == RETURN_TO + "?error=access_denied"
    assert links(g) == []
    assert fake_primegaming.calls_to("/auth/o2/token") == []
    assert outbox_rows(g) == []
    assert g.wait_log("link_failed")[-1]["error"] == "access_denied"


def test_a_scope_amazon_has_not_enabled_is_a_provider_error(make_grantd):
    from fakes.primegaming import FakePrimeGaming
    with FakePrimeGaming(games_prime_enabled=False) as fake:
        g = link_grantd(make_grantd, fake)
        assert browser_link(g, "primegaming") == RETURN_TO + \
            "?error=provider_error"
        assert links(g) == []
        assert g.wait_log("link_failed")[-1]["detail"] == "invalid_scope"


def test_a_failed_exchange_sends_the_player_back_with_an_error(
        make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    fake_primegaming.fail("/auth/o2/token", 503)
    assert browser_link(g, "primegaming") == RETURN_TO + \
        "?error=exchange_failed"
    fake_primegaming.fail("/user/profile", 500)
    assert browser_link(g, "primegaming") == RETURN_TO + \
        "?error=exchange_failed"
    assert links(g) == []
    assert outbox_rows(g) == []


def test_an_identity_linked_to_another_account_is_refused(
        make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    assert g.put_account("player-2").status_code == 201
    assert browser_link(g, "primegaming", account="player-2") == \
        RETURN_TO + "?linked=primegaming"
    wait_background_sync(g, "primegaming")
    fake_primegaming.add_entitlement(PG_USER, PG_GOLD)
    back = browser_link(g, "primegaming", account="player-1")
    assert back == RETURN_TO + "?error=already_linked"
    assert links(g, "player-1") == []
    [l] = links(g, "player-2")
    assert l["external_id"] == PG_USER
    assert g.balance("player-1", "gold") == 0
    assert len(outbox_rows(g, "sync.primegaming")) == 1


def test_an_identity_linked_by_the_backend_is_refused_too(make_grantd,
                                                          fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    assert g.put_account("player-2").status_code == 201
    link(g, "primegaming", PG_USER, account="player-2")
    assert browser_link(g, "primegaming") == RETURN_TO + \
        "?error=already_linked"
    assert links(g) == []


def test_browser_linking_off_without_public_url(make_grantd,
                                                fake_primegaming):
    g = pull_grantd(make_grantd, fake_primegaming)
    r = g.request("POST", "/v1/accounts/player-1/link-tokens",
                  key=g.partner_key)
    assert (r.status_code, error_of(r)) == (404, "LinkingDisabled")
    r = start(g, "primegaming", "glt_" + "A" * 43)
    assert (r.status_code, error_of(r)) == (404, "LinkingDisabled")
    r = get(g.url("/v1/link/primegaming/callback?code=c&state=" + "A" * 43))
    assert (r.status_code, error_of(r)) == (404, "LinkingDisabled")


def test_providers_without_a_browser_flow_are_refused(
        make_grantd, fake_primegaming, fake_steam):
    g = link_grantd(make_grantd, fake_primegaming, fake_steam)
    token = link_token(g)
    for provider, code in (("nope", "UnknownProvider"),
                           ("twitch", "ProviderNotEnabled"),
                           ("steam", "BrowserLinkUnsupported")):
        r = start(g, provider, token)
        assert (r.status_code, error_of(r)) == (404, code), provider
    assert start(g, "primegaming", token).status_code == 302


def test_metrics_name_the_link_routes(make_grantd, fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    ops = g.create_key("ops", "operator")
    browser_link(g, "primegaming")
    text = g.request("GET", "/metrics", key=ops).text
    for route, status in (("links.token", 201), ("link.start", 302),
                          ("link.callback", 302)):
        assert f'route="{route}",status="{status}"' in text, route


def test_the_link_token_and_state_never_reach_the_log(make_grantd,
                                                      fake_primegaming):
    provider = "primegaming"
    g = link_grantd(make_grantd, fake_primegaming)
    token = link_token(g)
    r = start(g, provider, token)
    state = query_of(r.headers["Location"])["state"]
    get(get(r.headers["Location"]).headers["Location"])
    wait_background_sync(g, provider)
    log = g.stderr_path.read_text()
    assert token not in log and state not in log
