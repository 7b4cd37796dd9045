"""Per buyer: one row per SIRET seen anywhere, a verdict and its French reasons."""
import datetime as dt

import duckdb
import pytest

from decp_monitor import compliance
from decp_monitor.core import vocabulary

from .conftest import BUYER, OTHER, THIRD, declaration, marche, modification


def test_declared_but_silent_buyer_is_missing(build):
    db = build([marche("A", "2025-01-10", "2025-01-20", buyer=OTHER)], declarations=[declaration(BUYER)])
    row = db.buyer(BUYER)
    assert row["verdict"] == "missing"
    assert row["verdict_label"] == "Déclaré mais jamais publié"
    assert row["declared"] is True
    assert row["profile_urls"] == ["https://profil.example/acheteur"]
    assert row["contracts_total"] == 0
    assert any("aucun contrat" in reason for reason in row["reasons"])
    assert row["severity_rank"] == 1


def test_buyer_dataset_without_any_contract_is_missing(build):
    db = build(datasets=[{"dataset_id": "ds", "title": "Données essentielles des marchés publics - Ville de Lyon",
                          "extras_siret": OTHER}])
    row = db.buyer(OTHER)
    assert row["verdict"] == "missing"
    assert row["declared"] is False
    assert row["dataset_count"] == 1
    assert row["buyer_name"] == "Ville de Lyon"      # from the dataset title
    assert any("jeu de données" in reason for reason in row["reasons"])


def test_stale_buyer_has_been_silent_longer_than_stale_months(build):
    # last publication 2024-09-01: more than 9 months before 2025-06-30
    db = build([marche("A", "2024-08-01", "2024-09-01")], declarations=[declaration(BUYER)])
    row = db.buyer()
    assert row["verdict"] == "stale"
    assert row["last_publication_date"] == dt.date(2024, 9, 1)
    assert row["reasons"][0] == "Aucune publication depuis le 01/09/2024 (silence de plus de 9 mois au 30/06/2025)."


def test_a_recent_file_publication_keeps_a_buyer_from_being_stale(build):
    # declared long ago, but the file that carries it appeared recently
    db = build([marche("A", "2024-08-01", "2024-09-01", source=f"DECP-{BUYER}-2025-06-01-01.json")],
               declarations=[declaration(BUYER)])
    assert db.buyer()["last_publication_date"] == dt.date(2025, 6, 1)
    assert db.buyer()["verdict"] != "stale"


def test_late_buyer_counts_rates_and_reasons(build):
    db = build([
        marche("A", "2025-01-10", "2025-01-20"),                 # 10 days
        marche("B", "2025-01-10", "2025-02-09"),                 # 30 days
        marche("C", "2025-01-10", "2025-04-10"),                 # 90 days: late
        marche("D", "2025-01-10", "2025-02-01", source=f"DECP-{BUYER}-2025-05-01-01.json"),  # observed late
        marche("E", "2025-01-10", None),
        marche("F", "2023-01-10", "2023-01-11"),                 # before the window
    ], declarations=[declaration(BUYER)])
    row = db.buyer()
    assert row["verdict"] == "late"
    assert (row["contracts_total"], row["contracts_in_window"]) == (6, 5)
    assert (row["n_on_time"], row["n_late"], row["n_declared_on_time_observed_late"]) == (2, 1, 1)
    assert row["n_late_all"] == 2 == vocabulary.late_contracts(row)
    assert row["n_no_publication_date"] == 1
    assert row["late_rate"] == pytest.approx(0.5)
    assert row["median_delay_days"] == pytest.approx(26.0)      # 10, 22, 30, 90
    assert row["p90_delay_days"] == pytest.approx(72.0)
    assert "pour 2 contrats sur 4 (taux de retard : 50,0 %)" in row["reasons"][0]
    assert any("apparition observée après l'échéance pour 1 contrat." in r for r in row["reasons"])
    assert any("Date de publication absente pour 1 contrat" in r for r in row["reasons"])


def test_late_modifications_alone_make_a_buyer_late(build):
    db = build([marche("A", "2025-01-10", "2025-01-20",
                       modifications=[modification(0, "2025-02-01", "2025-05-01")])],
               declarations=[declaration(BUYER)])
    row = db.buyer()
    assert row["verdict"] == "late"
    assert (row["modifications_in_window"], row["n_modifications_late"]) == (1, 1)
    assert any("1 modification sur 1" in r for r in row["reasons"])
    assert vocabulary.late_contracts(row) == 0 and vocabulary.late_only_by_modifications(row)


def test_compliant_buyer(build):
    db = build([marche("A", "2025-03-10", "2025-03-20"), marche("B", "2025-04-10", "2025-06-10")],
               declarations=[declaration(BUYER)])
    row = db.buyer()
    assert row["verdict"] == "compliant"
    assert row["late_rate"] == 0.0
    assert row["reasons"] == [
        "Tous les contrats évalués (2) notifiés entre le 01/07/2024 et le 30/06/2025 ont été publiés dans les délais."]
    assert row["siren"] == BUYER[:9]


