"""The demo database: the project's own generated corpus, loaded through the ordinary loaders."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from decp_monitor.pipeline import build_version
from decp_monitor.pipeline.files import load_paths
from decp_monitor.store.versions import Store

DEMO_SEED = 2026
_first_run = threading.Lock()


def demo_corpus_dir(store: Store) -> Path:
    return store.root / "demo-corpus"


def build_demo_if_missing(store: Store, progress=None) -> bool:
    """First run of the dashboard: build the demo once, even if several sessions ask at once."""
    with _first_run:
        if store.current() is not None:
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
    from decp_monitor.demo.corpus import DEMO_AS_OF, generate_corpus

    corpus = demo_corpus_dir(store)
    generate_corpus(corpus, seed=DEMO_SEED, buyers=buyers, contracts=contracts, as_of=DEMO_AS_OF)
    with build_version(
        store,
        "demo",
        source="corpus de démonstration généré",
        meta={"is_demo": "true", "as_of": DEMO_AS_OF.isoformat()},
    ) as build:
        load_paths(build, [corpus], progress=progress)
    return build.stats
