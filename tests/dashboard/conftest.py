"""Small databases built with the real store, and an AppTest of the dashboard pointed at them."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from stdnum import luhn

from decp_monitor.core.model import Declaration, Finding, Modification, Record
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store

REPO = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 6, 30)


def luhn_siret(head13: str) -> str:
    """A valid SIRET from 13 digits: the SIREN key put in 9th place, then the SIRET key."""
    siren = head13[:8] + luhn.calc_check_digit(head13[:8])
    body = siren + head13[9:13]
    return body + luhn.calc_check_digit(body)


COMPLIANT = luhn_siret("2144003680001")   # publishes every contract within a month
LATE = luhn_siret("2135000010001")        # publishes four months after notification
MISSING = luhn_siret("2175000020001")     # declared by a profile, never published
UNKNOWN = luhn_siret("2199999990001")     # appears nowhere
INVALID = "21440036800013"                # checksum broken
SIRETS = {"compliant": COMPLIANT, "late": LATE, "missing": MISSING}


def build_test_db(data_dir: Path) -> Store:
    store = Store(data_dir)
    with build_version(store, "test", source="tests", meta={"as_of": AS_OF.isoformat()}) as build:
        position = 0
        for month in range(1, 7):
            notified = dt.date(2025, month, 10) - dt.timedelta(days=200 if month > 5 else 0)
            # one file per publication, named by the convention: the observed date is the declared one
            build.add(Record(
                source_file=f"DECP-{COMPLIANT}-{notified + dt.timedelta(days=20):%Y-%m-%d}-01.json", position=0, kind="marche", format="json-2019",
                buyer_siret=COMPLIANT, buyer_name="Commune de Bonneville", contract_id=f"BON-{month}",
                objet=f"Travaux de voirie lot {month}", amount=45000.5 * month,
                notification_date=notified, publication_date=notified + dt.timedelta(days=20),
            ))
            position += 1
        for month in range(1, 5):
            notified = dt.date(2024, 10 + month % 3, 5)
            build.add(Record(
                source_file="decp-late.json", position=month, kind="marche", format="json-2019",
                buyer_siret=LATE, buyer_name="Syndicat des eaux de Retardville", contract_id=f"RET-{month}",
                objet=f"Canalisations {month}", amount=120000.0,
                notification_date=notified, publication_date=notified + dt.timedelta(days=130),
                modifications=[Modification(position=0, modification_id="1", notification_date=notified + dt.timedelta(days=40),
                                            publication_date=notified + dt.timedelta(days=150))],
            ))
        build.add(Declaration(source_file="declarations.csv", line=2, siret=MISSING, siret_raw=MISSING,
                              url_profil_acheteur="https://profil.example.fr/acheteur/42",
                              url_dcat="javascript:alert(1)", coordonnees="Mairie de Jamaisvu, 75000 Paris"))
        build.add(Declaration(source_file="declarations.csv", line=3, siret=COMPLIANT, siret_raw=COMPLIANT,
                              url_profil_acheteur="https://profil.example.fr/acheteur/7"))
        build.add(Finding(source_file="decp-late.json", code="missing_publication_date",
                          message="Date de publication des données absente", position=3,
                          field="datePublicationDonnees", buyer_siret=LATE, contract_id="RET-3"))
        build.add(Finding(source_file="broken.xml", code="file_unreadable",
                          message="Fichier illisible : balise non fermée"))
        build.add_datasets([{
            "dataset_id": "ds-bon", "title": "Données essentielles des marchés publics - Commune de Bonneville",
            "url": "https://www.data.gouv.fr/fr/datasets/ds-bon/", "extras_siret": COMPLIANT,
            "license": "fr-lo", "organization_name": "Commune de Bonneville", "resource_count": 1,
        }, {
            "dataset_id": "ds-platform", "title": "Marchés publics de la plateforme X",
            "url": "ftp://example.org/x", "license": "other-at", "organization_name": "Plateforme X",
            "resource_count": 1,
        }])
        build.add_resources([{
            "resource_id": "res-bon", "dataset_id": "ds-bon", "title": f"DECP-{COMPLIANT}-2025-05-30-01.json",
            "url": f"https://static.data.gouv.fr/DECP-{COMPLIANT}-2025-05-30-01.json", "filetype": "file",
            "type": "main", "format": "json", "mime": "application/json",
        }])
    return store


@pytest.fixture(scope="session")
def test_db(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("decp-data")
    build_test_db(data_dir)
    return data_dir


@pytest.fixture
def app(monkeypatch, test_db):
    """An AppTest of app.py reading the test database."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DECP_DATA_DIR", str(test_db))
    monkeypatch.chdir(REPO)
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=30)


@pytest.fixture
def empty_app(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DECP_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("DECP_AUTO_DEMO", "0")
    monkeypatch.chdir(REPO)
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=30)
