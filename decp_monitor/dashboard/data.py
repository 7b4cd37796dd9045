"""The database a page reads: one read-only connection per published version, cached queries.

The store pointer is re-read at every rerun, so a version published while the dashboard runs is
picked up at the next interaction without a restart. Connections are cached per version file and
query results per (version, query, parameters): a new version never serves stale results.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import duckdb
import streamlit as st

from decp_monitor.read import queries
from decp_monitor.read import register as register_queries
from decp_monitor.store.versions import Store, Version

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


def store() -> Store:
    # Read the environment at each rerun: tests and deployments point DECP_DATA_DIR elsewhere.
    return Store()


@st.cache_resource(max_entries=4, show_spinner=False)
def _connection(version_path: str) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(version_path, read_only=True)


def cursor(version_key: str) -> duckdb.DuckDBPyConnection:
    """A cursor of the version's shared connection (cursors are safe across sessions' threads)."""
    return _connection(version_key).cursor()


def current() -> Optional[Loaded]:
    """The published version, or None when nothing is published (or it cannot be opened)."""
    version = store().current()
    if version is None:
        return None
    try:
        meta = cached("meta", version_key=str(version.path))
    except duckdb.Error:
        log.exception("cannot open %s", version.path)
        return None
    return Loaded(version, meta)


@st.cache_data(max_entries=2000, show_spinner=False)
def _cached_query(version_key: str, name: str, args: tuple, kwargs: tuple) -> Any:
    function = getattr(queries, name, None) or getattr(register_queries, name)
    return function(cursor(version_key), *args, **dict(kwargs))


def cached(name: str, *args, version_key: str, **kwargs) -> Any:
    """Run queries.<name>(cursor, *args, **kwargs), cached for this version and these parameters."""
    return _cached_query(version_key, name, tuple(args), tuple(sorted(kwargs.items())))
