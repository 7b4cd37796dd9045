"""Export documented tables and views, filtered, as CSV, French-Excel CSV, XLSX or Parquet.

Everything streams: the query runs in DuckDB and comes back as Arrow record batches, written one
batch at a time, so an export of the whole contracts table never sits in memory at once. DuckDB's
own `COPY … TO` is not used because exports read the published version through a read-only
connection (and the SQL console forbids file access altogether).

Format decisions (documented for users in `FORMATS`):
- csv: UTF-8 without BOM, `,`, ISO dates, `.` decimals, booleans true/false.
- csv-fr: UTF-8 with BOM, `;`, decimal comma, dates dd/mm/yyyy (what French Excel parses as dates
  on opening), booleans VRAI/FAUX.
- xlsx: typed cells (numbers, dates, booleans), bold filled frozen header; at most 1 048 575 data rows.
- parquet: the table's own types.
Lists (e.g. `reasons`) become text joined with " | " in CSV and XLSX.

Formula-injection guard (CSV and XLSX): a text cell from the data starting with = + - @ tab or CR
gets a leading apostrophe, so a spreadsheet shows it as text instead of evaluating it. Only text
columns are touched: a negative number stays a number. Column names get the same guard (a console
alias is user text).

`export --out` never writes inside the data directory (`check_output_path`), never overwrites an
existing file without `--force`, and writes a temporary file created exclusively (random name,
O_EXCL, in the target folder: a symlink planted there is never followed) before renaming it.

XLSX cannot hold the control characters U+0000-U+0008, U+000B, U+000C and U+000E-U+001F (openpyxl
refuses the whole file): they are removed from text cells and column names, before the guard.

`--as-of D` on a compliance table (compliance.TABLES) exports the verdicts and statuses as judged
on D: the compliance tables are recomputed in memory over the published version, read-only, by the
same engine as `status --as-of` (`connect_for_export`).
"""
from __future__ import annotations

import datetime as dt
import errno
import io
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Optional

import duckdb
import pyarrow as pa

from decp_monitor import compliance
from decp_monitor.core import vocabulary
from decp_monitor.core.dates import parse_iso_date
from decp_monitor.read.headers import french_header

# Documented exportable tables and views (docs/ and COMPLIANCE_CONTRACT.md); anything else in the

# Documented exportable tables and views (docs/ and COMPLIANCE_CONTRACT.md); anything else in the
# database (internal helpers, temporary tables) is not exportable.
DOCUMENTED_TABLES: dict[str, str] = {
    "buyer_compliance": "verdict de conformité par acheteur (SIRET)",
    "contract_compliance": "statut de publication de chaque contrat",
    "modification_compliance": "statut de publication de chaque modification",
    "dataset_conformance": "contrôles de conformité des jeux de données",
    "resource_conformance": "contrôles de conformité des fichiers publiés",
    "overview_monthly": "synthèse mensuelle par plateforme",
    "contracts": "contrats consolidés (republications fusionnées)",
    "modifications": "modifications consolidées",
    "records": "enregistrements lus dans les fichiers",
    "findings": "anomalies relevées à la lecture",
    "datasets": "jeux de données data.gouv.fr",
    "resources": "fichiers publiés sur data.gouv.fr",
    "declarations": "déclarations des profils d'acheteur",
    "sightings": "premières observations des fichiers",
    "refreshes": "historique des chargements",
    "meta": "paramètres de la version de la base",
}

FORMATS: dict[str, str] = {
    "csv": "CSV standard (UTF-8, séparateur virgule, dates ISO)",
    "csv-fr": "CSV pour Excel en français (UTF-8 avec BOM, point-virgule, virgule décimale, dates jj/mm/aaaa)",
    "xlsx": "classeur Excel (colonnes typées, en-tête figé ; 1 048 575 lignes au plus)",
    "parquet": "Parquet (types d'origine, recommandé pour les gros volumes)",
}
EXTENSIONS = {"csv": "csv", "csv-fr": "csv", "xlsx": "xlsx", "parquet": "parquet"}
MIME_TYPES = {
    "csv": "text/csv",
    "csv-fr": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}

