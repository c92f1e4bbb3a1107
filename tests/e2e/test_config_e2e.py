"""`grantd serve` and its configuration: bad keys and values stop start-up
(non-zero exit, a message naming file and key, nothing listening), GRANTD_*
environment overrides, and the catalog as a start-up requirement."""
import json

import pytest


def serve_fails(g, env=None):
    return g.serve_fails(env=env)


def with_keys(g):
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    return g


def sqlite_config(g, **values):
    """The storage.sqlite section with the harness's path kept."""
    return {"storage": {"sqlite": {"path": str(g.db_path), **values}}}


# ---- bad configuration files ---------------------------------------------------

def position_of(g, key):
    """"line:column" of `key:` in the config file, 1-based."""
    for n, line in enumerate(g.config_path.read_text().splitlines(), 1):
        if line.lstrip().startswith(key + ":"):
            return f"{n}:{len(line) - len(line.lstrip()) + 1}"
    raise AssertionError(f"{key} not in the config file")


def value_position_of(g, section, key):
    """"line:column" of the value of `key:` inside `section:`, 1-based."""
    lines = g.config_path.read_text().splitlines()
    start = next(n for n, l in enumerate(lines) if l.strip() == f"{section}:")
    for n, line in enumerate(lines[start + 1:], start + 2):
        if line.lstrip().startswith(key + ":"):
            return f"{n}:{len(line) - len(line.lstrip()) + len(key) + 3}"
    raise AssertionError(f"{section}.{key} not in the config file")


@pytest.mark.parametrize("extra,key,expect", [
    ({"server": {"bogus": 1}}, "bogus",
     'unknown key "bogus" in server (known keys: listen, threads, max_body_bytes, '
     'connection_timeout_seconds, request_header_timeout_seconds, max_connections, max_connections_per_ip, '
     'max_header_bytes, tls)'),
    ({"nonsense": 1}, "nonsense",
     'unknown key "nonsense" at the top level (known keys: '
     'server, storage, catalog, accounts, revocation, auth, providers, linking, outbox, events, gamepot, tentuplay, log)'),
    ({"accounts": {"autocreate": True}}, "autocreate",
     'unknown key "autocreate" in accounts (known keys: auto_create)'),
])
def test_unknown_key_stops_start_up(make_grantd, extra, key, expect):
    g = make_grantd(config=extra)
    err = serve_fails(g)
    assert f"grantd: config: {g.config_path}:{position_of(g, key)}: {expect}" in err, err
    assert not g.db_path.exists()


def test_unknown_key_in_nested_section(make_grantd):
    g = make_grantd()
    g.write_config(sqlite_config(g, journal="wal"))
    err = serve_fails(g)
    assert f"grantd: config: {g.config_path}:" in err
    assert 'unknown key "journal" in storage.sqlite (known keys: path, synchronous)' in err


@pytest.mark.parametrize("section,key,value,rule", [
    ("server", "threads", 0, "must be an integer from 1 to 64"),
    ("server", "threads", 65, "must be an integer from 1 to 64"),
    ("server", "threads", "two", "must be an integer from 1 to 64"),
    ("server", "listen", "nonsense",
     "must be host:port or [ipv6]:port with a port from 0 to 65535"),
    ("server", "listen", "127.0.0.1:65536",
     "must be host:port or [ipv6]:port with a port from 0 to 65535"),
    ("server", "listen", "127.0.0.1", "must be host:port or [ipv6]:port"),
    ("server", "max_body_bytes", 0, "must be an integer from 1 to 16777216"),
    ("storage", "driver", "oracle", "must be one of sqlite, postgres"),
    ("accounts", "auto_create", "maybe", "must be true or false (or yes/no, on/off, 1/0)"),
    ("log", "level", "loud", "must be one of debug, info, warn, error"),
])
def test_bad_value_stops_start_up(make_grantd, section, key, value, rule):
    g = make_grantd(config={section: {key: value}})
    err = serve_fails(g)
    expected = (f"grantd: config: {g.config_path}:{value_position_of(g, section, key)}: "
                f"{section}.{key}: {rule}")
    assert expected in err, err
    assert f'(got "{value}")' in err


def test_bad_synchronous_value(make_grantd):
    g = make_grantd()
    g.write_config(sqlite_config(g, synchronous="sometimes"))
    err = serve_fails(g)
    assert (f"{g.config_path}:{value_position_of(g, 'sqlite', 'synchronous')}: "
            "storage.sqlite.synchronous: must be one of full, normal "
            f'(got "sometimes")') in err


