"""Catégories juridiques (INSEE, level III) of public buyers: labels, and the kind of buyer each says.

The kind groups the codes the way a reader of the dashboard thinks of buyers: communes,
départements, régions, intercommunalités, hospitals, State services… The code lists follow the
INSEE nomenclature and the public-sector lists of the annuaire des entreprises (see
real/annuaire/nomenclature in the project's shared material). A code outside the public families
keeps the label of its level-I family: the register says what it is, the kind says "autre".
"""
from __future__ import annotations

from typing import Optional

# Level III labels of the public-law codes (the only ones the dashboard groups finely).
LABELS: dict[str, str] = {
    "4110": "Établissement public national à caractère industriel ou commercial doté d'un comptable public",
    "4120": "Établissement public national à caractère industriel ou commercial non doté d'un comptable public",
    "4140": "Établissement public local à caractère industriel ou commercial",
    "4150": "Régie d'une collectivité locale à caractère industriel ou commercial",
    "4160": "Institution Banque de France",
    "7111": "Autorité constitutionnelle",
    "7112": "Autorité administrative ou publique indépendante",
    "7113": "Ministère",
    "7120": "Service central d'un ministère",
    "7150": "Service du ministère de la Défense",
    "7160": "Service déconcentré à compétence nationale d'un ministère (hors Défense)",
    "7171": "Service déconcentré de l'État à compétence (inter) régionale",
    "7172": "Service déconcentré de l'État à compétence (inter) départementale",
    "7179": "(Autre) Service déconcentré de l'État à compétence territoriale",
    "7190": "École nationale non dotée de la personnalité morale",
    "7210": "Commune et commune nouvelle",
    "7220": "Département",
    "7225": "Collectivité et territoire d'Outre-Mer",
    "7229": "(Autre) Collectivité territoriale",
    "7230": "Région",
    "7312": "Commune associée et commune déléguée",
    "7313": "Section de commune",
    "7314": "Ensemble urbain",
    "7321": "Association syndicale autorisée",
    "7322": "Association foncière urbaine",
    "7323": "Association foncière de remembrement",
    "7331": "Établissement public local d'enseignement",
    "7340": "Pôle métropolitain",
    "7341": "Secteur de commune",
    "7342": "District urbain",
    "7343": "Communauté urbaine",
    "7344": "Métropole",
    "7345": "Syndicat intercommunal à vocation multiple (SIVOM)",
    "7346": "Communauté de communes",
    "7347": "Communauté de villes",
    "7348": "Communauté d'agglomération",
    "7349": "Autre établissement public local de coopération non spécialisé ou entente",
    "7351": "Institution interdépartementale ou entente",
    "7352": "Institution interrégionale ou entente",
    "7353": "Syndicat intercommunal à vocation unique (SIVU)",
    "7354": "Syndicat mixte fermé",
    "7355": "Syndicat mixte ouvert",
    "7356": "Commission syndicale pour la gestion des biens indivis des communes",
    "7357": "Pôle d'équilibre territorial et rural (PETR)",
    "7361": "Centre communal d'action sociale",
    "7362": "Caisse des écoles",
    "7363": "Caisse de crédit municipal",
    "7364": "Établissement d'hospitalisation",
    "7365": "Syndicat inter hospitalier",
    "7366": "Établissement public local social et médico-social",
    "7367": "Centre intercommunal d'action sociale (CIAS)",
    "7371": "Office public d'habitation à loyer modéré (OPHLM)",
    "7372": "Service départemental d'incendie et de secours (SDIS)",
    "7373": "Établissement public local culturel",
    "7378": "Régie d'une collectivité locale à caractère administratif",
    "7379": "(Autre) Établissement public administratif local",
    "7381": "Organisme consulaire",
    "7382": "Établissement public national ayant fonction d'administration centrale",
    "7383": "Établissement public national à caractère scientifique culturel et professionnel",
    "7384": "Autre établissement public national d'enseignement",
    "7385": "Autre établissement public national administratif à compétence territoriale limitée",
    "7389": "Établissement public national à caractère administratif",
    "7410": "Groupement d'intérêt public (GIP)",
    "7430": "Établissement public des cultes d'Alsace-Lorraine",
    "7450": "Établissement public administratif, cercle et foyer dans les armées",
    "7470": "Groupement de coopération sanitaire à gestion publique",
    "7490": "Autre personne morale de droit administratif",
    "8110": "Régime général de la Sécurité sociale",
    "8120": "Régime spécial de Sécurité sociale",
    "8140": "Mutualité sociale agricole",
    "8150": "Régime maladie des non-salariés non agricoles",
    "8160": "Régime vieillesse ne dépendant pas du régime général de la Sécurité sociale",
    "8170": "Régime d'assurance chômage",
}
# Level I families, for every other code.
FAMILIES: dict[str, str] = {
    "1": "Entrepreneur individuel",
    "2": "Groupement de droit privé non doté de la personnalité morale",
    "3": "Personne morale de droit étranger",
    "4": "Personne morale de droit public soumise au droit commercial",
    "5": "Société commerciale",
    "6": "Autre personne morale immatriculée au RCS",
    "7": "Personne morale et organisme soumis au droit administratif",
    "8": "Organisme privé spécialisé",
    "9": "Groupement de droit privé",
}

