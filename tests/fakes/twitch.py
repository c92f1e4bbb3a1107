"""Loopback fake of Twitch: OAuth at /oauth2 (id.twitch.tv) and the Helix
Drops entitlements API at /helix/entitlements/drops (api.twitch.tv)."""
import base64
import binascii
import json
import re
import secrets
import string
import uuid
from dataclasses import dataclass

from .common import HttpError, Response, is_digits, iso_millis, reason
from .oauth import OAuthFake, scheme_token

STATUSES = ("CLAIMED", "FULFILLED")
OUTCOMES = ("SUCCESS", "INVALID_ID", "NOT_FOUND", "UNAUTHORIZED",
            "UPDATE_FAILED")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$", re.IGNORECASE)
TOKEN_CHARS = string.ascii_lowercase + string.digits
MAX_IDS = 100


@dataclass
class Drop:
    id: str
    benefit_id: str
    user_id: str
    game_id: str
    status: str
    timestamp: str
    last_updated: str
    sort_key: int          # a random, stable order (Twitch promises none)
    org_owned: bool = True

    def as_json(self):
        return {"id": self.id, "benefit_id": self.benefit_id,
                "timestamp": self.timestamp, "user_id": self.user_id,
                "game_id": self.game_id,
                "fulfillment_status": self.status,
                "last_updated": self.last_updated}


