"""The pipeline: what goes into a new version, stage by stage.

    start (carry the previous version over) -> read (files, refresh) -> consolidate
        -> compliance -> record (meta, history) -> validate -> publish (the store)

`build_version()` runs the stages around the reading done in its block; every stage is a function
of a connection that can be run and tested alone.
"""
from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import duckdb

from decp_monitor import compliance
from decp_monitor.store.versions import STORE_FORMAT, STORE_FORMAT_KEY, NewVersion, Store, StoreError, Version
from decp_monitor.store.writer import BatchWriter

_SQL_DIR = Path(__file__).resolve().parent

# Tables every published version must have; the build fails validation without them.
REQUIRED_TABLES = (
    "meta", "datasets", "resources", "declarations", "records", "record_modifications",
    "findings", "sightings", "refreshes", "contracts", "modifications", "register",
) + compliance.TABLES
# Stored (not derived) tables, carried from the previous version by an incremental load.
STORED_TABLES = (
    "datasets", "resources", "declarations", "records", "record_modifications", "findings", "file_readers",
)
# Tables always carried: the monitor's memory.
MEMORY_TABLES = ("sightings", "refreshes", "register")
# What the previous version says of each resource, to tell an unchanged one (sources.cache.fingerprint).
PREVIOUS_RESOURCE_COLUMNS = (
    "resource_id", "url", "checksum_value", "last_modified", "filesize",
    "classification", "classification_reason", "local_file", "download_status",
)

StageListener = Callable[[str], None]


def sql(name: str) -> str:
    """One of the pipeline's SQL files (consolidate.sql, consolidate_findings.sql)."""
    return (_SQL_DIR / name).read_text(encoding="utf-8")


class Build:
    """A version being built: its writable connection, batched writers and what was counted."""

    def __init__(self, store: Store, version: NewVersion, command: str, source: str):
        self.store = store
        self.con = version.con
        self.path = version.path
        self.build_id = version.build_id
        self.started = version.started
        self.command = command
        self.source = source
        self.writer = BatchWriter(self.con)
        self.stats: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.expect_min_records: Optional[int] = None
        # Set when the previous version could not be read: the history is then rebuilt from the log.
        self.previous_unreadable: Optional[str] = None
        self.warnings: list[str] = []
        # Register facts handed to the build (the demo corpus ships its own), beside the cache's.
        self.register_facts: list = []

    def warn(self, message: str) -> None:
        """A French warning about this build: kept in its history (refreshes.message, refresh log)
        and shown at once on the standard error (the command line's user, the dashboard's log)."""
        self.warnings.append(message)
        print(f"Attention : {message}", file=sys.stderr, flush=True)

    def message(self) -> str:
        """The history's message: the warnings, then what the command said about itself."""
        return " ; ".join([*self.warnings, *filter(None, [self.stats.get("message", "")])])

    def add(self, item, resource_id: Optional[str] = None) -> None:
        """Add a Record, Finding or Declaration read by a reader."""
        self.writer.add(item, resource_id=resource_id)

    def add_datasets(self, rows: list[dict]) -> None:
        """Add dataset rows; a dataset already in the build (same id, e.g. carried over from the
        previous version or read from another file) is replaced with its resources: one row per
        dataset, whatever the number of loads."""
        ids = [row["dataset_id"] for row in rows if row.get("dataset_id") is not None]
        if ids:
            self.con.execute("DELETE FROM resources WHERE list_contains($ids, dataset_id)", {"ids": ids})
            self.con.execute("DELETE FROM datasets WHERE list_contains($ids, dataset_id)", {"ids": ids})
        self.writer.insert_dicts("datasets", rows)

    def add_resources(self, rows: list[dict]) -> None:
        self.writer.insert_dicts("resources", rows)

    def readable_previous(self) -> Optional[Version]:
        """The version this build started from, None when there is none or it could not be read
        (start_from then started from nothing: nothing is taken from it afterwards either)."""
        if self.previous_unreadable is not None:
            return None
        return self.store.current()

    def previous_resources(self) -> dict[str, dict]:
        """The current (previous) version's resources by id: what it read, and from which file."""
        previous = self.readable_previous()
        if previous is None:
            return {}
        return previous_resources(self.con, previous)

    def carry_resources(self, resource_ids: list[str]) -> int:
        """Take over the previous version's rows read from these (unchanged) resources instead of
        reading their files again; before anything is read into this build. Returns rows carried."""
        previous = self.readable_previous()
        if previous is None or not resource_ids:
            return 0
        self.writer.flush()
        before = self.con.execute("SELECT count(*) FROM records").fetchall()[0][0]
        self.writer.next_record_id = max(self.writer.next_record_id,
                                         carry_resources(self.con, previous, resource_ids))
        return self.con.execute("SELECT count(*) FROM records").fetchall()[0][0] - before

    def load_file(self, path, name: Optional[str] = None, resource_id: Optional[str] = None) -> str:
        """Read one local file with the reader its content calls for; returns the kind read."""
        from decp_monitor.pipeline.files import load_file

        return load_file(self, Path(path), name=name, resource_id=resource_id)

    def outcome(self, outcome: str, message: str) -> dict[str, Any]:
        return {
            "refresh_id": self.build_id,
            "started_at": self.started.isoformat(),
            "finished_at": _utcnow().isoformat(),
            "command": self.command,
            "source": self.source,
            "outcome": outcome,
            "message": message,
            **{k: v for k, v in self.stats.items() if isinstance(v, int)},
        }


