"""Every query the dashboard runs: parameterised SQL, bounded results, pandas out.

Each function takes a DuckDB connection (a cursor of the version being shown) and plain
parameters, aggregates in SQL and returns at most a page of rows, so that pages stay fast at a
million contracts. User values only ever travel as bound parameters; the only text assembled
here is made of constant fragments (column and table names chosen from fixed lists).

Column names follow docs/SCHEMA.md and the compliance contract (contract_compliance,
buyer_compliance, dataset_conformance, resource_conformance, overview_monthly).
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Optional

import pandas as pd

from decp_monitor.core import vocabulary
from decp_monitor.register.search import query_patterns

# Findings that mean a whole file could not be used.
FILE_FAILURE_CODES = ("file_unreadable", "unknown_root", "unsafe_xml", "download_failed", "file_too_large", "api_error")

COMPLIANCE_TABLES = ("contract_compliance", "buyer_compliance")
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class Select:
    """The whole filtered result of a paged query: SQL with named parameters, and its order."""

    sql: str
    params: Mapping[str, Any]
    order: str


@dataclass(frozen=True)
class Listing:
    """A paged query and the filter it was called with: what a complete download runs again
    (read/export.export_listing), so that no SQL text travels into the dashboard."""

    query: Callable[..., Page]
    args: tuple = ()
    kwargs: tuple = ()  # sorted (name, value) pairs

    def select(self, con) -> Select:
        return self.query.select(con, *self.args, **dict(self.kwargs))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Page:
    """One page of a bigger result: the rows, how many there are in all, and how to get them all."""

    rows: pd.DataFrame
    total: int
    offset: int
    limit: int
    listing: Optional[Listing] = None


def _df(con, sql: str, params: Optional[Mapping[str, Any]] = None) -> pd.DataFrame:
    return con.execute(sql, dict(params or {})).df()


def _one(con, sql: str, params: Optional[Mapping[str, Any]] = None):
    row = con.execute(sql, dict(params or {})).fetchone()
    return row[0] if row else None


def _page(con, select: Select, limit: int, offset: int) -> Page:
    # One scan: the total rides along each row of the page (a separate count(*) read the whole
    # filtered view a second time). Only a page past the end needs its own count.
    rows = _df(con, f"SELECT *, count(*) OVER () AS _page_total FROM ({select.sql}) {select.order} "
                    "LIMIT $page_limit OFFSET $page_offset",
               {**select.params, "page_limit": int(limit), "page_offset": int(offset)})
    if len(rows):
        total = int(rows["_page_total"].iloc[0])
    else:
        total = int(_one(con, f"SELECT count(*) FROM ({select.sql})", select.params) or 0) if offset else 0
    rows = rows.drop(columns="_page_total")
    return Page(rows, total, int(offset), int(limit))


def paged(select: Callable[..., Select]) -> Callable[..., Page]:
    """A paged query from the function giving its whole filtered result: called with the same
    arguments plus `limit` and `offset`, it returns a Page that knows how to get every row."""

    @functools.wraps(select)
    def query(con, *args, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0, **kwargs) -> Page:
        page = _page(con, select(con, *args, **kwargs), limit, offset)
        return replace(page, listing=Listing(query, tuple(args), tuple(sorted(kwargs.items()))))

    query.select = select  # type: ignore[attr-defined]
    return query


# -- the version itself ------------------------------------------------------------------------


def tables(con) -> set[str]:
    return {
        row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
        ).fetchall()
    }


def schema_columns(con) -> pd.DataFrame:
    """Tables and views of the version with their columns, for the console's browser."""
    return _df(
        con,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' "
        "ORDER BY table_name, ordinal_position",
    )


def meta(con) -> dict[str, str]:
    if "meta" not in tables(con):
        return {}
    return dict(con.execute("SELECT key, value FROM meta").fetchall())


def has_compliance(con) -> bool:
    return set(COMPLIANCE_TABLES) <= tables(con)


def table_counts(con) -> dict[str, int]:
    present = tables(con)
    wanted = ("contracts", "records", "declarations", "datasets", "resources", "findings",
              "contract_compliance", "buyer_compliance")
    return {t: int(_one(con, f"SELECT count(*) FROM {t}")) for t in wanted if t in present}


# -- overview ----------------------------------------------------------------------------------

_LATE = vocabulary.LATE_SQL
_ASSESSED = vocabulary.ASSESSED_SQL


def overview_headline(con, platform: Optional[str] = None) -> dict:
    """The overview's figures; with a platform, those of its contracts and of its buyers (the
    buyer figures use buyer_compliance.platform, as the Acheteurs page's filter does)."""
    if platform is None and "overview_headline" in tables(con):
        # Precomputed at build time (compliance/overview.sql); only contracts notified between the
        # build day and today can move the last notification date.
        c = con.execute(
            """
            SELECT contracts, contracts_in_window, late, assessed, no_publication_date, median_delay,
                   greatest(last_notification,
                            (SELECT max(notification_date) FROM contract_compliance
                             WHERE notification_date > h.computed_on AND notification_date <= current_date))
            FROM overview_headline h
            """
        ).fetchone()
    else:
        c = _headline_contracts(con, platform)
    return _headline(con, c, platform)


def _headline_contracts(con, platform: Optional[str]) -> tuple:
    return con.execute(
        f"""
        SELECT count(*) AS contracts,
               count(*) FILTER (WHERE in_window) AS contracts_in_window,
               count(*) FILTER (WHERE in_window AND {_LATE}) AS late,
               count(*) FILTER (WHERE in_window AND {_ASSESSED}) AS assessed,
               count(*) FILTER (WHERE in_window AND status = 'no_publication_date') AS no_publication_date,
               median(delay_days) FILTER (WHERE in_window AND {_ASSESSED}) AS median_delay,
               max(notification_date) FILTER (WHERE notification_date <= current_date) AS last_notification
        FROM contract_compliance
        WHERE CAST($platform AS VARCHAR) IS NULL OR platform = $platform
        """,
        {"platform": platform},
    ).fetchone()


