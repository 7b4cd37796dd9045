"""The compliance engine: late and missing publications per buyer SIRET.

`compute(con)` rebuilds, from the stored and consolidated tables of one database version, the
tables the dashboard and the exports read (contract_compliance, modification_compliance,
buyer_compliance, dataset_conformance, resource_conformance, overview_monthly; see
docs/COMPLIANCE.md). Everything is set-based SQL in the files beside this module; the rules,
delays, patterns and French wording come from `rules.py` through session variables and a
label table, so the SQL never formats a value in.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional, Union

import duckdb

from decp_monitor.compliance import rules
from decp_monitor.compliance.rules import RULES
from decp_monitor.core import siret, vocabulary
from decp_monitor.core.dates import parse_iso_date
from decp_monitor.core.vocabulary import STATUS_LABELS, VERDICT_LABELS
from decp_monitor.register import kinds

_SQL_DIR = Path(__file__).resolve().parent
# Order matters: each file reads the tables of the ones before.
PIPELINE = ("observed.sql", "contracts.sql", "buyer_universe.sql", "buyers.sql", "buyer_register.sql",
            "conventions.sql", "overview.sql")
TABLES = (
    "contract_compliance", "modification_compliance", "buyer_compliance",
    "dataset_conformance", "resource_conformance", "overview_monthly",
)

DateLike = Union[dt.date, str, None]


def _sql(name: str) -> str:
    return (_SQL_DIR / name).read_text(encoding="utf-8")


def resolve_as_of(con, as_of: DateLike = None) -> dt.date:
    """The assessment date: given, else the version's meta `as_of` (the demo pins it), else today."""
    explicit = parse_iso_date(as_of)
    if explicit is not None:
        return explicit
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'as_of'").fetchone()
    except Exception:  # a database without meta: today
        row = None
    if row and row[0]:
        try:
            return parse_iso_date(row[0]) or dt.date.today()
        except ValueError:
            pass
    return dt.date.today()


def _set(con, name: str, value) -> None:
    con.execute(f"SET VARIABLE {name} = ?", [value])


def _set_parameters(con, as_of: dt.date, window_months: int, stale_months: int) -> dict:
    window_start, stale_since = con.execute(
        "SELECT CAST(CAST(? AS DATE) - to_months(CAST(? AS INTEGER)) AS DATE) + 1, "
        "CAST(CAST(? AS DATE) - to_months(CAST(? AS INTEGER)) AS DATE)",
        [as_of, window_months, as_of, stale_months],
    ).fetchone()
    values = {
        "decp_as_of": as_of,
        "decp_window_start": window_start,
        "decp_window_months": int(window_months),
        "decp_stale_months": int(stale_months),
        "decp_stale_since": stale_since,
        "decp_marche_months": rules.MARCHE_DELAY_MONTHS,
        "decp_modification_months": rules.MODIFICATION_DELAY_MONTHS,
        "decp_concession_fallback_months": rules.CONCESSION_FALLBACK_DELAY_MONTHS,
        "decp_name_date_pattern": rules.DECP_NAME_DATE_PATTERN,
        "decp_aife_name_date_pattern": rules.AIFE_NAME_DATE_PATTERN,
        "decp_one_off_max_rewrite_hours": rules.ONE_OFF_MAX_REWRITE_HOURS,
        "decp_assessed_statuses": list(vocabulary.ASSESSED_STATUSES),
        "decp_late_statuses": list(vocabulary.LATE_STATUSES),
        "decp_late_verdict_min_rate": float(rules.LATE_VERDICT_MIN_RATE),
        "decp_title_prefix": rules.TITLE_PREFIX,
        "decp_title_pattern": rules.TITLE_PATTERN,
        "decp_tag_single": rules.TAG_SINGLE,
        "decp_tags_pair": list(rules.TAGS_PAIR),
        "decp_accepted_licenses": list(rules.ACCEPTED_LICENSES),
        "decp_unset_frequencies": list(rules.UNSET_FREQUENCIES),
        "decp_resource_title_pattern": rules.RESOURCE_TITLE_PATTERN,
        "decp_resource_file_pattern": rules.RESOURCE_FILE_PATTERN,
        "decp_name_date_tolerance_days": rules.NAME_DATE_TOLERANCE_DAYS,
    }
    values.update({f"decp_reason_{code}": text for code, text in rules.REASONS.items()})
    for name, value in values.items():
        _set(con, name, value)
    con.execute(
        "SET VARIABLE decp_expected_mime = MAP(CAST(? AS VARCHAR[]), CAST(? AS VARCHAR[]))",
        [list(rules.EXPECTED_MIME), list(rules.EXPECTED_MIME.values())],
    )
    con.execute(
        "SET VARIABLE decp_convention_start = MAP(CAST(? AS VARCHAR[]), CAST(? AS DATE[]))",
        [list(rules.CONVENTION_START), list(rules.CONVENTION_START.values())],
    )
    registered = con.execute("SELECT count(*) > 0 FROM declarations").fetchone()[0]
    _set(con, "decp_register_loaded", bool(registered))
    return {"window_start": window_start, "stale_since": stale_since}


