"""`check` on a large file: wall time per phase and peak resident memory.

    python -m bench.check --mb 50                    # 2019 JSON, 2024 JSON and XML, ~50 MB each
    python -m bench.check --mb 50 --formats json-2024

The file is generated with decp_monitor.demo.corpus.generate_records (fictitious buyers, the demo's
record defects: bare NaN, amounts as strings, missing dates…), written to a temporary folder, then
checked by `check_files` in a child process of its own, so that the peak memory reported (VmHWM)
is the check's alone, not the generator's. Results in bench/out/check.json; see BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.run import machine, peak_rss_mb  # noqa: E402

AS_OF = "2026-09-30"  # the demo corpus's assessment date
FORMATS = ("json-2019", "json-2024", "xml-2019")


def write_file(folder: Path, fmt: str, target_bytes: int, seed: int = 2026) -> tuple[Path, int]:
    """Records until the file reaches target_bytes; returns (path, records)."""
    from decp_monitor.demo.corpus import generate_records, record_to_xml, to_2024

    ext = "xml" if fmt.startswith("xml") else "json"
    path = folder / f"DECP-21440036800012-2026-09-30-01.{fmt}.{ext}"
    written = count = 0
    with open(path, "w", encoding="utf-8") as out:
        if ext == "xml":
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n<marches>\n')
        else:
            out.write('{"marches": {"marche": [\n' if fmt == "json-2024" else '{"marches": [\n')
        for record in generate_records(seed=seed, contracts=10_000_000, buyers=2000):
            if fmt == "json-2024":
                if "autoriteConcedante" in record:
                    continue  # one list: the concessions would go to a second one
                record = to_2024(record)
            text = record_to_xml(record) if ext == "xml" else (",\n" if count else "") + json.dumps(record, ensure_ascii=False)
            out.write(text)
            written += len(text.encode("utf-8"))
            count += 1
            if written >= target_bytes:
                break
        out.write("</marches>\n" if ext == "xml" else ("\n]}}\n" if fmt == "json-2024" else "\n]}\n"))
    return path, count


def measure(path: str) -> dict:
    """In the child: check one file, time each phase, report the peak memory."""
    from decp_monitor.check import check_files

    phases: dict[str, float] = {}
    started = time.perf_counter()
    cpu_started = time.process_time()  # CPU time: less sensitive than wall time to a shared machine's load

    def progress(phase: str, share: float) -> None:
        name = phase.split(" :")[0]
        phases.setdefault(name, time.perf_counter() - started)

    report = check_files([path], as_of=AS_OF, progress=progress)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    validation = report.files[0].validation
    marks = sorted(phases.items(), key=lambda item: item[1]) + [("fin", total)]
    return {
        "seconds": round(total, 2),
        "cpu_seconds": round(cpu, 2),
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
        "phase_seconds": {name: round(marks[i + 1][1] - at, 2) for i, (name, at) in enumerate(marks[:-1])},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "records": validation.records, "invalid_records": validation.invalid_records,
        "detailed_records": validation.detailed_records, "schema": validation.schema.version,
        "schema_errors": validation.errors, "contracts": report.contract_count,
        "issue_kinds": len(report.issues), "exit_code": report.exit_code,
        "json_report_bytes": len(report.to_json().encode("utf-8")),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark de `check` sur un gros fichier.")
    parser.add_argument("--mb", type=float, default=50, help="taille visée de chaque fichier, en Mo (défaut : 50)")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--out", default=str(HERE / "out" / "check.json"))
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    results = {"machine": machine(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        for fmt in args.formats:
            path, records = write_file(Path(tmp), fmt, int(args.mb * 1e6))
            size = path.stat().st_size
            child = subprocess.run([sys.executable, "-m", "bench.check", "--measure", str(path)],
                                   cwd=REPO, capture_output=True, text=True, check=True)
            run = {"format": fmt, "file_mb": round(size / 1e6, 1), "records_written": records,
                   **json.loads(child.stdout.strip().splitlines()[-1])}
            results["runs"].append(run)
            print(json.dumps(run, ensure_ascii=False))
            path.unlink()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
