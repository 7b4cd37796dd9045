"""Consolidation takes single-record contracts straight from their record and aggregates only
republished ones (a memory fix, see BENCHMARKS.md). These tests pin that both forms give what the
aggregate over every record gave, NULLs and odd keys included."""
import datetime as dt

from decp_monitor import pipeline
from decp_monitor.core.model import Record
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store, schema_sql

COLUMNS = (
    "contract_key, buyer_siret, contract_id, kind, notification_date, start_date, publication_date, "
    "last_publication_date, buyer_name, uid, nature, objet, procedure, cpv, amount, duration_months, "
    "place_code, place_name, format, source_file, resource_id, record_count, file_count, "
    "modification_count, first_record_id"
)

# The former single-aggregate definition of `contracts`: the reference the current form must match.
REFERENCE_SQL = """
SELECT
    rc.contract_key,
    arg_min(r.buyer_siret, r.record_id), arg_min(r.contract_id, r.record_id), arg_min(r.kind, r.record_id),
    arg_min(r.notification_date, r.record_id), min(r.start_date), min(r.publication_date),
    max(r.publication_date),
    arg_min(r.buyer_name, r.record_id) FILTER (WHERE r.buyer_name IS NOT NULL),
    arg_min(r.uid, r.record_id), arg_min(r.nature, r.record_id), arg_min(r.objet, r.record_id),
    arg_min(r.procedure, r.record_id), arg_min(r.cpv, r.record_id), arg_max(r.amount, r.record_id),
    arg_max(r.duration_months, r.record_id), arg_min(r.place_code, r.record_id),
    arg_min(r.place_name, r.record_id), arg_min(r.format, r.record_id),
    arg_min(r.source_file, coalesce(r.publication_date, DATE '9999-12-31')),
    arg_min(r.resource_id, coalesce(r.publication_date, DATE '9999-12-31')),
    count(*), count(DISTINCT r.source_file), max(r.modification_count), min(r.record_id)
FROM records r JOIN record_contract rc USING (record_id)
GROUP BY rc.contract_key
"""


def rec(position, contract_id, **kw):
    return Record(
        source_file=kw.pop("source_file", "a.json"), position=position, kind=kw.pop("kind", "marche"),
        format="json-2019", buyer_siret=kw.pop("siret", "21440036800012"), contract_id=contract_id,
        notification_date=kw.pop("notified", dt.date(2024, 1, 15)),
        publication_date=kw.pop("published", dt.date(2024, 2, 1)), **kw,
    )


def test_single_and_republished_contracts_match_the_aggregate_over_every_record(tmp_path):
    store = Store(tmp_path)
    items = [
        rec(0, "SOLO", buyer_name=None, amount=None, objet="Objet", duration_months=None),
        rec(1, "SOLO-NOTHING", notified=None, published=None, siret=None),
        rec(2, "REPUB", amount=100.0, buyer_name=None, source_file="a.json"),
        rec(3, "REPUB", amount=None, buyer_name="Commune", source_file="b.json", published=dt.date(2024, 1, 20)),
        rec(4, None),  # no id: never merged
        rec(5, None),
        rec(6, "CONC", kind="concession", start_date=dt.date(2024, 3, 1)),
    ]
    with build_version(store, "test") as build:
        for item in items:
            build.add(item)
    con = store.connect()
    try:
        current = sorted(con.execute(f"SELECT {COLUMNS} FROM contracts").fetchall(), key=str)
        reference = sorted(con.execute(REFERENCE_SQL).fetchall(), key=str)
    finally:
        con.close()
    assert current == reference
    assert len(current) == 6
    by_id = {row[2]: row for row in current}
    # the republished contract: earliest publication, its file, the last non-null amount, the name found
    assert by_id["REPUB"][6] == dt.date(2024, 1, 20) and by_id["REPUB"][19] == "b.json"
    assert by_id["REPUB"][14] == 100.0 and by_id["REPUB"][8] == "Commune" and by_id["REPUB"][21] == 2


def test_a_record_with_a_null_contract_key_is_not_dropped(tmp_path):
    # contract_key_of() is NULL only when kind is NULL: such records must still make a contract,
    # as the aggregate's GROUP BY did (one NULL group).
    import duckdb

    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    con.execute(schema_sql())
    con.execute(
        "INSERT INTO records (record_id, source_file, kind, buyer_siret, contract_id) VALUES "
        "(0, 'a.json', NULL, '21440036800012', 'K1'), (1, 'a.json', 'marche', '21440036800012', 'K2')"
    )
    con.execute(pipeline.sql("consolidate.sql"))
    rows = sorted(con.execute("SELECT contract_id, record_count FROM contracts").fetchall())
    con.close()
    assert rows == [("K1", 1), ("K2", 1)]