EXCEL_MAX_DATA_ROWS = 1_048_576 - 1  # one row is the header
BATCH_ROWS = 64_000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_REGEX = r"^[=+\-@\t\r]"
# Characters an XLSX cell cannot hold (same set as openpyxl's ILLEGAL_CHARACTERS_RE), as an RE2
# class for DuckDB and as a Python pattern for the header.
_XLSX_ILLEGAL_REGEX = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_XLSX_ILLEGAL = re.compile(_XLSX_ILLEGAL_REGEX)

# Filter name -> candidate columns, first present wins.
SIRET_COLUMNS = ("buyer_siret", "siret", "extras_siret")
VERDICT_COLUMNS = ("verdict", "status")
# The codes each of those columns can hold, with their French labels (what --verdict accepts).
VERDICT_VOCABULARIES: dict[str, tuple[str, dict[str, str]]] = {
    "verdict": ("Verdict", vocabulary.VERDICT_LABELS),
    "status": ("Statut", vocabulary.STATUS_LABELS),
}
DATE_COLUMNS = ("notification_date",)


class ExportError(ValueError):
    """An export that cannot be made; the message is French and shown as is."""


class TooManyRowsForExcel(ExportError):
    pass


# -- catalogue -----------------------------------------------------------------------------------


def exportable_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """Documented tables/views present in this database, with their (column, type) in order."""
    # A connection recomputed as of a date (connect_for_export) sees a table both in memory and in
    # the attached published version: the current database's copy is the one a query reads.
    rows = con.execute(
        """
        SELECT table_name, table_catalog, column_name, data_type
        FROM information_schema.columns
        WHERE table_schema = 'main' AND table_catalog NOT IN ('system', 'temp')
          AND table_name IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY table_name, table_catalog <> current_database(), table_catalog, ordinal_position
        """,
        [list(DOCUMENTED_TABLES)],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    catalogs: dict[str, str] = {}
    for table, catalog, column, dtype in rows:
        if catalogs.setdefault(table, catalog) == catalog:
            tables.setdefault(table, []).append((column, dtype))
    return {name: tables[name] for name in DOCUMENTED_TABLES if name in tables}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _first_present(columns: Sequence[str], candidates: Sequence[str]) -> Optional[str]:
    return next((c for c in candidates if c in columns), None)


def _parse_date(value, flag: str) -> Optional[dt.date]:
    try:
        return parse_iso_date(value)
    except ValueError:
        raise ExportError(f"{flag} : date invalide « {value} » (format attendu AAAA-MM-JJ).") from None


def build_query(con, table: str, filters: Optional[dict] = None) -> tuple[str, list]:
    """SELECT over an allowed table with parameterised filters; refuses unknown tables and filters
    the table cannot honour (silently ignoring --siret would export everybody)."""
    tables = exportable_tables(con)
    if table not in tables:
        known = ", ".join(tables) or "aucune"
        raise ExportError(f"Table inconnue ou non exportable : « {table} ». Tables disponibles : {known}.")
    columns = [c for c, _ in tables[table]]
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}
    where: list[str] = []
    params: list[object] = []

    def need(candidates, flag):
        column = _first_present(columns, candidates)
        if column is None:
            raise ExportError(f"Le filtre {flag} ne s'applique pas à la table « {table} » (colonne absente).")
        return _quote(column)

    if "siret" in filters:
        where.append(f"{need(SIRET_COLUMNS, '--siret')} = ?")
        params.append(str(filters["siret"]).replace(" ", ""))
    if "verdict" in filters:
        values = filters["verdict"]
        values = [values] if isinstance(values, str) else list(values)
        column = need(VERDICT_COLUMNS, '--verdict')
        if table in compliance.TABLES:  # the vocabularies below are the compliance engine's
            present = _first_present(columns, VERDICT_COLUMNS)
            assert present is not None  # need() refused a table without one
            values = _check_verdicts(present, values, table)
        where.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
        params.append(values)
    for key, flag, op in (("date_from", "--from", ">="), ("date_to", "--to", "<=")):
        if key in filters:
            where.append(f"{need(DATE_COLUMNS, flag)} {op} ?")
            params.append(_parse_date(filters[key], flag))
    if "as_of" in filters:
        as_of = _parse_date(filters["as_of"], "--as-of")
        assert as_of is not None  # empty filters were dropped above
        if table in compliance.TABLES:
            # Judged as of D only if this connection's compliance tables were computed as of D.
            assessed = _assessed_as_of(con)
            if assessed != as_of.isoformat():
                raise ExportError(
                    f"--as-of {as_of.isoformat()} : la conformité de cette connexion est évaluée au "
                    f"{assessed or '(date inconnue)'} ; ouvrez-la avec connect_for_export(store, "
                    f"« {table} », as_of) pour l'évaluer à cette date."
                )
        if table not in compliance.TABLES or _first_present(columns, DATE_COLUMNS):
            # As of D, the contracts notified after D are not known yet.
            where.append(f"{need(DATE_COLUMNS, '--as-of')} <= ?")
            params.append(as_of)
    sql = f"SELECT * FROM {_quote(table)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params


