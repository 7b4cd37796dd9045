"""The three register parsers on the real recorded responses (real/annuaire/SOURCES.md)."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from decp_monitor.register import facts, kinds, reference, search
from decp_monitor.register.facts import ParseProblem, from_api_entreprise, from_insee, from_recherche


def load(real_dir, folder: str, name: str):
    return json.loads((real_dir / "annuaire" / folder / name).read_text(encoding="utf-8"))


def entreprise(real_dir, siret: str):
    return from_api_entreprise(load(real_dir, "api-entreprise", f"proconnect_v3_etablissement_{siret}.json"), siret)


def recherche(real_dir, name: str, siret: str):
    return from_recherche(load(real_dir, "recherche-entreprises", name), siret)


def test_api_entreprise_closing_dates_are_paris_midnight_not_utc(real_dir):
    st_denis = entreprise(real_dir, "21930066200018")
    assert (st_denis.state, st_denis.legal_state, st_denis.closed_on) == ("F", "C", dt.date(2025, 1, 1))
    # the epoch is 2024-12-31T23:00Z: a naive UTC conversion would say the day before
    assert dt.datetime.fromtimestamp(1735686000, dt.UTC).date() == dt.date(2024, 12, 31)
    thouarsais = entreprise(real_dir, "21850292000018")
    assert thouarsais.closed_on == dt.date(2024, 1, 1)
    assert thouarsais.name == "COMMUNE DE THOUARSAIS-BOUILDROUX"  # the old name, not the new commune's
    assert thouarsais.commune_name == "RIVES-DU-FOUGERAIS"


@pytest.mark.parametrize("siret, name, kind, departement, region", [
    ("21690123100011", "COMMUNE DE LYON", "commune", "69", "84"),  # arrondissement code 69381
    ("21130055300016", "COMMUNE DE MARSEILLE", "commune", "13", "93"),  # 13202
    ("21060088800015", "COMMUNE DE NICE", "commune", "06", "93"),  # leading zero kept
    ("20004697700019", "METROPOLE DE LYON", "collectivite", "69", "84"),  # 7229
    ("22770001000555", "MAISON DEPARTEMENTALE DES SOLIDARITES DE CHELLES", "departement", "77", "11"),
    ("20008142000024", "SIVU DU TOURNEFEUILLE", "syndicat", "46", "76"),  # named SIVU, coded SIVOM
    ("26910001200013", "CENTRE HOSPITALIER GENERAL D'ARPAJON", "hopital", "91", "11"),
    ("26090012100013", "EHPAD DE MIREPOIX", "social", "09", "76"),
    ("26290359400014", "CENTRE COMMUNAL D ACTION SOCIALE — CORAY", "social", "29", "53"),  # generic name + commune
    ("13002526500013", "DIRECTION INTERMINISTERIELLE DU NUMERIQUE", "etat", "75", "11"),
    ("11009001600053", "MINISTERE DES ARMEES", "etat", "75", "11"),  # trailing space removed
    ("13000548111629", "AFT VILLENAVE D'ORNON", "etablissement_national", "33", "75"),
    ("38529030900454", "AGENCE DE L ENVIRONNEMENT ET DE LA MAITRISE DE L ENERGIE", "etablissement_national", "49", "52"),
    ("19750663700010", "LYCEE GENERAL ET TECHNOLOGIQUE CHAPTAL", "enseignement", "75", "11"),
])
def test_api_entreprise_names_kinds_and_places(real_dir, siret, name, kind, departement, region):
    fact = entreprise(real_dir, siret)
    assert fact.found and (fact.name, fact.kind, fact.departement, fact.region) == (name, kind, departement, region)
    assert fact.categorie_juridique_label and not fact.categorie_juridique_label.endswith(" ")


def test_api_entreprise_secondary_establishment_keeps_its_legal_unit(real_dir):
    school = entreprise(real_dir, "21920023500063")
    assert school.name == "ECOLE ELEMENTAIRE PUB L S SENGHOR" and school.legal_name == "COMMUNE DE CLAMART"
    assert school.is_head_office is False and school.head_office_siret == "21920023500014"


def test_api_entreprise_error_payload_is_not_found():
    fact = from_api_entreprise({"errors": [{"code": "04003", "title": "Entité non trouvée"}]}, "21920023500014")
    assert not fact.found and fact.kind is None


def test_recherche_unknown_siret_is_a_200_with_no_result(real_dir):
    fact = recherche(real_dir, "site_search_q-12345678900003_no-result.json", "12345678900003")
    assert not fact.found and fact.name is None


def test_recherche_siret_query_reads_the_matching_establishment(real_dir):
    fact = recherche(real_dir, "site_search_q-48744469700428_siret-match.json", "48744469700428")
    # matching_etablissements has no département: derived from the commune code
    assert (fact.name, fact.legal_name, fact.commune_code, fact.departement, fact.region) == (
        "SOLARSUD", "ESSOR ENERGIES (SOLARSUD)", "24053", "24", "75")


def test_recherche_closed_company_and_closed_head_office(real_dir):
    closed = recherche(real_dir, "site_search_q-88087814500015_siret-closed-company.json", "88087814500015")
    assert (closed.state, closed.legal_state, closed.closed_on, closed.departement) == ("F", "C", dt.date(2022, 10, 22), "75")
    body = load(real_dir, "recherche-entreprises", "site_search_q-351556394_ul-active-siege-closed.json")
    head = body["result"]["results"][0]["siege"]["siret"]
    reunion = from_recherche(body, head)
    assert (reunion.legal_state, reunion.state, reunion.departement, reunion.region) == ("A", "F", "974", "04")


def test_recherche_ville_de_paris_arrondissement_and_kind(real_dir):
    paris = recherche(real_dir, "site_search_q-217500016_ville-de-paris.json", "21750001600019")
    # its sign is "MAIRIE": the legal name says more
    assert (paris.name, paris.commune_code, paris.departement, paris.kind) == ("VILLE DE PARIS", "75104", "75", "collectivite")
    assert reference.city_of_arrondissement(paris.commune_code) == "75056"


def test_recherche_non_diffusible_and_degenerate_records(real_dir):
    body = load(real_dir, "recherche-entreprises", "site_search_q-300025764_non-diffusible.json")
    head = body["result"]["results"][0]["siege"]["siret"]
    hidden = from_recherche(body, head)
    assert hidden.found and hidden.non_diffusible and hidden.name is None and hidden.legal_name is None
    assert hidden.departement == "35"  # the commune code is still given
    degenerate = recherche(real_dir, "site_search_q-123456789_degenerate-record.json", "12345678900001")
    assert degenerate.found and degenerate.name is None and degenerate.kind == "inconnu" and degenerate.departement is None


def test_recherche_foreign_head_office_has_no_place(real_dir):
    body = load(real_dir, "recherche-entreprises", "site_search_q-ag_code_postal-35000_foreign-siege.json")
    foreign = next(r for r in body["result"]["results"] if r["siege"].get("code_pays_etranger"))
    fact = from_recherche(body, foreign["siege"]["siret"])
    assert fact.found and fact.departement is None and fact.commune_code is None


def test_insee_sirene_closed_secondary_establishment_in_another_departement(real_dir):
    fact = from_insee(load(real_dir, "insee-sirene", "datapass_insee-3.11_siret-21920023500022.json"), "21920023500022")
    assert (fact.name, fact.legal_name) == ("COLONIE DE VACANCES COMMUNE CLAMART", "COMMUNE DE CLAMART")
    assert (fact.state, fact.closed_on, fact.departement, fact.is_head_office) == ("F", dt.date(2002, 6, 20), "86", False)
    assert fact.head_office_siret == "21920023500014"


def test_insee_sirene_siren_answer_gives_the_legal_unit_from_its_periods(real_dir):
    fact = from_insee(load(real_dir, "insee-sirene", "proconnect_insee_siren-552032534_danone.json"), "55203253400000")
    assert fact.legal_name == "DANONE" and fact.kind == "prive" and fact.departement is None


@pytest.mark.parametrize("body", [None, [], {"results": "x"}, {"data": 3}, "<html>"])
def test_strange_bodies_are_a_parse_problem_not_a_crash(body):
    for parser in (from_recherche, from_api_entreprise, from_insee):
        with pytest.raises(ParseProblem):
            parser(body, "21920023500014")


def test_kinds_come_from_the_nomenclature_lists(real_dir):
    collectivites = json.loads((real_dir / "annuaire" / "nomenclature" /
                                "search-infra_collectivite_natures_juridiques.json").read_text(encoding="utf-8"))
    # every "collectivité" code of the annuaire is a public kind here, never "prive"
    assert all(kinds.kind(code) not in ("prive", "inconnu") for code in collectivites)
    state = json.loads((real_dir / "annuaire" / "nomenclature" /
                        "search-infra_administration_etat_natures_juridiques.json").read_text(encoding="utf-8"))
    assert all(kinds.kind(code) == "etat" for code in state if code.startswith("71"))
    assert kinds.kind(7210) == "commune" and kinds.kind("5499") == "prive" and kinds.kind(None) == "inconnu"
    grist = json.loads((real_dir / "annuaire" / "nomenclature" /
                        "proconnect_codes-juridiques-to-administration-grist.json").read_text(encoding="utf-8"))
    assert kinds.label(grist[0]["codeJuridique"]).startswith("Établissement public national")


def test_departement_rule_and_exceptions():
    assert [reference.department_of_commune(c) for c in ("75104", "69381", "13202", "2A004", "2B033", "97411", "02285")] == \
        ["75", "69", "13", "2A", "2B", "974", "59"]
    assert reference.department_of_commune("ABCDE") is None and reference.department_of_commune(None) is None
    assert reference.department_of_postcode("20000") == "2A" and reference.department_of_postcode("20200") == "2B"
    assert reference.region_name(reference.region_of_department("974")) == "La Réunion"
    assert len(reference.geojson()["features"]) == 96


@pytest.mark.parametrize("text", [
    "Centre communal d’action sociale de Saint-Étienne", "CENTRE HOSPITALIER UNIVERSITAIRE DE LIMOGES",
    "Université d'Amiens", "COMMUNE DE ST DENIS", "Œuvre — x", "  ", "SDIS 33",
])
def test_search_text_python_and_sql_agree(text):
    con = duckdb.connect()
    con.execute(search.sql_macro())
    assert con.execute("SELECT search_text($t)", {"t": text}).fetchone()[0] == search.normalise(text)


def test_query_patterns_abbreviations_and_apostrophes():
    assert search.query_patterns("CHU Limoges") == [" chu ", " limoges"]
    assert search.query_patterns("centre hospitalier universitaire de Limoges") == [" chu ", " limoges"]
    assert search.query_patterns("Université d’Amiens") == search.query_patterns("universite d'amiens")
    assert " st " in search.normalise("Saint-Denis") and " ccas " in search.normalise("C.C.A.S.".replace(".", ""))


def test_paris_date_ignores_non_numbers():
    assert facts.paris_date(None) is None and facts.paris_date("1735686000") is None and facts.paris_date(True) is None
