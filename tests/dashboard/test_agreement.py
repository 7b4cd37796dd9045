"""The dashboard tells one truth: figures of one page agree with those of another, on the demo."""
from __future__ import annotations

from pathlib import Path

import pytest

from decp_monitor.core import vocabulary
from decp_monitor.dashboard.buyer_view import chart_table_key
from decp_monitor.dashboard.format import md_escape
from decp_monitor.dashboard.navigation import page_path
from decp_monitor.store.versions import Store

from .conftest import REPO
from .test_pages import chart_marks, clean, drawn_charts, open_page, texts


@pytest.fixture(scope="session")
def demo_dir(shared_demo) -> Path:
    return shared_demo()


@pytest.fixture
def demo_app(monkeypatch, demo_dir):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DECP_DATA_DIR", str(demo_dir))
    monkeypatch.chdir(REPO)
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60)


def rows(demo_dir, sql: str, params: dict | None = None) -> list[tuple]:
    con = Store(demo_dir).connect()
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_platform_list_holds_platforms_only(demo_app, demo_dir):
    open_page(demo_app, page_path("overview"))
    options = demo_app.selectbox(key="url_plateforme").options
    single = {name for (name,) in rows(demo_dir, "SELECT platform FROM buyer_compliance WHERE platform IS NOT NULL "
                                                 "GROUP BY platform HAVING count(DISTINCT left(buyer_siret, 9)) = 1")}
    assert single, "the demo has buyers publishing for themselves"
    assert not single & set(options)
    assert "Dematis" in options


def test_overview_platform_filter_applies_to_headline_chart_and_agrees_with_buyers_page(demo_app, demo_dir):
    open_page(demo_app, page_path("overview"))
    national = metrics(demo_app)
    open_page(demo_app, page_path("overview"), plateforme="Dematis", vue="Plateformes")
    shown = metrics(demo_app)
    assert shown["Acheteurs"] != national["Acheteurs"], "the headline follows the platform filter"
    (buyers, late_buyers), = rows(demo_dir, "SELECT count(*), count(*) FILTER (WHERE verdict = 'late') "
                                            "FROM buyer_compliance WHERE platform = 'Dematis'")
    assert shown["Acheteurs"] == str(buyers)
    assert shown["Acheteurs en retard"] == str(late_buyers)
    # the verdict chart holds the platform's bar only, as many buyers as the headline
    [chart] = drawn_charts(demo_app, "verdicts_by_platform")
    bars = chart_marks(chart)
    assert {b.get("data-key").split("|")[0] for b in bars} == {"Dematis"}
    assert sum(int(b.get("data-value")) for b in bars) == buyers
    late_bar = [b for b in bars if b.get("data-key") == "Dematis|late"]
    assert [int(b.get("data-value")) for b in late_bar] == ([late_buyers] if late_buyers else [])

    # the Acheteurs page, same platform, verdict « late »: as many rows as the overview says
    open_page(demo_app, page_path("buyers"), plateforme="Dematis", verdict="late")
    table = demo_app.dataframe[0].value
    assert len(table) == late_buyers
    assert f"{late_buyers} acheteurs." in texts(demo_app.caption)


def ranking_table(at):
    """The overview's ranking of buyers: the last table with the assessed contracts' column (the
    register's territory section, after it, lists the contracts of the period)."""
    return next(df.value for df in reversed(at.dataframe) if "contracts_assessed" in df.value.columns
                and "buyer_siret" in df.value.columns)


def test_overview_ranking_by_rate_keeps_a_minimum_volume(demo_app):
    open_page(demo_app, page_path("overview"), classement="rate")
    worst = ranking_table(demo_app)
    assert len(worst) and (worst["contracts_assessed"] >= 10).all()
    assert list(worst["late_rate"]) == sorted(worst["late_rate"], reverse=True)
    open_page(demo_app, page_path("overview"), classement="count")
    by_count = ranking_table(demo_app)
    assert list(by_count["late_contracts"]) == sorted(by_count["late_contracts"], reverse=True)


