"""GET /metrics is Prometheus text that Prometheus's own parser reads
(python3-prometheus-client), with the families operators chart, and the
numbers move when requests, fulfilments, commits, provider calls and
outbox deliveries happen."""
import json

from prometheus_client.parser import text_string_to_metric_families

from conftest import ready
from pull_util import TWITCH_GOLD, link, pull_grantd, sync, wait_for


def scrape(g):
    r = g.request("GET", "/metrics", key=g.ops_key)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def value(families, family, sample=None, **labels):
    """The value of the sample named `sample` (default: the family's)
    whose labels include `labels`; 0 if there is none."""
    f = families[family]
    name = sample or family
    for s in f.samples:
        if s.name == name and all(s.labels.get(k) == v
                                  for k, v in labels.items()):
            return s.value
    return 0


def test_the_exposition_parses_and_has_every_family(make_grantd):
    g = ready(make_grantd(), operator=True)
    fams = scrape(g)
    expected = {
        # the parser names counters without their _total suffix
        "grantd_http_requests": "counter",
        "grantd_http_request_duration_seconds": "histogram",
        "grantd_http_connections_open": "gauge",
        "grantd_http_connections_closed": "counter",
        "grantd_fulfillments": "counter",
        "grantd_store_batch_size": "histogram",
        "grantd_store_commit_duration_seconds": "histogram",
        "grantd_outbox_pending": "gauge",
        "grantd_outbox_deliveries": "counter",
        "grantd_provider_requests": "counter",
        "grantd_catalog_entries": "gauge",
        "grantd_build_info": "gauge",
    }
    for name, kind in expected.items():
        assert name in fams, name
        assert fams[name].type == kind, (name, fams[name].type)
    catalog = json.loads(g.catalog_path.read_text())
    assert value(fams, "grantd_catalog_entries") == len(catalog["entitlements"])
    assert value(fams, "grantd_build_info") == 1


def test_numbers_move_with_requests_and_commits(make_grantd):
    g = ready(make_grantd(), operator=True)
    before = scrape(g)
    for i in range(5):
        assert g.fulfill("player-1", "pg_gold_100", f"m-{i}").status_code == 200
    assert g.fulfill("player-1", "pg_nope", "m-bad").status_code == 400
    after = scrape(g)

    def moved(family, sample=None, **labels):
        return (value(after, family, sample, **labels) -
                value(before, family, sample, **labels))

    assert moved("grantd_fulfillments", "grantd_fulfillments_total",
                 source="primegaming", outcome="Granted") == 5
    assert moved("grantd_fulfillments", "grantd_fulfillments_total",
                 source="primegaming", outcome="UnknownItem") == 1
    assert moved("grantd_http_requests", "grantd_http_requests_total",
                 route="primegaming.fulfill", status="200") == 5
    assert moved("grantd_http_request_duration_seconds",
                 "grantd_http_request_duration_seconds_count",
                 route="primegaming.fulfill") == 6
    commits = moved("grantd_store_commit_duration_seconds",
                    "grantd_store_commit_duration_seconds_count")
    assert 1 <= commits <= 6
    assert value(after, "grantd_store_commit_duration_seconds",
                 "grantd_store_commit_duration_seconds_bucket", le="+Inf") == \
        value(after, "grantd_store_commit_duration_seconds",
              "grantd_store_commit_duration_seconds_count")


def test_provider_calls_and_outbox_deliveries_are_counted(make_grantd,
                                                          fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    g.ops_key = g.create_key("ops", "operator")
    link(g, "twitch", "25009227")
    drop = fake_twitch.add_drop("25009227", TWITCH_GOLD)
    sync(g)
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED",
             what="the report")
    wait_for(lambda: value(scrape(g), "grantd_outbox_deliveries",
                           "grantd_outbox_deliveries_total",
                           kind="report.twitch", result="delivered") >= 1,
             what="the delivery counted")
    fams = scrape(g)
    assert value(fams, "grantd_provider_requests",
                 "grantd_provider_requests_total",
                 provider="twitch", status="200") >= 2  # token, listing, report
    assert value(fams, "grantd_outbox_deliveries",
                 "grantd_outbox_deliveries_total",
                 kind="report.twitch", result="dead") == 0


def test_the_grafana_dashboard_charts_only_metrics_grantd_exports(make_grantd):
    import re
    from conftest import REPO
    g = ready(make_grantd(), operator=True)
    assert g.fulfill("player-1", "pg_gold_100", "d-1").status_code == 200
    samples = {s.name for f in scrape(g).values() for s in f.samples}
    dashboard = (REPO / "examples" / "grafana-dashboard.json").read_text()
    used = set(re.findall(r"grantd_[a-z_]+", dashboard)) - {"grantd_overview"}
    # families with no sample yet (no provider called) are declared
    declared = set(scrape(g))
    missing = {m for m in used if m not in samples and
               m.removesuffix("_total") not in declared}
    assert not missing, missing
