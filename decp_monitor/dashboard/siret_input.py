"""What a person types in the buyer search box: a SIRET (spaces allowed) or a name.

Whether the digits make a valid SIRET is decp_monitor.core.siret's business."""
from __future__ import annotations

import re
from typing import Optional

_SEPARATORS = re.compile(r"[\s\u00a0\u202f.\-]+")


def as_siret(text: str) -> Optional[str]:
    """The digits when the text is a number written with spaces, dots or dashes; None for a name."""
    compact = _SEPARATORS.sub("", text or "")
    return compact if compact.isdigit() else None