def _headline(con, c: tuple, platform: Optional[str]) -> dict:
    b = con.execute(
        """
        SELECT count(*) AS buyers,
               count(*) FILTER (WHERE declared) AS declared,
               count(*) FILTER (WHERE verdict = 'missing') AS missing,
               count(*) FILTER (WHERE verdict = 'compliant') AS compliant,
               count(*) FILTER (WHERE verdict = 'late') AS late_buyers,
               count(*) FILTER (WHERE contracts_total > 0) AS publishing
        FROM buyer_compliance
        WHERE CAST($platform AS VARCHAR) IS NULL OR platform = $platform
        """,
        {"platform": platform},
    ).fetchone()
    contracts, in_window, late, assessed, no_pub, median_delay, last_notification = c
    return {
        "contracts": int(contracts), "contracts_in_window": int(in_window), "late": int(late),
        "assessed": int(assessed), "late_share": (late / assessed) if assessed else None,
        "no_publication_date": int(no_pub),
        "median_delay_days": None if median_delay is None else float(median_delay),
        "last_notification": last_notification,
        "buyers": int(b[0]), "declared": int(b[1]), "missing": int(b[2]), "compliant": int(b[3]),
        "late_buyers": int(b[4]), "publishing": int(b[5]),
    }


# A "platform" publishes for several buyers (several SIRENs); one that holds a single body — one
# SIRET, or two establishments of one SIREN (or a mistyped copy of its SIRET) — is that buyer's own
# organisation publishing for itself (« Commune de Lyon »), not a platform to filter on.
PLATFORM_MIN_BUYERS = 2


def platforms(con) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT platform FROM buyer_compliance WHERE platform IS NOT NULL "
        "GROUP BY platform HAVING count(DISTINCT left(buyer_siret, 9)) >= $min_buyers "
        "ORDER BY count(*) DESC, platform LIMIT 500",
        {"min_buyers": PLATFORM_MIN_BUYERS},
    ).fetchall()]


# The span of the overview's monthly chart, precomputed at build time (compliance/overview.sql).
PRECOMPUTED_MONTHS = 36


def platform_rates(con, min_assessed: int = 1) -> pd.DataFrame:
    """Per platform (PLATFORM_MIN_BUYERS buyers or more), over the assessment window: buyers,
    contracts assessed, late ones, late share and median delay; contracts by their own platform."""
    return _df(
        con,
        f"""
        WITH hosts AS (
            SELECT platform, count(*) AS buyers, count(*) FILTER (WHERE verdict = 'late') AS late_buyers
            FROM buyer_compliance WHERE platform IS NOT NULL
            GROUP BY platform HAVING count(DISTINCT left(buyer_siret, 9)) >= $min_buyers
        ), rates AS (
            SELECT platform,
                   count(*) FILTER (WHERE {_ASSESSED}) AS contracts_assessed,
                   count(*) FILTER (WHERE {_LATE}) AS late_contracts,
                   median(delay_days) FILTER (WHERE {_ASSESSED}) AS median_delay_days
            FROM contract_compliance WHERE in_window AND platform IN (SELECT platform FROM hosts)
            GROUP BY platform
        )
        SELECT h.platform, h.buyers, h.late_buyers, coalesce(r.contracts_assessed, 0) AS contracts_assessed,
               coalesce(r.late_contracts, 0) AS late_contracts,
               round(r.late_contracts / nullif(r.contracts_assessed, 0), 3) AS late_rate,
               r.median_delay_days
        FROM hosts h LEFT JOIN rates r USING (platform)
        WHERE coalesce(r.contracts_assessed, 0) >= $min_assessed
        ORDER BY late_rate DESC NULLS LAST, contracts_assessed DESC, platform
        """,
        {"min_buyers": PLATFORM_MIN_BUYERS, "min_assessed": int(min_assessed)},
    )


def _monthly_sql(selection: str) -> str:
    """Late share and median delay by month of notification over the last $months months before
    the assessment date, for the contracts of `selection` (a constant SQL fragment)."""
    return f"""
        WITH bounds AS (
            SELECT CAST(coalesce(try_cast((SELECT value FROM meta WHERE key = 'as_of') AS DATE), current_date) AS DATE) AS as_of
        )
        SELECT CAST(date_trunc('month', notification_date) AS DATE) AS month,
               count(*) AS contracts,
               count(*) FILTER (WHERE {_LATE}) AS late,
               count(*) FILTER (WHERE {_ASSESSED}) AS assessed,
               count(*) FILTER (WHERE {_LATE}) / nullif(count(*) FILTER (WHERE {_ASSESSED}), 0) AS late_share,
               median(delay_days) FILTER (WHERE {_ASSESSED}) AS median_delay_days
        FROM contract_compliance, bounds
        WHERE {selection} AND notification_date <= bounds.as_of
          AND notification_date > bounds.as_of - to_months(CAST($months AS INTEGER))
        GROUP BY ALL ORDER BY month
    """


