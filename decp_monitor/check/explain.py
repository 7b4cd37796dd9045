"""Schema errors in French: what is wrong, why, and what to change.

jsonschema, xmlschema and frictionless word their errors in English; a buyer reads French. Each
error becomes an issue kind (the keyword and the field, list indices removed, so that the same
mistake in 10 000 records is one group) with a French title, an explanation and a fix.
"""
from __future__ import annotations

import re
from typing import Any, Optional

JSON_TYPES = {
    "string": "texte", "number": "nombre", "integer": "nombre entier", "object": "objet",
    "array": "liste", "boolean": "booléen (true/false)", "null": "null",
}
_INDEX = re.compile(r"\[\d+\]")


def generic_field(path: str) -> str:
    """`titulaires[2].id` -> `titulaires[].id`: one group for the same field in every item."""
    return _INDEX.sub("[]", path)


def json_path(parts) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _types(value) -> str:
    names = value if isinstance(value, list) else [value]
    return " ou ".join(JSON_TYPES.get(n, str(n)) for n in names)


def json_error(error, version: str) -> tuple[str, str, str, str, str, Optional[str]]:
    """(kind key, field, title, explanation, fix, offending value) for one jsonschema error.

    `error.absolute_path` is relative to the validated record."""
    keyword = error.validator
    path = json_path(error.absolute_path)
    value: Optional[str] = None
    if keyword == "required":
        match = re.match(r"^'(.+)' is a required property", error.message)
        name = match.group(1) if match else "?"
        field = f"{path}.{name}" if path else name
        return (f"required:{generic_field(field)}", field, f"Champ obligatoire absent : {generic_field(field)}",
                f"Le schéma {version} exige ce champ.",
                f"Renseigner « {name} » dans chaque enregistrement concerné.", None)
    if keyword == "additionalProperties":
        extras = re.findall(r"'([^']+)'", error.message.split("(")[-1]) or ["?"]
        field = ", ".join(f"{path}.{e}" if path else e for e in extras)
        key = ", ".join(generic_field(f"{path}.{e}" if path else e) for e in extras)
        return (f"additionalProperties:{key}", field, f"Champ non prévu par le schéma : {key}",
                f"Le schéma {version} n'autorise pas de champ en dehors de ceux qu'il définit.",
                "Retirer ce champ, ou corriger son nom (majuscules, espaces, accents) selon le schéma.", None)
    field = path or "(racine)"
    gfield = generic_field(field)
    value = _short(error.instance) if not isinstance(error.instance, (dict, list)) else None
    limit = error.validator_value
    if keyword == "type":
        return (f"type:{gfield}", field, f"Type incorrect pour {gfield} : {_types(limit)} attendu",
                f"La valeur est un(e) {_types(_json_type(error.instance))} ; le schéma {version} attend un(e) "
                f"{_types(limit)}.",
                "Écrire la valeur avec le bon type (par exemple un montant comme nombre, sans guillemets).", value)
    if keyword == "enum":
        allowed = ", ".join(f"« {v} »" for v in (limit or [])[:12])
        more = " …" if limit and len(limit) > 12 else ""
        return (f"enum:{gfield}", field, f"Valeur non autorisée pour {gfield}",
                f"Valeurs permises par le schéma {version} : {allowed}{more}.",
                "Remplacer la valeur par l'une des valeurs permises (orthographe et majuscules exactes).", value)
    if keyword == "const":
        return (f"const:{gfield}", field, f"Valeur non autorisée pour {gfield}",
                f"Le schéma {version} attend exactement « {limit} ».", f"Écrire « {limit} ».", value)
    if keyword == "pattern":
        return (f"pattern:{gfield}", field, f"Format incorrect pour {gfield}",
                f"La valeur ne suit pas le motif attendu par le schéma {version} : {limit}",
                "Corriger la valeur pour qu'elle suive ce format (chiffres, longueur, séparateurs).", value)
    if keyword == "format":
        return (f"format:{gfield}", field, f"Format incorrect pour {gfield}",
                f"Format attendu : {limit}.", "Corriger la valeur selon ce format.", value)
    if keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {"minimum": "au moins", "exclusiveMinimum": "strictement plus de",
                 "maximum": "au plus", "exclusiveMaximum": "strictement moins de"}
        return (f"{keyword}:{gfield}", field, f"Valeur hors limites pour {gfield}",
                f"Le schéma {version} attend {words[keyword]} {limit}.",
                "Corriger la valeur (une valeur fictive comme 0 n'est pas acceptée).", value)
    if keyword in ("minLength", "maxLength"):
        word = "au moins" if keyword == "minLength" else "au plus"
        return (f"{keyword}:{gfield}", field, f"Longueur incorrecte pour {gfield}",
                f"Le schéma {version} attend {word} {limit} caractère(s).",
                "Raccourcir ou compléter la valeur.", value)
    if keyword in ("minItems", "maxItems"):
        word = "au moins" if keyword == "minItems" else "au plus"
        return (f"{keyword}:{gfield}", field, f"Nombre d'éléments incorrect pour {gfield}",
                f"Le schéma {version} attend {word} {limit} élément(s) dans cette liste.",
                "Retirer la liste si elle est vide, ou la compléter." if keyword == "minItems"
                else "Réduire la liste.", None)
    if keyword == "uniqueItems":
        return (f"uniqueItems:{gfield}", field, f"Éléments en double dans {gfield}",
                f"Le schéma {version} interdit deux éléments identiques dans cette liste.",
                "Retirer les doublons.", None)
    if keyword in ("anyOf", "oneOf"):
        return (f"{keyword}:{gfield}", field, f"Structure non reconnue pour {gfield}",
                f"La valeur ne correspond à aucune des formes permises par le schéma {version}.",
                "Vérifier la structure de cet élément d'après le schéma officiel.", value)
    return (f"{keyword}:{gfield}", field, f"Non conforme au schéma pour {gfield} ({keyword})",
            f"Règle « {keyword} » du schéma {version} : {error.message[:200]}",
            "Corriger la valeur d'après le schéma officiel.", value)


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_XML_INDEX = re.compile(r"\[\d+\]")