@contextmanager
def build_version(
    store: Store,
    command: str,
    source: str = "",
    *,
    carry_over: bool = False,
    replace_sources: tuple[str, ...] = (),
    meta: Optional[dict] = None,
    on_stage: Optional[StageListener] = None,
) -> Iterator[Build]:
    """Build a new version from what the block reads into it; publish it when the block exits.

    carry_over: start from the current version's stored tables (an incremental load), minus the
    rows of `replace_sources` (files being loaded again). Sightings and the refresh history are
    always carried. on_stage: told the name of each stage as it starts (benchmarks time them).
    """
    stage = on_stage or (lambda name: None)
    publish_info = {"command": command, "source": source}
    with store.exclusive(" ".join(filter(None, (command, source)))[:200]):
        build: Optional[Build] = None
        try:
            with store.new_version(publish_info) as version:
                build = Build(store, version, command, source)
                previous = store.current()
                if previous is not None:
                    stage("start")
                    try:
                        build.writer.next_record_id = start_from(build.con, previous, carry_over, replace_sources)
                    except duckdb.Error as exc:
                        # A damaged previous version must not block every future build: this one
                        # starts from what can still be read (the refresh log) and says so.
                        build.previous_unreadable = previous.name
                        build.warn(
                            f"Version précédente illisible ({previous.name}) : cette construction repart "
                            f"de zéro{'' if not carry_over else ' (les fichiers chargés auparavant ne sont pas repris)'} ; "
                            "l'historique des chargements est repris du journal, les dates de première "
                            f"observation des contrats sont perdues. Détail technique : {_first_line(exc)}"
                        )
                stage("read")
                with _timed(build, "read"):
                    yield build
                    build.writer.flush()
                finish(build, meta or {}, stage)
        except BaseException as exc:
            if build is not None:
                store.log_outcome(build.outcome("failed", " ; ".join([_describe(exc), *build.warnings])))
            raise
        store.log_outcome(build.outcome("published", build.message()))


def finish(build: Build, meta: dict, stage: StageListener) -> None:
    """The stages after reading: consolidate, compliance, record, validate."""
    con = build.con
    stage("consolidate")
    with _timed(build, "consolidate"):
        consolidate(con, build.started)
    record_meta(con, build, meta)
    stage("register")
    with _timed(build, "register"):
        register_stage(build)
    stage("compliance")
    with _timed(build, "compliance"):
        compliance.compute(con)
    stage("validate")
    counts = count_rows(con)
    build.stats.update(counts)
    record_history(con, build, counts)
    validate(con, counts, build.expect_min_records)
    stage("publish")


