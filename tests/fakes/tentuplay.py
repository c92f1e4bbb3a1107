"""Loopback fake of TentuPlay's offer verification API
(POST {verify_url} {"player_uuid", "offer_id"} → {"success", "result"}).

`result` is the offer document encrypted exactly as TentuPlay's sample
decryption code reads it: hex of nonce + AES-256-CTR ciphertext, the key the
UTF-8 bytes of the payload key, with PyCryptodome (Debian's
python3-pycryptodome, `Cryptodome`). An 8-byte nonce (the sample code;
PyCryptodome then counts blocks in the other 8 bytes from 0) by default, or
a 12-byte one (the guide's prose; a 4-byte counter)."""
import base64
import copy
import json
import os
from dataclasses import dataclass

from Cryptodome.Cipher import AES

from .common import FakeProvider, Response

VERIFY_PATH = "/v1/offers/verify"
PERSONALISED, AI = "personalised", "ai"


def personalised_offer(product_id="diamond_pack_500", price=99.99,
                       discount_rate=10):
    """The `offer` member of a manual (personalised) offer, as TentuPlay's guide
    shows it."""
    return {"price": price,
            "message": {"en": {"url": "https://example.com/offer",
                               "image": "https://example.com/offer.png",
                               "title": "A deal for you"}},
            "product_id": product_id, "product_name": "500 diamonds",
            "discount_rate": discount_rate,
            "discount_price": round(price * (100 - discount_rate) / 100, 2),
            "message_layout": "h"}


def ai_offer(slug="diamond_500", store="google"):
    """The `offer` member of an AI in-game shop offer, as TentuPlay's guide shows
    it."""
    return {"offer_type": "ai",
            "recommendations": [{"store": store, "product_list": [{
                "purchasable_slug": slug, "product_index": "1",
                "purchase_link": "https://example.com/buy",
                "start_datetime": "2026-01-01 00:00:00",
                "end_datetime": "2099-12-31 23:59:59"}]}],
            "display_parameters": {"en": {
                "title": "Picked for you", "message": "Stock up",
                "background_url": "https://example.com/bg.png",
                "toggle_message": "don't see me again today"}},
            "message_parameters": {"item": {"entity": "purchasable",
                                            "slug": slug}}}


def encrypt(document, payload_key, nonce_bytes=8, encoding="hex",
            nonce=None):
    """`document` (a dict, or str/bytes as is) encrypted as TentuPlay does:
    nonce + AES-256-CTR ciphertext, hex (or base64) encoded."""
    if isinstance(document, dict):
        document = json.dumps(document)
    if isinstance(document, str):
        document = document.encode("utf-8")
    nonce = nonce if nonce is not None else os.urandom(nonce_bytes)
    cipher = AES.new(payload_key.encode("utf-8"), AES.MODE_CTR, nonce=nonce)
    data = nonce + cipher.encrypt(document)
    if encoding == "base64":
        return base64.b64encode(data).decode("ascii")
    return data.hex()


def decrypt(result, payload_key, nonce_bytes=8):
    """TentuPlay's sample decryption code (hex only), for self-tests."""
    data = bytes.fromhex(result)
    cipher = AES.new(payload_key.encode("utf-8"), AES.MODE_CTR,
                     nonce=data[:nonce_bytes])
    return cipher.decrypt(data[nonce_bytes:]).decode("utf-8")


@dataclass
class Offer:
    """An offer given to a player, and how the fake answers for it."""
    player_uuid: str
    offer_id: int
    document: dict              # what is encrypted (the whole answer body)
    nonce_bytes: int
    encoding: str               # "hex" or "base64"
    payload_key: str            # the key it is encrypted with
    tamper: bool = False        # flip a ciphertext byte of each answer
    result: str = None          # answer this string as is


@dataclass
class Verification:
    """One verify request as the fake saw it."""
    player_uuid: object
    offer_id: object
    key_ok: bool
    success: bool


