"""The dashboard pages, run headless with AppTest against small databases built by the real store."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from decp_monitor.core.model import Record
from decp_monitor.dashboard.format import format_siret
from decp_monitor.dashboard.navigation import page_path
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store

from .conftest import COMPLIANT, INVALID, LATE, MISSING, UNKNOWN, build_test_db

PAGES = [page_path("overview"), page_path("buyer"), page_path("buyers"), page_path("contracts"), page_path("datasets"),
         page_path("declarations"), page_path("quality"), page_path("method")]


def open_page(at, page_script, **params):
    at.run()
    at.switch_page(page_script)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    return clean(at)


def clean(at):
    """No exception and no section replaced by its French error message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not [e for e in at.error if "Impossible d'afficher" in e.value], [e.value for e in at.error]
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


SVG = "{http://www.w3.org/2000/svg}"


def drawn_charts(at, kind: str | None = None) -> list:
    """The charts on the page, parsed: widgets.chart puts each SVG in a Markdown element."""
    import xml.etree.ElementTree as ET

    found = []
    for element in at.markdown:
        if str(element.value).startswith('<div class="decp-chart-box"'):
            value = str(element.value)
            root = ET.fromstring(value[value.index("<svg"):value.rindex("</svg>") + len("</svg>")])
            if kind is None or root.get("data-chart") == kind:
                found.append(root)
    return found


def chart_marks(root, cls: str = "bar") -> list:
    return [e for e in root.iter() if e.get("class") == cls]


def chart_texts(root) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def verdict_label(data_dir, siret) -> str:
    con = Store(data_dir).connect()
    try:
        return con.execute("SELECT verdict_label FROM buyer_compliance WHERE buyer_siret = ?", [siret]).fetchone()[0]
    finally:
        con.close()


# -- without data ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_an_empty_data_directory(empty_app, page):
    open_page(empty_app, page)
    shown = texts(empty_app.markdown)
    if page != page_path("method"):
        assert "Aucune donnée chargée" in shown
        assert "python -m decp_monitor demo" in shown
    else:  # the method page explains the rules even without data
        assert "Dates déclarées et dates observées" in shown


