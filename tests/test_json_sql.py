"""The SQL path for DECP JSON (parse/json_sql.py) against the streaming reader: same tables.

Every real JSON file and the demo corpus are read both ways into real DuckDB databases; records,
modifications and findings are compared row by row (record ids aside, which are positions here).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from decp_monitor.parse import read_decp
from decp_monitor.parse.json_sql import load_json_sql
from decp_monitor.store.writer import BatchWriter

SCHEMA = Path(__file__).resolve().parents[1] / "decp_monitor" / "store" / "schema.sql"
TODAY = dt.date.today()
RECORD_COLUMNS = (
    "position, format, kind, buyer_siret, buyer_name, contract_id, uid, nature, objet, procedure, cpv, amount, "
    "duration_months, notification_date, start_date, publication_date, notification_date_raw, "
    "publication_date_raw, place_code, place_type, place_name, holders, modification_count"
)
MOD_COLUMNS = "r.position, m.position, modification_id, m.notification_date, m.publication_date, m.amount, " \
              "m.duration_months, m.objet"
FINDING_COLUMNS = "position, field, code, severity, message, value, buyer_siret, contract_id"


def _database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(SCHEMA.read_text(encoding="utf-8"))
    return con


def tables(con) -> dict[str, list[tuple]]:
    return {
        "records": con.execute(f"SELECT {RECORD_COLUMNS} FROM records ORDER BY position").fetchall(),
        "modifications": con.execute(
            f"SELECT {MOD_COLUMNS} FROM record_modifications m JOIN records r USING (record_id) "
            "ORDER BY ALL").fetchall(),
        "findings": con.execute(f"SELECT {FINDING_COLUMNS} FROM findings ORDER BY ALL").fetchall(),
    }


def streaming_tables(path: Path, name: str) -> dict[str, list[tuple]]:
    con = _database()
    writer = BatchWriter(con)
    for item in read_decp(path, name=name):
        writer.add(item)
    writer.flush()
    return tables(con)


def sql_tables(path: Path, name: str):
    con = _database()
    outcome = load_json_sql(con, path, name, None, 0, today=TODAY, min_bytes=0)
    writer = BatchWriter(con)
    for item in outcome.findings:
        writer.add(item)
    writer.flush()
    return outcome, tables(con)


def assert_same(path: Path, name: str = "f.json"):
    """Both paths agree; returns the SQL outcome (its reason says when SQL declined the file)."""
    outcome, by_sql = sql_tables(path, name)
    if outcome.reason is not None:
        assert by_sql == {"records": [], "modifications": [], "findings": []}  # nothing half-written
        return outcome
    by_stream = streaming_tables(path, name)
    for table in ("records", "modifications", "findings"):
        assert by_sql[table] == by_stream[table], f"{path.name}: {table} differ"
    return outcome
