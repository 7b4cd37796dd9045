import datetime as dt
import json

import duckdb
import pytest

from decp_monitor.core.model import Declaration, Finding, Modification, Record
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store, StoreError


def record(position, contract_id="C1", siret="21440036800012", notified="2024-01-15", published="2024-02-01", **kw):
    return Record(
        source_file=kw.pop("source_file", "a.json"),
        position=position,
        kind=kw.pop("kind", "marche"),
        format="json-2019",
        buyer_siret=siret,
        contract_id=contract_id,
        notification_date=dt.date.fromisoformat(notified) if notified else None,
        publication_date=dt.date.fromisoformat(published) if published else None,
        **kw,
    )


def publish(store, *items, command="test", **kw):
    with build_version(store, command, **kw) as build:
        for item in items:
            build.add(item)
    return build


def count(store, table):
    con = store.connect()
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_nothing_published_means_no_connection(tmp_path):
    store = Store(tmp_path)
    assert store.current() is None
    assert store.connect() is None


def test_build_publishes_a_readable_version(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0), Finding("a.json", "missing_id", "Identifiant absent", position=3))
    assert store.current() is not None
    assert count(store, "records") == 1
    assert count(store, "findings") == 1
    con = store.connect()
    with pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE x (a INT)")  # the published version is opened read-only
    con.close()


