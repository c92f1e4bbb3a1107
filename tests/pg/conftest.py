"""The `pg_cluster` fixture: one throwaway PostgreSQL cluster per test
session (tests/pg/cluster.py), stopped and removed at the end even when
tests fail."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import PgCluster  # noqa: E402


@pytest.fixture(scope="session")
def pg_cluster():
    c = PgCluster()
    try:
        yield c.start()
    finally:
        c.remove()
