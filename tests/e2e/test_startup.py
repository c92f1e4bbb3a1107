"""A start-up that fails leaves nothing behind: every check that can
refuse to start (the catalog, TLS files, the signing keys file, the
listening address) runs before the database is created."""
import socket

import pytest

from oauth_util import configure_oauth
from test_tls import make_cert


def no_database(g):
    return [p.name for p in g.dir.iterdir() if p.name.startswith("grantd.db")]


def test_address_in_use_creates_no_database(make_grantd):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        g = make_grantd(migrate=False)
        g.write_config({"server": {"listen": f"127.0.0.1:{port}"}})
        err = g.serve_fails()
    assert f"127.0.0.1:{port}" in err
    assert no_database(g) == []


def test_missing_signing_keys_file_creates_no_database(make_grantd):
    g = make_grantd(migrate=False)
    configure_oauth(g)
    g.signing_keys_path.unlink()
    err = g.serve_fails()
    assert (f"grantd: auth.signing_keys_file: {g.signing_keys_path}: "
            "cannot read: No such file or directory") in err, err
    assert no_database(g) == []


def test_bad_signing_keys_file_creates_no_database(make_grantd):
    g = make_grantd(migrate=False)
    configure_oauth(g)
    g.signing_keys_path.write_text("k1 short\n")
    err = g.serve_fails()
    assert f"grantd: auth.signing_keys_file: {g.signing_keys_path}: " in err
    assert no_database(g) == []


@pytest.mark.parametrize("which", ["cert", "key", "mismatch"])
def test_bad_tls_files_create_no_database(make_grantd, tmp_path, which):
    cert, key = make_cert(tmp_path / "a")
    if which == "cert":
        cert.write_text("not a certificate\n")
    elif which == "key":
        key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n"
                       "-----END PRIVATE KEY-----\n")
    else:
        key = make_cert(tmp_path / "b")[1]
    g = make_grantd(migrate=False)
    g.write_config({"server": {"tls": {"cert_file": str(cert),
                                       "key_file": str(key)}}})
    err = g.serve_fails()
    assert "grantd: server.tls." in err
    assert no_database(g) == []


@pytest.mark.sqlite_only
def test_a_good_start_after_a_failed_one(make_grantd):
    g = make_grantd(migrate=False)
    configure_oauth(g)
    g.signing_keys_path.unlink()
    g.serve_fails()
    configure_oauth(g)
    g.start()
    assert g.request("GET", "/readyz").status_code == 200
    assert "grantd.db" in no_database(g)
