"""French column labels and help, shared by every table of the dashboard.

Numbers use the browser's locale (`localized`, `euro`, `percent`), so a French browser shows
`1 234 567,89 €`; dates are fixed to `31/12/2024` whatever the locale.
"""
from __future__ import annotations

import datetime as _dt

import streamlit as st

cc = st.column_config
DATE = "DD/MM/YYYY"


def date(label: str, help: str | None = None):
    return cc.DateColumn(label, format=DATE, help=help)


def datetime(label: str, help: str | None = None):
    return cc.DatetimeColumn(label, format="DD/MM/YYYY HH:mm", help=help)


def count(label: str, help: str | None = None):
    return cc.NumberColumn(label, format="localized", help=help)


# A link column showing the site's name (`www.data.gouv.fr`) instead of the whole address.
HOST = r"https?://([^/?#]+)"


def link(label: str, text: str | None = None, help: str | None = None, **kwargs):
    return cc.LinkColumn(label, display_text=text, help=help, **kwargs)


COMMON = {
    "buyer_siret": cc.TextColumn("SIRET", help="Identifiant de l'établissement acheteur (14 chiffres)"),
    "siret": cc.TextColumn("SIRET", help="SIRET déclaré (14 chiffres)"),
    # The link and the name stay in view when a wide table scrolls sideways.
    "buyer_name": cc.TextColumn("Acheteur", help="Nom de l'acheteur tel que publié (absent des fichiers 2024)",
                                pinned=True),
    "fiche": link("Fiche", "Ouvrir", "Ouvre la page de l'acheteur", width="small", pinned=True),
    "verdict_label": cc.TextColumn("Verdict", help="Appréciation de l'acheteur sur la fenêtre d'évaluation (voir Méthode)"),
    "declared": cc.CheckboxColumn("Déclaré", help="Présent dans une déclaration de profil d'acheteur"),
    "platform": cc.TextColumn("Plateforme", help="Organisation du jeu de données ou origine du fichier"),
    "contracts_total": count("Contrats (toutes dates)", "Contrats publiés, toutes dates de notification"),
    "contracts_in_window": count("Contrats de la période",
                                 "Contrats notifiés dans la fenêtre d'évaluation, évaluables ou non"),
    "contracts_assessed": count("Contrats évalués", "Contrats de la période dont le délai de publication "
                                                    "est calculable : la base du taux de retard"),
    "late_contracts": count("En retard (période)", "Contrats de la période publiés plus de deux mois après "
                                                   "la notification (retard déclaré ou observé)"),
    "n_modifications_late": count("Modifications en retard", "Modifications de la période publiées plus de "
                                                             "deux mois après leur notification"),
    "late_buyers": count("Acheteurs en retard", "Acheteurs au verdict « Publications en retard »"),
    # step 0.001: one decimal once shown as a percentage, as the figures above the tables (8,6 %).
    "late_rate": cc.NumberColumn("Taux de retard", format="percent", step=0.001,
                                 help="En retard / contrats évalués de la période"),
    "median_delay_days": cc.NumberColumn("Délai médian (j)", format="localized",
                                         help="Délai médian entre notification et publication, en jours"),
    "last_publication_date": date("Dernière publication", "Date de publication déclarée la plus récente"),
    "dataset_count": count("Jeux de données"),
    "notification_date": date("Notification", "Date de notification du marché (dateNotification) ou de signature"),
    "contract_id": cc.TextColumn("Identifiant", help="Identifiant du contrat chez l'acheteur"),
    "kind": cc.TextColumn("Type", help="Marché ou concession"),
    "objet": cc.TextColumn("Objet", width="large"),
    "amount": cc.NumberColumn("Montant", format="euro", help="Montant HT (ou valeur globale d'une concession)"),
    "status_label": cc.TextColumn("Statut", help="Résultat de la règle de délai pour ce contrat"),
    "rule_label": cc.TextColumn("Règle", help="Règle de délai appliquée (voir Méthode)"),
    "deadline": date("Échéance", "Date limite de publication"),
    "publication_date": date("Publication déclarée", "datePublicationDonnees la plus ancienne déclarée"),
    "observed_date": date("Publication observée", "Date à laquelle le fichier est réellement apparu (nom du fichier, date de création sur data.gouv.fr ou première observation)"),
    "observed_source": cc.TextColumn("Origine de l'observation"),
    "delay_days": cc.NumberColumn("Délai (j)", format="localized", help="Jours entre notification et publication déclarée"),
    "days_late": cc.NumberColumn("Retard (j)", format="localized",
                                 help="Jours de retard au-delà de l'échéance (vide si publié à temps)"),
    "in_window": cc.CheckboxColumn("Évalué", help="Notifié dans la fenêtre d'évaluation"),
    "record_count": count("Publications", "Nombre d'enregistrements regroupés (republications)"),
    "source_file": cc.TextColumn("Fichier source", help="Nom du fichier lu (le chemin complet figure dans les exports)"),
    "title": cc.TextColumn("Titre", width="large"),
    "url": link("Lien", HOST, "Ouvre l'adresse ; seuls les liens http(s) sont cliquables"),
    "organization_name": cc.TextColumn("Organisation"),
    "extras_siret": cc.TextColumn("extras.siret", help="SIRET déclaré dans les métadonnées du jeu de données"),
    "license": cc.TextColumn("Licence", help="Attendue : fr-lo"),
    "frequency": cc.TextColumn("Fréquence"),
    "resource_count": count("Ressources"),
    "last_modified": datetime("Modifié le"),
    "created_at": datetime("Créé le", "Date de dépôt sur data.gouv.fr"),
    "failed_checks": count("Contrôles échoués"),
    "failed_labels": cc.TextColumn("Conventions non respectées", width="large"),
    "filetype": cc.TextColumn("Dépôt", help="Fichier déposé sur data.gouv.fr, ou lien vers un site externe"),
    "type": cc.TextColumn("Type"),
    "format": cc.TextColumn("Format"),
    "mime": cc.TextColumn("MIME"),
    "filesize": cc.NumberColumn("Taille", format="bytes"),
    "download_status": cc.TextColumn("Téléchargement"),
    "classification": cc.TextColumn("Classement"),
    "dataset_title": cc.TextColumn("Jeu de données"),
    "url_profil_acheteur": link("Profil d'acheteur", None, "urlProfilAcheteur déclarée"),
    "url_dcat": link("URL DCAT", None, "urlDCAT déclarée"),
    "coordonnees": cc.TextColumn("Coordonnées déclarées", width="medium",
                                 help="Champ coordonnees de la déclaration : souvent le nom et l'adresse de l'acheteur"),
    "code": cc.TextColumn("Code", help="Code stable de l'anomalie (voir Méthode)"),
    "code_label": cc.TextColumn("Anomalie"),
    "severity": cc.TextColumn("Gravité", help="Erreur : donnée inutilisable ; Avertissement : douteuse ; "
                                              "Information : signalée"),
    "message": cc.TextColumn("Message", width="large"),
    "field": cc.TextColumn("Champ"),
    "value": cc.TextColumn("Valeur"),
    "position": cc.NumberColumn("Position", help="Rang du contrat dans le fichier (à partir de 0)"),
    "findings": count("Anomalies"),
    "errors": count("Erreurs"),
    "files": count("Fichiers"),
    "buyers": count("Acheteurs"),
    "example": cc.TextColumn("Exemple de message", width="large"),
    "code_list": cc.TextColumn("Codes"),
    "code_labels": cc.TextColumn("Anomalies relevées", width="large"),
    "check_label": cc.TextColumn("Contrôle"),
    "expected": cc.TextColumn("Attendu"),
    "actual": cc.TextColumn("Constaté"),
    "level": cc.TextColumn("Niveau"),
    "name": cc.TextColumn("Nom"),
    "line": cc.NumberColumn("Ligne"),
    "siret_problem": cc.TextColumn("Problème de SIRET"),
    "siret_raw": cc.TextColumn("SIRET tel que saisi"),
}


