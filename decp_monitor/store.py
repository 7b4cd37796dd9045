"""Versioned DuckDB databases: build a new file, validate it, publish it atomically.

DuckDB allows one writer per file and a writer blocks readers in other processes, while the
dashboard keeps the database open. So nothing ever writes the published file: every load builds
a new version file under `versions/`, and publishing it is one `os.replace` of the `CURRENT`
pointer. Readers attach the version named by the pointer read-only and notice a new one by
re-reading the pointer. A build that fails anywhere deletes its own file and leaves the pointer
alone: the previous version keeps serving.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import duckdb

from .ingest import BatchWriter

DATA_DIR_ENV = "DECP_DATA_DIR"
DEFAULT_DATA_DIR = "data"
POINTER = "CURRENT"
REFRESH_LOG = "refresh-log.jsonl"
# An old version stays on disk this long after it stopped being current, so that a reader that
# opened it just before the swap can finish its queries.
GRACE_SECONDS = 15 * 60
KEEP_VERSIONS = 2
# DuckDB caches written blocks up to 80 % of RAM by default: a national build (1.5 M contracts)
# then peaks at 1.2 GB. Capped, it peaks under 1 GB at the same speed (BENCHMARKS.md). Operators
# that cannot spill fail the build above the cap, and the previous version keeps serving:
# raise it with this variable (e.g. "2GB"), or set it empty for DuckDB's default.
BUILD_MEMORY_LIMIT_ENV = "DECP_BUILD_MEMORY_LIMIT"
DEFAULT_BUILD_MEMORY_LIMIT = "700MB"

# Tables every published version must have; the build fails validation without them.
REQUIRED_TABLES = (
    "meta", "datasets", "resources", "declarations", "records", "record_modifications",
    "findings", "sightings", "refreshes", "contracts", "modifications",
)
# Stored (not derived) tables, carried from the previous version by an incremental load.
STORED_TABLES = (
    "datasets", "resources", "declarations", "records", "record_modifications", "findings",
)

_SQL_DIR = Path(__file__).resolve().parent


def sql_file(name: str) -> str:
    return (_SQL_DIR / name).read_text(encoding="utf-8")


def resolve_data_dir(data_dir: Optional[str | os.PathLike] = None) -> Path:
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


class StoreError(RuntimeError):
    """A build that cannot be published; the message is French and shown as is."""


@dataclass(frozen=True)
class Version:
    path: Path
    published_at: str
    command: str
    source: str

    @property
    def name(self) -> str:
        return self.path.name


class Store:
    def __init__(self, data_dir: Optional[str | os.PathLike] = None):
        self.root = resolve_data_dir(data_dir)
        self.versions_dir = self.root / "versions"
        self.cache_dir = self.root / "cache"
        self.pointer = self.root / POINTER
        self.refresh_log = self.root / REFRESH_LOG

    # -- reading -------------------------------------------------------------------------------

    def current(self) -> Optional[Version]:
        try:
            info = json.loads(self.pointer.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        path = self.versions_dir / info["file"]
        if not path.exists():
            return None
        return Version(path, info.get("published_at", ""), info.get("command", ""), info.get("source", ""))

    def connect(self, version: Optional[Version] = None) -> Optional[duckdb.DuckDBPyConnection]:
        """A read-only connection on the current (or given) version, None when nothing is published."""
        version = version or self.current()
        if version is None:
            return None
        return duckdb.connect(str(version.path), read_only=True)

    def meta(self) -> dict[str, str]:
        """The current version's meta table (empty when nothing is published)."""
        con = self.connect()
        if con is None:
            return {}
        try:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())
        finally:
            con.close()

    def read_refresh_log(self) -> list[dict]:
        """Every build outcome, failed ones included (those never reach a database)."""
        try:
            lines = self.refresh_log.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash mid-write; the others stand
        return entries

    # -- building ------------------------------------------------------------------------------

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One build at a time per data directory (a cron refresh and a manual load may meet)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".build.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextmanager
    def build(
        self,
        command: str,
        source: str = "",
        *,
        carry_over: bool = False,
        replace_sources: tuple[str, ...] = (),
        meta: Optional[dict] = None,
        finish: Optional[Callable[[duckdb.DuckDBPyConnection], None]] = None,
    ) -> Iterator["Build"]:
        """Build a new version; publish it when the block exits normally.

        carry_over: start from the current version's stored tables (an incremental load), minus
        the rows of `replace_sources` (files being loaded again). Sightings and the refresh history
        are always carried: they are the monitor's memory.
        finish: extra work on the new database before validation (e.g. compliance).
        """
        with self.exclusive():
            yield from self._build(command, source, carry_over, replace_sources, meta, finish)

    def _build(self, command, source, carry_over, replace_sources, meta, finish):
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        build_id = started.strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]
        path = self.versions_dir / f"decp-{build_id}.duckdb"
        con = duckdb.connect(str(path))
        memory_limit = os.environ.get(BUILD_MEMORY_LIMIT_ENV, DEFAULT_BUILD_MEMORY_LIMIT).strip()
        build = Build(self, con, path, build_id, command, source, started)
        try:
            if memory_limit:
                con.execute("SET memory_limit = ?", [memory_limit])
            con.execute(sql_file("schema.sql"))
            previous = self.current()
            if previous is not None:
                build.carry_from(previous, carry_over, replace_sources)
            yield build
            build.writer.flush()
            build.finish(meta or {}, finish)
            con.execute("CHECKPOINT")
            con.close()
            self._publish(path, build)
        except BaseException as exc:
            try:
                con.close()
            except duckdb.Error:
                pass
            for leftover in (path, path.with_suffix(".duckdb.wal")):
                leftover.unlink(missing_ok=True)
            build.log_outcome("failed", _describe(exc))
            raise
        self.prune()

    def _publish(self, path: Path, build: "Build") -> None:
        info = {
            "file": path.name,
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": build.command,
            "source": build.source,
        }
        tmp = self.pointer.with_name(f".{POINTER}.{build.build_id}.tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.pointer)
        build.log_outcome("published", "")

    def prune(self, now: Optional[float] = None) -> list[Path]:
        """Remove old versions: keep the current one, the newest few, and any within the grace period."""
        now = now or time.time()
        current = self.current()
        files = sorted(self.versions_dir.glob("decp-*.duckdb"), reverse=True)
        removed = []
        for index, file in enumerate(files):
            if current is not None and file == current.path:
                continue
            if index < KEEP_VERSIONS or now - file.stat().st_mtime < GRACE_SECONDS:
                continue
            file.unlink(missing_ok=True)
            removed.append(file)
        return removed


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrompu par l'utilisateur"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreError) else str(exc)


class Build:
    """A version being built: a writable connection plus batched writers."""

    def __init__(self, store: Store, con, path: Path, build_id: str, command: str, source: str, started):
        self.store = store
        self.con = con
        self.path = path
        self.build_id = build_id
        self.command = command
        self.source = source
        self.started = started
        self.writer = BatchWriter(con)
        self.stats: dict[str, int] = {}
        self.expect_min_records: Optional[int] = None

    # Writing ---------------------------------------------------------------------------------

    def add(self, item, resource_id: Optional[str] = None) -> None:
        """Add a Record, Finding or Declaration read by a reader."""
        self.writer.add(item, resource_id=resource_id)

    def add_datasets(self, rows: list[dict]) -> None:
        self.writer.insert_dicts("datasets", rows)

    def add_resources(self, rows: list[dict]) -> None:
        self.writer.insert_dicts("resources", rows)

    def load_file(self, path, name: Optional[str] = None, resource_id: Optional[str] = None) -> str:
        """Read one local file with the reader its content calls for; returns the kind read."""
        from .load import load_file

        return load_file(self, Path(path), name=name, resource_id=resource_id)

    # Carrying over ---------------------------------------------------------------------------

    def carry_from(self, previous: Version, all_tables: bool, replace_sources: tuple[str, ...]) -> None:
        con = self.con
        con.execute("ATTACH ? AS prev (READ_ONLY)", [str(previous.path)])
        try:
            prev_tables = {
                row[0] for row in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'prev'"
                ).fetchall()
            }
            for table in ("sightings", "refreshes"):
                if table in prev_tables:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM prev.{table}")
            if all_tables:
                replaced = list(replace_sources)
                for table in STORED_TABLES:
                    if table not in prev_tables:
                        continue
                    if table == "record_modifications":
                        con.execute(
                            "INSERT INTO record_modifications BY NAME SELECT m.* FROM prev.record_modifications m "
                            "JOIN prev.records r USING (record_id) WHERE NOT list_contains(?, r.source_file)",
                            [replaced],
                        )
                    elif table in ("datasets", "resources"):
                        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM prev.{table}")
                    else:
                        con.execute(
                            f"INSERT INTO {table} BY NAME SELECT * FROM prev.{table} "
                            "WHERE source_file IS NULL OR NOT list_contains(?, source_file)",
                            [replaced],
                        )
                next_id = con.execute("SELECT coalesce(max(record_id), -1) + 1 FROM records").fetchone()[0]
                self.writer.next_record_id = next_id
        finally:
            con.execute("DETACH prev")

    # Finishing -------------------------------------------------------------------------------

    def finish(self, meta: dict, finish: Optional[Callable]) -> None:
        con = self.con
        self._attach_resources_to_local_files()
        con.execute(sql_file("consolidate.sql"))
        con.execute(sql_file("consolidate_findings.sql"))
        self._record_sightings()
        base_meta = {
            "built_at": self.started.isoformat(timespec="seconds"),
            "command": self.command,
            "source": self.source,
            "version": self.path.name,
        }
        base_meta.update({k: str(v) for k, v in meta.items() if v is not None})
        con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(base_meta.items()))
        if finish is not None:
            finish(con)
        else:
            self._compute_compliance()
        counts = self.counts()
        self.stats.update(counts)
        self._import_failed_outcomes()
        con.execute(
            "INSERT INTO refreshes VALUES (?, ?, ?, ?, ?, 'published', ?, ?, ?, ?, ?, ?, ?)",
            [
                self.build_id, self.started, _utcnow(), self.command, self.source,
                self.stats.get("message", ""), counts["datasets"], counts["resources"],
                counts["files"], counts["records"], counts["findings"],
                self.stats.get("bytes_downloaded", 0),
            ],
        )
        self.validate(counts)

    def _import_failed_outcomes(self) -> None:
        """Failed builds never reached a database: bring their log lines into the history."""
        known = {row[0] for row in self.con.execute("SELECT refresh_id FROM refreshes").fetchall()}
        for entry in self.store.read_refresh_log():
            if entry.get("outcome") == "published" or entry.get("refresh_id") in known:
                continue
            self.con.execute(
                "INSERT INTO refreshes (refresh_id, started_at, finished_at, command, source, outcome, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [entry.get("refresh_id"), entry.get("started_at"), entry.get("finished_at"),
                 entry.get("command"), entry.get("source"), entry.get("outcome"), entry.get("message")],
            )

    def _compute_compliance(self) -> None:
        try:
            from . import compliance
        except ImportError:  # the engine is optional while the package is assembled
            return
        compliance.compute(self.con)

    def _record_sightings(self) -> None:
        """The monitor is a witness: remember when each contract was first seen."""
        self.con.execute(
            """
            INSERT INTO sightings
            SELECT c.buyer_siret, c.contract_id, c.notification_date, ?
            FROM contracts c
            WHERE c.contract_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM sightings s
                WHERE s.buyer_siret IS NOT DISTINCT FROM c.buyer_siret
                  AND s.contract_id = c.contract_id
                  AND s.notification_date IS NOT DISTINCT FROM c.notification_date)
            """,
            [self.started],
        )

    def _attach_resources_to_local_files(self) -> None:
        """Files loaded from disk take the catalogue resource whose URL ends with their name."""
        self.con.execute(
            """
            CREATE OR REPLACE TEMP TABLE local_file_resources AS
            SELECT regexp_extract(url, '([^/?#]+)(?:[?#].*)?$', 1) AS file_name, any_value(resource_id) AS resource_id
            FROM resources WHERE url IS NOT NULL AND resource_id IS NOT NULL GROUP BY 1
            """
        )
        for table in ("records", "declarations", "findings"):
            self.con.execute(
                f"""
                UPDATE {table} SET resource_id = m.resource_id
                FROM local_file_resources m
                WHERE {table}.resource_id IS NULL
                  AND regexp_extract({table}.source_file, '[^/\\\\]+$') = m.file_name
                """
            )

    def counts(self) -> dict[str, int]:
        con = self.con
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "datasets": one("SELECT count(*) FROM datasets"),
            "resources": one("SELECT count(*) FROM resources"),
            "declarations": one("SELECT count(*) FROM declarations"),
            "files": one("SELECT count(DISTINCT source_file) FROM (SELECT source_file FROM records "
                         "UNION ALL SELECT source_file FROM findings)"),
            "records": one("SELECT count(*) FROM records"),
            "contracts": one("SELECT count(*) FROM contracts"),
            "findings": one("SELECT count(*) FROM findings"),
        }

    def validate(self, counts: dict[str, int]) -> None:
        present = {
            row[0] for row in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
        }
        missing = [t for t in REQUIRED_TABLES if t not in present]
        if missing:
            raise StoreError(f"Base incomplète, tables absentes : {', '.join(missing)}")
        if counts["contracts"] > counts["records"]:
            raise StoreError("Base incohérente : plus de contrats que d'enregistrements lus")
        if self.expect_min_records is not None and counts["records"] < self.expect_min_records:
            raise StoreError(
                f"Publication refusée : {counts['records']} enregistrements lus, "
                f"{self.expect_min_records} attendus au minimum (la version précédente reste en service)"
            )

    def log_outcome(self, outcome: str, message: str) -> None:
        entry = {
            "refresh_id": self.build_id,
            "started_at": self.started.isoformat(),
            "finished_at": _utcnow().isoformat(),
            "command": self.command,
            "source": self.source,
            "outcome": outcome,
            "message": message,
            **{k: v for k, v in self.stats.items() if isinstance(v, int)},
        }
        self.store.root.mkdir(parents=True, exist_ok=True)
        with open(self.store.refresh_log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