def test_undeclared_buyer_only_when_the_declaration_register_is_loaded(build):
    records = [marche("A", "2025-03-10", "2025-03-20")]
    db = build(records, declarations=[declaration(OTHER)])
    assert db.buyer()["verdict"] == "undeclared"
    assert "aucun profil d'acheteur ne le déclare" in db.buyer()["reasons"][0]
    db = build(records)  # no register at all: nobody can be said undeclared
    assert db.buyer()["verdict"] == "compliant"


def test_no_recent_data_when_nothing_is_assessable_in_the_window(build):
    db = build([marche("A", "2024-01-10", "2024-11-20"), marche("B", "2025-02-01", None)],
               declarations=[declaration(BUYER)])
    row = db.buyer()
    assert row["verdict"] == "no_recent_data"
    assert any("Aucun contrat évaluable notifié entre le 01/07/2024 et le 30/06/2025" in r for r in row["reasons"])


def test_invalid_siret_is_its_own_verdict_with_the_reason(build):
    db = build([marche("A", "2025-03-10", "2025-03-20", buyer="21440036800013"),
                marche("B", "2025-03-10", "2025-03-20", buyer="NC")],
               declarations=[declaration("2,10104E+13")])
    for siret in ("21440036800013", "NC", "2,10104E+13"):
        row = db.buyer(siret)
        assert row["verdict"] == "invalid_siret"
        assert row["siret_valid"] is False
        assert row["siret_problem"]
        assert row["reasons"][0].startswith("SIRET invalide : ")
        assert row["siren"] is None


def test_la_poste_sirets_follow_their_own_checksum(build):
    # 35600000000048 (head office) passes plain Luhn; 35600000049837 only the La Poste rule
    db = build([marche("A", "2025-03-10", "2025-03-20", buyer="35600000000048"),
                marche("B", "2025-03-10", "2025-03-20", buyer="35600000049837")])
    assert db.buyer("35600000000048")["siret_valid"] is True
    assert db.buyer("35600000049837")["siret_valid"] is True


def test_one_row_per_siret_seen_anywhere(build):
    db = build([marche("A", "2025-03-10", "2025-03-20")],
               declarations=[declaration(OTHER)],
               datasets=[{"dataset_id": "ds", "title": "x", "extras_siret": THIRD}])
    sirets = [r["buyer_siret"] for r in db.rows("SELECT buyer_siret FROM buyer_compliance ORDER BY 1")]
    assert sirets == sorted([BUYER, OTHER, THIRD])


def test_parameters_change_the_window_and_staleness(build):
    db = build([marche("A", "2024-08-01", "2024-09-01")], declarations=[declaration(BUYER)])
    path = db.store.current().path
    con = duckdb.connect(str(path))
    try:
        compliance.compute(con, as_of="2025-06-30", window_months=24, stale_months=12)
        row = con.execute("SELECT verdict, contracts_in_window FROM buyer_compliance").fetchone()
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()
    assert row == ("compliant", 1)
    assert (meta["window_start"], meta["window_months"], meta["stale_months"]) == ("2023-07-01", "24", "12")


def test_as_of_defaults_to_the_version_meta_then_today(build):
    db = build([marche("A", "2025-03-10", "2025-03-20")], as_of=None)
    meta = dict((r["key"], r["value"]) for r in db.rows("SELECT key, value FROM meta"))
    assert meta["as_of"] == dt.date.today().isoformat()


def test_overview_monthly_national_and_per_platform(build):
    db = build([
        marche("A", "2025-01-10", "2025-01-20", source="/srv/plateforme-a/f.json"),
        marche("B", "2025-01-15", "2025-04-20", source="/srv/plateforme-b/f.json"),
        marche("C", "2025-02-01", "2025-02-02", source="/srv/plateforme-b/f.json"),
    ])
    rows = db.rows("SELECT * FROM overview_monthly ORDER BY month, scope, platform")
    national = [r for r in rows if r["scope"] == "national"]
    assert [(r["month"], r["contracts"], r["late"], r["on_time"]) for r in national] == [
        (dt.date(2025, 1, 1), 2, 1, 1), (dt.date(2025, 2, 1), 1, 0, 1)]
    assert national[0]["platform"] is None
    assert national[0]["late_share"] == pytest.approx(0.5)
    per_platform = {(r["month"], r["platform"]): r["late"] for r in rows if r["scope"] == "platform"}
    assert per_platform == {(dt.date(2025, 1, 1), "plateforme-a"): 0, (dt.date(2025, 1, 1), "plateforme-b"): 1,
                            (dt.date(2025, 2, 1), "plateforme-b"): 0}


