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
  watchdog thread calls con.interrupt() after the timeout; the result is streamed (Arrow batches)
  and cut at a row limit and at a byte limit.
- the query runs in a child process (`_serve_one`, one per query): DuckDB
  does not track every allocation (a few huge strings passed its memory limit at 6.9 GB) nor
  interrupt every operator (repeat() of 400 MB ran 47 s against a 10 s timeout). The child's
  private memory is capped by the kernel (RLIMIT_DATA); the serving process polls it and kills it
  (SIGKILL, its own process group) past the timeout plus a margin or past a resident-memory cap, and
  reads at most the byte budget back. The server's memory holds the bounded result only.
Error messages are French first; DuckDB's own (English) text follows only as a labelled
technical detail.
A fresh connection per query means a temporary table lives only for that query.
The only text check is parsing into statements, to accept exactly one.
"""
from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import duckdb

if TYPE_CHECKING:  # pandas is imported by the serving side only (the child process skips it)
    import pandas as pd

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_ROW_LIMIT = 10_000
# A result is cut at this many bytes (Arrow size) as well as at the row limit: 10 000 rows of
# 100 MB values would otherwise land in the dashboard's memory.
DEFAULT_BYTE_LIMIT = 32 * 1024 * 1024
BATCH_ROWS = 1024
# The child process: private memory capped (RLIMIT_DATA), killed if its resident memory passes the
# second figure anyway, or if it outlives the timeout by KILL_MARGIN_S (DuckDB does not interrupt
# a single huge repeat() or a list of them; the kill does).
CHILD_MEMORY_BYTES = 1024 * 1024 * 1024
CHILD_KILL_RSS_BYTES = 1100 * 1024 * 1024
KILL_MARGIN_S = 2.0
POLL_S = 0.02
MEMORY_EXIT = 3
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# The child imports this very file (not another installed copy of the package), without pandas.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
CHILD_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "from decp_monitor.read.console import _serve_one; sys.exit(_serve_one())")
ATTACHED_AS = "decp"
# Applied at connection time; the protections are SET after the ATTACH, then locked.
CONSOLE_CONFIG: dict[str, Any] = {
    "threads": 1,
    # Below the child's RLIMIT_DATA (CHILD_MEMORY_BYTES), so that DuckDB's own limit usually
    # speaks first, with its clean out-of-memory error.
    "memory_limit": "700MB",
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
    truncated_by: Optional[str] = None  # "lignes" or "octets": which limit cut the result
    child_peak_rss: Optional[int] = None  # bytes, the query process's peak (measured, for the record)

    @property
    def ok(self) -> bool:
        return self.error_fr is None


def connect_console(path: str | Path, config: Optional[dict[str, Any]] = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config=dict(CONSOLE_CONFIG if config is None else config))
    try:
        con.execute(f"ATTACH ? AS {ATTACHED_AS} (READ_ONLY)", [str(path)])
        con.execute(f"USE {ATTACHED_AS}")
        con.execute("SET enable_progress_bar = false")  # drawn on the terminal: nobody to see it
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
        return french_timeout(timeout)
    if isinstance(exc, duckdb.PermissionException):
        return ("Requête refusée : la console n'accède à aucun fichier, aucune adresse web, aucune autre base "
                "et n'installe ni ne charge d'extension. Interrogez les tables de la base (voir les exemples).")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return french_memory()
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
    byte_limit: int = DEFAULT_BYTE_LIMIT,
) -> ConsoleResult:
    """Run one query on the database file `path` under the console's protections, in a child
    process that is killed if it outlives the timeout or outgrows its memory (see the module doc)."""
    started = time.perf_counter()

    def failed(message: str, peak: Optional[int] = None) -> ConsoleResult:
        return ConsoleResult(None, False, time.perf_counter() - started, message, child_peak_rss=peak)

    if not sql or not sql.strip():
        return failed("Saisissez une requête SQL (par exemple l'une des requêtes d'exemple).")
    del failed
    request = json.dumps({
        "sql": sql, "path": str(path), "timeout": timeout, "row_limit": row_limit, "byte_limit": byte_limit,
        "config": CONSOLE_CONFIG, "memory_bytes": CHILD_MEMORY_BYTES,
    }).encode("utf-8")
    with tempfile.TemporaryFile() as errors:  # the child's stderr: its last line explains a crash
        return _run_child(request, errors, started, timeout, row_limit, byte_limit)


def _run_child(request: bytes, errors, started: float, timeout: float, row_limit: int,
               byte_limit: int) -> ConsoleResult:
    import pandas as pd
    import pyarrow.ipc as ipc

    def failed(message: str, peak: Optional[int] = None) -> ConsoleResult:
        return ConsoleResult(None, False, time.perf_counter() - started, message, child_peak_rss=peak)

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_CODE, str(_PACKAGE_ROOT)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
        start_new_session=True,  # its own process group: a kill reaches nothing else
    )
    # What the child may send: the byte budget plus the Arrow framing; more is a bug, stopped.
    cap = byte_limit + 1024 * 1024 + 64 * row_limit
    received = bytearray()
    overflow = threading.Event()

    def read_output() -> None:
        assert proc.stdout is not None
        while chunk := os.read(proc.stdout.fileno(), 1 << 20):
            if len(received) + len(chunk) > cap:
                overflow.set()
                _kill(proc)
                return
            received.extend(chunk)

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        assert proc.stdin is not None
        proc.stdin.write(request)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    deadline = started + timeout + KILL_MARGIN_S
    killed_for = None
    rusage = None
    try:
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if killed_for is None:
                if time.perf_counter() > deadline:
                    killed_for = "timeout"
                    _kill(proc)
                elif _rss(proc.pid) > CHILD_KILL_RSS_BYTES:
                    killed_for = "memory"
                    _kill(proc)
            time.sleep(POLL_S)
    finally:
        if proc.returncode is None:  # this thread was stopped (a Streamlit rerun): the query goes too
            _kill(proc)
            proc.wait()
    reader.join(timeout=5)
    peak = rusage.ru_maxrss * 1024 if rusage is not None else None
    if killed_for == "timeout":
        return failed(french_timeout(timeout), peak)
    if killed_for == "memory" or overflow.is_set():
        return failed(french_memory(), peak)
    head, _, body = bytes(received).partition(b"\n")
    try:
        answer = json.loads(head or b"{}")
    except ValueError:
        answer = {}
    if "error_fr" in answer:
        return failed(answer["error_fr"], peak)
    if not answer.get("ok"):
        # Killed by the kernel (RLIMIT_DATA) or crashed: no answer, only an exit status.
        if proc.returncode in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT) or proc.returncode == MEMORY_EXIT:
            return failed(french_memory(), peak)
        return failed(_with_detail(f"Requête en échec : le processus de la requête s'est arrêté (code {proc.returncode}).",
                                   _last_line(errors)), peak)
    if not answer.get("columns"):
        return ConsoleResult(pd.DataFrame(), False, time.perf_counter() - started, child_peak_rss=peak)
    df = _to_pandas(ipc.open_stream(body).read_all())
    df.columns = answer["columns"]  # duplicate names survive (Arrow keeps them, a dict would not)
    return ConsoleResult(df, bool(answer.get("truncated")), time.perf_counter() - started,
                         truncated_by=answer.get("truncated") or None, child_peak_rss=peak)


def _to_pandas(table) -> pd.DataFrame:
    """The DataFrame the console showed before it went through Arrow: HUGEINT (sum() of integers,
    exported as decimal(38, 0)) as integers when they fit, intervals as timedeltas (DuckDB's own
    conversion, a month counted 30 days) instead of pandas DateOffsets."""
    import datetime as dt

    import pyarrow as pa

    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_decimal(kind) and kind.scale == 0:
            try:
                column = column.cast(pa.int64())
            except pa.ArrowInvalid:
                pass  # beyond 64 bits: kept exact, as Decimal
        elif pa.types.is_interval(kind):
            column = pa.array([None if v is None else dt.timedelta(days=v.months * 30 + v.days,
                                                                     microseconds=v.nanoseconds // 1000)
                               for v in column.to_pylist()], pa.duration("us"))
        columns.append(column)
    return pa.Table.from_arrays(columns, names=[str(i) for i in range(len(columns))]).to_pandas()


def _last_line(errors) -> str:
    errors.seek(max(0, errors.seek(0, os.SEEK_END) - 4096))
    lines = [line for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def french_timeout(timeout: float) -> str:
    return (f"Requête arrêtée : elle dépassait la durée maximale de {timeout:g} secondes. "
            "Ajoutez un filtre (WHERE) ou une limite (LIMIT), ou agrégez davantage.")


def french_memory() -> str:
    return ("Requête arrêtée : elle demandait plus de mémoire que la console n'en accorde. "
            "Filtrez ou agrégez davantage.")


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _rss(pid: int) -> int:
    """Resident memory of a process (bytes), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


