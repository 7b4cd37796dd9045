"""French formatting of figures shown outside tables (metrics, banners, captions).

Pure functions, no Streamlit: `1 234 567,89 €`, `31/12/2024`, `12,5 %`. Missing values print
as an en dash so that an empty cell never reads as zero.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Optional
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from decp_monitor.core import french
from decp_monitor.core.french import THOUSANDS  # noqa: F401  (re-exported for the pages)

MISSING = "–"
NBSP = "\u00a0"


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value) or (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


def fr_number(value, decimals: int = 0) -> str:
    if _is_missing(value):
        return MISSING
    return french.fr_number(value, decimals)


def fr_int(value) -> str:
    return fr_number(value, 0)


def fr_money(value, decimals: int = 2) -> str:
    if _is_missing(value):
        return MISSING
    return f"{fr_number(value, decimals)}{NBSP}€"


def fr_percent(share, decimals: int = 1) -> str:
    """A share in 0..1 as a French percentage: 0.125 -> '12,5 %'."""
    if _is_missing(share):
        return MISSING
    return f"{fr_number(float(share) * 100, decimals)}{NBSP}%"


def fr_date(value) -> str:
    if _is_missing(value):
        return MISSING
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        return str(value)
    return value.strftime("%d/%m/%Y")


PARIS = ZoneInfo("Europe/Paris")


def paris_now() -> dt.datetime:
    return dt.datetime.now(PARIS)


def fr_datetime(value) -> str:
    """A timestamp (datetime or ISO text; naive means UTC, as the store writes them) in Paris time:
    `31/12/2024 à 15:05`."""
    if _is_missing(value) or value == "":
        return MISSING
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        return fr_date(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def fr_days(value) -> str:
    if _is_missing(value):
        return MISSING
    days = int(value)
    unit = "jour" if abs(days) <= 1 else "jours"
    return f"{fr_int(days)}{NBSP}{unit}"


def plural(count: int, singular: str, plural_form: Optional[str] = None) -> str:
    word = singular if abs(count or 0) <= 1 else (plural_form or singular + "s")
    return f"{fr_int(count)} {word}"


def safe_url(value) -> Optional[str]:
    """The URL itself when it is an http(s) URL with a host; None otherwise (never a link)."""
    if _is_missing(value) or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = urlparse(text)
    except ValueError:
        return None
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        return None
    if any(ch in text for ch in ' "<>\n\r\t'):
        return None
    return text


def format_siret(siret: Optional[str]) -> str:
    """`21440036800012` -> `214 400 368 00012` (SIREN then NIC), other values unchanged."""
    if not siret:
        return MISSING
    if len(siret) == 14 and siret.isdigit():
        return f"{siret[0:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
    return siret


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:=&")


def md_escape(text) -> str:
    """Untrusted text (names, file names) shown inside Markdown: never a link, image or directive."""
    if _is_missing(text):
        return MISSING
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text).replace("\n", " "))
