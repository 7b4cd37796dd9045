"""The ways of computing per-buyer late counts that the benchmark compares.

Each returns {buyer SIRET: (late, on_time)} over the clean records (bench/corpus.py says what
clean means). Late = datePublicationDonnees > dateNotification + 2 calendar months (clamped to
the month's end, as DuckDB's INTERVAL and pandas' DateOffset both do); on time otherwise.
Republications (same buyer, id and notification date) count once with their earliest
publication date, as decp-monitor consolidates them.
"""
from __future__ import annotations

import json
from pathlib import Path

Counts = dict[str, tuple[int, int]]


def pandas_baseline(clean_json: Path) -> Counts:
    """The analyst's way: json.load, pandas.json_normalize, groupby."""
    import pandas as pd

    with open(clean_json, encoding="utf-8") as fh:
        data = json.load(fh)
    frame = pd.json_normalize(data["marches"])
    del data
    frame = pd.DataFrame({
        "siret": frame["acheteur.id"],
        "id": frame["id"],
        "notified": pd.to_datetime(frame["dateNotification"], format="%Y-%m-%d", errors="coerce"),
        "published": pd.to_datetime(frame["datePublicationDonnees"], format="%Y-%m-%d", errors="coerce"),
    }).dropna()
    contracts = frame.groupby(["siret", "id", "notified"], as_index=False)["published"].min()
    contracts["late"] = contracts["published"] > contracts["notified"] + pd.DateOffset(months=2)
    per_buyer = contracts.groupby("siret")["late"].agg(["sum", "count"])
    return {
        str(siret): (int(late), int(total - late))
        for siret, late, total in zip(per_buyer.index, per_buyer["sum"], per_buyer["count"])
    }


DUCKDB_COUNTS_SQL = """
WITH rows AS (
    SELECT acheteur.id::VARCHAR AS siret, id::VARCHAR AS id,
           TRY_CAST(dateNotification AS DATE) AS notified,
           TRY_CAST(datePublicationDonnees AS DATE) AS published
    FROM read_json(?, format = 'newline_delimited')
), contracts AS (
    SELECT siret, id, notified, min(published) AS published
    FROM rows WHERE notified IS NOT NULL AND published IS NOT NULL
    GROUP BY ALL
)
SELECT siret,
       count(*) FILTER (WHERE published > notified + INTERVAL 2 MONTH) AS late,
       count(*) FILTER (WHERE published <= notified + INTERVAL 2 MONTH) AS on_time
FROM contracts GROUP BY siret
"""


def duckdb_native(clean_ndjson: Path) -> Counts:
    """The ceiling: DuckDB's own JSON reader straight over newline-delimited records."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(DUCKDB_COUNTS_SQL, [str(clean_ndjson)]).fetchall()
    finally:
        con.close()
    return {siret: (late, on_time) for siret, late, on_time in rows}


def duckdb_stored(clean_ndjson: Path, database: Path) -> Counts:
    """The floor of keeping the records: DuckDB's reader over every field of every record, written
    to a table of a database file (what a tool that stores the records cannot do for less), then
    the same counts over that table. No check, no finding, no normalisation."""
    import duckdb

    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    try:
        con.execute("CREATE TABLE records AS SELECT * FROM read_json(?, format = 'newline_delimited')",
                    [str(clean_ndjson)])
        con.execute("CHECKPOINT")
        rows = con.execute(DUCKDB_COUNTS_SQL.replace("read_json(?, format = 'newline_delimited')", "records")).fetchall()
    finally:
        con.close()
        database.unlink(missing_ok=True)
    return {siret: (late, on_time) for siret, late, on_time in rows}


# The pipeline's answer, read from the compliance engine's contract table. Declared-date rule
# only: a contract declared on time but seen late on data.gouv.fr counts as on time here,
# because neither baseline can know the observed date.
PIPELINE_COUNTS_SQL = """
SELECT buyer_siret,
       count(*) FILTER (WHERE status = 'late') AS late,
       count(*) FILTER (WHERE status IN ('on_time', 'declared_on_time_observed_late')) AS on_time
FROM contract_compliance
WHERE kind = 'marche'
GROUP BY buyer_siret
"""


def pipeline_counts(con) -> Counts:
    rows = con.execute(PIPELINE_COUNTS_SQL).fetchall()
    return {siret: (late, on_time) for siret, late, on_time in rows if late or on_time}


def compare(reference: Counts, other: Counts, limit: int = 5) -> dict:
    """Buyers whose (late, on_time) differ between two methods."""
    differing = sorted(s for s in set(reference) | set(other) if reference.get(s) != other.get(s))
    return {
        "buyers": len(set(reference) | set(other)),
        "differing": len(differing),
        "examples": [
            {"siret": s, "reference": reference.get(s), "other": other.get(s)} for s in differing[:limit]
        ],
    }


def totals(counts: Counts) -> dict:
    return {
        "buyers": len(counts),
        "late": sum(late for late, _ in counts.values()),
        "on_time": sum(on_time for _, on_time in counts.values()),
    }
