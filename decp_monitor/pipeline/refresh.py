"""`python -m decp_monitor refresh`: crawl data.gouv.fr and publish a new database version.

Phases: datasets (tag searches + configured ids), resources (paged lists, classification),
unchanged resources carried over, downloads (bounded threads sharing one keep-alive connection
pool and one back-off per host, cache keyed by resource id), parse (in the main thread, which
owns the DuckDB connection, as downloads complete: parsing overlaps downloading).

The new version is built from the whole current catalogue, so a resource removed from
data.gouv.fr leaves the database too. A resource that the previous version read and that the
catalogue says is unchanged (same checksum, else same URL, date and size) is neither downloaded
nor read again: its rows (records, findings, declarations) are copied from the previous version
in one statement. A refresh where nothing changed therefore costs the catalogue's API pages,
one copy and the derived tables. Nothing is published when the API cannot be reached or returns
far fewer datasets than the last successful refresh: the previous version keeps serving, and the
refusal is logged.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Optional

from decp_monitor.core.findings import finding
from decp_monitor.parse.catalog import dataset_rows
from decp_monitor.parse.declarations import looks_like_declaration_csv
from decp_monitor.pipeline import build_version
from decp_monitor.sources.cache import DownloadCache, fingerprint, same_content
from decp_monitor.sources.datagouv import DEFAULT_API_BASE, DEFAULT_TAGS, discover
from decp_monitor.sources.http import (
    MB,
    AddressRefused,
    FetchError,
    FileTooLarge,
    HttpSettings,
    PoliteClient,
    allow_api_host,
)
from decp_monitor.store.versions import Store, StoreError, fit_memory_limit

API_BASE_ENV = "DECP_API_BASE"
DEFAULT_MAX_FILE_BYTES = 1024 * MB
# A download may exceed the catalogue's `filesize` by this much (files grow between two crawls
# of the platform) before it is stopped: a gzip bomb announced as 1 MB stops at 1 MB + 64 MB.
FILESIZE_MARGIN = 64 * MB
# Publishing is refused below this share of the datasets found by the last successful refresh.
MIN_DATASET_RATIO = 0.5
DOWNLOADED_KINDS = ("decp", "declaration")
# Download states of a previous version's resource whose rows can be carried when unchanged.
CARRIED_STATES = ("downloaded", "unchanged")

Progress = Callable[[str, int, int, object], None]


@dataclass
class RefreshSummary:
    api_base: str
    datasets: int = 0
    resources: int = 0
    by_classification: dict[str, int] = field(default_factory=dict)
    downloaded: int = 0
    unchanged: int = 0
    carried: int = 0  # unchanged resources whose rows were copied from the previous version
    carried_records: int = 0
    failed: int = 0
    too_large: int = 0
    stale_copies: int = 0
    bytes_downloaded: int = 0
    files_read: int = 0
    declarations: int = 0
    records: int = 0
    contracts: int = 0
    findings: int = 0
    api_requests: int = 0
    retries: int = 0
    throttled: int = 0
    duration: float = 0.0
    version: str = ""
    register: str = ""  # the register step's summary (French), empty when skipped

    @property
    def text(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.by_classification.items())) or "aucune"
        lines = [
            f"Rafraîchissement terminé en {self.duration:.1f} s depuis {self.api_base} : base {self.version} publiée.",
            f"  Jeux de données : {self.datasets} ; ressources : {self.resources} ({kinds}).",
            f"  Fichiers : {self.downloaded} téléchargés ({_human_bytes(self.bytes_downloaded)}), "
            f"{self.unchanged} inchangés ({self.carried} repris de la version précédente sans relecture, "
            f"{self.carried_records} enregistrements), {self.failed} en échec"
            + (f" dont {self.stale_copies} remplacés par la copie précédente" if self.stale_copies else "")
            + f", {self.too_large} trop volumineux.",
            f"  Lus : {self.files_read} fichiers, {self.records} enregistrements, {self.contracts} contrats, "
            f"{self.declarations} déclarations ; {self.findings} anomalies relevées.",
            f"  Requêtes HTTP : {self.api_requests} (dont {self.retries} nouvelles tentatives ; "
            f"{self.throttled} refus « trop de requêtes » (429) respectés).",
        ]
        if self.register:
            lines.append(f"  {self.register}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


def _human_bytes(n: float) -> str:
    for unit in ("octets", "Ko", "Mo", "Go"):
        if n < 1024 or unit == "Go":
            return f"{n:.0f} {unit}" if unit == "octets" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} octets"


def resolve_api_base(api_base: Optional[str] = None) -> str:
    return (api_base or os.environ.get(API_BASE_ENV) or DEFAULT_API_BASE).rstrip("/")


@dataclass
class _Outcome:
    resource: dict
    status: str  # downloaded | unchanged | failed | skipped
    path: Optional[str] = None
    size: int = 0
    not_declaration: bool = False
    error: Optional[FetchError] = None
    stale: bool = False


def download_limit(resource: dict, max_file_bytes: int) -> tuple[int, str]:
    """(byte cap on the decoded download, why) from the catalogue's `filesize`, under the global cap."""
    size = resource.get("filesize")
    if isinstance(size, int) and size > 0 and size + max(size, FILESIZE_MARGIN) < max_file_bytes:
        return size + max(size, FILESIZE_MARGIN), f" : {size} octets selon le catalogue, plus une marge"
    return max_file_bytes, ""


