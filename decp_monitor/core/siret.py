"""The SIRET rule, once: python-stdnum's `fr.siret` in Python, `siret.sql` in SQL.

A SIRET is 14 digits: the SIREN (9, the legal unit, with its own Luhn key) and the NIC (5, the
establishment); the 14 digits carry a Luhn key too, except La Poste's establishments (SIREN
356000000, head office 35600000000048 aside), whose digits add up to a multiple of 5 (BRIEF §2).
The SQL macro is tested against this module on generated numbers (tests/test_siret.py).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import duckdb
from stdnum import luhn
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

# What clean_siret() removes from a SIRET as typed ("214 400 368 00012", NBSP, dots, dashes).
STRIPPED_CHARS = " .\u00a0\u202f\t\n\r-"
_STRIP = str.maketrans("", "", STRIPPED_CHARS)
LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE = "35600000000048"
# siret_problem()'s explanations, also put in siret.sql by install_sql() ({n}: how many digits).
MISSING = "SIRET absent"
NOT_DIGITS = "contient des caractères non numériques"
WRONG_LENGTH = "doit comporter 14 chiffres ({n} fournis)"
LA_POSTE_KEY = "clé de contrôle de La Poste invalide (la somme des chiffres doit être un multiple de 5)"
LUHN_KEY = "clé de contrôle (Luhn) invalide : un chiffre a probablement été mal saisi"
SIREN_KEY = "clé de contrôle du SIREN (9 premiers chiffres) invalide"
SIRET_SQL = Path(__file__).resolve().with_name("siret.sql")
# The same buyer SIRETs recur across thousands of per-publication files: siret_problem() remembers
# the verdict of the last SIRET_CACHE_SIZE texts (python-stdnum's check was a quarter of the
# reading time of a refresh). Bounded in entries and in key length (a hostile 1 MB "SIRET" is
# checked, not kept): ~4 MB when full of 64-character texts (tracemalloc).
SIRET_CACHE_SIZE = 1 << 14
SIRET_CACHE_MAX_CHARS = 64


def clean_siret(raw: object) -> Optional[str]:
    """Digits only (spaces, dots, NBSP, dashes removed), or None when something else remains."""
    if raw is None:
        return None
    text = str(raw).translate(_STRIP)
    return text if text.isdigit() and text.isascii() else None


def is_valid_siret(value: object) -> bool:
    """14 ASCII digits that pass the SIRET keys (nothing stripped: clean_siret() first)."""
    return (isinstance(value, str) and len(value) == 14 and value.isascii() and value.isdigit()
            and stdnum_siret.is_valid(value))


def is_valid_siren(value: object) -> bool:
    """9 ASCII digits that pass the SIREN key."""
    return (isinstance(value, str) and len(value) == 9 and value.isascii() and value.isdigit()
            and stdnum_siren.is_valid(value))


def siret_problem(raw: object) -> Optional[str]:
    """French explanation of what is wrong with a SIRET, None when it is valid."""
    if type(raw) is str and len(raw) <= SIRET_CACHE_MAX_CHARS:
        return _cached_problem(raw)
    return _problem(raw)


@lru_cache(maxsize=SIRET_CACHE_SIZE)
def _cached_problem(text: str) -> Optional[str]:
    return _problem(text)


def _problem(raw: object) -> Optional[str]:
    if raw is None or str(raw).strip() == "":
        return MISSING
    digits = clean_siret(raw)
    if digits is None:
        return NOT_DIGITS
    if len(digits) != 14:
        return WRONG_LENGTH.format(n=len(digits))
    if is_valid_siret(digits):
        return None
    if digits.startswith(LA_POSTE_SIREN) and digits != LA_POSTE_HEAD_OFFICE:
        return LA_POSTE_KEY
    if not luhn.is_valid(digits):
        return LUHN_KEY
    return SIREN_KEY


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def install_sql(con: duckdb.DuckDBPyConnection) -> None:
    """Create the SQL macros `siret_is_valid(s)`, `siret_digits(raw)` and `siret_problem_of(digits)`
    on a connection (temporary: per connection), with this module's characters and messages."""
    text = SIRET_SQL.read_text(encoding="utf-8")
    values = {
        "STRIPPED_CLASS": "".join(f"\\x{{{ord(c):x}}}" for c in STRIPPED_CHARS),
        "LA_POSTE_SIREN": LA_POSTE_SIREN, "LA_POSTE_HEAD_OFFICE": LA_POSTE_HEAD_OFFICE,
        "NOT_DIGITS": NOT_DIGITS, "WRONG_LENGTH": WRONG_LENGTH, "LA_POSTE_KEY": LA_POSTE_KEY,
        "LUHN_KEY": LUHN_KEY, "SIREN_KEY": SIREN_KEY,
    }
    for name, value in values.items():
        text = text.replace("{" + name + "}", _sql_text(value))
    con.execute(text)
