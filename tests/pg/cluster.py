"""Throwaway PostgreSQL clusters for tests: initdb into a temporary
directory, a server on a loopback port and a Unix socket in that
directory, fsync left on, and a stop that always runs (also when the test
failed). PostgreSQL refuses to run as root, so under root the cluster
belongs to `nobody`; otherwise to the user running the tests.

`pg_cluster` is a fixture with one cluster for the whole test run: import
it into a test module (`from cluster import pg_cluster`); a conftest.py
here would shadow tests/e2e's, which its modules import by name."""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SUPERUSER = "grantd"


def pg_bin(name):
    """The newest installed PostgreSQL's program `name`."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed "
                           "(Debian package postgresql)")
    return found[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """One cluster in a new directory of its own under /tmp (pytest's are
    private to root, and the cluster's owner must reach it); start() then
    remove(). url() is a libpq URI for the database `grantd`."""

    def __init__(self, settings=()):
        # settings: extra "name=value" server settings (-c)
        self.settings = list(settings)
        self.root = Path(tempfile.mkdtemp(prefix="grantd-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = None
        self.running = False
        self.owner = "nobody" if os.geteuid() == 0 else None

    # ---- running programs as the cluster's owner ---------------------------
    def _as_owner(self, argv):
        if self.owner is None:
            return argv
        return ["runuser", "-u", self.owner, "--"] + argv

    def _run(self, argv, timeout=60):
        return subprocess.run(self._as_owner(argv), check=True,
                              capture_output=True, text=True,
                              timeout=timeout, cwd="/")

    def _chown(self, path):
        if self.owner is not None:
            pw = pwd.getpwnam(self.owner)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # ---- life cycle -----------------------------------------------------------
    def init(self):
        os.chmod(self.root, 0o755)
        for d in (self.data, self.sock):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o700)
            self._chown(d)
        self._run([pg_bin("initdb"), "-D", str(self.data), "-U", SUPERUSER,
                   "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
                  timeout=120)

    def start(self, same_port=False):
        """Starts the server (initdb first if there is no cluster yet), on
        a new free port unless `same_port` (a restart clients reconnect
        to)."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        if not (same_port and self.port):
            self.port = free_port()
        self.log.touch()
        self._chown(self.log)
        options = (f"-p {self.port} -k {self.sock} "
                   "-c listen_addresses=127.0.0.1 -c fsync=on "
                   "-c synchronous_commit=on -c max_connections=200")
        options += "".join(f" -c {s}" for s in self.settings)
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-l",
                   str(self.log), "-o", options, "-w", "-t", "60", "start"],
                  timeout=90)
        self.running = True
        if (self.data / "standby.signal").exists():
            return self   # read-only until promoted
        self.psql("SELECT 1", db="postgres")
        if "grantd" not in self.psql(
                "SELECT datname FROM pg_database", db="postgres"):
            self.psql("CREATE DATABASE grantd", db="postgres")
        return self

    def stop(self, mode="fast"):
        """Stops the server; kills it if it does not stop in time."""
        if not self.running:
            return
        try:
            self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode,
                       "-w", "-t", "30", "stop"], timeout=45)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.kill()
        self.running = False

    def standby_of(self, primary):
        """Makes this (not yet started) cluster a streaming standby of
        `primary`, named by its directory, with pg_basebackup."""
        os.chmod(self.root, 0o755)
        for d in (self.sock,):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o700)
            self._chown(d)
        self.data.mkdir(exist_ok=True)
        os.chmod(self.data, 0o700)
        self._chown(self.data)
        name = self.root.name.replace("-", "_")
        self._run([pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p",
                   str(primary.port), "-U", SUPERUSER, "-D", str(self.data),
                   "-R", "-X", "stream", "-c", "fast", "-d",
                   f"application_name={name}"], timeout=120)
        return self

    def promote(self):
        self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                   "promote"], timeout=90)

    def kill(self):
        """kill -9 of the postmaster (its children exit after it)."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._alive():
            time.sleep(0.05)
        self.running = False

    def _alive(self):
        pid_file = self.data / "postmaster.pid"
        try:
            os.kill(int(pid_file.read_text().split()[0]), 0)
            return True
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return False

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- talking to it ----------------------------------------------------------
    def url(self, db="grantd"):
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="grantd"):
        """Runs `sql` with psql; returns its unaligned output."""
        out = subprocess.run(
            [pg_bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", self.url(db), "-c", sql],
            check=True, capture_output=True, text=True, timeout=60)
        return out.stdout.strip()


@pytest.fixture(scope="session")
def pg_cluster():
    """One started cluster for the whole test run, stopped and removed at
    its end even when tests failed."""
    c = PgCluster()
    try:
        yield c.start()
    finally:
        c.remove()
