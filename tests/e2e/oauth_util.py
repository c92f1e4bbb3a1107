"""Helpers for the OAuth 2.0, rate-limit, TLS and audit tests: signing keys
files, OAuth clients made through the command line, JWTs forged by hand (so
the tests never trust the server's own JWT code to check itself), and a start
helper like conftest's ready() that also turns OAuth on."""
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time

import requests

TOKEN_PATH = "/oauth2/token"
FULFILL = "/v1/primegaming/fulfillment"
FORM = "application/x-www-form-urlencoded"

CLIENT_ID_RE = re.compile(r"client_[0-9a-f]{16}")
CLIENT_SECRET_RE = re.compile(r"gdcs_[A-Za-z0-9_-]{43}")
KEY_ID_RE = re.compile(r"key_[0-9a-f]{16}")
API_KEY_RE = re.compile(r"gdk_[A-Za-z0-9_-]{43}")

BEARER_INVALID = 'Bearer realm="grantd", error="invalid_token"'


# ---- signing keys ------------------------------------------------------------------

def new_signing_secret():
    """A fresh signing secret: 48 URL-safe characters (>= 32, no spaces)."""
    return secrets.token_urlsafe(36)


def write_signing_keys(path, keys, mode=0o600):
    """Writes `keys` ([(kid, secret), ...], the first signs) to `path` with
    the given mode (0600 unless a test wants otherwise). Returns the path."""
    text = "".join(f"{kid} {secret}\n" for kid, secret in keys)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path


# ---- JWTs by hand --------------------------------------------------------------------

def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forge_jwt(header, claims, key=None):
    """A compact JWS built by hand. With `key` (str or bytes) the signature is
    HMAC-SHA256 over "header.payload"; without one it is empty (alg none)."""
    h = b64url(json.dumps(header, separators=(",", ":")))
    p = b64url(json.dumps(claims, separators=(",", ":")))
    signing_input = f"{h}.{p}"
    if key is None:
        return signing_input + "."
    if isinstance(key, str):
        key = key.encode()
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(sig)}"


def decode_jwt(token):
    """(header, claims, signature bytes) of a compact JWS, unverified."""
    parts = token.split(".")
    assert len(parts) == 3, token
    return (json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1])),
            b64url_decode(parts[2]))


def verify_hs256(token, key):
    """True if the token's signature is HMAC-SHA256 under `key`."""
    h, p, s = token.split(".")
    if isinstance(key, str):
        key = key.encode()
    want = hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(want, b64url_decode(s))


def claims_for(client_id, scope, issuer="grantd", audience="grantd", ttl=600,
               **extra):
    """Claims grantd would accept for `client_id` (override any with extra)."""
    now = int(time.time())
    c = {"iss": issuer, "sub": client_id, "aud": audience, "iat": now,
         "exp": now + ttl, "jti": secrets.token_hex(16), "scope": scope}
    c.update(extra)
    return c


def hs256_header(kid):
    return {"alg": "HS256", "typ": "JWT", "kid": kid}


# ---- clients through the command line -------------------------------------------------

def clients_cli(g, *args):
    return g.cli("clients", args[0], "--config", str(g.config_path), *args[1:])


def create_client(g, name, *scopes):
    """Creates an OAuth client with `grantd clients create --json`; returns
    {"client_id", "client_secret"} and remembers it in g.clients[name]."""
    args = ["create", "--name", name, "--json"]
    for s in scopes:
        args += ["--scope", s]
    r = clients_cli(g, *args)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    c = json.loads(r.stdout.strip().splitlines()[-1])
    assert CLIENT_ID_RE.fullmatch(c["client_id"]), c
    assert CLIENT_SECRET_RE.fullmatch(c["client_secret"]), c
    if not hasattr(g, "clients"):
        g.clients = {}
    g.clients[name] = c
    return c


def revoke_client(g, client_id):
    r = clients_cli(g, "revoke", client_id)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def rotate_client_secret(g, client_id):
    r = clients_cli(g, "rotate-secret", client_id, "--json")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["client_id"] == client_id
    assert CLIENT_SECRET_RE.fullmatch(out["client_secret"]), out
    if hasattr(g, "clients"):
        for c in g.clients.values():
            if c["client_id"] == client_id:
                c.setdefault("old_secrets", []).append(c["client_secret"])
                c["client_secret"] = out["client_secret"]
    return out


def clients_list(g):
    r = clients_cli(g, "list", "--json")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def keys_list(g):
    r = g.cli("keys", "list", "--config", str(g.config_path), "--json")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def audit(g, *extra):
    r = g.cli("audit", "--config", str(g.config_path), "--json", *map(str, extra))
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


# ---- configuring and starting ------------------------------------------------------------

