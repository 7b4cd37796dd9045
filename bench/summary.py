"""Render a benchmark report (the dict bench/run.py saves as results-N.json) as Markdown."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _n(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        text = f"{value:,.{digits}f}" if digits else f"{round(value):,}"
        return text.replace(",", " ")
    return str(value)


def _mb(value) -> str:
    return "–" if value is None else f"{value:,.0f} MB".replace(",", " ")


def _readers(load: dict) -> str:
    """The readers a load recorded, each with why DuckDB did not read the file, if it did not."""
    return "; ".join(f"{name}" + (f" ({why})" if why else "") for name, why in load.get("readers", []))


def markdown(report: dict) -> str:
    lines: list[str] = []
    add = lines.append
    m = report.get("machine", {})
    add(f"### Run at {report.get('size'):,} records".replace(",", " "))
    add("")
    add(f"- Command: `{report.get('command')}`; started {report.get('started_at')}, finished {report.get('finished_at', '–')}.")
    add(f"- Machine: {m.get('cpu')}, {m.get('nproc')} cores, {m.get('ram_gb')} GB RAM; Python {m.get('python')}, "
        f"DuckDB {m.get('duckdb')}, pandas {m.get('pandas')}; load average at start {m.get('load_average_at_start')}.")
    code = report.get("code")
    if code:
        add(f"- Code: commit {code.get('commit')}"
            + (f", with uncommitted changes in {', '.join(code['uncommitted'])}" if code.get("uncommitted") else "") + ".")
    c = report.get("corpus")
    if c:
        files = ", ".join(f"{name} {_n(size / 1e6, 1)} MB" for name, size in c.get("files", {}).items())
        excluded = ", ".join(f"{k} {_n(v)}" for k, v in sorted(c.get("excluded", {}).items(), key=lambda kv: -kv[1]))
        add(f"- Corpus ({c.get('generator', 'demo generator')}, seed {c.get('seed')}, as of {c.get('as_of')}): {_n(c['records'])} records "
            f"({_n(c['marches'])} marchés, {_n(c['concessions'])} concessions, {_n(c['modifications'])} modifications), "
            f"{_n(c['buyers'])} buyers; written in {c['seconds']} s"
            + (" (by an earlier run, reused: `--reuse`)" if c.get("reused") else "") + f". Files: {files}.")
        add(f"- Clean records (the comparison set): {_n(c['clean_records'])}; left out: {excluded or 'none'}.")
    add("")
    for name, value in report.items():
        if isinstance(value, dict) and value.get("error"):
            add(f"**Step `{name}` FAILED**: {value['error']}")
            add("")
    loads = [(fmt, report.get(f"load_{fmt}")) for fmt in ("json", "xml")
             if report.get(f"load_{fmt}") and not report[f"load_{fmt}"].get("error")]
    if loads:
        limits = {(r.get("build_memory_limit"), r.get("build_threads")) for _, r in loads}
        add("Build connection: " + "; ".join(f"DuckDB memory_limit {limit}, threads {threads}" for limit, threads in sorted(limits, key=str))
            + " (decp_monitor.store.versions, `DECP_BUILD_MEMORY_LIMIT`"
            + (f" = {loads[0][1].get('build_memory_limit_env')!r}" if loads[0][1].get("build_memory_limit_env") is not None else " unset: default")
            + ").")
        add("")
        add("**Load** (one file, whole pipeline: parse, normalise, findings, store, consolidation, compliance, publication; own process)")
        add("")
        add("| file | size | records | contracts | findings | total | records/s | read+store | consolidate | compliance | peak RSS |")
        add("|---|---|---|---|---|---|---|---|---|---|---|")
        for _fmt, r in loads:
            add(f"| {r['file']} | {_n(r['bytes'] / 1e6, 1)} MB | {_n(r['records'])} | {_n(r['contracts'])} | {_n(r['findings'])} "
                f"| {r['seconds']} s | {_n(r['records_per_second'])} | {r['read_store_seconds']} s | {r['consolidate_seconds']} s "
                f"| {r['compliance_seconds']} s | {_mb(r['peak_rss_mb'])} |")
        for _fmt, r in loads:
            phases = r.get("peak_rss_mb_by_phase")
            if phases:
                add(f"\nPeak RSS by phase, {r['file']} (sampled every 50 ms): "
                    + ", ".join(f"{k} {_mb(v)}" for k, v in phases.items()) + ".")
        for fmt in ("json", "xml"):
            p = report.get(f"parse_only_{fmt}")
            if p:
                add(f"\nReader alone ({p['file']}): {p['seconds']} s, {_n(p['records_per_second'])} records/s, peak {_mb(p['peak_rss_mb'])}.")
        add("")
    xml_reads = [(r, report.get(f"xml_read_{r}")) for r in ("flux-parse", "flux", "sql")]
    xml_loads = [(r, report.get(f"xml_load_{r}")) for r in ("flux", "sql")]
    if any(v and not v.get("error") for _, v in xml_reads + xml_loads):
        labels = {"flux-parse": "streaming reader alone (Record/Finding objects, nothing stored)",
                  "flux": "streaming reader + Arrow batches into the tables",
                  "sql": "SQL path: XML → JSON (C walk, expat) → json_sql into the tables"}
        add("**XML readers side by side** (corpus.xml, each in its own process; load average = 1-min "
            "average before → after the step, the machine is shared)")
        add("")
        add("| reader | records | findings | seconds | records/s | CPU s | steps | peak RSS | load average |")
        add("|---|---|---|---|---|---|---|---|---|")
        for reader, r in xml_reads:
            if not r or r.get("error"):
                continue
            steps = ", ".join(f"{k} {v} s" for k, v in (r.get("steps_seconds") or {}).items())
            if r.get("convert_records_per_second"):
                steps += f" (convert {_n(r['convert_records_per_second'])} records/s)"
            if r.get("reason"):
                steps += f" — declined: {r['reason']}"
            add(f"| {labels[reader]} | {_n(r.get('records'))} | {_n(r.get('findings'))} | {r['seconds']} "
                f"| {_n(r['records_per_second'])} | {r.get('cpu_seconds', '–')} | {steps or '–'} | {_mb(r['peak_rss_mb'])} "
                f"| {r['load_average_before'][0]:.1f} → {r['load_average_after'][0]:.1f} |")
        add("")
        add("| full load of corpus.xml | reader recorded | records | findings | total | records/s | CPU s | read+store "
            "| consolidate | compliance | peak RSS | load average |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for reader, r in xml_loads:
            if not r or r.get("error"):
                continue
            readers = _readers(r)
            add(f"| DECP_XML_READER={reader} | {readers} | {_n(r['records'])} | {_n(r['findings'])} | {r['seconds']} s "
                f"| {_n(r['records_per_second'])} | {r.get('cpu_seconds', '–')} | {r['read_store_seconds']} s "
                f"| {r['consolidate_seconds']} s | {r['compliance_seconds']} s | {_mb(r['peak_rss_mb'])} "
                f"| {r['load_average_before'][0]:.1f} → {r['load_average_after'][0]:.1f} |")
        add("")
    nan_loads = [(r, report.get(f"nan_load_{r}")) for r in ("sql", "flux")]
    if any(v and not v.get("error") for _, v in nan_loads):
        corpus = report.get("nan_corpus", {})
        add(f"**A file with bare NaN** (clean.json, {_n(corpus.get('bare_nan', 0))} durations written `NaN`), "
            "full load with each JSON reader")
        add("")
        add("| DECP_JSON_READER | reader (why) | records | findings | non_standard_json | seconds | records/s "
            "| CPU s | read+store | peak RSS |")
        add("|---|---|---|---|---|---|---|---|---|---|")
        for reader, r in nan_loads:
            if not r or r.get("error"):
                continue
            readers = _readers(r)
            add(f"| {reader} | {readers} | {_n(r['records'])} | {_n(r['findings'])} "
                f"| {r['findings_by_code'].get('non_standard_json', 0)} | {r['seconds']} s | {_n(r['records_per_second'])} "
                f"| {r.get('cpu_seconds', '–')} | {r['read_store_seconds']} s | {_mb(r['peak_rss_mb'])} |")
        add("")
    cmp_ = report.get("compare")
    if cmp_ and not cmp_.get("error"):
        add("**Side by side** on the clean records (per-buyer late / on-time counts; each method in its own process)")
        add("")
        add("| method | seconds | CPU seconds | peak RSS | buyers | late | on time |")
        add("|---|---|---|---|---|---|---|")
        labels = {"pipeline": "decp-monitor (full load of clean.json + query)",
                  "pandas": "pandas baseline (json.load + json_normalize + groupby)",
                  "duckdb": "DuckDB read_json over clean.ndjson",
                  "duckdb_stored": "DuckDB read_json over clean.ndjson, every field stored in a table on disk, then counted"}
        for name in ("pipeline", "pandas", "duckdb", "duckdb_stored"):
            r = cmp_["methods"].get(name)
            if r is None:  # a report written before the method existed
                continue
            add(f"| {labels[name]} | {r['seconds']} | {r.get('cpu_seconds', '–')} | {_mb(r['peak_rss_mb'])} | {_n(r['buyers'])} | {_n(r['late'])} | {_n(r['on_time'])} |")
        add("")
        add(f"- pandas / decp-monitor: **{cmp_['pandas_over_pipeline']}×**; decp-monitor / DuckDB: **{cmp_['pipeline_over_duckdb']}×**.")
        if cmp_.get("pandas_over_pipeline_cpu") is not None:
            add(f"- In CPU time: pandas / decp-monitor **{cmp_['pandas_over_pipeline_cpu']}×**; "
                f"decp-monitor / DuckDB **{cmp_['pipeline_over_duckdb_cpu']}×**.")
        if cmp_.get("duckdb_stored_over_duckdb") is not None:
            add(f"- Keeping every field (DuckDB, no check): **{cmp_['duckdb_stored_over_duckdb']}×** DuckDB's count alone; "
                f"decp-monitor / that floor: **{cmp_['pipeline_over_duckdb_stored']}×**.")
        checks = cmp_["checks"]
        differing = ", ".join(f"vs {label} {checks[key]['differing']}" for key, label in (
            ("pipeline_vs_pandas", "pandas"), ("pipeline_vs_duckdb", "DuckDB"),
            ("pipeline_vs_duckdb_stored", "DuckDB stored")) if key in checks)  # every method `agree` counts
        add(f"- Same per-buyer counts: **{'yes' if cmp_['agree'] else 'NO'}** (buyers differing: {differing}).")
        statuses = cmp_["methods"]["pipeline"].get("statuses")
        if statuses:
            add(f"- Statuses in the clean load: {', '.join(f'{k} {_n(v)}' for k, v in statuses.items())}.")
        add("")
    comp = report.get("compliance")
    if comp and not comp.get("error"):
        add(f"**Compliance** `compute()` alone on the loaded database: median {comp['median_seconds']} s "
            f"(runs {comp['runs_seconds']}), {comp['statements']} statements; slowest: "
            + "; ".join(f"`{s['statement']}` {s['median_seconds']} s" for s in comp["slowest_statements"][:5])
            + f". Rows: {', '.join(f'{k} {_n(v)}' for k, v in comp.get('table_rows', {}).items())}; peak {_mb(comp['peak_rss_mb'])}.")
        add("")
    serve = report.get("serve")
    if serve and not serve.get("error"):
        add(f"**Serving** (read-only connection on the published version, {serve.get('source')}; "
            f"{serve.get('repeat')} calls each after one warm-up)")
        add("")
        add("| query | rows | median | p95 | max |")
        add("|---|---|---|---|---|")
        for q in serve["queries"]:
            add(f"| {q['name']} | {_n(q.get('rows'))} | {q['median_ms']} ms | {q['p95_ms']} ms | {q['max_ms']} ms |")
        for note in serve.get("notes", []):
            add(f"\n- {note}")
        add("")
    export = report.get("export")
    if export and not export.get("error"):
        add(f"**Export** ({export.get('source')}; {_n(export.get('table_rows'))} rows in the table)")
        add("")
        add("| writer | rows exported | format | size | median | p95 | rows/s | calls | RSS peak during it |")
        add("|---|---|---|---|---|---|---|---|---|")
        for e in export["exports"]:
            add(f"| {e.get('writer', '–')} | {e.get('filter', 'whole table')}: {_n(e.get('rows'))} | {e['format']} "
                f"| {_n((e.get('bytes') or 0) / 1e6, 1)} MB | {e.get('median_ms', '–')} ms | {e.get('p95_ms', '–')} ms "
                f"| {_n(e.get('rows_per_second'))} | {e.get('n', '–')} | {_mb(e.get('peak_rss_mb'))} |")
        for note in export.get("notes", []):
            add(f"\n- {note}")
        add(f"\nExport process peak RSS (all exports above, one process): {_mb(export.get('peak_rss_mb'))}.")
        add("")
    for fmt in ("json", "xml"):
        prof = report.get(f"profile_{fmt}")
        if prof:
            add(f"**Profile** of the {fmt.upper()} load (py-spy, 50 samples/s; run {prof['run']['seconds']} s under the profiler)")
            add("")
            add("```text")
            add(prof["summary"])
            add("```")
            add("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