def _fetch(client: PoliteClient, cache: DownloadCache, resource: dict, max_file_bytes: int) -> _Outcome:
    """Runs in a download thread: touches the network and the cache, never the database."""
    if cache.is_fresh(resource):
        entry = cache.entry(resource) or {}
        return _Outcome(resource, "unchanged", str(cache.path(resource)),
                        not_declaration=entry.get("complete") is False)
    candidate_csv = resource["classification"] == "declaration"
    limit, why = download_limit(resource, max_file_bytes)
    try:
        download = client.download(
            resource["url"], cache.path(resource), max_bytes=limit,
            accept=looks_like_declaration_csv if candidate_csv else None, why=why,
        )
    except FileTooLarge as exc:
        return _Outcome(resource, "skipped", error=exc)
    except AddressRefused as exc:
        return _Outcome(resource, "failed", error=exc)  # an earlier copy from there is not used either
    except (FetchError, OSError) as exc:
        if isinstance(exc, OSError):  # the cache could not be written (disk full, permissions)
            exc = FetchError(resource["url"], f"écriture impossible dans le cache local ({exc.strerror or exc})")
        stale = cache.cached_file(resource)
        entry = cache.entry(resource) or {}
        if stale is not None:
            return _Outcome(resource, "failed", str(stale), error=exc, stale=True,
                            not_declaration=entry.get("complete") is False)
        return _Outcome(resource, "failed", error=exc)
    note = None if download.complete else "CSV sans colonne siretAcheteur : seul le début a été téléchargé"
    cache.store(resource, download, complete=download.complete, note=note)
    return _Outcome(resource, "downloaded", str(download.path), size=download.size,
                    not_declaration=not download.complete)


