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
import sys
import time
import uuid
from collections.abc import Callable, Iterator
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
# opened it just before the swap can finish its queries. The clock starts at the swap: publishing
# touches the outgoing version's mtime (`_publish`), so a version built long ago but replaced a
# minute ago is still in its grace period.
GRACE_SECONDS = 15 * 60
KEEP_VERSIONS = 2
# A pointer being written lives a few milliseconds; one older than this was left by a crash.
STALE_POINTER_SECONDS = 5 * 60
# How long a build waits for another one holding the data directory before giving up.
BUILD_LOCK_TIMEOUT_ENV = "DECP_BUILD_LOCK_TIMEOUT"
DEFAULT_BUILD_LOCK_TIMEOUT_S = 3600.0
LOCK_FILE = ".build.lock"
# DuckDB caches written blocks up to 80 % of RAM by default: a national build (1.5 M contracts)
# then peaks at 1.2 GB. Capped, it peaks under 1 GB at the same speed (BENCHMARKS.md). Operators
# that cannot spill fail the build above the cap, and the previous version keeps serving:
# raise it with this variable (e.g. "2GB"), or set it empty for DuckDB's default.
BUILD_MEMORY_LIMIT_ENV = "DECP_BUILD_MEMORY_LIMIT"
DEFAULT_BUILD_MEMORY_LIMIT = "700MB"
# What the cap leaves to the rest of the process (interpreter, libraries, the reader's heap). A
# national refresh holds more (its download threads and the heap left by reading 26 000 files:
# 460 MB), which took its peak to 1.1 GB: before its derived stages the cap is lowered by what the
# process holds beyond this share (fit_memory_limit). Not for a load: after a large file the
# resident memory is mostly DuckDB's own, freed but kept for reuse, and the lower cap made the
# 1.5 M load spill (63 s instead of 42 s).
PROCESS_SHARE_MB = 250
MIN_BUILD_MEMORY_MB = 256

SCHEMA_SQL = Path(__file__).resolve().with_name("schema.sql")
# The shape of a published database, in its meta table (`store_format`): raised whenever a build
# writes tables the read side needs and older builds lack, so the dashboard can say so (and rebuild
# the demo) instead of failing page by page. A database without the key is format 1.
# 2: contract_compliance_rows keeps the Contrats search columns (2 Dec 2026).
STORE_FORMAT = 2
STORE_FORMAT_KEY = "store_format"


def store_format(meta: dict) -> int:
    """The format a version's meta table declares (1 when it says nothing or nonsense)."""
    value = str(meta.get(STORE_FORMAT_KEY, "1"))
    return int(value) if value.isdigit() else 1


def resident_mb() -> Optional[float]:
    """This process's resident memory now, in MiB (None where /proc is absent: not Linux)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def fit_memory_limit(con: duckdb.DuckDBPyConnection) -> Optional[float]:
    """Lower a build connection's DuckDB cap by what the rest of the process holds beyond
    PROCESS_SHARE_MB, so that cap + process stay within the budget the cap was set for.
    Returns the new cap in MiB, None when left as it was (uncapped, or within the share)."""
    setting = os.environ.get(BUILD_MEMORY_LIMIT_ENV, DEFAULT_BUILD_MEMORY_LIMIT).strip()
    resident = resident_mb()
    if not setting or resident is None:
        return None
    cap, used = con.execute(
        "SELECT (SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'), "
        "(SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory())").fetchall()[0]
    cap_mb = _mib(cap)
    beyond = resident - used / (1 << 20) - PROCESS_SHARE_MB
    if cap_mb is None or beyond <= 0:
        return None
    fitted = max(MIN_BUILD_MEMORY_MB, cap_mb - beyond)
    if fitted >= cap_mb:
        return None
    con.execute("SET memory_limit = $limit", {"limit": f"{int(fitted)}MiB"})
    return fitted


def _mib(setting: str) -> Optional[float]:
    """DuckDB's spelling of a memory setting ("667.5 MiB", "1.2 GiB") in MiB."""
    number, _, unit = setting.partition(" ")
    scale = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 1024 * 1024}.get(unit)
    return float(number) * scale if scale else None


def schema_sql() -> str:
    """The stored tables' DDL (docs/SCHEMA.md describes them)."""
    return SCHEMA_SQL.read_text(encoding="utf-8")


def resolve_data_dir(data_dir: Optional[str | os.PathLike] = None) -> Path:
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


class StoreError(RuntimeError):
    """A build that cannot be published; the message is French and shown as is."""

    exit_code = 1


class BuildLockTimeout(StoreError):
    """Another build held the data directory for longer than the lock timeout."""

    exit_code = 75  # EX_TEMPFAIL: try again later


