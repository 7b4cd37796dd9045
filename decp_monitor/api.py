"""The Python API: what the CLI and scripts call (the dashboard reads through decp_monitor.read).

sqlite-utils' shape: a library, and a thin command line over it. Every function takes a Store
(or a data directory) and plain values, and returns data; none of them prints.

    from decp_monitor import api
    store = api.open_store("data")
    api.load(store, ["fichiers/"])
    api.buyer_status(store, "21440036800012").buyer["verdict_label"]
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

from decp_monitor.pipeline import build_version
from decp_monitor.pipeline.demo import build_demo
from decp_monitor.pipeline.files import iter_files, load_paths
from decp_monitor.pipeline.refresh import RefreshSummary, run_refresh
from decp_monitor.read import export as exports
from decp_monitor.read.status import StatusReport, buyer_status
from decp_monitor.register.cache import RegisterCache, cache_path
from decp_monitor.register.enrich import EnrichSettings, EnrichSummary, data_sirets
from decp_monitor.register.enrich import enrich as enrich_register
from decp_monitor.store.versions import Store, StoreError

__all__ = [
    "EnrichResult", "LoadResult", "RefreshSummary", "StatusReport", "Store", "StoreError", "build_demo", "buyer_status",
    "enrich", "export", "exportable_tables", "load", "open_store", "refresh",
]

Progress = Callable[..., None]


def open_store(data_dir: Optional[Union[str, os.PathLike]] = None) -> Store:
    """The data directory: the argument, else $DECP_DATA_DIR, else ./data."""
    return Store(data_dir)


@dataclass
class LoadResult:
    kinds: dict[str, int]
    stats: dict[str, Any]
    carried_over: bool
    # Why the current version was not carried over, in French ("" when it was or was not asked).
    note: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def assessment_meta(as_of: Optional[dt.date] = None, window_months: Optional[int] = None,
                    stale_months: Optional[int] = None) -> dict[str, str]:
    """The assessment parameters a build records in its meta (the compliance engine reads them)."""
    meta = {"as_of": as_of.isoformat() if as_of else None,
            "window_months": window_months, "stale_months": stale_months}
    return {k: str(v) for k, v in meta.items() if v is not None}


def load(store: Store, paths: Iterable[Union[str, os.PathLike]], *, replace: bool = False,
         as_of: Optional[dt.date] = None, window_months: Optional[int] = None,
         stale_months: Optional[int] = None, progress: Optional[Progress] = None) -> LoadResult:
    """Load local files (kind recognised by content) into a new published version.

    Incremental unless `replace`: the current version's data is kept, minus the files loaded again.
    The demo database is never carried over into real data.
    """
    names_given = [os.fspath(p) for p in paths]
    missing = [p for p in names_given if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"chemin introuvable : {', '.join(missing)}")
    names = tuple(str(p) for p in iter_files(names_given))
    carry_over, note = not replace, ""
    if carry_over and store.meta().get("is_demo") == "true":
        carry_over, note = False, "La base actuelle est la démonstration : elle n'est pas reprise."
    with build_version(store, "load", source=" ".join(str(p) for p in names_given), carry_over=carry_over, replace_sources=names,
                       meta=assessment_meta(as_of, window_months, stale_months)) as build:
        kinds = load_paths(build, names_given, progress=progress)
    return LoadResult(kinds, build.stats, carry_over, note, build.timings)


def refresh(store: Store, *, api_base: Optional[str] = None, as_of: Optional[dt.date] = None,
            window_months: Optional[int] = None, stale_months: Optional[int] = None,
            progress: Optional[Progress] = None, **options: Any) -> RefreshSummary:
    """Crawl data.gouv.fr (or a compatible API) and publish a new version (see pipeline.refresh)."""
    meta = assessment_meta(as_of, window_months, stale_months) or None
    return run_refresh(store, api_base=api_base, progress=progress, meta=meta, **options)


def exportable_tables(store: Store) -> dict[str, list[tuple[str, str]]]:
    con = store.connect()
    if con is None:
        return {}
    try:
        return exports.exportable_tables(con)
    finally:
        if con is not None:
            con.close()


def export(store: Store, table: str, fmt: str, out: Union[str, Path, BinaryIO],
           filters: Optional[dict[str, Any]] = None, *, force: bool = False) -> int:
    """Export a documented table, filtered; returns the number of rows written.

    With filters["as_of"] on a compliance table, verdicts and statuses are recomputed at that date.
    A path `out` inside the data directory is refused, an existing file too unless `force`.
    Raises StoreError when nothing is published, exports.ExportError for a bad request (French).
    """
    filters = dict(filters or {})
    con = store.connect()
    if con is None:
        raise StoreError("Aucune base publiée : lancez d'abord « python -m decp_monitor demo » ou « load ».")
    try:
        exports.build_query(con, table, {k: v for k, v in filters.items() if k != "as_of"})  # cheap checks first
        if isinstance(out, (str, Path)):
            exports.check_destination(str(out))
            exports.check_output_path(out, store.root, force)
        if filters.get("as_of"):
            con.close()
            con = exports.connect_for_export(store, table, filters["as_of"])
            if con is None:
                raise StoreError("Aucune base publiée.")
        return exports.export_table(con, table, fmt, out, filters)
    finally:
        if con is not None:
            con.close()


@dataclass
class EnrichResult:
    summary: Optional[EnrichSummary] = None
    # The new version's counts; None when the register brought nothing new (nothing published).
    stats: Optional[dict[str, Any]] = None
    # Why nothing was asked, in French ("" when the register was asked).
    refused: str = ""
    is_demo: bool = False


def enrich(store: Store, settings: EnrichSettings, progress: Optional[Progress] = None) -> EnrichResult:
    """Ask the national register about the published version's SIRETs still unknown or stale
    (answers kept in the register cache as they come: a killed run resumes), then publish a new
    version when anything new came."""
    current = store.current()
    if current is None:
        return EnrichResult(refused="Erreur : aucune base publiée. Chargez d'abord des données (load, refresh).")
    if store.meta().get("is_demo") == "true":
        return EnrichResult(refused="La base actuelle est la démonstration : ses SIRET sont fictifs, son répertoire "
                                    "est fourni avec elle. Rien n'a été demandé.", is_demo=True)
    con = store.connect(current)
    assert con is not None  # `current` is a published version
    try:
        sirets = data_sirets(con)
        # The newest answer the published base holds: newer ones in the cache call for a new version.
        newest = con.execute("SELECT max(fetched_at) FROM register").fetchall()[0][0]
    finally:
        con.close()
    with RegisterCache(cache_path(store.root)) as cache:
        summary = enrich_register(cache, sirets, settings, progress=progress)
        # Answers of an interrupted run count too: they are in the cache, not yet in the base.
        new_facts = cache.count_since(newest) if newest else cache.count()
    if new_facts == 0:
        return EnrichResult(summary)
    with build_version(store, "enrich", source=settings.recherche_base, carry_over=True) as build:
        pass  # the register stage of every build reads the cache
    return EnrichResult(summary, build.stats)