@contextmanager
def _timed(build: Build, name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        build.timings[name] = time.perf_counter() - started


# -- stages ------------------------------------------------------------------------------------


def start_from(con: duckdb.DuckDBPyConnection, previous: Version, all_tables: bool,
               replace_sources: tuple[str, ...]) -> int:
    """Carry the previous version's memory (and, for an incremental load, its stored tables minus
    the files loaded again) into the new one; returns the next free record id. A refresh carries
    the rows of its unchanged resources later, once the catalogue is known (carry_resources)."""
    con.execute("ATTACH $path AS prev (READ_ONLY)", {"path": str(previous.path)})
    # One transaction: a version damaged halfway (a checksum error on its tenth table) leaves
    # nothing half-carried, and the build can start from scratch instead (build_version).
    con.execute("BEGIN TRANSACTION")
    try:
        prev_tables = {
            row[0] for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'prev'"
            ).fetchall()
        }
        for table in MEMORY_TABLES:
            if table in prev_tables:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM prev.{table}")
        if all_tables:
            replaced = {"replaced": list(replace_sources)}
            for table in STORED_TABLES:
                if table not in prev_tables:
                    continue
                if table == "record_modifications":
                    con.execute(
                        "INSERT INTO record_modifications BY NAME SELECT m.* FROM prev.record_modifications m "
                        "JOIN prev.records r USING (record_id) WHERE NOT list_contains($replaced, r.source_file)",
                        replaced,
                    )
                elif table == "datasets":
                    # A dataset-metadata file loaded again replaces its earlier rows (it used to
                    # add a copy at every load).
                    con.execute(
                        "INSERT INTO datasets BY NAME SELECT * FROM prev.datasets "
                        "WHERE source IS NULL OR NOT list_contains($replaced, source)",
                        replaced,
                    )
                elif table == "resources":
                    con.execute(
                        "INSERT INTO resources BY NAME SELECT * FROM prev.resources r WHERE NOT EXISTS ("
                        " SELECT 1 FROM prev.datasets d WHERE d.dataset_id = r.dataset_id"
                        " AND list_contains($replaced, d.source))",
                        replaced,
                    )
                else:
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM prev.{table} "
                        "WHERE source_file IS NULL OR NOT list_contains($replaced, source_file)",
                        replaced,
                    )
        next_id = _one(con, "SELECT coalesce(max(record_id), -1) + 1 FROM records")
        con.execute("COMMIT")
        return next_id
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DETACH DATABASE IF EXISTS prev")


def register_stage(build: Build) -> None:
    """The register of buyers: the data's clues and the register cache's facts (register/apply.py)."""
    from decp_monitor.register.apply import apply

    build.stats["register"] = apply(build.con, build.store.root, build.register_facts,
                                    keep_demo=build.command == "demo")


def carry_resources(con: duckdb.DuckDBPyConnection, previous: Version, resource_ids) -> int:
    """The previous version's rows read from these resources (unchanged since it was built);
    returns the next free record id. Record ids are kept: they are unique in `previous`,
    and the rows read afterwards are numbered after them."""
    con.execute("ATTACH $path AS prev (READ_ONLY)", {"path": str(previous.path)})
    try:
        _carry_resource_rows(con, tuple(resource_ids))
        return con.execute("SELECT coalesce(max(record_id), -1) + 1 FROM records").fetchall()[0][0]
    finally:
        con.execute("DETACH prev")


def _carry_resource_rows(con: duckdb.DuckDBPyConnection, resource_ids: tuple[str, ...]) -> None:
    """Records (with their modifications), findings and declarations of `prev` read from these
    resources. Findings of the whole corpus (duplicate_record, reused_id) come along and are
    recomputed by consolidation like any build's."""
    con.execute("CREATE OR REPLACE TEMP TABLE carried_resources AS SELECT DISTINCT unnest($ids) AS resource_id",
                {"ids": list(resource_ids)})
    try:
        prev_tables = {row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'prev'").fetchall()}
        for table in ("records", "findings", "declarations"):
            if table in prev_tables:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM prev.{table} "
                            "WHERE resource_id IN (SELECT resource_id FROM carried_resources)")
        if "record_modifications" in prev_tables:
            con.execute(
                "INSERT INTO record_modifications BY NAME SELECT m.* FROM prev.record_modifications m "
                "JOIN prev.records r USING (record_id) "
                "WHERE r.resource_id IN (SELECT resource_id FROM carried_resources)"
            )
    finally:
        con.execute("DROP TABLE carried_resources")


def previous_resources(con: duckdb.DuckDBPyConnection, previous: Version) -> dict[str, dict]:
    """`previous`'s resources table by resource id (PREVIOUS_RESOURCE_COLUMNS)."""
    con.execute("ATTACH $path AS prev (READ_ONLY)", {"path": str(previous.path)})
    try:
        has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'prev' "
                          "AND table_name = 'resources'").fetchall()[0][0]
        if not has:
            return {}
        columns = ", ".join(PREVIOUS_RESOURCE_COLUMNS)
        rows = con.execute(f"SELECT {columns} FROM prev.resources WHERE resource_id IS NOT NULL").fetchall()
    finally:
        con.execute("DETACH prev")
    return {row[0]: dict(zip(PREVIOUS_RESOURCE_COLUMNS, row)) for row in rows}


def consolidate(con: duckdb.DuckDBPyConnection, seen_at: dt.datetime) -> None:
    """Records -> contracts and modifications; findings deduplicated; first sightings remembered."""
    attach_resources_to_local_files(con)
    con.execute(sql("consolidate.sql"))
    con.execute(sql("consolidate_findings.sql"))
    record_sightings(con, seen_at)


