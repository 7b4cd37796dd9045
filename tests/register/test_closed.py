"""Closed establishments judged only up to their closing date; names and places from the register."""
from __future__ import annotations

import datetime as dt

import pytest

from decp_monitor.pipeline import build_version
from decp_monitor.read import register as register_queries
from decp_monitor.register.facts import Fact, complete
from decp_monitor.store.versions import Store
from tests.compliance.conftest import AS_OF, BUYER, Built, declaration, marche

SUCCESSOR = "21440036800020"  # another establishment of the same SIREN (valid key)


def fact(siret, closed_on=None, **extra) -> Fact:
    values = dict(name=None, legal_name="COMMUNE DE CHATEAUBRIANT", categorie_juridique="7210",
                  state="F" if closed_on else "A", closed_on=dt.date.fromisoformat(closed_on) if closed_on else None,
                  legal_state="A", commune_code="44036", commune_name="CHATEAUBRIANT", head_office_siret=SUCCESSOR,
                  source="api-entreprise", fetched_at=dt.datetime(2025, 6, 1))
    values.update(extra)
    return complete(Fact(siret, **values))


@pytest.fixture
def built(tmp_path):
    store = Store(tmp_path / "data")

    def _build(records=(), declarations=(), facts=()) -> Built:
        with build_version(store, "test", meta={"as_of": AS_OF}) as b:
            for item in list(records) + list(declarations):
                b.add(item)
            b.register_facts = list(facts)
        return Built(store)

    return _build


def test_silence_that_began_with_the_closing_is_not_stale(built):
    db = built([marche("A", "2024-08-01", "2024-09-01")], [declaration(BUYER)], [fact(BUYER, "2024-10-15")])
    row = db.buyer()
    assert row["verdict"] == "closed" and row["verdict_label"] == "Établissement fermé"
    assert row["reasons"][0] == ("Établissement fermé le 15/10/2024 (répertoire Sirene) : il n'a plus rien à "
                                 "publier après cette date.")
    assert not any(r.startswith("Aucune publication depuis") for r in row["reasons"])


def test_silent_long_before_closing_stays_stale(built):
    db = built([marche("A", "2022-12-01", "2023-01-10")], [declaration(BUYER)], [fact(BUYER, "2025-03-01")])
    row = db.buyer()
    assert row["verdict"] == "stale" and row["reasons"][0].startswith("Établissement fermé le 01/03/2025")


def test_late_publications_before_closing_still_count(built):
    db = built([marche("A", "2024-09-01", "2024-12-20")], [declaration(BUYER)], [fact(BUYER, "2025-01-31")])
    row = db.buyer()
    assert row["verdict"] == "late" and row["is_closed"]


def test_declared_never_published_and_closed_before_the_period(built):
    closed_before = built([], [declaration(BUYER)], [fact(BUYER, "2023-05-01")]).buyer()
    assert closed_before["verdict"] == "closed"


def test_declared_never_published_and_closed_during_the_period(built):
    closed_during = built([], [declaration(BUYER)], [fact(BUYER, "2025-01-01")]).buyer()
    assert closed_during["verdict"] == "missing" and closed_during["reasons"][0].startswith("Établissement fermé")


def test_closing_after_the_assessment_date_changes_nothing(built):
    db = built([marche("A", "2024-08-01", "2024-09-01")], [declaration(BUYER)], [fact(BUYER, "2025-12-01")])
    assert db.buyer()["verdict"] == "stale" and not db.buyer()["is_closed"]


def test_register_names_and_places_the_buyer_and_links_its_siren(built):
    records = [marche("A", "2025-03-01", "2025-03-10")]  # no buyer name in the data
    db = built(records, [declaration(BUYER)], [fact(BUYER, "2025-05-01"), fact(SUCCESSOR, head_office_siret=SUCCESSOR)])
    row = db.buyer()
    assert (row["buyer_name"], row["buyer_name_source"], row["buyer_kind"], row["departement"], row["region_name"]) == (
        "COMMUNE DE CHATEAUBRIANT", "api-entreprise", "commune", "44", "Pays de la Loire")
    con = db.con()
    try:
        siblings = register_queries.register_siblings(con, BUYER)
        assert siblings["buyer_siret"].tolist() == [SUCCESSOR] and not siblings["in_data"].iloc[0]
        found = register_queries.find_buyers(con, "Châteaubriant")
        assert found["buyer_siret"].tolist() == [BUYER]
        assert register_queries.find_buyers(con, "214400368")["buyer_siret"].tolist() == [BUYER]
    finally:
        con.close()


def test_published_name_wins_over_the_register(built):
    records = [marche("A", "2025-03-01", "2025-03-10", buyer_name="Ville de Châteaubriant")]
    row = built(records, [declaration(BUYER)], [fact(BUYER)]).buyer()
    assert row["buyer_name"] == "Ville de Châteaubriant" and row["buyer_name_source"] == "donnees"


def test_facts_are_carried_to_the_next_version_without_the_cache(built):
    built([marche("A", "2025-03-01", "2025-03-10")], [declaration(BUYER)], [fact(BUYER)])
    again = built([marche("A", "2025-03-01", "2025-03-10")], [declaration(BUYER)], [])
    assert again.buyer()["buyer_name"] == "COMMUNE DE CHATEAUBRIANT"


def test_search_by_name_ignores_accents_apostrophes_and_abbreviations(built):
    chu, ccas = "26870851600015", "26420010500016"
    records = [marche("A", "2025-03-01", "2025-03-10", buyer=chu, buyer_name="Centre hospitalier universitaire de Limoges"),
               marche("B", "2025-03-01", "2025-03-10", buyer=ccas,
                      buyer_name="Centre communal d’action sociale de Saint-Étienne")]
    con = built(records).con()
    try:
        def found(text):
            return register_queries.find_buyers(con, text)["buyer_siret"].tolist()

        assert found("CHU Limoges") == found("chu de limoges") == found("centre hospitalier universitaire") == [chu]
        assert found("CCAS St-Etienne") == found("centre communal d'action sociale saint etienne") == [ccas]
        assert found("Saint-Étienne") == [ccas] and found("Limoges Paris") == []
        assert found("CH") == []  # an abbreviation matches whole words only: CHU is not CH
    finally:
        con.close()
