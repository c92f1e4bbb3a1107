"""Self-tests of the TentuPlay fake, driven with requests the way grantd
will call TentuPlay, and decrypted with TentuPlay's sample code."""
import base64
import json

import requests
from Cryptodome.Cipher import AES

from . import FakeTentuPlay
from .fixtures import tentuplay_config
from .tentuplay import AI, VERIFY_PATH, decrypt, encrypt

T = 5
PLAYER = "player-1"


def verify(fake, player=PLAYER, offer_id=10, key=None):
    return requests.post(fake.url(VERIFY_PATH),
                         json={"player_uuid": player, "offer_id": offer_id},
                         headers={fake.api_key_header:
                                  fake.api_key if key is None else key},
                         timeout=T)


def test_config_points_at_the_verify_endpoint(fake_tentuplay):
    section = tentuplay_config(fake_tentuplay)["tentuplay"]
    assert section["verify_url"] == fake_tentuplay.url(VERIFY_PATH)
    assert section["nonce_bytes"] == 8
    assert len(section["payload_key"].encode()) == 32
    assert tentuplay_config(fake_tentuplay, nonce_bytes=12)[
        "tentuplay"]["nonce_bytes"] == 12


def test_answer_decrypts_with_the_seed_sample_code(fake_tentuplay):
    doc = fake_tentuplay.add_offer(PLAYER, 10)
    r = verify(fake_tentuplay)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    # TentuPlay's sample, verbatim in substance: 8-byte nonce
    byte_data = bytes.fromhex(body["result"])
    cipher = AES.new(fake_tentuplay.payload_key.encode("utf-8"),
                     AES.MODE_CTR, nonce=byte_data[:8])
    assert json.loads(cipher.decrypt(byte_data[8:]).decode("utf-8")) == doc
    assert doc["offer"]["product_id"] and doc["is_opened"] is True


def test_twelve_byte_nonce_and_base64(fake_tentuplay):
    doc = fake_tentuplay.add_offer(PLAYER, 11, kind=AI, nonce_bytes=12)
    result = verify(fake_tentuplay, offer_id=11).json()["result"]
    assert json.loads(decrypt(result, fake_tentuplay.payload_key, 12)) == doc
    assert doc["offer"]["offer_type"] == "ai"
    fake_tentuplay.add_offer(PLAYER, 12, encoding="base64")
    result = verify(fake_tentuplay, offer_id=12).json()["result"]
    assert json.loads(decrypt(base64.b64decode(result).hex(),
                              fake_tentuplay.payload_key))["player_uuid"] \
        == PLAYER


def test_ctr_counter_matches_a_fixed_vector():
    key = "k" * 32
    nonce = bytes(range(8))
    text = encrypt({"a": 1}, key, nonce=nonce)
    assert text.startswith(nonce.hex())
    assert json.loads(decrypt(text, key)) == {"a": 1}


def test_tamper_wrong_key_unknown_refused_and_bad_key(fake_tentuplay):
    doc = fake_tentuplay.add_offer(PLAYER, 1, tamper=True)
    assert decrypt(verify(fake_tentuplay, offer_id=1).json()["result"],
                   fake_tentuplay.payload_key) != json.dumps(doc)
    assert verify(fake_tentuplay, offer_id=99).json() == {
        "success": False, "result": ""}
    fake_tentuplay.add_offer(PLAYER, 2)
    fake_tentuplay.refuse(PLAYER, 2)
    assert verify(fake_tentuplay, offer_id=2).json()["success"] is False
    r = verify(fake_tentuplay, offer_id=2, key="nope")
    assert r.status_code == 401 and r.json()["success"] is False
    seen = fake_tentuplay.verifications()
    assert [v.success for v in seen] == [True, False, False, False]
    assert seen[-1].key_ok is False


def test_fault_injection_answers_tentuplay_shape():
    with FakeTentuPlay() as fake:
        fake.fail(VERIFY_PATH, 503)
        r = verify(fake)
        assert r.status_code == 503 and r.json()["success"] is False