def monthly(con, platform: Optional[str] = None, months: int = 36) -> pd.DataFrame:
    """Late share and median delay by month of notification, over the last `months` months."""
    if months == PRECOMPUTED_MONTHS and "overview_recent_months" in tables(con):
        return _df(
            con,
            "SELECT month, contracts, late, assessed, late_share, median_delay_days FROM overview_recent_months "
            "WHERE national = (CAST($platform AS VARCHAR) IS NULL) "
            "AND (CAST($platform AS VARCHAR) IS NULL OR platform = $platform) "
            "ORDER BY month",
            {"platform": platform},
        )
    return _df(con, _monthly_sql("(CAST($platform AS VARCHAR) IS NULL OR platform = $platform)"),
               {"months": months, "platform": platform})


def buyer_monthly(con, siret: str, months: int = 36) -> pd.DataFrame:
    """One buyer's late share and median delay by month of notification (the overview's columns)."""
    return _df(con, _monthly_sql("buyer_siret = $siret"), {"siret": siret, "months": months})


def delay_histogram(con, platform: Optional[str] = None, bin_days: int = 10,
                    low: int = -30, high: int = 365) -> pd.DataFrame:
    """Counts of contracts in the window by publication delay, clipped to [low, high]."""
    if (bin_days, low, high) == (10, -30, 365) and "overview_delay_bins" in tables(con):
        return _df(
            con,
            "SELECT bin_start, contracts FROM overview_delay_bins "
            "WHERE national = (CAST($platform AS VARCHAR) IS NULL) "
            "AND (CAST($platform AS VARCHAR) IS NULL OR platform = $platform) "
            "ORDER BY bin_start",
            {"platform": platform},
        )
    return _df(
        con,
        """
        SELECT CAST(floor(least(greatest(delay_days, $low), $high) / $bin) * $bin AS INTEGER) AS bin_start,
               count(*) AS contracts
        FROM contract_compliance
        WHERE in_window AND delay_days IS NOT NULL
          AND (CAST($platform AS VARCHAR) IS NULL OR platform = $platform)
        GROUP BY 1 ORDER BY 1
        """,
        {"low": low, "high": high, "bin": bin_days, "platform": platform},
    )


OTHER_PLATFORMS = "Autres"


def verdicts_by_platform(con, top: int = 12, min_buyers: int = PLATFORM_MIN_BUYERS,
                         platform: Optional[str] = None) -> pd.DataFrame:
    """Buyers by verdict for the platforms hosting the most buyers; the rest grouped.

    A "platform" with a single buyer is usually the buyer's own organisation publishing its own
    dataset: those go to the group too, so that the chart compares platforms. Rows come by
    verdict severity (the most favourable first, drawn first on the left of each bar). With a
    platform, only its bar.
    """
    return _df(
        con,
        """
        WITH sizes AS (
            SELECT coalesce(platform, '(non renseignée)') AS platform, count(DISTINCT left(buyer_siret, 9)) AS n
            FROM buyer_compliance GROUP BY 1
        ), ranked AS (
            SELECT platform, n, row_number() OVER (ORDER BY n DESC, platform) AS rank FROM sizes
        )
        SELECT CASE WHEN r.rank <= $top AND r.n >= $min_buyers THEN r.platform
                    ELSE $other END AS platform,
               b.verdict, any_value(b.verdict_label) AS verdict_label, count(*) AS buyers,
               min(b.severity_rank) AS severity_rank
        FROM buyer_compliance b JOIN ranked r ON r.platform = coalesce(b.platform, '(non renseignée)')
        WHERE CAST($platform AS VARCHAR) IS NULL OR b.platform = $platform
        GROUP BY 1, 2 ORDER BY severity_rank DESC, 1
        """,
        {"top": top, "min_buyers": min_buyers, "other": OTHER_PLATFORMS, "platform": platform},
    )


_WORST_ORDERS = {
    "count": "late_contracts DESC, late_rate DESC NULLS LAST, buyer_siret",
    "rate": "late_rate DESC NULLS LAST, late_contracts DESC, buyer_siret",
}
# Figures of a buyer row that say which period they cover: the window's assessed contracts (the
# base of its late rate, « 9 sur 105 ») next to its contracts of the period and of all time.
_BUYER_FIGURES = f"""
    contracts_total, contracts_in_window, n_assessed AS contracts_assessed,
    n_late_all AS late_contracts, round(late_rate, 3) AS late_rate, n_modifications_late,
    CASE WHEN verdict = 'late' AND n_late_all = 0 THEN '{vocabulary.LATE_BY_MODIFICATIONS_LABEL.replace("'", "''")}'
         ELSE verdict_label END AS verdict_label
"""


def worst_buyers(con, limit: int = 20, platform: Optional[str] = None, order: str = "count",
                 min_assessed: int = 0) -> pd.DataFrame:
    """Buyers with late contracts in the window, by count or by rate; `min_assessed` keeps a rate
    ranking from being topped by buyers with a handful of contracts (4 late of 4)."""
    return _df(
        con,
        f"""
        SELECT buyer_siret, buyer_name, platform, verdict, {_BUYER_FIGURES}, median_delay_days
        FROM buyer_compliance
        WHERE n_late_all > 0 AND n_assessed >= $min_assessed
          AND (CAST($platform AS VARCHAR) IS NULL OR platform = $platform)
        ORDER BY {_WORST_ORDERS.get(order, _WORST_ORDERS["count"])}
        LIMIT $limit
        """,
        {"platform": platform, "limit": int(limit), "min_assessed": int(min_assessed)},
    )


# -- one buyer ---------------------------------------------------------------------------------


def buyer(con, siret: str) -> Optional[dict]:
    cur = con.execute("SELECT * FROM buyer_compliance WHERE buyer_siret = $siret LIMIT 1", {"siret": siret})
    values = cur.fetchone()
    if values is None:
        return None
    row = dict(zip([d[0] for d in cur.description], values))
    for key in ("reasons", "profile_urls"):
        row[key] = list(row.get(key) or [])
    return row


