"""The stable vocabulary of findings.

A finding code never changes meaning once published: dashboards, exports and users' own
scripts filter on it. Add codes, never rename them. Labels are French (they are shown).
"""
from __future__ import annotations

from typing import Optional

from decp_monitor.core.model import Finding

# code -> (severity, French label). Severity: "error" (data unusable for the rule),
# "warning" (data used but doubtful), "info" (noted, harmless).
CODES: dict[str, tuple[str, str]] = {
    # files
    "file_unreadable": ("error", "Fichier illisible (format non analysable)"),
    "unknown_root": ("error", "Structure racine inconnue"),
    "unsafe_xml": ("error", "XML refusé : DTD ou entités déclarées (risque XXE)"),
    "encoding_fallback": ("warning", "Encodage non UTF-8 (lu en latin-1)"),
    "utf8_bom": ("info", "Marque d'ordre d'octets (BOM) UTF-8 en tête de fichier"),
    "mojibake": ("warning", "Caractères corrompus (mojibake)"),
    "non_standard_json": ("warning", "JSON non standard (NaN, Infinity)"),
    "long_value": ("warning", "Valeur texte démesurée (tronquée)"),
    "empty_file": ("info", "Fichier sans aucun contrat"),
    # identifiers
    "invalid_siret": ("error", "SIRET invalide"),
    "missing_buyer": ("error", "Acheteur absent"),
    "missing_id": ("error", "Identifiant du contrat absent"),
    # dates
    "missing_notification_date": ("error", "Date de notification absente"),
    "missing_publication_date": ("error", "Date de publication des données absente"),
    "unparseable_date": ("error", "Date illisible"),
    "absurd_year": ("error", "Année invraisemblable"),
    "date_in_future": ("warning", "Date dans le futur"),
    "publication_before_notification": ("warning", "Publication antérieure à la notification"),
    "duplicate_field": ("warning", "Champ répété dans un même contrat"),
    # amounts and values
    "negative_amount": ("error", "Montant négatif"),
    "absurd_amount": ("warning", "Montant invraisemblable"),
    "unparseable_number": ("warning", "Nombre illisible"),
    "empty_element": ("info", "Élément vide"),
    "key_with_spaces": ("info", "Nom de champ avec espaces parasites"),
    # records
    "duplicate_record": ("info", "Contrat republié (enregistrement en double)"),
    "record_too_large": ("error", "Contrat démesuré, ignoré (au-delà de la limite de lecture par contrat)"),
    "reused_id": ("warning", "Même identifiant pour des contrats différents"),
    "modification_before_notification": ("warning", "Modification notifiée avant le contrat"),
    # declarations
    "declaration_siret_mangled": ("error", "SIRET déformé par un tableur (notation scientifique)"),
    "declaration_missing_column": ("error", "Colonne obligatoire absente du fichier de déclaration"),
    "invalid_url": ("warning", "URL invalide"),
    "declaration_header_glued": ("warning", "En-tête de déclaration collé à la première ligne de données"),
    # network and catalogue
    "download_failed": ("error", "Téléchargement impossible"),
    "file_too_large": ("error", "Fichier trop volumineux (non téléchargé)"),
    "api_error": ("error", "Erreur de l'API data.gouv.fr"),
}


def severity(code: str) -> str:
    return CODES.get(code, ("warning", code))[0]


def label(code: str) -> str:
    return CODES.get(code, ("warning", code))[1]


def finding(
    source_file: str,
    code: str,
    message: Optional[str] = None,
    **where,
) -> Finding:
    """Build a Finding; the message defaults to the code's French label."""
    if code not in CODES:
        raise ValueError(f"unknown finding code {code!r}: add it to decp_monitor.core.findings.CODES")
    value = where.pop("value", None)
    if value is not None:
        value = str(value)[:200]
    return Finding(source_file=source_file, code=code, message=message or label(code), value=value, **where)