def test_failed_build_leaves_previous_version_serving(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    before = store.current()

    with pytest.raises(RuntimeError, match="boom"):
        with build_version(store, "test") as build:
            for i in range(1, 100):
                build.add(record(i, contract_id=f"C{i}"))
            build.writer.flush()  # some tables are written by now
            raise RuntimeError("boom")

    assert store.current() == before
    assert count(store, "records") == 1
    assert len(list(store.versions_dir.glob("*.duckdb"))) == 1  # the half-built file is gone
    assert store.read_refresh_log()[-1]["outcome"] == "failed"
    assert "boom" in store.read_refresh_log()[-1]["message"]


def test_reader_keeps_working_while_a_new_version_is_published(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    reader = store.connect()
    assert reader.execute("SELECT count(*) FROM records").fetchone()[0] == 1

    publish(store, record(0), record(1, contract_id="C2"), record(2, contract_id="C3"))

    # the old connection still answers from its own version…
    assert reader.execute("SELECT count(*) FROM records").fetchone()[0] == 1
    reader.close()
    # …and a reader that re-reads the pointer sees the new data
    assert count(store, "records") == 3


def test_republications_collapse_into_one_contract_with_earliest_publication(tmp_path):
    store = Store(tmp_path)
    publish(
        store,
        record(0, published="2024-04-01", source_file="late.json"),
        record(1, published="2024-02-01", source_file="early.json"),
        record(2, notified="2024-06-01", published="2024-06-10"),  # same id, other notification: reused id
    )
    con = store.connect()
    rows = con.execute(
        "SELECT notification_date, publication_date, record_count, source_file FROM contracts ORDER BY 1"
    ).fetchall()
    codes = [r[0] for r in con.execute("SELECT code FROM findings ORDER BY code").fetchall()]
    con.close()
    assert rows == [
        (dt.date(2024, 1, 15), dt.date(2024, 2, 1), 2, "early.json"),
        (dt.date(2024, 6, 1), dt.date(2024, 6, 10), 1, "a.json"),
    ]
    assert codes == ["duplicate_record", "reused_id"]


def test_records_without_id_are_never_merged(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0, contract_id=None), record(1, contract_id=None))
    assert count(store, "contracts") == 2


def test_modifications_are_stored_and_collapsed(tmp_path):
    store = Store(tmp_path)
    mod = Modification(0, "1", dt.date(2024, 3, 1), dt.date(2024, 6, 1), 1000.0)
    publish(
        store,
        record(0, modifications=[mod]),
        record(1, modifications=[mod, Modification(1, "2", dt.date(2024, 5, 1), None)]),
    )
    assert count(store, "record_modifications") == 3
    assert count(store, "modifications") == 2


def test_sightings_are_kept_across_versions(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    first = store.connect()
    seen = first.execute("SELECT first_seen FROM sightings").fetchall()
    first.close()
    publish(store, record(0), record(1, contract_id="C2"))
    con = store.connect()
    rows = con.execute("SELECT contract_id, first_seen FROM sightings ORDER BY contract_id").fetchall()
    con.close()
    assert rows[0] == ("C1", seen[0][0])
    assert rows[1][0] == "C2" and rows[1][1] > seen[0][0]


def test_incremental_load_replaces_only_reloaded_files(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0, source_file="a.json"), record(0, contract_id="B1", source_file="b.json"))
    publish(
        store,
        record(0, contract_id="A2", source_file="a.json"),
        carry_over=True,
        replace_sources=("a.json",),
    )
    con = store.connect()
    ids = sorted(r[0] for r in con.execute("SELECT contract_id FROM records").fetchall())
    unique_ids = con.execute("SELECT count(DISTINCT record_id) = count(*) FROM records").fetchone()[0]
    con.close()
    assert ids == ["A2", "B1"]
    assert unique_ids


def test_declarations_and_metadata_rows_are_stored(tmp_path):
    store = Store(tmp_path)
    with build_version(store, "test") as build:
        build.add(Declaration("d.csv", 2, "21440036800012", "21440036800012", "https://profil.example/x"))
        build.add_datasets([{"dataset_id": "ds1", "title": "T", "tags": ["decp"], "extras": {"siret": "1"}}])
        build.add_resources([{"resource_id": "r1", "dataset_id": "ds1", "url": "https://x/f/a.json"}])
        build.add(record(0, source_file="/tmp/somewhere/a.json"))
    con = store.connect()
    assert con.execute("SELECT siret FROM declarations").fetchall() == [("21440036800012",)]
    assert con.execute("SELECT tags, extras->>'siret' FROM datasets").fetchone() == (["decp"], "1")
    # a local file takes the catalogue resource whose URL ends with its name
    assert con.execute("SELECT resource_id FROM records").fetchone()[0] == "r1"
    con.close()


def test_refresh_history_keeps_failed_builds(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    with pytest.raises(StoreError):
        with build_version(store, "refresh"):
            raise StoreError("API injoignable")
    publish(store, record(0))
    con = store.connect()
    outcomes = [r[0] for r in con.execute("SELECT outcome FROM refreshes ORDER BY started_at").fetchall()]
    con.close()
    assert outcomes == ["published", "failed", "published"]


def test_validation_refuses_a_version_with_too_few_records(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0), record(1, contract_id="C2"))
    with pytest.raises(StoreError, match="Publication refusée"):
        with build_version(store, "refresh") as build:
            build.expect_min_records = 2
            build.add(record(0))
    assert count(store, "records") == 2


def test_old_versions_are_pruned_after_the_grace_period(tmp_path):
    store = Store(tmp_path)
    for _ in range(4):
        publish(store, record(0))
    files = sorted(store.versions_dir.glob("*.duckdb"))
    assert len(files) == 4  # all within the grace period
    removed = store.prune(now=files[-1].stat().st_mtime + 10**6)
    kept = sorted(store.versions_dir.glob("*.duckdb"))
    assert len(removed) == 2 and store.current().path in kept and len(kept) == 2


def test_pointer_is_plain_json_naming_the_version(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0), command="load")
    info = json.loads(store.pointer.read_text())
    assert info["command"] == "load"
    assert (store.versions_dir / info["file"]).exists()


READER_SCRIPT = """
import sys, time
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store
store = Store(sys.argv[1])
con = store.connect()
print(con.execute("SELECT count(*) FROM records").fetchone()[0], flush=True)
sys.stdin.readline()  # the parent publishes a new version meanwhile
print(con.execute("SELECT count(*) FROM records").fetchone()[0], flush=True)
con.close()
print(store.connect().execute("SELECT count(*) FROM records").fetchone()[0], flush=True)
"""


