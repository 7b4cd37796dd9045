"""Vérifier un fichier: a buyer drops its DECP files before publishing and sees what to fix.

The uploaded bytes are written to a temporary directory removed as soon as the check ends, and
read by decp_monitor.check (the CLI's `check`): never stored, never added to the database.
"""
import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from decp_monitor.check import READY, check_files
from decp_monitor.check.issues import CATEGORY_LABELS, SEVERITY_LABELS
from decp_monitor.check.report import fr_date, today_label
from decp_monitor.dashboard import widgets
from decp_monitor.dashboard.format import fr_int, md_escape

# Per file; .streamlit/config.toml's server.maxUploadSize (in MB) is set to the same figure.
MAX_UPLOAD_MB = 60
MAX_FILES = 5

st.title("Vérifier un fichier")
st.caption(
    "Déposez vos fichiers de données essentielles (JSON ou XML, format 2019 ou 2024) avant de les publier : "
    "decp-monitor les valide contre le schéma officiel, calcule l'échéance et le statut de chaque contrat, "
    "le verdict de l'acheteur si le fichier est publié à la date choisie, et vérifie les conventions de "
    "publication de data.gouv.fr. "
    f"**Limites : {MAX_FILES} fichiers au plus, {MAX_UPLOAD_MB} Mo chacun.** Les fichiers sont traités dans un "
    "répertoire temporaire supprimé aussitôt : rien n'est conservé ni ajouté à la base (seul le rapport reste "
    "affiché, le temps de votre session)."
)

uploaded = st.file_uploader(
    "Fichiers DECP (JSON, XML) et, si vous le souhaitez, le CSV de déclaration de profil d'acheteur",
    type=["json", "xml", "csv"], accept_multiple_files=True, key="check_files")
description = st.file_uploader(
    "Description du jeu de données à publier (JSON data.gouv.fr : titre, mots-clés, licence, extras.siret, "
    "ressources), facultative", type=["json"], key="check_description")
as_of = st.date_input("Date de publication envisagée", value=dt.date.today(), format="DD/MM/YYYY",
                      key="check_as_of")


def _too_large(files) -> list[str]:
    return [f.name for f in files if f.size > MAX_UPLOAD_MB * 2**20]


def _safe_name(name: str, index: int) -> str:
    base = Path(name.replace("\\", "/")).name.strip() or f"fichier-{index + 1}"
    return base[:200]


def run_check(files, description_file, day):
    """Write the uploads to a temporary directory, check them, remove the directory."""
    bar = st.progress(0.0, text="Préparation")
    with tempfile.TemporaryDirectory(prefix="decp-check-") as tmp:
        paths, names = [], []
        for index, upload in enumerate(files):
            name = _safe_name(upload.name, index)
            folder = Path(tmp) / str(index)  # one folder each: two uploads may share a name
            folder.mkdir()
            path = folder / name
            path.write_bytes(upload.getbuffer())
            paths.append(path)
            names.append(name)
        description_path = None
        if description_file is not None:
            description_path = Path(tmp) / "description.json"
            description_path.write_bytes(description_file.getbuffer())
        def progress(phase: str, share: float) -> None:
            bar.progress(min(1.0, share), text=phase)

        report = check_files(paths, as_of=day, dataset_description=description_path, names=names,
                             max_file_bytes=MAX_UPLOAD_MB * 2**20, progress=progress)
    bar.empty()
    return report


if st.button("Vérifier", type="primary", disabled=not uploaded):
    files = list(uploaded or [])
    large = _too_large(files + ([description] if description else []))
    if len(files) > MAX_FILES:
        st.error(f"{len(files)} fichiers déposés : {MAX_FILES} au plus par vérification.", icon=":material/error:")
    elif large:
        st.error(f"Fichier(s) de plus de {MAX_UPLOAD_MB} Mo : {', '.join(large)}.", icon=":material/error:")
    else:
        with widgets.error_boundary("la vérification"):
            st.session_state["check_report"] = run_check(files, description, as_of)

report = st.session_state.get("check_report")
if report is None:
    st.stop()

# -- summary first --------------------------------------------------------------------------------
st.subheader("Résumé")
if report.ready:
    st.success(f"**{READY}** : aucun problème bloquant au {fr_date(report.as_of)}.", icon=":material/check_circle:")
else:
    heading = "Fichier illisible — à corriger d'abord :" if report.unreadable else "À corriger d'abord :"
    st.error(f"**{heading}**\n\n" + "\n".join(f"{i}. {md_escape(line)}"
                                               for i, line in enumerate(report.summary(), 1)),
             icon=":material/error:")