# -- the child process ---------------------------------------------------------------------------


def _serve_one() -> int:
    """Child side: read one request on stdin, answer on stdout (a JSON line, then Arrow IPC)."""
    request = json.loads(sys.stdin.buffer.read())
    limit = int(request["memory_bytes"])
    # Private memory (heap and anonymous maps) above this fails allocation: DuckDB raises its
    # out-of-memory error, Python a MemoryError; either way the query ends, the server does not.
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    # The answer goes through a copy of stdout; fd 1 itself now points to stderr, so that nothing
    # else (a progress bar, a library's print) can corrupt it.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        answer, table = _execute(request)
    except MemoryError:
        return MEMORY_EXIT
    out.write(json.dumps(answer).encode("utf-8") + b"\n")
    if table is not None:
        import pyarrow.ipc as ipc

        with ipc.new_stream(out, table.schema) as writer:
            writer.write_table(table)
    out.flush()
    return 0


def _execute(request: dict):
    import pyarrow as pa

    sql, timeout = request["sql"], float(request["timeout"])
    row_limit, byte_limit = int(request["row_limit"]), int(request["byte_limit"])
    try:
        con = connect_console(request["path"], request["config"])
    except duckdb.Error as exc:
        return {"error_fr": _with_detail("Base indisponible : la version publiée ne peut pas être ouverte.",
                                         technical_detail(exc))}, None
    watchdog = threading.Timer(timeout, con.interrupt)
    watchdog.daemon = True
    try:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            return {"error_fr": explain_error(exc, timeout)}, None
        if len(statements) != 1:
            return {"error_fr": "Une seule requête à la fois, s'il vous plaît (retirez les « ; » intermédiaires)."}, None
        watchdog.start()
        try:
            relation = con.sql(sql)
            if relation is None:
                return {"ok": True, "columns": []}, None
            columns = list(relation.columns)
            reader = relation.to_arrow_reader(BATCH_ROWS)
            batches, rows, size, truncated = [], 0, 0, ""
            for batch in reader:
                batch, cut = _within(batch, row_limit - rows, byte_limit - size)
                batches.append(batch)
                rows += batch.num_rows
                size += batch.nbytes
                if cut:  # a batch after the limit is reached is cut to nothing: "lignes"
                    truncated = cut
                    break
        except (duckdb.Error, RuntimeError) as exc:
            return {"error_fr": explain_error(exc, timeout)}, None
        except (OSError, pa.ArrowException) as exc:
            # DuckDB's out-of-memory while filling an Arrow batch comes back through pyarrow.
            if "out of memory" in str(exc).lower():
                return {"error_fr": _with_detail(french_memory(), technical_detail(exc))}, None
            raise
        if truncated == "octets" and rows == 0:
            return {"error_fr": (
                f"Résultat trop volumineux : une seule ligne dépasse la taille maximale d'un résultat de la "
                f"console ({byte_limit // (1024 * 1024)} Mo). Sélectionnez moins de colonnes ou raccourcissez "
                "les valeurs (left(colonne, 1000)).")}, None
        table = pa.Table.from_batches(batches, schema=reader.schema)
        return {"ok": True, "columns": columns, "truncated": truncated}, table
    finally:
        watchdog.cancel()
        con.close()


def _within(batch, rows_left: int, bytes_left: int):
    """The longest prefix of `batch` within both budgets, and which one cut it ('' when none)."""
    cut = ""
    if batch.num_rows > rows_left:
        batch, cut = batch.slice(0, rows_left), "lignes"
    if batch.nbytes > bytes_left:
        low, high = 0, batch.num_rows  # the largest k with slice(0, k).nbytes <= bytes_left
        while low < high:
            middle = (low + high + 1) // 2
            if batch.slice(0, middle).nbytes <= bytes_left:
                low = middle
            else:
                high = middle - 1
        batch, cut = batch.slice(0, low), "octets"
    return batch, cut