def xml_field(path: Optional[str]) -> str:
    """`/marches/marche[3]/titulaires/titulaire[2]/id` -> `titulaires/titulaire/id` (record-relative)."""
    if not path:
        return "(racine)"
    parts = [p for p in _XML_INDEX.sub("", path).split("/") if p]
    while parts and parts[0] in ("marches", "marche", "contrat-concession"):
        parts.pop(0)
    return "/".join(parts) or "(élément du contrat)"


def xml_error(error, version: str) -> tuple[str, str, str, str, str, Optional[str]]:
    """(kind key, field, title, explanation, fix, offending value) for one xmlschema error."""
    field = xml_field(error.path)
    validator = type(error.validator).__name__
    obj = error.obj
    value = None if hasattr(obj, "tag") or obj is None else _short(str(obj).strip() or str(obj))
    if type(error).__name__ == "XMLSchemaChildrenValidationError":
        invalid = getattr(error, "invalid_tag", None)
        expected = [getattr(e, "name", None) or str(e) for e in (getattr(error, "expected", None) or [])]
        expected_text = ", ".join(f"<{e}>" for e in expected[:6])
        if invalid:
            where = field if field != "(élément du contrat)" else "le contrat"
            return (f"xml-unexpected:{field}:{invalid}", f"{field}/{invalid}",
                    f"Élément <{invalid}> inattendu dans {where}",
                    f"Le schéma {version} n'attend pas <{invalid}> à cette place"
                    + (f" (attendu : {expected_text})." if expected_text else " (élément inconnu, répété ou mal placé)."),
                    "Retirer l'élément, le renommer ou le remettre dans l'ordre du schéma.", None)
        return (f"xml-missing:{field}:{expected_text}", field,
                f"Élément obligatoire absent dans {field} : {expected_text or '?'}",
                f"Le contenu de l'élément est incomplet pour le schéma {version}.",
                f"Ajouter {expected_text or 'les éléments attendus'}, dans l'ordre du schéma.", None)
    if "Enumeration" in validator:
        return (f"xml-enum:{field}", field, f"Valeur non autorisée pour {field}",
                f"{_enum_text(error.reason)} (schéma {version}).",
                "Remplacer la valeur par l'une des valeurs permises (orthographe exacte).", value)
    if "Pattern" in validator:
        return (f"xml-pattern:{field}", field, f"Format incorrect pour {field}",
                f"La valeur ne suit pas le motif attendu par le schéma {version}.",
                "Corriger la valeur pour qu'elle suive ce format.", value)
    if "Length" in validator:
        return (f"xml-length:{field}", field, f"Longueur incorrecte pour {field}",
                f"{_length_text(error.reason)} (schéma {version}).", "Raccourcir ou compléter la valeur.", value)
    if any(w in validator for w in ("MinInclusive", "MaxInclusive", "MinExclusive", "MaxExclusive")):
        return (f"xml-range:{field}", field, f"Valeur hors limites pour {field}",
                f"La valeur sort des limites du schéma {version}.", "Corriger la valeur.", value)
    if type(error).__name__ == "XMLSchemaDecodeError":
        return (f"xml-type:{field}", field, f"Valeur illisible pour {field}",
                f"La valeur n'a pas le type attendu par le schéma {version} (date AAAA-MM-JJ, nombre, "
                "booléen…) ; un élément vide ou fait d'espaces compte comme une valeur illisible.",
                "Écrire une valeur du type attendu, ou retirer l'élément s'il est facultatif.", value)
    return (f"xml-other:{field}:{validator}", field, f"Non conforme au schéma pour {field}",
            f"Schéma {version} : {_short(error.reason or '', 200)}", "Corriger d'après le schéma officiel.", value)