# Days late only when late (a negative "retard" reads as nonsense); an observed date only when it
# can contradict the declared one (a first sighting on a source's first harvest proves nothing).
_BUYER_CONTRACTS = """
    SELECT notification_date, contract_id, kind, objet, amount, status, status_label, rule_label,
           deadline, publication_date,
           CASE WHEN observed_conclusive THEN observed_date END AS observed_date,
           CASE WHEN observed_conclusive THEN observed_source END AS observed_source,
           delay_days, CASE WHEN days_late > 0 THEN days_late END AS days_late,
           in_window, record_count, source_file, dataset_id, resource_id
    FROM contract_compliance
    WHERE buyer_siret = $siret
      AND (CAST($status AS VARCHAR) IS NULL OR status = $status)
      AND (NOT CAST($window_only AS BOOLEAN) OR in_window)
"""


@paged
def buyer_contracts(con, siret: str, status: Optional[str] = None, window_only: bool = False) -> Select:
    return Select(_BUYER_CONTRACTS, {"siret": siret, "status": status, "window_only": window_only},
                  "ORDER BY notification_date DESC NULLS LAST, contract_id")


def buyer_status_counts(con, siret: str, window_only: bool = False) -> pd.DataFrame:
    """Contracts by status, over the window or all dates (as the contracts list they filter)."""
    return _df(
        con,
        "SELECT status, any_value(status_label) AS status_label, count(*) AS contracts "
        "FROM contract_compliance WHERE buyer_siret = $siret AND (NOT CAST($window_only AS BOOLEAN) OR in_window) "
        "GROUP BY status ORDER BY contracts DESC",
        {"siret": siret, "window_only": window_only},
    )


def buyer_timeline(con, siret: str, limit: int = 150) -> pd.DataFrame:
    """The most recent contracts with their notification, deadline and publication dates."""
    return _df(
        con,
        """
        SELECT contract_id, objet, status, status_label, notification_date, deadline,
               publication_date, observed_date, delay_days
        FROM contract_compliance
        WHERE buyer_siret = $siret AND notification_date IS NOT NULL
        ORDER BY notification_date DESC, contract_id LIMIT $limit
        """,
        {"siret": siret, "limit": int(limit)},
    )


@paged
def buyer_modifications(con, siret: str) -> Select:
    return Select(
        """
        SELECT contract_id, modification_id, notification_date, deadline, publication_date,
               delay_days, CASE WHEN days_late > 0 THEN days_late END AS days_late,
               status, status_label, in_window, source_file
        FROM modification_compliance WHERE buyer_siret = $siret
        """,
        {"siret": siret}, "ORDER BY notification_date DESC NULLS LAST, contract_id, modification_id",
    )


def _buyer_dataset_ids_sql(present: set[str]) -> str:
    parts = ["SELECT dataset_id FROM datasets WHERE extras_siret = $siret"]
    parts.append("SELECT dataset_id FROM resources WHERE starts_with(upper(title), 'DECP-' || $siret)")
    if "contract_compliance" in present:
        parts.append("SELECT DISTINCT dataset_id FROM contract_compliance WHERE buyer_siret = $siret AND dataset_id IS NOT NULL")
    return " UNION ".join(parts)


def buyer_datasets(con, siret: str, limit: int = 100) -> pd.DataFrame:
    present = tables(con)
    failed = (
        "(SELECT count(*) FROM dataset_conformance c WHERE c.dataset_id = d.dataset_id AND NOT c.passed)"
        if "dataset_conformance" in present else "NULL"
    )
    return con.execute(
        f"""
        WITH ids AS ({_buyer_dataset_ids_sql(present)})
        SELECT d.dataset_id, d.title, d.url, d.organization_name, d.license, d.frequency,
               d.extras_siret, d.resource_count, d.last_modified, {failed} AS failed_checks
        FROM datasets d WHERE d.dataset_id IN (SELECT dataset_id FROM ids)
        ORDER BY d.title LIMIT $limit
        """,
        {"siret": siret, "limit": int(limit)},
    ).df()


def buyer_checks(con, siret: str, limit: int = 300) -> pd.DataFrame:
    """Every failed convention check of the buyer's datasets and resources; `own_dataset` tells
    the buyer's own dataset (extras.siret) from a platform's, which only the platform can fix."""
    present = tables(con)
    own = ("coalesce((SELECT bool_or(x.extras_siret = $siret) FROM datasets x "
           "WHERE x.dataset_id = c.dataset_id), FALSE) AS own_dataset")
    parts = []
    if "dataset_conformance" in present:
        parts.append(
            "SELECT 'Jeu de données' AS level, c.dataset_id, NULL AS resource_id, d.title AS name, "
            "c.check_label, c.expected, c.actual, c.message, " + own + " "
            "FROM dataset_conformance c LEFT JOIN datasets d USING (dataset_id) "
            "WHERE NOT c.passed AND c.dataset_id IN (SELECT dataset_id FROM ids)"
        )
    if "resource_conformance" in present:
        parts.append(
            "SELECT 'Ressource' AS level, c.dataset_id, c.resource_id, r.title AS name, "
            "c.check_label, c.expected, c.actual, c.message, " + own + " "
            "FROM resource_conformance c LEFT JOIN resources r USING (resource_id) "
            "WHERE NOT c.passed AND c.dataset_id IN (SELECT dataset_id FROM ids)"
        )
    if not parts:
        return pd.DataFrame()
    return con.execute(
        f"WITH ids AS ({_buyer_dataset_ids_sql(present)}) "
        f"SELECT * FROM ({' UNION ALL '.join(parts)}) ORDER BY level, name, check_label LIMIT $limit",
        {"siret": siret, "limit": int(limit)},
    ).df()


