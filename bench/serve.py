"""Serving latency: the dashboard's queries and the exports, on the published read-only version.

The functions of decp_monitor.queries are called directly on a cursor of a read-only connection,
without the dashboard's result cache: every call is a cache miss, the worst case a user meets
after a new version is published or with new filters.
"""
from __future__ import annotations

import time
from pathlib import Path

from run import latency_stats, peak_rss_mb, timed_calls


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
    from decp_monitor import queries
    from decp_monitor.store import Store

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
    return {"source": "functions of decp_monitor.queries, no cache", "repeat": repeat,
            "large_buyer": large, "small_buyer": small, "queries": results, "notes": notes,
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def task_export(data_dir: str, out_dir: str, repeat: int = 3) -> dict:
    """Export the contract table (≈ one row per contract: a million rows at 1 M records)."""
    from decp_monitor.store import Store

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir)
    con = store.connect()
    rows = con.execute("SELECT count(*) FROM contract_compliance").fetchone()[0]
    con.close()
    exports, notes = [], []
    try:
        from decp_monitor import export as export_mod
    except ImportError:
        export_mod = None
    for fmt in ("csv", "csv-fr", "parquet"):
        target = out / f"contract_compliance.{fmt}"
        fn = _export_call(export_mod, store, data_dir, fmt, target, notes)
        if fn is None:
            continue
        samples = []
        try:
            for _ in range(repeat):
                target.unlink(missing_ok=True)
                started = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - started)
        except Exception as exc:
            notes.append(f"export {fmt} failed: {type(exc).__name__}: {exc}")
            continue
        size = target.stat().st_size if target.exists() else None
        exports.append({"table": "contract_compliance", "format": fmt, "rows": rows, "bytes": size,
                        **latency_stats(samples)})
        target.unlink(missing_ok=True)
    source = ("decp_monitor.export (see notes)" if export_mod is not None
              else "decp_monitor.export absent: DuckDB COPY of the table on the read-only version")
    return {"source": source, "exports": exports, "notes": notes, "peak_rss_mb": round(peak_rss_mb(), 1)}


def _export_call(export_mod, store, data_dir, fmt, target, notes):
    """DuckDB COPY of the table on the read-only version: the floor any exporter builds on.

    The project's exporter (decp_monitor.export) is not called: its API was not known when this
    was written; when it is present, a note says that COPY was measured instead.
    """
    if export_mod is not None:
        note = ("decp_monitor.export present but not wired in bench/serve.py: "
                "DuckDB COPY measured instead")
        if note not in notes:
            notes.append(note)
    options = {"csv": "FORMAT csv, HEADER", "csv-fr": "FORMAT csv, HEADER, DELIMITER ';'",
               "parquet": "FORMAT parquet"}[fmt]
    # COPY takes no parameter for its target; the path is the bench's own, quotes escaped anyway
    quoted = str(target).replace("'", "''")

    def copy():
        con = store.connect()
        try:
            con.execute(f"COPY contract_compliance TO '{quoted}' ({options})")
        finally:
            con.close()
    return copy
