"""Loopback fake of Epic Online Services: Epic Account Services OAuth at
/epic/oauth/v2 and the Ecom entitlements API at /epic/ecom/v3 (both on
api.epicgames.dev)."""
from dataclasses import dataclass

from .common import Response, iso_millis
from .oauth import OAuthError, OAuthFake, scheme_token

ENTITLEMENT_TYPES = ("EXECUTABLE", "ENTITLEMENT", "AUDIENCE")

# Error codes of the Epic envelope. Epic documents none for these cases: the
# names follow the pattern seen on other Epic services, the numbers are made
# up. A client should act on the HTTP status only.
ERRORS = {
    400: ("errors.com.epicgames.validation.validation_failed", 1040),
    401: ("errors.com.epicgames.common.authentication.token_verification_failed",
          1014),
    403: ("errors.com.epicgames.common.missing_permission", 1023),
    404: ("errors.com.epicgames.ecom.entitlement_not_found", 19004),
    405: ("errors.com.epicgames.common.method_not_allowed", 1009),
    429: ("errors.com.epicgames.common.throttled", 1041),
}
SERVER_ERROR = ("errors.com.epicgames.common.server_error", 1000)


@dataclass
class Entitlement:
    id: str
    account_id: str
    entitlement_name: str
    namespace: str
    catalog_item_id: str
    entitlement_type: str
    grant_date: str
    consumable: bool
    redeemed: bool = False

    def as_json(self):
        body = {"id": self.id, "entitlementName": self.entitlement_name,
                "namespace": self.namespace,
                "catalogItemId": self.catalog_item_id,
                "entitlementType": self.entitlement_type,
                "grantDate": self.grant_date, "consumable": self.consumable,
                "status": "ACTIVE", "useCount": 1 if self.redeemed else 0,
                "entitlementSource": "eos", "active": True}
        if self.redeemed:
            body["redeemed"] = True
        return body