@paged
def buyer_resources(con, siret: str) -> Select:
    present = tables(con)
    failed = (
        "(SELECT count(*) FROM resource_conformance c WHERE c.resource_id = r.resource_id AND NOT c.passed)"
        if "resource_conformance" in present else "NULL"
    )
    return Select(
        f"""
        SELECT r.title, r.url, r.filetype, r.type, r.format, r.created_at, r.last_modified,
               r.download_status, {failed} AS failed_checks, r.dataset_id, r.resource_id
        FROM resources r WHERE r.dataset_id IN ({_buyer_dataset_ids_sql(present)})
        """,
        {"siret": siret}, "ORDER BY created_at DESC NULLS LAST, resource_id",
    )


def buyer_declarations(con, siret: str) -> pd.DataFrame:
    return _df(
        con,
        "SELECT url_profil_acheteur, url_dcat, coordonnees, source_file, line "
        "FROM declarations WHERE siret = $siret ORDER BY source_file, line LIMIT 100",
        {"siret": siret},
    )


@paged
def buyer_findings(con, siret: str) -> Select:
    return Select(
        "SELECT code, severity, message, field, value, source_file, position, contract_id "
        "FROM findings WHERE buyer_siret = $siret",
        {"siret": siret}, "ORDER BY severity, code, source_file, position",
    )


# -- all buyers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuyerFilter:
    verdicts: tuple[str, ...] = ()
    declared: Optional[bool] = None
    platform: Optional[str] = None
    min_contracts: int = 0
    late_min: float = 0.0
    late_max: float = 1.0
    text: str = ""
    # Register of buyers (versions built with it): kind of buyer, région, département codes.
    buyer_kind: Optional[str] = None
    region: Optional[str] = None
    departement: Optional[str] = None
    # Name or SIRET as read by the register's search (abbreviations, apostrophes), instead of `text`.
    search: str = ""

    @property
    def late_range_active(self) -> bool:
        return self.late_min > 0.0 or self.late_max < 1.0


_BUYER_ORDERS = {
    "severity": "ORDER BY severity_rank, late_contracts DESC, contracts_in_window DESC, buyer_siret",
    "late": "ORDER BY late_contracts DESC, late_rate DESC NULLS LAST, buyer_siret",
    "late_rate": "ORDER BY late_rate DESC NULLS LAST, late_contracts DESC, buyer_siret",
    "contracts": "ORDER BY contracts_total DESC, buyer_siret",
    "name": "ORDER BY buyer_name NULLS LAST, buyer_siret",
}


@paged
def buyers(con, f: BuyerFilter, order: str = "severity") -> Select:
    text = f.text.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    sql = f"""
        SELECT buyer_siret, buyer_name, buyer_kind_label, commune_name, departement_name, closed_on,
               verdict, declared, platform, {_BUYER_FIGURES},
               median_delay_days, last_publication_date, dataset_count, severity_rank
        FROM buyer_compliance
        WHERE (len(CAST($verdicts AS VARCHAR[])) = 0 OR list_contains(CAST($verdicts AS VARCHAR[]), verdict))
          AND (CAST($buyer_kind AS VARCHAR) IS NULL OR buyer_kind = $buyer_kind)
          AND (CAST($region AS VARCHAR) IS NULL OR region = $region)
          AND (CAST($departement AS VARCHAR) IS NULL OR departement = $departement)
          AND (NOT $has_search
               OR (len(CAST($patterns AS VARCHAR[])) > 0
                   AND list_bool_and(list_transform(CAST($patterns AS VARCHAR[]), lambda p: contains(search_text, p))))
               OR (length($search_digits) >= 3 AND starts_with(buyer_siret, $search_digits)))
          AND (CAST($declared AS BOOLEAN) IS NULL OR declared = $declared)
          AND (CAST($platform AS VARCHAR) IS NULL OR platform = $platform)
          AND contracts_total >= $min_contracts
          AND (NOT CAST($late_range AS BOOLEAN) OR late_rate BETWEEN $late_min AND $late_max)
          AND ($text = '' OR contains(strip_accents(lower(coalesce(buyer_name, ''))), strip_accents(lower($text)))
               OR (length($digits) >= 3 AND starts_with(buyer_siret, $digits)))
    """
    params = {"verdicts": list(f.verdicts), "declared": f.declared, "platform": f.platform,
              "min_contracts": int(f.min_contracts), "late_range": f.late_range_active,
              "late_min": float(f.late_min), "late_max": float(f.late_max), "text": text, "digits": digits,
              "buyer_kind": f.buyer_kind or None, "region": f.region or None, "departement": f.departement or None,
              # the register's search (names with accents, apostrophes, abbreviations; SIRET prefix)
              "has_search": bool(f.search.strip()), "patterns": query_patterns(f.search),
              "search_digits": "".join(ch for ch in f.search if ch.isdigit())}
    return Select(sql, params, _BUYER_ORDERS.get(order, _BUYER_ORDERS["severity"]))


def verdict_labels(con) -> dict[str, str]:
    return dict(con.execute(
        "SELECT verdict, any_value(verdict_label) FROM buyer_compliance GROUP BY verdict "
        "ORDER BY min(severity_rank)"
    ).fetchall())


def status_labels(con) -> dict[str, str]:
    return dict(con.execute(
        "SELECT status, any_value(status_label) FROM contract_compliance GROUP BY status ORDER BY count(*) DESC"
    ).fetchall())


