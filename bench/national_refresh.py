"""National-refresh simulation: `refresh` against a udata-compatible loopback server at national scale.

    python -m bench.national_refresh                          # ~26 000 resources, 300 requests/s
    python -m bench.national_refresh --contracts 15000 --buyers 400 --consolidated 20000   # a quick look
    python -m bench.national_refresh --keep --out bench/out/national

What it builds (under --out, git-ignored, deleted at the end unless --keep):
- a corpus from the demo generator (decp_monitor.demo.corpus.generate_corpus): one dataset per
  publishing buyer with its per-publication files DECP-{SIRET}-{date}-{seq}.json|xml, platform
  datasets with one file a year and their buyer-profile declarations, the corpus's defects
  included; plus one consolidated dataset holding decp.json, `--consolidated` records in one file;
- a server (its own process) that speaks the udata API the crawler uses: tag searches
  (/api/1/datasets/?tag=, paginated, resources inline up to 100 and a v2 link beyond),
  /api/2/datasets/{id}/resources/ pages, and the files; keep-alive; rate-limited like the real
  platform: above --rate requests per second (one token bucket over every request) it answers
  429 with `Retry-After: 1`;
- the floor: a plain script (same process count, same number of threads, one keep-alive client)
  that pages the same searches, downloads every resource, honours 429 and counts records with
  json.loads (and ElementTree for XML);
- decp-monitor's `refresh` (the CLI, in its own process, under /usr/bin/time for its peak memory)
  twice: the first one from nothing, the second one with nothing changed.

It checks, per resource, that `records` holds as many records as the plain script counted (the
files the demo broke on purpose are listed apart), and that the second refresh downloaded no file.
With --export-mb it also times the other way to learn the catalogue: one `export-resource-*.csv`
(the real header, the simulated resources plus filler rows up to that size) downloaded and read
with DuckDB, against the API pages the crawler asks for.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.loopback import QuietHandler  # standard library only, no test fixture

REPO = Path(__file__).resolve().parents[1]
TAGS = ("decp", "donnees-essentielles", "donnees-essentielles-de-la-commande-publique", "commande-publique",
        "marches-publics")
CONSOLIDATED_ID = "5cd57bf68b4c4179299eb0e9"
INLINE_MAX = 100
EXPORT_HEADER = ("dataset.id", "dataset.title", "dataset.slug", "dataset.url", "dataset.organization",
                 "dataset.organization_id", "dataset.license", "dataset.private", "dataset.archived", "id", "url",
                 "title", "description", "filetype", "format", "type", "mime", "filesize", "checksum.type",
                 "checksum.value", "created_at", "modified", "downloads", "harvest.modified_at")


# -- corpus ------------------------------------------------------------------------------------


def build_corpus(out: Path, contracts: int, buyers: int, consolidated: int) -> dict:
    """The demo corpus plus one consolidated file; returns {datasets, files: {rid: path}}."""
    from decp_monitor.demo.corpus import DEMO_AS_OF, generate_corpus, generate_records

    corpus = out / "corpus"
    written = generate_corpus(corpus, seed=2026, buyers=buyers, contracts=contracts, as_of=DEMO_AS_OF)
    catalogue = json.loads((corpus / "catalogue" / "datasets-decp-data.gouv.fr.json").read_text(encoding="utf-8"))
    by_name = {p.name: p for p in corpus.rglob("*") if p.is_file() and p.parent.name != "catalogue"}
    datasets, files = [], {}
    for obj in catalogue["data"]:
        for res in obj["resources"]:
            name = urlsplit(res["url"]).path.rsplit("/", 1)[-1]
            files[res["id"]] = str(by_name[name])
        datasets.append(obj)
    # The consolidated national file: one resource, `consolidated` records, written streaming.
    path = out / "consolidated" / "decp.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"marches": [')
        for index, record in enumerate(generate_records(seed=99, contracts=consolidated, buyers=max(100, buyers))):
            fh.write(("," if index else "") + json.dumps(record, ensure_ascii=False))
        fh.write("]}")
    rid = "00000000-c0c0-4000-8000-000000000001"
    stamp = f"{DEMO_AS_OF.isoformat()}T05:00:00"
    datasets.append({
        "id": CONSOLIDATED_ID, "title": "Données essentielles de la commande publique - fichiers consolidés",
        "slug": "donnees-essentielles-de-la-commande-publique-fichiers-consolides",
        "page": "https://www.data.gouv.fr/fr/datasets/donnees-essentielles-de-la-commande-publique-fichiers-consolides/",
        "tags": ["decp", "donnees-essentielles"], "extras": {}, "license": "fr-lo", "frequency": "daily",
        "organization": {"id": "534fff75a3a7292c64a77de4", "name": "Ministère de l'Économie"}, "owner": None,
        "created_at": "2019-05-10T10:00:00", "last_modified": stamp, "last_update": stamp,
        "archived": None, "deleted": None, "private": False,
        "resources": [{
            "id": rid, "title": "decp.json", "url": "https://files.data.gouv.fr/decp/decp.json",
            "filetype": "file", "type": "main", "format": "json", "mime": "application/json",
            "filesize": path.stat().st_size, "checksum": {"type": "sha1", "value": "c" * 40},
            "created_at": "2019-05-10T10:00:00", "last_modified": stamp, "latest": None, "extras": {},
            "schema": None,
        }],
    })
    files[rid] = str(path)
    return {"datasets": datasets, "files": files, "generated": written}


# -- the server --------------------------------------------------------------------------------


class _Bucket:
    """A token bucket: `rate` requests per second, bursts of `rate`."""

    def __init__(self, rate: float):
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def _serve(catalogue_path: str, port_file: str, rate: float, export_csv: Optional[str]) -> None:
    data = json.loads(Path(catalogue_path).read_text(encoding="utf-8"))
    files = data["files"]
    stats = {"requests": 0, "api": 0, "files": 0, "throttled": 0, "bytes": 0}
    lock = threading.Lock()
    bucket = _Bucket(rate)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    httpd = Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    datasets = []
    for obj in data["datasets"]:
        obj = dict(obj, resources=[dict(r, url=f"{base}/files/{r['id']}/{urlsplit(r['url']).path.rsplit('/', 1)[-1]}")
                                   for r in obj["resources"]])
        datasets.append(obj)
    by_id = {o["id"]: o for o in datasets}

    def summary(obj: dict) -> dict:
        if len(obj["resources"]) <= INLINE_MAX:
            return obj
        href = f"{base}/api/2/datasets/{obj['id']}/resources/?page=1&page_size=100"
        return dict(obj, resources={"rel": "subsection", "href": href, "type": "GET", "total": len(obj["resources"])})

    by_tag = {tag: [summary(o) for o in datasets if tag in (o.get("tags") or [])] for tag in TAGS}

    def envelope(items: list, query: dict, path: str, params: dict) -> dict:
        page = max(1, int(query.get("page", 1)))
        size = max(1, min(100, int(query.get("page_size", 20))))
        start = (page - 1) * size

        def link(n: int) -> str:
            return f"{base}{path}?{urlencode(dict(params, page=n, page_size=size))}"

        return {"data": items[start:start + size], "page": page, "page_size": size, "total": len(items),
                "next_page": link(page + 1) if start + size < len(items) else None,
                "previous_page": link(page - 1) if page > 1 else None}

    class Handler(QuietHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/_bench/stats":
                with lock:
                    return self._send(200, json.dumps(stats).encode(), "application/json")
            with lock:
                stats["requests"] += 1
            if not bucket.take():
                with lock:
                    stats["throttled"] += 1
                return self._send(429, b'{"message": "Too many requests"}', "application/json", {"Retry-After": "1"})
            segments = [s for s in parts.path.split("/") if s]
            if segments[:1] == ["files"] and len(segments) >= 2 and segments[1] in files:
                body = Path(files[segments[1]]).read_bytes()
                with lock:
                    stats["files"] += 1
                    stats["bytes"] += len(body)
                return self._send(200, body, "application/octet-stream")
            if segments == ["exports", "export-resource.csv"] and export_csv:
                body = Path(export_csv).read_bytes()
                with lock:
                    stats["bytes"] += len(body)
                return self._send(200, body, "text/csv")
            with lock:
                stats["api"] += 1
            if segments == ["api", "1", "datasets"]:
                tag = query.get("tag")
                return self._json(envelope(by_tag.get(tag, []), query, parts.path, {"tag": tag}))
            if segments[:3] == ["api", "1", "datasets"] and len(segments) == 4 and segments[3] in by_id:
                return self._json(by_id[segments[3]])
            if segments[:3] == ["api", "2", "datasets"] and len(segments) == 5 and segments[3] in by_id:
                return self._json(envelope(by_id[segments[3]]["resources"], query, parts.path, {}))
            return self._send(404, b'{"message": "Not found"}', "application/json")

        def _json(self, obj) -> None:
            self._send(200, json.dumps(obj).encode(), "application/json")

        def _send(self, status: int, body: bytes, kind: str, headers: Optional[dict] = None) -> None:
            try:
                super()._send(status, body, kind, headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    httpd.RequestHandlerClass = Handler
    Path(port_file).write_text(base, encoding="utf-8")
    httpd.serve_forever(poll_interval=0.1)


def server_stats(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/_bench/stats", timeout=10).json()


# -- the floor: a plain download script --------------------------------------------------------


def count_records(data: bytes, name: str) -> Optional[int]:
    """Records in one file, the plain way; None when the file cannot be read at all."""
    try:
        if name.endswith(".xml"):
            root = ET.fromstring(data)
            return sum(1 for el in root.iter() if el.tag in ("marche", "contrat-concession"))
        if name.endswith(".csv"):
            return None
        obj = json.loads(data.decode("utf-8-sig"))
        marches = obj.get("marches") if isinstance(obj, dict) else None
        if isinstance(marches, list):
            return len(marches)
        if isinstance(marches, dict):
            return sum(len(v) for v in marches.values() if isinstance(v, list))
        return 0
    except (ValueError, ET.ParseError, UnicodeDecodeError):
        return None


def plain_script(api_base: str, threads: int) -> dict:
    """Page every tag search, download every resource, count records. Honours 429."""
    import httpx

    client = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=threads + 2,
                                                           max_keepalive_connections=threads + 2))

    def get(url: str, params: Optional[dict] = None) -> httpx.Response:
        while True:
            response = client.get(url, params=params)
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            return response

    started = time.perf_counter()
    resources: dict[str, str] = {}
    for tag in TAGS:
        url, params = f"{api_base}/1/datasets/", {"tag": tag, "page": 1, "page_size": 100}
        while url:
            page = get(url, params).json()
            for obj in page["data"]:
                listed = obj["resources"]
                if isinstance(listed, dict):  # a v2 link: page the resources
                    listed, next_url = [], listed["href"]
                    while next_url:
                        sub = get(next_url).json()
                        listed.extend(sub["data"])
                        next_url = sub["next_page"]
                for res in listed:
                    resources[res["id"]] = res["url"]
            url, params = page["next_page"], None
    discovered = time.perf_counter() - started

    counts: dict[str, Optional[int]] = {}

    def fetch(item: tuple[str, str]) -> None:
        rid, url = item
        counts[rid] = count_records(get(url).content, url)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(fetch, resources.items()))
    client.close()
    return {"seconds": time.perf_counter() - started, "discovery_seconds": discovered,
            "resources": len(resources), "records": sum(c or 0 for c in counts.values()),
            "unreadable": sorted(rid for rid, c in counts.items() if c is None), "counts": counts}


# -- running things ----------------------------------------------------------------------------


def timed_process(args: list[str], env: Optional[dict] = None) -> dict:
    """Run a command under /usr/bin/time -v: wall seconds, CPU seconds (user + sys: the machine is
    shared, wall time alone says little), peak RSS (MB), its output."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = [float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)]
    return {"seconds": seconds, "cpu_seconds": round(sum(cpu), 2) if len(cpu) == 2 else None,
            "peak_mb": int(peak.group(1)) / 1024 if peak else None,
            "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-4000:]}


def _plain_child(api_base: str, threads: int, out: str) -> None:
    Path(out).write_text(json.dumps(plain_script(api_base, threads)), encoding="utf-8")


def write_export_csv(path: Path, datasets: list[dict], base: str, target_mb: int) -> int:
    """An export-resource CSV: the simulated resources plus filler rows up to `target_mb`."""
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(EXPORT_HEADER)
        for obj in datasets:
            for r in obj["resources"]:
                writer.writerow([obj["id"], obj["title"], obj["slug"], obj.get("page", ""),
                                 obj["organization"]["name"], obj["organization"]["id"], obj["license"], "False",
                                 "False", r["id"], f"{base}/files/{r['id']}/x", r["title"], "", r["filetype"],
                                 r["format"], r["type"], r["mime"], r["filesize"], "sha1",
                                 r["checksum"]["value"], r["created_at"], r["last_modified"], "0", ""])
                rows += 1
        filler = 0
        while fh.tell() < target_mb * 1024 * 1024:
            filler += 1
            writer.writerow([f"{filler:024x}", f"Jeu de données sans rapport n° {filler}", f"jeu-{filler}",
                             f"https://www.data.gouv.fr/fr/datasets/jeu-{filler}/", "Une organisation",
                             f"{filler:024x}", "lov2", "False", "False", f"{filler:08x}-0000-4000-8000-000000000000",
                             f"https://static.data.gouv.fr/resources/jeu-{filler}/donnees.csv", "donnees.csv",
                             "Description d'une ressource sans rapport avec la commande publique, " * 3, "file",
                             "csv", "main", "text/csv", "123456", "sha1", f"{filler:040x}",
                             "2023-01-01T00:00:00+01:00", "2024-01-01T00:00:00+01:00", "12", ""])
            rows += 1
    return rows


def measure_export(base: str, export: Path, wanted_ids: Iterable[str]) -> dict:
    import duckdb
    import httpx

    started = time.perf_counter()
    local = export.with_name("downloaded-export.csv")
    with httpx.stream("GET", f"{base}/exports/export-resource.csv", timeout=600) as response, open(local, "wb") as fh:
        for chunk in response.iter_raw(1 << 20):
            fh.write(chunk)
    downloaded = time.perf_counter() - started
    con = duckdb.connect()
    con.execute("CREATE TABLE wanted AS SELECT unnest($ids) AS dataset_id", {"ids": list(wanted_ids)})
    rows = con.execute(
        "SELECT count(*) FROM read_csv($path, delim = ';', header = true, quote = '\"', all_varchar = true) c "
        "JOIN wanted w ON w.dataset_id = c.\"dataset.id\"", {"path": str(local)}).fetchone()[0]
    con.close()
    local.unlink()
    return {"mb": export.stat().st_size / 1024 / 1024, "download_seconds": downloaded,
            "seconds": time.perf_counter() - started, "decp_rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=150_000, help="contracts of the demo corpus")
    parser.add_argument("--buyers", type=int, default=4_000)
    parser.add_argument("--consolidated", type=int, default=200_000, help="records of the consolidated file")
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second before 429")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel downloads (refresh and plain script)")
    parser.add_argument("--export-mb", type=int, default=0, help="also time an export-resource CSV of this size")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "national")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    from bench.run import machine

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    report: dict = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
                    "options": {k: str(v) for k, v in vars(args).items()}}
    t0 = time.perf_counter()
    corpus = build_corpus(args.out, args.contracts, args.buyers, args.consolidated)
    report["corpus"] = {"seconds": time.perf_counter() - t0, "datasets": len(corpus["datasets"]),
                        "resources": sum(len(o["resources"]) for o in corpus["datasets"]),
                        "bytes": sum(os.path.getsize(p) for p in corpus["files"].values())}
    print(f"corpus: {report['corpus']}", flush=True)
    catalogue_path = args.out / "catalogue.json"
    catalogue_path.write_text(json.dumps(corpus), encoding="utf-8")
    export = args.out / "export-resource.csv" if args.export_mb else None

    port_file = args.out / "server.url"
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(str(catalogue_path), str(port_file), args.rate, str(export) if export else None),
        daemon=True)
    server.start()
    try:
        while not port_file.exists():
            time.sleep(0.1)
        base = port_file.read_text(encoding="utf-8")
        api = f"{base}/api"

        # The floor, in its own process like the refresh.
        before = server_stats(base)
        plain_out = args.out / "plain.json"
        plain_run = timed_process([sys.executable, "-c",
                                   "import sys; from bench.national_refresh import _plain_child; "
                                   "_plain_child(sys.argv[1], int(sys.argv[2]), sys.argv[3])",
                                   api, str(args.concurrency), str(plain_out)])
        plain = json.loads(plain_out.read_text(encoding="utf-8"))
        after = server_stats(base)
        report["plain"] = {k: v for k, v in plain.items() if k != "counts"} | {
            "peak_mb": plain_run["peak_mb"], "process_seconds": plain_run["seconds"],
            "cpu_seconds": plain_run["cpu_seconds"],
            "server": {k: after[k] - before[k] for k in after}}
        print(f"plain: {report['plain']['seconds']:.1f} s (CPU {plain_run['cpu_seconds']} s), {plain['records']} records, "
              f"peak {plain_run['peak_mb']:.0f} MB, server {report['plain']['server']}", flush=True)

        data_dir = args.out / "data"
        env = dict(os.environ, DECP_DATA_DIR=str(data_dir))
        command = [sys.executable, "-m", "decp_monitor", "refresh", "--api-base", api,
                   "--concurrency", str(args.concurrency), "--dataset-id", CONSOLIDATED_ID]
        for name in ("first", "second"):
            before = server_stats(base)
            run = timed_process(command, env)
            after = server_stats(base)
            report[name] = {"seconds": run["seconds"], "cpu_seconds": run["cpu_seconds"], "peak_mb": run["peak_mb"],
                            "returncode": run["returncode"],
                            "summary": run["stdout"].strip().splitlines()[-6:],
                            "server": {k: after[k] - before[k] for k in after}}
            if run["returncode"]:
                report[name]["stderr"] = run["stderr"]
            print(f"{name} refresh: {run['seconds']:.1f} s (CPU {run['cpu_seconds']} s), peak {run['peak_mb']:.0f} MB, "
                  f"server {report[name]['server']}\n  " + "\n  ".join(report[name]["summary"]), flush=True)
            if run["returncode"]:
                print(run["stderr"], flush=True)
                break

        report["check"] = check_records(data_dir, plain["counts"])
        print(f"check: {report['check']}", flush=True)

        if export is not None:
            rows = write_export_csv(export, corpus["datasets"], base, args.export_mb)
            report["export"] = measure_export(base, export, [o["id"] for o in corpus["datasets"]]) | {"rows": rows}
            print(f"export: {report['export']}", flush=True)
    finally:
        server.terminate()
        server.join()
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
    report["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["machine"]["load_average_at_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k not in ("corpus",)}, indent=1, ensure_ascii=False,
                     default=str))
    return 0