def _check_verdicts(column: str, values: list, table: str) -> list[str]:
    """The requested codes, or a French refusal listing the accepted ones (an unknown code would
    silently export nothing)."""
    noun, labels = VERDICT_VOCABULARIES[column]
    cleaned = [str(v).strip() for v in values]
    unknown = [v for v in cleaned if v not in labels]
    if unknown:
        accepted = ", ".join(f"{code} ({label})" for code, label in labels.items())
        shown = ", ".join(f"« {v} »" for v in unknown)
        raise ExportError(
            f"{noun} inconnu pour la table « {table} » : {shown}. Valeurs acceptées pour --verdict "
            f"(colonne {column}) : {accepted}."
        )
    return cleaned


def _assessed_as_of(con) -> Optional[str]:
    """The assessment date the connection's compliance tables were computed at (meta as_of)."""
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'as_of'").fetchall()
    except duckdb.Error:
        return None
    return rows[0][0][:10] if rows and rows[0][0] else None


def connect_for_export(store, table: str, as_of=None) -> Optional[duckdb.DuckDBPyConnection]:
    """A read-only view of the published version to export `table` from (None: nothing published).

    With `as_of` on a compliance table, when the version was assessed on another date, the
    compliance tables are recomputed in memory as of that date, exactly as `status --as-of` does.
    """
    as_of_date = _parse_date(as_of, "--as-of")
    con = store.connect()
    if con is None or as_of_date is None or table not in compliance.TABLES:
        return con
    if _assessed_as_of(con) == as_of_date.isoformat():
        return con
    con.close()
    from decp_monitor.compliance import recomputed_connection  # shared with `status --as-of`

    return recomputed_connection(store, as_of_date)


# -- projection for text formats -----------------------------------------------------------------


def _describe(con, sql: str, params: list) -> list[tuple[str, str]]:
    rel = con.execute(f"DESCRIBE {sql}", params).fetchall()
    return [(r[0], r[1]) for r in rel]


# Decimals kept in text and spreadsheet formats: enough for any amount or rate, and no binary noise
# (45000.5 * 1.1 is 49500.55000000001 as a double; « 50,800000000000004 » read as a defect).
DECIMALS = 6
# The formats a person opens: French headers (read/headers.py) and French dates.
FRENCH_FORMATS = ("csv-fr", "xlsx")


def _headers(columns: list[tuple[str, str]], fmt: str) -> list[str]:
    """Output header of each column: French for the French formats, unique either way."""
    if fmt not in FRENCH_FORMATS:
        return [name for name, _ in columns]
    out: list[str] = []
    for name, _ in columns:
        header = french_header(name)
        out.append(header if header not in out else f"{header} ({name})")
    return out


