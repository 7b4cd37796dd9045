"""French column labels and help, shared by every table of the dashboard.

Numbers use the browser's locale (`localized`, `euro`, `percent`), so a French browser shows
`1 234 567,89 €`; dates are fixed to `31/12/2024` whatever the locale.
"""
from __future__ import annotations

import streamlit as st

cc = st.column_config
DATE = "DD/MM/YYYY"


def date(label: str, help: str | None = None):
    return cc.DateColumn(label, format=DATE, help=help)


def datetime(label: str, help: str | None = None):
    return cc.DatetimeColumn(label, format="DD/MM/YYYY HH:mm", help=help)


def count(label: str, help: str | None = None):
    return cc.NumberColumn(label, format="localized", help=help)


def link(label: str, text: str | None = None, help: str | None = None):
    return cc.LinkColumn(label, display_text=text, help=help)


COMMON = {
    "buyer_siret": cc.TextColumn("SIRET", help="Identifiant de l'établissement acheteur (14 chiffres)"),
    "siret": cc.TextColumn("SIRET", help="SIRET déclaré (14 chiffres)"),
    "buyer_name": cc.TextColumn("Acheteur", help="Nom de l'acheteur tel que publié (absent des fichiers 2024)"),
    "fiche": link("Fiche", "Voir l'acheteur", "Ouvre la page de l'acheteur"),
    "verdict_label": cc.TextColumn("Verdict", help="Appréciation de l'acheteur sur la fenêtre d'évaluation (voir Méthode)"),
    "declared": cc.CheckboxColumn("Déclaré", help="Présent dans une déclaration de profil d'acheteur"),
    "platform": cc.TextColumn("Plateforme", help="Organisation du jeu de données ou origine du fichier"),
    "contracts_total": count("Contrats", "Contrats publiés, toutes dates"),
    "contracts_in_window": count("Contrats évalués", "Contrats notifiés dans la fenêtre d'évaluation"),
    "late_contracts": count("En retard", "Contrats publiés plus de deux mois après la notification"),
    "late_rate": cc.NumberColumn("Taux de retard", format="percent",
                                 help="Part des contrats évalués publiés en retard"),
    "median_delay_days": cc.NumberColumn("Délai médian (j)", format="localized",
                                         help="Délai médian entre notification et publication, en jours"),
    "last_publication_date": date("Dernière publication", "Date de publication déclarée la plus récente"),
    "dataset_count": count("Jeux de données"),
    "notification_date": date("Notification", "Date de notification du marché (dateNotification) ou de signature"),
    "contract_id": cc.TextColumn("Identifiant", help="Identifiant du contrat chez l'acheteur"),
    "kind": cc.TextColumn("Type", help="marche ou concession"),
    "objet": cc.TextColumn("Objet", width="large"),
    "amount": cc.NumberColumn("Montant", format="euro", help="Montant HT (ou valeur globale d'une concession)"),
    "status_label": cc.TextColumn("Statut", help="Résultat de la règle de délai pour ce contrat"),
    "rule_label": cc.TextColumn("Règle", help="Règle de délai appliquée (voir Méthode)"),
    "deadline": date("Échéance", "Date limite de publication"),
    "publication_date": date("Publication déclarée", "datePublicationDonnees la plus ancienne déclarée"),
    "observed_date": date("Publication observée", "Date à laquelle le fichier est réellement apparu (nom du fichier, date de création sur data.gouv.fr ou première observation)"),
    "observed_source": cc.TextColumn("Origine de l'observation"),
    "delay_days": cc.NumberColumn("Délai (j)", format="localized", help="Jours entre notification et publication déclarée"),
    "days_late": cc.NumberColumn("Retard (j)", format="localized", help="Jours au-delà de l'échéance"),
    "in_window": cc.CheckboxColumn("Évalué", help="Notifié dans la fenêtre d'évaluation"),
    "record_count": count("Publications", "Nombre d'enregistrements regroupés (republications)"),
    "source_file": cc.TextColumn("Fichier source"),
    "title": cc.TextColumn("Titre", width="large"),
    "url": link("Lien", None, "Adresse (liens http(s) seulement)"),
    "organization_name": cc.TextColumn("Organisation"),
    "extras_siret": cc.TextColumn("extras.siret", help="SIRET déclaré dans les métadonnées du jeu de données"),
    "license": cc.TextColumn("Licence", help="Attendue : fr-lo"),
    "frequency": cc.TextColumn("Fréquence"),
    "resource_count": count("Ressources"),
    "last_modified": datetime("Modifié le"),
    "created_at": datetime("Créé le", "Date de dépôt sur data.gouv.fr"),
    "failed_checks": count("Contrôles échoués"),
    "failed_labels": cc.TextColumn("Conventions non respectées", width="large"),
    "filetype": cc.TextColumn("Dépôt", help="file = fichier déposé, remote = lien externe"),
    "type": cc.TextColumn("Type"),
    "format": cc.TextColumn("Format"),
    "mime": cc.TextColumn("MIME"),
    "filesize": cc.NumberColumn("Taille", format="bytes"),
    "download_status": cc.TextColumn("Téléchargement"),
    "classification": cc.TextColumn("Classement"),
    "dataset_title": cc.TextColumn("Jeu de données"),
    "url_profil_acheteur": link("Profil d'acheteur", None, "urlProfilAcheteur déclarée"),
    "url_dcat": link("URL DCAT", None, "urlDCAT déclarée"),
    "code": cc.TextColumn("Code", help="Code stable de l'anomalie (voir Méthode)"),
    "code_label": cc.TextColumn("Anomalie"),
    "severity": cc.TextColumn("Gravité", help="error : donnée inutilisable ; warning : douteuse ; info : signalée"),
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
    "check_label": cc.TextColumn("Contrôle"),
    "expected": cc.TextColumn("Attendu"),
    "actual": cc.TextColumn("Constaté"),
    "level": cc.TextColumn("Niveau"),
    "name": cc.TextColumn("Nom"),
    "line": cc.NumberColumn("Ligne"),
    "siret_problem": cc.TextColumn("Problème de SIRET"),
    "siret_raw": cc.TextColumn("SIRET tel que saisi"),
}


SEVERITY_LABELS = {"error": "Erreur", "warning": "Avertissement", "info": "Information"}


def french_severity(df):
    """The severity column in French (the codes stay in the exports and the SQL console)."""
    if "severity" in df.columns:
        df = df.assign(severity=df["severity"].map(lambda s: SEVERITY_LABELS.get(s, s)))
    return df


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
