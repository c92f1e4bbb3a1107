"""A FIFO (or any file that is not a regular one) where grantd expects a
file is refused at once with a clear message: at start it does not hang,
and on SIGHUP the reload fails without wedging the server, which still
stops on SIGTERM."""
import os
import signal
import time

from conftest import ready
from oauth_util import configure_oauth


def test_fifo_catalog_is_refused_at_start(make_grantd):
    g = make_grantd()
    g.catalog_path.unlink()
    os.mkfifo(g.catalog_path)
    err = g.serve_fails()
    assert f"{g.catalog_path}: cannot read: not a regular file" in err


def test_fifo_config_is_refused(make_grantd, tmp_path):
    g = make_grantd()
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    r = g.cli("migrate", "--config", str(fifo), timeout=10)
    assert r.returncode != 0
    assert f"{fifo}: cannot read: not a regular file" in r.stderr


def test_fifo_signing_keys_on_sighup_does_not_wedge(make_grantd):
    g = make_grantd()
    configure_oauth(g)
    g = ready(g)
    g.signing_keys_path.unlink()
    os.mkfifo(g.signing_keys_path)
    g.proc.send_signal(signal.SIGHUP)
    [fail] = g.wait_log("signing_keys_reload_failed")
    assert "not a regular file" in fail["msg"]
    # the server still serves, and stops at once on SIGTERM
    assert g.request("GET", "/readyz").status_code == 200
    t0 = time.monotonic()
    g.stop(signal.SIGTERM, timeout=10)
    assert time.monotonic() - t0 < 10
