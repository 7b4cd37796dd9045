"""French wording of the parsers' own error messages (yajl through ijson, libxml2 through lxml).

The parser's text is kept after the French explanation: it names the exact token, which helps
whoever repairs the file.
"""
from __future__ import annotations

import re

# (pattern in the parser's message, French explanation), first match wins.
_EXPLANATIONS = (
    (r"premature EOF|Incomplete JSON|Premature end of data", "fin de fichier prématurée (fichier tronqué ?)"),
    (r"Excessive depth", "imbrication de plus de 256 niveaux (limite de sécurité)"),
    (r"Text node too long|huge text node", "texte de plus de 10 Mo dans un seul élément (limite de sécurité)"),
    # libxml2 reports it at the end of the file, for a tag (an attribute value) it could not hold
    (r"Buffer size limit exceeded", "balise de plus de 10 Mo (valeur d'attribut trop longue ; limite de sécurité)"),
    (r"Opening and ending tag mismatch", "balise fermante qui ne correspond pas à la balise ouvrante"),
    (r"Extra content at the end of the document", "contenu en trop après la fin du document"),
    (r"Document is empty|Start tag expected", "aucun élément XML au début du fichier"),
    (r"Char 0x[0-9A-Fa-f]+ out of allowed range|invalid char|Invalid character",
     "caractère interdit (octet de contrôle ou texte corrompu)"),
    (r"AttValue|attributes construct error", "attribut XML mal formé"),
    (r"invalid string|lexical error", "valeur JSON illisible (texte sans guillemets, mot inconnu ou caractère interdit)"),
    (r"unallowed token|expect ',' or|expect ':'|expect '|trailing garbage",
     "syntaxe JSON incorrecte (virgule, deux-points ou accolade manquant ou en trop)"),
    (r"encoding|UTF-8", "encodage des caractères incohérent"),
)


def explain(parser_message: str, limit: int = 300) -> str:
    """« explication en français (texte de l'analyseur) » in one line."""
    text = re.sub(r"\s+", " ", (parser_message or "").strip())[:limit]
    for pattern, french in _EXPLANATIONS:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return f"{french} (analyseur : {text})" if text else french
    return f"erreur de syntaxe (analyseur : {text})" if text else "erreur de syntaxe"