class FakeTentuPlay(FakeProvider):
    """TentuPlay's offer verification endpoint for one game: offers per
    player (add_offer), answered encrypted under `payload_key`.

    A request without the right key in `api_key_header` answers 401
    {"success": false, "message"}; an offer the player was not given
    answers 200 {"success": false, "result": ""} (TentuPlay documents only
    the success answer: this shape is the fake's choice)."""

    provider_id = "tentuplay"

    def __init__(self, api_key="tp_api_7c1e9a4b2d8f6e0a3c5b9d1f",
                 payload_key="Yk3Jq9Vb2Nw7Lm4Rt8Xc1Zp6Hs5Df0Ga",
                 api_key_header="x-api-key", nonce_bytes=8, seed=None):
        super().__init__(seed)
        if len(payload_key.encode("utf-8")) != 32:
            raise ValueError("payload_key must be 32 bytes")
        self.api_key = api_key
        self.payload_key = payload_key
        self.api_key_header = api_key_header
        self.nonce_bytes = nonce_bytes
        self._offers = {}           # (player_uuid, offer_id) -> Offer
        self._refused = set()       # (player_uuid, offer_id)
        self._verifications = []

    def routes(self):
        return [("POST", VERIFY_PATH, self.handle_verify)]

    def grantd_config(self):
        """The `tentuplay` section of grantd's config (top level, not under
        `providers`)."""
        return {"verify_url": self.url(VERIFY_PATH),
                "api_key": self.api_key,
                "api_key_header": self.api_key_header,
                "payload_key": self.payload_key,
                "nonce_bytes": self.nonce_bytes}

    # ---- control API --------------------------------------------------------
    def add_offer(self, player_uuid, offer_id, kind=PERSONALISED, offer=None,
                  is_opened=True, expire_at="2099-12-31 23:59:59",
                  document=None, nonce_bytes=None, encoding="hex",
                  payload_key=None, tamper=False, result=None):
        """Gives `player_uuid` offer `offer_id`; returns the document the
        answer encrypts. `offer` (default: the kind's sample) is its
        `offer`; `expire_at` None means no limit; `document` replaces the
        whole document (e.g. another player's uuid, or a str that is not
        JSON). `nonce_bytes`, `encoding` and `payload_key` override the
        fake's; `tamper` flips a ciphertext byte; `result` answers that
        string as is."""
        if document is None:
            if offer is None:
                offer = ai_offer() if kind == AI else personalised_offer()
            document = {"player_uuid": player_uuid, "offer": offer,
                        "is_opened": is_opened, "expire_at": expire_at}
        with self.lock:
            self._offers[(str(player_uuid), int(offer_id))] = Offer(
                str(player_uuid), int(offer_id), copy.deepcopy(document),
                nonce_bytes or self.nonce_bytes, encoding,
                payload_key or self.payload_key, tamper, result)
        return copy.deepcopy(document)

    def refuse(self, player_uuid, offer_id):
        """Verification of this offer answers success: false."""
        with self.lock:
            self._refused.add((str(player_uuid), int(offer_id)))

    def verifications(self):
        """Every verify request received, oldest first (a copy)."""
        with self.lock:
            return list(self._verifications)

    # ---- hooks --------------------------------------------------------------
    def error_response(self, status, message, path):
        return Response.json({"success": False, "message": message}, status)

    # ---- handler ------------------------------------------------------------
    def handle_verify(self, req):
        key_ok = req.header(self.api_key_header) == self.api_key
        body = self.json_body(req) if key_ok else {}
        player, offer_id = body.get("player_uuid"), body.get("offer_id")
        if not key_ok:
            self._verifications.append(Verification(None, None, False, False))
            raise self.error(req, 401, "invalid API key")
        if not isinstance(player, str) or not isinstance(offer_id, int) \
                or isinstance(offer_id, bool):
            self._verifications.append(Verification(player, offer_id, True,
                                                    False))
            raise self.error(req, 400, "player_uuid (string) and offer_id "
                             "(integer) are required")
        offer = self._offers.get((player, offer_id))
        ok = offer is not None and (player, offer_id) not in self._refused
        self._verifications.append(Verification(player, offer_id, True, ok))
        if not ok:
            return Response.json({"success": False, "result": ""})
        return Response.json({"success": True, "result": self._result(offer)})

    def _result(self, offer):
        if offer.result is not None:
            return offer.result
        text = encrypt(offer.document, offer.payload_key, offer.nonce_bytes,
                       "hex")
        if offer.tamper:
            data = bytearray.fromhex(text)
            data[offer.nonce_bytes + 2] ^= 0x20
            text = bytes(data).hex()
        if offer.encoding == "base64":
            return base64.b64encode(bytes.fromhex(text)).decode("ascii")
        return text
