"""DECP XML through the SQL path: the records become 2019 JSON, json_sql normalises them.

    outcome = load_xml_sql(con, path, name, resource_id, first_record_id)
    if outcome.reason is None: outcome.records rows were written into records, record_modifications
                               and findings (as json_sql.load_json_sql does); outcome.findings are
                               the file-level findings left to the caller.
    else: nothing was written; outcome.reason says in French why the streaming reader must read it.

The file is walked exactly as the streaming reader walks it (xml_reader: lxml iterparse with its
safety settings, every record element at any depth, cleared once read), and each record becomes
the same raw dict (`xml_reader._to_dict`); but instead of the Python normaliser, Record and Finding
objects and Arrow batches, the dicts are written as JSON (one `json.dumps` per batch) to a
temporary file, and DuckDB reads and normalises that file through json_sql.load_json_sql: one
normalisation and one set of findings for JSON and XML. What is XML's own rides along in each
object and is applied in SQL after the load: the kind from the element's name ("_type"), the record
format ("_xml_format": xml-2024 when a field of schema 2.0 is present) and the `empty_element`
findings ("_xml_vides").

Measured before this design was chosen (BENCHMARKS.md, issue 13, 1 Dec 2026 evening): an XSLT
stylesheet (libxslt) writing the same JSON ran at 7 000-18 000 records/s, slower than this Python
walk (28 000 records/s): libxslt's cost per node exceeds lxml's.

The streaming reader stays the reference and the fallback: a file whose prologue it refuses or
reports (entities, unknown root…), that libxml2 cannot read to the end (truncation, encoding…),
that holds a record the JSON form cannot carry exactly (a "_type" field…), or that json_sql declines,
is read by it, with the reason (tests/test_xml_sql.py: same tables either way).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Optional

import duckdb
from lxml import etree

from decp_monitor.core import findings as finding_codes
from decp_monitor.parse import xml_reader
from decp_monitor.parse.json_sql import Outcome, load_json_sql

# Records per json.dumps call and write, and bytes of XML read at most between two writes: the
# raw dicts held at once stay a few MB whatever the records' size (a text node may be 10 MB).
BATCH = 2000
BATCH_BYTES = 8 << 20
# Below this size the streaming reader is as quick (per-publication files hold a few records).
MIN_XML_BYTES = 1 << 20
# Keys this module adds to a record's object: a record holding one of them is left to the reader.
_OWN_KEYS = ("_type", "_xml_format", "_xml_vides")
# Bytes json_sql's scan refuses anywhere in a file; in our JSON they can only be inside a string,
# where a \u escape of their first letter reads back as the same text.
_ESCAPES = ((b"NaN", b"\\u004eaN"), (b"Infinity", b"\\u0049nfinity"))


def _prologue_reason(path: Path) -> Optional[str]:
    """Why the streaming reader must read this file, judged on its first bytes as it does."""
    with open(path, "rb") as handle:
        head = handle.read(xml_reader.PROLOG_SCAN)
    if xml_reader._refuse_entities(head):
        return "DTD déclarant des entités"
    try:
        root_tag, reason = xml_reader._root_tag(head)
    except etree.XMLSyntaxError:
        return "prologue XML illisible"
    if reason:
        return "DTD déclarant des entités"
    if root_tag not in xml_reader.RECORD_TAGS and root_tag != "marches":
        return f"élément racine <{root_tag}>"
    return None


def _record_object(elem) -> Optional[dict]:
    """The raw dict the streaming reader gives the normaliser, plus what is XML's own."""
    empties: list[str] = []
    raw = xml_reader._to_dict(elem, empties)
    if not isinstance(raw, dict):
        raw = {}
    elif any(key in raw for key in _OWN_KEYS):
        return None
    raw["_type"] = xml_reader.RECORD_TAGS[xml_reader._local(elem.tag)]
    if xml_reader.FIELDS_2024.intersection(raw):
        raw["_xml_format"] = "xml-2024"
    vides = [e for e in dict.fromkeys(empties) if e not in xml_reader.EMPTY_LISTS_ALLOWED]
    if vides:
        raw["_xml_vides"] = "|".join(vides)
    return raw


class _Counted:
    """A binary file that counts the bytes libxml2 has read from it."""

    def __init__(self, handle):
        self.handle = handle
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.bytes += len(data)
        return data


def _write(out, objects: list[dict], first: bool) -> None:
    """One batch of record objects, appended to the JSON array being written."""
    text = json.dumps(objects, ensure_ascii=True, check_circular=False).encode("ascii")[1:-1]
    for plain, escaped in _ESCAPES:
        if plain in text:
            text = text.replace(plain, escaped)
    out.write(text if first else b",\n" + text)
    objects.clear()