def test_reader_in_another_process_is_not_blocked_by_a_build(tmp_path):
    import subprocess
    import sys

    store = Store(tmp_path)
    publish(store, record(0))
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "1"
        # the reader holds the published file open while this process builds and publishes
        publish(store, record(0), record(1, contract_id="C2"))
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "1"
        assert reader.stdout.readline().strip() == "2"
    finally:
        reader.kill()
        reader.wait()


def test_build_connection_memory_is_capped_and_configurable(tmp_path, monkeypatch):
    store = Store(tmp_path)
    seen = {}

    def build():
        with build_version(store, "test") as b:
            b.add(record(0))
            seen["limit"] = b.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    build()
    assert seen["limit"] == "667.5 MiB"  # the default 700MB cap, as DuckDB spells it
    monkeypatch.setenv("DECP_BUILD_MEMORY_LIMIT", "1GB")
    build()
    assert seen["limit"] == "953.6 MiB"


def test_invalid_memory_limit_fails_the_build_and_keeps_the_previous_version(tmp_path, monkeypatch):
    store = Store(tmp_path)
    publish(store, record(0))
    before = store.current()
    monkeypatch.setenv("DECP_BUILD_MEMORY_LIMIT", "beaucoup")
    with pytest.raises(duckdb.Error):
        publish(store, record(0), record(1, contract_id="C2"))
    assert store.current() == before
    assert count(store, "records") == 1


def test_local_files_take_their_catalogue_resource_by_name(tmp_path):
    store = Store(tmp_path)
    with build_version(store, "test") as build:
        build.add_resources([{"resource_id": "r1", "dataset_id": "d1",
                              "url": "https://static.data.gouv.fr/resources/x/20240101-000000/declarations-p.csv"},
                             {"resource_id": "r2", "dataset_id": "d1",
                              "url": "https://static.data.gouv.fr/resources/x/20240101-000000/DECP-a.json?download=1"}])
        build.add(Declaration(source_file="corpus/declarations/declarations-p.csv", line=2,
                              siret="21440036800012", siret_raw="21440036800012"))
        build.add(record(0, source_file="corpus/b/DECP-a.json"))
        build.add(Finding("corpus/b/DECP-a.json", "utf8_bom", "BOM"))
        build.add(record(1, contract_id="C9", source_file="corpus/other.json"))
    con = store.connect()
    try:
        assert con.execute("SELECT resource_id FROM declarations").fetchall() == [("r1",)]
        assert con.execute("SELECT source_file, resource_id FROM records ORDER BY position").fetchall() == [
            ("corpus/b/DECP-a.json", "r2"), ("corpus/other.json", None)]
        assert con.execute("SELECT resource_id FROM findings").fetchall() == [("r2",)]
    finally:
        con.close()


def test_dataset_metadata_loaded_again_is_not_duplicated(tmp_path, real_dir):
    # The real Dematis dataset description (1 222 resources): three loads of the same file, then
    # the same dataset from another file name, must leave one dataset and one set of resources.
    import shutil
    import time

    from decp_monitor.pipeline.files import load_paths

    source = real_dir / "datagouv-api" / "dataset_e-marchespublics_5c0a7845634f4139b2ee8883.json"
    store = Store(tmp_path / "store")
    counts = []
    for _ in range(3):
        with build_version(store, "load", carry_over=True, replace_sources=(str(source),)) as build:
            started = time.perf_counter()
            assert load_paths(build, [source]) == {"dataset": 1}
            read_seconds = time.perf_counter() - started
        counts.append((count(store, "datasets"), count(store, "resources")))
    assert counts == [(1, 1222)] * 3
    # bulk insert: well under the 15-28 s the row-by-row inserts took (generous for a shared machine)
    assert read_seconds < 5
    copy = tmp_path / "copy.json"
    shutil.copy(source, copy)
    with build_version(store, "load", carry_over=True, replace_sources=(str(copy),)) as build:
        load_paths(build, [copy])
    assert (count(store, "datasets"), count(store, "resources")) == (1, 1222)
    con = store.connect()
    assert con.execute("SELECT source FROM datasets").fetchone()[0] == str(copy)
    con.close()