def _text_projection(columns: list[tuple[str, str]], fmt: str) -> str:
    """Per-column SQL turning the data into what the text/spreadsheet format needs."""
    parts = []
    for (name, dtype), header in zip(columns, _headers(columns, fmt)):
        col = _quote(name)
        upper = dtype.upper()
        if upper.endswith("[]") or upper.startswith(("STRUCT", "MAP", "UNION")):
            expr = f"array_to_string({col}, ' | ')" if upper.endswith("[]") else f"CAST({col} AS VARCHAR)"
            expr = _text(expr, fmt)
        elif upper in ("VARCHAR", "TEXT", "STRING", "UUID", "JSON") or upper.startswith("ENUM"):
            expr = _text(f"CAST({col} AS VARCHAR)", fmt)
        elif fmt == "csv-fr" and (upper in ("DOUBLE", "FLOAT", "REAL") or upper.startswith("DECIMAL")):
            expr = f"replace(CAST(round(CAST({col} AS DOUBLE), {DECIMALS}) AS VARCHAR), '.', ',')"
        elif upper in ("DOUBLE", "FLOAT", "REAL"):
            expr = f"round({col}, {DECIMALS})"
        elif fmt == "csv-fr" and upper == "DATE":
            expr = f"strftime({col}, '%d/%m/%Y')"
        elif fmt == "csv-fr" and upper.startswith("TIMESTAMP"):
            expr = f"strftime({col}, '%d/%m/%Y %H:%M:%S')"
        elif fmt == "csv-fr" and upper == "BOOLEAN":
            expr = f"CASE WHEN {col} THEN 'VRAI' WHEN NOT {col} THEN 'FAUX' END"
        elif fmt == "xlsx" and upper.startswith("DECIMAL"):
            expr = f"CAST({col} AS DOUBLE)"
        elif fmt == "xlsx" and upper.startswith("TIMESTAMP"):
            # Excel has no time zones: written as naive local timestamps.
            expr = f"CAST({col} AS TIMESTAMP)"
        elif upper in ("BLOB", "INTERVAL", "TIME", "BIT") or upper.startswith("TIME WITH"):
            expr = f"CAST({col} AS VARCHAR)"
        else:
            expr = col
        # The header is a cell too: a column named "=HYPERLINK(…)" (a console alias) gets the guard.
        header = _XLSX_ILLEGAL.sub("", header) if fmt == "xlsx" else header
        parts.append(f"{expr} AS {_quote(neutralise(header))}")
    return ", ".join(parts)


def _parquet_projection(columns: list[tuple[str, str]]) -> str:
    """The columns as they are, but INTERVAL as text ("1 year 2 days"): Arrow has no Parquet type
    for DuckDB's intervals (month, day, nanosecond), and the console's age() or date arithmetic
    gives them."""
    return ", ".join(f"CAST({_quote(name)} AS VARCHAR) AS {_quote(name)}" if dtype.upper() == "INTERVAL"
                     else _quote(name) for name, dtype in columns)


def _text(expr: str, fmt: str) -> str:
    """A text cell: control characters XLSX cannot hold removed (xlsx only), then the formula guard."""
    if fmt == "xlsx":
        expr = f"regexp_replace({expr}, '{_XLSX_ILLEGAL_REGEX}', '', 'g')"
    return _guarded(expr)


def _guarded(expr: str) -> str:
    return f"CASE WHEN regexp_matches({expr}, '{_FORMULA_REGEX}') THEN '''' || {expr} ELSE {expr} END"