def configure_oauth(g, keys=None, auth=None, config=None):
    """Writes a signing keys file next to g's config (mode 0600) and rewrites
    the config with auth.signing_keys_file set, plus `auth` keys and other
    `config` sections. Returns the keys [(kid, secret), ...]."""
    if keys is None:
        keys = [("k1", new_signing_secret())]
    g.signing_keys_path = g.dir / "signing.keys"
    write_signing_keys(g.signing_keys_path, keys)
    g.signing_keys = list(keys)
    cfg = dict(config or {})
    cfg["auth"] = {"signing_keys_file": str(g.signing_keys_path), **(auth or {}),
                   **cfg.get("auth", {})}
    g.write_config(cfg)
    return keys


def oauth_ready(make_grantd, name="g", keys=None, auth=None, config=None):
    """Like conftest's ready(), with OAuth on: a signing keys file, API keys
    g.prime_key / g.partner_key, OAuth clients g.clients["prime-oauth"]
    (fulfillment:primegaming) and g.clients["backend-oauth"] (partner),
    started, with the account "player-1" created."""
    g = make_grantd(name)
    configure_oauth(g, keys=keys, auth=auth, config=config)
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    create_client(g, "prime-oauth", "fulfillment:primegaming")
    create_client(g, "backend-oauth", "partner")
    g.start()
    assert g.put_account("player-1").status_code == 201
    return g


# ---- the token endpoint ----------------------------------------------------------------------

def token_request(g, data=None, auth=None, headers=None, body=None, url=None,
                  **kw):
    """POST /oauth2/token. `data` is a dict or a list of pairs (sent form
    encoded unless `body` is given raw); `auth` a (id, secret) pair for HTTP
    Basic."""
    hdrs = {"Content-Type": FORM}
    hdrs.update(headers or {})
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    kw.setdefault("timeout", 10)
    return requests.post(url or g.url(TOKEN_PATH), data=body if body is not None else data,
                         auth=auth, headers=hdrs, **kw)


def fetch_token(g, client, scope=None, **kw):
    """A token for `client` ({"client_id", "client_secret"}) through HTTP
    Basic; returns the token endpoint's JSON answer."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    r = token_request(g, data, auth=(client["client_id"], client["client_secret"]), **kw)
    assert r.status_code == 200, (r.status_code, r.text)
    g.__dict__.setdefault("issued_tokens", []).append(r.json()["access_token"])
    return r.json()


def wait_for_client(g, client, timeout=2.5):
    """Waits until a client made while g runs is known to the server (the
    credential cache reloads every second)."""
    wait_until(lambda: token_request(g, {"grant_type": "client_credentials"},
                                     auth=(client["client_id"], client["client_secret"])
                                     ).status_code != 401,
               timeout, interval=0.1, what=f"client {client['client_id']} known")
    return client


def access_token(g, client, scope=None, **kw):
    return fetch_token(g, client, scope, **kw)["access_token"]


def fulfill_with(g, token, account_id, sku, transaction_id, **kw):
    return g.request("POST", FULFILL, key=token,
                     json={"account_id": account_id, "sku": sku,
                           "transaction_id": transaction_id}, **kw)


def assert_no_store(r):
    assert r.headers.get("Cache-Control") == "no-store", dict(r.headers)
    assert r.headers.get("Pragma") == "no-cache", dict(r.headers)


def assert_oauth_error(r, code, status=None):
    """An RFC 6749 §5.2 error answer with the no-store headers."""
    if status is None:
        status = 401 if code == "invalid_client" else 400
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body.get("error") == code, body
    assert isinstance(body.get("error_description"), str) and body["error_description"], body
    assert "access_token" not in body
    assert_no_store(r)
    if code == "invalid_client":
        assert r.headers.get("WWW-Authenticate") == 'Basic realm="grantd"', dict(r.headers)
    return body


def assert_invalid_token(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers.get("WWW-Authenticate") == BEARER_INVALID, dict(r.headers)
    assert r.json()["error"]["code"] == "Unauthorized", r.text


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value, at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not true after {timeout}s")
        time.sleep(interval)


def assert_not_logged(g, secrets_):
    """No secret (nor the part after its prefix) appears in g's logs."""
    text = g.stderr_path.read_text() + g.stdout_path.read_text()
    for s in secrets_:
        assert s, "empty secret given"
        assert s not in text, f"secret {s[:8]}... found in the logs"
        tail = s.split("_", 1)[1] if s.startswith(("gdk_", "gdcs_")) else s
        assert tail not in text, f"secret {s[:8]}... (without prefix) found in the logs"


def known_secrets(g):
    """Every API key, client secret (current and rotated out), signing secret
    and access token the helpers made or fetched for g."""
    out = [k["key"] for k in getattr(g, "keys", {}).values()]
    for c in getattr(g, "clients", {}).values():
        out.append(c["client_secret"])
        out += c.get("old_secrets", [])
    out += [secret for _, secret in getattr(g, "signing_keys", [])]
    out += getattr(g, "issued_tokens", [])
    return out