def attach_resources_to_local_files(con: duckdb.DuckDBPyConnection) -> None:
    """Files loaded from disk take the catalogue resource whose URL ends with their name."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE local_file_resources AS
        SELECT regexp_extract(url, '([^/?#]+)(?:[?#].*)?$', 1) AS file_name, any_value(resource_id) AS resource_id
        FROM resources WHERE url IS NOT NULL AND resource_id IS NOT NULL GROUP BY 1
        """
    )
    for table in ("records", "declarations", "findings"):
        con.execute(
            f"""
            UPDATE {table} SET resource_id = m.resource_id
            FROM local_file_resources m
            WHERE {table}.resource_id IS NULL
              AND regexp_extract({table}.source_file, '[^/\\\\]+$') = m.file_name
            """
        )


def record_sightings(con: duckdb.DuckDBPyConnection, seen_at: dt.datetime) -> None:
    """The monitor is a witness: remember when each contract was first seen."""
    con.execute(
        """
        INSERT INTO sightings
        SELECT c.buyer_siret, c.contract_id, c.notification_date, $seen_at
        FROM contracts c
        WHERE c.contract_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM sightings s
            WHERE s.buyer_siret IS NOT DISTINCT FROM c.buyer_siret
              AND s.contract_id = c.contract_id
              AND s.notification_date IS NOT DISTINCT FROM c.notification_date)
        """,
        {"seen_at": seen_at},
    )


def record_meta(con: duckdb.DuckDBPyConnection, build: Build, meta: dict) -> None:
    values = {
        "built_at": build.started.isoformat(timespec="seconds"),
        "command": build.command,
        "source": build.source,
        "version": build.path.name,
        STORE_FORMAT_KEY: str(STORE_FORMAT),
    }
    values.update({k: str(v) for k, v in meta.items() if v is not None})
    con.executemany("INSERT OR REPLACE INTO meta VALUES ($1, $2)", list(values.items()))


def record_history(con: duckdb.DuckDBPyConnection, build: Build, counts: dict[str, int]) -> None:
    """This build in the refreshes table, with the failed builds the log holds and the base lacks."""
    known = {row[0] for row in con.execute("SELECT refresh_id FROM refreshes").fetchall()}
    for entry in build.store.read_refresh_log():
        # Published builds are normally in the previous version's table already; when it could not
        # be read, the log is the only history left.
        if entry.get("refresh_id") in known or (
                entry.get("outcome") == "published" and build.previous_unreadable is None):
            continue
        known.add(entry.get("refresh_id"))
        con.execute(
            "INSERT INTO refreshes (refresh_id, started_at, finished_at, command, source, outcome, message) "
            "VALUES ($refresh_id, $started_at, $finished_at, $command, $source, $outcome, $message)",
            {key: entry.get(key) for key in
             ("refresh_id", "started_at", "finished_at", "command", "source", "outcome", "message")},
        )
    con.execute(
        "INSERT INTO refreshes VALUES ($id, $started, $finished, $command, $source, 'published', $message, "
        "$datasets, $resources, $files, $records, $findings, $bytes)",
        {
            "id": build.build_id, "started": build.started, "finished": _utcnow(),
            "command": build.command, "source": build.source, "message": build.message(),
            "datasets": counts["datasets"], "resources": counts["resources"], "files": counts["files"],
            "records": counts["records"], "findings": counts["findings"],
            "bytes": build.stats.get("bytes_downloaded", 0),
        },
    )


def count_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM datasets), (SELECT count(*) FROM resources),
               (SELECT count(*) FROM declarations),
               (SELECT count(DISTINCT source_file) FROM (SELECT source_file FROM records
                                                         UNION ALL SELECT source_file FROM findings)),
               (SELECT count(*) FROM records), (SELECT count(*) FROM contracts), (SELECT count(*) FROM findings)
        """
    ).fetchall()[0]
    names = ("datasets", "resources", "declarations", "files", "records", "contracts", "findings")
    return dict(zip(names, row))


def validate(con: duckdb.DuckDBPyConnection, counts: dict[str, int], expect_min_records: Optional[int] = None) -> None:
    """Refuse to publish a version that lacks a table, contradicts itself, or is too small."""
    present = {
        row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
        ).fetchall()
    }
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise StoreError(f"Base incomplète, tables absentes : {', '.join(missing)}")
    if counts["contracts"] > counts["records"]:
        raise StoreError("Base incohérente : plus de contrats que d'enregistrements lus")
    if expect_min_records is not None and counts["records"] < expect_min_records:
        raise StoreError(
            f"Publication refusée : {counts['records']} enregistrements lus, "
            f"{expect_min_records} attendus au minimum (la version précédente reste en service)"
        )


def _one(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    return con.execute(query).fetchall()[0][0]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrompu par l'utilisateur"
    return str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
