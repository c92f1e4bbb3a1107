"""The command line: help, version, usage errors (exit 2), keys, migrate and
catalog check, and that key secrets are stored only as SHA-256 hashes."""
import hashlib
import json
import os
import re
import sqlite3
import subprocess

import pytest

from conftest import GRANTD, TEST_CATALOG

KEY_RE = re.compile(r"gdk_[A-Za-z0-9_-]{43}")
ID_RE = re.compile(r"key_[0-9a-f]{16}")
USAGE_HEAD = "usage: grantd <command> [options]"


def run(*args, timeout=20, env=None):
    return subprocess.run([GRANTD, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def g(make_grantd):
    """A configured (not started) grantd: a config file, a database path,
    and no database yet."""
    return make_grantd(migrate=False)


@pytest.fixture
def gm(g):
    """g with its database made by `grantd migrate`."""
    assert run("migrate", "--config", cfg(g)).returncode == 0
    return g


def cfg(g):
    return str(g.config_path)


def keys_create(g, name, *scopes, json_out=False):
    args = ["keys", "create", "--config", cfg(g), "--name", name]
    for s in scopes:
        args += ["--scope", s]
    if json_out:
        args.append("--json")
    return run(*args)


def keys_list_json(g):
    r = run("keys", "list", "--config", cfg(g), "--json")
    assert r.returncode == 0, r.stderr
    return {k["id"]: k for k in json.loads(r.stdout)}


def credential_rows(g):
    with g.db() as c:
        c.row_factory = sqlite3.Row
        return [dict(r) for r in c.execute("SELECT * FROM credentials")]


def assert_usage_error(r, message):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    first = r.stderr.splitlines()[0]
    assert first.startswith("grantd: "), r.stderr
    assert message in first, r.stderr
    assert USAGE_HEAD in r.stderr


# ---- help and version ---------------------------------------------------------

@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_help(flag):
    r = run(flag)
    assert r.returncode == 0
    assert r.stderr == ""
    assert r.stdout.startswith(USAGE_HEAD + "\n")
    for text in ("serve --config FILE", "migrate --config FILE", "catalog check FILE",
                 "keys create --config FILE --name NAME --scope SCOPE",
                 "keys list --config FILE", "keys revoke --config FILE ID", "version",
                 "backup --config FILE --to PATH [--json]",
                 "restore --config FILE --from BACKUP [--force] [--json]",
                 "fulfillment:primegaming, partner, operator", "GRANTD_<SECTION>_<KEY>"):
        assert text in r.stdout, text


@pytest.mark.parametrize("word", ["version", "--version"])
def test_version(word):
    r = run(word)
    assert r.returncode == 0
    assert r.stderr == ""
    assert re.fullmatch(r"grantd \d+\.\d+\.\d+\n", r.stdout), r.stdout


# ---- usage errors: exit 2, a message and the usage on stderr ---------------------

USAGE_ERRORS = [
    ([], "no command given"),
    (["bogus"], 'unknown command "bogus"'),
    (["--bogus"], 'unknown command "--bogus"'),
    (["serve"], "serve needs --config FILE"),
    (["serve", "--config"], "unknown option or missing value: --config"),
    (["serve", "--config", "{cfg}", "--bogus"], "unknown option or missing value: --bogus"),
    (["serve", "--config", "{cfg}", "extra"], "serve takes 0 argument(s), got 1"),
    (["serve", "--config", "{cfg}", "--name", "x"], "serve takes no --name"),
    (["migrate"], "migrate needs --config FILE"),
    (["migrate", "--config", "{cfg}", "--json", "--bogus"], "unknown option or missing value: --bogus"),
    (["keys"], "keys needs create, list or revoke"),
    (["keys", "frobnicate", "--config", "{cfg}"], 'unknown keys command "frobnicate"'),
    (["keys", "create", "--name", "x", "--scope", "partner"], "keys create needs --config FILE"),
    (["keys", "create", "--config", "{cfg}", "--scope", "partner"],
     "keys create needs --name and at least one --scope"),
    (["keys", "create", "--config", "{cfg}", "--name", "x"],
     "keys create needs --name and at least one --scope"),
    (["keys", "create", "--config", "{cfg}", "--name", "x", "--scope"],
     "unknown option or missing value: --scope"),
    (["keys", "create", "--config", "{cfg}", "--name", "x", "--scope", "partner", "--admin"],
     "unknown option or missing value: --admin"),
    (["keys", "create", "--config", "{cfg}", "--name", "x", "--scope", "partner",
      "--expires-in", "0"], "--expires-in needs a positive number of seconds"),
    (["keys", "create", "--config", "{cfg}", "--name", "x", "--scope", "partner",
      "--expires-in", "soon"], "--expires-in needs a positive number of seconds"),
    (["keys", "list"], "keys list needs --config FILE"),
    (["keys", "list", "--config", "{cfg}", "--scope", "partner"], "keys list takes no --name"),
    (["keys", "revoke", "--config", "{cfg}"], "keys revoke takes 1 argument(s), got 0"),
    (["keys", "revoke", "--config", "{cfg}", "a", "b"], "keys revoke takes 1 argument(s), got 2"),
    (["keys", "revoke", "key_0000000000000000"], "keys revoke needs --config FILE"),
    (["catalog"], "catalog needs: check FILE"),
    (["catalog", "lint", "x.json"], "catalog needs: check FILE"),
    (["catalog", "check"], "catalog check takes 1 argument(s), got 0"),
    (["catalog", "check", "a.json", "b.json"], "catalog check takes 1 argument(s), got 2"),
    (["catalog", "check", "--config", "{cfg}", "a.json"], "catalog check takes no --config"),
    (["catalog", "check", "--json", "a.json"], "catalog check takes no --json"),
    (["version", "--bogus"], "unknown option or missing value: --bogus"),
    (["backup", "--to", "b.db"], "backup needs --config FILE"),
    (["backup", "--config", "{cfg}"], "backup needs --to PATH"),
    (["backup", "--config", "{cfg}", "--to"], "unknown option or missing value: --to"),
    (["backup", "--config", "{cfg}", "--to", "b.db", "--force"],
     "backup takes no --from or --force"),
    (["backup", "--config", "{cfg}", "--to", "b.db", "extra"],
     "backup takes 0 argument(s), got 1"),
    (["restore", "--config", "{cfg}"], "restore needs --from BACKUP"),
    (["restore", "--config", "{cfg}", "--force"], "restore needs --from BACKUP"),
    (["restore", "--config", "{cfg}", "--from", "b.db", "--to", "c.db"],
     "restore takes no --to"),
    (["migrate", "--config", "{cfg}", "--force"], "migrate takes no --from or --force"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS,
                         ids=[" ".join(a) or "(none)" for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2(g, args, message):
    r = run(*[a.replace("{cfg}", cfg(g)) for a in args])
    assert_usage_error(r, message)
    assert not g.db_path.exists()  # nothing was done


@pytest.mark.parametrize("extra,message", [
    (["--name", "x", "--scope", "admin"],
     'unknown scope "admin" (known: fulfillment:primegaming, partner, operator)'),
    (["--name", "x", "--scope", "partner", "--scope", "Partner"], 'unknown scope "Partner"'),
    (["--name", "", "--scope", "partner"], "--name must be 1 to"),
    (["--name", "n" * 200, "--scope", "partner"], "--name must be 1 to"),
    (["--name", "tab\there", "--scope", "partner"], "--name must be 1 to"),
], ids=["unknown-scope", "scope-wrong-case", "empty-name", "long-name", "name-with-tab"])
def test_bad_key_option_values_are_usage_errors(g, extra, message):
    r = run("keys", "create", "--config", cfg(g), *extra)
    assert_usage_error(r, message)
    assert not g.db_path.exists()


# ---- runtime failures: exit 1 -------------------------------------------------

@pytest.mark.parametrize("args", [
    ["migrate", "--config", "{cfg}"],
    ["keys", "list", "--config", "{cfg}"],
    ["keys", "create", "--config", "{cfg}", "--name", "x", "--scope", "partner"],
    ["keys", "revoke", "--config", "{cfg}", "key_0000000000000000"],
])
def test_unreadable_config_exits_1(tmp_path, args):
    missing = tmp_path / "missing.yaml"
    r = run(*[a.replace("{cfg}", str(missing)) for a in args])
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert f"grantd: config: {missing}: cannot read: No such file or directory" in r.stderr
    assert USAGE_HEAD not in r.stderr


# ---- keys -----------------------------------------------------------------------

def test_keys_create_text_output(gm):
    g = gm
    r = keys_create(g, "backend", "partner", "fulfillment:primegaming")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    m = re.fullmatch(r'created API key (key_[0-9a-f]{16}) "backend" with scopes: '
                     r'fulfillment:primegaming partner', lines[0])
    assert m, lines[0]
    m2 = re.fullmatch(r"key \(shown once; store it now\): (gdk_[A-Za-z0-9_-]{43})", lines[1])
    assert m2, lines[1]
    key_id, key = m.group(1), m2.group(1)
    [row] = credential_rows(g)
    assert row["id"] == key_id
    assert row["name"] == "backend"
    assert row["kind"] == "api_key"
    assert row["scopes"] == "fulfillment:primegaming partner"
    assert row["secret_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["revoked_at_ms"] is None and row["expires_at_ms"] is None


def test_keys_create_json_output(gm):
    g = gm
    r = keys_create(g, "prime", "fulfillment:primegaming", json_out=True)
    assert r.returncode == 0, r.stderr
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(last) == {"id", "key"}
    assert ID_RE.fullmatch(last["id"]) and KEY_RE.fullmatch(last["key"])
    assert r.stdout.count(last["key"]) == 1  # printed once
    # two keys are different in id and secret
    r2 = keys_create(g, "prime-2", "fulfillment:primegaming", json_out=True)
    other = json.loads(r2.stdout.strip().splitlines()[-1])
    assert other["id"] != last["id"] and other["key"] != last["key"]
    assert len(credential_rows(g)) == 2


def test_names_are_unique_among_live_credentials(gm):
    g = gm
    first = json.loads(keys_create(g, "prime", "partner", json_out=True).stdout)
    for args in (["keys", "create", "--name", "prime", "--scope", "partner"],
                 ["clients", "create", "--name", "prime", "--scope", "partner"]):
        r = run(*args, "--config", cfg(g))
        assert r.returncode == 1, r.stdout
        assert r.stdout == ""
        assert (f'a credential named "prime" already exists ({first["id"]}); '
                "revoke it first or choose another name") in r.stderr
    assert len(credential_rows(g)) == 1
    # once revoked, the name is free again
    assert run("keys", "revoke", "--config", cfg(g), first["id"]).returncode == 0
    again = json.loads(keys_create(g, "prime", "partner", json_out=True).stdout)
    assert again["id"] != first["id"]
    assert len(credential_rows(g)) == 2


@pytest.mark.sqlite_only
def test_migration_renames_older_duplicate_names(gm):
    """A database from before names were unique: the newest credential of a
    name keeps it, older live ones get their id appended."""
    g = gm
    ids = [json.loads(keys_create(g, f"k{i}", "partner", json_out=True).stdout)["id"]
           for i in range(4)]
    with sqlite3.connect(g.db_path) as c:
        # back to schema 2: drop every table and index migrations 3 and
        # later created (those of schema 2 are listed)
        schema2 = {"accounts", "fulfillments", "grants", "inventory_stackables",
                   "inventory_instances", "claims", "credentials", "audit",
                   "fulfillments_by_account", "inventory_instances_by_account"}
        for kind, name in c.execute("SELECT type, name FROM sqlite_master WHERE"
                                    " type IN ('table', 'index') AND sql IS NOT NULL"
                                    " ORDER BY type = 'table'").fetchall():
            if name not in schema2:
                c.execute(f"DROP {kind.upper()} {name}")
        # and the columns later migrations added to schema 2's tables
        c.execute("ALTER TABLE fulfillments DROP COLUMN request")
        c.execute("PRAGMA user_version = 2")
        c.execute("UPDATE credentials SET name = 'same', created_at_ms = ?"
                  " WHERE id IN (?, ?, ?)", (1000, *ids[:3]))
        c.execute("UPDATE credentials SET created_at_ms = 2000 WHERE id = ?", (ids[2],))
        c.execute("UPDATE credentials SET revoked_at_ms = 5 WHERE id = ?", (ids[0],))
    r = run("migrate", "--config", cfg(g))
    assert r.returncode == 0, r.stderr
    names = {row["id"]: row["name"] for row in credential_rows(g)}
    assert names[ids[2]] == "same"                  # the newest keeps it
    assert names[ids[1]] == f"same ({ids[1]})"      # an older live one
    assert names[ids[0]] == "same"                  # revoked: untouched
    assert names[ids[3]] == "k3"


def test_duplicate_scopes_are_folded(gm):
    g = gm
    r = keys_create(g, "x", "partner", "partner", "operator", json_out=True)
    assert r.returncode == 0, r.stderr
    [row] = credential_rows(g)
    assert row["scopes"] == "partner operator"


def test_keys_list_shows_names_scopes_ids_but_no_secret(gm):
    g = gm
    made = {}
    for name, scopes in (("prime", ["fulfillment:primegaming"]),
                         ("backend", ["partner"]),
                         ("support desk", ["operator", "partner"])):
        r = keys_create(g, name, *scopes, json_out=True)
        made[name] = json.loads(r.stdout.strip().splitlines()[-1])
    hashes = [row["secret_hash"] for row in credential_rows(g)]

    r = run("keys", "list", "--config", cfg(g))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "SCOPES", "CREATED", "EXPIRES", "REVOKED"]
    assert len(lines) == 4
    for name, k in made.items():
        [line] = [l for l in lines if l.startswith(k["id"])]
        assert name in line
    assert "fulfillment:primegaming" in r.stdout and "partner operator" in r.stdout
    for k in made.values():
        assert k["key"] not in r.stdout and k["key"] not in r.stderr
    for h in hashes:
        assert h not in r.stdout
    assert "gdk_" not in r.stdout

    listed = keys_list_json(g)
    assert set(listed) == {k["id"] for k in made.values()}
    for name, k in made.items():
        entry = listed[k["id"]]
        assert set(entry) == {"id", "name", "scopes", "created_at_millis",
                              "expires_at_millis", "revoked_at_millis"}
        assert entry["name"] == name
        assert entry["revoked_at_millis"] is None and entry["expires_at_millis"] is None
    assert listed[made["support desk"]["id"]]["scopes"] == "partner operator"
    raw = run("keys", "list", "--config", cfg(g), "--json").stdout
    assert "gdk_" not in raw and not any(h in raw for h in hashes)


def test_keys_list_on_empty_database(gm):
    g = gm
    r = run("keys", "list", "--config", cfg(g), "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout) == []
    r = run("keys", "list", "--config", cfg(g))
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == 1


def test_expiring_key(gm):
    g = gm
    r = run("keys", "create", "--config", cfg(g), "--name", "temp", "--scope", "partner",
            "--expires-in", "3600", "--json")
    assert r.returncode == 0, r.stderr
    k = json.loads(r.stdout.strip().splitlines()[-1])
    entry = keys_list_json(g)[k["id"]]
    assert entry["expires_at_millis"] - entry["created_at_millis"] == 3600 * 1000


def test_revoke_unknown_id_exits_1(gm):
    g = gm
    keys_create(g, "backend", "partner")
    before = credential_rows(g)
    r = run("keys", "revoke", "--config", cfg(g), "key_ffffffffffffffff")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == 'grantd: no key with id "key_ffffffffffffffff"\n'
    assert credential_rows(g) == before


def test_revoke_twice(gm):
    g = gm
    k = json.loads(keys_create(g, "backend", "partner", json_out=True).stdout.splitlines()[-1])
    other = json.loads(keys_create(g, "prime", "fulfillment:primegaming",
                                   json_out=True).stdout.splitlines()[-1])
    r = run("keys", "revoke", "--config", cfg(g), k["id"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"revoked {k['id']}")
    first = keys_list_json(g)
    revoked_at = first[k["id"]]["revoked_at_millis"]
    assert isinstance(revoked_at, int) and revoked_at >= first[k["id"]]["created_at_millis"]
    assert first[other["id"]]["revoked_at_millis"] is None
    # a second revoke succeeds and keeps the first revocation time
    r = run("keys", "revoke", "--config", cfg(g), k["id"])
    assert r.returncode == 0, r.stderr
    second = keys_list_json(g)
    assert second[k["id"]]["revoked_at_millis"] == revoked_at
    assert second[other["id"]]["revoked_at_millis"] is None
    # the text listing shows the revocation time
    line = [l for l in run("keys", "list", "--config", cfg(g)).stdout.splitlines()
            if l.startswith(k["id"])][0]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\s*$", line), line


@pytest.mark.sqlite_only
def test_secrets_are_stored_only_as_sha256(gm):
    g = gm
    keys = []
    for i, scope in enumerate(("partner", "operator", "fulfillment:primegaming")):
        r = keys_create(g, f"k{i}", scope, json_out=True)
        assert r.returncode == 0, r.stderr
        keys.append(json.loads(r.stdout.strip().splitlines()[-1]))
    rows = credential_rows(g)
    assert len(rows) == 3
    by_id = {row["id"]: row for row in rows}
    for k in keys:
        row = by_id[k["id"]]
        assert row["secret_hash"] == hashlib.sha256(k["key"].encode()).hexdigest()
        for other in keys:
            for column, value in row.items():
                assert value != other["key"], column
                if isinstance(value, str):
                    assert other["key"] not in value, column
                    assert other["key"][4:] not in value, column
    # not in any byte of the database files either (main file, WAL, shm)
    files = [p for p in g.dir.iterdir() if p.name.startswith(g.db_path.name)]
    assert g.db_path in files
    for p in files:
        data = p.read_bytes()
        for k in keys:
            assert k["key"].encode() not in data, p
            assert k["key"][4:].encode() not in data, p


# ---- commands that need a database ---------------------------------------------------

NEEDS_DATABASE = [
    ["keys", "create", "--name", "k", "--scope", "partner"],
    ["keys", "list"],
    ["keys", "revoke", "key_0000000000000000"],
    ["clients", "create", "--name", "c", "--scope", "partner"],
    ["clients", "list"],
    ["clients", "revoke", "client_0000000000000000"],
    ["clients", "rotate-secret", "client_0000000000000000"],
    ["audit"],
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("args", NEEDS_DATABASE, ids=" ".join)
def test_commands_do_not_invent_a_database(g, args):
    r = run(*args, "--config", cfg(g))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert (f"no database at {g.db_path}: start grantd serve or run grantd "
            "migrate first") in r.stderr
    assert r.stdout == ""
    assert not g.db_path.exists()
    assert not any(g.dir.glob("grantd.db*"))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_database_in_a_missing_directory_names_it(make_grantd, tmp_path, command):
    where = tmp_path / "no" / "such" / "dir"
    g = make_grantd(config={"storage": {"sqlite": {"path": str(where / "grantd.db")}}},
                    migrate=False)
    r = run(command, "--config", cfg(g), timeout=10)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"the directory {where} does not exist" in r.stderr, r.stderr
    assert not (tmp_path / "no").exists()


# ---- migrate ----------------------------------------------------------------------

@pytest.mark.sqlite_only
def test_migrate_creates_the_database(g):
    assert not g.db_path.exists()
    r = run("migrate", "--config", cfg(g))
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r"database (.+) is at schema version (\d+)\n", r.stdout)
    assert m, r.stdout
    assert m.group(1) == str(g.db_path)
    version = int(m.group(2))
    assert version >= 1
    assert g.db_path.exists()
    with sqlite3.connect(f"file:{g.db_path}?mode=ro", uri=True) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == version
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"accounts", "fulfillments", "grants", "inventory_stackables",
            "inventory_instances", "claims", "credentials"} <= tables
    # running it again changes nothing
    r = run("migrate", "--config", cfg(g))
    assert r.returncode == 0
    assert r.stdout == m.group(0)


@pytest.mark.sqlite_only
def test_migrate_with_env_path(g, tmp_path):
    other = tmp_path / "elsewhere.db"
    r = run("migrate", "--config", cfg(g),
            env=dict(os.environ, GRANTD_STORAGE_SQLITE_PATH=str(other)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"database {other} is at schema version ")
    assert other.exists() and not g.db_path.exists()


@pytest.mark.sqlite_only
def test_migrate_into_missing_directory_exits_1(g, tmp_path):
    g.write_config({"storage": {"sqlite": {"path": str(tmp_path / "no" / "such" / "g.db")}}})
    r = run("migrate", "--config", cfg(g))
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("grantd: storage: "), r.stderr


# ---- catalog check ----------------------------------------------------------------

def test_catalog_check_good_file():
    r = run("catalog", "check", TEST_CATALOG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""
    assert r.stdout == (f"{TEST_CATALOG}: ok: 5 items, 1 bundles, 9 entitlements; "
                        "provider item ids: primeGaming.sku 8, twitchDrop.rewardId 1\n")


BROKEN_CATALOG = {
    "items": [
        {"catalogId": "gold", "kind": "stackable"},
        {"catalogId": "gold", "kind": "stackable"},
        {"catalogId": "hat", "kind": "hat"},
    ],
    "bundles": [{"id": "b1", "stackables": [{"catalogId": "silver", "amount": 1}]}],
    "entitlements": [
        {"id": "e1", "stackable": {"catalogId": "gold", "amount": 0},
         "providerDetails": [{"primeGaming": {"sku": "pg bad"}}]},
        {"id": "e2", "stackable": {"catalogId": "nope", "amount": 5},
         "instanced": {"catalogId": "gold"},
         "providerDetails": [{"primeGaming": {"sku": "dup"}}]},
        {"id": "e3", "bundle": {"id": "nobundle"},
         "providerDetails": [{"primeGaming": {"sku": "dup"}}]},
        {"id": "e3", "stackable": {"catalogId": "gold", "amount": 1},
         "availability": {"startsAt": "2030-01-01T00:00:00Z",
                          "endsAt": "2020-01-01T00:00:00Z"},
         "providerDetails": [{"primeGaming": {"sku": "ok_sku"}}]},
    ],
}

EXPECTED_PROBLEMS = [
    'items[1]: duplicate id "gold" (first at items[0])',
    'items[2].kind: must be "stackable" or "instanced"',
    'bundles[0].stackables[0].catalogId: unknown item "silver"',
    "entitlements[0].stackable.amount: must be greater than 0",
    'entitlements[0].providerDetails[0].primeGaming.sku: "pg bad" has characters '
    "outside [A-Za-z0-9_:.-]",
    'entitlements[1]: must have exactly one of "stackable", "instanced", "bundle"',
    'entitlements[1].stackable.catalogId: unknown item "nope"',
    'entitlements[2].bundle.id: unknown bundle "nobundle"',
    'entitlements[2].providerDetails[0].primeGaming.sku: "dup" is already mapped by '
    "entitlements[1]",
    "entitlements[3].availability.endsAt: must be after startsAt",
    'entitlements[3]: duplicate id "e3" (first at entitlements[2])',
]


def test_catalog_check_reports_every_problem_with_its_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(BROKEN_CATALOG, indent=2))
    r = run("catalog", "check", path)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    for problem in EXPECTED_PROBLEMS:
        assert problem in lines, problem
    # every line names a JSON path, and nothing is reported twice
    for line in lines:
        assert re.match(r"(items|bundles|entitlements)\[\d+\][\w.\[\]]*: ", line), line
    assert len(lines) == len(set(lines))
    assert r.stderr == f"{path}: {len(lines)} problem(s); the catalog is refused\n"


@pytest.mark.parametrize("text,problem", [
    ("not json", "$: invalid JSON at line 1 column 3"),
    ("[]", '$: must be a JSON object with "items", "bundles" and "entitlements"'),
    ('{"items": [], "bundles": [], "entitlements": [], "extra": 1}', '$: unknown key "extra"'),
    ('{"items": [{"catalogId": "g", "kind": "stackable"}], "bundles": [], '
     '"entitlements": [{"id": "x", "stackable": {"catalogId": "g", "amount": 1}, '
     '"providerDetails": [{"primeGaming": {"sku": "' + "s" * 257 + '"}}]}]}',
     "entitlements[0].providerDetails[0].primeGaming.sku: must be at most 256 bytes"),
])
def test_catalog_check_small_problems(tmp_path, text, problem):
    path = tmp_path / "c.json"
    path.write_text(text)
    r = run("catalog", "check", path)
    assert r.returncode == 1
    assert any(l.startswith(problem) for l in r.stdout.splitlines()), r.stdout
    assert r.stderr.startswith(f"{path}: ")


def test_catalog_check_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    r = run("catalog", "check", path)
    assert r.returncode == 1
    assert r.stdout == f"{path}: cannot read: No such file or directory\n"
    assert r.stderr == f"{path}: 1 problem(s); the catalog is refused\n"
