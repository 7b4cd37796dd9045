"""The register cache: every fact fetched from a register API, kept outside the database versions.

A small SQLite file in the data directory (`register/facts.sqlite`), written fact by fact as the
answers come in (one commit each): an `enrich` killed half-way resumes without asking again what
it already has, and a refresh that cannot reach the API builds from the facts fetched before.
SQLite rather than DuckDB because a writer killed mid-transaction must leave a readable file
and because the dashboard never reads it (builds copy it into the version's `register` table).
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from decp_monitor.register.facts import FACT_COLUMNS, Fact

_COLUMNS = [c for c in FACT_COLUMNS if c != "siren"]
_BOOL = {"found", "is_head_office", "non_diffusible"}


def cache_path(data_dir: Path) -> Path:
    return Path(data_dir) / "register" / "facts.sqlite"


class RegisterCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        # A commit survives the process being killed without waiting for the disk (fsync) at
        # each answer; only a power cut can lose the last answers, which are then asked again.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS facts ({', '.join(_COLUMNS)}, PRIMARY KEY (siret, source))")
        self.db.commit()

    def __enter__(self) -> RegisterCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def put(self, fact: Fact) -> None:
        """Written and committed at once: a kill loses at most the answer in flight."""
        values = fact.row()
        row = [to_sql(values[c]) for c in _COLUMNS]
        self.db.execute(f"INSERT OR REPLACE INTO facts VALUES ({', '.join('?' * len(_COLUMNS))})", row)
        self.db.commit()

    def fetched_since(self, source: str, since: dt.datetime) -> set[str]:
        """SIRETs this source answered for (known or not) after `since`: not to be asked again."""
        return {row[0] for row in self.db.execute(
            "SELECT siret FROM facts WHERE source = ? AND fetched_at >= ?", [source, since.isoformat()])}

    def facts(self, sirets: Optional[Iterable[str]] = None) -> list[Fact]:
        if sirets is None:
            rows = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM facts").fetchall()
        else:
            wanted = sorted(set(sirets))
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                rows += self.db.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM facts WHERE siret IN ({', '.join('?' * len(chunk))})",
                    chunk).fetchall()
        return [_fact(row) for row in rows]

    def count_since(self, since: dt.datetime) -> int:
        """Facts fetched after `since` (not yet in a version built before it)."""
        return self.db.execute("SELECT count(*) FROM facts WHERE fetched_at > ?", [since.isoformat()]).fetchone()[0]

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM facts").fetchone()[0]


def to_sql(value):
    """As the cache stores a fact's value: dates as ISO text, booleans as 0/1."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _fact(row: tuple) -> Fact:
    values = dict(zip(_COLUMNS, row))
    for key in _BOOL:
        if values[key] is not None:
            values[key] = bool(values[key])
    if values["closed_on"]:
        values["closed_on"] = dt.date.fromisoformat(values["closed_on"])
    if values["fetched_at"]:
        values["fetched_at"] = dt.datetime.fromisoformat(values["fetched_at"])
    return Fact(**values)
