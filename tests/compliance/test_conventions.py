"""Metadata conventions of data.gouv.fr (seeds 003/004): one row per check, with French messages."""
import datetime as dt

import pytest

from .conftest import BUYER, OTHER, marche

GOOD_DATASET = {
    "dataset_id": "good", "title": "Données essentielles des marchés publics - Ville de Châteaubriant",
    "tags": ["donnees-essentielles", "commande-publique"], "extras_siret": BUYER, "license": "fr-lo",
    "frequency": "daily", "organization_id": "org", "organization_name": "Ville de Châteaubriant",
}
NAME = f"DECP-{BUYER}-2025-03-10-01.json"
GOOD_RESOURCE = {
    "resource_id": "r-good", "dataset_id": "good", "title": NAME,
    "url": f"https://static.data.gouv.fr/resources/ville/20250309-223000/{NAME.lower()}",
    "filetype": "file", "type": "main", "format": "json", "mime": "application/json",
    "created_at": dt.datetime(2025, 3, 9, 22, 30), "last_modified": dt.datetime(2025, 3, 9, 22, 30, 2),
    "classification": "decp",
}


def checks(db, table, key, value):
    rows = db.rows(f"SELECT * FROM {table} WHERE {key} = ?", [value])
    return {r["check"]: r for r in rows}


def test_a_conforming_buyer_dataset_passes_every_check(build):
    db = build(datasets=[GOOD_DATASET], resources=[GOOD_RESOURCE])
    dataset = checks(db, "dataset_conformance", "dataset_id", "good")
    assert set(dataset) == {"title_pattern", "tags", "license", "extras_siret", "frequency", "organization"}
    assert all(c["passed"] for c in dataset.values()), dataset
    assert all(c["message"] and c["check_label"] for c in dataset.values())
    resource = checks(db, "resource_conformance", "resource_id", "r-good")
    assert set(resource) == {"resource_title", "resource_file_name", "name_siret", "uploaded", "format", "mime",
                             "resource_type", "name_date"}
    assert all(c["passed"] for c in resource.values()), resource


def test_the_older_single_tag_convention_is_accepted_too(build):
    db = build(datasets=[dict(GOOD_DATASET, tags=["données-essentielles-commande-publique"])])
    assert checks(db, "dataset_conformance", "dataset_id", "good")["tags"]["passed"] is True


def test_a_dataset_breaking_every_convention_says_what_is_expected(build):
    bad = dict(GOOD_DATASET, dataset_id="bad", title="AIFE_DE_13001977100018", tags=["decp"],
               extras_siret="21440036800013", license="lov2", frequency="unknown", organization_id=None,
               organization_name=None)
    db = build(datasets=[bad])
    c = checks(db, "dataset_conformance", "dataset_id", "bad")
    assert not any(check["passed"] for check in c.values())
    assert c["title_pattern"]["actual"] == "AIFE_DE_13001977100018"
    assert c["title_pattern"]["expected"] == "Données essentielles des marchés publics - {nom}"
    assert "Données essentielles des marchés publics - {nom}" in c["title_pattern"]["message"]
    assert c["license"]["expected"] == "fr-lo" and c["license"]["actual"] == "lov2"
    assert c["license"]["message"] == "La licence attendue est fr-lo ; licence déclarée : lov2."
    assert "n'est pas un SIRET valide" in c["extras_siret"]["message"]
    assert c["frequency"]["actual"] == "unknown"
    assert c["tags"]["actual"] == "decp"


def test_a_platform_dataset_has_no_extras_siret(build):
    platform = dict(GOOD_DATASET, dataset_id="platform", title="Données essentielles des marchés publics - Plateforme",
                    extras_siret=None)
    db = build(
        [marche("A", "2025-01-10", "2025-01-20", buyer=BUYER, source="cache/p1.json"),
         marche("B", "2025-01-10", "2025-01-20", buyer=OTHER, source="cache/p1.json")],
        datasets=[platform],
        resources=[dict(GOOD_RESOURCE, resource_id="p1", dataset_id="platform", title="DECP-00000000000000-2025-03-10-01.json",
                        url="https://static.data.gouv.fr/x/p1.json")],
    )
    c = checks(db, "dataset_conformance", "dataset_id", "platform")
    assert c["extras_siret"]["passed"] is True
    assert c["extras_siret"]["structure"] == "plateforme"
    assert "Jeu de plateforme" in c["extras_siret"]["message"]
    # the name carries the platform's SIRET: not compared with a buyer's
    assert "name_siret" not in checks(db, "resource_conformance", "resource_id", "p1")


