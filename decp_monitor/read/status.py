"""One buyer's verdict, as the CLI's `status` and scripts read it.

With an assessment date or periods different from the published version's, the compliance tables
are recomputed in memory over the published version (read-only), with the same engine.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from decp_monitor import compliance
from decp_monitor.core.siret import siret_problem
from decp_monitor.store.versions import Store

# Exit codes of `status`: the buyer is known, unknown (or nothing is published), the SIRET is invalid.
FOUND, UNKNOWN, INVALID = 0, 1, 2


@dataclass
class StatusReport:
    siret: str
    valid: bool
    found: bool
    message: str = ""
    buyer: Optional[dict[str, Any]] = None
    parameters: dict[str, Optional[str]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if not self.valid:
            return INVALID
        return FOUND if self.found else UNKNOWN


def _parameters(con) -> dict[str, Optional[str]]:
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    return {key: meta.get(key) for key in ("as_of", "window_start", "window_months", "stale_months")}


def buyer_status(store: Store, siret: str, as_of: Optional[dt.date] = None,
                 window_months: Optional[int] = None, stale_months: Optional[int] = None) -> StatusReport:
    """The buyer's row of buyer_compliance with the assessment parameters, and what is wrong."""
    siret = "".join(str(siret).split())
    problem = siret_problem(siret)
    con = store.connect()
    row, params = None, {}
    if con is not None:
        try:
            published = dict(con.execute("SELECT key, value FROM meta").fetchall())
            wanted = {"as_of": as_of.isoformat() if as_of else None,
                      "window_months": str(window_months) if window_months else None,
                      "stale_months": str(stale_months) if stale_months else None}
            if any(value is not None and value != published.get(key) for key, value in wanted.items()):
                con.close()
                con = compliance.recomputed_connection(store, as_of, window_months, stale_months)
            row = compliance.buyer_status(con, siret)
            params = _parameters(con)
        finally:
            con.close()
    if problem is not None:
        return StatusReport(siret, False, row is not None, f"SIRET invalide : {problem}", row, params)
    if row is None:
        message = (
            "Aucune base publiée : lancez d'abord « python -m decp_monitor demo », « load » ou « refresh »."
            if store.current() is None
            else f"SIRET {siret} inconnu : il n'apparaît ni dans les déclarations, ni dans les jeux de données, "
                 "ni dans les contrats chargés."
        )
        return StatusReport(siret, True, False, message, None, params)
    return StatusReport(siret, True, True, "", row, params)
