"""What the monitor will conclude: the real engine, run on the checked files in memory.

The files are read by the loader's own reader (pipeline.files.load_file) into an in-memory
DuckDB database made from store/schema.sql, then pipeline.consolidate and compliance.compute
run on it exactly as on a published version. Nothing touches the data directory or the
published database.

Two passes over the same connection:
1. the files alone, as `load` would read them: each contract's status from its declared dates
   (what a database loaded from these files says; the tests compare the two);
2. the files as published today: the proposed dataset (its description, or one made from the
   file names) and its resources dated `as_of`, the upload day. The engine then also uses the
   evidence data.gouv.fr will give it (file names, upload date): a contract whose deadline has
   passed is "declared on time, appeared late", and the buyer's verdict follows.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import duckdb

from decp_monitor import compliance
from decp_monitor.compliance import rules
from decp_monitor.parse.catalog import dataset_findings, dataset_rows
from decp_monitor.pipeline import consolidate
from decp_monitor.pipeline.files import load_file
from decp_monitor.store.versions import schema_sql
from decp_monitor.store.writer import BatchWriter

PROPOSED_DATASET_ID = "jeu-de-donnees-propose"
CONTRACT_ROWS = 1000  # contracts listed in a report (all are counted)
FINDING_LOCATIONS = 20  # located occurrences kept per finding code
# An in-memory check shares the machine with the dashboard: cap DuckDB's memory.
MEMORY_LIMIT = "1GB"


class _MemoryBuild:
    """What load_file needs from a build: a batch writer on the in-memory connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.writer = BatchWriter(con)

    def add(self, item, resource_id: Optional[str] = None) -> None:
        self.writer.add(item, resource_id=resource_id)

    def add_datasets(self, rows: list[dict]) -> None:
        self.writer.insert_dicts("datasets", rows)

    def add_resources(self, rows: list[dict]) -> None:
        self.writer.insert_dicts("resources", rows)


@dataclass
class EngineResult:
    as_of: dt.date
    kinds: dict[str, str]  # file name -> decp | declaration | dataset | unknown | unreadable
    contracts: list[dict]  # first CONTRACT_ROWS, worst first
    contract_count: int
    status_counts: list[dict]  # [{status, status_label, declared, published_today}]
    modifications: list[dict]  # status counts of modifications
    buyers: list[dict]
    findings: list[dict]  # located findings, FINDING_LOCATIONS per code
    finding_counts: list[dict]  # [{code, severity, count}]
    dataset_checks: list[dict]
    resource_checks: list[dict]
    description_given: bool
    description_problems: list[str] = field(default_factory=list)
    declared_statuses: Counter = field(default_factory=Counter)  # (siret, id, notif, status) of pass 1


def _resource_for(name: str, index: int, as_of: dt.date) -> dict:
    base = Path(name).name  # the resource is titled by its file name (the name shown may be a path)
    ext = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    day = dt.datetime.combine(as_of, dt.time(12, 0))
    return {
        "id": f"fichier-{index + 1}", "title": base, "url": name, "filetype": "file", "type": "main",
        "format": ext or None, "mime": rules.EXPECTED_MIME.get(ext),
        "created_at": day.isoformat(), "last_modified": day.isoformat(),
    }


def _proposed_dataset(description: Optional[dict], decp_names: list[str], as_of: dt.date) -> dict:
    """The dataset as it will be published: the description given (resources without dates
    are dated the upload day), or an empty one whose resources are the checked files."""
    obj: dict[str, Any] = dict(description) if isinstance(description, dict) else {}
    obj["id"] = obj.get("id") or PROPOSED_DATASET_ID
    resources = obj.get("resources")
    if not isinstance(resources, list) or not resources:
        obj["resources"] = [_resource_for(name, i, as_of) for i, name in enumerate(decp_names)]
    else:
        day = dt.datetime.combine(as_of, dt.time(12, 0)).isoformat()
        obj["resources"] = [
            {**r, "created_at": r.get("created_at") or day, "last_modified": r.get("last_modified") or day,
             "filetype": r.get("filetype") or "file", "id": r.get("id") or f"ressource-{i + 1}"}
            if isinstance(r, dict) else r
            for i, r in enumerate(resources)
        ]
    return obj


