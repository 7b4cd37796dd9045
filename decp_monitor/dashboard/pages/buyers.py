"""Acheteurs: every buyer, ranked and filterable; each row opens its buyer page."""
import streamlit as st

from decp_monitor.dashboard import columns, widgets
from decp_monitor.read import queries
from decp_monitor.read import register as register_queries
from decp_monitor.read.queries import BuyerFilter

PAGE_SIZE = 100
ORDERS = {
    "severity": "Gravité du verdict",
    "late": "Nombre de contrats en retard (période)",
    "late_rate": "Taux de retard (période)",
    "contracts": "Nombre de contrats",
    "name": "Nom",
}
DECLARED = {"": "Tous", "oui": "Déclarés par un profil d'acheteur", "non": "Non déclarés"}

st.title("Acheteurs")
loaded = widgets.require_data()
widgets.demo_notice(loaded)
widgets.require_compliance(loaded)
st.caption("Tous les acheteurs connus (déclarés, titulaires d'un jeu de données ou auteurs de publications), "
           "classés du plus problématique au plus exemplaire. Les filtres sont dans l'adresse de la page : "
           "copiez-la pour partager la vue.")

verdict_labels = widgets.q(loaded, queries.verdict_labels)
with st.container(border=True):
    a, b, c = st.columns([2, 1, 1])
    with a:
        verdicts = widgets.url_multiselect("Verdict", "verdict", list(verdict_labels),
                                           format_func=lambda v: verdict_labels.get(v, v),
                                           placeholder="Tous les verdicts")
    with b:
        declared = widgets.url_select("Déclaration", "declare", list(DECLARED), "", format_func=DECLARED.get)
    with c:
        platform = widgets.url_select("Plateforme", "plateforme", [None] + widgets.q(loaded, queries.platforms), None,
                                      format_func=lambda p: "Toutes" if p is None else p)
    d, e, f, g = st.columns([1, 2, 1.6, 1.4])  # "Gravité du verdict" fits
    with d:
        min_contracts = widgets.url_int("Contrats au minimum", "min", 0,
                                        help="Nombre minimal de contrats publiés (toutes dates)")
    with e:
        late_range = widgets.url_range("Taux de retard (%)", "retard", (0, 100), 0, 100,
                                       help="Restreindre aux acheteurs dont le taux de retard est dans cet intervalle "
                                            "(les acheteurs sans contrat évalué sont alors exclus)")
    with f:
        text = widgets.url_text("Nom ou SIRET", "q", placeholder="Rechercher…")
    with g:
        order = widgets.url_select("Trier par", "tri", list(ORDERS), "severity", format_func=ORDERS.get)

# Kind and place of the buyers (register of buyers), on versions that have them.
kinds = widgets.q(loaded, register_queries.buyer_kind_options)
place = {"buyer_kind": None, "region": None, "departement": None}
if kinds:
    with st.container(border=True):
        k, r, dpt = st.columns(3)
        with k:
            place["buyer_kind"] = widgets.url_select("Nature de l'acheteur", "nature", [None] + list(kinds), None,
                                                     format_func=lambda v: "Toutes" if v is None else kinds.get(v, v))
        regions = widgets.q(loaded, register_queries.region_options)
        with r:
            place["region"] = widgets.url_select("Région", "region", [None] + list(regions), None,
                                                 format_func=lambda v: "Toutes" if v is None else regions.get(v, v))
        departements = widgets.q(loaded, register_queries.departement_options, place["region"])
        with dpt:
            place["departement"] = widgets.url_select(
                "Département", "departement", [None] + list(departements), None,
                format_func=lambda v: "Tous" if v is None else departements.get(v, v))

selected = BuyerFilter(
    verdicts=tuple(verdicts),
    declared={"oui": True, "non": False}.get(declared),
    platform=platform,
    min_contracts=min_contracts,
    late_min=late_range[0] / 100,
    late_max=late_range[1] / 100,
    # with the register, the name search reads abbreviations and apostrophes (« CCAS », « d’Amiens »)
    text="" if kinds else text,
    search=text if kinds else "",
    **place,
)
with widgets.error_boundary("la liste des acheteurs"):
    page = widgets.paged_query(loaded, queries.buyers, "buyers", "acheteurs", PAGE_SIZE, selected, order=order)
    widgets.table(
        widgets.with_buyer_links(page.rows),
        columns.config("fiche", "buyer_name", "buyer_siret", "verdict_label", "buyer_kind_label", "departement_name",
                       "declared", "platform", "contracts_assessed", "late_contracts", "late_rate", "n_modifications_late",
                       "median_delay_days", "contracts_in_window", "contracts_total", "last_publication_date"),
        download="acheteurs", full=page, loaded=loaded,
        empty="Aucun acheteur ne correspond à ces filtres. Élargissez-les (verdict, taux de retard, nombre de contrats).",
    )
