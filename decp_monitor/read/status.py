"""`python -m decp_monitor status SIRET [--json] [--as-of DATE]`: one buyer's verdict.

Exit code: 0 the buyer is known, 1 it is unknown (or nothing is published), 2 the SIRET is invalid.
With --as-of different from the published version's assessment date, the compliance tables are
recomputed in memory over the published version (read-only), with the same engine.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Optional, TextIO

from decp_monitor import compliance
from decp_monitor.core import vocabulary
from decp_monitor.core.siret import siret_problem

FOUND, UNKNOWN, INVALID = 0, 1, 2


def _fr_date(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")


def _fr_number(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def _parameters(con) -> dict:
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    return {key: meta.get(key) for key in ("as_of", "window_start", "window_months", "stale_months")}


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _print_text(row: dict, params: dict, out: TextIO) -> None:
    name = row.get("buyer_name") or "(nom inconnu)"
    lines = [
        f"Acheteur {row['buyer_siret']} — {name}",
        f"Verdict : {row['verdict_label']}",
    ]
    reasons = row.get("reasons") or []
    if reasons:
        lines.append("Raisons :")
        lines += [f"  - {reason}" for reason in reasons]
    lines.append(
        f"Évaluation au {_fr_date(params['as_of'])} : contrats notifiés du {_fr_date(params['window_start'])} "
        f"au {_fr_date(params['as_of'])} ({params['window_months']} mois)"
    )
    urls = row.get("profile_urls") or []
    declared = "oui" + (f" ({', '.join(urls)})" if urls else "") if row.get("declared") else "non"
    lines.append(f"Déclaré par un profil d'acheteur : {declared}")
    if row.get("platform"):
        lines.append(f"Plateforme : {row['platform']}")
    lines.append(f"Jeux de données : {row.get('dataset_count') or 0}")
    lines.append(
        f"Contrats : {_fr_number(row['contracts_total'])} au total, "
        f"{_fr_number(row['contracts_in_window'])} sur la période"
    )
    for status, label in vocabulary.STATUS_LABELS.items():
        count = row.get(f"n_{status}") or 0
        if count:
            lines.append(f"  {label} : {_fr_number(count)}")
    if row.get("modifications_in_window"):
        lines.append(
            f"Modifications sur la période : {_fr_number(row['modifications_in_window'])}, "
            f"dont {_fr_number(row['n_modifications_late'])} publiées en retard"
        )
    if row.get("late_rate") is not None:
        lines.append(f"Taux de retard : {_fr_number(100 * row['late_rate'], 1)} %")
    if row.get("median_delay_days") is not None:
        lines.append(
            f"Délai de publication : médian {_fr_number(row['median_delay_days'])} jours, "
            f"90e centile {_fr_number(row['p90_delay_days'])} jours"
        )
    lines.append(f"Dernière publication connue : {_fr_date(row.get('last_publication_date'))}")
    out.write("\n".join(lines) + "\n")


def run_status(store, siret: str, as_of=None, as_json: bool = False, out: Optional[TextIO] = None,
               window_months: Optional[int] = None, stale_months: Optional[int] = None) -> int:
    """Print one buyer's verdict (French text or JSON) on `out` (default: the current sys.stdout)."""
    out = out if out is not None else sys.stdout
    siret = "".join(str(siret).split())
    problem = siret_problem(siret)
    try:
        as_of_date = compliance.parse_as_of(as_of)
    except ValueError:
        message = f"Date d'évaluation illisible : « {as_of} » (format attendu AAAA-MM-JJ)"
        out.write(json.dumps({"siret": siret, "found": False, "message": message}, ensure_ascii=False) + "\n"
                  if as_json else f"Erreur : {message}\n")
        return INVALID
    con = store.connect()
    row, params = None, {}
    if con is not None:
        try:
            published = dict(con.execute("SELECT key, value FROM meta").fetchall())
            wanted = {"as_of": as_of_date.isoformat() if as_of_date else None,
                      "window_months": str(window_months) if window_months else None,
                      "stale_months": str(stale_months) if stale_months else None}
            if any(value is not None and value != published.get(key) for key, value in wanted.items()):
                con.close()
                con = compliance.recomputed_connection(store, as_of_date, window_months, stale_months)
            row = compliance.buyer_status(con, siret)
            params = _parameters(con)
        finally:
            con.close()

    if problem is not None:
        message = f"SIRET invalide : {problem}"
        if as_json:
            payload = {"siret": siret, "found": row is not None, "valid": False, "message": message}
            if row is not None:
                payload["buyer"] = {k: _jsonable(v) for k, v in row.items()}
            out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        else:
            out.write(message + "\n")
            if row is not None:
                _print_text(row, params, out)
        return INVALID

    if row is None:
        message = (
            "Aucune base publiée : lancez d'abord « python -m decp_monitor demo », « load » ou « refresh »."
            if not params and store.current() is None
            else f"SIRET {siret} inconnu : il n'apparaît ni dans les déclarations, ni dans les jeux de données, "
                 "ni dans les contrats chargés."
        )
        if as_json:
            out.write(json.dumps({"siret": siret, "found": False, "valid": True, "message": message},
                                 ensure_ascii=False, indent=2) + "\n")
        else:
            out.write(message + "\n")
        return UNKNOWN

    if as_json:
        payload = {"siret": siret, "found": True, "valid": True, "parameters": params,
                   "buyer": {k: _jsonable(v) for k, v in row.items()}}
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_text(row, params, out)
    return FOUND