def test_first_run_builds_the_demo_database(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from decp_monitor.pipeline import demo

    from .conftest import REPO

    data_dir = tmp_path / "first-run"
    monkeypatch.setenv("DECP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("DECP_AUTO_DEMO", raising=False)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert Store(data_dir).current() is not None
    assert demo.demo_corpus_dir(Store(data_dir)).exists()
    assert "Données de démonstration" in texts(at.info) + texts(at.sidebar.warning)
    assert any(m.label == "Acheteurs" for m in at.metric)


# -- with data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_data(app, page):
    open_page(app, page)
    assert app.title, "each page has a title"
    assert "Aucune donnée chargée" not in texts(app.markdown)


def test_sidebar_says_which_version_is_shown(app, test_db):
    open_page(app, page_path("overview"))
    version = Store(test_db).current()
    sidebar = texts(app.sidebar.caption)
    # the build time in Paris, not the database file's name
    assert version.name not in sidebar and ".duckdb" not in sidebar and "UTC" not in sidebar
    built = dt.datetime.fromisoformat(Store(test_db).connect().execute(
        "SELECT value FROM meta WHERE key = 'built_at'").fetchone()[0]).replace(tzinfo=dt.UTC)
    assert f"Construite le {built.astimezone(ZoneInfo('Europe/Paris')):%d/%m/%Y à %H:%M}" in sidebar
    assert "Date d'évaluation : 30/06/2025" in sidebar


def test_overview_headline_figures_in_french(app):
    open_page(app, page_path("overview"))
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Contrats (toutes dates)"] == "10"
    assert metrics["Publiés en retard (période)"] == "40,0\u00a0%"  # 4 late of 10 assessed
    assert metrics["Déclarés sans aucune publication"] == "1"


def test_overview_worst_buyers_link_to_their_buyer_page(app):
    open_page(app, page_path("overview"))
    worst = next(d.value for d in app.dataframe if "fiche" in d.value.columns)
    assert list(worst["buyer_siret"]) == [LATE]
    assert list(worst["fiche"]) == [f"acheteur?siret={LATE}"]


def test_buyer_deep_link_compliant(app, test_db):
    open_page(app, page_path("buyer"), siret=COMPLIANT)
    assert [h.value for h in app.header] == ["Commune de Bonneville"]
    assert verdict_label(test_db, COMPLIANT) in texts(app.success)
    contracts = app.dataframe[0].value
    assert len(contracts) == 6 and set(contracts["contract_id"]) == {f"BON-{m}" for m in range(1, 7)}


def test_buyer_deep_link_late_shows_reasons(app, test_db):
    open_page(app, page_path("buyer"), siret=LATE)
    banner = texts(app.error)
    assert verdict_label(test_db, LATE) in banner
    assert "\n- " in banner, "the banner lists its reasons"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Publiés en retard (période)"] == "4"
    assert metrics["Taux de retard (période)"] == "100,0\u00a0%"


def test_buyer_deep_link_never_published(app, test_db):
    open_page(app, page_path("buyer"), siret=MISSING)
    assert verdict_label(test_db, MISSING) in texts(app.error)
    # no status filter over nothing: what the absence of contracts means
    assert "Aucun contrat n'a été trouvé sous ce SIRET" in texts(app.info)
    assert "pour ce filtre" not in texts(app.info)
    # no name in any publication: the declaration's contact details say who it is
    assert "coordonnées déclarées : Mairie de Jamaisvu, 75000 Paris" in texts(app.caption)
    assert not [s for s in app.selectbox if s.key == "url_statut"]
    # the declaration that makes it expected is shown, with its profile URL as a link
    app.query_params["onglet"] = "Jeux de données et déclarations"
    clean(app.run())
    declarations = app.dataframe[0].value
    assert list(declarations["url_profil_acheteur"]) == ["https://profil.example.fr/acheteur/42"]
    assert "coordonnees" in app.dataframe[0].proto.column_order
    assert declarations["url_dcat"].isna().all(), "a javascript: URL never becomes a link"


def test_buyer_unknown_siret_says_it_is_not_in_the_data(app):
    open_page(app, page_path("buyer"), siret=UNKNOWN)
    assert "n'apparaît pas dans les données" in texts(app.warning)
    assert "autre SIRET" in texts(app.markdown)
    assert not app.header


def test_buyer_invalid_siret_says_why(app):
    open_page(app, page_path("buyer"), siret=INVALID,
                   onglet="Se mettre en règle")
    assert "n'est pas valide" in texts(app.error)
    assert "clé de contrôle" in texts(app.error)
    open_page(app, page_path("buyer"), siret="2144003680")
    assert "14 chiffres" in texts(app.error)


def test_buyer_search_accepts_a_siret_with_spaces(app):
    open_page(app, page_path("buyer"))
    app.text_input(key="buyer_query").input("214 400 368 00012").run()
    assert not app.exception
    assert [h.value for h in app.header] == ["Commune de Bonneville"]
    assert app.query_params["siret"] == COMPLIANT


def test_buyer_search_by_name_lists_matches(app):
    open_page(app, page_path("buyer"), q="retardville")
    links = [link.proto.label for link in app.get("page_link")]
    assert len(links) == 1 and "Retardville" in links[0]
    assert "1 acheteur trouvé." in texts(app.caption)


def test_unknown_siret_points_to_the_same_siren(app):
    from .conftest import luhn_siret

    sibling = luhn_siret("2144003680002")  # same SIREN as the compliant buyer, another establishment
    open_page(app, page_path("buyer"), siret=sibling)
    assert "n'apparaît pas dans les données" in texts(app.warning)
    assert "Établissements du même SIREN (214 400 368)" in texts(app.markdown)
    assert any("Bonneville" in link.proto.label for link in app.get("page_link"))


def test_buyer_contract_status_filter(app):
    open_page(app, page_path("buyer"), siret=COMPLIANT)
    clean(app.selectbox(key="url_statut").select("late").run())
    assert "Aucun contrat publié pour ce filtre." in texts(app.info)
    assert app.query_params["statut"] == "late"


def test_buyers_table_is_ranked_and_filterable(app):
    open_page(app, page_path("buyers"))
    all_rows = app.dataframe[0].value
    assert set(all_rows["buyer_siret"]) == {COMPLIANT, LATE, MISSING}
    assert all_rows["fiche"].str.startswith("acheteur?siret=").all()

    clean(app.multiselect(key="url_verdict").select("late").run())
    assert list(app.dataframe[0].value["buyer_siret"]) == [LATE]
    assert app.query_params["verdict"] == "late"

    app.multiselect(key="url_verdict").unselect("late").run()
    app.number_input(key="url_min").set_value(5).run()
    assert list(app.dataframe[0].value["buyer_siret"]) == [COMPLIANT]

    app.number_input(key="url_min").set_value(0).run()
    clean(app.slider(key="url_retard").set_range(50, 100).run())
    assert list(app.dataframe[0].value["buyer_siret"]) == [LATE]
    assert app.query_params["retard"] == "50-100"


def test_buyers_filters_are_read_from_the_url(app):
    open_page(app, page_path("buyers"), declare="oui")
    assert set(app.dataframe[0].value["buyer_siret"]) == {COMPLIANT, MISSING}
    open_page(app, page_path("buyers"), declare="non")
    assert set(app.dataframe[0].value["buyer_siret"]) == {LATE}


def test_buyers_filters_can_match_nothing(app):
    open_page(app, page_path("buyers"), q="aucun acheteur de ce nom")
    assert "Aucun acheteur ne correspond" in texts(app.info)


def test_declarations_put_never_published_first(app):
    open_page(app, page_path("declarations"))
    rows = app.dataframe[0].value
    assert list(rows["siret"]) == [MISSING, COMPLIANT]
    assert "Mairie de Jamaisvu, 75000 Paris" in set(rows["coordonnees"]), "who a nameless declared buyer is"
    clean(app.toggle(key="url_jamais").set_value(True).run())
    assert list(app.dataframe[0].value["siret"]) == [MISSING]
    clean(app.text_input(key="url_q").input("jamaisvu").run())
    assert list(app.dataframe[0].value["siret"]) == [MISSING]


def test_datasets_only_link_http_urls(app):
    open_page(app, page_path("datasets"))
    datasets = app.dataframe[-2].value if len(app.dataframe) > 2 else app.dataframe[0].value
    by_id = dict(zip(datasets["dataset_id"], datasets["url"]))
    assert by_id["ds-bon"] == "https://www.data.gouv.fr/fr/datasets/ds-bon/"
    assert pd.isna(by_id["ds-platform"]), "an ftp:// URL never becomes a link"


def test_quality_lists_findings_and_failed_files(app):
    open_page(app, page_path("quality"))
    by_code = app.dataframe[0].value
    assert {"file_unreadable", "missing_publication_date"} <= set(by_code["code"])
    clean(app.selectbox(key="url_code").select("file_unreadable").run())
    listed = app.dataframe[1].value
    assert list(listed["source_file"]) == ["broken.xml"]
    assert app.query_params["code"] == "file_unreadable"
    failed = app.dataframe[-1].value
    assert "broken.xml" in set(failed["source_file"])


def test_method_shows_the_refresh_history(app):
    open_page(app, page_path("method"))
    history = app.dataframe[-2].value
    assert "test" in set(history["command"])


def test_a_new_version_is_shown_without_restart(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from .conftest import REPO

    data_dir = tmp_path / "data"
    store = build_test_db(data_dir)
    monkeypatch.setenv("DECP_DATA_DIR", str(data_dir))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30)
    open_page(at, page_path("overview"))
    assert {m.label: m.value for m in at.metric}["Contrats (toutes dates)"] == "10"

    with build_version(store, "load", carry_over=True, meta={"as_of": "2025-06-30"}) as build:
        build.add(Record(source_file="more.json", position=0, kind="marche", format="json-2019",
                         buyer_siret=LATE, contract_id="NEW-1", notification_date=dt.date(2025, 3, 1),
                         publication_date=dt.date(2025, 3, 5)))
    at.run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Contrats (toutes dates)"] == "11"


def test_a_failing_section_shows_a_french_message_not_a_traceback(app, monkeypatch):
    import streamlit as st

    from decp_monitor.read import queries

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    st.cache_data.clear()
    monkeypatch.setattr(queries, "worst_buyers", broken)
    app.run()
    assert not app.exception
    assert "Impossible d'afficher le classement des acheteurs" in texts(app.error)
    assert "boom" not in texts(app.error)
    assert app.metric, "the rest of the page still renders"
    st.cache_data.clear()


def test_a_version_without_compliance_tables_says_so(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from .conftest import REPO

    store = Store(tmp_path / "data")
    with build_version(store, "load") as build:
        build.add(Record(source_file="a.json", position=0, kind="marche", format="json-2019",
                         buyer_siret=COMPLIANT, contract_id="A", notification_date=dt.date(2025, 1, 1)))
    # Every build computes compliance; a version without its tables was built by an older tool.
    con = duckdb.connect(str(store.current().path))
    for table in ("buyer_compliance", "dataset_conformance", "resource_conformance", "overview_monthly"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DROP VIEW contract_compliance")
    con.close()
    monkeypatch.setenv("DECP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)
    for page in (page_path("overview"), page_path("buyer"), page_path("buyers")):
        at = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=30), page)
        assert "Conformité non calculée" in texts(at.markdown)
    # pages that do not need the verdicts still work
    at = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=30), page_path("quality"))
    assert at.title[0].value == "Qualité des données"


def test_big_tables_are_paginated_and_filters_go_back_to_page_one(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from decp_monitor.core.model import Declaration

    from .conftest import REPO, luhn_siret

    store = Store(tmp_path / "data")
    with build_version(store, "load", meta={"as_of": "2025-06-30"}) as build:
        for n in range(130):
            siret = luhn_siret(f"2{n:07d}00001")  # 130 SIRENs
            build.add(Declaration(source_file="decl.csv", line=n + 2, siret=siret, siret_raw=siret,
                                  url_profil_acheteur=f"https://profil.example.fr/{n}"))
    monkeypatch.setenv("DECP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)
    at = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=30), page_path("buyers"))
    assert len(at.dataframe[0].value) == 100
    assert "Acheteurs 1 à 100 sur 130." in texts(at.caption)
    # the downloads hold all 130 rows, not the page on screen
    assert "Les téléchargements contiennent les 130 lignes" in texts(at.caption)
    import io

    from decp_monitor.read import queries
    from decp_monitor.read.export import export_listing

    con = store.connect()
    try:
        page = queries.buyers(con, queries.BuyerFilter(), limit=100)
        assert len(page.rows) == 100 and page.total == 130
        buffer = io.BytesIO()
        # the page knows its query and filter, not SQL: the export runs it again in full
        assert export_listing(con, page.listing, ["buyer_siret", "buyer_name", "late_rate"], "csv", buffer) == 130
    finally:
        con.close()
    csv = buffer.getvalue().decode("utf-8").splitlines()
    assert csv[0].replace('"', "") == "buyer_siret,buyer_name,late_rate" and len(csv) == 131
    clean(at.number_input(key="page_buyers").set_value(2).run())
    assert len(at.dataframe[0].value) == 30
    clean(at.text_input(key="url_q").input("2000012").run())
    # n = 120..129 start with these digits: a single page, shown from its first row
    assert len(at.dataframe[0].value) == 10
    assert "10 acheteurs." in texts(at.caption)


def test_buyer_page_builds_only_the_open_tab_and_the_url_names_it(app):
    open_page(app, page_path("buyer"), siret=LATE)
    assert not drawn_charts(app), "the timeline and the trend are not built behind their tabs"
    assert "onglet" not in app.query_params  # the default tab keeps the URL short
    app.query_params["onglet"] = "Chronologie"
    clean(app.run())
    assert [c.get("data-chart") for c in drawn_charts(app)] == ["buyer_timeline"]
    assert app.query_params["onglet"] == "Chronologie"


def test_an_unknown_tab_in_the_url_opens_the_default_one(app):
    open_page(app, page_path("buyer"), siret=LATE, onglet="<b>inconnu</b>")
    assert "onglet" not in app.query_params
    assert not drawn_charts(app) and app.dataframe, "the contracts tab, as without the parameter"
    open_page(app, page_path("overview"), vue="n'importe quoi")
    assert "vue" not in app.query_params
    assert "Les acheteurs qui publient le plus en retard" in texts(app.subheader)


def test_buyer_timeline_draws_notification_deadline_and_publication(app):
    open_page(app, page_path("buyer"), siret=LATE, onglet="Chronologie")
    [chart] = drawn_charts(app, "buyer_timeline")
    legend = chart_texts(chart)
    assert "Notification" in legend and "Échéance (deux mois)" in legend
    assert "Publication — Publié en retard" in legend
    # the late buyer's four contracts: a dot, a deadline tick and a publication diamond each
    assert len(chart_marks(chart, "contract")) == 4
    assert len(chart_marks(chart, "notification")) == len(chart_marks(chart, "deadline")) == 4
    assert [p.get("data-value") for p in chart_marks(chart, "publication")] == ["late"] * 4


HOSTILE_ID = '</svg></div><script>alert(1)</script>\n\n<b>gras</b> & "A"'


def test_names_from_the_data_never_become_links_or_markup(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from .conftest import REPO

    store = Store(tmp_path / "data")
    with build_version(store, "load", meta={"as_of": "2025-06-30"}) as build:
        build.add(Record(source_file="a.json", position=0, kind="marche", format="json-2019",
                         buyer_siret=LATE, buyer_name="[Cliquez ici](https://evil.example) **urgent**",
                         contract_id=HOSTILE_ID, notification_date=dt.date(2025, 1, 1),
                         publication_date=dt.date(2025, 6, 1)))
    monkeypatch.setenv("DECP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)
    at = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=30), page_path("buyer"), siret=LATE,
                   onglet="Chronologie")
    header = at.header[0].value
    assert "\\[Cliquez ici\\]\\(https\\:" in header and "\\*\\*urgent\\*\\*" in header
    # in a chart (SVG in the page through Markdown's raw HTML), a contract id stays text
    [chart] = drawn_charts(at, "buyer_timeline")  # one SVG, well formed: the id closed nothing
    assert not list(chart.iter(f"{SVG}script")) and not list(chart.iter(f"{SVG}b"))
    assert [r.get("data-key") for r in chart_marks(chart, "contract")] == [HOSTILE_ID.replace("\n\n", " ") + " · 01/01/2025"]
    at = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=30), page_path("overview"))
    labels = [link.proto.label for link in at.get("page_link")]
    assert any("\\[Cliquez ici\\]" in label for label in labels)


