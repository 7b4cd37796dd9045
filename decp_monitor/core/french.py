"""Numbers and dates written the French way in any text a user reads (findings messages, pages).

`1 234 567,89` (narrow no-break space between thousands, decimal comma), `31/12/2024`. The
dashboard's formatting (dashboard/format.py) builds on these; the parsers use them in messages.
"""
from __future__ import annotations

import datetime as dt

# Narrow no-break space: the French thousands separator that never wraps inside a number.
THOUSANDS = "\u202f"


def fr_number(value: float, decimals: int = 0) -> str:
    text = f"{float(value):,.{decimals}f}" if decimals else f"{round(float(value)):,d}"
    return text.replace(",", THOUSANDS).replace(".", ",")


def fr_amount(value: float) -> str:
    """An amount in euros: cents only when there are some (`-431 851,88 €`, `99 900 000 000 000 €`)."""
    whole = float(value).is_integer()
    return f"{fr_number(value, 0 if whole else 2)}\u00a0€"


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
# The abbreviations of the Imprimerie nationale's rules (« juil. », not « jui. »).
SHORT_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


def fr_month(value: dt.date, short: bool = False) -> str:
    """`mai 2026`, or with `short` `janv. 2026` (chart axes)."""
    return f"{(SHORT_MONTHS if short else MONTHS)[value.month - 1]} {value.year}"


def fr_day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


def fr_date(value: object, missing: str = "") -> str:
    """A date, a datetime or an ISO string as 31/12/2024; `missing` when there is none."""
    if value is None or value == "":
        return missing
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    assert isinstance(value, dt.date)  # a date or a datetime: what the callers hold
    return fr_day(value)
