"""The register stage of a build: the version's `register` table from the data and the cache.

Runs after consolidation and before compliance (which names buyers from it). Facts come from, in
order of trust: the register cache (enrich.py; API Entreprise, INSEE, then the open API), facts
handed to the build (the demo corpus ships its own), and the previous version's register
(carried: a lost cache or an API that is down never loses a fact). The data's own clues (latest
published name, the declaration's contact details) sit beside them in data_* columns.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Optional

import duckdb
import pandas as pd

from decp_monitor.register import reference
from decp_monitor.register.cache import RegisterCache, cache_path
from decp_monitor.register.facts import FACT_COLUMNS, Fact

_SQL = Path(__file__).resolve().with_name("apply.sql")
# Which answer wins when several sources answered for a SIRET.
SOURCE_PRIORITY = {"api-entreprise": 0, "insee": 1, "recherche-entreprises": 2, "demo": 3}
_API_COLUMNS = [c for c in FACT_COLUMNS if c != "siren"]


def best_facts(facts: Iterable[Fact]) -> list[Fact]:
    """One fact per SIRET: a found one over "unknown", then by source trust, then the latest."""
    best: dict[str, Fact] = {}
    for fact in facts:
        current = best.get(fact.siret)
        if current is None or _rank(fact) < _rank(current):
            best[fact.siret] = fact
    return list(best.values())


def _rank(fact: Fact) -> tuple:
    stamp = fact.fetched_at.timestamp() if fact.fetched_at else 0.0
    return (not fact.found, SOURCE_PRIORITY.get(fact.source, 9), -stamp)


def create_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    rows = [(code, entry["nom"], entry["region"], reference.region_name(entry["region"]))
            for code, entry in reference.reference()["departements"].items()]
    con.execute("CREATE OR REPLACE TEMP TABLE ref_departements "
                "(code VARCHAR, nom VARCHAR, region VARCHAR, region_nom VARCHAR)")
    con.executemany("INSERT INTO ref_departements VALUES (?, ?, ?, ?)", rows)


def apply(con: duckdb.DuckDBPyConnection, data_dir: Optional[Path], extra: Iterable[Fact] = (),
          keep_demo: bool = False) -> int:
    """Rebuild `register` on the build's connection; returns its row count."""
    facts = list(extra)
    if data_dir is not None and cache_path(data_dir).exists():
        with RegisterCache(cache_path(data_dir)) as cache:
            facts += cache.facts()
    chosen = best_facts(facts)
    frame = pd.DataFrame([{c: getattr(f, c) for c in _API_COLUMNS} for f in chosen], columns=_API_COLUMNS)
    frame = frame.astype({"closed_on": "datetime64[ns]", "fetched_at": "datetime64[ns]"})
    con.execute(
        "CREATE OR REPLACE TEMP TABLE register_new AS SELECT "
        "siret::VARCHAR AS siret, found::BOOLEAN AS found, name::VARCHAR AS name, legal_name::VARCHAR AS legal_name, "
        "categorie_juridique::VARCHAR AS categorie_juridique, categorie_juridique_label::VARCHAR AS categorie_juridique_label, "
        "kind::VARCHAR AS kind, state::VARCHAR AS state, CAST(closed_on AS DATE) AS closed_on, "
        "legal_state::VARCHAR AS legal_state, commune_code::VARCHAR AS commune_code, commune_name::VARCHAR AS commune_name, "
        "departement::VARCHAR AS departement, region::VARCHAR AS region, head_office_siret::VARCHAR AS head_office_siret, "
        "is_head_office::BOOLEAN AS is_head_office, non_diffusible::BOOLEAN AS non_diffusible, source::VARCHAR AS source, "
        "CAST(fetched_at AS TIMESTAMP) AS fetched_at FROM frame"
    )
    # Facts of the previous version that no source answered again this time are kept.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE register_api AS
        SELECT {', '.join(_API_COLUMNS)} FROM register_new
        UNION ALL BY NAME
        SELECT {', '.join(_API_COLUMNS)} FROM register
        WHERE source IS NOT NULL AND ($keep_demo OR source <> 'demo')
          AND siret NOT IN (SELECT siret FROM register_new)
        """,
        {"keep_demo": keep_demo},
    )
    create_reference_tables(con)
    con.execute(_SQL.read_text(encoding="utf-8"))
    return con.execute("SELECT count(*) FROM register").fetchone()[0]