class FakeEpic(OAuthFake):
    """EAS tokens (HTTP Basic client auth; client_credentials,
    authorization_code, refresh_token) and Ecom entitlements (enumerate,
    redeem). Any live token of the client may read or redeem any identity's
    entitlements, except that a user token is limited to its own account."""

    provider_id = "epic"
    authorize_path = "/epic/oauth/v2/authorize"
    token_path = "/epic/oauth/v2/token"
    client_auth = "basic"
    grant_types = ("client_credentials", "authorization_code",
                   "refresh_token")
    access_ttl = 7200
    app_access_ttl = 14400

    def __init__(self, client_id="xyza7891TydzdNolzGQ4TzTe0rHbcjDf",
                 client_secret="Cz3GVsKwW3wYxKj9pVt1mHf2Ud5lOq7iNfX8aRbE",
                 deployment_id="0a8f9b2e4c1d4f6b8e3a5c7d9f1b3e5a",
                 sandbox_id="5d1e3f7a9c2b4d6f8a0c1e3b5d7f9a2c",
                 application_id="fghi4567Wq2cQ8nR1tVb9XsE3kLm0ZyA",
                 default_user="b1c2d3e4f5a64b7c8d9e0f1a2b3c4d5e",
                 ecom_version="v3", **oauth):
        super().__init__(client_id, client_secret, default_user, **oauth)
        self.deployment_id = deployment_id
        self.sandbox_id = sandbox_id
        self.application_id = application_id
        self.ecom_version = ecom_version
        self._entitlements = {}

    @property
    def ecom_prefix(self):
        return f"/epic/ecom/{self.ecom_version}"

    def routes(self):
        base = self.ecom_prefix + "/identities/{identity}/entitlements"
        return [
            ("POST", self.token_path, self.handle_token),
            ("GET", self.authorize_path, self.handle_authorize),
            ("GET", base, self.handle_list),
            ("PUT", base + "/redeem", self.handle_redeem),
        ]

    def grantd_config(self):
        return {"client_id": self.client_id,
                "client_secret": self.client_secret,
                "deployment_id": self.deployment_id,
                "sandbox_id": self.sandbox_id,
                "auth_base": self.url("/epic/oauth/v2"),
                "authorize_url": self.url("/epic/oauth/v2/authorize"),
                "api_base": self.url(self.ecom_prefix)}

    # ---- control API --------------------------------------------------------
    def add_entitlement(self, account_id, catalog_item_id, consumable=False,
                        entitlement_name=None, entitlement_type="ENTITLEMENT"):
        """An entitlement of `account_id` to a catalog (or audience) item in
        the fake's sandbox; returns its id (32 hex digits)."""
        if entitlement_type not in ENTITLEMENT_TYPES:
            raise ValueError(f"entitlement_type: one of {ENTITLEMENT_TYPES}")
        with self.lock:
            ent = Entitlement(f"{self.rng.getrandbits(128):032x}", account_id,
                              entitlement_name or catalog_item_id,
                              self.sandbox_id, catalog_item_id,
                              entitlement_type, iso_millis(self.now()),
                              bool(consumable))
            self._entitlements[ent.id] = ent
            return ent.id

    def redeemed(self, entitlement_id):
        """Whether the entitlement was redeemed (KeyError if unknown)."""
        with self.lock:
            return self._entitlements[entitlement_id].redeemed

    def entitlements(self, account_id, include_redeemed=False):
        """`account_id`'s entitlements as the API lists them."""
        with self.lock:
            return [e.as_json() for e in self._entitlements.values()
                    if e.account_id == account_id and
                    (include_redeemed or not e.redeemed)]

    # ---- hooks --------------------------------------------------------------
    def new_code(self):
        return f"{self.rng.getrandbits(128):032x}"

    def token_response(self, access, refresh):
        body = {"access_token": access.value, "token_type": "bearer",
                "expires_in": self.expires_in(access),
                "expires_at": iso_millis(access.expires_at)}
        if refresh is not None:
            body.update(refresh_token=refresh.value,
                        account_id=access.subject)
        body.update(client_id=access.client_id,
                    application_id=self.application_id,
                    scope=" ".join(access.scopes))
        return body

    def api_error(self, status, message, path):
        code, number = ERRORS.get(status, SERVER_ERROR)
        return Response.json({"errorCode": code, "errorMessage": message,
                              "messageVars": [], "numericErrorCode": number,
                              "originatingService": "com.epicgames.ecom",
                              "intent": "prod"}, status)

    def check_token_params(self, params):
        """A deployment_id, when sent, must be the fake's."""
        if params.get("deployment_id") not in (None, self.deployment_id):
            raise OAuthError("invalid_request", "Unknown deployment_id")

    # ---- Ecom ---------------------------------------------------------------
    def handle_list(self, req, identity):
        """GET entitlements: a bare array, redeemed ones only with
        includeRedeemed=true, filtered by any entitlementName given."""
        self._check_caller(req, identity)
        self._check_sandbox(req, req.query.get("sandboxId"))
        names = req.query_all("entitlementName")
        include = req.query.get("includeRedeemed", "false").lower() == "true"
        return Response.json([
            e.as_json() for e in self._entitlements.values()
            if e.account_id == identity and (include or not e.redeemed)
            and (not names or e.entitlement_name in names)])

    def handle_redeem(self, req, identity):
        """PUT redeem {"entitlementIds", "sandboxId"}: 204; redeeming again is
        fine; an id that is not this identity's is 404 and nothing changes."""
        self._check_caller(req, identity)
        body = self.json_body(req)
        self._check_sandbox(req, body.get("sandboxId"))
        ids = body.get("entitlementIds")
        if not isinstance(ids, list) or not ids or \
                not all(isinstance(i, str) for i in ids):
            raise self.error(req, 400, "entitlementIds must be a non-empty "
                             "list of strings")
        found = [self._entitlements.get(i) for i in ids]
        if any(e is None or e.account_id != identity for e in found):
            raise self.error(req, 404, "Entitlement not found")
        for ent in found:
            ent.redeemed = True
        return Response.empty(204)

    def _check_caller(self, req, identity):
        """401 without a live Bearer token; 403 for a user token of another
        account."""
        token, state = self.lookup_token(
            scheme_token(req.header("authorization"), "Bearer"))
        if state != "ok":
            raise self.error(req, 401, "Invalid or expired token")
        if token.subject is not None and token.subject != identity:
            raise self.error(req, 403, "Token may not access this identity")

    def _check_sandbox(self, req, sandbox_id):
        """400 without a sandbox id, 403 for another sandbox."""
        if not isinstance(sandbox_id, str) or not sandbox_id:
            raise self.error(req, 400, "sandboxId is required")
        if sandbox_id != self.sandbox_id:
            raise self.error(req, 403, "No access to sandbox " + sandbox_id)
