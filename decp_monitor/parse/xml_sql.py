"""DECP XML through the SQL path: the records become 2019 JSON, json_sql normalises them.

    outcome = load_xml_sql(con, path, name, resource_id, first_record_id)
    if outcome.reason is None: outcome.records rows were written into records, record_modifications
                               and findings (as json_sql.load_json_sql does); outcome.findings are
                               the file-level findings left to the caller.
    else: nothing was written; outcome.reason says in French why the streaming reader must read it.

The file is walked as the streaming reader walks it (xml_reader: every record element at any
depth, each turned into the raw dict `xml_reader._to_dict` gives), but in compiled code: the C
module `_xmlwalk` (expat, from CPython's own pyexpat, without the GIL) writes each record straight
as the JSON object of that dict to a temporary file, and DuckDB reads and normalises that file
through json_sql.load_json_sql: one normalisation and one set of findings for JSON and XML. What is
XML's own rides along in each object and is applied in SQL after the load: the kind from the
element's name ("_type"), the record format ("_xml_format": xml-2024 when a field of schema 2.0
is present) and the `empty_element` findings ("_xml_vides").

Why compiled (BENCHMARKS.md, issue 13): a Python walk over lxml's elements tops out near
36 000 records/s (26 element visits a record) and an XSLT stylesheet ran at 7 000-18 000; the
walk in C runs at the speed of the parse.

The streaming reader stays the reference and the fallback: a file whose prologue it refuses or
reports (entities, unknown root…), that expat cannot read to the end (truncation, encoding…), that
holds what the walk does not reproduce exactly (an entity left unexpanded, a record inside a
record, a "_type" field…), or that json_sql declines, is read by it, with the reason
(tests/test_xml_sql.py: same tables either way).
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Optional

import duckdb
from lxml import etree

from decp_monitor.core import findings as finding_codes
from decp_monitor.core.findings import finding
from decp_monitor.parse import BOM, _xmlwalk, xml_reader
from decp_monitor.parse.json_reader import MAX_KEY_BYTES, MAX_STRING_BYTES
from decp_monitor.parse.json_sql import DEPTH_WATCH, Outcome, load_json_sql

# Below this size the streaming reader is as quick (per-publication files hold a few records).
MIN_XML_BYTES = 1 << 20
# Keys this module adds to a record's object: a record holding one of them is left to the reader.
_OWN_KEYS = ("_type", "_xml_format", "_xml_vides")
# A record's lists written as JSON arrays of their items, {"titulaire": [a, b]} as [a, b]: the
# shape json_fast.sql's typed read takes (an object where it expects a list sends the whole file to
# the exact lane), and the same holders and modifications for the normaliser (_flatten unwraps it).
_LISTS = {"titulaires": "titulaire", "modifications": "modification"}
# The walk holds one record at a time; a record beyond this (names, texts and nodes) goes to the reader.
MAX_RECORD_BYTES = 64 << 20
# Why the walk stopped (its problem codes), in French; the line and column follow.
_PROBLEMS = {
    "syntax": "XML illisible",
    "entity": "référence d'entité non développée",
    "nested": "contrat imbriqué dans un autre contrat",
    "depth": "imbrication très profonde",
    "text": "texte au-delà des limites du lecteur en flux",
    "name": "nom d'élément au-delà des limites du lecteur en flux",
    "record": "contrat de plus de {mb} Mo",
    "own_key": "champ « _type », « _xml_format » ou « _xml_vides » dans un contrat XML",
    "memory": "mémoire insuffisante pour un contrat",
}


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


def convert(path: Path, target: Path) -> tuple[int, Optional[str]]:
    """Write the records of the XML file `path` to `target` as a JSON array.

    Returns (records, reason): reason (French) is None when every record was written exactly."""
    count, problem = _xmlwalk.convert(
        str(path), str(target), record_tags=tuple(xml_reader.RECORD_TAGS),
        record_kinds=tuple(xml_reader.RECORD_TAGS.values()), fields_2024=tuple(xml_reader.FIELDS_2024),
        empty_allowed=tuple(xml_reader.EMPTY_LISTS_ALLOWED), own_keys=_OWN_KEYS,
        list_names=tuple(_LISTS), item_names=tuple(_LISTS.values()), max_text=MAX_STRING_BYTES,
        max_name=MAX_KEY_BYTES, max_record=MAX_RECORD_BYTES, max_depth=DEPTH_WATCH)
    if problem is None:
        return count, None
    code, line, column, _ = problem
    return count, f"{_PROBLEMS[code].format(mb=MAX_RECORD_BYTES >> 20)} (ligne {line}, colonne {column})"


def load_xml_sql(con: duckdb.DuckDBPyConnection, path: Path, name: str, resource_id: Optional[str],
                 first_record_id: int, today: Optional[dt.date] = None,
                 min_bytes: Optional[int] = None, max_exact_share: Optional[float] = None,
                 timings: Optional[dict] = None) -> Outcome:
    """timings, when given, receives the seconds of each step (convert, json_sql, xml_parts);
    max_exact_share is json_sql's (the share of records its exact lane may read)."""
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
        count, reason = convert(path, Path(target))
        timings["convert"] = time.perf_counter() - started
        if reason:
            return Outcome(reason=reason)
        if count == 0:
            return Outcome(reason="aucun contrat")
        started = time.perf_counter()
        outcome = load_json_sql(con, Path(target), name, resource_id, first_record_id, today=today, min_bytes=0,
                                max_exact_share=max_exact_share)
        timings["json_sql"] = time.perf_counter() - started
        if outcome.reason is not None:
            return outcome
        started = time.perf_counter()
        _xml_parts(con, target, name, resource_id, first_record_id, count)
        timings["xml_parts"] = time.perf_counter() - started
    with open(path, "rb") as handle:
        if handle.read(len(BOM)) == BOM:  # read_decp reports it before the streaming reader reads the XML
            outcome.findings.append(finding(name, "utf8_bom"))
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
