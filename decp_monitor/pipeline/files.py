"""Load local files into a version being built: each file goes to the reader its content calls for.

The kind of a file is decided from its first bytes, never from its name: DECP files are served
with every extension, and declaration CSVs with none.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Optional

from decp_monitor.core.findings import finding

SNIFF_BYTES = 64 * 1024
SKIPPED_NAMES = {"SOURCES.md", "README.md", ".gitkeep"}


def iter_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files under the given paths, folders walked in a stable order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for sub in sorted(p for p in path.rglob("*") if p.is_file()):
                if sub.name not in SKIPPED_NAMES and not sub.name.startswith("."):
                    yield sub
        else:
            yield path


def sniff(head: bytes) -> str:
    """'decp' | 'dataset' | 'declaration' | 'unknown', from a file's first bytes."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    from decp_monitor.parse.xml_reader import looks_like_xml

    if text.startswith(b"<") or looks_like_xml(head):
        return "decp"
    if text.startswith((b"{", b"[")):
        if b'"marches"' in head or b'"marche"' in head:
            return "decp"
        from decp_monitor.parse.catalog import looks_like_dataset_json

        if looks_like_dataset_json(head):
            return "dataset"
        return "decp"  # the DECP reader says precisely what is wrong with it
    from decp_monitor.parse.declarations import looks_like_declaration_csv

    if looks_like_declaration_csv(head):
        return "declaration"
    return "unknown"


def load_file(build, path: Path, name: Optional[str] = None, resource_id: Optional[str] = None) -> str:
    name = name or str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        build.add(finding(name, "file_unreadable", f"Fichier illisible : {exc.strerror or exc}"), resource_id)
        return "unreadable"
    kind = sniff(head)
    if kind == "decp":
        reason = None
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if json_reader() == "sql" and text.startswith((b"{", b"[")):
            reason = _load_json_sql(build, path, name, resource_id)
            if reason is None:
                return kind
        elif xml_reader() == "sql" and not text.startswith((b"{", b"[")):
            reason = _load_json_sql(build, path, name, resource_id, xml=True)
            if reason is None:
                return kind
        from decp_monitor.parse import read_decp

        # A file shorter than the sniff read is whole in memory already (most per-publication
        # files are a few KB): the reader takes the bytes instead of opening it again per pass.
        for item in read_decp(head if len(head) < SNIFF_BYTES else path, name=name):
            build.add(item, resource_id)
        record_reader(build, name, resource_id, STREAM_READER, reason)
    elif kind == "declaration":
        from decp_monitor.parse.declarations import read_declarations

        for entry in read_declarations(path, name=name):
            build.add(entry, resource_id)
    elif kind == "dataset":
        _load_dataset_json(build, path, name)
    else:
        build.add(finding(
            name, "unknown_root",
            "Fichier non reconnu : ni données essentielles (JSON/XML), ni déclaration de profil "
            "d'acheteur (CSV), ni métadonnées de jeu de données data.gouv.fr",
        ), resource_id)
    return kind


SQL_READER = "DuckDB (SQL)"
XML_SQL_READER = "expat → JSON → DuckDB (SQL)"
STREAM_READER = "lecteur en flux"


def json_reader() -> str:
    """'sql' (the default: DuckDB reads DECP JSON files of at least json_sql.MIN_SQL_BYTES, the
    streaming reader the others and whatever DuckDB declines) or 'flux' (the streaming reader for
    every file), from DECP_JSON_READER; anything else is refused rather than guessed.

    The SQL path is the default since its typed lane (json_fast.sql) reads the plain records at
    ~10 µs of CPU each, against ~60 µs for the streaming reader, and it declines a file whose
    records mostly need its exact lane (json_sql.MAX_EXACT_SHARE), which costs more (BENCHMARKS.md,
    issue 13)."""
    value = os.environ.get("DECP_JSON_READER", "sql").strip().lower() or "sql"
    if value not in ("sql", "flux"):
        raise ValueError(f"DECP_JSON_READER : valeur inconnue « {value} » (attendu : sql ou flux)")
    return value


def xml_reader() -> str:
    """'sql' or 'flux' (DECP XML files of at least xml_sql.MIN_XML_BYTES become JSON, written by
    compiled code, that the SQL path normalises: parse/xml_sql.py), from DECP_XML_READER; unset,
    XML follows DECP_JSON_READER (default 'sql'), so that one switch moves both formats."""
    value = os.environ.get("DECP_XML_READER", "").strip().lower() or json_reader()
    if value not in ("sql", "flux"):
        raise ValueError(f"DECP_XML_READER : valeur inconnue « {value} » (attendu : sql ou flux)")
    return value


def record_reader(build, name: str, resource_id: Optional[str], reader: str, reason: Optional[str]) -> None:
    """Which reader read a DECP file, and why the streaming one when DuckDB was not used (French)."""
    build.writer.add_file_reader(name, resource_id, reader, reason)


def _load_json_sql(build, path: Path, name: str, resource_id: Optional[str], xml: bool = False) -> Optional[str]:
    """Read a DECP JSON file (or XML file, through JSON) with DuckDB; None when done, else the
    French reason it was not."""
    from decp_monitor.parse.json_sql import load_json_sql
    from decp_monitor.parse.xml_sql import load_xml_sql

    load = load_xml_sql if xml else load_json_sql
    outcome = load(build.con, path, name, resource_id, build.writer.next_record_id)
    if outcome.reason is not None:
        return outcome.reason
    build.writer.next_record_id += outcome.records
    build.writer.counts["records"] += outcome.records
    for item in outcome.findings:
        build.add(item, resource_id)
    record_reader(build, name, resource_id, XML_SQL_READER if xml else SQL_READER, None)
    return None


def _load_dataset_json(build, path: Path, name: str) -> None:
    from decp_monitor.parse.catalog import dataset_findings, dataset_rows

    try:
        obj = json.loads(path.read_bytes())
    except ValueError as exc:
        build.add(finding(name, "file_unreadable", f"JSON de jeu de données illisible : {exc}"))
        return
    # An API page ({"data": [...]}) holds several datasets; a detail response holds one.
    data = obj.get("data") if isinstance(obj, dict) else None
    objects = data if isinstance(data, list) else [obj]
    for item in objects:
        if not isinstance(item, dict):
            continue
        for problem in dataset_findings(item, name):
            build.add(problem)
        dataset, resources = dataset_rows(item, source=name)
        if dataset is not None:
            build.add_datasets([dataset])
        build.add_resources(resources)


def load_paths(
    build,
    paths: Iterable[str | os.PathLike],
    progress: Optional[Callable[[int, int, Path], None]] = None,
) -> dict[str, int]:
    """Load every file under `paths`; returns how many files of each kind were read."""
    files = list(iter_files(paths))
    kinds: dict[str, int] = {}
    for index, path in enumerate(files, 1):
        if not path.exists():
            build.add(finding(str(path), "file_unreadable", "Fichier introuvable"))
            kinds["missing"] = kinds.get("missing", 0) + 1
        else:
            kind = load_file(build, path)
            kinds[kind] = kinds.get(kind, 0) + 1
        if progress:
            progress(index, len(files), path)
    return kinds