def test_every_problem_is_reported_at_once(make_grantd):
    g = make_grantd(config={"server": {"threads": 0, "max_body_bytes": -5},
                            "log": {"level": "loud"}})
    err = serve_fails(g)
    for key in ("server.threads", "server.max_body_bytes", "log.level"):
        section, name = key.split(".")
        where = value_position_of(g, section, name)
        assert f"{g.config_path}:{where}: {key}: " in err, key
    assert not g.db_path.exists()


def test_missing_config_file(make_grantd, tmp_path):
    g = make_grantd()
    g.config_path = tmp_path / "absent.yaml"
    err = serve_fails(g)
    assert f"grantd: config: {g.config_path}: cannot read: No such file or directory" in err


@pytest.mark.parametrize("text,expect", [
    ('server:\n  listen: "unclosed\n', ":3:1: YAML syntax error: found unexpected end of "
     "stream (while scanning a quoted scalar that starts at line 2, column 11)"),
    ("server:\n\tthreads: 2\n", ":2:1: YAML syntax error: a tab character; YAML indents "
     "with spaces only"),
    ("server:\n  listen: [a, b]\n", ":2:11: server.listen: must be a single value, not a list"),
    ("server: 8080\n", ":1:9: server: must be a section with the keys listen, threads, "
     "max_body_bytes, connection_timeout_seconds, request_header_timeout_seconds, max_connections, "
     "max_connections_per_ip, max_header_bytes, tls, not a single value"),
    ("server:\n  threads: 2\n  threads: 3\n", ":3:3: server.threads: set more than once"),
])
def test_malformed_yaml(make_grantd, text, expect):
    g = make_grantd()
    g.config_path.write_text(text)
    err = serve_fails(g)
    assert f"grantd: config: {g.config_path}{expect}" in err, err


# ---- environment overrides -------------------------------------------------------

@pytest.mark.parametrize("var,value,rule", [
    ("GRANTD_SERVER_THREADS", "abc", "must be an integer from 1 to 64"),
    ("GRANTD_SERVER_LISTEN", "nonsense", "must be host:port"),
    ("GRANTD_ACCOUNTS_AUTO_CREATE", "sometimes", "must be true or false"),
    ("GRANTD_STORAGE_SQLITE_SYNCHRONOUS", "off", "must be one of full, normal"),
    ("GRANTD_STORAGE_SQLITE_PATH", "", "must not be empty"),
])
def test_bad_env_value_names_the_variable(make_grantd, var, value, rule):
    g = make_grantd()
    err = serve_fails(g, env={var: value})
    assert f'grantd: config: {var}: {rule}' in err, err
    assert f'(got "{value}")' in err


def test_env_auto_create_overrides_the_file(make_grantd):
    g = with_keys(make_grantd(config={"accounts": {"auto_create": False}},
                              env={"GRANTD_ACCOUNTS_AUTO_CREATE": "true"}))
    g.start()
    r = g.fulfill("fresh", "pg_gold_100", "t-env")
    assert r.status_code == 200, r.text
    r = g.request("GET", "/v1/accounts/fresh", key=g.partner_key)
    assert r.status_code == 200
    assert r.json()["state"] == "active"
    assert g.balance("fresh", "gold") == 100


def test_env_can_turn_auto_create_off(make_grantd):
    g = with_keys(make_grantd(config={"accounts": {"auto_create": True}},
                              env={"GRANTD_ACCOUNTS_AUTO_CREATE": "off"}))
    g.start()
    r = g.fulfill("fresh", "pg_gold_100", "t-env")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "InvalidCustomer"
    assert g.request("GET", "/v1/accounts/fresh", key=g.partner_key).status_code == 404


@pytest.mark.sqlite_only
def test_env_overrides_listen_and_database_path(make_grantd, tmp_path):
    other_db = tmp_path / "from-env.db"
    g = make_grantd(config={"server": {"listen": "127.0.0.1:1"}},
                    env={"GRANTD_SERVER_LISTEN": "127.0.0.1:0",
                         "GRANTD_STORAGE_SQLITE_PATH": str(other_db)})
    with_keys(g)  # the CLI reads the same environment
    g.start()
    [line] = g.log_lines("listening")
    assert line["listen"] == "127.0.0.1:0"
    assert line["port"] != 1
    assert line["database"] == str(other_db)
    assert g.put_account("player-1").status_code == 201
    assert other_db.exists() and not g.db_path.exists()


