"""Jeux de données: the datasets and files on data.gouv.fr and the publishing conventions they break."""
import pandas as pd
import streamlit as st

from decp_monitor.dashboard import columns, widgets
from decp_monitor.read import queries

PAGE_SIZE = 100

st.title("Jeux de données")
loaded = widgets.require_data()
widgets.demo_notice(loaded)
st.caption("Les jeux de données et fichiers moissonnés sur data.gouv.fr, confrontés aux conventions de "
           "publication : titre, mots-clés, licence `fr-lo`, `extras.siret`, nom de fichier "
           "`DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{nn}`, fichier déposé plutôt que lien, format cohérent.")

checks = pd.DataFrame(columns=["level", "check", "check_label", "failed", "checked"])
with widgets.error_boundary("le bilan des contrôles"):
    checks = widgets.q(loaded, queries.checks_summary)
    if checks.empty:
        st.info("Aucun contrôle de convention n'est disponible dans cette version "
                "(pas de jeux de données moissonnés, ou contrôles non calculés).", icon=":material/info:")
    else:
        view = checks.assign(
            level=checks["level"].map({"dataset": "Jeu de données", "resource": "Ressource"}),
            share=checks["failed"] / checks["checked"].where(checks["checked"] > 0),
        )
        widgets.table(view, columns.config(
            "level", "check_label", "failed", "checked", "share",
            failed=st.column_config.NumberColumn("En échec", format="localized"),
            checked=st.column_config.NumberColumn("Contrôlés", format="localized"),
            share=st.column_config.ProgressColumn("Part en échec", format="percent", min_value=0, max_value=1),
        ))

check_labels = dict(zip(checks["check"], checks["check_label"])) if not checks.empty else {}
dataset_checks = sorted(set(checks.loc[checks["level"] == "dataset", "check"])) if not checks.empty else []
resource_checks = sorted(set(checks.loc[checks["level"] == "resource", "check"])) if not checks.empty else []

tab_datasets, tab_resources = st.tabs(["Jeux de données", "Fichiers (ressources)"])
with tab_datasets, widgets.error_boundary("les jeux de données"):
    a, b = st.columns(2)
    with a:
        failing = widgets.url_select("Contrôle en échec", "controle", [None] + dataset_checks, None,
                                     format_func=lambda c: "Tous les jeux de données" if c is None else check_labels.get(c, c))
    with b:
        text = widgets.url_text("Titre, organisation ou SIRET", "q", placeholder="Rechercher…")
    page = widgets.paged_query(loaded, queries.datasets, "datasets", "jeux de données", PAGE_SIZE,
                               failing_check=failing, text=text)
    widgets.table(
        widgets.with_safe_links(page.rows, "url"),
        columns.config("title", "url", "organization_name", "extras_siret", "license", "frequency",
                       "resource_count", "last_modified", "failed_checks", "failed_labels"),
        download="jeux-de-donnees", full=page, loaded=loaded,
        empty="Aucun jeu de données ne correspond.",
    )
with tab_resources, widgets.error_boundary("les fichiers"):
    failing_res = widgets.url_select("Contrôle en échec", "controle_fichier", [None] + resource_checks, None,
                                     format_func=lambda c: "Tous les fichiers" if c is None else check_labels.get(c, c))
    page = widgets.paged_query(loaded, queries.resources, "resources", "fichiers", PAGE_SIZE, failing_check=failing_res)
    widgets.table(
        widgets.with_safe_links(page.rows, "url"),
        columns.config("title", "url", "dataset_title", "filetype", "type", "format", "mime", "filesize",
                       "created_at", "download_status", "failed_labels"),
        download="fichiers", full=page, loaded=loaded,
        empty="Aucun fichier ne correspond.",
    )