def test_the_cap_gives_way_to_what_the_rest_of_the_process_holds(tmp_path, monkeypatch):
    from decp_monitor.store import versions

    store = Store(tmp_path)
    seen = {}
    with build_version(store, "test") as b:
        b.add(record(0))
        cap = b.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        # The share this process holds now (a test worker's imports vary), plus room to spare.
        monkeypatch.setattr(versions, "PROCESS_SHARE_MB", versions.resident_mb() + 50)
        assert versions.fit_memory_limit(b.con) is None
        held = b"x" * (250 << 20)  # the heap a national crawl leaves behind: 200 MB beyond the share
        fitted = versions.fit_memory_limit(b.con)
        seen["limit"] = b.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        del held
    assert cap == "667.5 MiB"
    assert fitted is not None and 667.5 - 230 <= fitted <= 667.5 - 170
    assert float(seen["limit"].split()[0]) == pytest.approx(fitted, abs=1)
    assert count(store, "records") == 1  # the build went on under the lower cap and published


def test_a_load_keeps_its_cap_whatever_the_process_holds(tmp_path, monkeypatch):
    # After a large file most of the resident memory is DuckDB's own, kept for reuse: lowering
    # the cap there made the 1.5 M load spill (only the refresh fits its cap: test_refresh.py).
    from decp_monitor.store import versions

    monkeypatch.setattr(versions, "PROCESS_SHARE_MB", 1)
    with build_version(Store(tmp_path), "test") as b:
        b.add(record(0))
    assert "memory_limit_mib" not in b.stats


def test_file_readers_are_written_in_batches_one_row_per_decp_file(tmp_path):
    # A refresh reads thousands of small files: one INSERT (a commit) per file cost ~3 ms each.
    from decp_monitor.pipeline.files import STREAM_READER

    store = Store(tmp_path / "store")
    files = tmp_path / "files"
    files.mkdir()
    marche = ('{"id": "C%d", "acheteur": {"id": "21440036800012"}, "dateNotification": "2024-01-15", '
              '"datePublicationDonnees": "2024-02-01"}')
    (files / "a.json").write_text('{"marches": [%s]}' % (marche % 1), encoding="utf-8")
    (files / "b.xml").write_text("<marches><marche><id>C2</id><acheteur><id>21440036800012</id></acheteur>"
                                 "<dateNotification>2024-01-15</dateNotification>"
                                 "<datePublicationDonnees>2024-02-01</datePublicationDonnees></marche></marches>",
                                 encoding="utf-8")
    (files / "c.json").write_text('[%s, %s]' % (marche % 3, marche % 4), encoding="utf-8")
    with build_version(store, "test") as build:
        for index, name in enumerate(("a.json", "b.xml", "c.json")):
            assert build.load_file(files / name, name=f"https://h/{name}", resource_id=f"r{index}") == "decp"
        # buffered with the records, not one statement per file
        assert build.con.execute("SELECT count(*) FROM file_readers").fetchone()[0] == 0
    con = store.connect()
    try:
        assert con.execute("SELECT source_file, resource_id, reader FROM file_readers ORDER BY ALL").fetchall() == [
            ("https://h/a.json", "r0", STREAM_READER), ("https://h/b.xml", "r1", STREAM_READER),
            ("https://h/c.json", "r2", STREAM_READER)]
        assert con.execute("SELECT resource_id, count(*) FROM records GROUP BY ALL ORDER BY ALL").fetchall() == [
            ("r0", 1), ("r1", 1), ("r2", 2)]
    finally:
        con.close()