def build_lock_timeout() -> float:
    raw = os.environ.get(BUILD_LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_BUILD_LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise StoreError(f"{BUILD_LOCK_TIMEOUT_ENV} = « {raw} » : nombre de secondes attendu (par exemple 600).")
    return value


def describe_lock_holder(lock_path: Path) -> str:
    """'la commande « load … » (processus 123, depuis 2026-…)', from what the holder wrote."""
    try:
        info = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or not info.get("command"):
        return "une autre construction"
    return (f"la construction « {info['command']} » (processus {info.get('pid', '?')}, "
            f"depuis {info.get('since', '?')})")


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
        # A pointer damaged into other JSON (or naming a path outside versions/) points nowhere:
        # the next build starts afresh rather than every command failing.
        name = info.get("file") if isinstance(info, dict) else None
        if not isinstance(name, str) or not name or Path(name).name != name:
            return None
        path = self.versions_dir / name
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
        """The current version's meta table (empty when nothing is published, or when the published
        file cannot be read: the next build then starts afresh and says so)."""
        try:
            con = self.connect()
        except duckdb.Error:
            return {}
        if con is None:
            return {}
        try:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())
        except duckdb.Error:
            return {}
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
    def exclusive(self, command: str = "", timeout: Optional[float] = None,
                  notify: Optional[Callable[[str], None]] = None) -> Iterator[None]:
        """One build at a time per data directory (a cron refresh and a manual load may meet).

        The holder writes what it is (command, process, since when) into the lock file, so that a
        build that has to wait can say what for; it gives up after `timeout` seconds
        (DECP_BUILD_LOCK_TIMEOUT, default one hour) with BuildLockTimeout.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        timeout = build_lock_timeout() if timeout is None else timeout
        notify = notify or _to_stderr
        lock_path = self.root / LOCK_FILE
        with open(lock_path, "a+", encoding="utf-8") as fh:
            started = time.monotonic()
            told = False
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    pass
                holder = describe_lock_holder(lock_path)
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise BuildLockTimeout(
                        f"Construction abandonnée : {holder} occupe le répertoire de données « {self.root} » "
                        f"et ne l'a pas libéré après {timeout:g} s d'attente. La base publiée n'a pas changé. "
                        f"Réessayez plus tard, ou allongez l'attente avec {BUILD_LOCK_TIMEOUT_ENV} (en secondes)."
                    )
                if not told:
                    notify(f"En attente : {holder} occupe le répertoire de données « {self.root} » ; "
                           f"cette construction démarrera à sa fin (attente maximale {timeout:g} s).")
                    told = True
                time.sleep(min(0.2, max(timeout - waited, 0.01)))
            try:
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps({"command": command, "pid": os.getpid(),
                                     "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
                                    ensure_ascii=False))
                fh.flush()
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fh.flush()
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
        outgoing = self.current()
        if outgoing is not None:
            # The grace period of the outgoing version starts now (prune reads this mtime). Touched
            # just before the swap: a crash in between leaves it current, never without its grace.
            try:
                os.utime(outgoing.path)
            except OSError:
                pass
        os.replace(tmp, self.pointer)

    def prune(self, now: Optional[float] = None) -> list[Path]:
        """Remove what is no longer needed: versions other than the current one, the newest few and
        those within their grace period (counted from when they stopped being current), the WALs of
        non-current versions (a killed build leaves one) and pointers left half-written by a crash.
        What remains is bounded: the current version, KEEP_VERSIONS others, and what the last
        GRACE_SECONDS produced."""
        now = now or time.time()
        current = self.current()
        removed: list[Path] = []

        def age(file: Path) -> Optional[float]:
            try:
                return now - file.stat().st_mtime
            except FileNotFoundError:
                return None

        def remove(file: Path) -> None:
            try:
                file.unlink()
            except FileNotFoundError:
                return
            removed.append(file)

        files = sorted(self.versions_dir.glob("decp-*.duckdb"), reverse=True)
        kept = set()
        for index, file in enumerate(files):
            file_age = age(file)
            if file_age is None:
                continue
            if (current is not None and file == current.path) or index < KEEP_VERSIONS or file_age < GRACE_SECONDS:
                kept.add(file.name)
                continue
            remove(file)
        for wal in self.versions_dir.glob("decp-*.duckdb.wal"):
            owner = wal.name[: -len(".wal")]
            if current is not None and owner == current.path.name:
                continue  # never touch what the served version may need
            wal_age = age(wal)
            if wal_age is None:
                continue
            # A version that is gone (or never was) has no use for its WAL. A kept version's WAL is
            # a killed build's (published versions are checkpointed and closed): it goes once old
            # enough not to be a build still writing it (the caller holds the build lock anyway).
            if owner not in kept or wal_age >= STALE_POINTER_SECONDS:
                remove(wal)
        for tmp in self.root.glob(f".{POINTER}.*.tmp"):
            tmp_age = age(tmp)
            if tmp_age is not None and tmp_age >= STALE_POINTER_SECONDS:
                remove(tmp)
        return removed