# Columns of the register of buyers (decp_monitor/register).
COMMON.update({
    "buyer_kind_label": cc.TextColumn("Nature", help="Nature de l'acheteur, d'après sa catégorie juridique (répertoire Sirene)"),
    "legal_name": cc.TextColumn("Organisme", help="Unité légale (SIREN) dont l'établissement dépend"),
    "commune_name": cc.TextColumn("Commune", help="Commune de l'établissement (répertoire Sirene)"),
    "departement_name": cc.TextColumn("Département"),
    "region_name": cc.TextColumn("Région"),
    "closed_on": date("Fermé le", "Date de fermeture de l'établissement (répertoire Sirene)"),
    "departement": cc.TextColumn("Code", help="Code du département"),
    "assessed": count("Contrats évalués", "Contrats notifiés dans la fenêtre d'évaluation, délai calculable"),
    "late": count("En retard", "Contrats publiés plus de deux mois après la notification"),
    "late_share": cc.NumberColumn("Taux de retard", format="percent", help="Part des contrats évalués publiés en retard"),
})

SEVERITY_LABELS = {"error": "Erreur", "warning": "Avertissement", "info": "Information"}

# Codes stored in the database, shown in French in the tables (the exports keep the codes).
CODE_LABELS = {
    "severity": SEVERITY_LABELS,
    "kind": {"marche": "Marché", "concession": "Concession"},
    "filetype": {"file": "Fichier déposé", "remote": "Lien externe"},
    "type": {"main": "Principal", "documentation": "Documentation", "update": "Mise à jour",
             "api": "API", "code": "Code", "other": "Autre"},
    "download_status": {"not_attempted": "Non téléchargé", "downloaded": "Téléchargé",
                        "unchanged": "Inchangé (copie en cache)", "failed": "Échec", "skipped": "Ignoré"},
    "frequency": {"daily": "Quotidienne", "weekly": "Hebdomadaire", "monthly": "Mensuelle",
                  "quarterly": "Trimestrielle", "semiannual": "Semestrielle", "annual": "Annuelle",
                  "punctual": "Ponctuelle", "continuous": "En continu", "irregular": "Irrégulière",
                  "unknown": "Inconnue", "biweekly": "Bimensuelle", "bimonthly": "Tous les deux mois",
                  "threeTimesAYear": "Trois fois par an", "semimonthly": "Deux fois par mois",
                  "hourly": "Toutes les heures"},
    "observed_source": {"file_name": "Date du nom de fichier", "resource_created_at": "Dépôt sur data.gouv.fr",
                        "first_seen": "Première observation par decp-monitor"},
    "classification": {"decp": "Données essentielles", "declaration": "Déclaration de profils d'acheteur",
                       "documentation": "Documentation"},
    "command": {"demo": "Démonstration", "load": "Chargement de fichiers", "refresh": "Moissonnage data.gouv.fr"},
}