def test_per_platform_late_rate_table_matches_the_contracts(demo_app, demo_dir):
    open_page(demo_app, page_path("overview"), vue="Plateformes")
    table = next(df.value for df in demo_app.dataframe if "platform" in df.value.columns
                 and "late_buyers" in df.value.columns)
    row = table[table["platform"] == "PLACE"].iloc[0]
    (late, assessed), = rows(demo_dir, f"SELECT count(*) FILTER (WHERE {vocabulary.LATE_SQL}), "
                                       f"count(*) FILTER (WHERE {vocabulary.ASSESSED_SQL}) FROM contract_compliance "
                                       "WHERE in_window AND platform = 'PLACE'")
    assert (row["late_contracts"], row["contracts_assessed"]) == (late, assessed)
    assert row["late_rate"] == pytest.approx(round(late / assessed, 3))
    # the chart above the table draws the same rate, one bar per platform of the table
    [chart] = drawn_charts(demo_app, "platform_rates")
    drawn = {b.get("data-key"): float(b.get("data-value")) for b in chart_marks(chart)}
    assert set(drawn) == set(table.loc[table["late_rate"].notna(), "platform"])
    assert drawn["PLACE"] == pytest.approx(100 * row["late_rate"])


def test_buyer_figures_and_status_filter_count_the_same_period(demo_app, demo_dir):
    # the buyer with the most late contracts notified before the window
    (siret, late_window, late_all), = rows(demo_dir, f"""
        SELECT buyer_siret, count(*) FILTER (WHERE in_window AND {vocabulary.LATE_SQL}),
               count(*) FILTER (WHERE {vocabulary.LATE_SQL})
        FROM contract_compliance GROUP BY 1
        HAVING count(*) FILTER (WHERE in_window AND {vocabulary.LATE_SQL}) > 0
        ORDER BY count(*) FILTER (WHERE NOT in_window AND {vocabulary.LATE_SQL}) DESC LIMIT 1""")
    assert late_all > late_window
    open_page(demo_app, page_path("buyer"), siret=siret)
    assert metrics(demo_app)["Publiés en retard (période)"] == str(late_window)
    status = demo_app.selectbox(key="url_statut")
    late_option = next(o for o in status.options if o.startswith(vocabulary.STATUS_LABELS["late"] + " ("))
    (late_only_window,), = rows(demo_dir, "SELECT count(*) FROM contract_compliance WHERE buyer_siret = $s "
                                          "AND in_window AND status = 'late'", {"s": siret})
    assert late_option.endswith(f"({late_only_window})")
    assert f"Toutes dates confondues : {late_all} contrats publiés en retard" in texts(demo_app.caption)
    # all dates: the options count every contract
    clean(demo_app.toggle(key="url_fenetre").set_value(False).run())
    assert demo_app.query_params["fenetre"] == "0"
    (late_only_all,), = rows(demo_dir, "SELECT count(*) FROM contract_compliance WHERE buyer_siret = $s "
                                       "AND status = 'late'", {"s": siret})
    late_option = next(o for o in demo_app.selectbox(key="url_statut").options
                       if o.startswith(vocabulary.STATUS_LABELS["late"] + " ("))
    assert late_option.endswith(f"({late_only_all})")


def test_buyer_late_only_by_its_modifications_says_so(demo_app, demo_dir):
    (siret, n_mod), = rows(demo_dir, "SELECT buyer_siret, n_modifications_late FROM buyer_compliance "
                                     "WHERE verdict = 'late' AND n_late_all = 0 ORDER BY buyer_siret LIMIT 1")
    open_page(demo_app, page_path("buyer"), siret=siret)
    banner = texts(demo_app.error)
    assert md_escape(vocabulary.LATE_BY_MODIFICATIONS_LABEL) in banner
    assert "Aucun contrat de la période n'est publié en retard" in banner
    open_page(demo_app, page_path("buyers"), q=siret)
    assert list(demo_app.dataframe[0].value["verdict_label"]) == [vocabulary.LATE_BY_MODIFICATIONS_LABEL]


