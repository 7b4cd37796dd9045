"""What to change, in French, for each finding code and each convention check.

The monitor's findings and checks say what is wrong; a buyer about to publish also needs the
change to make. Codes come from core.findings.CODES and compliance.rules.CHECK_LABELS.
"""
from __future__ import annotations

FINDING_FIXES: dict[str, str] = {
    "file_unreadable": "Enregistrer le fichier en JSON ou XML valide (UTF-8), complet, sans troncature.",
    "unknown_root": "Utiliser la structure officielle : {\"marches\": …} en JSON, <marches> en XML.",
    "unsafe_xml": "Retirer la déclaration DOCTYPE et les entités du fichier XML.",
    "encoding_fallback": "Enregistrer le fichier en UTF-8.",
    "utf8_bom": "Enregistrer le fichier en UTF-8 sans BOM (marque d'ordre d'octets).",
    "mojibake": "Corriger les caractères abîmés (é, è, à…) à la source et enregistrer en UTF-8.",
    "non_standard_json": "Remplacer NaN/Infinity par null ou retirer le champ : ce n'est pas du JSON standard.",
    "empty_file": "Publier un fichier contenant au moins un contrat.",
    "invalid_siret": "Corriger le SIRET (14 chiffres, clé de contrôle valide) d'après l'annuaire des entreprises.",
    "missing_buyer": "Renseigner l'acheteur (acheteur.id = SIRET) de chaque contrat.",
    "missing_id": "Donner un identifiant (id) unique à chaque contrat.",
    "missing_notification_date": "Renseigner dateNotification (AAAA-MM-JJ) : sans elle, l'échéance ne peut être calculée.",
    "missing_publication_date": "Renseigner datePublicationDonnees : la date de mise en ligne des données.",
    "unparseable_date": "Écrire la date au format AAAA-MM-JJ.",
    "absurd_year": "Corriger l'année (faute de frappe probable).",
    "date_in_future": "Vérifier la date : elle est postérieure à la date d'évaluation.",
    "publication_before_notification": "Vérifier les dates : les données ne peuvent être publiées avant la notification.",
    "duplicate_field": "Ne garder qu'une occurrence du champ dans le contrat.",
    "negative_amount": "Corriger le montant (positif, en euros HT).",
    "absurd_amount": "Vérifier le montant (unité, séparateur décimal, zéros en trop).",
    "unparseable_number": "Écrire le nombre sans guillemets, avec un point décimal.",
    "empty_element": "Retirer l'élément vide ou le renseigner.",
    "key_with_spaces": "Retirer les espaces autour du nom du champ.",
    "duplicate_record": "Ne publier chaque contrat qu'une fois (les modifications vont dans « modifications »).",
    "record_too_large": "Corriger l'export du contrat : quelques Ko suffisent, pas des millions d'éléments ou de longs textes répétés.",
    "reused_id": "Donner un identifiant distinct à chaque contrat (et à chaque lot).",
    "modification_before_notification": "Vérifier les dates : une modification suit la notification du contrat.",
    "declaration_siret_mangled": "Saisir le SIRET comme du texte (le tableur l'a converti en notation scientifique).",
    "declaration_missing_column": "Ajouter la colonne manquante (siretAcheteur, urlProfilAcheteur, urlDCAT, coordonnees).",
    "invalid_url": "Écrire une URL complète commençant par https://.",
    "declaration_header_glued": "Terminer la ligne d'en-tête par un saut de ligne.",
}
DEFAULT_FINDING_FIX = "Corriger la donnée signalée."

CONVENTION_FIXES: dict[str, str] = {
    "title_pattern": "Nommer le jeu de données « Données essentielles des marchés publics - {nom de l'acheteur ou de la plateforme} ».",
    "tags": "Ajouter les mots-clés « données-essentielles » et « commande-publique » "
            "(ou « données-essentielles-commande-publique »).",
    "license": "Choisir la Licence Ouverte (fr-lo).",
    "extras_siret": "Jeu propre à un acheteur : indiquer son SIRET dans extras.siret ; jeu de plateforme : ne pas le renseigner.",
    "frequency": "Renseigner la fréquence de mise à jour.",
    "organization": "Publier le jeu de données au nom de votre organisation data.gouv.fr.",
    "resource_title": "Titrer la ressource comme le fichier : DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{seq}.{xml|json}.",
    "resource_file_name": "Renommer le fichier DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{seq}.{xml|json} "
                          "(SIRET de l'acheteur ou de la plateforme, date du dépôt, numéro 01, 02…).",
    "name_siret": "Utiliser dans le nom du fichier le SIRET indiqué dans extras.siret.",
    "uploaded": "Téléverser le fichier sur data.gouv.fr plutôt que de lier un serveur externe.",
    "format": "Déclarer le format xml ou json selon l'extension du fichier.",
    "mime": "Déclarer le type MIME application/xml ou application/json selon l'extension.",
    "resource_type": "Déclarer la ressource de type « main » (fichier principal).",
    "name_date": "Mettre dans le nom du fichier la date du jour du dépôt sur data.gouv.fr.",
}
DEFAULT_CONVENTION_FIX = "Corriger la métadonnée d'après la documentation de data.gouv.fr."
