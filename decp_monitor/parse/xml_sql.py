"""DECP XML through the SQL path: the records become 2019 JSON, json_sql normalises them.

    outcome = load_xml_sql(con, path, name, resource_id, first_record_id)
    if outcome.reason is None: outcome.records rows were written into records, record_modifications
                               and findings (as json_sql.load_json_sql does); outcome.findings are
                               the file-level findings left to the caller.
    else: nothing was written; outcome.reason says in French why the streaming reader must read it.

The file is walked as the streaming reader walks it (xml_reader: every record element at any
depth, each turned into the raw dict `xml_reader._to_dict` gives), but in compiled code: the C
module `_xmlwalk` (expat, from CPython's own pyexpat, without the GIL) writes each record straight
as the JSON object of that dict to a temporary file (one per piece when walked in pieces at once),
and DuckDB reads and normalises it through json_sql.load_json_sql (the pieces through
json_sql.load_json_files): one normalisation and one set of findings for JSON and XML. What is
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
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import duckdb
from lxml import etree

from decp_monitor.core import findings as finding_codes
from decp_monitor.core.findings import finding
from decp_monitor.parse import BOM, _xmlwalk, xml_reader
from decp_monitor.parse.json_reader import MAX_KEY_BYTES, MAX_STRING_BYTES
from decp_monitor.parse.json_sql import DEPTH_WATCH, Outcome, load_json_files, load_json_sql

# Below this size the streaming reader is quicker: the SQL path costs ~0.4 s per file however
# small (json_sql's set-up), the streaming reader ~0.07 s per MB (2 Dec 2026, generated files of
# 0.9 / 2.6 / 5.1 MB: 0.43-0.74 / 0.53-0.78 / 0.62-0.70 s against 0.08-0.10 / 0.22-0.39 /
# 0.38-0.55 s, shared machine); as for JSON (json_sql.MIN_SQL_BYTES), they cross near 8 MB.
MIN_XML_BYTES = 8 << 20
# The key this module adds to a record's object: a record holding it is left to the reader.
_OWN_KEYS = ("_type",)
# A record's lists written as JSON arrays of their items, {"titulaire": [a, b]} as [a, b]: the
# shape json_fast.sql's typed read takes (an object where it expects a list sends the whole file to
# the exact lane), and the same holders and modifications for the normaliser (_flatten unwraps it).
_LISTS = {"titulaires": "titulaire", "modifications": "modification"}
# A file is walked in pieces at once (one per DuckDB thread) from twice this size; a cut is looked
# for within CUT_WINDOW bytes after its target offset.
MIN_CUT_BYTES = 16 << 20
CUT_WINDOW = 1 << 20
# The prologue (XML declaration, comments, processing instructions, DOCTYPE) and the root's start tag.
_PROLOG = re.compile(rb'(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)*', re.S)
_START_TAG = re.compile(rb'<([^\s/>!?]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|\'[^\']*\'))*\s*(/?)>')
# A record's end tag, followed by the next tag: where a piece may end.
_RECORD_END = re.compile(rb'</(?:[^\s:>]+:)?(?:marche|contrat-concession)\s*>\s*(?=<)')
# Why the walk stopped (its problem codes), in French; the line and column in the file follow.
_PROBLEMS = {
    "syntax": "XML illisible",
    "entity": "référence d'entité non développée",
    "nested": "contrat imbriqué dans un autre contrat",
    "depth": "imbrication très profonde",
    "text": "texte au-delà des limites du lecteur en flux",
    "name": "nom d'élément au-delà des limites du lecteur en flux",
    "attribute_name": "nom d'attribut au-delà des limites du lecteur en flux",
    "attribute_value": "valeur d'attribut au-delà des limites du lecteur en flux",
    "comment": "commentaire au-delà des limites du lecteur en flux",
    "instruction_name": "nom d'instruction de traitement au-delà des limites du lecteur en flux",
    "instruction": "instruction de traitement au-delà des limites du lecteur en flux",
    "namespace_prefix": "préfixe d'espace de noms au-delà des limites du lecteur en flux",
    "namespace_uri": "URI d'espace de noms au-delà des limites du lecteur en flux",
    "record": "contrat de plus de {mb} Mo",
    "own_key": "champ « _type » dans un contrat XML",
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


def _walk(path: Path, target: Path, side: Path, **piece) -> tuple[int, Optional[tuple[str, int, int, str]]]:
    return _xmlwalk.convert(
        str(path), str(target), str(side), record_tags=tuple(xml_reader.RECORD_TAGS),
        record_kinds=tuple(xml_reader.RECORD_TAGS.values()), fields_2024=tuple(xml_reader.FIELDS_2024),
        empty_allowed=tuple(xml_reader.EMPTY_LISTS_ALLOWED), own_keys=_OWN_KEYS,
        list_names=tuple(_LISTS), item_names=tuple(_LISTS.values()), max_text=MAX_STRING_BYTES,
        max_name=MAX_KEY_BYTES, max_record=xml_reader.MAX_RECORD_BYTES, max_depth=DEPTH_WATCH, **piece)


def _reason(problem: tuple[str, int, int, str]) -> str:
    code, line, column, _ = problem
    return f"{_PROBLEMS[code].format(mb=xml_reader.MAX_RECORD_BYTES >> 20)} (ligne {line}, colonne {column})"


def cut(path: Path, pieces: int) -> Optional[tuple[bytes, bytes, list[tuple[int, int]]]]:
    """(head, root end tag, byte ranges) cutting the file between records into up to `pieces`, or
    None when it is not worth it or the head is not understood.

    A piece is walked as head + its bytes + the root's end tag, the head being the file's own bytes
    up to its root's start tag (XML declaration and namespaces included). A cut goes after a
    record's end tag followed by a tag: between two records directly under the root this gives
    well-formed pieces; anywhere else (a record inside a wrapper, markup inside a comment or CDATA)
    a piece is not well-formed, the walk reports a syntax error, and the file is walked uncut."""
    size = path.stat().st_size
    if pieces < 2 or size < MIN_CUT_BYTES * 2:
        return None
    with open(path, "rb") as handle:
        head = handle.read(xml_reader.PROLOG_SCAN)
        prolog = _PROLOG.match(head)
        root = _START_TAG.match(head, prolog.end()) if prolog else None
        if root is None or root.group(2) == b"/" or _local(root.group(1)) in xml_reader.RECORD_TAGS:
            return None
        ranges, start = [], 0
        for k in range(1, pieces):
            target = size * k // pieces
            if target <= start:
                continue
            handle.seek(target)
            window = handle.read(CUT_WINDOW)
            found = _RECORD_END.search(window)
            if found is None:
                continue
            ranges.append((start, target + found.end()))
            start = target + found.end()
    if not ranges:
        return None
    ranges.append((start, -1))
    return head[:root.end()], b"</" + root.group(1) + b">", ranges


def convert(path: Path, target: Path, side: Path, pieces: int = 1) -> tuple[int, Optional[str], list[tuple[Path, Path, int]]]:
    """Write the records of the XML file `path` as JSON arrays, walked in up to `pieces` pieces at
    once (cut()): to `target` when walked whole, else one file per piece beside it (json_sql reads
    them as they are: joined into one, they were copied twice more, ~1 GB each for a national file);
    and what is XML's own to side files (TSV: position in the piece, format, blank elements).

    Returns (records, reason, [(JSON file, side file, records before it)]): reason (French) is None
    when every record was written exactly."""
    plan = cut(path, pieces)
    if plan is None:
        count, problem = _walk(path, target, side)
        return count, _reason(problem) if problem else None, [(target, side, 0)]
    head, end_tag, ranges = plan
    jobs = []
    for index, (start, end) in enumerate(ranges):
        piece = {"start": start, "end": end, "prefix": head if start else b"", "suffix": end_tag if end >= 0 else b""}
        jobs.append((target.with_name(f"{target.stem}-{index}.json"), side.with_name(f"{side.stem}-{index}.tsv"),
                     piece))
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:  # the walk releases the GIL
        results = list(pool.map(lambda job: _walk(path, job[0], job[1], **job[2]), jobs))
    if any(problem and problem[0] == "syntax" for _, problem in results):
        for piece_target, _, _ in jobs:
            piece_target.unlink(missing_ok=True)
        count, problem = _walk(path, target, side)  # a cut that was not between two records
        return count, _reason(problem) if problem else None, [(target, side, 0)]
    problem = next((problem for _, problem in results if problem), None)
    if problem:
        return 0, _reason(problem), []
    files, count = [], 0
    for (records, _), (piece_target, piece_side, _) in zip(results, jobs):
        if records:
            files.append((piece_target, piece_side, count))
            count += records
        else:
            piece_target.unlink()
    return count, None, files


def _local(qname: bytes) -> str:
    return qname.rsplit(b":", 1)[-1].decode("utf-8", "replace")


def load_xml_sql(con: duckdb.DuckDBPyConnection, path: Path, name: str, resource_id: Optional[str],
                 first_record_id: int, today: Optional[dt.date] = None,
                 min_bytes: Optional[int] = None, max_exact_share: Optional[float] = None,
                 timings: Optional[dict] = None, pieces: Optional[int] = None) -> Outcome:
    """timings, when given, receives the seconds of each step (convert, json_sql, xml_parts);
    max_exact_share is json_sql's (the share of records its exact lane may read); pieces, how many
    pieces are walked at once (default: DuckDB's threads)."""
    timings = {} if timings is None else timings
    path = Path(path)
    if path.stat().st_size < max(MIN_XML_BYTES if min_bytes is None else min_bytes, 1):
        return Outcome(reason="petit fichier (lecteur en flux plus rapide)")
    reason = _prologue_reason(path)
    if reason:
        return Outcome(reason=reason)
    if pieces is None:
        pieces = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    with tempfile.TemporaryDirectory(prefix="decp-xml-") as folder:
        target = Path(folder) / "records.json"
        started = time.perf_counter()
        count, reason, files = convert(path, target, Path(folder) / "xml.tsv", pieces)
        timings["convert"] = time.perf_counter() - started
        if reason:
            return Outcome(reason=reason)
        if count == 0:
            return Outcome(reason="aucun contrat")
        started = time.perf_counter()
        if len(files) == 1:  # cut by json_sql for its threads, as any JSON file
            outcome = load_json_sql(con, files[0][0], name, resource_id, first_record_id, today=today, min_bytes=0,
                                    max_exact_share=max_exact_share, record_format="xml-2019")
        else:  # already cut by the walk: each piece read as it is
            outcome = load_json_files(con, [json for json, _, _ in files], name, resource_id, first_record_id,
                                      today=today, max_exact_share=max_exact_share, record_format="xml-2019")
        timings["json_sql"] = time.perf_counter() - started
        if outcome.reason is not None:
            return outcome
        started = time.perf_counter()
        _xml_parts(con, [(side, before) for _, side, before in files], name, resource_id, first_record_id)
        timings["xml_parts"] = time.perf_counter() - started
    with open(path, "rb") as handle:
        if handle.read(len(BOM)) == BOM:  # read_decp reports it before the streaming reader reads the XML
            outcome.findings.append(finding(name, "utf8_bom"))
    outcome.format = "xml"
    return outcome


def _xml_parts(con, sides: list[tuple[Path, int]], name: str, resource_id: Optional[str], first: int) -> None:
    """What the JSON load cannot know: the records of schema 2.0, the empty elements."""
    for side, before in sides:
        if not side.stat().st_size:
            continue
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE decp_xml_parts AS
            SELECT $first + $before + position AS record_id, $before + position AS position, fmt,
                   string_split(vides, '|') AS vides
            FROM read_csv($path, delim = '\t', header = false, quote = '', escape = '', auto_detect = false,
                          columns = {'position': 'BIGINT', 'fmt': 'VARCHAR', 'vides': 'VARCHAR'})
            """, {"path": str(side), "first": first, "before": before})
        con.execute("UPDATE records SET format = 'xml-2024' FROM decp_xml_parts p "
                    "WHERE records.record_id = p.record_id AND p.fmt = 'xml-2024'")
        con.execute(
            """
            INSERT INTO findings
            SELECT $name, $resource_id, e.position, e.field, 'empty_element', $severity,
                   'Élément vide <' || e.field || '>', NULL, r.buyer_siret, r.contract_id
            FROM (SELECT record_id, position, unnest(vides) AS field FROM decp_xml_parts WHERE vides IS NOT NULL) e
            JOIN records r USING (record_id)
            ORDER BY e.position
            """, {"name": name, "resource_id": resource_id, "severity": finding_codes.severity("empty_element")})
        con.execute("DROP TABLE decp_xml_parts")


__all__ = ["load_xml_sql", "convert", "cut"]