def _last_refresh_datasets(con) -> Optional[int]:
    row = con.execute(
        "SELECT datasets FROM refreshes WHERE command = 'refresh' AND outcome = 'published' "
        "AND datasets IS NOT NULL ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def run_refresh(
    store: Store,
    api_base: Optional[str] = None,
    tags: Iterable[str] = DEFAULT_TAGS,
    dataset_ids: Iterable[str] = (),
    concurrency: int = 4,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Optional[Progress] = None,
    settings: Optional[HttpSettings] = None,
    page_size: int = 100,
    min_dataset_ratio: float = MIN_DATASET_RATIO,
    meta: Optional[dict] = None,
    register: bool = False,
    register_settings=None,
) -> RefreshSummary:
    """Crawl the API and publish a new version; `meta` holds assessment parameters (as_of,
    window_months, stale_months) for the compliance engine. register: ask the register of
    companies about the SIRETs found (register/enrich.py; bounded, never blocking)."""
    api_base = resolve_api_base(api_base)
    tags, dataset_ids = tuple(tags), tuple(dataset_ids)
    report = progress or (lambda *args: None)
    started = time.monotonic()
    summary = RefreshSummary(api_base=api_base)
    cache = DownloadCache(store.cache_dir)
    # One kept-alive connection per download thread, and a couple for the API pages.
    settings = settings or HttpSettings()
    settings = dataclasses.replace(settings, pool_size=max(settings.pool_size, concurrency + 2))
    settings = allow_api_host(settings, api_base)

    with PoliteClient(settings) as client, build_version(store, "refresh", source=api_base, meta=meta) as build:
        catalogue = discover(client, api_base, tags, dataset_ids, page_size=page_size,
                             resource_page_size=page_size, progress=report)
        if catalogue.api_responses == 0:
            reason = catalogue.findings[0].message if catalogue.findings else "aucune réponse"
            raise StoreError(
                f"API {api_base} injoignable ({reason}). Rien n'a été publié : "
                "la version précédente de la base reste en service."
            )
        previous = _last_refresh_datasets(build.con)
        found = len(catalogue.datasets)
        if previous and found < previous * min_dataset_ratio:
            raise StoreError(
                f"Publication refusée : {found} jeux de données trouvés contre {previous} au dernier "
                f"rafraîchissement réussi (moins de {min_dataset_ratio:.0%}). Panne partielle de l'API probable ; "
                "la version précédente de la base reste en service."
            )

        dataset_table: list[dict] = []
        resource_table: dict[str, dict] = {}
        for obj in catalogue.datasets:
            dataset, resources = dataset_rows(obj, source=catalogue.sources.get(str(obj.get("id")), api_base))
            if dataset is not None:
                dataset_table.append(dataset)
            for row in resources:
                key = row["resource_id"] or row["url"]
                resource_table.setdefault(key, row)
        for item in catalogue.findings:
            build.add(item)
        # The raw API objects (every resource of every dataset, as JSON) are no longer needed:
        # at national scale they weigh more than the rows kept, during the whole download.
        del catalogue

        planned = [r for r in resource_table.values() if r["classification"] in DOWNLOADED_KINDS and r["url"]]
        summary.datasets, summary.resources = len(dataset_table), len(resource_table)
        planned = _carry_unchanged(build, planned, summary)
        _download_and_parse(build, client, cache, planned, max_file_bytes, concurrency, report, summary)
        if register:
            from decp_monitor.register.enrich import enrich_build

            summary.register = enrich_build(
                build, register_settings, lambda done, total, siret: report("Répertoire des acheteurs", done, total, siret)
            ).text

        for row in resource_table.values():
            summary.by_classification[row["classification"]] = summary.by_classification.get(row["classification"], 0) + 1
        build.add_datasets(dataset_table)
        build.add_resources(list(resource_table.values()))
        # Consolidation and compliance run when this block exits, at DuckDB's memory peak.
        del dataset_table, resource_table, planned
        # What the crawl leaves in this process (download threads, their buffers, the heap of
        # thousands of reads: 460 MB at national scale) stays beside DuckDB's cap: lowered by it,
        # the refresh peaked at 886 MB instead of 1.1 GB, in the same time (BENCHMARKS.md).
        fitted = fit_memory_limit(build.con)
        if fitted is not None:
            build.stats["memory_limit_mib"] = round(fitted)
        summary.api_requests, summary.retries = client.stats.requests, client.stats.retries
        summary.throttled = client.stats.throttled
        summary.bytes_downloaded = client.stats.bytes
        build.stats.update({
            "bytes_downloaded": summary.bytes_downloaded,
            "downloaded": summary.downloaded,
            "unchanged": summary.unchanged,
            "carried": summary.carried,
            "files_read": summary.files_read,
            "download_failures": summary.failed,
            "message": f"{summary.downloaded} fichiers téléchargés, {summary.unchanged} inchangés, "
                       f"{summary.failed} en échec, {summary.too_large} trop volumineux",
        })

    stats = build.stats
    summary.declarations = stats.get("declarations", 0)
    summary.records = stats.get("records", 0)
    summary.contracts = stats.get("contracts", 0)
    summary.findings = stats.get("findings", 0)
    summary.version = build.path.name
    summary.duration = time.monotonic() - started
    return summary