a, b, c, d = st.columns(4)
a.metric("Fichiers", fr_int(len(report.files)))
b.metric("Contrats", fr_int(report.contract_count))
c.metric("Problèmes bloquants", fr_int(sum(i.count for i in report.blocking)))
d.metric("Code de sortie (CLI)", str(report.exit_code))

st.dataframe(pd.DataFrame([{
    "Fichier": f.name, "Type": f.kind_label,
    "Schéma": f.validation.schema.version if f.validation and f.validation.schema else "",
    "Choix du schéma": f.validation.schema.reason if f.validation and f.validation.schema else "",
    "Enregistrements": f.validation.records if f.validation else None,
    "Non conformes": f.validation.invalid_records if f.validation else None,
    "Illisible": f.unreadable or "",
} for f in report.files]), hide_index=True, use_container_width=True)

# -- located problems, grouped --------------------------------------------------------------------
st.subheader(f"Problèmes ({fr_int(len(report.issues))} types)")
if not report.issues:
    st.info("Aucun problème relevé.", icon=":material/check:")
for issue in report.issues:
    label = (f"{SEVERITY_LABELS.get(issue.severity, issue.severity)} · "
             f"{CATEGORY_LABELS.get(issue.category, issue.category)} — {issue.title} ({fr_int(issue.count)})")
    with st.expander(label, expanded=issue in report.blocking[:3]):
        st.markdown(f"{md_escape(issue.explanation)}\n\n**Correction** : {md_escape(issue.fix)}")
        if issue.locations:  # as text: readable, searchable in the page, and short (capped)
            st.markdown("\n".join(f"- `{md_escape(Path(loc.file).name)}` : {md_escape(loc.describe())}"
                                   for loc in issue.locations))
        if issue.count > len(issue.locations):
            st.caption(f"{fr_int(len(issue.locations))} premières occurrences sur {fr_int(issue.count)} ; "
                       "toutes sont comptées.")

# -- what the monitor will conclude ---------------------------------------------------------------
st.subheader(f"Contrats : échéance et statut si publié le {fr_date(report.as_of)}")
if report.status_counts:
    st.markdown(" · ".join(f"{r['status_label']} : **{fr_int(r['contracts'])}**" for r in report.status_counts))
if report.contracts:
    st.dataframe(pd.DataFrame([{
        "Identifiant": c_["contract_id"], "SIRET acheteur": c_["buyer_siret"], "Notification": c_["notification_date"],
        "Publication déclarée": c_["publication_date"], "Échéance": c_["deadline"],
        "Statut d'après le fichier": c_["declared_status_label"], "Conclusion de decp-monitor": c_["status_label"],
        "Au jour choisi": today_label(c_, report.as_of), "Fichier": c_["source_file"], "Enregistrement": c_["record"],
    } for c_ in report.contracts]), hide_index=True, use_container_width=True,
        column_config={k: st.column_config.DateColumn(k, format="DD/MM/YYYY")
                       for k in ("Notification", "Publication déclarée", "Échéance")})
    if report.contract_count > len(report.contracts):
        st.caption(f"{fr_int(len(report.contracts))} contrats affichés sur {fr_int(report.contract_count)} "
                   "(les plus problématiques d'abord).")

st.subheader("Verdict de l'acheteur si le fichier est publié")
for buyer in report.buyers:
    st.markdown(f"**{buyer['buyer_siret']}** {md_escape(buyer.get('buyer_name') or '')} : "
                f"**{buyer['verdict_label']}**")
    for reason in buyer.get("reasons") or []:
        st.markdown(f"- {md_escape(reason)}")
if not report.buyers:
    st.caption("Aucun acheteur lu dans les fichiers.")

st.subheader("Conventions de publication (data.gouv.fr)")
if not report.description_given:
    st.caption("Sans description du jeu de données, seuls les noms de fichiers sont vérifiés.")
if report.conventions:
    st.dataframe(pd.DataFrame([{
        "Vérification": ch["check_label"], "Conforme": "oui" if ch["passed"] else "non",
        "Cible": ch["target"], "Message": ch["message"],
    } for ch in report.conventions]), hide_index=True, use_container_width=True)

# -- downloads ------------------------------------------------------------------------------------
st.subheader("Télécharger le rapport")
left, middle, right = st.columns(3)
left.download_button("Problèmes (CSV Excel français)", report.to_csv("problems"),
                     file_name="verification-problemes.csv", mime="text/csv")
middle.download_button("Contrats (CSV Excel français)", report.to_csv("contracts"),
                       file_name="verification-contrats.csv", mime="text/csv")
right.download_button("Rapport complet (JSON)", report.to_json().encode("utf-8"),
                      file_name="verification.json", mime="application/json")
