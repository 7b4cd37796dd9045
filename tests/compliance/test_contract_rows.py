"""contract_compliance_rows and the duplicate_record findings on a literal history that covers
their cases (issue 13 rewrote both for speed; the rewrite gave the same rows as the statements it
replaced on this history, on the demo corpus and at 1.5 M records: BENCHMARKS.md, 2 Dec 2026)."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb

from decp_monitor import compliance
from decp_monitor.core.vocabulary import STATUS_LABELS
from tests.compliance.conftest import BUYER, OTHER, THIRD, concession, marche

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


def recompute(version_path: Path, scratch: Path, prepare: str = "") -> duckdb.DuckDBPyConnection:
    """Compliance computed again on a copy of a published version, after `prepare`."""
    shutil.copyfile(version_path, scratch)
    con = duckdb.connect(str(scratch))
    if prepare:
        con.execute(prepare)
    compliance.compute(con)
    return con


# An earlier build that watched BUYER and did not see contract C (its first sighting then proves
# lateness), and holders that are not a list of objects (the JSON paths give NULL in both forms).
EARLIER_HISTORY = f"""
INSERT INTO refreshes (refresh_id, started_at, outcome) VALUES ('earlier', TIMESTAMP '2025-07-01', 'published');
INSERT INTO sightings VALUES ('{BUYER}', 'OLD', DATE '2024-01-01', TIMESTAMP '2025-02-01');
UPDATE sightings SET first_seen = TIMESTAMP '2025-07-15' WHERE contract_id = 'C';
UPDATE records SET holders = '["x", 3, {{"name": null, "id": "1"}}, {{"name": "Sans id"}}]'
WHERE contract_id = 'E';
"""


def test_contract_rows_and_republications_on_a_literal_history(build, tmp_path):
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
    con = recompute(db.store.current().path, tmp_path / "scratch.duckdb", EARLIER_HISTORY)
    try:
        assert con.execute("SELECT count(*) FROM contract_compliance_rows").fetchone()[0] == 11
        statuses = dict(con.execute("SELECT contract_id, status_label FROM contract_compliance_rows "
                                    "WHERE contract_id IN ('C', 'L')").fetchall())
        # labels looked up after the sort (contracts.sql): the vocabulary's
        assert statuses == {"C": STATUS_LABELS["declared_on_time_observed_late"], "L": STATUS_LABELS["late"]}
        # « Name (SIRET) » of each holder; holders that are not objects give empty names
        assert con.execute("SELECT holder_names FROM contract_compliance_rows WHERE contract_id = 'A'"
                           ).fetchone()[0] == "Électricité Générale (38011878600017)"
        assert con.execute("SELECT holder_names FROM contract_compliance_rows WHERE contract_id = 'E'"
                           ).fetchone()[0] == " ;  ; (1) ; Sans id"
        # the republication: one finding, on the later record, naming the first
        duplicates = con.execute(f"SELECT {DUPLICATE_COLUMNS} FROM findings WHERE code = 'duplicate_record'").fetchall()
        assert [(d[0], d[6]) for d in duplicates] == [
            ("cache/autre.json", "Contrat republié : déjà lu dans cache/decp-2025.json (enregistrement n° 1)")]
        # stored in buyer order (the buyer page reads it by zone maps)
        sirets = [r[0] for r in con.execute("SELECT buyer_siret FROM contract_compliance_rows").fetchall()]
        assert sirets == sorted(sirets, key=lambda s: (s is None, s))
    finally:
        con.close()
