"""Versioned DuckDB databases: one file per build, published atomically by a pointer.

DuckDB allows one writer per file and a writer blocks readers in other processes, while the
dashboard keeps the database open. So nothing ever writes the published file: every build writes
a new version file under `versions/`, and publishing it is one `os.replace` of the `CURRENT`
pointer. Readers open the version named by the pointer read-only and notice a new one by
re-reading the pointer. A build that fails anywhere deletes its own file and leaves the pointer
alone: the previous version keeps serving. What goes into a version is the pipeline's business
(decp_monitor.pipeline); this module owns the files, the pointer, the lock and the history.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import duckdb

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

SCHEMA_SQL = Path(__file__).resolve().with_name("schema.sql")


def schema_sql() -> str:
    """The stored tables' DDL (docs/SCHEMA.md describes them)."""
    return SCHEMA_SQL.read_text(encoding="utf-8")


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


@dataclass
class NewVersion:
    """A version file being written: its writable connection and identity."""

    con: duckdb.DuckDBPyConnection
    path: Path
    build_id: str
    started: dt.datetime


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

    def log_outcome(self, entry: dict[str, Any]) -> None:
        """Append one build outcome to the history (published or failed)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.refresh_log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    # -- writing -------------------------------------------------------------------------------

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
    def new_version(self, publish_info: dict[str, str]) -> Iterator[NewVersion]:
        """A new version file with the stored tables' schema; published when the block exits
        normally, deleted when it raises. The caller holds `exclusive()`."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        build_id = started.strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]
        path = self.versions_dir / f"decp-{build_id}.duckdb"
        con = duckdb.connect(str(path))
        try:
            memory_limit = os.environ.get(BUILD_MEMORY_LIMIT_ENV, DEFAULT_BUILD_MEMORY_LIMIT).strip()
            if memory_limit:
                con.execute("SET memory_limit = $limit", {"limit": memory_limit})
            con.execute(schema_sql())
            yield NewVersion(con, path, build_id, started)
            con.execute("CHECKPOINT")
            con.close()
            self._publish(path, build_id, publish_info)
        except BaseException:
            try:
                con.close()
            except duckdb.Error:
                pass
            for leftover in (path, path.with_suffix(".duckdb.wal")):
                leftover.unlink(missing_ok=True)
            raise
        self.prune()

    def _publish(self, path: Path, build_id: str, publish_info: dict[str, str]) -> None:
        info = {
            "file": path.name,
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **publish_info,
        }
        tmp = self.pointer.with_name(f".{POINTER}.{build_id}.tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.pointer)

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