def test_a_buyer_dataset_without_extras_siret_is_deduced_and_fails(build):
    db = build(
        [marche("A", "2025-01-10", "2025-01-20", source=f"cache/{NAME.lower()}")],
        datasets=[dict(GOOD_DATASET, extras_siret=None)],
        resources=[GOOD_RESOURCE],
    )
    check = checks(db, "dataset_conformance", "dataset_id", "good")["extras_siret"]
    assert check["structure"] == "acheteur_deduit"
    assert check["passed"] is False
    assert BUYER in check["message"]


def test_resource_checks_fail_with_expected_and_actual_values(build):
    remote = dict(GOOD_RESOURCE, resource_id="r-bad", title="decp-2025.xml", url="https://example.org/decp-2025.xml",
                  filetype="remote", type="update", format="json", mime="application/json")
    other_siret = dict(GOOD_RESOURCE, resource_id="r-siret", title=f"DECP-{OTHER}-2025-03-10-01.xml",
                       url=f"https://static.data.gouv.fr/x/DECP-{OTHER}-2025-03-10-01.xml", format="xml",
                       mime="application/xml")
    db = build(datasets=[GOOD_DATASET], resources=[remote, other_siret])
    bad = checks(db, "resource_conformance", "resource_id", "r-bad")
    assert bad["resource_title"]["passed"] is False and bad["resource_title"]["actual"] == "decp-2025.xml"
    assert "resource_file_name" not in bad                 # a link has no uploaded file name
    assert bad["uploaded"]["passed"] is False and bad["uploaded"]["actual"] == "remote"
    assert (bad["format"]["expected"], bad["format"]["actual"], bad["format"]["passed"]) == ("xml", "json", False)
    assert (bad["mime"]["expected"], bad["mime"]["passed"]) == ("application/xml", False)
    assert bad["resource_type"]["actual"] == "update"
    assert bad["mime"]["message"] == "Le type MIME devrait être application/xml ; type déclaré : application/json."
    siret = checks(db, "resource_conformance", "resource_id", "r-siret")["name_siret"]
    assert (siret["passed"], siret["expected"], siret["actual"]) == (False, BUYER, OTHER)


@pytest.mark.parametrize("created, passed", [
    (dt.datetime(2025, 3, 9, 22, 30), True),    # the evening before in UTC: same day in Paris
    (dt.datetime(2025, 3, 11, 8, 0), True),
    (dt.datetime(2025, 3, 12, 8, 0), False),
    (dt.datetime(2025, 3, 8, 8, 0), False),
])
def test_date_in_the_name_matches_created_at_within_one_day(build, created, passed):
    db = build(datasets=[GOOD_DATASET], resources=[dict(GOOD_RESOURCE, created_at=created, last_modified=created)])
    assert checks(db, "resource_conformance", "resource_id", "r-good")["name_date"]["passed"] is passed


def test_declaration_only_datasets_are_not_checked(build):
    db = build(datasets=[dict(GOOD_DATASET, dataset_id="decl", title="Déclaration profil acheteur")],
               resources=[dict(GOOD_RESOURCE, resource_id="csv", dataset_id="decl", title="profils.csv",
                               classification="declaration")])
    assert db.rows("SELECT * FROM dataset_conformance WHERE dataset_id = 'decl'") == []
    assert db.rows("SELECT * FROM resource_conformance WHERE resource_id = 'csv'") == []


def test_file_conventions_apply_from_their_start_date_only(build):
    old = dict(GOOD_RESOURCE, resource_id="r-2019", title="decp-achatpublic-2019.json",
               url="https://static.data.gouv.fr/x/decp-achatpublic-2019.json", filetype="remote",
               created_at=dt.datetime(2019, 6, 1, 10, 0), last_modified=dt.datetime(2019, 6, 1, 10, 0))
    new = dict(old, resource_id="r-2024", title="decp-achatpublic-2024.json",
               created_at=dt.datetime(2024, 1, 2, 10, 0), last_modified=dt.datetime(2024, 1, 2, 10, 0))
    db = build(datasets=[GOOD_DATASET], resources=[old, new])
    before = checks(db, "resource_conformance", "resource_id", "r-2019")
    # the 2024 naming and upload rules did not bind a 2019 file; the format still does
    assert not {"resource_title", "resource_file_name", "uploaded"} & set(before)
    assert before["format"]["passed"] is True
    after = checks(db, "resource_conformance", "resource_id", "r-2024")
    assert after["resource_title"]["passed"] is False and after["uploaded"]["passed"] is False