def check_records(data_dir: Path, counts: dict) -> dict:
    """Per resource the crawler fetched: records in the published version against the plain
    script's count. Resources it did not fetch (the catalogue calls them documentation: the demo
    mislabels a few on purpose) are counted apart."""
    from decp_monitor.store.versions import Store

    con = Store(data_dir).connect()
    try:
        stored = dict(con.execute("SELECT resource_id, count(*) FROM records GROUP BY 1").fetchall())
        status = dict(con.execute("SELECT resource_id, download_status FROM resources").fetchall())
        total = con.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        con.close()
    fetched = {rid for rid, state in status.items() if state in ("downloaded", "unchanged")}
    readable = {rid: c for rid, c in counts.items() if c is not None and rid in fetched}
    differ = {rid: (c, stored.get(rid, 0)) for rid, c in readable.items() if stored.get(rid, 0) != c}
    skipped = {rid: c for rid, c in counts.items() if rid not in fetched}
    return {"records": total, "plain_records": sum(c or 0 for c in counts.values()),
            "resources_fetched": len(fetched), "resources_compared": len(readable),
            "resources_differing": len(differ), "differing": dict(list(differ.items())[:10]),
            "not_fetched": {"resources": len(skipped), "records": sum(c or 0 for c in skipped.values()),
                            "states": sorted({str(status.get(rid)) for rid in skipped})},
            "unreadable_by_plain_script": sum(1 for rid, c in counts.items() if c is None and rid in fetched),
            "records_from_files_the_plain_script_could_not_read": sum(
                stored.get(rid, 0) for rid, c in counts.items() if c is None),
            "download_failures": sum(1 for state in status.values() if state in ("failed", "skipped"))}


if __name__ == "__main__":
    sys.exit(main())