def test_status_filter_does_not_follow_to_the_next_buyer(demo_app, demo_dir):
    first, second = [s for (s,) in rows(demo_dir, "SELECT buyer_siret FROM buyer_compliance WHERE n_late_all > 0 "
                                                 "ORDER BY buyer_siret LIMIT 2")]
    open_page(demo_app, page_path("buyer"), siret=first, statut="late")
    assert demo_app.selectbox(key="url_statut").value == "late", "a deep link's filter is applied"
    clean(demo_app.text_input(key="buyer_query").input(second).run())
    assert demo_app.query_params.get("siret") == second
    assert "statut" not in demo_app.query_params
    assert demo_app.selectbox(key="url_statut").index == 0, "« Tous les statuts »"


def test_buyers_table_counts_match_the_verdict_sentence(demo_app, demo_dir):
    (siret, assessed, late), = rows(demo_dir, "SELECT buyer_siret, n_assessed, n_late_all FROM buyer_compliance "
                                              "WHERE n_late_all > 0 AND n_assessed <> contracts_in_window "
                                              "ORDER BY buyer_siret LIMIT 1")
    open_page(demo_app, page_path("buyers"), q=siret)
    row = demo_app.dataframe[0].value.iloc[0]
    assert (row["contracts_assessed"], row["late_contracts"]) == (assessed, late)
    open_page(demo_app, page_path("buyer"), siret=siret)
    assert f"pour {late} contrat" in texts(demo_app.error) and f"sur {assessed} " in texts(demo_app.error)


def test_contracts_page_combined_filter_and_its_url_reopens_the_same_results(demo_app, demo_dir):
    # a combined filter that still matches several pages' worth or a handful: supplier, CPV, amount, status
    params = {"titulaire": "eiffage", "cpv": "45", "montant_min": "40000", "statut": "on_time,late",
              "du": "2020-01-01", "tri": "amount"}
    open_page(demo_app, page_path("contracts"), **params)
    shown = demo_app.dataframe[0].value
    (expected,), = rows(demo_dir, """
        SELECT count(*) FROM contract_compliance c JOIN contracts k USING (contract_key)
        JOIN records r ON r.record_id = k.first_record_id
        WHERE contains(lower(CAST(r.holders AS VARCHAR)), 'eiffage') AND starts_with(k.cpv, '45')
          AND c.amount >= 40000 AND c.status IN ('on_time', 'late') AND c.notification_date >= DATE '2020-01-01'""")
    assert 0 < expected
    assert len(shown) == min(expected, 100)
    assert shown["holder_names"].str.contains("Eiffage").all() and shown["cpv"].str.startswith("45").all()
    assert list(shown["amount"]) == sorted(shown["amount"], reverse=True)
    assert demo_app.query_params["titulaire"] == "eiffage" and demo_app.query_params["tri"] == "amount"

    # the same URL in a new session: the same rows
    from streamlit.testing.v1 import AppTest

    again = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=60), page_path("contracts"), **params)
    assert again.dataframe[0].value["contract_key"].tolist() == shown["contract_key"].tolist()


def test_contracts_page_number_is_in_the_url(demo_app, demo_dir):
    # no filter but the sort: every contract, several pages
    open_page(demo_app, page_path("contracts"), tri="oldest")
    (total,), = rows(demo_dir, "SELECT count(*) FROM contracts")
    assert total > 100, "two pages at least"
    first = demo_app.dataframe[0].value["contract_key"].tolist()
    clean(demo_app.number_input(key="page_contracts").set_value(2).run())
    assert demo_app.query_params["page"] == "2"
    second = demo_app.dataframe[0].value["contract_key"].tolist()
    assert second and not set(first) & set(second)

    from streamlit.testing.v1 import AppTest

    shared = open_page(AppTest.from_file(str(REPO / "app.py"), default_timeout=60), page_path("contracts"),
                       **{"tri": "oldest", "page": "2"})
    assert shared.dataframe[0].value["contract_key"].tolist() == second
    # a new filter goes back to page 1
    clean(shared.text_input(key="url_cpv").input("4").run())
    assert "page" not in shared.query_params