# -- every contract ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractFilter:
    """The Contrats page's search; empty values filter nothing."""

    buyer: str = ""  # SIRET (or its start) or part of the name
    supplier: str = ""  # SIRET (or its start) or part of the name of a holder
    cpv: str = ""  # code or its start (« 45 » : travaux)
    amount_min: Optional[float] = None
    amount_max: Optional[float] = None
    procedure: Optional[str] = None
    nature: Optional[str] = None
    departement: Optional[str] = None
    notified_from: Optional[dt.date] = None
    notified_to: Optional[dt.date] = None
    statuses: tuple[str, ...] = ()


# Orders on contract_compliance's own columns ({t}: its alias, empty over a subquery's output).
_CONTRACT_ORDERS = {
    "recent": "ORDER BY {t}notification_date DESC NULLS LAST, {t}contract_key",
    "oldest": "ORDER BY {t}notification_date NULLS LAST, {t}contract_key",
    "amount": "ORDER BY {t}amount DESC NULLS LAST, {t}contract_key",
    "late": "ORDER BY {t}days_late DESC NULLS LAST, {t}contract_key",
    "buyer": "ORDER BY {t}buyer_name NULLS LAST, {t}buyer_siret, {t}notification_date DESC NULLS LAST, {t}contract_key",
}


def _contract_order(order: str, alias: str = "") -> str:
    return _CONTRACT_ORDERS.get(order, _CONTRACT_ORDERS["recent"]).format(t=alias)


def _contracts_from(f: ContractFilter) -> tuple[str, dict[str, Any]]:
    """FROM … WHERE … of the contracts matching the filter. Everything searched is a column of the
    stored contract_compliance_rows (compliance/contracts.sql: CPV, procedure, nature, département,
    holders' and buyer's names lower-cased without accents), so the search reads one table with no
    join: at 1.5 M contracts a join to contracts and records costs a scan and a hash table each."""
    buyer = f.buyer.strip()
    supplier = f.supplier.strip()
    where: list[str] = []
    params: dict[str, Any] = {}
    if buyer:
        where.append("(starts_with(c.buyer_siret, $buyer_digits) AND length($buyer_digits) >= 3 "
                     "OR contains(c.buyer_search, strip_accents(lower($buyer))))")
        params.update(buyer=buyer, buyer_digits="".join(ch for ch in buyer if ch.isdigit()) or buyer)
    if supplier:
        # A name (or its part) or a SIRET (or its start), spaces in a SIRET ignored (« 380 079 194 »).
        squeezed = supplier.replace(" ", "")
        where.append("contains(c.holders_search, strip_accents(lower($supplier)))")
        params["supplier"] = squeezed if squeezed.isdigit() else supplier
    if f.cpv.strip():
        where.append("starts_with(c.cpv, $cpv)")
        params["cpv"] = f.cpv.strip()
    if f.amount_min is not None:
        where.append("c.amount >= $amount_min")
        params["amount_min"] = float(f.amount_min)
    if f.amount_max is not None:
        where.append("c.amount <= $amount_max")
        params["amount_max"] = float(f.amount_max)
    if f.procedure:
        where.append("c.procedure = $procedure")
        params["procedure"] = f.procedure
    if f.nature:
        where.append("c.nature = $nature")
        params["nature"] = f.nature
    if f.departement:
        where.append("c.departement = $departement")
        params["departement"] = f.departement.upper()
    if f.notified_from:
        where.append("c.notification_date >= $notified_from")
        params["notified_from"] = f.notified_from
    if f.notified_to:
        where.append("c.notification_date <= $notified_to")
        params["notified_to"] = f.notified_to
    if f.statuses:
        where.append("list_contains($statuses, c.status)")
        params["statuses"] = list(f.statuses)
    sql = "FROM contract_compliance_rows c"  # the table: its search columns are not in the view
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params


_CONTRACT_COLUMNS = """
    c.notification_date, c.buyer_siret, c.buyer_name, c.contract_id, c.nature, c.objet,
    c.procedure, c.cpv, c.amount, c.place_code, c.departement, c.holder_names,
    c.status, c.status_label, c.publication_date, c.deadline,
    CASE WHEN c.days_late > 0 THEN c.days_late END AS days_late, c.in_window,
    c.source_file, c.contract_key
"""


def _contracts_select(con, f: ContractFilter, order: str = "recent") -> Select:
    """Every contract matching the filter with every column shown (what a full download writes)."""
    from_sql, params = _contracts_from(f)
    return Select(f"SELECT {_CONTRACT_COLUMNS} {from_sql}", params, _contract_order(order))


def contracts_search(con, f: ContractFilter, order: str = "recent", limit: int = DEFAULT_PAGE_SIZE,
                     offset: int = 0) -> Page:
    """A page of the contracts matching the filter: their count (narrow columns), then the page
    itself, a top-N over the same filter (DuckDB's dynamic filter on the sort column skips the row
    groups that cannot reach the page: 2 of 13 read for the first page of 1.5 M contracts)."""
    from_sql, params = _contracts_from(f)
    (total,) = con.execute(f"SELECT count(*) {from_sql}", params).fetchone()
    rows = _df(con, f"SELECT {_CONTRACT_COLUMNS} {from_sql} {_contract_order(order, 'c.')} "
                    "LIMIT $page_limit OFFSET $page_offset",
               {**params, "page_limit": int(limit), "page_offset": int(offset)})
    return Page(rows, int(total), int(offset), int(limit), Listing(contracts_search, (f,), (("order", order),)))


contracts_search.select = _contracts_select  # type: ignore[attr-defined]


