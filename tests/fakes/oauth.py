"""OAuth 2.0 authorization-server behaviour shared by the Twitch, Epic and
Login with Amazon fakes: an authorize endpoint that redirects straight back
for a designated user, single-use codes bound to redirect_uri and a PKCE S256
challenge, client authentication, access/refresh tokens with expiry and
revocation."""
import base64
import hashlib
import re
import secrets
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from .common import FORM, FakeProvider, Response, reason

VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")    # RFC 7636 §4.1
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")          # b64url(sha256)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def pkce_challenge(verifier):
    """BASE64URL(SHA256(verifier)) without padding (RFC 7636 S256)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class AccessToken:
    value: str
    client_id: str
    subject: str        # the provider user id; None for an app token
    scopes: tuple
    expires_at: float


@dataclass
class RefreshToken:
    value: str
    client_id: str
    subject: str
    scopes: tuple
    revoked: bool = False


@dataclass
class AuthCode:
    value: str
    client_id: str
    redirect_uri: str
    subject: str
    scopes: tuple
    challenge: str      # None when the client sent no PKCE challenge
    expires_at: float
    used: bool = False


class OAuthError(Exception):
    """A token endpoint refusal: {"error", "error_description"}."""

    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self):
        return Response.json({"error": self.error,
                              "error_description": self.description},
                             self.status)


class OAuthFake(FakeProvider):
    """A fake provider that is also an OAuth 2.0 authorization server.

    Subclasses set `authorize_path`, `token_path`, `client_auth` ("form":
    client_id/client_secret form fields, "basic": HTTP Basic), the grant
    types they accept and `known_scopes` (None: any scope), route the two
    paths to handle_authorize/handle_token, and shape token_response()."""

    authorize_path = None
    token_path = None
    client_auth = "form"
    credentials_in_query = False      # Twitch's older examples do this
    grant_types = ("authorization_code", "refresh_token")
    known_scopes = None
    access_ttl = 3600
    app_access_ttl = 3600
    code_ttl = 300

    def __init__(self, client_id, client_secret, default_user,
                 redirect_uris=None, require_pkce=True,
                 rotate_refresh_tokens=False, seed=None):
        super().__init__(seed)
        self.client_id = client_id
        self.client_secret = client_secret
        self.default_user = default_user
        self.redirect_uris = set(redirect_uris or ())
        self.require_pkce = require_pkce
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.users = {}
        self._logins = deque()
        self._codes = {}
        self._access = {}
        self._refresh = {}
        self.add_user(default_user)

    # ---- control API --------------------------------------------------------
    def add_user(self, subject, **profile):
        """Makes `subject` a known provider user (with the default profile
        when new) and sets the given `profile` fields."""
        with self.lock:
            if subject not in self.users:
                self.users[subject] = self.default_profile(subject)
            self.users[subject].update(profile)

    def next_login(self, subject, **profile):
        """The next authorize request logs in as `subject` (queued; once the
        queue is empty the default user logs in)."""
        self.add_user(subject, **profile)
        with self.lock:
            self._logins.append((subject, None))

    def deny_next_login(self, error="access_denied"):
        """The next authorize request redirects back with `error`, as when the
        user refuses consent."""
        with self.lock:
            self._logins.append((None, error))

    def register_redirect_uri(self, uri):
        """From now on only registered redirect URIs are accepted exactly.
        Until one is registered, any https URI and any http URI on a
        loopback host is."""
        with self.lock:
            self.redirect_uris.add(uri)

    def issue_tokens(self, subject, scopes=()):
        """Tokens for `subject` as the code exchange would give them, without
        the browser flow (to seed an already-linked account)."""
        self.add_user(subject)
        with self.lock:
            access, refresh = self._issue(subject, tuple(scopes), None)
            return self.token_response(access, refresh)

    def expire_tokens(self):
        """Every access token issued so far is expired from now on."""
        with self.lock:
            for token in self._access.values():
                token.expires_at = min(token.expires_at, self.now() - 1)

    def revoke_refresh_tokens(self):
        """Every refresh token issued so far is refused from now on."""
        with self.lock:
            for token in self._refresh.values():
                token.revoked = True

    def revoke_user(self, subject):
        """The user removed the app: their access and refresh tokens die."""
        with self.lock:
            for token in self._access.values():
                if token.subject == subject:
                    token.expires_at = self.now() - 1
            for token in self._refresh.values():
                if token.subject == subject:
                    token.revoked = True

    def token_count(self, grant=None):
        """How many token requests were answered 200 (of `grant` type)."""
        return sum(1 for c in self.calls_to(self.token_path, "POST")
                   if c.status == 200 and (grant is None or
                                           self._params(c).get("grant_type")
                                           == grant))

    # ---- hooks --------------------------------------------------------------
    def default_profile(self, subject):
        return {}

    def check_token_params(self, params):
        """Provider-specific checks of a token request (raise OAuthError)."""

    def new_code(self):
        return secrets.token_urlsafe(24)

    def new_access_token(self):
        return secrets.token_urlsafe(32)

    def new_refresh_token(self):
        return secrets.token_urlsafe(48)

    def token_response(self, access, refresh):
        """The provider's token answer for a new `access` (and `refresh`,
        None for an app token)."""
        raise NotImplementedError

    def api_error(self, status, message, path):
        """The provider's API error body (paths other than OAuth ones)."""
        return super().error_response(status, message, path)

    def error_response(self, status, message, path):
        if path.rstrip("/") == self.token_path:
            error = {400: "invalid_request", 401: "invalid_client"}.get(
                status, "server_error" if status >= 500
                else "temporarily_unavailable")
            return OAuthError(error, message, status).response()
        if path.rstrip("/") == self.authorize_path:
            return Response.html(status, f"<html><body><h1>{status} "
                                 f"{reason(status)}</h1><p>{message}</p>"
                                 "</body></html>")
        return self.api_error(status, message, path)

    # ---- authorize endpoint -------------------------------------------------
    def handle_authorize(self, req):
        """GET authorize: checks the client and redirect URI (an error page if
        either is wrong, never a redirect), then redirects back with a code
        for the designated user, or with an OAuth error."""
        q = req.query
        if q.get("client_id") != self.client_id:
            return self.error_response(400, "Unknown client_id", req.path)
        redirect_uri = q.get("redirect_uri", "")
        if not self._redirect_ok(redirect_uri):
            return self.error_response(400, "redirect_uri not allowed",
                                       req.path)
        state = q.get("state")
        try:
            scopes, challenge = self._check_authorize(q)
        except OAuthError as e:
            return _back(redirect_uri, state, error=e.error,
                         error_description=e.description)
        subject, error = self._logins.popleft() if self._logins else (
            self.default_user, None)
        if error:
            return _back(redirect_uri, state, error=error,
                         error_description="The user denied the request")
        code = AuthCode(self.new_code(), self.client_id, redirect_uri, subject,
                        scopes, challenge, self.now() + self.code_ttl)
        self._codes[code.value] = code
        return _back(redirect_uri, state, code=code.value)

    def _redirect_ok(self, uri):
        if self.redirect_uris:
            return uri in self.redirect_uris
        parts = urlsplit(uri)
        if parts.scheme == "https":
            return bool(parts.netloc)
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS

    def _check_authorize(self, q):
        """(scopes, PKCE challenge) of a valid authorize request, else the
        OAuthError to redirect back with."""
        if q.get("response_type") != "code":
            raise OAuthError("unsupported_response_type",
                             "response_type must be code")
        scopes = tuple(q.get("scope", "").split())
        if self.known_scopes is not None:
            unknown = [s for s in scopes if s not in self.known_scopes]
            if unknown:
                raise OAuthError("invalid_scope",
                                 "Unknown scope: " + " ".join(unknown))
        challenge = q.get("code_challenge")
        if challenge is None:
            if self.require_pkce:
                raise OAuthError("invalid_request", "code_challenge required")
            return scopes, None
        if q.get("code_challenge_method") != "S256":
            raise OAuthError("invalid_request",
                             "code_challenge_method must be S256")
        if not CHALLENGE_RE.match(challenge):
            raise OAuthError("invalid_request", "Malformed code_challenge")
        return scopes, challenge

    # ---- token endpoint -----------------------------------------------------
    def handle_token(self, req):
        """POST token: client authentication, then the grant."""
        try:
            params = self._token_params(req)
            client_id = self._authenticate_client(req, params)
            self.check_token_params(params)
            grant = params.get("grant_type")
            if grant not in self.grant_types:
                raise OAuthError("unsupported_grant_type",
                                 f"Unsupported grant_type: {grant}")
            access, refresh = getattr(self, "_grant_" + grant)(params,
                                                               client_id)
        except OAuthError as e:
            return e.response()
        return Response.json(self.token_response(access, refresh),
                             headers={"Cache-Control": "no-store",
                                      "Pragma": "no-cache"})

    def _params(self, req):
        params = dict(req.query) if self.credentials_in_query else {}
        if req.body:
            params.update(req.form())
        return params

    def _token_params(self, req):
        if req.body and req.content_type != FORM:
            raise OAuthError("invalid_request", f"Content-Type must be {FORM}")
        try:
            return self._params(req)
        except ValueError:
            raise OAuthError("invalid_request", "Malformed form body") from None

    def _authenticate_client(self, req, params):
        if self.client_auth == "basic":
            client_id, secret = _basic(req.header("authorization", ""))
        else:
            client_id = params.get("client_id")
            secret = params.get("client_secret")
        if client_id != self.client_id or secret != self.client_secret:
            raise OAuthError("invalid_client", "Client authentication failed",
                             401)
        return client_id

    def _grant_client_credentials(self, params, client_id):
        token = AccessToken(self.new_access_token(), client_id, None,
                            tuple(params.get("scope", "").split()),
                            self.now() + self.app_access_ttl)
        self._access[token.value] = token
        return token, None

    def _grant_authorization_code(self, params, client_id):
        code = self._codes.get(params.get("code", ""))
        if code is None or code.client_id != client_id:
            raise OAuthError("invalid_grant", "Unknown authorization code")
        if code.used:
            raise OAuthError("invalid_grant", "Authorization code already used")
        code.used = True      # burnt by any attempt, even a failed one
        if code.expires_at <= self.now():
            raise OAuthError("invalid_grant", "Authorization code expired")
        if params.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match")
        if code.challenge is not None:
            verifier = params.get("code_verifier", "")
            if not VERIFIER_RE.match(verifier):
                raise OAuthError("invalid_grant", "Missing or malformed "
                                 "code_verifier")
            if pkce_challenge(verifier) != code.challenge:
                raise OAuthError("invalid_grant", "code_verifier does not "
                                 "match code_challenge")
        return self._issue(code.subject, code.scopes, None)

    def _grant_refresh_token(self, params, client_id):
        old = self._refresh.get(params.get("refresh_token", ""))
        if old is None or old.client_id != client_id:
            raise OAuthError("invalid_grant", "Invalid refresh token")
        if old.revoked:
            raise OAuthError("invalid_grant", "Refresh token revoked")
        if self.rotate_refresh_tokens:
            old.revoked = True
            return self._issue(old.subject, old.scopes, None)
        return self._issue(old.subject, old.scopes, old)

    def _issue(self, subject, scopes, refresh):
        """A new user access token, and a new refresh token unless `refresh`
        (kept) is given."""
        access = AccessToken(self.new_access_token(), self.client_id, subject,
                             scopes, self.now() + self.access_ttl)
        self._access[access.value] = access
        if refresh is None:
            refresh = RefreshToken(self.new_refresh_token(), self.client_id,
                                   subject, scopes)
            self._refresh[refresh.value] = refresh
        return access, refresh

    # ---- for API handlers ---------------------------------------------------
    def lookup_token(self, value):
        """(AccessToken, "ok") for a live token, (token, "expired"), or
        (None, "unknown")."""
        token = self._access.get(value or "")
        if token is None:
            return None, "unknown"
        if token.expires_at <= self.now():
            return token, "expired"
        return token, "ok"

    def expires_in(self, token):
        return max(0, round(token.expires_at - self.now()))


def scheme_token(header_value, scheme):
    """The credential of an Authorization header "<scheme> <value>" (the
    scheme compared case-insensitively), else None."""
    parts = (header_value or "").split(None, 1)
    if len(parts) == 2 and parts[0].lower() == scheme.lower():
        return parts[1].strip()
    return None


def _basic(header_value):
    """(client_id, secret) of an HTTP Basic header, or (None, None)."""
    value = scheme_token(header_value, "Basic")
    try:
        client_id, secret = base64.b64decode(value, validate=True).decode(
            "utf-8").split(":", 1)
    except (TypeError, ValueError):
        return None, None
    return client_id, secret


def _back(redirect_uri, state, **params):
    """A 302 to `redirect_uri` with `params` (and `state` if given) added."""
    if state is not None:
        params["state"] = state
    sep = "&" if urlsplit(redirect_uri).query else "?"
    return Response.redirect(redirect_uri + sep + urlencode(params))
