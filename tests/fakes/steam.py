"""Loopback fake of the Steam partner Web API (partner.steam-api.com):
IInventoryService GetInventory and ConsumeItem, ISteamUser CheckAppOwnership."""
import json
import time
from dataclasses import dataclass, field

from .common import FakeProvider, Response, is_digits, reason

# Item ids start above 2**53 so that a client parsing them as doubles fails.
FIRST_ITEMID = 2 ** 53 + 1


def steam_time(ts):
    """Epoch seconds as the inventory service writes them: 20140808T010203Z."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))


def iso_time(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class Item:
    itemid: str
    steamid: str
    appid: int
    itemdefid: str
    quantity: int
    acquired: str
    state_changed: str

    def as_json(self):
        """The item as item_json lists it (64-bit ids as strings)."""
        return {"accountid": _accountid(self.steamid), "itemid": self.itemid,
                "quantity": self.quantity, "originalitemid": self.itemid,
                "itemdefid": self.itemdefid, "appid": self.appid,
                "acquired": self.acquired, "state": "", "origin": "external",
                "state_changed_timestamp": self.state_changed}


@dataclass
class ConsumeCall:
    """One ConsumeItem request as the fake saw it, and what it did:
    "consumed", "replayed" or "failed" (answered with an empty item_json)."""
    steamid: str
    itemid: str
    quantity: str
    requestid: str
    outcome: str
    params: dict = field(repr=False, default_factory=dict)


class FakeSteam(FakeProvider):
    """The publisher-key Steam methods grantd uses. The key is checked on
    every call (403 if wrong) and the appid must be one the key's publisher
    owns: the configured appid or any appid given to set_owns_app."""

    provider_id = "steam"

    def __init__(self, publisher_key="5DA61E6FB2C5F1F8D1E2A3B4C5D6E7F8",
                 appid=480, seed=None):
        super().__init__(seed)
        self.publisher_key = publisher_key
        self.appid = int(appid)
        self.publisher_appids = {self.appid}
        self._consume_calls = []
        self._items = {}
        self._ownership = {}
        self._requests = {}        # (appid, steamid, requestid) -> itemids
        self._etags = {}
        self._next_itemid = FIRST_ITEMID

    def routes(self):
        return [
            ("GET", "/IInventoryService/GetInventory/v1", self.handle_inventory),
            ("POST", "/IInventoryService/ConsumeItem/v1", self.handle_consume),
            ("GET", "/ISteamUser/CheckAppOwnership/v4", self.handle_ownership),
        ]

    def grantd_config(self):
        return {"publisher_key": self.publisher_key, "app_id": str(self.appid),
                "api_base": self.base_url}

    # ---- control API --------------------------------------------------------
    def add_item(self, steamid, itemdefid, quantity=1, appid=None):
        """Puts `quantity` of item definition `itemdefid` in `steamid`'s
        inventory; returns the new itemid (a decimal string above 2**53)."""
        with self.lock:
            itemid = str(self._next_itemid)
            self._next_itemid += self.rng.randint(1, 1000)
            now = steam_time(self.now())
            self._items[itemid] = Item(itemid, str(steamid),
                                       int(appid or self.appid),
                                       str(itemdefid), int(quantity), now, now)
            self._bump(str(steamid))
            return itemid

    @property
    def consume_calls(self):
        """Every ConsumeItem request that passed the key check (a copy)."""
        with self.lock:
            return list(self._consume_calls)

    def quantity(self, itemid):
        """The item's quantity now (0 once consumed; KeyError if unknown)."""
        with self.lock:
            return self._items[itemid].quantity

    def inventory(self, steamid, appid=None):
        """`steamid`'s items as GetInventory lists them."""
        with self.lock:
            return [i.as_json() for i in self._live(str(steamid),
                                                     appid or self.appid)]

    def set_owns_app(self, steamid, appid, owns=True, permanent=True,
                     ownersteamid=None, sitelicense=False,
                     usercanceled=False, timeexpires=None):
        """What CheckAppOwnership answers for (`steamid`, `appid`); the
        publisher then owns `appid`. `ownersteamid` is the real owner under
        Family Sharing; `timeexpires` (epoch) is for non-permanent ones."""
        with self.lock:
            self.publisher_appids.add(int(appid))
            ts = iso_time(self.now())
            expires = "never" if permanent else iso_time(
                timeexpires or self.now() + 86400)
            self._ownership[(str(steamid), int(appid))] = {
                "ownsapp": bool(owns), "permanent": bool(permanent and owns),
                "timestamp": ts, "timeexpires": expires,
                "ownersteamid": str(ownersteamid or steamid),
                "sitelicense": bool(sitelicense),
                "usercanceled": bool(usercanceled)}

    # ---- hooks --------------------------------------------------------------
    def error_response(self, status, message, path):
        """Steam answers errors with a small HTML page."""
        return Response.html(status, f"<html><head><title>{reason(status)}"
                             f"</title></head><body><h1>{reason(status)}</h1>"
                             f"{message}</body></html>")

    # ---- handlers -----------------------------------------------------------
    def handle_inventory(self, req):
        params = self._params(req)
        steamid, appid = self._checked(req, params)
        items = self._live(steamid, appid)
        return self._inventory_response(items, steamid)

    def handle_consume(self, req):
        """ConsumeItem: at most once per requestid; a resend answers the
        current state of the items the first call affected, replayed=true."""
        params = self._params(req)
        steamid, appid = self._checked(req, params)
        itemid, quantity = params.get("itemid", ""), params.get("quantity", "")
        if not is_digits(itemid) or not is_digits(quantity):
            raise self.error(req, 400, "itemid and quantity are required")
        requestid = params.get("requestid", "")
        key = (appid, steamid, requestid) if requestid not in ("", "0") \
            else None
        if key in self._requests:
            self._log_consume(params, "replayed")
            items = [self._items[i] for i in self._requests[key]]
            return self._inventory_response(items, steamid, replayed=True)
        item = self._items.get(itemid)
        count = int(quantity)
        if item is None or item.steamid != steamid or item.appid != appid \
                or not 0 < count <= item.quantity:
            self._log_consume(params, "failed")
            return self._inventory_response([], steamid)
        item.quantity -= count
        item.state_changed = steam_time(self.now())
        self._bump(steamid)
        if key is not None:
            self._requests[key] = [itemid]
        self._log_consume(params, "consumed")
        return self._inventory_response([item], steamid)

    def handle_ownership(self, req):
        params = self._params(req)
        steamid, appid = self._checked(req, params)
        owned = self._ownership.get((steamid, appid)) or {
            "ownsapp": False, "permanent": False,
            "timestamp": iso_time(0), "timeexpires": iso_time(0),
            "ownersteamid": "0", "sitelicense": False, "usercanceled": False}
        return Response.json({"appownership": dict(owned)})

    # ---- helpers ------------------------------------------------------------
    def _params(self, req):
        """Query, form body and an input_json object, merged in that order."""
        try:
            params = dict(req.query)
            if req.method == "POST" and req.body:
                params.update(req.form())
            if "input_json" in params:
                extra = json.loads(params.pop("input_json"))
                if not isinstance(extra, dict):
                    raise ValueError("input_json must be an object")
                params.update({k: str(v) for k, v in extra.items()})
        except ValueError:
            raise self.error(req, 400, "Malformed parameters") from None
        return params

    def _checked(self, req, params):
        """(steamid, appid) after checking key (403), appid (403 if not the
        publisher's) and steamid (400)."""
        if params.get("key") != self.publisher_key:
            raise self.error(req, 403, "Access is denied. Retrying will not "
                             "help. Please verify your key= parameter.")
        appid = params.get("appid", "")
        steamid = params.get("steamid", "")
        if not is_digits(appid) or not is_digits(steamid):
            raise self.error(req, 400, "Required parameter missing: appid "
                             "and steamid")
        if int(appid) not in self.publisher_appids:
            raise self.error(req, 403, "Publisher does not own the app")
        return steamid, int(appid)

    def _live(self, steamid, appid):
        return [i for i in self._items.values() if i.steamid == steamid and
                i.appid == int(appid) and i.quantity > 0]

    def _inventory_response(self, items, steamid, replayed=False):
        return Response.json({"response": {
            "item_json": json.dumps([i.as_json() for i in items]),
            "etag": str(self._etags.get(steamid, 0)),
            "removeditemids": [], "replayed": replayed}})

    def _bump(self, steamid):
        self._etags[steamid] = self._etags.get(steamid, 0) + 1

    def _log_consume(self, params, outcome):
        self._consume_calls.append(ConsumeCall(
            params.get("steamid", ""), params.get("itemid", ""),
            params.get("quantity", ""), params.get("requestid", ""),
            outcome, {k: v for k, v in params.items() if k != "key"}))


def _accountid(steamid):
    """The 32-bit account id: the low half of a 64-bit steamid."""
    return int(steamid) & 0xFFFFFFFF
