"""Starting on PostgreSQL: nodes starting together migrate once, a schema
newer than the binary is refused, an unreachable server or a missing URL
or token key stops start-up with a message that names the problem, and
backup/restore point to PostgreSQL's own tools."""
import subprocess
import threading

import pytest

from conftest import GRANTD

pytestmark = pytest.mark.postgres_only


def test_nodes_migrating_together_migrate_once(make_grantd):
    nodes = [make_grantd(f"n{i}", migrate=False) for i in range(1)]
    for i in range(1, 4):
        nodes.append(make_grantd(f"n{i}", share=nodes[0], migrate=False))
    results = [None] * len(nodes)
    barrier = threading.Barrier(len(nodes))

    def migrate(i):
        barrier.wait(timeout=10)
        results[i] = nodes[i].cli("migrate", "--config",
                                  str(nodes[i].config_path))

    threads = [threading.Thread(target=migrate, args=(i,))
               for i in range(len(nodes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    versions = set()
    for r in results:
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("postgres database is at schema version ")
        versions.add(r.stdout.split()[-1])
    assert len(versions) == 1
    with nodes[0].db() as db:
        assert db.execute("SELECT version FROM grantd_schema").fetchall() == \
            [(int(versions.pop()),)]
        # every table once, none left half-made
        assert "fulfillments" in nodes[0].tables(db)
    for g in nodes[:2]:
        g.prime_key = nodes[0].create_key(f"prime-{g.dir.name}",
                                          "fulfillment:primegaming")
        g.start()


def test_a_newer_schema_is_refused(make_grantd):
    g = make_grantd()
    with g.db_write() as db:
        db.execute("UPDATE grantd_schema SET version = 999")
    err = g.serve_fails()
    assert "database schema version 999 is newer than this grantd knows" in err


def test_an_unreachable_server_stops_start_up_naming_it(make_grantd):
    g = make_grantd(migrate=False)
    g.write_config({"storage": {"postgres": {
        "url": "postgresql://grantd@127.0.0.1:1/grantd",
        "connect_timeout_ms": 1000}}})
    err = g.serve_fails(limit_s=10)
    assert "grantd: storage: cannot connect to PostgreSQL" in err
    assert "127.0.0.1" in err


def test_postgres_needs_a_url_and_a_shared_token_key(make_grantd):
    g = make_grantd(migrate=False)
    g.write_config({"storage": {"postgres": {"url": ""}}})
    assert "storage.postgres.url must be set when storage.driver is " \
        "postgres" in g.serve_fails()
    g.write_config({"linking": {"token_key_file": ""}})
    assert "linking.token_key_file must be set with storage.driver " \
        "postgres" in g.serve_fails()


def test_backup_and_restore_point_to_postgres_tools(make_grantd, tmp_path):
    g = make_grantd()
    for args in (["backup", "--to", str(tmp_path / "b.db")],
                 ["restore", "--from", str(tmp_path / "b.db")]):
        r = subprocess.run([GRANTD, *args, "--config", str(g.config_path)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert "works on SQLite databases" in r.stderr
        assert "pg_dump" in r.stderr
    assert not (tmp_path / "b.db").exists()
