"""Dashboard queries that read the register of buyers (names, kinds, places, closings).

Kept apart from queries.py so that the register's reads stay together; the dashboard's cached
query layer (dashboard/data.py) finds them by name like the others. Named parameters only; the
text assembled here is made of constant fragments.
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from decp_monitor.register import kinds as buyer_kinds
from decp_monitor.register import reference, search

SEARCH_COLUMNS = """buyer_siret, buyer_name, legal_name, buyer_kind_label, commune_name, departement,
                    departement_name, verdict, verdict_label, contracts_total, closed_on"""


def _df(con, sql: str, params: Optional[dict] = None) -> pd.DataFrame:
    return con.execute(sql, params or {}).df()


def find_buyers(con, text: str, limit: int = 25) -> pd.DataFrame:
    """Buyers matching a name (accents, case, apostrophes, abbreviations ignored), a SIREN
    (9 digits: the organisation's establishments in the data) or the start of a SIRET."""
    digits = "".join(ch for ch in text if ch.isdigit())
    stripped = "".join(ch for ch in text if not ch.isspace())
    if len(digits) == 9 and stripped == digits:
        return siren_establishments(con, digits, limit=limit)
    patterns = search.query_patterns(text)
    if not patterns and len(digits) < 3:
        return _df(con, f"SELECT {SEARCH_COLUMNS} FROM buyer_compliance WHERE FALSE")
    return _df(
        con,
        f"""
        SELECT {SEARCH_COLUMNS}
        FROM buyer_compliance
        WHERE (len($patterns) > 0 AND list_bool_and(list_transform($patterns, lambda p: contains(search_text, p))))
           OR (length($digits) >= 3 AND $digits = $stripped AND starts_with(buyer_siret, $digits))
        ORDER BY contracts_total DESC, buyer_name, buyer_siret
        LIMIT $limit
        """,
        {"patterns": patterns, "digits": digits, "stripped": stripped, "limit": int(limit)},
    )


def siren_establishments(con, siren: str, limit: int = 100) -> pd.DataFrame:
    """The establishments of one organisation (SIREN) present in the data, each with its verdict."""
    return _df(
        con,
        f"""
        SELECT {SEARCH_COLUMNS}
        FROM buyer_compliance
        WHERE starts_with(buyer_siret, $siren)
        ORDER BY is_closed, contracts_total DESC, buyer_siret
        LIMIT $limit
        """,
        {"siren": siren, "limit": int(limit)},
    )


def register_siblings(con, siret: str, limit: int = 20) -> pd.DataFrame:
    """Other establishments of the same SIREN: those in the data (with their verdict) and those
    only the register knows (the one that took over from a closed establishment, often)."""
    return _df(
        con,
        """
        SELECT r.siret AS buyer_siret, coalesce(b.buyer_name, r.name, r.data_name) AS buyer_name,
               r.state AS establishment_state, r.closed_on, r.commune_name, r.is_head_office,
               b.verdict_label, coalesce(b.contracts_total, 0) AS contracts_total,
               b.buyer_siret IS NOT NULL AS in_data
        FROM register r
        LEFT JOIN buyer_compliance b ON b.buyer_siret = r.siret
        WHERE r.siren = left($siret, 9) AND r.siret <> $siret AND (r.found OR b.buyer_siret IS NOT NULL)
        ORDER BY in_data DESC, r.state NULLS LAST, contracts_total DESC, r.siret
        LIMIT $limit
        """,
        {"siret": siret, "limit": int(limit)},
    )


def register_status(con) -> dict:
    """How complete and how old the register is (for the pages' captions)."""
    row = con.execute(
        """
        SELECT count(*) AS sirets,
               count(*) FILTER (WHERE found) AS found,
               (SELECT count(*) FROM buyer_compliance WHERE siret_valid AND register_source IS NULL) AS never_asked,
               min(fetched_at) FILTER (WHERE found) AS oldest,
               max(fetched_at) AS newest,
               count(*) FILTER (WHERE state = 'F') AS closed
        FROM register
        """
    ).fetchone()
    return dict(zip(("sirets", "found", "never_asked", "oldest", "newest", "closed"), row))


def buyer_kind_options(con) -> dict[str, str]:
    """Kinds present in the data, in the display order of register/kinds.py."""
    present = {r[0] for r in con.execute("SELECT DISTINCT buyer_kind FROM buyer_compliance").fetchall()}
    return {k: label for k, label in buyer_kinds.KIND_LABELS.items() if k in present}


def region_options(con) -> dict[str, str]:
    present = {r[0] for r in con.execute("SELECT DISTINCT region FROM buyer_compliance WHERE region IS NOT NULL").fetchall()}
    return {code: name for code, name in reference.regions().items() if code in present}


def departement_options(con, region: Optional[str] = None) -> dict[str, str]:
    present = {r[0] for r in con.execute(
        "SELECT DISTINCT departement FROM buyer_compliance WHERE departement IS NOT NULL "
        "AND ($region IS NULL OR region = $region)", {"region": region}).fetchall()}
    return {code: f"{code} {name}" for code, name in reference.departments().items() if code in present}


_PLACE_FILTER = """
      ($kind IS NULL OR b.buyer_kind = $kind)
  AND ($region IS NULL OR b.region = $region)
  AND ($departement IS NULL OR b.departement = $departement)
  AND (CAST($platform AS VARCHAR) IS NULL OR b.platform = $platform)
"""


def place_headline(con, kind: Optional[str] = None, region: Optional[str] = None,
                   departement: Optional[str] = None, platform: Optional[str] = None) -> dict:
    """Buyers, verdicts and the late share of their contracts, for a kind of buyer and a place."""
    row = con.execute(
        f"""
        SELECT count(*) AS buyers,
               count(*) FILTER (WHERE b.verdict = 'late') AS late_buyers,
               count(*) FILTER (WHERE b.verdict = 'missing') AS missing,
               count(*) FILTER (WHERE b.verdict = 'compliant') AS compliant,
               count(*) FILTER (WHERE b.verdict = 'closed') AS closed,
               sum(b.n_late_all) AS late,
               sum(b.n_assessed) AS assessed
        FROM buyer_compliance b
        WHERE {_PLACE_FILTER}
        """,
        {"kind": kind, "region": region, "departement": departement, "platform": platform},
    ).fetchone()
    buyers, late_buyers, missing, compliant, closed, late, assessed = row
    return {"buyers": int(buyers), "late_buyers": int(late_buyers), "missing": int(missing),
            "compliant": int(compliant), "closed": int(closed), "late": int(late or 0),
            "assessed": int(assessed or 0), "late_share": (late / assessed) if assessed else None}


def late_by_departement(con, kind: Optional[str] = None, region: Optional[str] = None,
                        platform: Optional[str] = None) -> pd.DataFrame:
    """Per département: buyers, contracts assessed and late in the window, late share."""
    return _df(
        con,
        f"""
        SELECT b.departement, any_value(b.departement_name) AS departement_name,
               any_value(b.region_name) AS region_name,
               count(*) AS buyers,
               count(*) FILTER (WHERE b.verdict = 'late') AS late_buyers,
               sum(b.n_assessed) AS assessed,
               sum(b.n_late_all) AS late,
               sum(b.n_late_all) / nullif(sum(b.n_assessed), 0) AS late_share
        FROM buyer_compliance b
        WHERE b.departement IS NOT NULL AND {_PLACE_FILTER.replace('$departement IS NULL OR ', 'TRUE OR ')}
        GROUP BY 1 ORDER BY 1
        """,
        {"kind": kind, "region": region, "departement": None, "platform": platform},
    )


def worst_buyers_in_place(con, kind: Optional[str] = None, region: Optional[str] = None,
                          departement: Optional[str] = None, limit: int = 20,
                          platform: Optional[str] = None) -> pd.DataFrame:
    return _df(
        con,
        f"""
        SELECT b.buyer_siret, b.buyer_name, b.buyer_kind_label, b.departement_name, b.verdict_label,
               b.contracts_in_window, b.n_late_all AS late_contracts,
               round(b.late_rate, 3) AS late_rate, b.median_delay_days
        FROM buyer_compliance b
        WHERE b.n_late_all > 0 AND {_PLACE_FILTER}
        ORDER BY late_contracts DESC, late_rate DESC NULLS LAST, b.buyer_siret
        LIMIT $limit
        """,
        {"kind": kind, "region": region, "departement": departement, "limit": int(limit), "platform": platform},
    )
