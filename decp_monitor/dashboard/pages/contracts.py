"""Contrats: search every contract — buyer, supplier, CPV, amount, procedure, nature, département,
notification period, status — paged, sorted, exported; every filter and the page live in the URL."""
import streamlit as st

from decp_monitor.core import vocabulary
from decp_monitor.dashboard import columns, widgets
from decp_monitor.read import queries
from decp_monitor.read.queries import ContractFilter

PAGE_SIZE = 100
ORDERS = {
    "recent": "Notification la plus récente",
    "oldest": "Notification la plus ancienne",
    "amount": "Montant décroissant",
    "late": "Retard décroissant",
    "buyer": "Acheteur (nom)",
}

st.title("Contrats")
loaded = widgets.require_data()
widgets.demo_notice(loaded)
widgets.require_compliance(loaded)
st.caption("Tous les contrats publiés, toutes dates confondues. Combinez les filtres ; ils sont dans l'adresse "
           "de la page, avec le numéro de page : copiez-la pour partager la recherche.")

facets = widgets.q(loaded, queries.contract_facets)
with st.container(border=True):
    a, b, c = st.columns(3)
    with a:
        buyer = widgets.url_text("Acheteur (SIRET ou nom)", "acheteur", placeholder="ex. 214 400 368 ou Nantes")
    with b:
        supplier = widgets.url_text("Titulaire (SIRET ou nom)", "titulaire", placeholder="ex. Eiffage",
                                    help="Une partie du nom (accents et majuscules ignorés) ou le SIRET, "
                                         "avec ou sans espaces, ou son début")
    with c:
        cpv = widgets.url_text("Code CPV (ou son début)", "cpv", placeholder="ex. 45 pour les travaux",
                               help="Les contrats dont le code CPV commence par ces chiffres")
    d, e, f, g = st.columns(4)
    with d:
        procedure = widgets.url_select("Procédure", "procedure", [None] + facets["procedure"], None,
                                       format_func=lambda v: "Toutes" if v is None else v)
    with e:
        nature = widgets.url_select("Nature", "nature", [None] + facets["nature"], None,
                                    format_func=lambda v: "Toutes" if v is None else v)
    with f:
        departement = widgets.url_select("Département d'exécution", "departement", [None] + facets["departement"],
                                         None, format_func=lambda v: "Tous" if v is None else v,
                                         help="Déduit du lieu d'exécution (code postal, commune ou département)")
    with g:
        statuses = widgets.url_multiselect("Statut de publication", "statut", list(vocabulary.STATUS_LABELS),
                                           format_func=vocabulary.STATUS_LABELS.get, placeholder="Tous")
    h, i, j, k, m = st.columns(5)
    with h:
        amount_min = widgets.url_number("Montant HT minimal (€)", "montant_min", step=1000.0)
    with i:
        amount_max = widgets.url_number("Montant HT maximal (€)", "montant_max", step=1000.0)
    with j:
        notified_from = widgets.url_date("Notifié à partir du", "du")
    with k:
        notified_to = widgets.url_date("Notifié jusqu'au", "au")
    with m:
        order = widgets.url_select("Trier par", "tri", list(ORDERS), "recent", format_func=ORDERS.get)

selected = ContractFilter(
    buyer=buyer, supplier=supplier, cpv=cpv, amount_min=amount_min, amount_max=amount_max,
    procedure=procedure, nature=nature, departement=departement,
    notified_from=notified_from, notified_to=notified_to, statuses=tuple(statuses),
)
with widgets.error_boundary("la liste des contrats"):
    page = widgets.paged_query(loaded, queries.contracts_search, "contracts", "contrats", PAGE_SIZE, selected,
                               order=order, url_param="page")
    widgets.table(
        widgets.with_buyer_links(page.rows),
        columns.config("notification_date", "fiche", "buyer_name", "buyer_siret", "objet", "holder_names",
                       "amount", "nature", "procedure", "cpv", "departement", "status_label", "publication_date",
                       "days_late", "contract_id", "source_file",
                       holder_names=st.column_config.TextColumn("Titulaires", width="medium",
                                                                help="Nom (SIRET) de chaque titulaire"),
                       nature=st.column_config.TextColumn("Nature"),
                       procedure=st.column_config.TextColumn("Procédure"),
                       cpv=st.column_config.TextColumn("CPV", help="Code CPV principal"),
                       departement=st.column_config.TextColumn("Dépt", help="Département du lieu d'exécution")),
        download="contrats", full=page, loaded=loaded, key="contracts_table",
        empty="Aucun contrat ne correspond à ces filtres. Élargissez-les.",
    )
