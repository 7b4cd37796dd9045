"""The database a page reads: one read-only connection per published version, cached queries.

The store pointer is re-read at every rerun, so a version published while the dashboard runs is
picked up at the next interaction without a restart. Connections are cached per version file and
query results per (version, query, parameters): a new version never serves stale results.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import duckdb
import streamlit as st

from decp_monitor.read import queries
from decp_monitor.store.versions import STORE_FORMAT, Store, Version, store_format

log = logging.getLogger("decp_monitor.dashboard")


@dataclass(frozen=True)
class Loaded:
    """What is shown: the version (its file path is the cache key) and its meta table."""

    version: Version
    meta: dict

    @property
    def key(self) -> str:
        return str(self.version.path)

    @property
    def is_demo(self) -> bool:
        return self.meta.get("is_demo", "").lower() == "true"

    @property
    def outdated(self) -> bool:
        """Built by an older decp-monitor: some tables the pages read are missing or older."""
        return store_format(self.meta) < STORE_FORMAT


def store() -> Store:
    # Read the environment at each rerun: tests and deployments point DECP_DATA_DIR elsewhere.
    return Store()


# DuckDB takes up to 80 % of RAM by default: up to four cached versions (a publication while
# sessions still read the previous one), the downloads and the SQL console's queries would then
# compete with a build's own cap. Each read database is capped at this much (a big query spills
# or fails with a message instead of taking the machine); empty means DuckDB's default.
READ_MEMORY_LIMIT_ENV = "DECP_READ_MEMORY_LIMIT"
DEFAULT_READ_MEMORY_LIMIT = "512MB"


def read_connect(version_path: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection on a version, memory-capped. The cap is set after connecting, not
    as connect() config: DuckDB refuses a second connection to a file opened with another config
    in the same process, and the CLI and tests open versions without one."""
    con = duckdb.connect(version_path, read_only=True)
    limit = os.environ.get(READ_MEMORY_LIMIT_ENV, DEFAULT_READ_MEMORY_LIMIT).strip()
    if limit:
        con.execute("SET memory_limit = $limit", {"limit": limit})
    return con


@st.cache_resource(max_entries=4, show_spinner=False)
def _connection(version_path: str) -> duckdb.DuckDBPyConnection:
    return read_connect(version_path)


def cursor(version_key: str) -> duckdb.DuckDBPyConnection:
    """A cursor of the version's shared connection (cursors are safe across sessions' threads)."""
    return _connection(version_key).cursor()


def current() -> Optional[Loaded]:
    """The published version, or None when nothing is published (or it cannot be opened)."""
    version = store().current()
    if version is None:
        return None
    try:
        meta = cached(queries.meta, version_key=str(version.path))
    except duckdb.Error:
        log.exception("cannot open %s", version.path)
        return None
    return Loaded(version, meta)


@st.cache_data(max_entries=2000, show_spinner=False)
def _cached_query(version_key: str, query_id: str, args: tuple, kwargs: tuple, _query: Callable) -> Any:
    # `_query` is left out of Streamlit's hash (leading underscore): `query_id` names it.
    return _query(cursor(version_key), *args, **dict(kwargs))


def cached(query: Callable, *args, version_key: str, **kwargs) -> Any:
    """Run query(cursor, *args, **kwargs), cached for this version, this query and these parameters."""
    query_id = f"{query.__module__}.{query.__qualname__}"
    return _cached_query(version_key, query_id, tuple(args), tuple(sorted(kwargs.items())), _query=query)