def contract_facets(con) -> dict[str, list[str]]:
    """The values the Contrats page offers for procedure, nature and département (one scan)."""
    rows = con.execute(
        """
        SELECT procedure, nature, departement, count(*) AS n
        FROM contract_compliance
        GROUP BY GROUPING SETS ((procedure), (nature), (departement))
        """
    ).fetchall()
    out: dict[str, list[str]] = {}
    for index, name in enumerate(("procedure", "nature", "departement")):
        values = [(row[index], row[3]) for row in rows if row[index] is not None and row[index] != ""
                  and all(row[j] is None for j in range(3) if j != index)]
        out[name] = [v for v, _ in sorted(values, key=lambda vn: (-vn[1], vn[0]))][:300]
    return out


# -- datasets ----------------------------------------------------------------------------------


def checks_summary(con) -> pd.DataFrame:
    """Each convention check with how many datasets/resources fail it."""
    present = tables(con)
    parts = []
    if "dataset_conformance" in present:
        parts.append("SELECT 'dataset' AS level, \"check\", any_value(check_label) AS check_label, "
                     "count(*) FILTER (WHERE NOT passed) AS failed, count(*) AS checked "
                     "FROM dataset_conformance GROUP BY \"check\"")
    if "resource_conformance" in present:
        parts.append("SELECT 'resource' AS level, \"check\", any_value(check_label) AS check_label, "
                     "count(*) FILTER (WHERE NOT passed) AS failed, count(*) AS checked "
                     "FROM resource_conformance GROUP BY \"check\"")
    if not parts:
        return pd.DataFrame(columns=["level", "check", "check_label", "failed", "checked"])
    return _df(con, f"SELECT * FROM ({' UNION ALL '.join(parts)}) ORDER BY level, failed DESC, \"check\"")


@paged
def datasets(con, failing_check: Optional[str] = None, text: str = "") -> Select:
    present = tables(con)
    has_checks = "dataset_conformance" in present
    failed = ("(SELECT count(*) FROM dataset_conformance c WHERE c.dataset_id = d.dataset_id AND NOT c.passed)"
              if has_checks else "CAST(NULL AS BIGINT)")
    failed_labels = ("(SELECT string_agg(check_label, ' ; ' ORDER BY check_label) FROM dataset_conformance c "
                     "WHERE c.dataset_id = d.dataset_id AND NOT c.passed)" if has_checks else "CAST(NULL AS VARCHAR)")
    check_filter = ("(CAST($check AS VARCHAR) IS NULL OR EXISTS (SELECT 1 FROM dataset_conformance c "
                    "WHERE c.dataset_id = d.dataset_id AND NOT c.passed AND c.\"check\" = $check))"
                    if has_checks else "CAST($check AS VARCHAR) IS NULL")
    sql = f"""
        SELECT d.title, d.url, d.organization_name, d.extras_siret, d.license, d.frequency,
               d.resource_count, d.last_modified, {failed} AS failed_checks, {failed_labels} AS failed_labels,
               d.dataset_id
        FROM datasets d
        WHERE {check_filter}
          AND ($text = '' OR contains(strip_accents(lower(coalesce(d.title, '') || ' ' || coalesce(d.organization_name, '')
                     || ' ' || coalesce(d.extras_siret, ''))), strip_accents(lower($text))))
    """
    return Select(sql, {"check": failing_check, "text": text.strip()},
                  "ORDER BY failed_checks DESC NULLS LAST, title, dataset_id")


@paged
def resources(con, failing_check: Optional[str] = None, dataset_id: Optional[str] = None) -> Select:
    present = tables(con)
    has_checks = "resource_conformance" in present
    # The failed checks' labels are aggregated once and joined: a correlated subquery per resource
    # cost ~0.4 s for the first page at 260 000 resources, against ~0.1 s so.
    failed_join = ("LEFT JOIN (SELECT resource_id, string_agg(check_label, ' ; ' ORDER BY check_label) AS failed_labels "
                   "FROM resource_conformance WHERE NOT passed GROUP BY resource_id) f "
                   "ON f.resource_id = r.resource_id" if has_checks else "")
    failed_labels = "f.failed_labels" if has_checks else "CAST(NULL AS VARCHAR)"
    check_filter = ("(CAST($check AS VARCHAR) IS NULL OR EXISTS (SELECT 1 FROM resource_conformance c "
                    "WHERE c.resource_id = r.resource_id AND NOT c.passed AND c.\"check\" = $check))"
                    if has_checks else "CAST($check AS VARCHAR) IS NULL")
    sql = f"""
        SELECT r.title, r.url, d.title AS dataset_title, r.filetype, r.type, r.format, r.mime,
               r.filesize, r.created_at, r.classification, r.download_status,
               {failed_labels} AS failed_labels, r.dataset_id, r.resource_id
        FROM resources r LEFT JOIN datasets d USING (dataset_id) {failed_join}
        WHERE {check_filter} AND (CAST($dataset_id AS VARCHAR) IS NULL OR r.dataset_id = $dataset_id)
    """
    return Select(sql, {"check": failing_check, "dataset_id": dataset_id},
                  "ORDER BY failed_labels IS NULL, created_at DESC NULLS LAST, title, resource_id")


# -- declarations ------------------------------------------------------------------------------


def declarations_summary(con) -> dict:
    row = con.execute(
        """
        SELECT count(*) AS rows, count(DISTINCT siret) AS sirets,
               count(*) FILTER (WHERE siret IS NULL) AS unreadable,
               count(DISTINCT source_file) AS files
        FROM declarations
        """
    ).fetchone()
    never = _one(con, "SELECT count(*) FROM buyer_compliance WHERE declared AND contracts_total = 0") \
        if "buyer_compliance" in tables(con) else None
    return {"rows": int(row[0]), "sirets": int(row[1]), "unreadable": int(row[2]), "files": int(row[3]),
            "never_published": None if never is None else int(never)}


