"""Checks on the database that hold whatever happened: the ledger (grants)
explains the inventory exactly, and every fulfilment granted at most once."""


def check_ledger(db):
    """Inventory equals what the grants ledger says, row for row."""
    stack = dict(((a, c), n) for a, c, n in db.execute(
        "SELECT account_id, catalog_id, amount FROM inventory_stackables"))
    ledger = dict(((a, c), n) for a, c, n in db.execute(
        "SELECT f.account_id, g.catalog_id, sum(g.amount) FROM grants g"
        " JOIN fulfillments f ON f.row_id = g.fulfillment_row"
        " WHERE g.instance_id IS NULL GROUP BY 1, 2"))
    assert stack == ledger
    instances = set(db.execute(
        "SELECT instance_id, account_id, catalog_id FROM inventory_instances"))
    granted = set(db.execute(
        "SELECT g.instance_id, f.account_id, g.catalog_id FROM grants g"
        " JOIN fulfillments f ON f.row_id = g.fulfillment_row"
        " WHERE g.instance_id IS NOT NULL"))
    assert instances == granted
    # Only completed fulfilments have grants.
    bad = db.execute(
        "SELECT count(*) FROM grants g JOIN fulfillments f"
        " ON f.row_id = g.fulfillment_row WHERE f.status != 'completed'").fetchone()[0]
    assert bad == 0


def completed_once(db, source, external_ids, grants_each):
    """Every id has exactly one completed fulfilment with exactly
    `grants_each` grant rows."""
    rows = dict(db.execute(
        "SELECT f.external_id, count(g.fulfillment_row) FROM fulfillments f"
        " LEFT JOIN grants g ON g.fulfillment_row = f.row_id"
        " WHERE f.source = ? AND f.status = 'completed' GROUP BY f.row_id",
        (source,)))
    missing = [t for t in external_ids if t not in rows]
    assert not missing, f"acknowledged but not completed: {missing[:5]}"
    wrong = {t: rows[t] for t in external_ids if rows[t] != grants_each}
    assert not wrong, f"wrong grant counts: {list(wrong.items())[:5]}"


def check_ledger_revocations(db, spent=None):
    """With revocations: inventory equals the grants of completed and
    revoked fulfilments less what each revocation removed (its `removed`
    record) and less what the player spent (`spent`: {(account_id,
    catalog_id): amount}, outside the ledger), row for row; grants belong
    only to completed or revoked fulfilments, and every revoked one has
    exactly one revocation."""
    import json
    stack = dict(((a, c), n) for a, c, n in db.execute(
        "SELECT account_id, catalog_id, amount FROM inventory_stackables"))
    ledger = {}
    for a, c, n in db.execute(
            "SELECT f.account_id, g.catalog_id, sum(g.amount) FROM grants g"
            " JOIN fulfillments f ON f.row_id = g.fulfillment_row"
            " WHERE g.instance_id IS NULL GROUP BY 1, 2"):
        ledger[(a, c)] = ledger.get((a, c), 0) + n
    removed_instances = set()
    for a, removed in db.execute(
            "SELECT account_id, removed FROM revocations"):
        removed = json.loads(removed)
        for s in removed["stackables"]:
            key = (a, s["catalog_id"])
            ledger[key] = ledger.get(key, 0) - s["amount"]
        removed_instances |= {i["instance_id"] for i in removed["instanced"]}
    for key, n in (spent or {}).items():
        ledger[key] = ledger.get(key, 0) - n
    # a balance the ledger brings to 0 may be a row of 0 or no row
    assert {k: v for k, v in stack.items() if v} == \
        {k: v for k, v in ledger.items() if v}
    instances = set(db.execute(
        "SELECT instance_id, account_id, catalog_id FROM inventory_instances"))
    granted = {r for r in db.execute(
        "SELECT g.instance_id, f.account_id, g.catalog_id FROM grants g"
        " JOIN fulfillments f ON f.row_id = g.fulfillment_row"
        " WHERE g.instance_id IS NOT NULL") if r[0] not in removed_instances}
    assert instances == granted
    bad = db.execute(
        "SELECT count(*) FROM grants g JOIN fulfillments f"
        " ON f.row_id = g.fulfillment_row"
        " WHERE f.status != 'completed' AND f.status != 'revoked'").fetchone()[0]
    assert bad == 0
    revoked = db.execute(
        "SELECT count(*) FROM fulfillments WHERE status = 'revoked'").fetchone()[0]
    recorded = db.execute(
        "SELECT count(*) FROM revocations r JOIN fulfillments f"
        " ON f.row_id = r.fulfillment_row"
        " WHERE f.status = 'revoked'").fetchone()[0]
    total = db.execute("SELECT count(*) FROM revocations").fetchone()[0]
    assert revoked == recorded == total
