"""PostgreSQL for the end-to-end tests: one throwaway cluster for the run
(tests/pg/cluster.py), a schema per grantd, and a read connection that
speaks like sqlite3's (`?` placeholders, `execute(...).fetchone()`, `with`)
so that the few direct reads tests make work on both drivers."""
import itertools
import os
import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pg"))
from cluster import PgCluster  # noqa: E402

_names = itertools.count(1)


class Server:
    """The cluster, started when the first schema is asked for."""

    def __init__(self):
        self.cluster = None

    def schema(self):
        if self.cluster is None:
            self.cluster = PgCluster().start()
        name = f"g{next(_names)}"
        self.cluster.psql(f"CREATE SCHEMA {name}")
        return Schema(self.cluster, name)

    def remove(self):
        if self.cluster is not None:
            self.cluster.remove()


def _token_key(path):
    """A key file every node of one database shares."""
    path.write_text(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)
    return path


class Schema:
    """One grantd's database: a schema of the run's cluster, reached by a
    URL whose search_path names it."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.token_key_file = _token_key(cluster.root / f"{name}.token-key")
        self.url_override = None  # e.g. several hosts, for a failover

    @property
    def url(self):
        if self.url_override:
            return self.url_override
        return (self.cluster.url() + "?options=" +
                quote(f"-csearch_path={self.name}", safe=""))

    def connect(self):
        import psycopg2
        conn = psycopg2.connect(self.cluster.url(),
                                options=f"-csearch_path={self.name}")
        conn.autocommit = True
        return Conn(conn)

    def tables(self, c):
        return [r[0] for r in c.execute(
            "SELECT table_name FROM information_schema.tables WHERE "
            "table_schema = current_schema() AND table_name <> "
            "'grantd_schema' ORDER BY table_name")]


def _value(v):
    return bytes(v) if isinstance(v, memoryview) else v


class Row(tuple):
    """A row readable by index or by column name, as sqlite3.Row."""

    def __new__(cls, values, names):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self):
        return list(self.names)


class Cursor:
    def __init__(self, cur, named):
        self.cur = cur
        self.named = named

    def _row(self, raw):
        values = tuple(map(_value, raw))
        if not self.named:
            return values
        return Row(values, [d[0] for d in self.cur.description])

    def fetchone(self):
        row = self.cur.fetchone()
        return None if row is None else self._row(row)

    def fetchall(self):
        return [self._row(r) for r in self.cur.fetchall()]

    def __iter__(self):
        return iter(self.fetchall())


class Conn:
    """A psycopg2 connection used like a sqlite3 one."""

    def __init__(self, conn):
        self.conn = conn
        self.row_factory = None  # anything: rows readable by name too

    def execute(self, sql, params=()):
        cur = self.conn.cursor()
        if params:
            cur.execute(sql.replace("%", "%%").replace("?", "%s"),
                        tuple(params))
        else:
            cur.execute(sql)
        return Cursor(cur, self.row_factory is not None)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()
        return False