def _label_rows() -> list[tuple]:
    rows: list[tuple] = []
    rows += [("rule", r.code, r.label, r.reference, None) for r in RULES.values()]
    rows += [("status", code, label, None, None) for code, label in STATUS_LABELS.items()]
    rows += [("verdict", code, label, None, vocabulary.SEVERITY_RANK[code]) for code, label in VERDICT_LABELS.items()]
    rows += [("check", code, label, None, None) for code, label in rules.CHECK_LABELS.items()]
    rows += [("check_message", code, ok, ko, None) for code, (ok, ko) in rules.CHECK_MESSAGES.items()]
    rows += [("observed_source", code, label, None, None) for code, label in rules.OBSERVED_SOURCE_LABELS.items()]
    rows += [("buyer_kind", code, label, None, None) for code, label in kinds.KIND_LABELS.items()]
    return rows


def _create_labels(con) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE compliance_vocabulary "
        "(vocabulary VARCHAR, code VARCHAR, label VARCHAR, reference VARCHAR, rank INTEGER)"
    )
    con.executemany("INSERT INTO compliance_vocabulary VALUES (?, ?, ?, ?, ?)", _label_rows())
    # The same labels as maps, for contracts.sql to look up after its sort (a join there would
    # carry the long labels through the sort of every contract).
    for name, kind in (("decp_rule_labels", "rule"), ("decp_status_labels", "status")):
        con.execute(f"SET VARIABLE {name} = (SELECT coalesce(map(list(code), list(label)), MAP {{}}) "
                    "FROM compliance_vocabulary WHERE vocabulary = ?)", [kind])


def _drop_view_or_table(con, name: str) -> None:
    kind = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND database_name = current_database() "
        "AND schema_name = 'main' UNION ALL "
        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND database_name = current_database() "
        "AND schema_name = 'main'",
        [name, name],
    ).fetchone()
    if kind:
        con.execute(f"DROP {kind[0]} {name}")  # name is one of this module's constants


def _fill_siret_problems(con) -> None:
    """French explanation for each invalid SIRET (few rows: only the invalid ones)."""
    con.execute("CREATE OR REPLACE TEMP TABLE siret_problems (buyer_siret VARCHAR, problem VARCHAR)")
    invalid = [row[0] for row in con.execute(
        "SELECT buyer_siret FROM buyer_universe WHERE NOT siret_valid").fetchall()]
    if not invalid:
        return
    problems = [siret.siret_problem(s) for s in invalid]
    con.execute("INSERT INTO siret_problems SELECT unnest(CAST($sirets AS VARCHAR[])), unnest(CAST($problems AS VARCHAR[]))",
                {"sirets": invalid, "problems": problems})


