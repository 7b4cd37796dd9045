"""`refresh` end to end against the real udata test server on 127.0.0.1, on a real Store."""
import csv
import json

import pytest

from decp_monitor import cli
from decp_monitor.pipeline.refresh import resolve_api_base, run_refresh
from decp_monitor.sources.datagouv import DEFAULT_TAGS
from decp_monitor.sources.http import USER_AGENT, HttpSettings
from decp_monitor.store.versions import Store, StoreError
from tests.udata_server import (
    API_DIR,
    DATASET_FILES,
    DECLARATION_FILES,
    REAL,
)

PES = "5bd0b6fd8b4c413d0801dc57"
CATALOGUE_EXPORTS = "5d13a8b6634f41070a43dff3"
MEGALIS = "5f4f4f8910f4b55843deae51"
FAST = HttpSettings(backoff_base=0.001, backoff_max=0.01, retry_after_cap=0.05, read_timeout=0.3,
                    connect_timeout=0.5, retries=2)


def refresh(store, server, **options):
    options.setdefault("settings", FAST)
    options.setdefault("dataset_ids", [PES])
    return run_refresh(store, api_base=server.api_base, **options)


def one(store, sql, params=()):
    con = store.connect()
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def declaration_rows(name):
    with open(REAL / "declarations" / name, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return rows[1:] if rows and "siretAcheteur" in rows[0][0] else []


def test_full_catalogue_exact_counts_and_no_download_the_second_time(udata_server, tmp_path):
    # Expected values, computed from the served files, not by the crawler's code.
    objects = [json.loads((API_DIR / n).read_text(encoding="utf-8")) for n in DATASET_FILES]
    wanted = {o["id"]: o for o in objects if o.get("id") and set(o.get("tags") or []) & set(DEFAULT_TAGS)}
    wanted.update({o["id"]: o for o in objects if o.get("id") in (PES, CATALOGUE_EXPORTS)})
    served_declarations = udata_server.by_id("5cd0declaration0000000001")
    wanted[served_declarations["id"]] = served_declarations
    resource_ids = {r["id"] for o in wanted.values() for r in o["resources"]}
    downloadable = {rid for rid in resource_ids if rid in udata_server.files}
    expected_declarations = sum(len(declaration_rows(n)) for n in DECLARATION_FILES)
    assert (len(wanted), len(resource_ids), expected_declarations) == (8, 1596, 20)

    store = Store(tmp_path)
    progress = []
    summary = refresh(store, udata_server, dataset_ids=[PES, CATALOGUE_EXPORTS],
                      progress=lambda phase, done, total, detail: progress.append((phase, done, total)))

    assert one(store, "SELECT count(*), count(DISTINCT dataset_id) FROM datasets") == [(8, 8)]
    assert one(store, "SELECT count(*), count(DISTINCT resource_id) FROM resources") == [(1596, 1596)]
    assert one(store, "SELECT count(*), count(siret) FROM declarations") == [(20, 19)]
    assert (summary.datasets, summary.resources, summary.declarations) == (8, 1596, 20)
    file_requests = [r.path.split("/")[2] for r in udata_server.requests("/files/")]
    # every file fetched, once (a flake once, under load, fetched one twice: the retries say whether
    # an attempt failed and was retried)
    assert sorted(file_requests) == sorted(downloadable), (
        f"{summary.retries} retries; requested twice: "
        f"{sorted(r for r in set(file_requests) if file_requests.count(r) > 1)}")
    assert summary.downloaded == len(downloadable) and summary.failed == 0
    # every DECP file was read: each has records or at least a finding under its resource id
    decp = {r[0] for r in one(store, "SELECT resource_id FROM resources WHERE classification = 'decp'")}
    read = {r[0] for r in one(store, "SELECT resource_id FROM records UNION SELECT resource_id FROM findings")}
    assert decp <= read and len(decp) == 1584
    # the catalogue exports and the Atexo platform list are CSVs, but not declarations
    assert one(store, "SELECT count(*) FROM resources WHERE classification = 'other' AND format = 'csv'") == [(9,)]
    assert one(store, "SELECT count(*) FROM resources WHERE classification = 'declaration'") == [(2,)]
    assert all(r.user_agent == USER_AGENT for r in udata_server.log)
    assert {p[0] for p in progress} == {"Jeux de données", "Ressources", "Téléchargements", "Lecture"}

    log_size = len(udata_server.log)
    second = refresh(store, udata_server, dataset_ids=[PES, CATALOGUE_EXPORTS])
    assert [r for r in udata_server.log[log_size:] if r.path.startswith("/files/")] == []
    assert (second.downloaded, second.unchanged, second.bytes_downloaded) == (0, len(downloadable), 0)
    assert (second.datasets, second.resources, second.declarations, second.records) == (
        8, 1596, 20, summary.records)
    assert one(store, "SELECT DISTINCT download_status FROM resources WHERE local_file IS NOT NULL") == [("unchanged",)]
    assert one(store, "SELECT count(*) FROM refreshes WHERE command = 'refresh' AND outcome = 'published'") == [(2,)]


def test_faults_every_failure_is_a_finding_and_the_rest_is_loaded(small_udata_server, tmp_path):
    server = small_udata_server
    resources = server.by_id(MEGALIS)["resources"]
    faults = {
        "timeout": dict(kind="timeout", delay=1.0),
        "status_500": dict(kind="status", status=500),
        "status_429": dict(kind="status", status=429, retry_after="1", times=1),  # recovers
        "reset": dict(kind="reset", times=1),  # recovers
        "truncate": dict(kind="truncate"),
        "redirect_loop": dict(kind="redirect_loop"),
        "huge": dict(kind="huge"),
    }
    faulty = {}
    for resource, (name, spec) in zip(resources, faults.items()):
        server.fault(server.file_path(resource["id"]), **spec)
        faulty[name] = resource["id"]
    store = Store(tmp_path)
    summary = refresh(store, server, max_file_bytes=1024 * 1024)

    failing = {faulty[k] for k in ("timeout", "status_500", "truncate", "redirect_loop")}
    findings = one(store, "SELECT resource_id, code, source_file, value, message FROM findings "
                          "WHERE code IN ('download_failed', 'file_too_large')")
    assert {(r[0], r[1]) for r in findings} == {(rid, "download_failed") for rid in failing} | {
        (faulty["huge"], "file_too_large")}
    by_id = {r[0]: r for r in findings}
    assert by_id[faulty["status_500"]][3] == "500" and "HTTP 500" in by_id[faulty["status_500"]][4]
    assert all(r[2].startswith(server.base_url + "/files/") for r in findings)  # the URL is kept
    assert (summary.failed, summary.too_large) == (4, 1)
    # every reachable file is loaded: the 11 Mégalis files minus the 5 lost, plus PES, plus 2 declarations
    loaded = {r[0] for r in one(store, "SELECT resource_id FROM resources WHERE download_status = 'downloaded'")}
    reachable = {r["id"] for r in resources} - failing - {faulty["huge"]}
    assert reachable <= loaded
    read = {r[0] for r in one(store, "SELECT resource_id FROM records UNION SELECT resource_id FROM findings "
                                     "WHERE code NOT IN ('download_failed', 'file_too_large')")}
    assert reachable <= read
    assert one(store, "SELECT count(*) FROM declarations") == [(20,)]
    statuses = dict(one(store, "SELECT resource_id, download_status FROM resources"))
    assert statuses[faulty["huge"]] == "skipped" and statuses[faulty["timeout"]] == "failed"


def test_api_down_keeps_the_previous_database_serving(small_udata_server, tmp_path):
    store = Store(tmp_path)
    refresh(store, small_udata_server)
    before = store.current()
    with pytest.raises(StoreError, match="injoignable"):
        run_refresh(store, api_base="http://127.0.0.1:9/api", dataset_ids=[PES], settings=FAST)
    small_udata_server.fault("/api/*", "status", status=503)
    with pytest.raises(StoreError, match="injoignable"):
        refresh(store, small_udata_server)
    assert store.current() == before
    assert one(store, "SELECT count(*) FROM datasets") == [(3,)]
    outcomes = [(e["command"], e["outcome"]) for e in store.read_refresh_log()]
    assert outcomes == [("refresh", "published"), ("refresh", "failed"), ("refresh", "failed")]
    assert "version précédente" in store.read_refresh_log()[-1]["message"]


def test_far_fewer_datasets_is_refused(small_udata_server, tmp_path):
    store = Store(tmp_path)
    assert refresh(store, small_udata_server).datasets == 3
    before = store.current()
    small_udata_server.fault("/api/1/datasets/", "status", status=502)  # searches fail, by-id still works
    with pytest.raises(StoreError, match="1 jeux de données trouvés contre 3"):
        refresh(store, small_udata_server)
    assert store.current() == before


def test_changed_resource_is_downloaded_again_and_a_failed_one_keeps_its_last_copy(small_udata_server, tmp_path):
    server = small_udata_server
    store = Store(tmp_path)
    first = refresh(store, server)
    changed, broken = server.by_id(MEGALIS)["resources"][:2]
    changed["checksum"] = {"type": "sha1", "value": "0" * 40}
    broken["checksum"] = {"type": "sha1", "value": "1" * 40}
    server.fault(server.file_path(broken["id"]), "status", status=500)
    log_size = len(server.log)
    second = refresh(store, server)
    fetched = {r.path.split("/")[2] for r in server.log[log_size:] if r.path.startswith("/files/")}
    assert fetched == {changed["id"], broken["id"]}
    assert (second.downloaded, second.failed, second.stale_copies) == (1, 1, 1)
    assert second.records == first.records  # the stale copy was read: nothing lost
    message = one(store, "SELECT message FROM findings WHERE code = 'download_failed'")[0][0]
    assert "copie" in message


def test_api_base_from_environment(monkeypatch):
    monkeypatch.setenv("DECP_API_BASE", "http://example.test/api/")
    assert resolve_api_base() == "http://example.test/api"
    assert resolve_api_base("http://other/api") == "http://other/api"
    monkeypatch.delenv("DECP_API_BASE")
    assert resolve_api_base() == "https://www.data.gouv.fr/api"


def test_cli_refresh(small_udata_server, tmp_path, capsys):
    code = cli.main(["--data-dir", str(tmp_path), "refresh", "--api-base", small_udata_server.api_base,
                     "--tag", "decp", "--dataset-id", PES, "--max-file-mb", "5", "--sans-annuaire"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Jeux de données : 3" in out and "20 déclarations" in out
    assert {r.query.get("tag") for r in small_udata_server.requests("/api/1/datasets/")} == {"decp", None}


def test_a_body_that_is_not_its_content_encoding_is_a_finding_and_the_refresh_goes_on(small_udata_server, tmp_path):
    server = small_udata_server
    resources = server.by_id(MEGALIS)["resources"]
    broken = resources[0]["id"]
    server.fault(server.file_path(broken), kind="bad_gzip")
    store = Store(tmp_path)
    summary = refresh(store, server)
    assert store.current() is not None and summary.failed == 1
    [(code, message)] = one(store, "SELECT code, message FROM findings WHERE resource_id = ?", [broken])
    assert code == "download_failed" and "Content-Encoding" in message
    loaded = {r[0] for r in one(store, "SELECT resource_id FROM resources WHERE download_status = 'downloaded'")}
    assert {r["id"] for r in resources} - {broken} <= loaded


STORED = {
    "records": "SELECT * FROM records ORDER BY record_id",
    "record_modifications": "SELECT * FROM record_modifications ORDER BY record_id, position",
    "findings": "SELECT * FROM findings ORDER BY ALL",
    "declarations": "SELECT * FROM declarations ORDER BY ALL",
    "contract_compliance": "SELECT * EXCLUDE (observed_date, observed_source, observed_days_late, observed_conclusive) "
                           "FROM contract_compliance ORDER BY contract_key",
    "buyer_compliance": "SELECT buyer_siret, verdict, contracts_total FROM buyer_compliance ORDER BY ALL",
}


def snapshot(store):
    return {name: one(store, sql) for name, sql in STORED.items()}


def file_requests(server, since):
    return [r.path.split("/")[2] for r in server.log[since:] if r.path.startswith("/files/")]


def test_nothing_changed_downloads_nothing_reads_nothing_and_keeps_every_row(small_udata_server, tmp_path):
    server = small_udata_server
    store = Store(tmp_path)
    first = refresh(store, server)
    assert (first.downloaded, first.files_read, first.carried) == (15, 14, 0)  # a CSV is no declaration
    before = snapshot(store)
    assert len(before["records"]) > 10 and before["declarations"] and before["contract_compliance"]

    log_size = len(server.log)
    second = refresh(store, server)
    assert file_requests(server, log_size) == []  # nothing downloaded
    assert (second.files_read, second.downloaded) == (0, 0)  # nothing read again
    assert (second.carried, second.unchanged, second.carried_records) == (15, 15, len(before["records"]))
    assert snapshot(store) == before  # the same rows, record ids included
    # the resources say what happened, and what reading them taught last time still holds
    assert one(store, "SELECT DISTINCT download_status FROM resources WHERE local_file IS NOT NULL") == [("unchanged",)]
    assert one(store, "SELECT count(*) FROM resources WHERE classification = 'declaration'") == [(2,)]
    assert one(store, "SELECT classification FROM resources WHERE title = 'atexo-decp-scraper_plateformes.csv'") == [
        ("other",)]

    # Carrying does not need the download cache: the previous version holds the rows.
    for path in store.cache_dir.iterdir():
        path.unlink()
    log_size = len(server.log)
    third = refresh(store, server)
    assert file_requests(server, log_size) == [] and third.files_read == 0
    assert snapshot(store) == before


def test_a_changed_resource_alone_is_downloaded_and_read_again(small_udata_server, tmp_path):
    server = small_udata_server
    store = Store(tmp_path)
    refresh(store, server)
    before = snapshot(store)
    changed = server.by_id(MEGALIS)["resources"][3]
    changed["checksum"] = {"type": "sha1", "value": "2" * 40}
    log_size = len(server.log)
    second = refresh(store, server)
    assert file_requests(server, log_size) == [changed["id"]]
    assert (second.downloaded, second.files_read, second.carried) == (1, 1, 14)
    after = snapshot(store)
    # the same file content came back: the same rows, the changed file's records renumbered
    for name in ("findings", "declarations", "contract_compliance", "buyer_compliance"):
        assert after[name] == before[name], name
    strip = lambda rows: sorted(row[1:] for row in rows)  # noqa: E731 - without record_id
    assert strip(after["records"]) == strip(before["records"])
    assert one(store, "SELECT download_status, count(*) FROM resources WHERE local_file IS NOT NULL "
                      "GROUP BY ALL ORDER BY ALL") == [("downloaded", 1), ("unchanged", 14)]


def test_a_429_storm_is_waited_out_and_every_file_is_loaded(small_udata_server, tmp_path):
    server = small_udata_server
    server.rate_limit = 3  # file requests per second; Retry-After: 1 beyond
    settings = HttpSettings(backoff_base=0.001, backoff_max=0.01, retry_after_cap=1.0, read_timeout=2.0,
                            connect_timeout=0.5, retries=2)
    store = Store(tmp_path)
    summary = refresh(store, server, settings=settings, concurrency=6)
    limited = [r.at for r in server.log if r.fault == "rate_limited"]
    assert limited and summary.throttled == len(limited)  # there was a storm, and it was seen
    assert (summary.downloaded, summary.failed) == (15, 0)
    assert one(store, "SELECT count(*) FROM findings WHERE code = 'download_failed'") == [(0,)]
    # Respected: once told to wait a second, no thread starts a new request during that second.
    # Only requests already past the gate when the 429 left may still arrive (one per other
    # thread at most; on a loaded machine they can arrive late).
    served = [r.at for r in server.requests("/files/")]
    for refused in limited:
        assert len([t for t in served if refused + 0.05 < t < refused + 0.95]) <= 6 - 1


def test_progress_says_what_remains_and_how_long(small_udata_server, tmp_path):
    import io

    from decp_monitor.core.progress import Progress, fr_duration

    seen = []
    refresh(Store(tmp_path), small_udata_server, progress=lambda *args: seen.append(args))
    downloads = [(done, total) for phase, done, total, _ in seen if phase == "Téléchargements"]
    assert downloads[0] == (0, 15) and downloads[-1] == (15, 15)
    assert [d for d, _ in downloads] == sorted(d for d, _ in downloads)

    clock = iter([0.0, 10.0, 20.0, 100.0])
    out = io.StringIO()
    bar = Progress("Téléchargements", stream=out, clock=lambda: next(clock))
    for done in (0, 1000, 2000, 10_000):
        bar(done, 10_000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Téléchargements : 0/10000 (reste 10000 sur 10000)"
    assert lines[1] == "Téléchargements : 1000/10000 (reste 9000 sur 10000, environ 1 min 30 s)"
    assert lines[2] == "Téléchargements : 2000/10000 (reste 8000 sur 10000, environ 1 min 20 s)"
    assert lines[3] == "Téléchargements : 10000/10000 (terminé en 1 min 40 s)"
    assert (fr_duration(45), fr_duration(3725)) == ("45 s", "1 h 02 min")


def test_a_refresh_fits_the_memory_cap_to_what_the_crawl_holds(small_udata_server, tmp_path, monkeypatch):
    from decp_monitor.store import versions

    monkeypatch.setattr(versions, "PROCESS_SHARE_MB", 1)  # whatever this process holds is beyond it
    refresh(Store(tmp_path), small_udata_server)
    logged = json.loads((tmp_path / "refresh-log.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert logged["outcome"] == "published"
    assert versions.MIN_BUILD_MEMORY_MB <= logged["memory_limit_mib"] < 667
