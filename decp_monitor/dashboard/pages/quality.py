"""Qualité des données: every defect met while reading the files, by code, file and buyer."""
import streamlit as st

from decp_monitor.core import findings as finding_codes
from decp_monitor.dashboard import columns, widgets
from decp_monitor.dashboard.format import fr_int
from decp_monitor.read import queries

PAGE_SIZE = 100
SEVERITIES = {None: "Toutes", "error": "Erreurs", "warning": "Avertissements", "info": "Informations"}

st.title("Qualité des données")
loaded = widgets.require_data()
widgets.demo_notice(loaded)
st.caption("Un fichier cassé, une date illisible ou un SIRET invalide ne font jamais échouer un chargement : "
           "chaque défaut devient une anomalie, avec le fichier, la position, le champ et un message.")

by_code = widgets.q(loaded, queries.findings_by_code)
if by_code.empty:
    widgets.empty_state("Aucune anomalie", "Aucun défaut n'a été relevé dans les fichiers chargés.", icon=":material/check_circle:")
    st.stop()

with widgets.error_boundary("le bilan des anomalies"):
    a, b, c = st.columns(3)
    a.metric("Anomalies", fr_int(by_code["findings"].sum()))
    b.metric("Dont erreurs", fr_int(by_code.loc[by_code["severity"] == "error", "findings"].sum()),
             help="Donnée inutilisable pour la règle de délai")
    c.metric("Codes distincts", fr_int(len(by_code)))
    view = columns.french_severity(by_code.assign(code_label=[finding_codes.label(code) for code in by_code["code"]]))
    widgets.table(view, columns.config("code_label", "code", "severity", "findings", "files", "buyers", "example"),
                  download="anomalies-par-code")

def code_labels(df):
    """The codes of a row as their French labels (the downloads keep the codes beside them)."""
    if df.empty or "code_list" not in df:
        return df
    return df.assign(code_labels=[" ; ".join(finding_codes.label(c) for c in str(v).split(", ")) if v else None
                                  for v in df["code_list"]])


codes = list(by_code["code"])
labels = {code: finding_codes.label(code) for code in codes}
a, b = st.columns(2)
with a:
    code = widgets.url_select("Anomalie", "code", [None] + codes, None,
                              format_func=lambda c: "Toutes les anomalies" if c is None else f"{labels[c]} ({c})")
with b:
    severity = widgets.url_select("Gravité", "gravite", list(SEVERITIES), None, format_func=SEVERITIES.get)

tab_list, tab_files, tab_buyers, tab_failed = st.tabs(
    ["Anomalies", "Par fichier", "Par acheteur", "Fichiers inutilisables"])
with tab_list, widgets.error_boundary("la liste des anomalies"):
    file = widgets.url_text("Fichier", "fichier", placeholder="ex. decp-2024.json",
                            help="Nom du fichier (tel qu'affiché dans les tableaux) ou chemin complet")
    page = widgets.paged_query(loaded, queries.findings_list, "findings", "anomalies", PAGE_SIZE,
                               code=code, severity=severity, file=file or None)
    widgets.table(columns.french_severity(page.rows), columns.config("severity", "code", "message", "source_file", "position", "field",
                                            "value", "buyer_siret", "contract_id"),
                  download="anomalies", empty="Aucune anomalie pour ces filtres.", full=page, loaded=loaded)
with tab_files, widgets.error_boundary("les anomalies par fichier"):
    page = widgets.q(loaded, queries.findings_by_file, code=code)
    widgets.count_caption(len(page.rows), page.total, 0, "fichiers")
    widgets.table(code_labels(page.rows), columns.config("source_file", "findings", "errors", "code_labels", "code_list"),
                  download="anomalies-par-fichier", full=page, loaded=loaded)
with tab_buyers, widgets.error_boundary("les anomalies par acheteur"):
    page = widgets.q(loaded, queries.findings_by_buyer, code=code)
    widgets.count_caption(len(page.rows), page.total, 0, "acheteurs")
    widgets.table(code_labels(widgets.with_buyer_links(page.rows)),
                  columns.config("fiche", "buyer_name", "buyer_siret", "findings", "errors", "code_labels",
                                 "code_list"),
                  download="anomalies-par-acheteur", empty="Aucune anomalie rattachée à un acheteur.",
                  full=page, loaded=loaded)
with tab_failed, widgets.error_boundary("les fichiers inutilisables"):
    failed = widgets.q(loaded, queries.failed_files)
    failed = failed.assign(code_label=[finding_codes.label(c) for c in failed["code"]])
    widgets.table(widgets.with_safe_links(failed, "url"),
                  columns.config("source_file", "code_label", "message", "url"),
                  download="fichiers-inutilisables",
                  empty="Tous les fichiers ont pu être lus.")
