"""Loopback fake of the GAMEPOT (NAVER Cloud) server API grantd calls: login
validation (POST /gpapps/v1/loginauth) and the external payment API
(POST /gpapps/v2/thirdparty/purchase).

Both answer HTTP 200 with `{"status": N, "message": "..."}`; the result is in
`status` (1 = success, 0 or negative = the documented error codes). Errors
that happen before GAMEPOT's own code runs (a wrong `x-api-key`, an unknown
path, injected faults) answer a non-200 status in the NAVER Cloud API
Gateway shape `{"error": {"errorCode", "message", "details"}}`."""
import math
from dataclasses import dataclass

from .common import FakeProvider, Response, reason

LOGIN_PATH = "/gpapps/v1/loginauth"
PURCHASE_PATH = "/gpapps/v2/thirdparty/purchase"

# Login validation result codes (GAMEPOT's "Request login validation" page).
LOGIN_OK, LOGIN_MISSING, LOGIN_FORGED, LOGIN_MEMBER_MISMATCH, \
    LOGIN_EXPIRED = 1, 0, -1, -2, -3
LOGIN_MESSAGES = {
    LOGIN_OK: "",
    LOGIN_MISSING: "There's missing data in the body",
    LOGIN_FORGED: "Token validation failed",
    LOGIN_MEMBER_MISMATCH: "MemberId validation failed",
    LOGIN_EXPIRED: "Token expired",
}

# External payment result codes (GAMEPOT's "External payment" page).
PURCHASE_OK, PURCHASE_MISSING, PURCHASE_BAD_PRICE, PURCHASE_BAD_PROJECT, \
    PURCHASE_NOT_SUPPORTED, PURCHASE_DUPLICATE, PURCHASE_DB_ERROR = \
    1, -1, -2, -3, -4, -5, -6
PURCHASE_MESSAGES = {
    PURCHASE_OK: "",
    PURCHASE_MISSING: "There's missing data in the body",
    PURCHASE_BAD_PRICE: "price's value is not in the number type",
    PURCHASE_BAD_PROJECT: "projectId is missing",
    PURCHASE_NOT_SUPPORTED: "The project does not support the API",
    PURCHASE_DUPLICATE: "transactionId already exists",
    PURCHASE_DB_ERROR: "DB error",
}
PURCHASE_REQUIRED = ("projectId", "transactionId", "productId", "store",
                     "memberId")

# NAVER Cloud API Gateway error codes by HTTP status; others use the status.
GATEWAY_CODES = {400: ("100", "Bad Request Exception"),
                 401: ("200", "Authentication Failed"),
                 403: ("230", "Forbidden"),
                 404: ("300", "Not Found Exception")}


@dataclass
class Member:
    """A GAMEPOT SDK login: the token the SDK gave `member_id`."""
    member_id: str
    token: str
    issued: float
    expired: bool = False


@dataclass
class LoginCheck:
    """One loginauth request as the fake saw it, and the status it answered."""
    project_id: object
    member_id: object
    token: object
    remoteip: object
    platform: object
    status: int