def app_on(monkeypatch, data_dir):
    """The whole app (app.py, demo first run included) on `data_dir`, after its first run."""
    from streamlit.testing.v1 import AppTest

    from .conftest import REPO

    monkeypatch.setenv("DECP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("DECP_AUTO_DEMO", raising=False)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=30)
    clean(at.run())
    return at


def test_first_run_calls_the_demo_builder_with_progress(monkeypatch, tmp_path):
    """The app's first-run path, whatever the demo corpus: builder called once, progress shown, data shown."""
    from decp_monitor.pipeline import demo as demo_db

    calls = []

    def fake_builder(store, progress=None):
        calls.append(store.root)
        progress(1, 2, "a.json")
        progress(2, 2, "b.json")
        build_test_db(store.root)
        return True

    monkeypatch.setattr(demo_db, "build_demo_if_missing", fake_builder)
    at = app_on(monkeypatch, tmp_path / "fresh")
    assert calls == [tmp_path / "fresh"]
    assert any(getattr(block, "label", None) == "Base de démonstration prête" for block in at.main.children.values())
    assert {m.label: m.value for m in at.metric}["Contrats (toutes dates)"] == "10"
    clean(at.run())
    assert len(calls) == 1, "built once"


def test_a_failed_demo_build_explains_instead_of_crashing(monkeypatch, tmp_path):
    from decp_monitor.pipeline import demo as demo_db

    def failing_builder(store, progress=None):
        raise OSError("disque plein")

    monkeypatch.setattr(demo_db, "build_demo_if_missing", failing_builder)
    at = app_on(monkeypatch, tmp_path / "fresh")
    assert "La construction de la base de démonstration a échoué" in texts(at.error)
    assert "Aucune donnée chargée" in texts(at.markdown)


def _as_if_built_by_an_older_version(store, is_demo: bool) -> None:
    import duckdb

    con = duckdb.connect(str(store.current().path))
    try:
        con.execute("DELETE FROM meta WHERE key IN ('store_format', 'is_demo')")
        if is_demo:
            con.execute("INSERT INTO meta VALUES ('is_demo', 'true')")
    finally:
        con.close()


@pytest.mark.parametrize("is_demo", [True, False], ids=["demo", "user_data"])
def test_a_database_from_an_older_version_is_rebuilt_if_demo_else_flagged(monkeypatch, tmp_path, is_demo):
    # Pages read tables an older build lacks (the Contrats search columns): the demo is rebuilt,
    # data the user loaded is kept and the page says why it may fail.
    from decp_monitor.pipeline import demo as demo_db

    store = build_test_db(tmp_path / "old")
    _as_if_built_by_an_older_version(store, is_demo)
    calls = []

    def fake_demo(store, progress=None):
        calls.append(store.root)
        build_test_db(store.root)

    monkeypatch.setattr(demo_db, "build_demo", fake_demo)
    at = app_on(monkeypatch, tmp_path / "old")
    outdated = "construite par une version antérieure de decp-monitor"
    if is_demo:
        assert calls == [tmp_path / "old"]
        assert not any(outdated in w.value for w in at.warning)
    else:
        assert calls == []
        assert any(outdated in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Contrats (toutes dates)"] == "10"


# -- what a French reader sees in the tables and charts ----------------------------------------


def test_buyer_contracts_read_in_french(app):
    open_page(app, page_path("buyer"), siret=LATE)
    contracts = app.dataframe[0].value
    assert set(contracts["kind"]) == {"Marché"}, "codes are shown as labels"
    assert (contracts["days_late"] > 0).all()
    # a first sighting on a source's first harvest proves nothing: no observed date shown
    assert contracts["observed_date"].isna().all() and contracts["observed_source"].isna().all()
    open_page(app, page_path("buyer"), siret=COMPLIANT)
    contracts = app.dataframe[0].value
    assert contracts["days_late"].isna().all(), "no negative delay for contracts published on time"
    assert set(contracts["observed_source"]) == {"Date du nom de fichier"}
    assert contracts["observed_date"].notna().all()


def test_buyer_timeline_shows_contract_labels_and_dates_on_top(app):
    open_page(app, page_path("buyer"), siret=LATE, onglet="Chronologie")
    [chart] = drawn_charts(app, "buyer_timeline")
    rows = chart_marks(chart, "contract")
    assert [r.get("data-key").split(" · ")[0] for r in rows] == ["RET-3", "RET-1", "RET-4", "RET-2"]
    labels = {"".join(t.itertext()) for r in rows for t in r.iter(f"{SVG}text")}
    assert "RET-3 · 05/10/2024" in labels, "each line is labelled with its contract and notification date"
    # the dates are on top: the month labels sit above the first line's dot
    first_dot = float(chart_marks(chart, "notification")[0].get("cy"))
    month_labels = [t for t in chart.iter(f"{SVG}text") if "".join(t.itertext()).split(" ")[0] in
                    ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")]
    assert month_labels and all(float(t.get("y")) < first_dot for t in month_labels)


def test_buyer_advice_lists_each_convention_message_once(app):
    open_page(app, page_path("buyer"), siret=COMPLIANT, onglet="Se mettre en règle")
    # its own dataset (extras.siret) has no tags and no frequency
    [advice] = [m.value for m in app.markdown if "À corriger dans vos publications" in m.value]
    lines = [line for line in advice.splitlines() if line.startswith("- ")]
    assert lines and len(lines) == len(set(lines))
    assert not [m.value for m in app.markdown if "À signaler à la plateforme" in m.value]


def test_convention_checks_tell_the_buyers_own_dataset_from_its_platforms(tmp_path):
    from decp_monitor.read import queries

    store = Store(tmp_path)
    with build_version(store, "test", meta={"as_of": "2025-06-30"}) as build:
        build.add(Record(source_file="x/DECP-a.json", position=0, kind="marche", format="json-2019",
                         buyer_siret=COMPLIANT, contract_id="A", notification_date=dt.date(2025, 1, 5),
                         publication_date=dt.date(2025, 1, 20)))
        build.add(Record(source_file="x/plateforme-2025.json", position=0, kind="marche", format="json-2019",
                         buyer_siret=COMPLIANT, contract_id="B", notification_date=dt.date(2025, 2, 5),
                         publication_date=dt.date(2025, 2, 20)))
        build.add_datasets([{"dataset_id": "own", "title": "DECP Bonneville", "extras_siret": COMPLIANT},
                            {"dataset_id": "platform", "title": "DECP de la plateforme"}])
        build.add_resources([{"resource_id": "r1", "dataset_id": "own", "title": "a.json",
                              "url": "https://static.data.gouv.fr/x/DECP-a.json"},
                             {"resource_id": "r2", "dataset_id": "platform", "title": "p.json",
                              "url": "https://static.data.gouv.fr/x/plateforme-2025.json"}])
    con = store.connect()
    try:
        checks = queries.buyer_checks(con, COMPLIANT)
    finally:
        con.close()
    assert set(checks.loc[checks["own_dataset"], "dataset_id"]) == {"own"}
    assert set(checks.loc[~checks["own_dataset"], "dataset_id"]) == {"platform"}


def test_overview_monthly_chart_marks_provisional_months(app):
    open_page(app, page_path("overview"))
    [chart] = drawn_charts(app, "monthly")
    assert chart_marks(chart, "provisional"), "months whose deadline is after the assessment date are shaded"
    assert any("provisoires" in c.value for c in app.caption)
    assert chart_marks(chart, "point"), "the median delay, on its own axis"


def test_overview_groups_single_buyer_platforms(app, test_db):
    from decp_monitor.read import queries

    con = Store(test_db).connect()
    try:
        rows = queries.verdicts_by_platform(con)
    finally:
        con.close()
    # the buyer publishing its own dataset is one "platform" of one buyer: grouped, not a bar of its own
    assert set(rows["platform"]) == {queries.OTHER_PLATFORMS, "(non renseignée)"}
    assert rows.loc[rows["platform"] == queries.OTHER_PLATFORMS, "buyers"].sum() == 1
    assert rows["severity_rank"].is_monotonic_decreasing, "most favourable verdict first"


def test_sidebar_names_the_origin_in_french(app):
    open_page(app, page_path("overview"))
    sidebar = texts(app.sidebar.caption)
    assert "Origine : test" in sidebar and "Commande" not in sidebar


def test_console_sentence_and_timing_in_french(app):
    open_page(app, page_path("console"))
    intro = texts(app.markdown)
    assert "ni modifier les données, ni lire ou écrire de fichiers, ni accéder au web" in intro
    assert "10\u202f000 premières lignes" in intro
    app.text_area(key="console_sql").input(
        "SELECT notification_date, amount FROM contract_compliance ORDER BY notification_date LIMIT 3").run()
    clean(app.button[0].click().run())
    caption = texts(app.caption)
    assert "3 lignes en " in caption and "," in caption.split("lignes en ")[1], caption
    result = app.dataframe[0]
    assert len(result.value) == 3
    assert "DD/MM/YYYY" in str(result.proto.columns), "dates are shown day first"


def test_quality_file_filter_accepts_a_file_name(tmp_path):
    import duckdb

    from decp_monitor.read import queries

    con = duckdb.connect()
    con.execute("CREATE TABLE findings (code VARCHAR, severity VARCHAR, message VARCHAR, source_file VARCHAR, "
                "position INTEGER, field VARCHAR, value VARCHAR, buyer_siret VARCHAR, contract_id VARCHAR)")
    con.execute("INSERT INTO findings VALUES ('x', 'error', 'm', '/srv/data/cache/abc/decp-2024.json', 1, NULL, NULL, NULL, NULL), "
                "('x', 'error', 'm', '/srv/data/cache/abc/autre.json', 1, NULL, NULL, NULL, NULL)")
    page = queries.findings_list(con, file="decp-2024.json")
    assert list(page.rows["source_file"]) == ["/srv/data/cache/abc/decp-2024.json"]
    assert queries.findings_list(con, file="/srv/data/cache/abc/autre.json").total == 1


def test_invalid_siret_advice_is_to_correct_it_and_names_the_valid_sibling(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from .conftest import REPO

    assert INVALID[:9] == COMPLIANT[:9]
    store = Store(tmp_path / "data")
    with build_version(store, "load", meta={"as_of": "2025-06-30"}) as build:
        for n, siret in enumerate((INVALID, COMPLIANT)):
            build.add(Record(source_file="a.json", position=n, kind="marche", format="json-2019",
                             buyer_siret=siret, buyer_name="Commune de Bonneville", contract_id=f"A{n}",
                             notification_date=dt.date(2025, 1, 1), publication_date=dt.date(2025, 1, 10)))
    monkeypatch.setenv("DECP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)
    at = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=30), page_path("buyer"), siret=INVALID,
                   onglet="Se mettre en règle")
    advice = texts(at.markdown)
    assert "corrigez le SIRET de l'acheteur" in advice
    assert f"**{format_siret(COMPLIANT)}**" in advice, "the one valid SIRET of the same SIREN is named"
    # no advice to spread the invalid number into file names or extras.siret
    assert f"DECP-{INVALID}" not in advice and f"`{INVALID}`" not in advice


def test_method_shows_the_documentation_without_dead_links(app):
    open_page(app, page_path("method"))
    labels = [e.label for e in app.expander]
    assert "Documentation complète des règles (docs/COMPLIANCE.md)" in labels
    assert "Schéma des données (docs/SCHEMA.md)" in labels
    shown = texts(app.markdown)
    assert "](SCHEMA.md)" not in shown and "](COMPLIANCE.md)" not in shown
    assert "« Schéma des données », ci-dessous sur cette page" in shown
