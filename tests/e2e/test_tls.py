"""HTTPS: a throwaway self-signed certificate made with the openssl CLI, a
fulfilment (and an OAuth token) over TLS, plain HTTP refused on the TLS
port, TLS 1.2 and 1.3 only, and the configuration errors."""
import os
import re
import socket
import ssl
import subprocess
import time
import warnings

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from oauth_util import FULFILL, TOKEN_PATH, configure_oauth, create_client

OPENSSL = "openssl"


def make_cert(d, cn="127.0.0.1"):
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    r = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-days", "1",
                        "-subj", f"/CN={cn}", "-addext", f"subjectAltName=IP:{cn}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("tls"))


def tls_config(cert):
    return {"server": {"tls": {"cert_file": str(cert[0]), "key_file": str(cert[1])}}}


def surl(g, path):
    return f"https://127.0.0.1:{g.port}{path}"


def start_tls(make_grantd, cert, oauth=False):
    g = make_grantd()
    if oauth:
        configure_oauth(g, config=tls_config(cert))
    else:
        g.write_config(tls_config(cert))
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    g.start()
    return g


def tls_client_context(cert, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(cert[0]))
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = version
            ctx.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old protocols
    return ctx


def handshake(port, ctx, timeout=5):
    """The negotiated version of a TLS handshake with 127.0.0.1:port."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.version()


def test_fulfilment_over_https(make_grantd, cert):
    g = start_tls(make_grantd, cert)
    [line] = g.log_lines("listening")
    assert line["tls"] is True
    v = str(cert[0])
    r = requests.put(surl(g, "/v1/accounts/player-1"), json={"state": "active"}, verify=v,
                     headers={"Authorization": f"Bearer {g.partner_key}"}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(surl(g, FULFILL), verify=v, timeout=10,
                      headers={"Authorization": f"Bearer {g.prime_key}"},
                      json={"account_id": "player-1", "sku": "pg_gold_100",
                            "transaction_id": "tls-1"})
    assert r.status_code == 200, r.text
    assert r.json() == {}
    # keep-alive over TLS: several requests on one session
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {g.partner_key}"
    for _ in range(3):
        # verify per request: REQUESTS_CA_BUNDLE in the environment beats Session.verify
        r = s.get(surl(g, "/v1/accounts/player-1/inventory"), verify=v, timeout=10)
        assert r.status_code == 200
        assert r.json()["stackables"] == [{"catalog_id": "gold", "amount": 100}]
    s.close()
    assert requests.get(surl(g, "/healthz"), verify=v, timeout=10).json() == {"status": "ok"}


def test_plain_listener_says_tls_false(make_grantd):
    g = make_grantd()
    g.start()
    [line] = g.log_lines("listening")
    assert line.get("tls") in (False, None), line  # absent or false: not specified


def test_untrusted_certificate_is_refused_by_the_client(make_grantd, cert):
    g = start_tls(make_grantd, cert)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(surl(g, "/healthz"), timeout=10)  # system trust store only


def test_plain_http_to_the_tls_port_fails(make_grantd, cert):
    g = start_tls(make_grantd, cert)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{g.port}/healthz", timeout=5)
    # a raw plain request gets no HTTP answer
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        got = b""
        try:
            while len(got) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        assert not got.startswith(b"HTTP/"), got[:100]
    # and HTTPS still works
    r = requests.get(surl(g, "/healthz"), verify=str(cert[0]), timeout=10)
    assert r.status_code == 200


def test_tls_12_and_13_are_accepted(make_grantd, cert):
    g = start_tls(make_grantd, cert)
    assert handshake(g.port, tls_client_context(cert, ssl.TLSVersion.TLSv1_2)) == "TLSv1.2"
    assert handshake(g.port, tls_client_context(cert, ssl.TLSVersion.TLSv1_3)) == "TLSv1.3"
    assert handshake(g.port, tls_client_context(cert)) == "TLSv1.3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("version", ["TLSv1_1", "TLSv1"])
def test_old_tls_is_refused(make_grantd, cert, version):
    ver = getattr(ssl.TLSVersion, version)
    ctx = tls_client_context(cert, ver)
    # control: this very client context does speak the old protocol, with an
    # openssl s_server that allows it, so a refusal below is grantd's
    port = free_port()
    flag = {"TLSv1_1": "-tls1_1", "TLSv1": "-tls1"}[version]
    srv = subprocess.Popen([OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}",
                            "-cert", str(cert[0]), "-key", str(cert[1]), flag,
                            "-cipher", "DEFAULT:@SECLEVEL=0", "-naccept", "1", "-quiet"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        got = None
        while time.monotonic() < deadline:
            try:
                got = handshake(port, ctx)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        expected = {"TLSv1_1": "TLSv1.1", "TLSv1": "TLSv1"}[version]
        assert got == expected, f"control handshake with openssl s_server: {got}"
    finally:
        srv.kill()
        srv.wait()
    g = start_tls(make_grantd, cert)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(g.port, ctx)
    # the openssl command line agrees: no session is established
    r = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{g.port}", flag,
                        "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", str(cert[0])],
                       input="", capture_output=True, text=True, timeout=15)
    out = r.stdout + r.stderr
    assert "no protocols available" not in out, out  # the client did try
    # (the SSL-Session block names the attempted protocol even when it failed,
    # so judge by the cipher: none was agreed)
    assert "Cipher is (NONE)" in out, out
    assert not re.search(r"Cipher is (?!\(NONE\))", out), out
    assert not re.search(r"Cipher\s*: (?!0000)", out), out
    # and the server is fine afterwards
    assert handshake(g.port, tls_client_context(cert)) == "TLSv1.3"


def test_oauth_token_over_https_with_requests_oauthlib(make_grantd, cert, monkeypatch):
    """No OAUTHLIB_INSECURE_TRANSPORT here: the library insists on HTTPS."""
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    g = make_grantd()
    configure_oauth(g, config=tls_config(cert))
    g.partner_key = g.create_key("backend", "partner")
    c = create_client(g, "prime-oauth", "fulfillment:primegaming")
    g.start()
    v = str(cert[0])
    assert requests.put(surl(g, "/v1/accounts/player-1"), json={"state": "active"},
                        verify=v, timeout=10,
                        headers={"Authorization": f"Bearer {g.partner_key}"}).status_code == 201
    sess = OAuth2Session(client=BackendApplicationClient(client_id=c["client_id"]))
    token = sess.fetch_token(token_url=surl(g, TOKEN_PATH), client_id=c["client_id"],
                             client_secret=c["client_secret"], verify=v)
    assert token["token_type"] == "Bearer"
    r = sess.post(surl(g, FULFILL), verify=v, timeout=10,
                  json={"account_id": "player-1", "sku": "pg_gold_100",
                        "transaction_id": "tls-oauth-1"})
    assert r.status_code == 200, r.text


# ---- configuration errors ---------------------------------------------------------------

@pytest.mark.parametrize("which", ["cert_file", "key_file"])
def test_only_one_of_cert_and_key_is_a_config_error(make_grantd, cert, which):
    g = make_grantd()
    path = cert[0] if which == "cert_file" else cert[1]
    g.write_config({"server": {"tls": {which: str(path)}}})
    err = g.serve_fails()
    assert "server.tls" in err, err


def test_missing_cert_file_stops_start_up(make_grantd, cert, tmp_path):
    g = make_grantd()
    missing = tmp_path / "nope" / "cert.pem"
    g.write_config({"server": {"tls": {"cert_file": str(missing), "key_file": str(cert[1])}}})
    err = g.serve_fails()
    assert (f"grantd: server.tls.cert_file {missing}: cannot read: "
            "No such file or directory") in err, err


def test_missing_key_file_stops_start_up(make_grantd, cert, tmp_path):
    g = make_grantd()
    missing = tmp_path / "key.pem"
    g.write_config({"server": {"tls": {"cert_file": str(cert[0]), "key_file": str(missing)}}})
    err = g.serve_fails()
    assert (f"grantd: server.tls.key_file {missing}: cannot read: "
            "No such file or directory") in err, err


def test_empty_cert_file_says_so(make_grantd, cert, tmp_path):
    g = make_grantd()
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    g.write_config({"server": {"tls": {"cert_file": str(empty), "key_file": str(cert[1])}}})
    err = g.serve_fails()
    assert f"grantd: server.tls.cert_file {empty}: the file is empty" in err, err


def test_garbage_key_stops_start_up(make_grantd, cert, tmp_path):
    g = make_grantd()
    bad = tmp_path / "bad-key.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    g.write_config({"server": {"tls": {"cert_file": str(cert[0]), "key_file": str(bad)}}})
    err = g.serve_fails()
    assert f"grantd: server.tls.key_file {bad}: not a PEM private key" in err, err


def test_key_that_does_not_match_the_certificate_stops_start_up(make_grantd, cert, tmp_path):
    other = make_cert(tmp_path / "other")
    g = make_grantd()
    g.write_config({"server": {"tls": {"cert_file": str(cert[0]), "key_file": str(other[1])}}})
    err = g.serve_fails()
    assert (f"grantd: server.tls.key_file {other[1]}: not the key of the "
            "certificate in server.tls.cert_file") in err, err