def test_buyer_platform_is_where_most_of_its_contracts_come_from(build):
    db = build([
        marche("A", "2025-01-10", "2025-01-20", source="/srv/plateforme-a/f.json"),
        marche("B", "2025-01-15", "2025-02-20", source="/srv/plateforme-b/f.json"),
        marche("C", "2025-02-01", "2025-02-02", source="/srv/plateforme-b/g.json"),
    ])
    assert db.buyer()["platform"] == "plateforme-b"


def test_a_tie_between_platforms_goes_to_the_first_by_name_in_every_build(build):
    # Two contracts on each platform; the parallel aggregate meets them in any order, and two
    # builds of the same data used to name either platform.
    records = [
        marche(cid, "2025-01-10", "2025-01-20", source=f"/srv/{folder}/{cid}.json", position=i)
        for i, (cid, folder) in enumerate([("A", "zeta"), ("B", "alpha"), ("C", "zeta"), ("D", "alpha")])
    ]
    assert build(records).buyer()["platform"] == "alpha"
    assert build(list(reversed(records))).buyer()["platform"] == "alpha"


def test_compute_is_repeatable_on_the_same_database(build):
    db = build([marche("A", "2025-01-10", "2025-04-20"), marche("B", "2025-01-10", "2025-01-20")],
               declarations=[declaration(BUYER)])
    con = duckdb.connect(str(db.store.current().path))
    try:
        first = con.execute("SELECT * FROM buyer_compliance ORDER BY buyer_siret").fetchall()
        compliance.compute(con)
        compliance.compute(con)
        again = con.execute("SELECT * FROM buyer_compliance ORDER BY buyer_siret").fetchall()
        contracts = con.execute("SELECT count(*) FROM contract_compliance").fetchone()[0]
    finally:
        con.close()
    assert again == first
    assert contracts == 2


def test_vocabulary_sql_fragments_count_what_the_engine_calls_late(build):
    db = build([marche("A", "2025-01-10", "2025-01-20"), marche("C", "2025-01-10", "2025-04-10"),
                marche("D", "2025-01-10", "2025-02-01", source=f"DECP-{BUYER}-2025-05-01-01.json"),
                marche("E", "2025-01-10", None)])
    late, assessed = db.rows(f"SELECT count(*) FILTER (WHERE in_window AND {vocabulary.LATE_SQL}) AS late, "
                             f"count(*) FILTER (WHERE in_window AND {vocabulary.ASSESSED_SQL}) AS assessed "
                             "FROM contract_compliance")[0].values()
    row = db.buyer()
    assert (late, assessed) == (row["n_late_all"], row["n_assessed"]) == (2, 3)
    labels = {r["code"]: r["label"] for r in db.rows(
        "SELECT code, label FROM compliance_vocabulary WHERE vocabulary = 'verdict'")}
    assert labels == vocabulary.VERDICT_LABELS


def test_a_tie_between_buyer_names_goes_to_the_last_by_name_in_every_build(build):
    records = [marche(cid, "2025-01-10", "2025-01-20", position=i, buyer_name=name)
               for i, (cid, name) in enumerate([("A", "Ville de Lyon"), ("B", "Mairie de Lyon"),
                                                ("C", "Ville de Lyon"), ("D", "Mairie de Lyon")])]
    assert build(records).buyer()["buyer_name"] == "Ville de Lyon"
    assert build(list(reversed(records))).buyer()["buyer_name"] == "Ville de Lyon"


def test_a_buyer_known_from_datasets_only_is_named_the_same_in_every_build(build):
    # two datasets name the buyer differently and belong to two organisations, one each
    datasets = [{"dataset_id": dataset_id, "title": f"Données essentielles des marchés publics - {name}",
                 "extras_siret": OTHER, "organization_name": organization}
                for dataset_id, name, organization in [("ds-b", "Commune B", "Plateforme Z"),
                                                       ("ds-a", "Commune A", "Plateforme Y")]]
    for order in (datasets, list(reversed(datasets))):
        row = build(datasets=order).buyer(OTHER)
        assert (row["buyer_name"], row["platform"]) == ("Commune A", "Plateforme Y")


def test_a_tie_between_declaring_platforms_goes_to_the_first_by_name_in_every_build(build):
    from decp_monitor.pipeline import build_version

    datasets = [{"dataset_id": f"ds-{name}", "title": "Profils d'acheteurs", "organization_name": name}
                for name in ("Zeta", "Alpha")]
    resources = [{"resource_id": f"r-{name}", "dataset_id": f"ds-{name}"} for name in ("Zeta", "Alpha")]
    for order in (["Zeta", "Alpha"], ["Alpha", "Zeta"]):
        with build_version(build.store, "test", meta={"as_of": "2025-06-30"}) as b:
            b.add_datasets(datasets)
            b.add_resources(resources)
            for line, name in enumerate(order, start=2):
                b.add(declaration(BUYER, line=line), resource_id=f"r-{name}")
        con = build.store.connect()
        try:
            platform = con.execute("SELECT platform FROM buyer_compliance WHERE buyer_siret = ?", [BUYER]).fetchone()
        finally:
            con.close()
        assert platform == ("Alpha",)
