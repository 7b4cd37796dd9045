"""decp-monitor benchmark: load, compute and serve a generated national-scale corpus.

    python bench/run.py --size 1000000            # full run, results in bench/out/
    python bench/run.py --size 20000 --only compare   # the side-by-side check only

Every heavy step runs in a child process of its own, so that the peak resident memory reported
for it (the child's VmHWM, read from /proc/self/status) is that step's alone: not the
generator's, not another step's. See BENCHMARKS.md for the figures and what limits them.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `python bench/run.py` as well as `python -m bench.run`
    sys.path.insert(0, str(REPO))

from bench import corpus as corpus_mod  # noqa: E402  (after the sys.path line above)
from bench import methods  # noqa: E402
from decp_monitor.pipeline import build_version  # noqa: E402

DEFAULT_OUT = HERE / "out"
DEFAULT_SEED = 2026
STEPS = ("load", "compare", "compliance", "serve", "export", "xml", "nan")


# -- measuring ---------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's resident-memory high-water mark (VmHWM), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process so far, user + system, all its threads (DuckDB's included): on a
    shared machine it moves much less than the wall time when other work takes the cores."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


class PhaseMemory:
    """Samples the resident memory every 50 ms and keeps the highest value seen in each phase."""

    def __init__(self):
        import threading

        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            rss = current_rss_mb()
            if rss > self.peaks.get(self.phase, 0.0):
                self.peaks[self.phase] = rss

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {phase: round(mb, 1) for phase, mb in self.peaks.items()}


def latency_stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def timed_calls(fn, repeat: int, warmup: int = 1) -> dict:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return latency_stats(samples)


class ChildFailed(RuntimeError):
    pass


def run_child(task: str, profile: str = "", **kwargs) -> dict:
    """Run one task of this script in a fresh interpreter; returns its result plus its peak RSS.

    profile: a path where py-spy writes the child's sampled stacks (collapsed, see
    bench/profile_summary.py); the figures of a profiled run are not reported as measurements.
    """
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        result_path = tmp.name
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", task,
                   "--child-args", json.dumps(kwargs, default=str), "--child-result", result_path]
        if profile:
            command = ["py-spy", "record", "--format", "raw", "--rate", "50", "--output", profile, "--", *command]
        completed = subprocess.run(command, stderr=subprocess.PIPE, text=True, errors="replace")
        if completed.stderr:
            sys.stderr.write(completed.stderr)
        if completed.returncode != 0:
            last = [line for line in completed.stderr.splitlines() if line.strip()][-1:] or [""]
            raise ChildFailed(f"child task {task} failed with exit code {completed.returncode}: {last[0][:500]}")
        return json.loads(Path(result_path).read_text(encoding="utf-8"))
    finally:
        Path(result_path).unlink(missing_ok=True)


@contextlib.contextmanager
def child_env(name: str, value: str):
    """`name` set to `value` for the child processes started inside, then as it was."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


# -- corpus ------------------------------------------------------------------------------------

GENERATOR = "decp_monitor.demo.corpus.generate_records"


def generate(out: Path, size: int, seed: int) -> dict:
    """`size` records from the demo generator, written as the four corpus files (bench/corpus.py)."""
    from decp_monitor.demo import corpus as demo

    as_of = demo.DEMO_AS_OF
    started = time.perf_counter()
    records = demo.generate_records(seed=seed, contracts=size, buyers=buyer_count(size), as_of=as_of)
    info = corpus_mod.write_corpus(records, out, as_of)
    elapsed = time.perf_counter() - started
    result = info.to_dict()
    result.update({"seconds": round(elapsed, 2), "as_of": as_of.isoformat(), "seed": seed,
                   "generator": GENERATOR, "buyers_asked": buyer_count(size)})
    return result


NAN_DURATION = re.compile(rb'"dureeMois": 1[0-9]*')


def write_nan_variant(clean: Path, target: Path) -> dict:
    """clean.json with every duration of 1 or 10 to 19 months written as a bare NaN (about a quarter of
    the records), line by line (the generator writes one record per line)."""
    replaced = 0
    with open(clean, "rb") as source, open(target, "wb") as out:
        for line in source:
            line, count = NAN_DURATION.subn(b'"dureeMois": NaN', line)
            replaced += count
            out.write(line)
    return {"file": target.name, "bytes": target.stat().st_size, "bare_nan": replaced}