@paged
def declarations(con, only_never_published: bool = False, text: str = "") -> Select:
    text = text.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    sql = """
        SELECT d.siret, b.buyer_name, d.coordonnees, b.verdict_label,
               coalesce(b.contracts_total, 0) AS contracts_total, b.last_publication_date,
               d.url_profil_acheteur, d.url_dcat, d.siret_raw, b.siret_problem,
               d.source_file, d.line, b.verdict
        FROM declarations d LEFT JOIN buyer_compliance b ON b.buyer_siret = d.siret
        WHERE (NOT CAST($never AS BOOLEAN) OR coalesce(b.contracts_total, 0) = 0)
          AND ($text = '' OR contains(strip_accents(lower(coalesce(b.buyer_name, '') || ' ' || coalesce(d.coordonnees, '')
                                                      || ' ' || coalesce(d.url_profil_acheteur, ''))), strip_accents(lower($text)))
               OR (length($digits) >= 3 AND starts_with(d.siret, $digits)))
    """
    return Select(sql, {"never": only_never_published, "text": text, "digits": digits},
                  "ORDER BY contracts_total = 0 DESC, verdict = 'missing' DESC, siret NULLS FIRST, source_file, line")


# -- data quality ------------------------------------------------------------------------------


def findings_by_code(con) -> pd.DataFrame:
    return _df(
        con,
        """
        SELECT code, any_value(severity) AS severity, count(*) AS findings,
               count(DISTINCT source_file) AS files, count(DISTINCT buyer_siret) AS buyers,
               any_value(message) AS example
        FROM findings GROUP BY code ORDER BY findings DESC, code
        """,
    )


@paged
def findings_by_file(con, code: Optional[str] = None) -> Select:
    return Select(
        """
        SELECT source_file, count(*) AS findings, count(*) FILTER (WHERE severity = 'error') AS errors,
               count(DISTINCT code) AS codes, string_agg(DISTINCT code, ', ' ORDER BY code) AS code_list
        FROM findings WHERE (CAST($code AS VARCHAR) IS NULL OR code = $code) GROUP BY source_file
        """,
        {"code": code}, "ORDER BY findings DESC, source_file",
    )


@paged
def findings_by_buyer(con, code: Optional[str] = None) -> Select:
    return Select(
        """
        SELECT f.buyer_siret, any_value(b.buyer_name) AS buyer_name, count(*) AS findings,
               count(*) FILTER (WHERE f.severity = 'error') AS errors,
               string_agg(DISTINCT f.code, ', ' ORDER BY f.code) AS code_list
        FROM findings f LEFT JOIN buyer_compliance b USING (buyer_siret)
        WHERE f.buyer_siret IS NOT NULL AND (CAST($code AS VARCHAR) IS NULL OR f.code = $code)
        GROUP BY f.buyer_siret
        """,
        {"code": code}, "ORDER BY findings DESC, buyer_siret",
    )


@paged
def findings_list(con, code: Optional[str] = None, severity: Optional[str] = None, file: Optional[str] = None,
                  siret: Optional[str] = None) -> Select:
    return Select(
        """
        SELECT code, severity, message, source_file, position, field, value, buyer_siret, contract_id
        FROM findings
        WHERE (CAST($code AS VARCHAR) IS NULL OR code = $code)
          AND (CAST($severity AS VARCHAR) IS NULL OR severity = $severity)
          AND (CAST($file AS VARCHAR) IS NULL OR source_file = $file OR ends_with(source_file, '/' || $file))
          AND (CAST($siret AS VARCHAR) IS NULL OR buyer_siret = $siret)
        """,
        {"code": code, "severity": severity, "file": file, "siret": siret},
        "ORDER BY source_file, position NULLS FIRST, code",
    )


def failed_files(con, limit: int = 500) -> pd.DataFrame:
    """Files that could not be used at all, and resources whose download failed."""
    codes = list(FILE_FAILURE_CODES)
    return _df(
        con,
        """
        SELECT source_file, code, any_value(message) AS message, NULL AS url
        FROM findings WHERE list_contains($codes, code) GROUP BY source_file, code
        UNION ALL
        SELECT coalesce(title, resource_id) AS source_file, 'download_failed' AS code,
               'Téléchargement échoué' AS message, url
        FROM resources WHERE download_status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.resource_id = resources.resource_id
                          AND list_contains($codes, f.code))
        ORDER BY source_file LIMIT $limit
        """,
        {"codes": codes, "limit": int(limit)},
    )


# -- method and freshness ----------------------------------------------------------------------


def refreshes(con, limit: int = 100) -> pd.DataFrame:
    return _df(
        con,
        """
        SELECT started_at, finished_at, command, source, outcome, message, datasets, resources,
               files, records, findings, bytes_downloaded, refresh_id
        FROM refreshes ORDER BY started_at DESC NULLS LAST LIMIT $limit
        """,
        {"limit": int(limit)},
    )


def same_siren(con, siren: str, limit: int = 20) -> pd.DataFrame:
    """Other establishments of the same company or body: often where an unknown SIRET's data is."""
    return _df(
        con,
        "SELECT buyer_siret, buyer_name, verdict_label, contracts_total FROM buyer_compliance "
        "WHERE starts_with(buyer_siret, $siren) ORDER BY contracts_total DESC, buyer_siret LIMIT $limit",
        {"siren": siren, "limit": int(limit)},
    )
