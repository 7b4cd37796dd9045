"""Méthode: the rules in plain French, what observed dates mean, the window, the data's freshness."""
import re
from pathlib import Path

import pandas as pd
import streamlit as st

from decp_monitor.compliance import rules
from decp_monitor.core import findings as finding_codes
from decp_monitor.core import vocabulary
from decp_monitor.dashboard import columns, widgets
from decp_monitor.dashboard.format import fr_date, fr_datetime, md_escape
from decp_monitor.read import queries

st.title("Méthode")

st.markdown(
    """
### L'obligation

Tout acheteur public (identifié par le SIRET de l'établissement) publie les **données essentielles**
de chaque contrat d'au moins 40 000 € HT (25 000 € HT jusqu'en 2019) **au plus tard deux mois après
sa notification** (`dateNotification`) ; chaque modification, deux mois après sa propre notification.
Les données d'un contrat de concession sont publiées avant le début de son exécution.
« Deux mois » se comptent de date à date : 15 mars → 15 mai ; 31 décembre → 28 ou 29 février.
Depuis le 1er janvier 2024, la publication se fait sur data.gouv.fr.
"""
)

st.markdown("### Les règles appliquées")
for rule in rules.RULES.values():
    st.markdown(f"- **{md_escape(rule.label)}**  \n  Textes : {md_escape(rule.reference)}  \n  "
                f"Code de la règle : `{rule.code}`")
left, right = st.columns(2)
with left:
    st.markdown("**Statut d'un contrat**")
    st.dataframe(pd.DataFrame({"Statut": list(vocabulary.STATUS_LABELS.values()), "Code": list(vocabulary.STATUS_LABELS)}),
                 hide_index=True, width="stretch")
with right:
    st.markdown("**Verdict d'un acheteur** (du plus grave au plus favorable)")
    order = sorted(vocabulary.VERDICT_LABELS, key=lambda v: vocabulary.SEVERITY_RANK.get(v, 99))
    st.dataframe(pd.DataFrame({"Verdict": [vocabulary.VERDICT_LABELS[v] for v in order], "Code": order}),
                 hide_index=True, width="stretch")

st.markdown(
    """
### Dates déclarées et dates observées

La date de publication **déclarée** (`datePublicationDonnees`) est saisie par l'acheteur ou sa
plateforme : rien ne garantit qu'elle soit exacte. decp-monitor la confronte à une date **observée**,
indépendante de l'acheteur, prise dans cet ordre :

1. la date inscrite dans le nom du fichier de publication (`DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{nn}`) ;
2. la date de dépôt du fichier sur data.gouv.fr (`created_at` de la ressource), pour un fichier
   déposé une fois et non réécrit ensuite ;
3. la première fois que decp-monitor a vu le contrat lors d'un moissonnage, quand un moissonnage
   antérieur surveillait déjà cet acheteur (une source nouvellement moissonnée n'est pas « en retard »
   du seul fait d'être nouvelle).

Un contrat **déclaré à temps mais apparu en retard** a une date déclarée dans le délai et une date
observée au-delà : il compte comme un retard.

### Fenêtre d'évaluation

Les verdicts portent sur les contrats notifiés pendant les derniers mois précédant la date
d'évaluation (par défaut 12 mois). Un acheteur qui a publié auparavant mais plus rien depuis
longtemps (par défaut 9 mois) a des **publications interrompues** ; un acheteur déclaré par un profil
d'acheteur sans aucune donnée est **déclaré mais jamais publié**.
"""
)

loaded = widgets.require_data()
meta = loaded.meta
st.markdown("### Paramètres de cette version")
params = {
    "Date d'évaluation": fr_date(meta.get("as_of")),
    "Début de la fenêtre d'évaluation": fr_date(meta.get("window_start")),
    "Durée de la fenêtre (mois)": meta.get("window_months", "–"),
    "Silence avant « publications interrompues » (mois)": meta.get("stale_months", "–"),
    "Version construite le": fr_datetime(meta.get("built_at")),
    "Origine": columns.command_label(meta.get("command")),
}
st.dataframe(pd.DataFrame({"Paramètre": list(params), "Valeur": [str(v) for v in params.values()]}),
             hide_index=True, width="stretch")

st.markdown("### Fraîcheur des données : historique des chargements")
with widgets.error_boundary("l'historique des chargements"):
    history = widgets.q(loaded, queries.refreshes)
    outcome_labels = {"published": "Publiée", "failed": "Échec", "refused": "Refusée"}
    history = history.assign(outcome_label=history["outcome"].map(lambda o: outcome_labels.get(o, o)))
    widgets.table(history, columns.config(
        "started_at", "finished_at", "command", "outcome_label", "message", "records", "files", "findings",
        started_at=columns.datetime("Début (UTC)"), finished_at=columns.datetime("Fin (UTC)"),
        command=st.column_config.TextColumn("Origine", help="Commande qui a construit la version"),
        outcome_label=st.column_config.TextColumn("Résultat"),
        records=columns.count("Enregistrements"),
    ), empty="Aucun chargement enregistré.")
    failures = [e for e in widgets.data.store().read_refresh_log() if e.get("outcome") != "published"]
    known = set(history["refresh_id"]) if "refresh_id" in history else set()
    failures = [e for e in failures if e.get("refresh_id") not in known]
    if failures:
        st.markdown("**Échecs postérieurs à cette version** (la version précédente est restée en service)")
        for entry in failures[-20:][::-1]:
            st.markdown(f"- {fr_datetime(entry.get('started_at'))} — {md_escape(columns.command_label(entry.get('command')))} — "
                        f"{md_escape(entry.get('message') or 'échec')}")

# The documentation is shown here, not linked: a link to `SCHEMA.md` resolved against the app's URL
# and opened Streamlit's English "Page not found". Links between the two documents point to the
# expander of the other.
DOCS = Path(__file__).resolve().parents[3] / "docs"
DOC_TITLES = {"COMPLIANCE.md": "Documentation complète des règles", "SCHEMA.md": "Schéma des données"}
for doc, title in DOC_TITLES.items():
    text = (DOCS / doc).read_text(encoding="utf-8")
    for other, other_title in DOC_TITLES.items():
        text = re.sub(r"\[([^\]]*)\]\(" + re.escape(other) + r"(?:#[^)]*)?\)",
                      r"\1 (« " + other_title + " », ci-dessous sur cette page)", text)
    with st.expander(f"{title} (docs/{doc})"):
        st.markdown(text)

with st.expander("Codes d'anomalie"):
    st.dataframe(pd.DataFrame([{"Code": code, "Gravité": sev, "Libellé": label}
                               for code, (sev, label) in finding_codes.CODES.items()]),
                 hide_index=True, width="stretch")
