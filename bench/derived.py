"""The build's derived stages alone (consolidate, meta, register, compliance, validate, publish's
checkpoint), on a copy of a loaded database, every statement timed (wall and CPU).

    python -m bench.derived prepare BUILT.duckdb STORED.duckdb   # keep the stored tables only
    python -m bench.derived run STORED.duckdb [--keep RESULT.duckdb] [--repeat 3] [--register-facts DIR]
    python -m bench.derived compare A.duckdb B.duckdb            # every table, EXCEPT ALL both ways

`prepare` turns a published version (e.g. bench/run's db-clean) into what a fresh build holds
once its files are read: the derived tables, the sightings, the history and the register are
dropped or emptied. Each `run` copies it and runs the stages in a child process under the
build's memory cap (DECP_BUILD_MEMORY_LIMIT, default 700MB), as pipeline.finish() does.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import duckdb

# Tables that a build writes (or fills) after reading; kept out of the "stored" copy.
DERIVED = ("record_contract", "contracts", "modifications", "contract_compliance_rows", "contract_compliance",
           "modification_compliance", "buyer_compliance", "dataset_conformance", "resource_conformance",
           "overview_monthly", "overview_headline", "overview_recent_months", "overview_delay_bins",
           "compliance_vocabulary")
EMPTIED = ("sightings", "refreshes", "register")
# Compared by `compare`: everything but the history (timestamps of the run).
NOT_COMPARED = ("refreshes",)
SEEN_AT = dt.datetime(2026, 12, 2, 0, 51, 59)


def prepare(built: Path, stored: Path) -> None:
    shutil.copyfile(built, stored)
    con = duckdb.connect(str(stored))
    try:
        for name in DERIVED:
            kind = con.execute("SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND NOT internal "
                               "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ?",
                               [name, name]).fetchone()
            if kind:
                con.execute(f"DROP {kind[0]} {name}")
        for name in EMPTIED:
            con.execute(f"DELETE FROM {name}")
        con.execute("DELETE FROM findings WHERE code IN ('duplicate_record', 'reused_id')")
        con.execute("DELETE FROM meta WHERE key IN ('window_start', 'window_months', 'stale_months')")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    # rewrite compactly: the dropped tables' blocks would otherwise stay in the file
    compact = stored.with_suffix(".compact.duckdb")
    compact.unlink(missing_ok=True)
    con = duckdb.connect()
    con.execute(f"ATTACH '{stored}' AS s (READ_ONLY)")
    con.execute(f"ATTACH '{compact}' AS c")
    con.execute("COPY FROM DATABASE s TO c")
    con.close()
    os.replace(compact, stored)


class TimingConnection:
    """Forwards to a DuckDB connection; runs a script statement by statement, timing each."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self.timings: list[tuple[str, float, float]] = []

    def execute(self, sql, *args, **kwargs):
        statements = [s.query for s in self._con.extract_statements(sql)] if isinstance(sql, str) else [sql]
        result = None
        for text in statements if len(statements) > 1 else [sql]:
            wall, cpu = time.perf_counter(), time.process_time()
            result = self._con.execute(text, *args, **kwargs)
            self.timings.append((label(text), time.perf_counter() - wall, time.process_time() - cpu))
        return result

    def __getattr__(self, name):
        return getattr(self._con, name)


def label(sql) -> str:
    import re

    text = " ".join(str(sql).split())
    match = re.search(r"\b(?:CREATE(?: OR REPLACE)?(?: TEMP| TEMPORARY)? (?:TABLE|VIEW|MACRO)|INSERT INTO|"
                      r"UPDATE|DELETE FROM|DROP (?:TABLE|VIEW))\s+([\w.\"]+)", text, re.I)
    return match.group(0) if match else text[:60]