def test_synchronous_normal_starts_and_serves(make_grantd):
    g = make_grantd()
    g.write_config(sqlite_config(g, synchronous="normal"))
    with_keys(g).start()
    assert g.put_account("player-1").status_code == 201
    for i in range(5):
        assert g.fulfill("player-1", "pg_gold_100", f"t-n{i}").status_code == 200
    assert g.balance("player-1", "gold") == 500
    assert g.stop() == 0
    with g.db() as c:
        assert c.execute("SELECT count(*) FROM fulfillments WHERE status='completed'"
                         ).fetchone()[0] == 5


@pytest.mark.sqlite_only
def test_empty_sections_mean_defaults(make_grantd):
    g = make_grantd()
    g.config_path.write_text(
        f"server:\n  listen: \"127.0.0.1:0\"\naccounts:\nlog:\n"
        f"storage:\n  sqlite:\n    path: {json.dumps(str(g.db_path))}\n"
        f"catalog:\n  path: {json.dumps(str(g.catalog_path))}\n")
    with_keys(g).start()
    [line] = g.log_lines("listening")
    assert line["threads"] == 2
    # auto_create defaults to false
    r = g.fulfill("nobody", "pg_gold_100", "t-def")
    assert r.json()["error"]["code"] == "InvalidCustomer"


# ---- the catalog at start-up ----------------------------------------------------------

def test_missing_catalog_stops_start_up(make_grantd, tmp_path):
    missing = tmp_path / "no-catalog.json"
    g = make_grantd(config={"catalog": {"path": str(missing)}})
    err = serve_fails(g)
    assert (f"grantd: catalog {missing} has 1 problem(s); nothing was started:\n"
            f"  {missing}: cannot read: No such file or directory\n"
            f"grantd: check a catalog with: grantd catalog check {missing}\n") in err
    [event] = [json.loads(l) for l in err.splitlines() if '"catalog_invalid"' in l]
    assert event["level"] == "error"
    assert event["path"] == str(missing)
    assert event["problems"] == f"{missing}: cannot read: No such file or directory"


def test_invalid_catalog_stops_start_up(make_grantd):
    g = make_grantd()
    g.catalog_path.write_text(json.dumps({
        "items": [{"catalogId": "gold", "kind": "stackable"}],
        "bundles": [],
        "entitlements": [
            {"id": "a", "stackable": {"catalogId": "gold", "amount": -1},
             "providerDetails": [{"primeGaming": {"sku": "pg_a"}}]},
            {"id": "b", "stackable": {"catalogId": "silver", "amount": 1},
             "providerDetails": [{"primeGaming": {"sku": "pg_a"}}]},
        ]}))
    err = serve_fails(g)
    assert f"grantd: catalog {g.catalog_path} has 3 problem(s); nothing was started:" in err
    # every problem on stderr, not only in the JSON log line
    printed = [l[2:] for l in err.splitlines() if l.startswith("  ")]
    assert "entitlements[0].stackable.amount: must be greater than 0" in printed
    assert 'entitlements[1].stackable.catalogId: unknown item "silver"' in printed
    assert len(printed) == 3
    [event] = [json.loads(l) for l in err.splitlines() if '"catalog_invalid"' in l]
    assert event["problem_count"] == 3
    problems = event["problems"].split("\n")
    assert "entitlements[0].stackable.amount: must be greater than 0" in problems
    assert 'entitlements[1].stackable.catalogId: unknown item "silver"' in problems
    assert any(p.startswith("entitlements[1].providerDetails[0].primeGaming.sku: ")
               for p in problems), problems
    assert not any(l.startswith("{") and '"listening"' in l for l in err.splitlines())


def test_catalog_that_is_not_json_stops_start_up(make_grantd):
    g = make_grantd()
    g.catalog_path.write_text("{ this is not json")
    err = serve_fails(g)
    [event] = [json.loads(l) for l in err.splitlines() if '"catalog_invalid"' in l]
    assert event["problems"].startswith("$: invalid JSON at line 1")


def test_unusable_listen_address_stops_start_up(make_grantd):
    # passes the shape check, cannot be bound
    g = make_grantd(config={"server": {"listen": "192.0.2.1:0"}})
    err = serve_fails(g)
    assert "grantd: cannot listen on 192.0.2.1:0" in err


def test_a_port_in_use_is_named(make_grantd):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        g = make_grantd(config={"server": {"listen": f"127.0.0.1:{port}"},
                                "log": {"level": "debug"}})
        err = g.serve_fails()
    assert f"grantd: cannot listen on 127.0.0.1:{port}: Address already in use" in err, err
    assert "port 0" not in err