def _install_register(con) -> None:
    """What buyer_register.sql reads besides the register table (empty for a version built before it)."""
    from decp_monitor.register.apply import create_reference_tables
    from decp_monitor.register.search import sql_macro

    create_reference_tables(con)
    con.execute(sql_macro())
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'register'").fetchone()[0]
    if not present:
        con.execute("CREATE TEMP TABLE register AS SELECT * FROM (SELECT NULL::VARCHAR AS siret, NULL::VARCHAR AS siren, "
                    "NULL::BOOLEAN AS found, NULL::VARCHAR AS name, NULL::VARCHAR AS legal_name, "
                    "NULL::VARCHAR AS categorie_juridique, NULL::VARCHAR AS categorie_juridique_label, "
                    "NULL::VARCHAR AS kind, NULL::VARCHAR AS state, NULL::DATE AS closed_on, "
                    "NULL::VARCHAR AS legal_state, NULL::VARCHAR AS commune_code, NULL::VARCHAR AS commune_name, "
                    "NULL::VARCHAR AS departement, NULL::VARCHAR AS region, NULL::VARCHAR AS head_office_siret, "
                    "NULL::BOOLEAN AS is_head_office, NULL::BOOLEAN AS non_diffusible, NULL::VARCHAR AS source, "
                    "NULL::TIMESTAMP AS fetched_at, NULL::VARCHAR AS data_name, NULL::VARCHAR AS data_name_source, "
                    "NULL::VARCHAR AS data_departement) WHERE FALSE")


def _meta_months(con, key: str, default: int) -> int:
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    except Exception:  # a database without meta: the default
        row = None
    try:
        return int(row[0]) if row and row[0] else default
    except ValueError:
        return default


def compute(con, as_of: DateLike = None, window_months: Optional[int] = None,
            stale_months: Optional[int] = None) -> dict:
    """Rebuild every compliance table on `con` (a writable connection); returns the parameters used.

    Parameters not given come from the version's meta (a load's --window-months, a recomputation
    of a published version), else from rules.py.
    """
    as_of_date = resolve_as_of(con, as_of)
    if window_months is None:
        window_months = _meta_months(con, "window_months", rules.DEFAULT_WINDOW_MONTHS)
    if stale_months is None:
        stale_months = _meta_months(con, "stale_months", rules.DEFAULT_STALE_MONTHS)
    if window_months < 1 or stale_months < 1:
        raise ValueError("window_months and stale_months must be at least 1")
    derived = _set_parameters(con, as_of_date, window_months, stale_months)
    _create_labels(con)
    _drop_view_or_table(con, "contract_compliance")
    siret.install_sql(con)
    _install_register(con)
    for name in PIPELINE:
        if name == "buyers.sql":
            _fill_siret_problems(con)
        con.execute(_sql(name))
    params = {
        "as_of": as_of_date.isoformat(),
        "window_start": derived["window_start"].isoformat(),
        "window_months": str(int(window_months)),
        "stale_months": str(int(stale_months)),
    }
    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(params.items()))
    return params


def recomputed_connection(store, as_of: Optional[dt.date], window_months: Optional[int] = None,
                           stale_months: Optional[int] = None) -> duckdb.DuckDBPyConnection:
    """An in-memory database reading the published version, with compliance computed at `as_of`
    (and over other periods when given; the published ones otherwise)."""
    version = store.current()
    con = duckdb.connect()
    con.execute("ATTACH ? AS published (READ_ONLY)", [str(version.path)])
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta SELECT key, value FROM published.meta")
    # Unqualified reads fall through to the published version; new tables go to memory.
    con.execute("SET search_path = 'memory.main,published.main'")
    compute(con, as_of=as_of, window_months=window_months, stale_months=stale_months)
    return con


def buyer_status(con, siret: str) -> Optional[dict]:
    """One buyer's row of buyer_compliance as a dict (None when the SIRET is unknown)."""
    cur = con.execute("SELECT * FROM buyer_compliance WHERE buyer_siret = ?", [siret])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))