def run_once(stored: Path, keep: Path | None, register_facts: Path | None = None) -> dict:
    """One run of the derived stages on a fresh copy of `stored` (in this process); register_facts:
    a folder of register facts handed to the build (the demo corpus's `register/`)."""
    from decp_monitor import compliance, pipeline
    from decp_monitor.register.apply import apply
    from decp_monitor.store.versions import BUILD_MEMORY_LIMIT_ENV, DEFAULT_BUILD_MEMORY_LIMIT

    work_dir = Path(tempfile.mkdtemp(prefix="derived-", dir=stored.parent))
    work = work_dir / "work.duckdb"
    shutil.copyfile(stored, work)
    raw = duckdb.connect(str(work))
    memory_limit = os.environ.get(BUILD_MEMORY_LIMIT_ENV, DEFAULT_BUILD_MEMORY_LIMIT).strip()
    if memory_limit:
        raw.execute("SET memory_limit = $limit", {"limit": memory_limit})
    con = TimingConnection(raw)
    stages: dict[str, list[float]] = {}

    def stage(name, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        before = len(con.timings)
        fn()
        stages[name] = [round(time.perf_counter() - wall, 3), round(time.process_time() - cpu, 3)]
        return before

    build = SimpleNamespace(started=SEEN_AT, command="bench", source="derived", path=work)
    started, cpu0 = time.perf_counter(), time.process_time()
    stage("consolidate", lambda: pipeline.consolidate(con, SEEN_AT))
    stage("record_meta", lambda: pipeline.record_meta(con, build, {}))
    facts = []
    if register_facts is not None:
        from decp_monitor.pipeline.demo import load_register_facts

        facts = load_register_facts(register_facts)
    stage("register", lambda: apply(con, None, facts, keep_demo=bool(facts)))
    stage("compliance", lambda: compliance.compute(con))
    stage("validate", lambda: pipeline.validate(con, pipeline.count_rows(con)))
    stage("checkpoint", lambda: con.execute("CHECKPOINT"))
    total = [round(time.perf_counter() - started, 3), round(time.process_time() - cpu0, 3)]
    raw.close()
    if keep is not None:
        os.replace(work, keep)
    shutil.rmtree(work_dir, ignore_errors=True)
    return {
        "total_wall_cpu": total, "stages_wall_cpu": stages,
        "statements": [[name, round(w, 3), round(c, 3)] for name, w, c in con.timings if w >= 0.05],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg": os.getloadavg(),
    }


def compare(a: Path, b: Path) -> list[str]:
    """Differences between two databases: tables missing on one side, rows of one not in the other
    (EXCEPT ALL both ways, so duplicates count), different column lists."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    problems = []

    def relations(db):
        return {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? UNION "
            "SELECT view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal", [db, db]).fetchall()}

    ta, tb = relations("a"), relations("b")
    for name in sorted(ta ^ tb):
        problems.append(f"{name}: only in {'a' if name in ta else 'b'}")
    for name in sorted(ta & tb):
        if name in NOT_COMPARED:
            continue
        cols = [con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {db}.main.{name})").fetchall()
                for db in ("a", "b")]
        if cols[0] != cols[1]:
            problems.append(f"{name}: columns differ {cols[0]} / {cols[1]}")
            continue
        n = con.execute(f"SELECT count(*) FROM a.main.{name}").fetchone()[0]
        ab = con.execute(f"SELECT count(*) FROM (FROM a.main.{name} EXCEPT ALL FROM b.main.{name})").fetchone()[0]
        ba = con.execute(f"SELECT count(*) FROM (FROM b.main.{name} EXCEPT ALL FROM a.main.{name})").fetchone()[0]
        print(f"{name}: {n} rows, a-b {ab}, b-a {ba}", file=sys.stderr)
        if ab or ba:
            problems.append(f"{name}: {ab} rows only in a, {ba} only in b")
    con.close()
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("built", type=Path)
    p.add_argument("stored", type=Path)
    r = sub.add_parser("run")
    r.add_argument("stored", type=Path)
    r.add_argument("--keep", type=Path)
    r.add_argument("--repeat", type=int, default=1)
    r.add_argument("--register-facts", type=Path)
    r.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.built, args.stored)
    elif args.command == "run" and args.once:
        print(json.dumps(run_once(args.stored, args.keep, args.register_facts)))
    elif args.command == "run":
        for i in range(args.repeat):
            cmd = [sys.executable, "-m", "bench.derived", "run", str(args.stored), "--once"]
            if args.keep is not None and i == 0:
                cmd += ["--keep", str(args.keep)]
            if args.register_facts is not None:
                cmd += ["--register-facts", str(args.register_facts)]
            load = os.getloadavg()
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            result = json.loads(out)
            result["loadavg_at_start"] = load
            print(json.dumps(result))
    else:
        problems = compare(args.a, args.b)
        print("\n".join(problems) or "identical")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
