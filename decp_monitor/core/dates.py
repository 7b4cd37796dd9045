"""Dates: the DECP files' dates (`parse_decp_date`, lenient, with a finding code) and the dates a
user gives (`parse_iso_date`: --as-of, --from, filters; strict). One module owns both.

DECP dates: `YYYY-MM-DD`, optionally followed by an offset or a time; the date part is kept.

Bounds: a year below MIN_YEAR (1990) or above MAX_YEAR (2100) is `absurd_year` (typos such as
0222 or 5021). Dates in the future are judged by the normaliser against today, not here.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

MIN_YEAR = 1990
MAX_YEAR = 2100
_MISSING = {"", "nan", "nc", "null", "none", "n/a", "na"}


def parse_decp_date(raw) -> tuple[Optional[dt.date], Optional[str]]:
    """(date, None) | (None, "unparseable_date" | "absurd_year") | (None, None) when missing."""
    if raw is None:
        return None, None
    if isinstance(raw, dt.datetime):
        return raw.date(), None
    if isinstance(raw, dt.date):
        return raw, None
    text = str(raw).strip()
    if text.lower() in _MISSING:
        return None, None
    head = text[:10]
    rest = text[10:]
    if len(head) != 10 or head[4] != "-" or head[7] != "-":
        # A year with a wrong digit count (e.g. "20190-01-01", "219-01-01") is unparseable.
        return None, "unparseable_date"
    if rest and rest[0] not in "+-TZ ":
        return None, "unparseable_date"
    year_s, month_s, day_s = head[:4], head[5:7], head[8:10]
    if not (year_s.isdigit() and month_s.isdigit() and day_s.isdigit() and head.isascii()):
        return None, "unparseable_date"
    year = int(year_s)
    if year < MIN_YEAR or year > MAX_YEAR:
        return None, "absurd_year"
    try:
        return dt.date(year, int(month_s), int(day_s)), None
    except ValueError:
        return None, "unparseable_date"


def parse_iso_date(value: object) -> Optional[dt.date]:
    """A date a user gave: a date, a datetime or an ISO string AAAA-MM-JJ; None when empty.

    ValueError (the caller says in French which option was wrong) for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip()[:10])
