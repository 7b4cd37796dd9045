"""The demo database: the project's own generated corpus, loaded through the ordinary loaders."""
from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from decp_monitor.pipeline import build_version
from decp_monitor.pipeline.files import load_paths
from decp_monitor.store.versions import STORE_FORMAT, Store, store_format

DEMO_SEED = 2026
_first_run = threading.Lock()


def demo_corpus_dir(store: Store) -> Path:
    return store.root / "demo-corpus"


def needs_demo(store: Store, meta: Optional[dict] = None) -> bool:
    """Nothing published, or the demo published by an older decp-monitor (its tables lack what the
    pages read now): the demo is (re)built. Data a user loaded is never replaced. `meta`: the
    current version's meta table when the caller has it (the dashboard caches it), else read."""
    if store.current() is None:
        return True
    meta = store.meta() if meta is None else meta
    return meta.get("is_demo", "").lower() == "true" and store_format(meta) < STORE_FORMAT


def build_demo_if_missing(store: Store, progress=None) -> bool:
    """First run of the dashboard (or first after an upgrade, see needs_demo): build the demo
    once, even if several sessions ask at once."""
    with _first_run:
        if not needs_demo(store):
            return False
        build_demo(store, progress)
        return True


def build_demo(
    store: Store,
    progress: Optional[Callable[[int, int, Path], None]] = None,
    *,
    contracts: int = 6000,
    buyers: int = 300,
) -> dict[str, int]:
    """Generate the demo corpus (deterministic) and publish a database built from it."""
    from decp_monitor.demo.corpus import DEMO_AS_OF, REGISTER_FOLDER, generate_corpus

    corpus = demo_corpus_dir(store)
    generate_corpus(corpus, seed=DEMO_SEED, buyers=buyers, contracts=contracts, as_of=DEMO_AS_OF)
    with build_version(
        store,
        "demo",
        source="corpus de démonstration généré",
        meta={"is_demo": "true", "as_of": DEMO_AS_OF.isoformat()},
    ) as build:
        # The register facts are the demo's own API answers, not a file the loaders read.
        data_paths = sorted(p for p in corpus.iterdir() if p.name != REGISTER_FOLDER)
        load_paths(build, data_paths, progress=progress)
        build.register_facts = load_register_facts(corpus / REGISTER_FOLDER)
    return build.stats


def load_register_facts(folder: Path) -> list:
    """The demo corpus's register facts (JSON files of Fact rows) as facts."""
    from decp_monitor.register.facts import Fact, complete

    facts = []
    for path in sorted(folder.glob("*.json")):
        for row in json.loads(path.read_text(encoding="utf-8")):
            row = dict(row)
            row["closed_on"] = dt.date.fromisoformat(row["closed_on"]) if row.get("closed_on") else None
            row["fetched_at"] = dt.datetime.fromisoformat(row["fetched_at"]) if row.get("fetched_at") else None
            facts.append(complete(Fact(**row)))
    return facts
