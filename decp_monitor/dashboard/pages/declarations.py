"""Déclarations: the buyers that profile platforms declare, never-published ones first."""
import streamlit as st

from decp_monitor.dashboard import columns, widgets
from decp_monitor.dashboard.format import fr_int
from decp_monitor.read import queries

PAGE_SIZE = 100

st.title("Déclarations des profils d'acheteur")
loaded = widgets.require_data()
widgets.demo_notice(loaded)
st.caption("Les plateformes de profil d'acheteur déclarent sur data.gouv.fr les acheteurs qu'elles hébergent "
           "(fichier CSV `siretAcheteur`, `urlProfilAcheteur`, `urlDCAT`, `coordonnees`). Cette liste dit qui "
           "doit publier ; les acheteurs déclarés dont aucune donnée n'a été trouvée viennent en premier.")

with widgets.error_boundary("le bilan des déclarations"):
    summary = widgets.q(loaded, queries.declarations_summary)
    if summary["rows"] == 0:
        widgets.empty_state(
            "Aucune déclaration chargée",
            "Aucun fichier de déclaration de profil d'acheteur n'est présent dans cette version. "
            "Le moissonnage (`python -m decp_monitor refresh`) les récupère dans les jeux de données "
            "portant le mot-clé `decp` ; `load` accepte aussi un CSV local.",
            icon=":material/assignment:",
        )
        st.stop()
    a, b, c, d = st.columns(4)
    a.metric("SIRET déclarés", fr_int(summary["sirets"]))
    b.metric("Jamais publié", fr_int(summary["never_published"]),
             help="Déclarés, mais aucun contrat trouvé sous ce SIRET (SIRET invalides compris ; "
                  "la vue d'ensemble ne compte que les SIRET valides)")
    c.metric("Lignes illisibles", fr_int(summary["unreadable"]),
             help="SIRET impossible à retrouver (notation scientifique d'un tableur, etc.)")
    d.metric("Fichiers de déclaration", fr_int(summary["files"]))

left, right = st.columns([1, 2])
with left:
    only_never = widgets.url_toggle("Seulement les acheteurs jamais publiés", "jamais", False)
with right:
    text = widgets.url_text("Nom, coordonnées, SIRET ou URL du profil", "q", placeholder="Rechercher…")

with widgets.error_boundary("la liste des déclarations"):
    page = widgets.paged_query(loaded, queries.declarations, "declarations", "déclarations", PAGE_SIZE,
                               only_never_published=only_never, text=text)
    rows = widgets.with_safe_links(widgets.with_buyer_links(page.rows, "siret"), "url_profil_acheteur", "url_dcat")
    widgets.table(
        rows,
        columns.config("fiche", "siret", "buyer_name", "coordonnees", "verdict_label", "contracts_total",
                       "last_publication_date",
                       "url_profil_acheteur", "url_dcat", "siret_raw", "source_file", "line"),
        download="declarations", full=page, loaded=loaded,
        empty="Aucune déclaration ne correspond.",
    )
