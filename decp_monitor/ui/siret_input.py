"""What a person types in the buyer search box: a SIRET (spaces allowed) or a name."""
from __future__ import annotations

import re
from typing import Optional

_SEPARATORS = re.compile(r"[\s\u00a0\u202f.\-]+")


def as_siret(text: str) -> Optional[str]:
    """The digits when the text is a number written with spaces, dots or dashes; None for a name."""
    compact = _SEPARATORS.sub("", text or "")
    return compact if compact.isdigit() else None


def siret_problem(siret: str) -> Optional[str]:
    """Why a SIRET is invalid (French), None when valid. Uses the project's checker when present."""
    try:
        from ..siret import siret_problem as checker
    except ImportError:
        checker = _fallback_problem
    return checker(siret)


def _fallback_problem(siret: str) -> Optional[str]:
    if not siret.isdigit():
        return "un SIRET ne contient que des chiffres"
    if len(siret) != 14:
        return f"un SIRET compte 14 chiffres, celui-ci en compte {len(siret)}"
    if siret.startswith("356000000") and siret != "35600000000048":
        if sum(int(d) for d in siret) % 5 == 0:
            return None
        return "la clé de contrôle de La Poste (somme des chiffres multiple de 5) est fausse"
    total = 0
    for index, char in enumerate(reversed(siret)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    if total % 10:
        return "la clé de contrôle (algorithme de Luhn) est fausse : un chiffre a probablement été mal saisi"
    return None
