"""Read-only SQL console engine.

Safety comes from DuckDB itself, not from inspecting the SQL text:
- the version file is attached READ_ONLY to a fresh in-memory database (the dashboard already holds
  a plain read-only connection on that file, and DuckDB refuses a second connection to the same
  file with a different configuration in one process): CREATE/INSERT/UPDATE/DROP on it fail;
  the in-memory scratch catalog only lives as long as the query's connection;
- enable_external_access = false: no file or URL access (read_csv, COPY … TO, ATTACH, EXPORT,
  glob, http://…), no INSTALL/LOAD of extensions;
- lock_configuration = true: SET/RESET/PRAGMA cannot undo the above;
- memory_limit and threads bound the resources, and temp_directory = '' forbids spilling to disk
  (an in-memory database would otherwise write temporary files under ./.tmp in the app's working
  directory): a query beyond the memory limit fails with a French out-of-memory message; a
  watchdog thread calls con.interrupt() after the timeout; the result is cut at a row limit
  (fetchmany).
Error messages are French first; DuckDB's own (English) text follows only as a labelled
technical detail.
A fresh connection per query means a temporary table lives only for that query.
The only text check is parsing into statements, to accept exactly one.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import duckdb
import pandas as pd

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_ROW_LIMIT = 10_000
ATTACHED_AS = "decp"
# Applied at connection time; the protections are SET after the ATTACH, then locked.
CONSOLE_CONFIG = {
    "threads": 1,
    "memory_limit": "1GB",
    "temp_directory": "",  # no spilling to disk: beyond memory_limit the query fails
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
}

EXAMPLE_QUERIES: dict[str, str] = {
    "Acheteurs en retard, les pires d'abord": (
        "SELECT buyer_siret, buyer_name, contracts_in_window, n_late, late_rate, verdict_label\n"
        "FROM buyer_compliance\nWHERE verdict = 'late'\nORDER BY severity_rank, late_rate DESC\nLIMIT 50"
    ),
    "Nombre d'acheteurs par verdict": (
        "SELECT verdict_label, count(*) AS acheteurs\nFROM buyer_compliance\nGROUP BY ALL\nORDER BY acheteurs DESC"
    ),
    "Délai médian de publication par année de notification": (
        "SELECT year(notification_date) AS annee, count(*) AS contrats,\n"
        "       median(delay_days) AS delai_median_jours\nFROM contract_compliance\n"
        "WHERE notification_date IS NOT NULL\nGROUP BY ALL\nORDER BY annee"
    ),
    "Contrats publiés le plus en retard": (
        "SELECT buyer_siret, contract_id, objet, notification_date, publication_date, days_late\n"
        "FROM contract_compliance\nWHERE status = 'late'\nORDER BY days_late DESC\nLIMIT 100"
    ),
    "Anomalies de lecture les plus fréquentes": (
        "SELECT code, count(*) AS nombre\nFROM findings\nGROUP BY ALL\nORDER BY nombre DESC"
    ),
    "Tables et colonnes disponibles": (
        "SELECT table_name, column_name, data_type\nFROM information_schema.columns\n"
        "WHERE table_catalog = current_database()\nORDER BY table_name, ordinal_position"
    ),
}


@dataclass
class ConsoleResult:
    df: Optional[pd.DataFrame]
    truncated: bool
    elapsed: float
    error_fr: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error_fr is None


def connect_console(path: str | Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config=dict(CONSOLE_CONFIG))
    try:
        con.execute(f"ATTACH ? AS {ATTACHED_AS} (READ_ONLY)", [str(path)])
        con.execute(f"USE {ATTACHED_AS}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def technical_detail(exc: BaseException) -> str:
    """DuckDB's own message (English), first line, for the labelled technical detail."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _with_detail(message: str, detail: str) -> str:
    if not detail:
        return message
    return f"{message}\n\nDétail technique (message de DuckDB, en anglais) : {detail}"


