"""SIRET checks: 14 digits, Luhn key, with the La Poste exception (BRIEF §2)."""
from __future__ import annotations

from typing import Optional

_STRIP = str.maketrans("", "", " .\u00a0\u202f\t\n\r-")
LA_POSTE_PREFIX = "356000000"


def clean_siret(raw) -> Optional[str]:
    """Digits only (spaces, dots, NBSP removed), or None when something else remains."""
    if raw is None:
        return None
    text = str(raw).translate(_STRIP)
    return text if text.isdigit() and text.isascii() else None


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(digits: str) -> bool:
    # 14 digits: from the right, odd positions (index 1, 3, ...) are doubled, i.e. even indexes from the left.
    values = [ord(c) - 48 for c in digits]
    offset = len(values) % 2
    total = sum(values[1 - offset::2]) + sum(_DOUBLED[v] for v in values[offset::2])
    return total % 10 == 0


def is_valid_siret(s) -> bool:
    if not isinstance(s, str) or len(s) != 14 or not s.isascii() or not s.isdigit():
        return False
    if _luhn_ok(s):
        return True
    # La Poste: establishments share SIREN 356000000, keyed by digit sum mod 5.
    return s.startswith(LA_POSTE_PREFIX) and sum(ord(c) - 48 for c in s) % 5 == 0


def siret_problem(raw) -> Optional[str]:
    """French explanation of what is wrong with a SIRET, None when it is valid."""
    if raw is None or str(raw).strip() == "":
        return "SIRET absent"
    digits = clean_siret(raw)
    if digits is None:
        return "contient des caractères non numériques"
    if len(digits) != 14:
        return f"doit comporter 14 chiffres ({len(digits)} fournis)"
    if not is_valid_siret(digits):
        return "clé de contrôle (Luhn) invalide"
    return None