def _carry_unchanged(build, planned: list[dict], summary: RefreshSummary) -> list[dict]:
    """Carry the previous version's rows of every planned resource it read from the same file;
    returns the resources left to fetch (and read)."""
    previous = build.previous_resources()
    carried, remaining = [], []
    for resource in planned:
        before = previous.get(resource["resource_id"]) if resource["resource_id"] else None
        if (before is not None and before["download_status"] in CARRIED_STATES
                and before["url"] == resource["url"] and same_content(fingerprint(resource), fingerprint(before))):
            carried.append((resource, before))
        else:
            remaining.append(resource)
    summary.carried_records = build.carry_resources([r["resource_id"] for r, _ in carried])
    for resource, before in carried:
        # What reading the file taught last time (a CSV that is not a declaration, a file that
        # is one although not labelled so) still holds for the same file.
        resource["classification"] = before["classification"]
        resource["classification_reason"] = before["classification_reason"]
        resource["local_file"] = before["local_file"]
        resource["download_status"] = "unchanged"
    summary.carried = len(carried)
    summary.unchanged += len(carried)
    return remaining


def _download_and_parse(build, client, cache, planned, max_file_bytes, concurrency, report, summary) -> None:
    total = len(planned)
    report("Téléchargements", 0, total, "")
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="decp-download") as pool:
        futures = [pool.submit(_fetch, client, cache, r, max_file_bytes) for r in planned]
        for future in as_completed(futures):
            outcome = future.result()
            done += 1
            report("Téléchargements", done, total, outcome.resource["url"])
            _record_outcome(build, outcome, summary)
            report("Lecture", done, total, outcome.resource["url"])


def _record_outcome(build, outcome: _Outcome, summary: RefreshSummary) -> None:
    resource = outcome.resource
    rid, url = resource["resource_id"], resource["url"]
    resource["download_status"] = outcome.status
    resource["local_file"] = outcome.path
    if outcome.status == "downloaded":
        summary.downloaded += 1
    elif outcome.status == "unchanged":
        summary.unchanged += 1
    elif outcome.status == "skipped":
        summary.too_large += 1
        error = outcome.error
        assert error is not None  # a skipped download says why
        build.add(finding(url, "file_too_large", error.message, value=error.status), rid)
    else:
        summary.failed += 1
        error = outcome.error
        assert error is not None  # a failed download says why
        status = f"HTTP {error.status}" if error.status else "sans réponse HTTP"
        message = f"Téléchargement impossible ({status}) : {error.message}"
        if outcome.stale:
            summary.stale_copies += 1
            message += " ; la copie téléchargée lors d'un rafraîchissement précédent est utilisée"
        build.add(finding(url, "download_failed", message, value=error.status), rid)
    if outcome.not_declaration:
        resource["classification"] = "other"
        resource["classification_reason"] = "CSV sans colonne siretAcheteur : pas une déclaration de profil d'acheteur"
        return
    if outcome.path is None:
        return
    kind = build.load_file(outcome.path, name=url, resource_id=rid)
    summary.files_read += 1
    if kind == "declaration" and resource["classification"] != "declaration":
        resource["classification"] = "declaration"
        resource["classification_reason"] = "contenu reconnu comme déclaration de profil d'acheteur (colonne siretAcheteur)"
