"""Acheteur: one buyer's verdict, contracts, datasets and what to do — deep link ?siret=…"""

import streamlit as st

from decp_monitor.core.siret import siret_problem
from decp_monitor.dashboard import buyer_view, widgets
from decp_monitor.dashboard.format import format_siret, fr_int, md_escape, plural
from decp_monitor.dashboard.navigation import page_path
from decp_monitor.dashboard.siret_input import as_siret
from decp_monitor.read import queries
from decp_monitor.read import register as register_queries

SEARCH_LIMIT = 25
BUYER_FILTER_PARAMS = ("statut", "fenetre")

st.title("Acheteur")
loaded = widgets.require_data()
widgets.demo_notice(loaded)
widgets.require_compliance(loaded)

# One box for a SIRET or a name; the URL keeps `siret` or `q` so the view can be shared.
initial = st.query_params.get("siret") or st.query_params.get("q") or ""
if st.session_state.get("_buyer_url_seen") != initial:
    st.session_state["_buyer_url_seen"] = initial
    st.session_state["buyer_query"] = initial
typed = st.text_input(
    "SIRET ou nom de l'acheteur", key="buyer_query",
    placeholder="ex. 214 400 368 00012, ou une partie du nom",
    help="Le SIRET peut être saisi avec ou sans espaces. Une recherche par nom liste les acheteurs correspondants.",
).strip()
siret = as_siret(typed)
# Filters of the contracts list belong to the buyer they were set on: another buyer opens unfiltered
# (a deep link's own filters, on the first display, are kept).
shown_before = st.session_state.get("_buyer_filters_for")
if shown_before is not None and shown_before != siret:
    for param in BUYER_FILTER_PARAMS:
        st.query_params.pop(param, None)
        st.session_state.pop(f"url_{param}", None)
st.session_state["_buyer_filters_for"] = siret
siren = siret if siret and len(siret) == 9 else None  # a SIREN lists the organisation's establishments
if siren:
    siret = None
if siret:
    st.query_params["siret"] = siret
    st.query_params.pop("q", None)
elif typed:
    st.query_params["q"] = typed
    st.query_params.pop("siret", None)
else:
    st.query_params.pop("siret", None)
    st.query_params.pop("q", None)
st.session_state["_buyer_url_seen"] = st.query_params.get("siret") or st.query_params.get("q") or ""

if not typed:
    widgets.empty_state(
        "Vérifier un acheteur",
        "Saisissez le SIRET de l'établissement acheteur (14 chiffres, tel qu'il figure dans les "
        "données essentielles) ou une partie de son nom. La page indique si l'acheteur publie ses "
        "données dans les deux mois suivant la notification, liste ses contrats en retard et dit "
        "comment se mettre en règle.",
        icon=":material/search:",
    )
    st.stop()

if not siret:
    with widgets.error_boundary("la recherche"):
        found = widgets.q(loaded, register_queries.find_buyers, typed, limit=SEARCH_LIMIT)
        if found.empty and siren:
            st.warning(f"Aucun établissement du SIREN {md_escape(typed)} dans les données chargées.", icon=":material/search:")
        elif found.empty:
            st.warning(f"Aucun acheteur dont le nom contient « {md_escape(typed)} ». Essayez avec son SIRET.", icon=":material/search:")
        elif siren:
            st.markdown(f"**Établissements du SIREN {siren[0:3]} {siren[3:6]} {siren[6:9]} présents dans les données**")
            for row in found.itertuples():
                st.page_link(page_path("buyer"), label=buyer_view.search_label(row), query_params={"siret": row.buyer_siret})
        else:
            if len(found) < SEARCH_LIMIT:
                st.caption(f"{plural(len(found), 'acheteur trouvé', 'acheteurs trouvés')}.")
            else:
                st.caption(f"Plus de {fr_int(SEARCH_LIMIT - 1)} acheteurs correspondent : les {fr_int(SEARCH_LIMIT)} "
                           "ayant le plus de contrats sont listés. Précisez le nom, ou saisissez le SIRET.")
            for row in found.itertuples():
                st.page_link(page_path("buyer"), label=buyer_view.search_label(row), query_params={"siret": row.buyer_siret})
    st.stop()

problem = siret_problem(siret)
row = None
with widgets.error_boundary("l'acheteur"):
    row = widgets.q(loaded, queries.buyer, siret)

if problem:
    st.error(f"**Le SIRET {format_siret(siret)} n'est pas valide** : {problem}.", icon=":material/block:")
    if row is None:
        st.markdown(
            "Vérifiez la saisie : le SIRET figure sur l'avis Sirene de l'établissement ou sur "
            "[annuaire-entreprises.data.gouv.fr](https://annuaire-entreprises.data.gouv.fr)."
        )
        st.stop()
    st.caption("Ce SIRET invalide figure pourtant dans les données : ce qui a été publié sous ce numéro est présenté ci-dessous.")

if row is None:
    st.warning(f"**Le SIRET {format_siret(siret)} n'apparaît pas dans les données chargées.**", icon=":material/help:")
    st.markdown(
        "Aucun contrat publié, aucune déclaration de profil d'acheteur et aucun jeu de données ne "
        "portent ce SIRET. Cela peut vouloir dire que :\n\n"
        "- l'acheteur n'a publié aucune donnée essentielle, ou pas sur les sources moissonnées ;\n"
        "- ses contrats sont publiés sous un autre SIRET (siège, autre établissement du même organisme) ;\n"
        "- sa plateforme de profil d'acheteur ne l'a pas déclaré ;\n"
        "- il n'a passé aucun marché au-dessus du seuil de publication (40 000 € HT depuis 2020)."
    )
    with widgets.error_boundary("les établissements du même organisme"):
        siblings = widgets.q(loaded, queries.same_siren, siret[:9])
        if not siblings.empty:
            siren = f"{siret[0:3]} {siret[3:6]} {siret[6:9]}"
            st.markdown(f"**Établissements du même SIREN ({siren}) présents dans les données :**")
            for sib in siblings.itertuples():
                st.page_link(page_path("buyer"), label=f"{format_siret(sib.buyer_siret)} — {md_escape(sib.buyer_name or 'nom inconnu')} — {md_escape(sib.verdict_label)}",
                             query_params={"siret": sib.buyer_siret})
    st.stop()

buyer_view.render(loaded, row)