class FakeGamepot(FakeProvider):
    """GAMEPOT's login validation and external payment APIs for one project.

    Login validation needs no key; the purchase API needs `x-api-key`. A
    token lives `token_ttl` seconds from add_member() on the fake's clock
    (GAMEPOT's page says 60 minutes); after that it answers -3."""

    provider_id = "gamepot"

    def __init__(self, project_id="e948e5bc-dccd-4729-b9b0-b547ae34b85d",
                 api_key="gpk_4f3c9a1e7b2d8c6f0a5e9b3d7c1f8a2e",
                 token_ttl=3600, thirdparty_enabled=True, seed=None):
        super().__init__(seed)
        self.project_id = project_id
        self.api_key = api_key
        self.token_ttl = token_ttl
        self.thirdparty_enabled = thirdparty_enabled
        self._members = {}          # token -> Member
        self._login_forced = {}     # member_id -> [[status, remaining], ...]
        self._login_checks = []
        self._purchases = {}        # transactionId -> body as accepted
        self._purchase_forced = []  # [[code, remaining], ...]
        self._purchase_results = []

    def routes(self):
        return [("POST", LOGIN_PATH, self.handle_loginauth),
                ("POST", PURCHASE_PATH, self.handle_purchase)]

    def grantd_config(self):
        return {"project_id": self.project_id, "api_key": self.api_key,
                "api_base": self.base_url}

    # ---- control API: login validation --------------------------------------
    def add_member(self, member_id, token=None, expired=False):
        """Records an SDK login of `member_id` with `token` (a fresh random
        one if None) issued now; returns the token. `expired=True` makes it
        answer -3 at once; otherwise it expires after `token_ttl`."""
        with self.lock:
            if token is None:
                token = self.rng.randbytes(48).hex()
            self._members[token] = Member(str(member_id), token, self.now(),
                                          bool(expired))
            return token

    def expire_member(self, member_id):
        """Every token of `member_id` answers -3 from now on."""
        with self.lock:
            for m in self._members.values():
                if m.member_id == str(member_id):
                    m.expired = True

    def login_result(self, member_id, status, times=1):
        """The next `times` well-formed loginauth calls for `member_id`
        (None: all of them) answer `status` whatever the token."""
        if status not in LOGIN_MESSAGES:
            raise ValueError(f"unknown loginauth status {status}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None)")
        with self.lock:
            self._login_forced.setdefault(str(member_id), []).append(
                [status, times])

    def login_checks(self):
        """Every loginauth request received, as LoginCheck (a copy)."""
        with self.lock:
            return list(self._login_checks)

    # ---- control API: purchases ---------------------------------------------
    def fail_purchase(self, code, times=1):
        """The next `times` purchase calls with the right key (None: all)
        answer `code` (-1 … -6) and record nothing."""
        if code not in PURCHASE_MESSAGES or code == PURCHASE_OK:
            raise ValueError(f"unknown purchase error code {code}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None)")
        with self.lock:
            self._purchase_forced.append([code, times])

    def purchases(self, member_id=None):
        """The purchases recorded (status 1), oldest first: each the JSON
        body as sent (a copy), optionally only `member_id`'s."""
        with self.lock:
            return [dict(p) for p in self._purchases.values()
                    if member_id is None or p.get("memberId") == member_id]

    def purchase(self, transaction_id):
        """The recorded purchase with `transaction_id`, or None."""
        with self.lock:
            p = self._purchases.get(transaction_id)
            return dict(p) if p is not None else None

    def purchase_results(self):
        """(transactionId as sent, status answered) of every purchase call
        that passed the key check, oldest first."""
        with self.lock:
            return list(self._purchase_results)

    # ---- hooks --------------------------------------------------------------
    def error_response(self, status, message, path):
        """The NAVER Cloud API Gateway's error envelope."""
        code, text = GATEWAY_CODES.get(status, (str(status), reason(status)))
        return Response.json({"error": {"errorCode": code, "message": text,
                                        "details": message}}, status)

    # ---- handlers -----------------------------------------------------------
    def handle_loginauth(self, req):
        body = _object_body(req)
        project_id, member_id, token = (body.get("projectId"),
                                        body.get("memberId"),
                                        body.get("token"))
        status = self._login_status(project_id, member_id, token)
        self._login_checks.append(LoginCheck(
            project_id, member_id, token, body.get("remoteip"),
            body.get("platform"), status))
        return _result(status, LOGIN_MESSAGES)

    def handle_purchase(self, req):
        if req.header("x-api-key") != self.api_key:
            raise self.error(req, 401, "Invalid authentication information.")
        body = _object_body(req)
        status = self._purchase_status(body)
        if status == PURCHASE_OK:
            self._purchases[body["transactionId"]] = dict(body)
        self._purchase_results.append((body.get("transactionId"), status))
        return _result(status, PURCHASE_MESSAGES)

    # ---- helpers ------------------------------------------------------------
    def _login_status(self, project_id, member_id, token):
        if not all(_present(v) for v in (project_id, member_id, token)):
            return LOGIN_MISSING
        if project_id != self.project_id:
            return LOGIN_FORGED
        forced = _take(self._login_forced.get(member_id, []))
        if forced is not None:
            return forced
        member = self._members.get(token)
        if member is None:
            return LOGIN_FORGED
        if member.member_id != member_id:
            return LOGIN_MEMBER_MISMATCH
        if member.expired or self.now() - member.issued > self.token_ttl:
            return LOGIN_EXPIRED
        return LOGIN_OK

    def _purchase_status(self, body):
        forced = _take(self._purchase_forced)
        if forced is not None:
            return forced
        if not all(_present(body.get(k)) for k in PURCHASE_REQUIRED):
            return PURCHASE_MISSING
        price = body.get("price")
        if not isinstance(price, (int, float)) or isinstance(price, bool) \
                or not math.isfinite(price):
            return PURCHASE_BAD_PRICE
        if body["projectId"] != self.project_id:
            return PURCHASE_BAD_PROJECT
        if not self.thirdparty_enabled:
            return PURCHASE_NOT_SUPPORTED
        if body["transactionId"] in self._purchases:
            return PURCHASE_DUPLICATE
        return PURCHASE_OK


def _object_body(req):
    """The JSON object body; anything else (no JSON Content-Type, not JSON,
    not an object) counts as an empty body, i.e. missing data."""
    if req.content_type != "application/json":
        return {}
    try:
        body = req.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _present(value):
    """A required field is present when it is a non-empty string."""
    return isinstance(value, str) and value != ""


def _take(queue):
    """Uses one of the first forced result in `queue`; returns it or None."""
    if not queue:
        return None
    entry = queue[0]
    if entry[1] is not None:
        entry[1] -= 1
        if entry[1] == 0:
            queue.pop(0)
    return entry[0]


def _result(status, messages):
    return Response.json({"status": status, "message": messages[status]})
