"""Batched writes of reader output into a version being built.

Rows are gathered column by column and handed to DuckDB as Arrow tables: one INSERT per few
tens of thousands of rows instead of one per row.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Optional

import pyarrow as pa

from decp_monitor.core import findings as finding_codes
from decp_monitor.core.model import Declaration, Finding, Record

BATCH_ROWS = 50_000

RECORD_SCHEMA = pa.schema([
    ("record_id", pa.int64()), ("source_file", pa.string()), ("resource_id", pa.string()),
    ("position", pa.int32()), ("format", pa.string()), ("kind", pa.string()),
    ("buyer_siret", pa.string()), ("buyer_name", pa.string()), ("contract_id", pa.string()),
    ("uid", pa.string()), ("nature", pa.string()), ("objet", pa.string()),
    ("procedure", pa.string()), ("cpv", pa.string()), ("amount", pa.float64()),
    ("duration_months", pa.int32()), ("notification_date", pa.date32()),
    ("start_date", pa.date32()), ("publication_date", pa.date32()),
    ("notification_date_raw", pa.string()), ("publication_date_raw", pa.string()),
    ("place_code", pa.string()), ("place_type", pa.string()), ("place_name", pa.string()),
    ("holders", pa.string()), ("modification_count", pa.int32()),
])
MODIFICATION_SCHEMA = pa.schema([
    ("record_id", pa.int64()), ("position", pa.int32()), ("modification_id", pa.string()),
    ("notification_date", pa.date32()), ("publication_date", pa.date32()),
    ("amount", pa.float64()), ("duration_months", pa.int32()), ("objet", pa.string()),
])
FINDING_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("resource_id", pa.string()), ("position", pa.int32()),
    ("field", pa.string()), ("code", pa.string()), ("severity", pa.string()),
    ("message", pa.string()), ("value", pa.string()), ("buyer_siret", pa.string()),
    ("contract_id", pa.string()),
])
DECLARATION_SCHEMA = pa.schema([
    ("siret", pa.string()), ("siret_raw", pa.string()), ("url_profil_acheteur", pa.string()),
    ("url_dcat", pa.string()), ("coordonnees", pa.string()), ("source_file", pa.string()),
    ("resource_id", pa.string()), ("line", pa.int32()),
])
# Which reader read each DECP file: one row per file, so thousands per refresh. Buffered like
# the rest: one INSERT per file cost ~3 ms (a commit each) in a refresh of small files.
FILE_READER_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("resource_id", pa.string()), ("reader", pa.string()),
    ("reason", pa.string()),
])

_INT32_MAX = 2**31 - 1
# DuckDB column type -> Arrow type of the catalogue tables (insert_dicts); anything else is text.
_ARROW_TYPES = {
    "VARCHAR": pa.string(), "JSON": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"), "VARCHAR[]": pa.list_(pa.string()),
    "DOUBLE": pa.float64(), "DATE": pa.date32(),
}


def _int32(value: Optional[int]) -> Optional[int]:
    # An absurd duration ("dureeMois": 99999999999) must not abort the batch: the reader has
    # already reported it, the column keeps NULL.
    if value is None or not (-_INT32_MAX <= value <= _INT32_MAX):
        return None
    return value


class _Columns:
    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.columns: list[list] = [[] for _ in schema]

    def append(self, row: tuple) -> None:
        for column, value in zip(self.columns, row):
            column.append(value)

    def __len__(self) -> int:
        return len(self.columns[0])

    def take(self) -> pa.Table:
        table = pa.Table.from_arrays(
            [pa.array(col, type=field.type) for col, field in zip(self.columns, self.schema)],
            schema=self.schema,
        )
        self.columns = [[] for _ in self.schema]
        return table


class BatchWriter:
    def __init__(self, con, batch_rows: int = BATCH_ROWS):
        self.con = con
        self.batch_rows = batch_rows
        self.next_record_id = 0
        self._buffers = {
            "records": _Columns(RECORD_SCHEMA),
            "record_modifications": _Columns(MODIFICATION_SCHEMA),
            "findings": _Columns(FINDING_SCHEMA),
            "declarations": _Columns(DECLARATION_SCHEMA),
            "file_readers": _Columns(FILE_READER_SCHEMA),
        }
        self.counts = {name: 0 for name in self._buffers}

    def add(self, item, resource_id: Optional[str] = None) -> None:
        if isinstance(item, Record):
            self.add_record(item, resource_id)
        elif isinstance(item, Finding):
            self.add_finding(item, resource_id)
        elif isinstance(item, Declaration):
            self.add_declaration(item, resource_id)
        else:
            raise TypeError(f"cannot store {type(item).__name__}")

    def add_record(self, r: Record, resource_id: Optional[str] = None) -> int:
        record_id = self.next_record_id
        self.next_record_id += 1
        self._buffers["records"].append((
            record_id, r.source_file, resource_id, _int32(r.position), r.format, r.kind,
            r.buyer_siret, r.buyer_name, r.contract_id, r.uid, r.nature, r.objet, r.procedure,
            r.cpv, r.amount, _int32(r.duration_months), r.notification_date, r.start_date,
            r.publication_date, r.notification_date_raw, r.publication_date_raw, r.place_code,
            r.place_type, r.place_name,
            json.dumps(r.holders, ensure_ascii=False) if r.holders else None,
            len(r.modifications),
        ))
        mods = self._buffers["record_modifications"]
        for m in r.modifications:
            mods.append((
                record_id, _int32(m.position), m.modification_id, m.notification_date,
                m.publication_date, m.amount, _int32(m.duration_months), m.objet,
            ))
        self._maybe_flush()
        return record_id

    def add_finding(self, f: Finding, resource_id: Optional[str] = None) -> None:
        self._buffers["findings"].append((
            f.source_file, resource_id, _int32(f.position), f.field, f.code,
            finding_codes.severity(f.code), f.message, f.value, f.buyer_siret, f.contract_id,
        ))
        self._maybe_flush()

    def add_declaration(self, d: Declaration, resource_id: Optional[str] = None) -> None:
        self._buffers["declarations"].append((
            d.siret, d.siret_raw, d.url_profil_acheteur, d.url_dcat, d.coordonnees,
            d.source_file, resource_id, _int32(d.line),
        ))
        self._maybe_flush()

    def add_file_reader(self, source_file: str, resource_id: Optional[str], reader: str,
                        reason: Optional[str]) -> None:
        self._buffers["file_readers"].append((source_file, resource_id, reader, reason))
        self._maybe_flush()

    def insert_dicts(self, table: str, rows: Iterable[dict]) -> None:
        """Insert rows given as dicts (catalogue metadata: many columns, up to thousands of rows
        per dataset) as one Arrow table: one INSERT, never a statement per row."""
        rows = list(rows)
        if not rows:
            return
        columns = self.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = $table "
            "AND database_name = current_database() AND schema_name = current_schema() ORDER BY column_index",
            {"table": table},
        ).fetchall()
        unknown = set().union(*rows) - {name for name, _ in columns}
        if unknown:
            raise ValueError(f"unknown columns for {table}: {sorted(unknown)}")
        arrays = []
        for name, sql_type in columns:
            values = [row.get(name) for row in rows]
            if sql_type == "JSON":
                values = [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for v in values]
            arrays.append(pa.array(values, type=_ARROW_TYPES.get(sql_type, pa.string())))
        batch = pa.Table.from_arrays(arrays, names=[name for name, _ in columns])  # noqa: F841 - read by DuckDB
        self.con.execute(f"INSERT INTO {table} SELECT * FROM batch")

    def _maybe_flush(self) -> None:
        if any(len(b) >= self.batch_rows for b in self._buffers.values()):
            self.flush()

    def flush(self) -> None:
        for table, buffer in self._buffers.items():
            if not len(buffer):
                continue
            self.counts[table] += len(buffer)
            batch = buffer.take()  # noqa: F841 - read by DuckDB's replacement scan
            self.con.execute(f"INSERT INTO {table} SELECT * FROM batch")