def command_label(command) -> str:
    """`demo` -> `Démonstration`: the command that built a version, in French."""
    if not command:
        return "–"
    return CODE_LABELS["command"].get(command, command)


def french_codes(df):
    """Code columns (severity, kind, filetype…) in French for display; unknown codes stay as they are."""
    if df is None or df.empty:
        return df
    changes = {column: df[column].map(lambda v, labels=labels: labels.get(v, v) if isinstance(v, str) else v)
               for column, labels in CODE_LABELS.items() if column in df.columns}
    return df.assign(**changes) if changes else df


def french_severity(df):
    """The severity column in French (the codes stay in the exports and the SQL console)."""
    if "severity" in df.columns:
        df = df.assign(severity=df["severity"].map(lambda s: SEVERITY_LABELS.get(s, s)))
    return df


def file_name(value):
    """A local path shows as its file name (the server's folders mean nothing to a reader); URLs stay."""
    if not isinstance(value, str) or "://" in value:
        return value
    return value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or value


def short_file_names(df, *columns: str):
    present = [c for c in columns if c in df.columns]
    if df is None or df.empty or not present:
        return df
    return df.assign(**{c: df[c].map(file_name) for c in present})


def by_type(df) -> dict:
    """Column configuration from the dtypes of an arbitrary result (the SQL console): French dates
    and numbers, the SQL names kept as labels."""
    import pandas as pd

    out = {}
    for name in df.columns:
        dtype = df[name].dtype
        label = str(name)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            times = df[name].dropna()
            has_time = bool(len(times)) and bool((times.dt.normalize() != times).any())
            out[name] = datetime(label) if has_time else date(label)
        elif pd.api.types.is_bool_dtype(dtype):
            continue
        elif pd.api.types.is_numeric_dtype(dtype):
            out[name] = cc.NumberColumn(label, format="localized")
        elif pd.api.types.is_object_dtype(dtype) and len(df) and all(isinstance(v, _dt.date) for v in df[name].dropna().head(50)) \
                and df[name].notna().any():
            out[name] = date(label)
    return out


def config(*names: str, **overrides) -> dict:
    """Column configuration for the given columns, in that order."""
    out = {}
    for name in names:
        if name in overrides:
            out[name] = overrides.pop(name)
        elif name in COMMON:
            out[name] = COMMON[name]
    out.update(overrides)
    return out
