"""Loopback fake of Amazon Prime Gaming's pull integration: Login with Amazon
(/ap/oa, /auth/o2/token, /user/profile) and the entitlements API
(/api/entitlements, /api/fulfill on twitch.amazon.com)."""
import re
import string
import uuid
from dataclasses import dataclass

from .common import HttpError, Response
from .oauth import OAuthFake, scheme_token

SKU_RE = re.compile(r"^[A-Za-z0-9_:.-]+$")
INSTRUCTIONS = ("FULFILL", "NOOP")
SCOPES = ("games::prime", "profile", "profile:user_id", "postal_code")
USER_ID_CHARS = string.ascii_uppercase + string.digits
CLIENT_ID = "amzn1.application-oa2-client.4f1e2d3c4b5a69788796a5b4c3d2e1f0"
CLIENT_SECRET = "9c1f0e2d3b4a5968776655443322110" \
    "0ffeeddccbbaa99887766554433221100"


@dataclass
class Entitlement:
    id: str
    user_id: str
    sku: str
    next_instruction: str
    fulfilled: bool = False

    def as_json(self):
        return {"EntitlementId": self.id, "VendorProductId": self.sku,
                "NextInstruction": self.next_instruction}


class FakePrimeGaming(OAuthFake):
    """LWA (authorization code with PKCE, refresh, profile) and the Prime
    Gaming entitlements and fulfil calls. Both API calls take the LWA access
    token in `x-amz-access-token` and need the `games::prime` scope.

    `expired_token_status` is what an expired, unknown or missing access
    token gets (400 by default, as LWA documents; 401 is the alternative).
    `games_prime_enabled=False` makes authorize refuse the `games::prime`
    scope (invalid_scope), as for an app Amazon has not enabled."""

    provider_id = "primegaming"
    authorize_path = "/ap/oa"
    token_path = "/auth/o2/token"
    known_scopes = SCOPES
    access_ttl = 3600

    def __init__(self, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                 default_user="amzn1.account.AEXAMPLEPRIMEGAMINGUSER00001",
                 expired_token_status=400, games_prime_enabled=True,
                 **oauth):
        if expired_token_status not in (400, 401):
            raise ValueError("expired_token_status: 400 or 401")
        super().__init__(client_id, client_secret, default_user, **oauth)
        self.expired_token_status = expired_token_status
        if not games_prime_enabled:
            self.known_scopes = tuple(s for s in SCOPES if s != "games::prime")
        self._entitlements = {}
        self._fulfill_errors = {}

    def routes(self):
        return [
            ("GET", self.authorize_path, self.handle_authorize),
            ("POST", self.token_path, self.handle_token),
            ("GET", "/user/profile", self.handle_profile),
            ("GET", "/api/entitlements", self.handle_entitlements),
            ("POST", "/api/fulfill", self.handle_fulfill),
        ]

    def grantd_config(self):
        return {"client_id": self.client_id,
                "client_secret": self.client_secret,
                "authorize_url": self.url(self.authorize_path),
                "token_url": self.url(self.token_path),
                "profile_url": self.url("/user/profile"),
                "api_base": self.url("/api")}

    # ---- control API --------------------------------------------------------
    def new_user_id(self):
        """A fresh LWA user id (amzn1.account. and 28 characters)."""
        return "amzn1.account." + "".join(
            self.rng.choice(USER_ID_CHARS) for _ in range(28))

    def add_entitlement(self, user_id, sku, next_instruction="FULFILL"):
        """An open entitlement of LWA user `user_id` to `sku` (charset
        A-Za-z0-9 - _ : .); returns its EntitlementId."""
        if not SKU_RE.match(sku):
            raise ValueError(f"bad SKU characters: {sku!r}")
        if next_instruction not in INSTRUCTIONS:
            raise ValueError(f"next_instruction: one of {INSTRUCTIONS}")
        with self.lock:
            ent = Entitlement(str(uuid.UUID(int=self.rng.getrandbits(128),
                                            version=4)),
                              user_id, sku, next_instruction)
            self._entitlements[ent.id] = ent
            return ent.id

    def fulfilled(self, entitlement_id):
        """Whether fulfilment was reported (KeyError if unknown)."""
        with self.lock:
            return self._entitlements[entitlement_id].fulfilled

    def entitlements(self, user_id):
        """`user_id`'s open entitlements as the API lists them."""
        with self.lock:
            return [e.as_json() for e in self._open(user_id)]

    def fulfill_error(self, ids, times=1):
        """The next `times` fulfil reports of each of `ids` get Result ERROR
        (and change nothing)."""
        with self.lock:
            for i in ids:
                self._fulfill_errors[i] = self._fulfill_errors.get(i, 0) + times

    # ---- hooks --------------------------------------------------------------
    def default_profile(self, subject):
        suffix = subject.rsplit(".", 1)[-1][-6:].lower()
        return {"name": f"Prime Player {suffix}",
                "email": f"player-{suffix}@example.com"}

    def new_code(self):
        return "".join(self.rng.choice(string.ascii_letters)
                       for _ in range(20))

    def new_access_token(self):
        return "Atza|" + super().new_access_token()

    def new_refresh_token(self):
        return "Atzr|" + super().new_refresh_token()

    def token_response(self, access, refresh):
        return {"access_token": access.value, "refresh_token": refresh.value,
                "token_type": "bearer",
                "expires_in": self.expires_in(access)}

    def api_error(self, status, message, path):
        error = {400: "invalid_request", 401: "invalid_token",
                 403: "insufficient_scope", 404: "not_found"}.get(
            status, "server_error" if status >= 500 else "invalid_request")
        return Response.json({"error": error, "error_description": message},
                             status)

    # ---- handlers -----------------------------------------------------------
    def handle_profile(self, req):
        """GET profile with "Authorization: Bearer" (or x-amz-access-token):
        user_id, plus name and email with the `profile` scope."""
        value = scheme_token(req.header("authorization"), "Bearer") or \
            req.header("x-amz-access-token")
        token = self._user_token(req, value, ("profile", "profile:user_id"))
        body = {"user_id": token.subject}
        if "profile" in token.scopes:
            user = self.users[token.subject]
            body.update(name=user["name"], email=user["email"])
        return Response.json(body)

    def handle_entitlements(self, req):
        token = self._api_token(req)
        return Response.json({"Entitlements": [
            e.as_json() for e in self._open(token.subject)]})

    def handle_fulfill(self, req):
        """POST fulfil: a Result per update; SUCCESS (again) for an already
        fulfilled one of this user, ERROR for unknown ids, other users'
        ids, a LastInstruction other than FULFILL, or an injected error."""
        token = self._api_token(req)
        body = self.json_body(req)
        updates = body.get("FulfillmentStatusUpdates")
        if not isinstance(updates, list) or not updates or not all(
                isinstance(u, dict) and isinstance(u.get("EntitlementId"), str)
                for u in updates):
            raise self.error(req, 400, "FulfillmentStatusUpdates must be a "
                             "non-empty list of {EntitlementId, "
                             "LastInstruction, FulfillmentAddress}")
        return Response.json({"FulfillmentStatusUpdates": [
            {"EntitlementId": u["EntitlementId"],
             "Result": self._fulfill_one(u, token.subject)} for u in updates]})

    def _fulfill_one(self, update, user_id):
        ent = self._entitlements.get(update["EntitlementId"])
        if ent is None or ent.user_id != user_id or \
                update.get("LastInstruction") != "FULFILL":
            return "ERROR"
        if self._fulfill_errors.get(ent.id, 0) > 0:
            self._fulfill_errors[ent.id] -= 1
            return "ERROR"
        ent.fulfilled = True
        return "SUCCESS"

    def _api_token(self, req):
        return self._user_token(req, req.header("x-amz-access-token"),
                                ("games::prime",))

    def _user_token(self, req, value, scopes):
        """The live user token `value` holding one of `scopes`; else the
        configured status for a bad token, 403 for a missing scope."""
        token, state = self.lookup_token(value)
        if state != "ok" or token.subject is None:
            raise HttpError(Response.json(
                {"error": "invalid_token",
                 "error_description": "The access token is invalid or "
                 "expired" if value else "Missing access token"},
                self.expired_token_status))
        if not any(s in token.scopes for s in scopes):
            raise self.error(req, 403, "The token lacks scope " +
                             " or ".join(scopes))
        return token

    def _open(self, user_id):
        return [e for e in self._entitlements.values()
                if e.user_id == user_id and not e.fulfilled]
