"""Serving latency: the dashboard's queries and the exports, on the published read-only version.

The functions of decp_monitor.read.queries are called directly on a cursor of a read-only connection,
without the dashboard's result cache: every call is a cache miss, the worst case a user meets
after a new version is published or with new filters.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.run import PhaseMemory, latency_stats, peak_rss_mb, timed_calls


def _rows(result) -> int | None:
    rows = getattr(result, "rows", result)  # a queries.Page or a DataFrame
    if hasattr(rows, "__len__"):
        return len(rows)
    return None


def _pick_buyers(con) -> tuple[str, str]:
    """The buyer with most contracts, and a small one (a typical long-tail buyer, ~3 contracts)."""
    large = con.execute(
        "SELECT buyer_siret FROM contract_compliance WHERE buyer_siret IS NOT NULL "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    small = con.execute(
        "SELECT buyer_siret FROM contract_compliance WHERE buyer_siret IS NOT NULL "
        "GROUP BY 1 HAVING count(*) BETWEEN 2 AND 5 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()
    if small is None:
        small = con.execute(
            "SELECT buyer_siret FROM contract_compliance WHERE buyer_siret IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*), 1 LIMIT 1").fetchone()
    return large, small[0]


def task_serve(data_dir: str, repeat: int = 30) -> dict:
    from decp_monitor.read import queries
    from decp_monitor.store.versions import Store

    con = Store(data_dir).connect()
    cur = con.cursor()
    large, small = _pick_buyers(cur)
    sizes = dict(cur.execute(
        "SELECT buyer_siret, count(*) FROM contract_compliance WHERE buyer_siret IN (?, ?) GROUP BY 1",
        [large, small]).fetchall())

    overview = [
        ("overview_headline", lambda: queries.overview_headline(cur)),
        ("monthly", lambda: queries.monthly(cur)),
        ("delay_histogram", lambda: queries.delay_histogram(cur)),
        ("verdicts_by_platform", lambda: queries.verdicts_by_platform(cur)),
        ("worst_buyers", lambda: queries.worst_buyers(cur)),
        ("platforms", lambda: queries.platforms(cur)),
    ]

    def buyer_page(siret):
        return [
            ("buyer", lambda: queries.buyer(cur, siret)),
            ("buyer_status_counts", lambda: queries.buyer_status_counts(cur, siret)),
            ("buyer_contracts", lambda: queries.buyer_contracts(cur, siret)),
            ("buyer_timeline", lambda: queries.buyer_timeline(cur, siret)),
            ("buyer_modifications", lambda: queries.buyer_modifications(cur, siret)),
            ("buyer_datasets", lambda: queries.buyer_datasets(cur, siret)),
            ("buyer_checks", lambda: queries.buyer_checks(cur, siret)),
            ("buyer_resources", lambda: queries.buyer_resources(cur, siret)),
            ("buyer_declarations", lambda: queries.buyer_declarations(cur, siret)),
            ("buyer_findings", lambda: queries.buyer_findings(cur, siret)),
        ]

    ranked = [
        ("buyers (no filter, by severity)", lambda: queries.buyers(cur, queries.BuyerFilter())),
        ("buyers (verdict late, ≥5 contracts, late rate 20–100 %, by late rate)", lambda: queries.buyers(
            cur, queries.BuyerFilter(verdicts=("late",), min_contracts=5, late_min=0.2), order="late_rate")),
        ("buyers (name contains « commune », page 3)", lambda: queries.buyers(
            cur, queries.BuyerFilter(text="commune"), offset=200)),
        ("buyers (declared only, by contracts)", lambda: queries.buyers(
            cur, queries.BuyerFilter(declared=True), order="contracts")),
    ]

    results, notes = [], []

    def measure(group, name, fn):
        try:
            rows = _rows(fn())
            stats = timed_calls(fn, repeat)
            results.append({"group": group, "name": f"{group}: {name}", "rows": rows, **stats})
        except Exception as exc:  # a query that fails is reported, not fatal to the benchmark
            notes.append(f"{group}: {name} failed: {type(exc).__name__}: {exc}")

    def measure_page(group, parts):
        for name, fn in parts:
            measure(group, name, fn)

        def whole():
            for _, fn in parts:
                try:
                    fn()
                except Exception:
                    pass
        measure(group, "whole page (all its queries in sequence)", whole)

    measure_page("overview", overview)
    measure_page(f"buyer page, large buyer ({sizes.get(large)} contracts)", buyer_page(large))
    measure_page(f"buyer page, small buyer ({sizes.get(small)} contracts)", buyer_page(small))
    for name, fn in ranked:
        measure("ranked buyer table", name, fn)
    con.close()
    return {"source": "functions of decp_monitor.read.queries, no cache", "repeat": repeat,
            "large_buyer": large, "small_buyer": small, "queries": results, "notes": notes,
            "peak_rss_mb": round(peak_rss_mb(), 1)}


EXPORT_TABLE = "contract_compliance"  # one row per contract: ~1.4 M rows at 1.5 M records


def task_export(data_dir: str, out_dir: str, repeat: int = 3, xlsx: bool = True) -> dict:
    """The project's exporter (decp_monitor.read.export.export_table) on the published read-only version.

    - the whole contract table in csv, csv-fr and parquet (the 1-million-row export);
    - xlsx of the largest buyer's contracts (`siret` filter): the whole table is over Excel's
      1 048 576-row sheet limit at national scale, and the exporter refuses it (timed too);
    - DuckDB's own COPY of the same table (csv, parquet) as the floor any exporter builds on.
    """
    from decp_monitor.read import export
    from decp_monitor.store.versions import Store

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir)
    con = store.connect()
    total_rows = con.execute(f"SELECT count(*) FROM {EXPORT_TABLE}").fetchone()[0]
    large, _ = _pick_buyers(con)
    con.close()
    exports, notes = [], []
    memory = PhaseMemory()  # resident memory sampled every 50 ms, highest value per export

    def measure(writer: str, fmt: str, filters: dict | None, label: str, fn, calls: int) -> None:
        target = out / f"{EXPORT_TABLE}-{writer}.{export.EXTENSIONS.get(fmt, fmt)}"
        samples, rows = [], None
        memory.phase = phase = f"{writer} {fmt} {label}"
        try:
            for _ in range(calls):
                target.unlink(missing_ok=True)
                started = time.perf_counter()
                rows = fn(target)
                samples.append(time.perf_counter() - started)
        except Exception as exc:  # reported, not fatal to the benchmark
            notes.append(f"{writer} {fmt} ({label}) failed after "
                         f"{time.perf_counter() - started:.2f} s: {type(exc).__name__}: {exc}")
            target.unlink(missing_ok=True)
            return
        size = target.stat().st_size if target.exists() else None
        exports.append({"table": EXPORT_TABLE, "filter": label, "format": fmt, "writer": writer,
                        "rows": rows, "bytes": size, "rows_per_second": round(rows / statistics.median(samples))
                        if rows and samples else None, **latency_stats(samples),
                        "phase": phase})
        target.unlink(missing_ok=True)

    def exporter(fmt, filters=None):
        def call(target):
            con = store.connect()  # read-only, as the dashboard and the CLI export
            try:
                return export.export_table(con, EXPORT_TABLE, fmt, target, filters)
            finally:
                con.close()
        return call

    def copy(options):
        def call(target):
            quoted = str(target).replace("'", "''")  # COPY takes no parameter for its target
            con = store.connect()
            try:
                con.execute(f"COPY {EXPORT_TABLE} TO '{quoted}' ({options})")
            finally:
                con.close()
            return total_rows
        return call

    for fmt in ("csv", "csv-fr", "parquet"):
        measure("decp_monitor.read.export", fmt, None, "whole table", exporter(fmt), repeat)
    for fmt, options in (("csv", "FORMAT csv, HEADER"), ("parquet", "FORMAT parquet")):
        measure("DuckDB COPY (floor)", fmt, None, "whole table", copy(options), repeat)
    if xlsx:
        if total_rows > export.EXCEL_MAX_DATA_ROWS:
            # the exporter counts the rows first and refuses: how long the refusal takes
            started = time.perf_counter()
            try:
                exporter("xlsx")(out / "refused.xlsx")
                notes.append("xlsx of the whole table was NOT refused")
            except export.TooManyRowsForExcel:
                notes.append(f"xlsx of the whole table ({total_rows:,} rows) refused by the exporter "
                             f"(over Excel's sheet limit) in {(time.perf_counter() - started) * 1000:.0f} ms")
        measure("decp_monitor.read.export", "xlsx", {"siret": large}, f"largest buyer ({large})",
                exporter("xlsx", {"siret": large}), repeat)
        measure("decp_monitor.read.export", "csv-fr", {"siret": large}, f"largest buyer ({large})",
                exporter("csv-fr", {"siret": large}), repeat)
    memory.phase = "end"
    peaks = memory.stop()
    for item in exports:
        item["peak_rss_mb"] = peaks.get(item.pop("phase"))
    return {"source": "decp_monitor.read.export.export_table on a read-only connection; DuckDB COPY as the floor",
            "table_rows": total_rows, "exports": exports, "notes": notes,
            "peak_rss_mb": round(peak_rss_mb(), 1)}