class FakeTwitch(OAuthFake):
    """Twitch OAuth (app and user tokens, validate) and Helix Drops.

    `user_token_user_id` says what a user token sent with `user_id` gets:
    "reject" (400 whatever the value, the current reference) or "match"
    (allowed when it is the token's user, the older reference)."""

    provider_id = "twitch"
    authorize_path = "/oauth2/authorize"
    token_path = "/oauth2/token"
    credentials_in_query = True
    grant_types = ("client_credentials", "authorization_code",
                   "refresh_token")
    access_ttl = 14400
    app_access_ttl = 5_000_000

    def __init__(self, client_id="gp762nuuoqcoxypju8c569th9wz7q5",
                 client_secret="41vpdji4e9gif29md0ouet6fktd2",
                 game_id="33214", default_user="25009227",
                 user_token_user_id="reject", ratelimit=800, **oauth):
        super().__init__(client_id, client_secret, default_user, **oauth)
        if user_token_user_id not in ("reject", "match"):
            raise ValueError("user_token_user_id: reject or match")
        self.game_id = game_id
        self.user_token_user_id = user_token_user_id
        self.ratelimit = ratelimit
        self.owned_games = {game_id}
        self._drops = {}
        self._update_failed = {}
        self._bucket = (0.0, 0)          # (window start, points used)

    def routes(self):
        return [
            ("POST", self.token_path, self.handle_token),
            ("GET", self.authorize_path, self.handle_authorize),
            ("GET", "/oauth2/validate", self.handle_validate),
            ("GET", "/helix/entitlements/drops", self.handle_get_drops),
            ("PATCH", "/helix/entitlements/drops", self.handle_patch_drops),
        ]

    def grantd_config(self):
        return {"client_id": self.client_id,
                "client_secret": self.client_secret,
                "game_id": self.game_id,
                "auth_base": self.url("/oauth2"),
                "api_base": self.url("/helix")}

    # ---- control API --------------------------------------------------------
    def add_drop(self, user_id, benefit_id, game_id=None, status="CLAIMED",
                 org_owned=True):
        """A drop entitlement `user_id` claimed; returns its id (a UUID).
        `org_owned=False` makes it one the app's organization may not
        update (PATCH answers UNAUTHORIZED) nor list."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        game_id = game_id or self.game_id
        with self.lock:
            if org_owned:
                self.owned_games.add(game_id)
            now = iso_millis(self.now())
            drop = Drop(str(uuid.UUID(int=self.rng.getrandbits(128),
                                      version=4)),
                        benefit_id, str(user_id), game_id, status, now, now,
                        self.rng.getrandbits(63), org_owned)
            self._drops[drop.id] = drop
            return drop.id

    def drop_status(self, entitlement_id):
        """"CLAIMED", "FULFILLED", or None for an unknown id."""
        with self.lock:
            drop = self._drops.get(entitlement_id)
            return drop.status if drop else None

    def drops(self, user_id=None):
        """Every drop (of `user_id`) as the API shows it."""
        with self.lock:
            return [d.as_json() for d in self._drops.values()
                    if user_id is None or d.user_id == str(user_id)]

    def update_failed(self, ids, times=1):
        """The next `times` PATCHes naming each of `ids` answer UPDATE_FAILED
        for it."""
        with self.lock:
            for i in ids:
                self._update_failed[i] = self._update_failed.get(i, 0) + times

    # ---- hooks --------------------------------------------------------------
    def default_profile(self, subject):
        return {"login": f"viewer{subject}"}

    def new_access_token(self):
        return "".join(secrets.choice(TOKEN_CHARS) for _ in range(30))

    def new_refresh_token(self):
        return "".join(secrets.choice(TOKEN_CHARS) for _ in range(50))

    def token_response(self, access, refresh):
        body = {"access_token": access.value,
                "expires_in": self.expires_in(access),
                "token_type": "bearer"}
        if refresh is not None:
            body = {"access_token": access.value,
                    "refresh_token": refresh.value,
                    "expires_in": self.expires_in(access),
                    "scope": list(access.scopes),
                    "token_type": "bearer"}
        return body

    def api_error(self, status, message, path):
        if status == 401:
            message = "Invalid OAuth token"
        return Response.json({"error": reason(status), "status": status,
                              "message": message}, status)

    def fault_headers(self, status, path):
        if status == 429 and path.startswith("/helix"):
            return {"Ratelimit-Limit": str(self.ratelimit),
                    "Ratelimit-Remaining": "0",
                    "Ratelimit-Reset": str(int(self.now()) + 1)}
        return {}

    # ---- /oauth2/validate ---------------------------------------------------
    def handle_validate(self, req):
        """GET validate with "Authorization: OAuth <token>" (not Bearer)."""
        token, state = self.lookup_token(
            scheme_token(req.header("authorization"), "OAuth"))
        if state != "ok":
            raise self.error(req, 401, "Invalid OAuth token")
        body = {"client_id": token.client_id, "scopes": list(token.scopes),
                "expires_in": self.expires_in(token)}
        if token.subject is not None:
            body.update(login=self.users[token.subject]["login"],
                        user_id=token.subject)
        return Response.json(body)

    # ---- Helix --------------------------------------------------------------
    def handle_get_drops(self, req):
        return self._helix(req, self._get_drops)

    def handle_patch_drops(self, req):
        return self._helix(req, self._patch_drops)

    def _helix(self, req, handler):
        """Rate limit headers on every Helix answer, 429 when the bucket is
        empty, then the token check and `handler(req, token)`."""
        headers, remaining = self._take_point()
        try:
            if remaining < 0:
                raise self.error(req, 429, "Too Many Requests")
            resp = handler(req, self._helix_token(req))
        except HttpError as e:
            resp = e.response
        resp.headers.update(headers)
        return resp

    def _take_point(self):
        start, used = self._bucket
        now = self.now()
        if now - start >= 60:
            start, used = now, 0
        used = min(used + 1, self.ratelimit + 1)
        self._bucket = (start, used)
        remaining = self.ratelimit - used
        return {"Ratelimit-Limit": str(self.ratelimit),
                "Ratelimit-Remaining": str(max(0, remaining)),
                "Ratelimit-Reset": str(int(start + 60))}, remaining

    def _helix_token(self, req):
        """The live token of "Authorization: Bearer" issued to the client in
        Client-Id; else 401."""
        token, state = self.lookup_token(
            scheme_token(req.header("authorization"), "Bearer"))
        if state != "ok" or req.header("client-id") != token.client_id:
            raise self.error(req, 401, "Invalid OAuth token")
        return token

    def _get_drops(self, req, token):
        ids = req.query_all("id")
        if len(ids) > MAX_IDS:
            raise self.error(req, 400, "The maximum number of ids is 100")
        status = req.query.get("fulfillment_status")
        if status is not None and status not in STATUSES:
            raise self.error(req, 400, "Invalid fulfillment_status")
        first = self._first(req)
        user_id = self._user_filter(req, token)
        game_id = req.query.get("game_id")
        if game_id is not None and game_id not in self.owned_games:
            raise self.error(req, 403, "The organization does not own the "
                             "game")
        after = self._decode_cursor(req)
        matches = sorted(
            (d for d in self._drops.values() if d.sort_key > after and
             (d.org_owned or token.subject is not None) and
             (not ids or d.id in ids) and
             (user_id is None or d.user_id == user_id) and
             (game_id is None or d.game_id == game_id) and
             (status is None or d.status == status)),
            key=lambda d: d.sort_key)
        page = matches[:first]
        pagination = {}
        if len(matches) > first:
            pagination = {"cursor": _cursor(page[-1].sort_key)}
        return Response.json({"data": [d.as_json() for d in page],
                              "pagination": pagination})

    def _first(self, req):
        raw = req.query.get("first", "20")
        if not is_digits(raw) or not 1 <= int(raw) <= 1000:
            raise self.error(req, 400, "first must be between 1 and 1000")
        return int(raw)

    def _user_filter(self, req, token):
        """The user_id to filter on: the token's user for a user token."""
        user_id = req.query.get("user_id")
        if token.subject is None:
            return user_id
        if user_id is not None and (self.user_token_user_id == "reject" or
                                    user_id != token.subject):
            raise self.error(req, 400, "user_id must not be specified with "
                             "a user access token")
        return token.subject

    def _decode_cursor(self, req):
        after = req.query.get("after")
        if not after:
            return -1
        try:
            key = json.loads(base64.urlsafe_b64decode(after + "=" * (
                -len(after) % 4)))["k"]
            if isinstance(key, int):
                return key
        except (ValueError, TypeError, KeyError, binascii.Error):
            pass
        raise self.error(req, 400, "Invalid cursor")

    def _patch_drops(self, req, token):
        body = self.json_body(req)
        status = body.get("fulfillment_status")
        if status not in STATUSES:
            raise self.error(req, 400, "Invalid fulfillment_status")
        ids = body.get("entitlement_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str)
                                                for i in ids):
            raise self.error(req, 400, "entitlement_ids must be a list of "
                             "strings")
        if not 1 <= len(ids) <= MAX_IDS:
            raise self.error(req, 400, "entitlement_ids takes 1 to 100 ids")
        groups = {}
        for i in dict.fromkeys(ids):
            groups.setdefault(self._update_one(i, status, token), []).append(i)
        return Response.json({"data": [{"status": s, "ids": groups[s]}
                                       for s in OUTCOMES if s in groups]})

    def _update_one(self, entitlement_id, status, token):
        if not UUID_RE.match(entitlement_id):
            return "INVALID_ID"
        drop = self._drops.get(entitlement_id)
        if drop is None:
            return "NOT_FOUND"
        if token.subject is not None and drop.user_id != token.subject:
            return "UNAUTHORIZED"
        if token.subject is None and not drop.org_owned:
            return "UNAUTHORIZED"
        if self._update_failed.get(entitlement_id, 0) > 0:
            self._update_failed[entitlement_id] -= 1
            return "UPDATE_FAILED"
        drop.status = status
        drop.last_updated = iso_millis(self.now())
        return "SUCCESS"


def _cursor(sort_key):
    """An opaque cursor: base64url of {"k": <position after the last row>}."""
    raw = json.dumps({"k": sort_key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
