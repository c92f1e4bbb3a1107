"""Helpers for the browser link flow: a grantd with browser linking on, link
tokens, and a player's browser followed one redirect at a time."""
import socket
from urllib.parse import parse_qs, urlsplit

import requests

from pull_util import pull_grantd, outbox_rows, wait_for

RETURN_TO = "https://game.example/linked"
ALLOW = "https://game.example/"


def free_port():
    """A loopback port free right now: grantd's redirect_uri must name its
    own address before it starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def link_grantd(make_grantd, *fakes, config=None, **kw):
    """pull_grantd with linking.public_url set to grantd's own address and
    return_to allowed under https://game.example/."""
    port = free_port()
    cfg = {"server": {"listen": f"127.0.0.1:{port}"},
           "linking": {"public_url": f"http://127.0.0.1:{port}",
                       "return_to_allow": [ALLOW]}}
    for section, values in (config or {}).items():
        if isinstance(values, dict) and isinstance(cfg.get(section), dict):
            cfg[section].update(values)
        else:
            cfg[section] = values
    return pull_grantd(make_grantd, *fakes, config=cfg, **kw)


def link_token(g, account="player-1"):
    r = g.request("POST", f"/v1/accounts/{account}/link-tokens",
                  key=g.partner_key)
    assert r.status_code == 201, r.text
    return r.json()["link_token"]


def start(g, provider, token, return_to=RETURN_TO):
    """GET /v1/link/{provider}/start as the player's browser (no redirect
    followed)."""
    params = {}
    if token is not None:
        params["link_token"] = token
    if return_to is not None:
        params["return_to"] = return_to
    return requests.get(g.url(f"/v1/link/{provider}/start"), params=params,
                        allow_redirects=False, timeout=10)


def get(url):
    return requests.get(url, allow_redirects=False, timeout=10)


def query_of(url):
    """The query of `url` as {name: first value}."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authorize(g, provider, account="player-1", return_to=RETURN_TO):
    """Start, then the provider's authorize page. Returns the callback URL
    the provider sends the browser to."""
    r = start(g, provider, link_token(g, account), return_to)
    assert r.status_code == 302, r.text
    a = get(r.headers["Location"])
    assert a.status_code == 302, a.text
    callback = a.headers["Location"]
    assert callback.startswith(g.url(f"/v1/link/{provider}/callback?"))
    return callback


def browser_link(g, provider, account="player-1", return_to=RETURN_TO):
    """The whole flow as a browser: start → authorize → callback. Returns
    the Location grantd sends the player back to."""
    cb = get(authorize(g, provider, account, return_to))
    assert cb.status_code == 302, cb.text
    return cb.headers["Location"]


def links(g, account="player-1"):
    r = g.request("GET", f"/v1/accounts/{account}/links", key=g.partner_key)
    assert r.status_code == 200, r.text
    return r.json()["links"]


def wait_background_sync(g, provider, count=1):
    """Waits until `count` background syncs of `provider` were delivered."""
    wait_for(lambda: sum(1 for row in outbox_rows(g, f"sync.{provider}")
                         if row[2] == "delivered") >= count,
             what=f"background sync of {provider}")
