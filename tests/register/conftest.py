"""Fixtures of the register tests: the replaying register server and a base naming those SIRETs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from decp_monitor.demo.corpus import with_check_digit
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store
from tests.register_server import register_server  # noqa: F401

# SIRETs the recorded responses know, and what they say (real/annuaire/SOURCES.md).
KNOWN = {
    "48744469700428": "SOLARSUD",  # SIRET query, the matching establishment is the head office
    "88087814500015": "GANYMEDE",  # closed company (2022-10-22), PARIS 8
    "21750001600019": "VILLE DE PARIS",  # head office in the 4th arrondissement (75104)
    "13002526500013": "DIRECTION INTERMINISTERIELLE DU NUMERIQUE (DINUM)",
    "35155639400010": "FINASSUR",  # active unit, head office closed in 2009, La Réunion
    "30002576400048": None,  # non-diffusible: no name
    "20003067400010": "COMMUNAUTE D'AGGLOMERATION VAL DE GARONNE AGGLOMERATION",
    "22630001000015": "DEPARTEMENT DU PUY DE DOME",
}
UNKNOWN = with_check_digit("9999999990001")  # valid, unknown to the register: a 200 with no result
INVALID = "21750001600018"  # Ville de Paris's head office, last digit mistyped


def decp_file(path: Path, sirets, notified: str = "2026-03-02", published: str = "2026-03-20") -> Path:
    """A 2024-format DECP file (no buyer names, as the format has none) with one contract per SIRET."""
    marches = [{
        "id": f"2026-{i:04d}", "acheteur": {"id": siret}, "nature": "Marché", "objet": "Fournitures",
        "codeCPV": "30120000", "procedure": "Procédure adaptée", "dureeMois": 12,
        "dateNotification": notified, "datePublicationDonnees": published, "montant": 50000,
        "lieuExecution": {"code": "75001", "typeCode": "Code postal"},
        "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": "38000000000017"}}],
    } for i, siret in enumerate(sirets)]
    path.write_text(json.dumps({"marches": {"marche": marches}}), encoding="utf-8")
    return path


@pytest.fixture
def register_store(tmp_path) -> Store:
    """A published base whose contracts name the recorded SIRETs (plus an unknown and an invalid one)."""
    store = Store(tmp_path / "data")
    sirets = [*KNOWN, UNKNOWN, INVALID]
    path = decp_file(tmp_path / "decp.json", sirets)
    with build_version(store, "load", source=str(path), meta={"as_of": "2026-09-30"}) as build:
        build.load_file(path)
    return store
