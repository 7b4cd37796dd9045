"""Download buttons under a dashboard table: CSV (Excel français), CSV, XLSX, Parquet.

The file is produced only when a button is clicked (st.download_button accepts a callable since
Streamlit 1.45-ish; 1.67 here), through the same writers and formula guard as the CLI export.
A page that shows one page of a large table passes an `ExportListing` (the paged query and its
filter) instead of the displayed DataFrame, so the download holds every matching row, not just the page.
Streamlit still needs the whole file as bytes in the server's memory at click time; for very large
exports the CLI (`python -m decp_monitor export`) writes straight to disk.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Optional, Union

import pandas as pd
import streamlit as st

from decp_monitor.dashboard import data
from decp_monitor.read.export import EXCEL_MAX_DATA_ROWS, EXTENSIONS, MIME_TYPES, export_dataframe, export_listing
from decp_monitor.read.queries import Listing

LABELS = {
    "csv-fr": "CSV (Excel français)",
    "csv": "CSV",
    "xlsx": "Excel (.xlsx)",
    "parquet": "Parquet",
}
HELP = {
    "csv-fr": "UTF-8 avec BOM, séparateur point-virgule, virgule décimale, dates jj/mm/aaaa : s'ouvre directement dans Excel.",
    "csv": "UTF-8, séparateur virgule, dates AAAA-MM-JJ : pour les scripts et les tableurs configurés en anglais.",
    "xlsx": "Classeur Excel, colonnes typées et en-tête figé.",
    "parquet": "Format colonnes typé, compact : pour Python, R, DuckDB.",
}


# What each file name says of its format: both CSV end in .csv, they must not overwrite each other.
NAME_SUFFIXES = {"csv-fr": "-excel-fr", "csv": "", "xlsx": "", "parquet": ""}


def file_name(basename: str, fmt: str, day: Optional[dt.date]) -> str:
    """`acheteurs-2026-09-30-excel-fr.csv`: the table, the date of the data, the format."""
    dated = f"{basename}-{day:%Y-%m-%d}" if day else basename
    return f"{dated}{NAME_SUFFIXES[fmt]}.{EXTENSIONS[fmt]}"


@dataclass(frozen=True)
class ExportListing:
    """Every row of a paged query's filtered result (read.queries.Listing) in a database version,
    exported when a button is clicked: the query runs again with the same filter, no SQL here."""

    version_key: str
    listing: Listing
    columns: tuple[str, ...]

    def to_bytes(self, fmt: str, sheet_title: str) -> bytes:
        buffer = io.BytesIO()
        export_listing(data.cursor(self.version_key), self.listing, self.columns, fmt, buffer,
                       sheet_title=sheet_title)
        return buffer.getvalue()


Source = Union[pd.DataFrame, ExportListing]


def _producer(source: Source, fmt: str, sheet_title: str):
    if isinstance(source, ExportListing):
        return lambda: source.to_bytes(fmt, sheet_title)
    return lambda: export_dataframe(source, fmt, sheet_title=sheet_title)


def download_buttons(source: Source, basename: str, *, total_rows: Optional[int] = None,
                     key: Optional[str] = None, day: Optional[dt.date] = None) -> None:
    """One button per format; nothing is generated until a click."""
    if source is None:
        return
    if total_rows is None:
        if isinstance(source, ExportListing):
            raise ValueError("download_buttons(ExportListing) needs total_rows (the Page's total)")
        total_rows = len(source)
    if total_rows == 0:
        return
    key = key or basename
    columns = st.columns(len(LABELS))
    for column, (fmt, label) in zip(columns, LABELS.items()):
        too_big = fmt == "xlsx" and total_rows > EXCEL_MAX_DATA_ROWS
        help_text = HELP[fmt]
        if too_big:
            help_text = (f"{total_rows:,} lignes : au-delà de la limite d'Excel ({EXCEL_MAX_DATA_ROWS + 1:,} lignes "
                         "par feuille). Choisissez CSV (Excel français) ou Parquet.").replace(",", "\u202f")
        with column:
            st.download_button(
                label,
                data=b"" if too_big else _producer(source, fmt, basename),
                file_name=file_name(basename, fmt, day),
                mime=MIME_TYPES[fmt],
                key=f"download_{key}_{fmt}",
                help=help_text,
                on_click="ignore",
                disabled=too_big,
                icon=":material/download:",
                width="stretch",
            )
    if total_rows > EXCEL_MAX_DATA_ROWS:
        st.caption("Trop de lignes pour Excel : téléchargez en CSV (Excel français) ou en Parquet.")