def french_message(exc: BaseException, timeout: float) -> str:
    """The French explanation alone, chosen from DuckDB's error class."""
    detail = technical_detail(exc)
    lower = detail.lower()
    if isinstance(exc, duckdb.InterruptException):
        return (f"Requête arrêtée : elle dépassait la durée maximale de {timeout:g} secondes. "
                "Ajoutez un filtre (WHERE) ou une limite (LIMIT), ou agrégez davantage.")
    if isinstance(exc, duckdb.PermissionException):
        return ("Requête refusée : la console n'accède à aucun fichier, aucune adresse web, aucune autre base "
                "et n'installe ni ne charge d'extension. Interrogez les tables de la base (voir les exemples).")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return ("Requête arrêtée : elle demandait plus de mémoire que la console n'en accorde. "
                "Filtrez ou agrégez davantage.")
    if isinstance(exc, duckdb.Error) and ("detach" in lower or "default database" in lower):
        return ("Requête refusée : la console ne peut pas détacher ni changer la base interrogée (DETACH). "
                "Interrogez directement ses tables (voir les exemples).")
    if isinstance(exc, duckdb.InvalidInputException) and "configuration" in lower:
        return ("Requête refusée : les réglages de la console sont verrouillés (SET, RESET et PRAGMA "
                "de réglage sont interdits).")
    if isinstance(exc, duckdb.InvalidInputException) and "read-only" in lower:
        return ("Requête refusée : la console est en lecture seule ; elle ne peut ni créer, ni modifier, "
                "ni supprimer de données. Utilisez SELECT.")
    if isinstance(exc, duckdb.ParserException):
        near = re.search(r'at or near "([^"]*)"', detail)
        where = f" près de « {near.group(1)} »" if near else ""
        return (f"Erreur de syntaxe SQL{where} : vérifiez les mots-clés, les virgules, les parenthèses "
                "et les guillemets.")
    if isinstance(exc, duckdb.CatalogException):
        return ("Table, colonne ou fonction inconnue (ou non disponible dans la console). "
                "La requête d'exemple « Tables et colonnes disponibles » les liste.")
    if isinstance(exc, duckdb.BinderException):
        column = re.search(r'column "([^"]*)" not found', detail)
        if column:
            return (f"Requête incorrecte : colonne « {column.group(1)} » introuvable dans les tables "
                    "de la clause FROM.")
        return ("Requête incorrecte (colonne ou expression) : une colonne, un type ou un appel de fonction "
                "ne convient pas ; ajoutez au besoin une conversion explicite (CAST).")
    if isinstance(exc, (duckdb.ConversionException, duckdb.OutOfRangeException)):
        return "Conversion de valeur impossible : une valeur ne peut pas être convertie dans le type demandé."
    if isinstance(exc, duckdb.Error):
        return "Requête refusée ou en échec."
    return f"Erreur inattendue ({type(exc).__name__})."


def explain_error(exc: BaseException, timeout: float) -> str:
    """The French explanation, then DuckDB's text as a labelled technical detail (none for a timeout)."""
    message = french_message(exc, timeout)
    if isinstance(exc, duckdb.InterruptException):
        return message
    return _with_detail(message, technical_detail(exc))


def run_query(
    sql: str,
    path: str | Path,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    row_limit: int = DEFAULT_ROW_LIMIT,
) -> ConsoleResult:
    """Run one query on the database file `path` under the console's protections."""
    started = time.perf_counter()

    def failed(message: str) -> ConsoleResult:
        return ConsoleResult(None, False, time.perf_counter() - started, message)

    if not sql or not sql.strip():
        return failed("Saisissez une requête SQL (par exemple l'une des requêtes d'exemple).")
    try:
        con = connect_console(path)
    except duckdb.Error as exc:
        return failed(_with_detail("Base indisponible : la version publiée ne peut pas être ouverte.",
                                   technical_detail(exc)))
    watchdog = threading.Timer(timeout, con.interrupt)
    watchdog.daemon = True
    try:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            return failed(explain_error(exc, timeout))
        if len(statements) != 1:
            return failed("Une seule requête à la fois, s'il vous plaît (retirez les « ; » intermédiaires).")
        watchdog.start()
        try:
            result = con.execute(sql)
            if result.description is None:
                return ConsoleResult(pd.DataFrame(), False, time.perf_counter() - started)
            columns = [d[0] for d in result.description]
            rows = result.fetchmany(row_limit + 1)
        except (duckdb.Error, RuntimeError) as exc:
            return failed(explain_error(exc, timeout))
        truncated = len(rows) > row_limit
        df = pd.DataFrame.from_records(rows[:row_limit], columns=columns)
        return ConsoleResult(df, truncated, time.perf_counter() - started)
    finally:
        watchdog.cancel()
        con.close()