def convert(path: Path, out, batch: int = BATCH, batch_bytes: int = BATCH_BYTES) -> tuple[int, Optional[str]]:
    """Write the records of the XML file `path` to `out` (binary) as a JSON array.

    Returns (records, reason): reason (French) is None when every record was written exactly."""
    count = written = flushed_at = 0
    objects: list[dict] = []
    out.write(b"[")
    with open(path, "rb") as handle:
        source = _Counted(handle)
        # The streaming reader's loop (xml_reader.read_xml), without its latin-1 second reading:
        # a file that needs it is left to that reader.
        events = etree.iterparse(source, events=("end",), tag=("{*}marche", "{*}contrat-concession"),
                                 resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                                 remove_comments=True, remove_pis=True)
        try:
            for _, elem in events:
                raw = _record_object(elem)
                if raw is None:
                    return count, "champ « _type » dans un contrat XML"
                objects.append(raw)
                count += 1
                elem.clear()
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
                if len(objects) >= batch or source.bytes - flushed_at >= batch_bytes:
                    _write(out, objects, written == 0)
                    written, flushed_at = count, source.bytes
        except etree.XMLSyntaxError as exc:
            return count, f"XML illisible ligne {exc.lineno}"
    if objects:
        _write(out, objects, written == 0)
    out.write(b"]")
    return count, None


def load_xml_sql(con: duckdb.DuckDBPyConnection, path: Path, name: str, resource_id: Optional[str],
                 first_record_id: int, today: Optional[dt.date] = None,
                 min_bytes: Optional[int] = None, timings: Optional[dict] = None) -> Outcome:
    """timings, when given, receives the seconds of each step (convert, json_sql, xml_parts)."""
    timings = {} if timings is None else timings
    path = Path(path)
    if path.stat().st_size < max(MIN_XML_BYTES if min_bytes is None else min_bytes, 1):
        return Outcome(reason="petit fichier (lecteur en flux plus rapide)")
    reason = _prologue_reason(path)
    if reason:
        return Outcome(reason=reason)
    with tempfile.TemporaryDirectory(prefix="decp-xml-") as folder:
        target = os.path.join(folder, "records.json")
        started = time.perf_counter()
        with open(target, "wb") as out:
            count, reason = convert(path, out)
        timings["convert"] = time.perf_counter() - started
        if reason:
            return Outcome(reason=reason)
        if count == 0:
            return Outcome(reason="aucun contrat")
        started = time.perf_counter()
        outcome = load_json_sql(con, Path(target), name, resource_id, first_record_id, today=today, min_bytes=0)
        timings["json_sql"] = time.perf_counter() - started
        if outcome.reason is not None:
            return outcome
        started = time.perf_counter()
        _xml_parts(con, target, name, resource_id, first_record_id, count)
        timings["xml_parts"] = time.perf_counter() - started
    outcome.format = "xml"
    return outcome


def _xml_parts(con, target: str, name: str, resource_id: Optional[str], first: int, count: int) -> None:
    """What the JSON load cannot know: the XML formats, the empty elements."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE decp_xml_parts AS
        SELECT $first + ord - 1 AS record_id, ord - 1 AS position, fmt, string_split(vides, '|') AS vides
        FROM (SELECT ord, j->>'_xml_format' AS fmt, j->>'_xml_vides' AS vides
              FROM read_json_objects($path, format = 'array') WITH ORDINALITY AS t(j, ord))
        WHERE fmt IS NOT NULL OR vides IS NOT NULL
        """, {"path": target, "first": first})
    con.execute("UPDATE records SET format = 'xml-2019' WHERE record_id >= $first AND record_id < $first + $count",
                {"first": first, "count": count})
    con.execute("UPDATE records SET format = 'xml-2024' FROM decp_xml_parts p "
                "WHERE records.record_id = p.record_id AND p.fmt IS NOT NULL")
    con.execute(
        """
        INSERT INTO findings
        SELECT $name, $resource_id, e.position, e.field, 'empty_element', $severity,
               'Élément vide <' || e.field || '>', NULL, r.buyer_siret, r.contract_id
        FROM (SELECT record_id, position, unnest(vides) AS field FROM decp_xml_parts) e
        JOIN records r USING (record_id)
        ORDER BY e.position
        """, {"name": name, "resource_id": resource_id, "severity": finding_codes.severity("empty_element")})
    con.execute("DROP TABLE decp_xml_parts")


__all__ = ["load_xml_sql", "convert"]
