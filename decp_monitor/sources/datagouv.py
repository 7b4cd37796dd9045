"""Discovery on a udata API (data.gouv.fr): which datasets and resources exist.

One search per tag (several `tag` parameters are ANDed by udata, we want the union), every page
followed through `next_page`, datasets de-duplicated by id, plus the datasets configured by id.
A dataset whose resources are not all inlined (udata v2 gives a `{"href", "total"}` link
instead of the list) has them paged through `/2/datasets/{id}/resources/`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import quote

from decp_monitor.core.findings import finding
from decp_monitor.core.model import Finding
from decp_monitor.parse.catalog import dataset_findings
from decp_monitor.sources.http import FetchError, PoliteClient

DEFAULT_API_BASE = "https://www.data.gouv.fr/api"
DEFAULT_TAGS = (
    "decp",
    "donnees-essentielles",
    "donnees-essentielles-de-la-commande-publique",
    "commande-publique",
    "marches-publics",
)
MAX_PAGES = 10_000  # a next_page chain longer than this is a server bug, not a catalogue

Progress = Callable[[str, int, int, object], None]


@dataclass
class Catalogue:
    datasets: list[dict] = field(default_factory=list)  # dataset objects, `resources` always a list
    sources: dict[str, str] = field(default_factory=dict)  # dataset id -> URL it was read from
    findings: list[Finding] = field(default_factory=list)
    api_responses: int = 0  # successful API calls: zero means the API was unreachable
    api_failures: int = 0
    searches_failed: list[str] = field(default_factory=list)


def _pages(client: PoliteClient, url: Optional[str], params: Optional[dict], catalogue: Catalogue) -> Iterator[tuple[str, dict]]:
    """Each page of a paginated udata listing, following next_page; raises FetchError on failure."""
    seen: set[tuple[str, tuple]] = set()
    while url and len(seen) < MAX_PAGES:
        key = (url, tuple(sorted((params or {}).items())))
        if key in seen:
            catalogue.findings.append(finding(url, "api_error", "Pagination en boucle (next_page déjà visité) : arrêt"))
            return
        seen.add(key)
        page = client.get_json(url, params=params)
        catalogue.api_responses += 1
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise FetchError(url, "réponse de l'API sans liste « data » (enveloppe de pagination attendue)")
        yield url, page
        next_page = page.get("next_page")
        url, params = (next_page, None) if isinstance(next_page, str) and next_page else (None, None)


def search_tag(client: PoliteClient, api_base: str, tag: str, page_size: int, catalogue: Catalogue,
               progress: Optional[Progress] = None) -> Iterator[tuple[str, dict]]:
    url = f"{api_base}/1/datasets/"
    done = 0
    for page_url, page in _pages(client, url, {"tag": tag, "page": 1, "page_size": page_size}, catalogue):
        for obj in page["data"]:
            done += 1
            yield page_url, obj
        if progress:
            reported = page.get("total")
            total = reported if isinstance(reported, int) else done
            progress("Jeux de données", done, max(total, done), f"mot-clé {tag}")


def fetch_dataset(client: PoliteClient, api_base: str, dataset_id: str) -> tuple[str, dict]:
    url = f"{api_base}/1/datasets/{quote(dataset_id, safe='')}/"
    return url, client.get_json(url)


def fetch_resources(client: PoliteClient, api_base: str, dataset_id: str, page_size: int,
                    catalogue: Catalogue) -> list[dict]:
    url = f"{api_base}/2/datasets/{quote(dataset_id, safe='')}/resources/"
    resources: list[dict] = []
    for _, page in _pages(client, url, {"page": 1, "page_size": page_size}, catalogue):
        resources.extend(r for r in page["data"] if isinstance(r, dict))
    return resources


def _needs_paging(obj: dict) -> bool:
    resources = obj.get("resources")
    if isinstance(resources, dict):
        return True
    total = obj.get("resources_total")
    return isinstance(resources, list) and isinstance(total, int) and total > len(resources)


def discover(
    client: PoliteClient,
    api_base: str,
    tags: Iterable[str] = DEFAULT_TAGS,
    dataset_ids: Iterable[str] = (),
    page_size: int = 100,
    resource_page_size: int = 100,
    progress: Optional[Progress] = None,
) -> Catalogue:
    """Every dataset reachable from the tags and ids, with complete resource lists; never raises."""
    api_base = api_base.rstrip("/")
    catalogue = Catalogue()
    by_id: dict[str, dict] = {}

    def keep(source: str, obj) -> None:
        problems = dataset_findings(obj, source)
        if not isinstance(obj, dict) or not obj.get("id"):
            catalogue.findings.extend(problems)
            return
        catalogue.findings.extend(problems)
        dataset_id = str(obj["id"])
        if dataset_id not in by_id:
            by_id[dataset_id] = obj
            catalogue.sources[dataset_id] = source

    for tag in tags:
        try:
            for page_url, obj in search_tag(client, api_base, tag, page_size, catalogue, progress):
                keep(page_url, obj)
        except FetchError as exc:
            catalogue.api_failures += 1
            catalogue.searches_failed.append(tag)
            catalogue.findings.append(finding(
                exc.url, "api_error", f"Recherche du mot-clé « {tag} » interrompue : {exc.message}",
                value=exc.status,
            ))
    for dataset_id in dataset_ids:
        if dataset_id in by_id:
            continue
        try:
            url, obj = fetch_dataset(client, api_base, dataset_id)
            catalogue.api_responses += 1
        except FetchError as exc:
            catalogue.api_failures += 1
            catalogue.findings.append(finding(
                exc.url, "api_error", f"Jeu de données {dataset_id} inaccessible : {exc.message}", value=exc.status,
            ))
            continue
        keep(url, obj)

    total = len(by_id)
    for index, (dataset_id, obj) in enumerate(by_id.items(), 1):
        if _needs_paging(obj):
            try:
                obj = dict(obj, resources=fetch_resources(client, api_base, dataset_id, resource_page_size, catalogue))
            except FetchError as exc:
                catalogue.api_failures += 1
                listed = obj.get("resources")
                inline = listed if isinstance(listed, list) else []
                catalogue.findings.append(finding(
                    exc.url, "api_error",
                    f"Ressources du jeu de données {dataset_id} incomplètes ({len(inline)} lues) : {exc.message}",
                    value=exc.status,
                ))
                obj = dict(obj, resources=inline)
        elif not isinstance(obj.get("resources"), list):
            obj = dict(obj, resources=[])
        catalogue.datasets.append(obj)
        if progress:
            progress("Ressources", index, total, obj.get("title") or dataset_id)
    return catalogue
