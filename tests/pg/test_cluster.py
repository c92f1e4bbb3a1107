"""The throwaway PostgreSQL cluster the PostgreSQL tests run against:
it starts on loopback with fsync on, takes connections as the grantd
superuser, survives a kill -9 with what it committed, and stops."""
import psycopg2
import pytest

from cluster import PgCluster, pg_cluster  # noqa: F401 (a fixture)


def test_cluster_serves_the_grantd_database(pg_cluster):
    with psycopg2.connect(pg_cluster.url()) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_setting('fsync'),"
                    " current_setting('synchronous_commit'),"
                    " current_setting('server_version_num')::int")
        db, fsync, sync, version = cur.fetchone()
    conn.close()
    assert db == "grantd"
    assert fsync == "on" and sync == "on"
    assert version >= 130000
    assert pg_cluster.url().startswith("postgresql://grantd@127.0.0.1:")


def test_a_killed_cluster_keeps_what_it_committed():
    c = PgCluster()
    try:
        c.start()
        c.psql("CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2)")
        c.kill()
        assert not c.running
        c.start()          # crash recovery replays the WAL
        assert c.psql("SELECT sum(v) FROM t") == "3"
    finally:
        c.remove()
    assert not c.root.exists()


def test_stop_is_safe_when_never_started():
    c = PgCluster()
    c.stop()
    c.remove()
    assert not c.root.exists()
    with pytest.raises(Exception):
        c.psql("SELECT 1")