def run(files: list[tuple[Path, str]], as_of: dt.date, description: Optional[dict] = None,
        progress=None, on_stage=None) -> EngineResult:
    """Read `files` ((path, name shown)) and judge them at `as_of`; see the module docstring.

    progress(done, total, name) after each file read; on_stage("compute") once they are read."""
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit = $limit", {"limit": MEMORY_LIMIT})
        con.execute(schema_sql())
        build = _MemoryBuild(con)
        kinds: dict[str, str] = {}
        for index, (path, name) in enumerate(files):
            kinds[name] = load_file(build, path, name=name)
            if progress:
                progress(index + 1, len(files), name)
        build.writer.flush()
        con.execute("INSERT OR REPLACE INTO meta VALUES ('as_of', $as_of)", {"as_of": as_of.isoformat()})
        seen_at = dt.datetime.combine(as_of, dt.time(12, 0))

        if on_stage:
            on_stage("compute")
        # Pass 1: the files as a load reads them.
        consolidate(con, seen_at)
        compliance.compute(con, as_of=as_of)
        declared = Counter(con.execute(
            "SELECT buyer_siret, contract_id, notification_date, status FROM contract_compliance").fetchall())
        con.execute("CREATE TEMP TABLE check_declared AS SELECT contract_key, status, status_label FROM contract_compliance")

        # Pass 2: published today, in the proposed dataset.
        decp_names = [name for name, kind in kinds.items() if kind == "decp"]
        proposed = _proposed_dataset(description, decp_names, as_of)
        problems = [f.message for f in dataset_findings(proposed, "jeu de données proposé")]
        dataset, resources = dataset_rows(proposed, source="jeu de données proposé")
        if dataset is not None:
            build.add_datasets([dataset])
        build.add_resources(resources)
        build.writer.flush()
        consolidate(con, seen_at)
        compliance.compute(con, as_of=as_of)
        return _read(con, as_of, kinds, description is not None, problems, declared)
    finally:
        con.close()


def _rows(con, sql: str, params: Optional[dict] = None) -> list[dict]:
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _read(con, as_of: dt.date, kinds, description_given: bool, problems, declared) -> EngineResult:
    params = {"as_of": as_of}
    contracts = _rows(con, f"""
        SELECT c.buyer_siret, c.buyer_name, c.contract_id, c.kind, c.objet, c.notification_date,
               c.start_date, c.publication_date, c.rule_label, c.deadline, c.status, c.status_label,
               c.days_late, c.observed_date, c.observed_source,
               d.status AS declared_status, d.status_label AS declared_status_label,
               c.source_file, r.position + 1 AS record,
               CASE WHEN c.deadline IS NULL THEN 'unknown'
                    WHEN $as_of <= c.deadline THEN 'due'
                    ELSE 'overdue' END AS today,
               CAST($as_of - c.deadline AS INTEGER) AS days_past_deadline
        FROM contract_compliance c
        LEFT JOIN check_declared d USING (contract_key)
        LEFT JOIN contracts k USING (contract_key)
        LEFT JOIN records r ON r.record_id = k.first_record_id
        ORDER BY CASE c.status WHEN 'on_time' THEN 1 ELSE 0 END, c.deadline NULLS FIRST, c.source_file, r.position
        LIMIT {CONTRACT_ROWS}
    """, params)
    contract_count = con.execute("SELECT count(*) FROM contract_compliance").fetchone()[0]
    status_counts = _rows(con, """
        SELECT c.status, c.status_label, count(*) AS contracts,
               count(*) FILTER (WHERE d.status = c.status) AS same_as_declared
        FROM contract_compliance c LEFT JOIN check_declared d USING (contract_key)
        GROUP BY ALL ORDER BY contracts DESC
    """)
    modifications = _rows(con, """
        SELECT m.status, l.label AS status_label, count(*) AS modifications
        FROM modification_compliance m
        LEFT JOIN compliance_vocabulary l ON l.vocabulary = 'status' AND l.code = m.status
        GROUP BY ALL ORDER BY modifications DESC
    """)
    buyers = _rows(con, """
        SELECT buyer_siret, buyer_name, verdict, verdict_label, reasons, declared, contracts_total,
               contracts_in_window, n_on_time, n_late, n_declared_on_time_observed_late,
               n_no_publication_date, n_no_notification_date, n_published_before_notification,
               n_modifications_late, median_delay_days
        FROM buyer_compliance
        WHERE contracts_total > 0 OR declared
        ORDER BY severity_rank, contracts_total DESC, buyer_siret
        LIMIT 200
    """)
    finding_counts = _rows(con, """
        SELECT code, severity, count(*) AS count FROM findings GROUP BY ALL ORDER BY count DESC
    """)
    findings = _rows(con, f"""
        SELECT source_file, position, field, code, severity, message, value, buyer_siret, contract_id
        FROM findings
        QUALIFY row_number() OVER (PARTITION BY code ORDER BY source_file, position NULLS FIRST) <= {FINDING_LOCATIONS}
        ORDER BY code, source_file, position NULLS FIRST
    """)
    dataset_checks = _rows(con, "SELECT * FROM dataset_conformance ORDER BY passed, \"check\"") if description_given else []
    resource_checks = _rows(con, """
        SELECT rc.*, r.title AS resource_title
        FROM resource_conformance rc LEFT JOIN catalog_resources r USING (resource_id)
        ORDER BY rc.passed, r.title, rc."check"
    """)
    return EngineResult(as_of, kinds, contracts, contract_count, status_counts, modifications, buyers,
                        findings, finding_counts, dataset_checks, resource_checks, description_given,
                        problems, declared)