def _enum_text(reason: Optional[str]) -> str:
    match = re.search(r"one of (\[.*\])", reason or "")
    return f"Valeurs permises : {match.group(1)}" if match else "Valeur hors de la liste permise"


def _length_text(reason: Optional[str]) -> str:
    match = re.search(r"(greater|lesser) than (\d+)", reason or "")
    if not match:
        match = re.search(r"must be (\d+)", reason or "")
        return f"Longueur attendue : {match.group(1)} caractère(s)" if match else "Longueur hors limites"
    word = "au plus" if match.group(1) == "greater" else "au moins"
    return f"Longueur attendue : {word} {match.group(2)} caractère(s)"


# Frictionless error types (table schema of the declaration CSV) in French.
TABLE_ERRORS: dict[str, tuple[str, str, str]] = {
    "incorrect-label": ("En-tête de colonne incorrect",
                        "Le nom de la colonne ne correspond pas à celui que le schéma attend à cette place.",
                        "Nommer les colonnes exactement siretAcheteur, urlProfilAcheteur, urlDCAT, coordonnees, dans cet ordre."),
    "missing-label": ("Colonne absente", "Le schéma attend une colonne de plus.",
                      "Ajouter la colonne (même vide pour urlDCAT, qui est facultative)."),
    "extra-label": ("Colonne en trop", "Le schéma ne prévoit pas cette colonne.", "Retirer la colonne."),
    "duplicate-label": ("Colonne en double", "Deux colonnes portent le même nom.", "Retirer ou renommer la colonne."),
    "blank-label": ("En-tête vide", "Une colonne n'a pas de nom.", "Nommer la colonne ou la retirer."),
    "constraint-error": ("Contrainte non respectée", "La valeur ne respecte pas une contrainte du schéma.",
                         "Corriger la valeur (SIRET sur 14 chiffres sans espace, valeur obligatoire renseignée)."),
    "type-error": ("Type incorrect", "La valeur n'a pas le type attendu (une URL complète, par exemple).",
                   "Écrire une URL complète commençant par http:// ou https://."),
    "unique-error": ("Valeur en double", "La colonne doit avoir des valeurs uniques (un SIRET déclaré une fois).",
                     "Retirer la ligne en double."),
    "missing-cell": ("Cellule manquante", "La ligne a moins de cellules que l'en-tête.",
                     "Compléter la ligne (séparateurs ; ou , selon le fichier)."),
    "extra-cell": ("Cellule en trop", "La ligne a plus de cellules que l'en-tête.",
                   "Retirer la cellule en trop ou mettre la valeur entre guillemets."),
    "blank-row": ("Ligne vide", "La ligne ne contient aucune valeur.", "Retirer la ligne vide."),
    "primary-key": ("Clé primaire en double", "Deux lignes ont la même clé.", "Retirer la ligne en double."),
    "encoding-error": ("Encodage illisible", "Le fichier n'est pas lisible dans l'encodage détecté.",
                       "Enregistrer le fichier en UTF-8."),
    "source-error": ("Fichier illisible", "Le fichier n'a pas pu être lu comme un CSV.", "Enregistrer le fichier en CSV UTF-8."),
    "scheme-error": ("Fichier illisible", "Le fichier n'a pas pu être ouvert.", "Vérifier le fichier."),
    "format-error": ("Format non reconnu", "Le fichier n'est pas reconnu comme un CSV.", "Enregistrer le fichier en CSV."),
}


def table_error(error) -> tuple[str, str, str, str, str, Optional[str]]:
    kind = error.type
    title, explanation, fix = TABLE_ERRORS.get(kind, ("Non conforme au schéma de déclaration",
                                                      "Erreur du schéma de table.", "Corriger d'après le schéma."))
    field = getattr(error, "field_name", None) or getattr(error, "label", None) or ""
    note = getattr(error, "note", "") or ""
    if kind == "constraint-error":
        if "pattern" in note:
            explanation = "La valeur doit être un SIRET de 14 chiffres, sans espace ni autre caractère."
        elif "required" in note:
            explanation = "Cette colonne doit être renseignée sur chaque ligne."
    cell = getattr(error, "cell", None)
    return (f"table:{kind}:{field}", field, f"{title}{' : ' + field if field else ''}", explanation, fix,
            _short(cell) if cell not in (None, "") else None)