def buyer_count(size: int) -> int:
    # Nationally about 1.5 M contracts for some 40 000 publishing buyers; keep that ratio, with a
    # floor so that small runs still have a long tail.
    return max(200, size * 40_000 // 1_500_000)


# -- tasks (each runs in a child process) ------------------------------------------------------

def task_load(path: str, data_dir: str, as_of: str, duckdb_settings: dict | None = None) -> dict:
    """The real pipeline: Store.build + load_file (parse, normalise, findings, store),
    consolidation and compliance, then publication.

    duckdb_settings: an experiment only (e.g. {"memory_limit": "600MB"}), applied to the build's
    connection before loading; never used for the reported figures unless said so.
    """
    from decp_monitor.store.versions import Store

    shutil.rmtree(data_dir, ignore_errors=True)
    store = Store(data_dir)
    marks: dict[str, float] = {}
    memory = PhaseMemory()

    def on_stage(name: str) -> None:
        # the pipeline's stages (decp_monitor.pipeline.build_version): memory peaks by phase
        memory.phase = {"read": "read_store", "publish": "checkpoint_publish"}.get(name, name)
        marks[name] = time.perf_counter()

    started = time.perf_counter()
    cpu = time.process_time()  # the whole process: Python and DuckDB's threads
    with build_version(store, "bench", source=path, meta={"as_of": as_of}, on_stage=on_stage) as build:
        for name, value in (duckdb_settings or {}).items():
            build.con.execute(f"SET {name} = ?", [value])
        # the build connection's cap (decp_monitor.store.versions: DECP_BUILD_MEMORY_LIMIT, default 700MB)
        memory_limit, threads = build.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
        kind = build.load_file(path)
    published = time.perf_counter()
    cpu = time.process_time() - cpu
    phase_peaks = memory.stop()
    counts = dict(build.stats)
    con = store.connect()
    try:
        findings = dict(con.execute(
            "SELECT code, count(*) FROM findings GROUP BY code ORDER BY 2 DESC").fetchall())
        # which reader read the file (DuckDB or the streaming reader), and why not DuckDB
        readers = con.execute("SELECT reader, reason FROM file_readers").fetchall()
    finally:
        con.close()
    total = published - started
    return {
        "file": Path(path).name, "kind": kind, "bytes": Path(path).stat().st_size,
        "seconds": round(total, 2), "cpu_seconds": round(cpu, 2),
        "read_store_seconds": round(marks["consolidate"] - started, 2),
        "consolidate_seconds": round(build.timings["consolidate"], 2),
        "compliance_seconds": round(build.timings["compliance"], 2),
        "publish_seconds": round(published - marks["publish"], 2),
        "records": counts.get("records"), "contracts": counts.get("contracts"),
        "findings": counts.get("findings"), "findings_by_code": findings,
        "records_per_second": round(counts.get("records", 0) / total) if total else None,
        "database_bytes": store.current().path.stat().st_size,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_rss_mb_by_phase": phase_peaks,
        "readers": readers,
        "duckdb_settings": duckdb_settings or {},
        "build_memory_limit": memory_limit, "build_threads": threads,
        "build_memory_limit_env": os.environ.get("DECP_BUILD_MEMORY_LIMIT"),
    }


def task_parse_only(path: str) -> dict:
    """The reader alone (no store): how much of the load is parsing."""
    from decp_monitor.core.model import Finding, Record
    from decp_monitor.parse import read_decp

    started = time.perf_counter()
    records = findings = 0
    for item in read_decp(Path(path), name=path):
        if isinstance(item, Record):
            records += 1
        elif isinstance(item, Finding):
            findings += 1
    elapsed = time.perf_counter() - started
    return {"file": Path(path).name, "seconds": round(elapsed, 2), "records": records,
            "findings": findings, "records_per_second": round(records / elapsed) if elapsed else None,
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def task_xml_read(path: str, reader: str) -> dict:
    """Issue 13's XML figure: read the XML file into the store's tables of an in-memory database
    (no consolidation, no compliance), with the streaming reader (`flux`: read_decp + Arrow
    batches) or the SQL path (`sql`: parse/xml_sql.py, its steps timed); also the streaming
    reader alone (`flux-parse`: Record and Finding objects, nothing stored)."""
    import duckdb

    from decp_monitor.parse import read_decp
    from decp_monitor.parse.xml_sql import load_xml_sql
    from decp_monitor.store.writer import BatchWriter

    con = duckdb.connect()
    con.execute((REPO / "decp_monitor" / "store" / "schema.sql").read_text(encoding="utf-8"))
    load_before = os.getloadavg()
    steps: dict = {}
    reason = None
    started = time.perf_counter()
    cpu = time.process_time()
    if reader == "sql":
        outcome = load_xml_sql(con, Path(path), path, None, 0, min_bytes=0, timings=steps)
        reason = outcome.reason
    elif reader == "flux":
        writer = BatchWriter(con)
        for item in read_decp(Path(path), name=path):
            writer.add(item)
        writer.flush()
    else:
        result = task_parse_only(path)
        result.update({"reader": reader, "cpu_seconds": round(time.process_time() - cpu, 2),
                       "load_average_before": load_before, "load_average_after": os.getloadavg()})
        return result
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    row = con.execute("SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM findings)").fetchone()
    assert row is not None  # an aggregate always gives one row
    records, findings = row
    con.close()
    return {"file": Path(path).name, "reader": reader, "reason": reason, "seconds": round(elapsed, 2),
            "cpu_seconds": round(cpu, 2), "records": records, "findings": findings,
            "records_per_second": round(records / elapsed) if elapsed else None,
            "steps_seconds": {k: round(v, 2) for k, v in steps.items()},
            "convert_records_per_second": round(records / steps["convert"]) if steps.get("convert") else None,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "load_average_before": load_before, "load_average_after": os.getloadavg()}


def task_method(method: str, path: str, counts_out: str, data_dir: str = "", as_of: str = "") -> dict:
    """One of the compared methods, timed from file to per-buyer counts."""
    started = time.perf_counter()
    if method == "pandas":
        counts = methods.pandas_baseline(Path(path))
    elif method == "duckdb":
        counts = methods.duckdb_native(Path(path))
    elif method == "duckdb_stored":
        counts = methods.duckdb_stored(Path(path), Path(counts_out).with_suffix(".duckdb"))
    elif method == "pipeline":
        load = task_load(path, data_dir, as_of)
        from decp_monitor.store.versions import Store

        con = Store(data_dir).connect()
        try:
            counts = methods.pipeline_counts(con)
            statuses = dict(con.execute(
                "SELECT status, count(*) FROM contract_compliance GROUP BY 1").fetchall())
        finally:
            con.close()
    else:
        raise ValueError(method)
    elapsed = time.perf_counter() - started
    Path(counts_out).write_text(json.dumps(counts), encoding="utf-8")
    result = {"method": method, "seconds": round(elapsed, 2), "cpu_seconds": round(cpu_seconds(), 2),
              "peak_rss_mb": round(peak_rss_mb(), 1),
              **methods.totals(counts)}
    if method == "pipeline":
        result.update({"load": load, "statuses": statuses})
    return result


class _TimingConnection:
    """Forwards to a DuckDB connection and times every statement compute() runs."""

    def __init__(self, con, names: dict[str, str]):
        self._con = con
        self._names = names  # SQL text -> the file it comes from
        self.timings: list[tuple[str, float]] = []

    def execute(self, sql, *args, **kwargs):
        started = time.perf_counter()
        result = self._con.execute(sql, *args, **kwargs)
        label = self._names.get(sql) or _statement_label(sql)
        self.timings.append((label, time.perf_counter() - started))
        return result

    def __getattr__(self, name):
        return getattr(self._con, name)


def _statement_label(sql) -> str:
    import re

    text = " ".join(str(sql).split())
    match = re.search(r"\b(?:CREATE(?: OR REPLACE)?(?: TEMP| TEMPORARY)? (?:TABLE|VIEW|MACRO)|INSERT INTO|UPDATE|DELETE FROM)\s+([\w.\"]+)", text, re.I)
    return match.group(0) if match else text[:60]


def task_compliance(data_dir: str, repeat: int = 3) -> dict:
    """compute() alone, on a copy of the loaded database (the published file stays untouched)."""
    import duckdb

    from decp_monitor import compliance
    from decp_monitor.store.versions import Store

    version = Store(data_dir).current()
    scratch = Path(data_dir) / "compliance-scratch.duckdb"
    shutil.copyfile(version.path, scratch)
    runs, per_statement = [], {}
    names = {}
    for name in getattr(compliance, "PIPELINE", ()):
        try:
            names[compliance._sql(name)] = f"compliance/{name}"
        except (AttributeError, OSError):
            pass
    try:
        con = duckdb.connect(str(scratch))
        try:
            for _ in range(repeat):
                proxy = _TimingConnection(con, names)
                started = time.perf_counter()
                compliance.compute(proxy)
                runs.append(time.perf_counter() - started)
                for label, seconds in proxy.timings:
                    per_statement.setdefault(label, []).append(seconds)
            tables = {
                t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in ("contract_compliance", "modification_compliance", "buyer_compliance",
                          "dataset_conformance", "resource_conformance", "overview_monthly")
                if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [t]).fetchone()[0]
            }
        finally:
            con.close()
    finally:
        scratch.unlink(missing_ok=True)
        scratch.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    slowest = sorted(((statistics.median(v), k) for k, v in per_statement.items()), reverse=True)
    return {
        "runs_seconds": [round(r, 2) for r in runs],
        "median_seconds": round(statistics.median(runs), 2),
        "statements": len(per_statement),
        "slowest_statements": [{"statement": k, "median_seconds": round(s, 3)} for s, k in slowest[:8]],
        "table_rows": tables,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def task_serve(**kwargs) -> dict:
    from bench import serve

    return serve.task_serve(**kwargs)


def task_export(**kwargs) -> dict:
    from bench import serve

    return serve.task_export(**kwargs)


CHILD_TASKS = {
    "load": task_load,
    "parse_only": task_parse_only,
    "xml_read": task_xml_read,
    "method": task_method,
    "compliance": task_compliance,
    "serve": task_serve,
    "export": task_export,
}


def _child_main(task: str, args_json: str, result_path: str) -> None:
    result = CHILD_TASKS[task](**json.loads(args_json))
    Path(result_path).write_text(json.dumps(result, default=str), encoding="utf-8")


# -- orchestration -----------------------------------------------------------------------------

def compare_methods(out: Path, as_of: str, in_process: bool = False) -> dict:
    """Run the methods over the clean records; check they give the same per-buyer counts."""
    results, counts = {}, {}
    for method, path in (("pipeline", out / "clean.json"), ("pandas", out / "clean.json"),
                         ("duckdb", out / "clean.ndjson"), ("duckdb_stored", out / "clean.ndjson")):
        counts_out = out / f"counts-{method}.json"
        kwargs = {"method": method, "path": str(path), "counts_out": str(counts_out),
                  "data_dir": str(out / "db-clean"), "as_of": as_of}
        results[method] = task_method(**kwargs) if in_process else run_child("method", **kwargs)
        counts[method] = {k: tuple(v) for k, v in json.loads(counts_out.read_text(encoding="utf-8")).items()}
        counts_out.unlink()
    checks = {
        "pipeline_vs_pandas": methods.compare(counts["pipeline"], counts["pandas"]),
        "pipeline_vs_duckdb": methods.compare(counts["pipeline"], counts["duckdb"]),
        "pipeline_vs_duckdb_stored": methods.compare(counts["pipeline"], counts["duckdb_stored"]),
    }
    agree = all(c["differing"] == 0 for c in checks.values())
    pipeline, pandas_, duck = (results[m]["seconds"] for m in ("pipeline", "pandas", "duckdb"))
    return {
        "methods": results,
        "checks": checks,
        "agree": agree,
        "pandas_over_pipeline": round(pandas_ / pipeline, 2) if pipeline else None,
        "pipeline_over_duckdb": round(pipeline / duck, 2) if duck else None,
        # what keeping every record costs at least, against DuckDB's count alone and decp-monitor
        "duckdb_stored_over_duckdb": round(results["duckdb_stored"]["seconds"] / duck, 2) if duck else None,
        "pipeline_over_duckdb_stored": (round(pipeline / results["duckdb_stored"]["seconds"], 2)
                                        if results["duckdb_stored"]["seconds"] else None),
        # the same ratios in CPU time (each child's own, threads included), steadier on a shared machine
        **_cpu_ratios(results),
    }


def _cpu_ratios(results: dict) -> dict:
    cpu = {m: results[m].get("cpu_seconds") for m in ("pipeline", "pandas", "duckdb")}
    if not all(cpu.values()):
        return {}
    return {"pandas_over_pipeline_cpu": round(cpu["pandas"] / cpu["pipeline"], 2),
            "pipeline_over_duckdb_cpu": round(cpu["pipeline"] / cpu["duckdb"], 2)}


def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import duckdb
    import pandas

    return {
        "cpu": cpu, "nproc": os.cpu_count(), "ram_gb": mem_gb,
        "python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pandas.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def code_version() -> dict:
    """The commit measured, and the project files that differed from it when the run started
    (other people edit the same working tree)."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return ""
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "decp_monitor", "bench").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": dirty}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="records to generate")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated steps among {STEPS}")
    parser.add_argument("--repeat", type=int, default=30, help="calls per serving query")
    parser.add_argument("--parse-only", action="store_true", help="also time the readers alone")
    parser.add_argument("--keep", action="store_true", help="keep the corpus and databases")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the corpus a previous --keep run left in --out (same size and seed) "
                             "instead of generating it again (generation takes minutes at 200 000 records)")
    parser.add_argument("--formats", default="json,xml",
                        help="comma-separated files of the load step among json, xml (default both)")
    parser.add_argument("--xml-readers", default="flux-parse,flux,sql",
                        help="comma-separated readers of the xml step among flux-parse, flux, sql (default all; "
                             "at 1.5 M the streaming reader's runs take minutes each)")
    parser.add_argument("--no-xlsx", action="store_true", help="skip the XLSX export (the slowest)")
    parser.add_argument("--profile", action="store_true",
                        help="finally, load each file again under py-spy and summarise where the time goes")
    parser.add_argument("--json-reader", choices=("flux", "sql"),
                        help="DECP JSON reader of the loads (DECP_JSON_READER, inherited by the child processes)")
    parser.add_argument("--child")
    parser.add_argument("--child-args")
    parser.add_argument("--child-result")
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.child, args.child_args, args.child_result)
        return 0

    if args.json_reader:
        os.environ["DECP_JSON_READER"] = args.json_reader
    steps = [s.strip() for s in args.only.split(",") if s.strip()]
    out = args.out.resolve()
    work = out / f"size-{args.size}"
    corpus_info = work / "corpus-info.json"
    reuse = args.reuse and corpus_info.exists()
    if reuse:  # keep the corpus files, drop the databases of the previous run
        previous = json.loads(corpus_info.read_text(encoding="utf-8"))
        if previous.get("seed") != args.seed:
            parser.error(f"--reuse: the corpus in {work} was made with seed {previous.get('seed')}")
        for db in work.glob("db-*"):
            shutil.rmtree(db, ignore_errors=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    report = {"command": " ".join([Path(sys.executable).name, "bench/run.py", *sys.argv[1:]]),
              "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "size": args.size, "machine": machine(), "code": code_version(),
              "json_reader": os.environ.get("DECP_JSON_READER") or "sql (default)"}

    def save():
        (out / f"results-{args.size}.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")

    def step(name, fn):
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            report[name] = fn()
        except ChildFailed as exc:  # recorded in the report (a failed build is a finding), run goes on
            report[name] = {"error": str(exc), "seconds": round(time.perf_counter() - started, 2)}
            print(f"[bench] {name} FAILED: {exc}", file=sys.stderr, flush=True)
        print(f"[bench] {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        save()

    def loaded() -> bool:  # the JSON load published a database the later steps can use
        return (work / "db-json").exists() and not report.get("load_json", {}).get("error")

    if reuse:
        report["corpus"] = {**previous, "reused": True}
    else:
        step("corpus", lambda: generate(work, args.size, args.seed))
        corpus_info.write_text(json.dumps(report["corpus"]), encoding="utf-8")
    as_of = report["corpus"]["as_of"]
    if "load" in steps:
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip() in ("json", "xml")]:
            step(f"load_{fmt}", lambda fmt=fmt: run_child(
                "load", path=str(work / f"corpus.{fmt}"), data_dir=str(work / f"db-{fmt}"), as_of=as_of))
            if args.parse_only:
                step(f"parse_only_{fmt}", lambda fmt=fmt: run_child("parse_only", path=str(work / f"corpus.{fmt}")))
        shutil.rmtree(work / "db-xml", ignore_errors=True)
    if "xml" in steps:
        # Issue 13: the XML readers side by side on corpus.xml, each in its own process: the
        # streaming reader alone, then each reader into the store's tables, then each full load.
        readers = [r.strip() for r in args.xml_readers.split(",") if r.strip() in ("flux-parse", "flux", "sql")]
        for reader in readers:
            step(f"xml_read_{reader}", lambda reader=reader: run_child(
                "xml_read", path=str(work / "corpus.xml"), reader=reader))
        for reader in [r for r in ("flux", "sql") if r in readers]:
            def full_load(reader=reader):
                before = os.getloadavg()
                with child_env("DECP_XML_READER", reader):
                    result = run_child("load", path=str(work / "corpus.xml"), data_dir=str(work / f"db-xml-{reader}"),
                                       as_of=as_of)
                result.update({"load_average_before": before, "load_average_after": os.getloadavg()})
                return result
            step(f"xml_load_{reader}", full_load)
            shutil.rmtree(work / f"db-xml-{reader}", ignore_errors=True)
    if "nan" in steps:
        # A national file with bare NaN (pandas writes a missing value so): the SQL path reads a copy
        # where they are null, the streaming reader reads it with its sanitising pass.
        step("nan_corpus", lambda: write_nan_variant(work / "clean.json", work / "clean-nan.json"))
        for reader in ("sql", "flux"):
            def nan_load(reader=reader):
                with child_env("DECP_JSON_READER", reader):
                    return run_child("load", path=str(work / "clean-nan.json"), data_dir=str(work / f"db-nan-{reader}"),
                                     as_of=as_of)
            step(f"nan_load_{reader}", nan_load)
            shutil.rmtree(work / f"db-nan-{reader}", ignore_errors=True)
        (work / "clean-nan.json").unlink(missing_ok=True)
    if "compare" in steps:
        step("compare", lambda: compare_methods(work, as_of))
    if "compliance" in steps and loaded():
        step("compliance", lambda: run_child("compliance", data_dir=str(work / "db-json")))
    if "serve" in steps and loaded():
        step("serve", lambda: run_child("serve", data_dir=str(work / "db-json"), repeat=args.repeat))
    if "export" in steps and loaded():
        step("export", lambda: run_child("export", data_dir=str(work / "db-json"), out_dir=str(work / "exports"),
                                         xlsx=not args.no_xlsx))
    if args.profile:
        from bench import profile_summary

        for fmt in ("json", "xml"):
            raw = out / f"profile-{args.size}-{fmt}.txt"
            step(f"profile_{fmt}", lambda fmt=fmt, raw=raw: {
                "run": run_child("load", profile=str(raw), path=str(work / f"corpus.{fmt}"),
                                 data_dir=str(work / f"db-profile-{fmt}"), as_of=as_of),
                "summary": profile_summary.summarise(str(raw), top=30),
            })
            shutil.rmtree(work / f"db-profile-{fmt}", ignore_errors=True)
    report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    save()
    from bench import summary

    print(summary.markdown(report))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, value in report.items() if isinstance(value, dict) and value.get("error")]
    return 0 if report.get("compare", {}).get("agree", True) and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
