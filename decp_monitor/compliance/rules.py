"""Every rule the compliance engine applies, in one place, with its legal reference.

The SQL files of this package never hold a delay, a threshold, a pattern or a French label of
their own: they read them from the temporary tables that `compute()` fills from this module.
A change of rule (a delay, an accepted licence, a tolerance) is therefore one edit here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# -- Legal texts ------------------------------------------------------------------------------

MARCHES_TEXTS = (
    "Décret n° 2016-360 du 25 mars 2016, art. 107 (jusqu'au 31 mars 2019) ; "
    "code de la commande publique, art. R2196-1 (depuis le 1er avril 2019) ; "
    "arrêté du 14 avril 2017 modifié par l'arrêté du 27 juillet 2018, puis arrêté du "
    "22 décembre 2022 relatif aux données essentielles des marchés publics (depuis le 1er janvier 2024)"
)
CONCESSIONS_TEXTS = (
    "Décret n° 2016-86 du 1er février 2016, art. 34 (jusqu'au 31 mars 2019) ; "
    "code de la commande publique, art. R3131-1 (depuis le 1er avril 2019) ; "
    "arrêté du 22 décembre 2022 relatif aux données essentielles des contrats de concession"
)
CONVENTIONS_TEXTS = (
    "Documentation data.gouv.fr « Comment remplir les obligations légales des profils d'acheteur ? » "
    "et « Publier les données essentielles d'attribution des marchés »"
)

# -- Deadlines --------------------------------------------------------------------------------

# "Two months" are calendar months from date to same date; DuckDB's `date + to_months(n)`
# clamps to the end of a shorter month (31 Dec -> 28/29 Feb, 31 Jan -> 31 Mar), as the law reads.
MARCHE_DELAY_MONTHS = 2
MODIFICATION_DELAY_MONTHS = 2
# A concession without dateDebutExecution falls back to its signature date plus this delay:
# the marchés rule, the closest documented one (the concession texts set no delay of their own).
CONCESSION_FALLBACK_DELAY_MONTHS = 2


@dataclass(frozen=True)
class Rule:
    code: str
    label: str  # French, shown per row
    reference: str  # legal text


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule(
            "marche_notification_2m",
            "Marché : données publiées au plus tard deux mois après la notification (même jour inclus)",
            MARCHES_TEXTS,
        ),
        Rule(
            "concession_start",
            "Concession : données publiées au plus tard le jour du début d'exécution (dateDebutExecution)",
            CONCESSIONS_TEXTS,
        ),
        Rule(
            "concession_signature_2m",
            "Concession sans date de début d'exécution : règle de repli, publication au plus tard "
            "deux mois après la signature (dateSignature)",
            CONCESSIONS_TEXTS + " ; repli documenté par decp-monitor (docs/COMPLIANCE.md)",
        ),
        Rule(
            "modification_notification_2m",
            "Modification : données publiées au plus tard deux mois après la notification (marché) "
            "ou la signature (concession) de la modification",
            MARCHES_TEXTS + " ; " + CONCESSIONS_TEXTS,
        ),
    )
}

# Contract statuses, buyer verdicts and their French labels: core/vocabulary.py (every reader
# interprets them too).

# -- Observed publication date -----------------------------------------------------------------

# A per-publication file name carries the day the file was published on data.gouv.fr
# (seed 003/004): DECP-{SIRET}-{YYYY}-{MM}-{DD}-{seq}.{ext}. Matched anywhere in the name and in
# any case (udata lowercases uploaded file names; converted copies add prefixes/suffixes).
# A per-year name (decp-2024.xml) or a date range (decp_X_2019-01-01_2021-12-31.json) does not
# match: it is not a publication day. Patterns are RE2 (DuckDB) syntax.
DECP_NAME_DATE_PATTERN = r"(?i)DECP-[0-9]{14}-([0-9]{4}-[0-9]{2}-[0-9]{2})-[0-9]+"
# AIFE daily files: donnees-essentielles-marches30.04.2019.01-00.xml
AIFE_NAME_DATE_PATTERN = r"(?i)marches([0-9]{2}\.[0-9]{2}\.[0-9]{4})"
# A resource counts as a one-off publication (its created_at is when its content appeared)
# when it is uploaded (not remote) and was not rewritten after its creation, within this slack.
ONE_OFF_MAX_REWRITE_HOURS = 48

OBSERVED_SOURCE_LABELS: dict[str, str] = {
    "file_name": "date du nom de fichier de publication",
    "resource_created_at": "date de dépôt du fichier sur data.gouv.fr",
    "first_seen": "première fois que decp-monitor a vu le contrat",
}

# -- Buyers ------------------------------------------------------------------------------------

DEFAULT_WINDOW_MONTHS = 12
DEFAULT_STALE_MONTHS = 9
# Share of late contracts (in the window) from which a buyer's verdict is "late". 0 means any
# late publication: the obligation holds for every contract.
LATE_VERDICT_MIN_RATE = 0.0

# Reasons given with a verdict (French; `{}` are filled in order by buyers.sql). Counts come
# already worded ("3 contrats"), so the sentences need no agreement.
REASONS: dict[str, str] = {
    "invalid_siret": "SIRET invalide : {}.",
    "missing_declared": "Déclaré par un profil d'acheteur, mais aucun contrat dans les données chargées.",
    "missing_dataset": "Un jeu de données data.gouv.fr porte son SIRET, mais aucun contrat dans les données chargées.",
    "stale": "Aucune publication depuis le {} (silence de plus de {} mois au {}).",
    "late": "Publication après l'échéance légale pour {} sur {} (taux de retard : {} %).",
    "observed_late": "Publication déclarée dans les délais mais apparition observée après l'échéance pour {}.",
    "modifications_late": "Publication après l'échéance de deux mois pour {} sur {}.",
    "undeclared": "Publie des données, mais aucun profil d'acheteur ne le déclare.",
    "no_publication_date": "Date de publication absente pour {} de la période.",
    "no_notification_date": "Date de notification absente pour {} de la période.",
    "published_before_notification": "Publication déclarée avant la notification pour {} de la période.",
    "median_delay": "Délai médian entre notification et publication : {} jours.",
    "no_recent_data": "Aucun contrat évaluable notifié entre le {} et le {}.",
    "compliant": "Tous les contrats évalués ({}) notifiés entre le {} et le {} ont été publiés dans les délais.",
}

# -- Register of buyers (decp_monitor/register) ---------------------------------------------
# A closed establishment (verdict "closed", core/vocabulary.py): silence after its closing date
# (stale, missing, nothing recent, undeclared) becomes "closed"; late publications before it still count.
REASONS.update({
    "closed": "Établissement fermé le {} (répertoire Sirene) : il n'a plus rien à publier après cette date.",
    "closed_undated": "Établissement fermé (répertoire Sirene, date de fermeture inconnue).",
    "probable_siret": "SIRET probablement voulu : {} ({}), seul établissement connu du même SIREN.",
})

# -- Metadata conventions (seeds 003/004) -----------------------------------------------------

TITLE_PREFIX = "Données essentielles des marchés publics - "
# Compared without accents and case; any dash between prefix and name.
TITLE_PATTERN = r"^\s*donnees essentielles des marches publics\s*[-–—]\s*\S"
TAG_SINGLE = "donnees-essentielles-commande-publique"  # older documentation (seed 003)
TAGS_PAIR = ("donnees-essentielles", "commande-publique")  # newer documentation (seed 004)
ACCEPTED_LICENSES = ("fr-lo",)
UNSET_FREQUENCIES = ("", "unknown")
RESOURCE_TITLE_PATTERN = r"^DECP-([0-9]{14})-([0-9]{4}-[0-9]{2}-[0-9]{2})-([0-9]{2,})\.(xml|json)$"
# udata lowercases uploaded file names: the file name of the URL is compared in any case.
RESOURCE_FILE_PATTERN = r"(?i)^DECP-([0-9]{14})-([0-9]{4}-[0-9]{2}-[0-9]{2})-([0-9]{2,})\.(xml|json)$"
EXPECTED_MIME = {"xml": "application/xml", "json": "application/json"}
# A convention binds the files put online from its start date only: the per-publication file on
# data.gouv.fr (DECP-{SIRET}-{date}-{seq}, uploaded, not linked) comes with the arrêtés of
# 22 December 2022, in force on 1 January 2024. A « decp-achatpublic-2019.json » of 2019 broke no
# rule. Checks not listed apply to every file; a file without a creation date is checked.
CONVENTION_START: dict[str, dt.date] = {
    check: dt.date(2024, 1, 1)
    for check in ("resource_title", "resource_file_name", "name_siret", "uploaded", "name_date")
}
# The name carries the publication day in Paris; created_at is UTC: a day apart is the same upload.
NAME_DATE_TOLERANCE_DAYS = 1

CHECK_LABELS: dict[str, str] = {
    # datasets
    "title_pattern": "Titre « Données essentielles des marchés publics - {nom} »",
    "tags": "Mots-clés de la commande publique",
    "license": "Licence ouverte (fr-lo)",
    "extras_siret": "extras.siret selon la structure (acheteur ou plateforme)",
    "frequency": "Fréquence de mise à jour renseignée",
    "organization": "Organisation productrice renseignée",
    # resources
    "resource_title": "Titre DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{seq}.{xml|json}",
    "resource_file_name": "Nom de fichier DECP-{SIRET}-{AAAA}-{MM}-{JJ}-{seq}.{xml|json}",
    "name_siret": "SIRET du nom de fichier égal à celui du jeu de données",
    "uploaded": "Fichier déposé sur data.gouv.fr (et non lien distant)",
    "format": "Format cohérent avec l'extension",
    "mime": "Type MIME cohérent avec l'extension",
    "resource_type": "Type de ressource « main »",
    "name_date": "Date du nom cohérente avec la date de dépôt",
}

# Messages of each check: (when passed, when failed); {0} is the expected value, {1} the actual one.
CHECK_MESSAGES: dict[str, tuple[str, str]] = {
    "title_pattern": ("Titre conforme à la convention.",
                      "Le titre devrait suivre le modèle « {0} » ; titre actuel : « {1} »."),
    "tags": ("Mots-clés attendus présents.",
             "Mots-clés attendus : {0} ; mots-clés actuels : {1}."),
    "license": ("Licence ouverte (fr-lo).",
                "La licence attendue est {0} ; licence déclarée : {1}."),
    "extras_siret": ("{1}", "{1}"),  # the message depends on the structure: built in conventions.sql
    "frequency": ("Fréquence renseignée ({1}).",
                  "La fréquence de mise à jour n'est pas renseignée ({1})."),
    "organization": ("Publié par l'organisation {1}.",
                     "Le jeu de données n'est rattaché à aucune organisation."),
    "resource_title": ("Titre conforme à la convention.",
                       "Le titre devrait suivre le modèle {0} ; titre actuel : « {1} »."),
    "resource_file_name": ("Nom de fichier conforme à la convention.",
                           "Le nom du fichier devrait suivre le modèle {0} ; nom actuel : « {1} »."),
    "name_siret": ("Le SIRET du nom ({1}) est celui du jeu de données.",
                   "Le SIRET du nom ({1}) diffère de celui du jeu de données ({0})."),
    "uploaded": ("Fichier déposé sur data.gouv.fr.",
                 "Le fichier devrait être déposé sur data.gouv.fr (filetype {0}) et non lié (filetype {1})."),
    "format": ("Format cohérent avec l'extension ({1}).",
               "Le format devrait être {0} (extension du fichier) ; format déclaré : {1}."),
    "mime": ("Type MIME cohérent avec l'extension ({1}).",
             "Le type MIME devrait être {0} ; type déclaré : {1}."),
    "resource_type": ("Ressource de type « main ».",
                      "Le type de ressource devrait être « {0} » ; type actuel : « {1} »."),
    "name_date": ("La date du nom correspond au dépôt ({1}).",
                  "La date du nom devrait être celle du dépôt sur data.gouv.fr, à un jour près ({0}) ; {1}."),
}