def test_every_overview_chart_has_its_figures_in_a_table(demo_app, demo_dir):
    # monthly, delays and verdicts in an expander each; the per-platform chart and the map of the
    # départements have their tables beside them. Each tab of the page builds only its own part.
    drawn = {}
    for tab in ("Retards", "Plateformes", "Territoires"):
        open_page(demo_app, page_path("overview"), vue=tab)
        drawn[tab] = (len(drawn_charts(demo_app)),
                      len([e for e in demo_app.expander if e.label == "Données du graphique (tableau)"]))
        if tab == "Territoires":
            assert any({"departement", "late_share"} <= set(df.value.columns) for df in demo_app.dataframe)
    assert drawn == {"Retards": (2, 2), "Plateformes": (2, 1), "Territoires": (1, 0)}
    # a click on the first tab (the default one leaves the URL)
    demo_app.query_params.pop("vue")
    demo_app.session_state["vue"] = "Retards"
    clean(demo_app.run())
    # the chart's tables are built when their expander is opened
    assert not any("month" in df.value.columns for df in demo_app.dataframe)
    for download in ("retards-par-mois", "distribution-des-delais"):
        demo_app.session_state[chart_table_key(download)] = True
    demo_app.run()
    assert not demo_app.exception
    monthly = next(df.value for df in demo_app.dataframe if "late_share" in df.value.columns
                   and "month" in df.value.columns)
    (late,), = rows(demo_dir, f"""
        SELECT count(*) FILTER (WHERE {vocabulary.LATE_SQL}) FROM contract_compliance
        WHERE notification_date <= DATE '2026-09-30' AND notification_date > DATE '2026-09-30' - INTERVAL 36 MONTH""")
    assert monthly["late"].sum() == late
    # the charts draw the tables' figures: a bar per month with assessed contracts, a bar per delay bin
    [chart] = drawn_charts(demo_app, "monthly")
    bars = {b.get("data-key"): float(b.get("data-value")) for b in chart_marks(chart)}
    table = {f"{m:%Y-%m}": 100 * s for m, s in zip(monthly["month"], monthly["late_share"]) if s == s}
    assert bars.keys() == table.keys() and all(bars[k] == pytest.approx(table[k]) for k in table)
    points = {p.get("data-key"): float(p.get("data-value")) for p in chart_marks(chart, "point")}
    assert points == {f"{m:%Y-%m}": d for m, d in zip(monthly["month"], monthly["median_delay_days"]) if d == d}
    hist = next(df.value for df in demo_app.dataframe if "bin_start" in df.value.columns)
    [chart] = drawn_charts(demo_app, "delay_histogram")
    assert [(int(b.get("data-key")), int(b.get("data-value"))) for b in chart_marks(chart)] == list(
        zip(hist["bin_start"], hist["contracts"]))


def test_buyer_monthly_trend_with_its_table(demo_app, demo_dir):
    open_page(demo_app, page_path("buyer"), siret="21440036800012", onglet="Tendance mensuelle")
    assert "Tendance mensuelle" in [t.label for t in demo_app.tabs]
    demo_app.session_state[chart_table_key("tendance-mensuelle")] = True
    demo_app.run()
    trend = next(df.value for df in demo_app.dataframe if "late_share" in df.value.columns)
    (contracts,), = rows(demo_dir, "SELECT count(*) FROM contract_compliance WHERE buyer_siret = '21440036800012' "
                                   "AND notification_date <= DATE '2026-09-30' "
                                   "AND notification_date > DATE '2026-09-30' - INTERVAL 36 MONTH")
    assert trend["contracts"].sum() == contracts > 0
    [chart] = drawn_charts(demo_app, "monthly")
    drawn = {b.get("data-key"): float(b.get("data-value")) for b in chart_marks(chart)}
    assert drawn == pytest.approx({f"{m:%Y-%m}": 100 * s for m, s in zip(trend["month"], trend["late_share"]) if s == s})