def neutralise(value):
    """The formula guard for one Python value (used where no SQL runs)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# -- writers -------------------------------------------------------------------------------------


def _batches(con, sql: str, params: list) -> pa.RecordBatchReader:
    # con.sql(...).to_arrow_reader streams; the DB-API result's reader would copy every row first.
    return con.sql(sql, params=params or None).to_arrow_reader(BATCH_ROWS)


def _write_csv(reader: pa.RecordBatchReader, out: BinaryIO, fr: bool) -> int:
    import pyarrow.csv as pacsv

    if fr:
        out.write(b"\xef\xbb\xbf")
    options = pacsv.WriteOptions(delimiter=";" if fr else ",", include_header=True)
    rows = 0
    with pacsv.CSVWriter(out, reader.schema, write_options=options) as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _write_parquet(reader: pa.RecordBatchReader, out: BinaryIO) -> int:
    import pyarrow.parquet as pq

    rows = 0
    with pq.ParquetWriter(out, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _write_xlsx(reader: pa.RecordBatchReader, out: BinaryIO, sheet_title: str) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_title[:31] or "export")
    ws.freeze_panes = "A2"
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    header = []
    for name in reader.schema.names:
        cell = WriteOnlyCell(ws, value=neutralise(_XLSX_ILLEGAL.sub("", name)))
        cell.font, cell.fill = header_font, header_fill
        header.append(cell)
    ws.append(header)
    date_columns = {i for i, f in enumerate(reader.schema) if pa.types.is_date(f.type)}
    # openpyxl's default for a datetime is yyyy-mm-dd h:mm:ss: French day first, to the minute.
    time_columns = {i for i, f in enumerate(reader.schema) if pa.types.is_timestamp(f.type)}
    rows = 0
    for batch in reader:
        columns = [col.to_pylist() for col in batch.columns]
        for values in zip(*columns):
            row = []
            for i, value in enumerate(values):
                if i in date_columns and value is not None:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = "DD/MM/YYYY"
                    row.append(cell)
                elif i in time_columns and value is not None:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = "DD/MM/YYYY HH:MM"
                    row.append(cell)
                else:
                    row.append(value)
            ws.append(row)
        rows += batch.num_rows
    wb.save(out)
    return rows


def export_query(con, sql: str, params, fmt: str, out: BinaryIO, sheet_title: str = "export") -> int:
    """Stream the result of `sql` into `out` in `fmt`; returns the number of data rows written."""
    if fmt not in FORMATS:
        raise ExportError(f"Format inconnu : « {fmt} ». Formats : {', '.join(FORMATS)}.")
    if fmt == "xlsx":
        (count,) = con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
        if count > EXCEL_MAX_DATA_ROWS:
            raise TooManyRowsForExcel(
                f"Cet export compte {count:,} lignes".replace(",", "\u202f")
                + f" : Excel n'en accepte que {EXCEL_MAX_DATA_ROWS + 1:,} par feuille, en-tête compris.".replace(",", "\u202f")
                + " Choisissez le format CSV (Excel français) ou Parquet, qui n'ont pas cette limite,"
                " ou filtrez davantage."
            )
    if fmt != "parquet":
        projection = _text_projection(_describe(con, sql, params), fmt)
        sql = f"SELECT {projection} FROM ({sql})"
    else:
        columns = _describe(con, sql, params)
        if any(dtype.upper() == "INTERVAL" for _, dtype in columns):
            sql = f"SELECT {_parquet_projection(columns)} FROM ({sql})"
    reader = _batches(con, sql, params)
    if fmt == "parquet":
        return _write_parquet(reader, out)
    if fmt == "xlsx":
        return _write_xlsx(reader, out, sheet_title)
    return _write_csv(reader, out, fr=(fmt == "csv-fr"))


def export_table(con, table: str, fmt: str, out, filters: Optional[dict] = None) -> int:
    """Export a documented table, filtered, to `out` (a path or a binary file object)."""
    sql, params = build_query(con, table, filters)
    if isinstance(out, (str, Path)):
        path = Path(out)
        # O_CREAT | O_EXCL | O_NOFOLLOW with a random name beside the target: a symlink planted at a
        # predictable name (OUT.partial) is never followed; the rename replaces a link, not its target.
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                rows = export_query(con, sql, params, fmt, fh, sheet_title=table)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return rows
    return export_query(con, sql, params, fmt, out, sheet_title=table)


def check_output_path(out: str | os.PathLike, data_dir: str | os.PathLike, force: bool = False) -> Path:
    """Refuse, in French (ExportError), an export path inside the data directory (the published
    database, CURRENT, the cache: an export must never replace them) or naming an existing file
    without `force`. Symlinks are resolved for the data-directory check: a link into it is refused."""
    path = Path(out)
    data = Path(data_dir).resolve()
    target = path.resolve()  # follows links, also in the folders above
    if target == data or data in target.parents:
        raise ExportError(
            f"Export refusé : « {out} » est dans le répertoire de données « {data_dir} » (base publiée, "
            "pointeur CURRENT, cache) ; un export ne doit jamais y écrire. Choisissez un fichier ailleurs."
        )
    if os.path.lexists(path):
        if path.is_dir():
            raise ExportError(f"Export refusé : « {out} » est un dossier ; indiquez un nom de fichier.")
        if not force:
            raise ExportError(
                f"Export refusé : le fichier « {out} » existe déjà. Ajoutez --force pour le remplacer, "
                "ou choisissez un autre nom."
            )
    return path


def export_listing(con, listing, columns: Sequence[str], fmt: str, out: BinaryIO, sheet_title: str = "export") -> int:
    """Every row of a paged dashboard query's filtered result (a read.queries.Listing: the query
    and its filter), in its order, restricted to `columns`, streamed into `out`."""
    select = listing.select(con)
    projection = ", ".join(_quote(c) for c in columns) or "*"
    return export_query(con, f"SELECT {projection} FROM ({select.sql}) {select.order}", dict(select.params),
                        fmt, out, sheet_title=sheet_title)


def _dates_as_dates(df):
    """pandas holds a DATE column as datetime64: a column whose values are all at midnight goes
    back to dates, so that exports write « 19/09/2026 », not « 2026-09-19 00:00:00.000000 »."""
    import pandas as pd

    changes = {}
    for name in df.columns:
        column = df[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            values = column.dropna()
            if getattr(column.dt, "tz", None) is None and (values.dt.normalize() == values).all():
                changes[name] = column.dt.date.where(column.notna(), None)
    return df.assign(**changes) if changes else df


def export_dataframe(df, fmt: str, sheet_title: str = "export") -> bytes:
    """Bytes of a DataFrame in `fmt`, through the same writers (and guard) as table exports."""
    con = duckdb.connect()
    try:
        con.register("export_frame", _dates_as_dates(df))
        buffer = io.BytesIO()
        export_query(con, "SELECT * FROM export_frame", [], fmt, buffer, sheet_title=sheet_title)
        return buffer.getvalue()
    finally:
        con.close()


# -- writing to a path -------------------------------------------------------------------------


def write_problem(out: str, exc: OSError) -> str:
    """What went wrong writing the export, in French, with the path."""
    target = "la sortie standard" if out == "-" else f"« {out} »"
    if isinstance(exc, FileNotFoundError):
        reason = f"le dossier « {Path(out).parent} » n'existe pas ; créez-le ou choisissez un autre chemin"
    elif isinstance(exc, IsADirectoryError):
        reason = "c'est un dossier ; indiquez un nom de fichier"
    elif isinstance(exc, PermissionError):
        reason = "permission refusée ; choisissez un dossier où vous pouvez écrire"
    elif exc.errno == errno.ENOSPC:
        reason = "plus de place sur le disque"
    elif exc.errno == errno.EROFS:
        reason = "le disque est en lecture seule"
    else:
        reason = f"erreur du système (détail technique : {exc.strerror or exc})"
    return f"Impossible d'écrire l'export dans {target} : {reason}. Aucun fichier n'a été écrit."


def check_destination(out: str) -> None:
    """Refuse at once (before any query) a path whose folder is missing or that is a folder."""
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", out)
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", out)
