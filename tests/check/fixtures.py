"""Tiny DECP files written by the tests: one ready to publish, one with known defects."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.dashboard.conftest import luhn_siret

AS_OF = dt.date(2025, 6, 30)
BUYER = luhn_siret("2144003680001")
HOLDER = luhn_siret("5520459990086")
CLEAN_NAME = f"DECP-{BUYER}-{AS_OF:%Y-%m-%d}-01.json"
DEFECTIVE_NAME = "marches-2025.json"


def marche(contract_id: str, notified: dt.date, published: dt.date, **changes) -> dict:
    """A 2024-format marché valid against schema 2.0.3."""
    record = {
        "id": contract_id, "acheteur": {"id": BUYER}, "nature": "Marché", "objet": f"Travaux de voirie {contract_id}",
        "codeCPV": "45000000", "techniques": {"technique": ["Sans objet"]},
        "modalitesExecution": {"modaliteExecution": ["Tranches"]}, "marcheInnovant": False, "ccag": "Travaux",
        "offresRecues": 4, "attributionAvance": False, "typeGroupementOperateurs": "Pas de groupement",
        "procedure": "Appel d'offres ouvert", "lieuExecution": {"code": "44110", "typeCode": "Code postal"},
        "dureeMois": 12, "dateNotification": notified.isoformat(), "datePublicationDonnees": published.isoformat(),
        "montant": 75000, "typesPrix": {"typePrix": ["Définitif ferme"]}, "formePrix": "Forfaitaire",
        "sousTraitanceDeclaree": False,
        "titulaires": [{"titulaire": {"id": HOLDER, "typeIdentifiant": "SIRET"}}],
        "considerationsSociales": {"considerationSociale": ["Pas de considération sociale"]},
        "considerationsEnvironnementales": {"considerationEnvironnementale": ["Pas de considération environnementale"]},
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def clean_name(day: dt.date = AS_OF) -> str:
    return f"DECP-{BUYER}-{day:%Y-%m-%d}-01.json"


def clean_bytes(day: dt.date = AS_OF) -> bytes:
    """Two marchés notified 20 and 41 days before `day`, published on `day`: on time."""
    records = [marche("2025-VOI-01", day - dt.timedelta(days=20), day),
               marche("2025-VOI-02", day - dt.timedelta(days=41), day)]
    return json.dumps({"marches": {"marche": records}}, ensure_ascii=False, indent=2).encode()


def defective_bytes() -> bytes:
    records = [
        # montant as a string: a schema type error
        marche("2025-DEF-01", dt.date(2025, 6, 1), AS_OF, montant="30000.00"),
        # no dateNotification: required by the schema, and the deadline cannot be computed
        marche("2025-DEF-02", dt.date(2025, 6, 1), AS_OF, dateNotification=None),
        # notified in January, published at the end of June: late
        marche("2025-DEF-03", dt.date(2025, 1, 10), AS_OF),
    ]
    return json.dumps({"marches": {"marche": records}}, ensure_ascii=False, indent=2).encode()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
