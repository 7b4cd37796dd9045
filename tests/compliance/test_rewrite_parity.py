"""Issue 13 rewrote the statements that build contract_compliance_rows and the duplicate_record
findings for speed. They must give exactly what the statements they replace gave: those are kept
word for word in reference_rewrite.sql and run beside the pipeline's on the same database."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from decp_monitor import compliance
from decp_monitor.store.versions import Store
from tests.compliance.conftest import BUYER, OTHER, THIRD, concession, marche

REFERENCE_SQL = Path(__file__).with_name("reference_rewrite.sql")
DUPLICATE_COLUMNS = "source_file, resource_id, position, field, code, severity, message, value, buyer_siret, contract_id"


def _holder(name, siret="38011878600017"):
    return {"id": siret, "type_id": "SIRET", "name": name}


def _resource(resource_id, name, created):
    return {"resource_id": resource_id, "dataset_id": "ds", "title": name,
            "url": f"https://static.data.gouv.fr/resources/x/{name}", "filetype": "file", "type": "main",
            "format": "json", "mime": "application/json", "created_at": created,
            "last_modified": created + dt.timedelta(seconds=2), "classification": "decp"}


def _dataset():
    return {"dataset_id": "ds", "title": "Données essentielles des marchés publics - Plateforme",
            "organization_name": "Plateforme régionale", "organization_id": "org"}


def _differences(con, table: str, reference: str, columns: str = "*") -> tuple[int, int, int]:
    """(rows, rows only in table, rows only in reference)."""
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    only_table = con.execute(f"SELECT count(*) FROM (SELECT {columns} FROM {table} "
                             f"EXCEPT ALL SELECT {columns} FROM {reference})").fetchone()[0]
    only_reference = con.execute(f"SELECT count(*) FROM (SELECT {columns} FROM {reference} "
                                 f"EXCEPT ALL SELECT {columns} FROM {table})").fetchone()[0]
    return rows, only_table, only_reference


def compare_with_reference(version_path: Path, scratch: Path, prepare: str = "") -> dict:
    """Recompute compliance on a copy of a published version, run the reference statements on the
    same connection, and compare; returns the row counts compared."""
    shutil.copyfile(version_path, scratch)
    con = duckdb.connect(str(scratch))
    try:
        if prepare:
            con.execute(prepare)
        compliance.compute(con)
        con.execute(REFERENCE_SQL.read_text(encoding="utf-8"))
        counts = {}
        for table, reference, columns in (
            ("contract_compliance_rows", "ref_contract_compliance_rows", "*"),
            ("(SELECT * FROM findings WHERE code = 'duplicate_record')", "ref_duplicate_record", DUPLICATE_COLUMNS),
        ):
            rows, only_new, only_reference = _differences(con, table, reference, columns)
            assert (only_new, only_reference) == (0, 0), (table, rows, only_new, only_reference)
            counts[reference] = rows
        # the stored table keeps its physical order by buyer (the buyer page reads it by zone maps)
        sirets = [r[0] for r in con.execute("SELECT buyer_siret FROM contract_compliance_rows").fetchall()]
        assert sirets == sorted(sirets, key=lambda s: (s is None, s))
        return counts
    finally:
        con.close()


# An earlier build that watched BUYER and did not see contract C (its first sighting then proves
# lateness), and holders that are not a list of objects (the JSON paths give NULL in both forms).
EARLIER_HISTORY = f"""
INSERT INTO refreshes (refresh_id, started_at, outcome) VALUES ('earlier', TIMESTAMP '2025-07-01', 'published');
INSERT INTO sightings VALUES ('{BUYER}', 'OLD', DATE '2024-01-01', TIMESTAMP '2025-02-01');
UPDATE sightings SET first_seen = TIMESTAMP '2025-07-15' WHERE contract_id = 'C';
UPDATE records SET holders = '["x", 3, {{"name": null, "id": "1"}}, {{"name": "Sans id"}}]'
WHERE contract_id = 'E';
"""


def test_rewritten_statements_give_the_reference_rows(build, tmp_path):
    created = dt.datetime(2025, 5, 2, 10, 0)
    db = build(
        [
            marche("A", "2025-01-10", "2025-01-20", source="cache/decp-2025.json",
                   holders=[_holder("Électricité Générale")]),
            # republished in a second file, later: one contract, one duplicate_record finding
            marche("A", "2025-01-10", "2025-02-20", source="cache/autre.json", position=3,
                   holders=[_holder("Électricité Générale"), _holder("BTP Ouest", "38011086600015")]),
            marche("B", "2025-02-01", None, buyer=OTHER),                                   # no publication date
            marche("C", "2025-03-01", "2025-03-15", holders=[_holder("Çà et là")]),
            marche("L", "2025-03-01", "2025-06-15"),                                        # late
            marche("D", None, "2025-03-01", buyer=THIRD),                                   # no notification date
            marche("E", "2025-04-01", "2025-03-01"),                                        # published before
            marche(None, "2025-04-02", "2025-04-03"),                                       # no id
            marche("F", "2025-04-02", "2025-04-03", buyer=None),                            # no buyer
            marche("G", "2025-04-02", "2025-04-03", buyer="123", place_code="971"),          # invalid SIRET
            concession("K1", "2025-01-05", "2025-02-01", start="2025-02-10"),
            concession("K2", "2025-01-05", "2025-05-01"),
        ],
        datasets=[_dataset()], resources=[_resource("r1", "decp-2025.json", created)],
    )
    counts = compare_with_reference(db.store.current().path, tmp_path / "scratch.duckdb", EARLIER_HISTORY)
    assert counts["ref_contract_compliance_rows"] == 11
    assert counts["ref_duplicate_record"] == 1
    con = duckdb.connect(str(tmp_path / "scratch.duckdb"), read_only=True)
    try:
        # the cases the comparison is meant to cover are there
        statuses = dict(con.execute("SELECT contract_id, status FROM contract_compliance_rows "
                                    "WHERE contract_id IN ('C', 'L')").fetchall())
        assert statuses == {"C": "declared_on_time_observed_late", "L": "late"}
        assert con.execute("SELECT holder_names FROM contract_compliance_rows WHERE contract_id = 'E'"
                           ).fetchone()[0] == " ;  ; (1) ; Sans id"
    finally:
        con.close()


@pytest.mark.slow
def test_rewritten_statements_give_the_reference_rows_on_the_demo_corpus(shared_demo, tmp_path):
    version = Store(shared_demo(contracts=3000, buyers=150)).current().path
    counts = compare_with_reference(version, tmp_path / "scratch.duckdb")
    assert counts["ref_contract_compliance_rows"] > 1000
    assert counts["ref_duplicate_record"] > 0
