"""The overview's and a buyer page's queries at national scale, stored tables against the old view.

    python -m bench.serving_compare --contracts 1500000 --repeat 20 [--publish DATA_DIR]

Builds compliance_bench's synthetic corpus in DuckDB (no file parsing: minutes, not an hour),
consolidates it and runs compliance.compute() (timed: the stored, buyer-ordered
contract_compliance_rows and the precomputed overview tables cost build time). Then times, on a
read-only connection, each query of the overview and of the largest buyer's page (first call and
p95 of `--repeat` more): once as built now, once with contract_compliance put back as the former
view (contracts joined to the narrow judgements, the SQL of commit 1c79159) and without the
precomputed overview tables (the queries then compute live, as before). --publish also
publishes the database as built now in a data directory, for bench/dashboard.py.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench.compliance_bench import GENERATE, SIGHTINGS
from decp_monitor import compliance, pipeline
from decp_monitor.read import queries
from decp_monitor.store.versions import schema_sql

REPO = Path(__file__).resolve().parents[1]
BEFORE = "1c79159"


def timings(path: str, siret: str, repeat: int) -> list[dict]:
    con = duckdb.connect(path, read_only=True)
    con.execute("SET memory_limit = '512MB'")  # as the dashboard's read connections
    calls = {
        "overview_headline": lambda c: queries.overview_headline(c),
        "monthly": lambda c: queries.monthly(c),
        "delay_histogram": lambda c: queries.delay_histogram(c),
        "buyer": lambda c: queries.buyer(c, siret),
        "buyer_contracts": lambda c: queries.buyer_contracts(c, siret),
        "buyer_status_counts": lambda c: queries.buyer_status_counts(c, siret),
        "buyer_timeline": lambda c: queries.buyer_timeline(c, siret),
        "status_labels": lambda c: queries.status_labels(c),
    }
    rows = []
    try:
        for name, call in calls.items():
            times = []
            for _ in range(repeat + 1):
                started = time.perf_counter()
                call(con.cursor())
                times.append(time.perf_counter() - started)
            rest = sorted(times[1:])
            rows.append({"query": name, "first_ms": times[0] * 1000, "median_ms": statistics.median(rest) * 1000,
                         "p95_ms": rest[max(0, int(round(0.95 * len(rest))) - 1)] * 1000})
    finally:
        con.close()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1_500_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--publish", type=Path, help="data directory where the database is published")
    args = parser.parse_args(argv)
    old_sql = subprocess.run(["git", "show", f"{BEFORE}:decp_monitor/compliance/contracts.sql"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "serving.duckdb")
        con = duckdb.connect(path)
        con.execute("SET memory_limit = '700MB'")  # the build cap
        con.execute(schema_sql())
        con.execute(GENERATE.replace("$contracts", str(int(args.contracts))))
        con.execute(pipeline.sql("consolidate.sql"))
        con.execute(pipeline.sql("consolidate_findings.sql"))
        con.execute(SIGHTINGS)
        started = time.perf_counter()
        compliance.compute(con, as_of="2025-06-30")
        computed = time.perf_counter() - started
        contracts = con.execute("SELECT count(*) FROM contract_compliance").fetchone()[0]
        siret, largest = con.execute("SELECT buyer_siret, count(*) FROM contract_compliance "
                                     "GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()
        con.close()
        print(f"{contracts:,} contracts; compute() with the stored tables {computed:.2f} s; "
              f"largest buyer {siret}: {largest:,} contracts", flush=True)
        now = timings(path, siret, args.repeat)
        if args.publish:
            name = "decp-serving-compare.duckdb"
            (args.publish / "versions").mkdir(parents=True, exist_ok=True)
            shutil.copy(path, args.publish / "versions" / name)
            (args.publish / "CURRENT").write_text(json.dumps({
                "file": name, "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "command": "bench", "source": "bench/serving_compare.py"}), encoding="utf-8")

        con = duckdb.connect(path)
        compliance._set_parameters(con, compliance.parse_as_of("2025-06-30"), 12, 9)
        compliance._create_labels(con)
        con.execute("DROP VIEW contract_compliance")
        # the former judgements read these temporary helpers of observed.sql
        con.execute(compliance._sql("observed.sql"))
        started = time.perf_counter()
        con.execute(old_sql)
        old_compute = time.perf_counter() - started
        for table in ("overview_headline", "overview_recent_months", "overview_delay_bins", "contract_compliance_rows"):
            con.execute(f"DROP TABLE {table}")
        con.close()
        before = timings(path, siret, args.repeat)

    print(f"\ncontracts.sql of {BEFORE} (narrow judgements + view) ran in {old_compute:.2f} s\n")
    print("| query | before: first (ms) | before: p95 (ms) | now: first (ms) | now: p95 (ms) |")
    print("|---|---:|---:|---:|---:|")
    for b, n in zip(before, now):
        print(f"| {n['query']} | {b['first_ms']:.0f} | {b['p95_ms']:.0f} | {n['first_ms']:.0f} | {n['p95_ms']:.0f} |")
    print(f"| all, in sequence | {sum(b['first_ms'] for b in before):.0f} | {sum(b['p95_ms'] for b in before):.0f} "
          f"| {sum(n['first_ms'] for n in now):.0f} | {sum(n['p95_ms'] for n in now):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