# Kind of buyer -> French label (singular, as a filter option), in display order.
KIND_LABELS: dict[str, str] = {
    "commune": "Commune",
    "departement": "Département",
    "region": "Région",
    "collectivite": "Collectivité à statut particulier",
    "epci": "Intercommunalité (EPCI)",
    "syndicat": "Syndicat et groupement de collectivités",
    "social": "Action sociale (CCAS, CIAS, EHPAD public…)",
    "hopital": "Hôpital",
    "enseignement": "Établissement d'enseignement",
    "etat": "Service de l'État",
    "etablissement_national": "Établissement public national",
    "autre_public": "Autre organisme public",
    "prive": "Organisme de droit privé",
    "inconnu": "Nature inconnue",
}
_KIND_CODES: dict[str, tuple[str, ...]] = {
    "commune": ("7210", "7312", "7313", "7341"),
    "departement": ("7220",),
    "region": ("7230",),
    "collectivite": ("7225", "7229"),
    "epci": ("7340", "7342", "7343", "7344", "7346", "7347", "7348"),
    "syndicat": ("7345", "7349", "7351", "7352", "7353", "7354", "7355", "7356", "7357"),
    "social": ("7361", "7366", "7367"),
    "hopital": ("7364", "7365", "7470"),
    "enseignement": ("7331", "7383", "7384"),
    "etat": ("7111", "7112", "7113", "7120", "7150", "7160", "7171", "7172", "7179", "7190"),
    "etablissement_national": ("7381", "7382", "7385", "7389", "4110", "4120", "4160"),
}
_KIND_OF_CODE = {code: kind for kind, codes in _KIND_CODES.items() for code in codes}
# Public-law families not listed above: other public bodies (OPH, SDIS, régies, GIP, sécurité sociale…).
_PUBLIC_PREFIXES = ("4", "7", "81")


def clean_code(raw: object) -> Optional[str]:
    """The 4-digit code (a number in some lists: 7210, a string with spaces in others)."""
    if raw is None:
        return None
    text = str(raw).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return text if len(text) == 4 and text.isdigit() else None


def label(code: object, given: Optional[str] = None) -> Optional[str]:
    """The code's label: ours for public codes, the source's otherwise, else the family's."""
    code = clean_code(code)
    if code is None:
        return (given or "").strip() or None
    if code in LABELS:
        return LABELS[code]
    if given and given.strip():
        return given.strip()
    return FAMILIES.get(code[0])


def kind(code: object) -> str:
    code = clean_code(code)
    if code is None:
        return "inconnu"
    if code in _KIND_OF_CODE:
        return _KIND_OF_CODE[code]
    if code.startswith(_PUBLIC_PREFIXES):
        return "autre_public"
    return "prive"


def kind_label(kind_code: Optional[str]) -> str:
    return KIND_LABELS.get(kind_code or "inconnu", KIND_LABELS["inconnu"])
