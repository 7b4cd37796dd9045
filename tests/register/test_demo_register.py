"""The demo's register facts on the dashboard: every buyer named, found by name and by SIREN (AppTest)."""
from __future__ import annotations

from pathlib import Path

import pytest

from decp_monitor.dashboard.format import format_siret
from decp_monitor.dashboard.navigation import page_path
from decp_monitor.store.versions import Store
from tests.dashboard.test_pages import chart_marks, drawn_charts, open_page, texts

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_dir(shared_demo) -> Path:
    return shared_demo(contracts=1500, buyers=120)


def rows(data_dir, sql):
    con = Store(data_dir).connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def demo_app(monkeypatch, demo_dir):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DECP_DATA_DIR", str(demo_dir))
    monkeypatch.chdir(REPO)
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60)


def test_every_demo_buyer_has_a_name_kind_and_place(demo_dir):
    assert rows(demo_dir, "SELECT count(*) FROM buyer_compliance WHERE buyer_name IS NULL")[0][0] == 0
    valid_unknown = rows(demo_dir, "SELECT count(*) FROM buyer_compliance WHERE siret_valid AND buyer_kind = 'inconnu'")
    assert valid_unknown[0][0] == 0
    assert rows(demo_dir, "SELECT count(*) FROM buyer_compliance WHERE verdict = 'closed'")[0][0] >= 1
    assert rows(demo_dir, "SELECT count(DISTINCT departement) FROM buyer_compliance")[0][0] >= 20


def test_no_demo_buyer_page_says_sans_nom(demo_app, demo_dir):
    # the buyers a 2024 file or a declaration alone names least: declared-only and invalid SIRETs
    sirets = [r[0] for r in rows(demo_dir, "SELECT buyer_siret FROM buyer_compliance WHERE verdict IN "
                                           "('missing', 'invalid_siret', 'closed') AND regexp_full_match(buyer_siret, '[0-9]+') "
                                           "ORDER BY buyer_siret")]
    assert sirets
    for siret in sirets[:6]:
        open_page(demo_app, page_path("buyer"), siret=siret)
        headers = [h.value for h in demo_app.header]
        assert headers and "sans nom" not in headers[0], (siret, headers)


def test_search_by_a_declared_only_buyers_name_finds_it(demo_app, demo_dir):
    siret, coordonnees = rows(demo_dir, """
        SELECT b.buyer_siret, any_value(d.coordonnees) FROM buyer_compliance b JOIN declarations d ON d.siret = b.buyer_siret
        WHERE b.verdict IN ('missing', 'closed') AND b.contracts_total = 0 GROUP BY 1 ORDER BY 1 LIMIT 1""")[0]
    # typed as a person would: the name as they know it, with a typographic apostrophe
    typed = coordonnees.split(",")[0].replace("'", "’")
    open_page(demo_app, page_path("buyer"), q=typed)
    labels = [link.proto.label for link in demo_app.get("page_link")]
    assert any(format_siret(siret) in label for label in labels), (typed, labels)


def test_siren_search_lists_its_establishments_with_their_verdicts(demo_app, demo_dir):
    siren, count = rows(demo_dir, "SELECT left(buyer_siret, 9), count(*) FROM buyer_compliance "
                                  "GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1 LIMIT 1")[0]
    open_page(demo_app, page_path("buyer"), q=f"{siren[:3]} {siren[3:6]} {siren[6:]}")
    assert f"Établissements du SIREN {siren[:3]} {siren[3:6]} {siren[6:]}" in texts(demo_app.markdown)
    labels = [link.proto.label for link in demo_app.get("page_link") if siren[:3] in link.proto.label]
    assert len(labels) == count
    assert any("SIRET invalide" in label or "fermé" in label or "Conforme" in label for label in labels)


def test_closed_buyer_page_says_closed_and_links_its_successor(demo_app, demo_dir):
    siret = rows(demo_dir, "SELECT buyer_siret FROM buyer_compliance WHERE verdict = 'closed' ORDER BY 1 LIMIT 1")[0][0]
    open_page(demo_app, page_path("buyer"), siret=siret)
    assert "Établissement fermé le" in texts(demo_app.info) + texts(demo_app.warning)
    labels = [link.proto.label for link in demo_app.get("page_link")]
    assert any(label.startswith(format_siret(siret)[:11]) and "actif" in label for label in labels), labels


def test_overview_map_and_buyers_filters(demo_app, demo_dir):
    open_page(demo_app, page_path("overview"), vue="Territoires")
    assert "Par nature d'acheteur et par territoire" in texts(demo_app.subheader)
    [france] = drawn_charts(demo_app, "departement_map")
    outlines = chart_marks(france, "dept")
    assert len(outlines) == 96  # one outline per metropolitan département
    # coloured where the table has assessed contracts, grey elsewhere
    table = next(df.value for df in demo_app.dataframe if {"departement", "late_share"} <= set(df.value.columns))
    assessed = set(table.loc[table["assessed"] > 0, "departement"])
    assert {o.get("data-key") for o in outlines if o.get("data-value") is not None} == assessed & {
        o.get("data-key") for o in outlines}
    open_page(demo_app, page_path("buyers"), nature="commune")
    table = demo_app.dataframe[0].value
    assert len(table) and set(table["buyer_kind_label"]) == {"Commune"}


def test_buyers_list_search_reads_abbreviations(demo_app, demo_dir):
    siret, name = rows(demo_dir, "SELECT buyer_siret, buyer_name FROM buyer_compliance "
                                 "WHERE buyer_name ILIKE 'centre communal%' ORDER BY 1 LIMIT 1")[0]
    town = name.replace("—", " ").split()[-1]
    open_page(demo_app, page_path("buyers"), q=f"CCAS {town}")
    table = demo_app.dataframe[0].value
    assert siret in set(table["buyer_siret"]) and len(table) < 10
