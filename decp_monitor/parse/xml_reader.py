"""Streaming XML reader (lxml iterparse): one record element at a time, cleared once read.

Entities are never expanded: a DTD declaring entities (XXE, billion laughs) is refused up front,
on decoded text (UTF-16/32 with or without a BOM included) and on the DTD libxml2 itself read;
the parser is configured with resolve_entities=False, no_network=True, load_dtd=False.
huge_tree=False keeps libxml2's own limits: 256 levels of nesting, text nodes of 10 MB.
"""
from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import BinaryIO, Optional, Union

from lxml import etree

from decp_monitor.core.findings import finding
from decp_monitor.core.model import Finding, Record
from decp_monitor.parse.messages import explain
from decp_monitor.parse.normalise import FileState, normalise

RECORD_TAGS = {"marche": "marche", "contrat-concession": "concession"}
# Lists the schemas allow to be empty (minOccurs="0" items): <modifications/> is valid, not a defect.
EMPTY_LISTS_ALLOWED = frozenset({"modifications", "donneesExecution", "actesSousTraitance",
                                 "modificationsActesSousTraitance"})
PROLOG_SCAN = 1 << 20
# Fields that exist only in schema 2.0.x: their presence marks a 2024-format record.
FIELDS_2024 = frozenset({"considerationsSociales", "considerationsEnvironnementales", "techniques",
                         "modalitesExecution", "offresRecues", "typesPrix", "idAccordCadre",
                         "marcheInnovant", "origineUE", "origineFrance", "attributionAvance",
                         "tauxAvance", "sousTraitanceDeclaree", "typeGroupementOperateurs",
                         "actesSousTraitance", "ccag",
                         })


def _local(tag) -> str:
    if type(tag) is str:
        return tag if tag[0] != "{" else tag.rsplit("}", 1)[-1]
    return ""


def _to_dict(elem, empties: list[str]):
    if len(elem) == 0:
        text = (elem.text or "").strip()
        if not text:
            empties.append(_local(elem.tag))
            return None
        return text
    out: dict = {}
    for child in elem:
        key = _local(child.tag)
        if not key:  # comment, processing instruction or unexpanded entity
            continue
        value = _to_dict(child, empties)
        if key in out:
            previous = out[key]
            if isinstance(previous, list) and getattr(previous, "_repeated", False):
                previous.append(value)
            else:
                repeated = _Repeated([previous, value])
                out[key] = repeated
        else:
            out[key] = value
    return out


class _Repeated(list):
    _repeated = True


def _unreadable(name: str, exc: etree.XMLSyntaxError, position: int) -> Finding:
    line, column = exc.position if exc.position else (exc.lineno, 0)
    return finding(name, "file_unreadable",
                   f"XML illisible ligne {line}, colonne {column} après {position} contrat(s) : {explain(exc.msg)}",
                   value=exc.msg)


def _root_tag(head: bytes) -> tuple[str, Optional[str]]:
    """Local name of the root element, read from the first bytes only, and why the file is
    refused if its DTD declares entities (seen by libxml2 after decoding, whatever the encoding)."""
    parser = etree.iterparse(io.BytesIO(head), events=("start",), resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False)
    try:
        for _, elem in parser:
            dtd = elem.getroottree().docinfo.internalDTD
            if dtd is not None and next(dtd.iterentities(), None) is not None:
                return _local(elem.tag), _ENTITIES
            return _local(elem.tag), None
    except etree.XMLSyntaxError:
        if len(head) < PROLOG_SCAN:
            raise
    raise etree.XMLSyntaxError("élément racine introuvable dans le premier Mo", None, 1, 1)


_ENTITIES = "DTD déclarant des entités (XXE / expansion d'entités) : fichier refusé, rien n'a été développé"
# Encodings libxml2 recognises from the first bytes without a BOM (XML 1.0, appendix F).
_SIGNATURES = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
               (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"),
               (b"\x00<\x00!", "utf-16-be"), (b"<\x00!\x00", "utf-16-le"))
_BOMS_16_32 = (codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)


def looks_like_xml(head: bytes) -> bool:
    """XML in UTF-16 or UTF-32 (with or without a BOM): its first byte is not `<`."""
    return head.startswith(tuple(signature for signature, _ in _SIGNATURES) + _BOMS_16_32)


def _decoded(head: bytes) -> str:
    """The head as text: BOM or first-bytes signature, else UTF-8 (undecodable bytes replaced)."""
    for bom, encoding in ((codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF32_LE, "utf-32-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le")):
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, "replace")
    for signature, encoding in _SIGNATURES:
        if head.startswith(signature):
            return head.decode(encoding, "replace")
    return head.decode("utf-8", "replace")


def _refuse_entities(head: bytes) -> Optional[str]:
    upper = _decoded(head).upper()
    if "<!DOCTYPE" in upper and "<!ENTITY" in upper:
        return _ENTITIES
    return None


def read_xml(source, name: str, skip: int) -> Iterator[Union[Record, Finding]]:
    handle: BinaryIO
    if isinstance(source, (bytes, bytearray)):
        head = bytes(source[:PROLOG_SCAN])
        handle = io.BytesIO(source)
    else:
        with open(source, "rb") as probe:
            head = probe.read(PROLOG_SCAN)
        handle = open(source, "rb")
    with handle:
        reason = _refuse_entities(head)
        if reason:
            yield finding(name, "unsafe_xml", reason)
            return
        state = FileState(name)
        try:
            root_tag, reason = _root_tag(head)
        except etree.XMLSyntaxError as exc:
            yield _unreadable(name, exc, 0)
            return
        if reason:
            yield finding(name, "unsafe_xml", reason)
            return
        if root_tag not in RECORD_TAGS and root_tag != "marches":
            yield finding(name, "unknown_root", f"Élément racine XML inconnu : <{root_tag}>", value=root_tag)
            return
        done = 0  # records already given, when the file is read again in latin-1
        for encoding in (None, "ISO-8859-1"):
            handle.seek(0)
            position = 0
            # Only record elements produce events: the loop stays out of Python for their contents.
            events = etree.iterparse(handle, events=("end",), tag=("{*}marche", "{*}contrat-concession"),
                                     encoding=encoding, resolve_entities=False, no_network=True,
                                     load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
            try:
                for _, elem in events:
                    if position >= done:
                        yield from _record(name, state, elem, position)
                    position += 1
                    elem.clear()
                    parent = elem.getparent()
                    if parent is not None:
                        while elem.getprevious() is not None:
                            del parent[0]
            except etree.XMLSyntaxError as exc:
                if encoding is None and _is_encoding_error(exc):
                    done = position
                    yield finding(name, "encoding_fallback",
                                  f"Fichier XML non UTF-8 (ligne {exc.lineno}) : relu en latin-1")
                    continue
                yield _unreadable(name, exc, position)
            break
        if position == 0:
            yield finding(name, "empty_file", "Fichier sans aucun contrat")


def _is_encoding_error(exc: etree.XMLSyntaxError) -> bool:
    message = (exc.msg or "").lower()
    return "encoding" in message or "utf-8" in message


def _record(name: str, state: FileState, elem, position: int) -> Iterator[Union[Record, Finding]]:
    tag = _local(elem.tag)
    empties: list[str] = []
    raw = _to_dict(elem, empties)
    if not isinstance(raw, dict):
        raw = {}
    fmt = "xml-2024" if FIELDS_2024.intersection(raw) else "xml-2019"
    record, findings = normalise(raw, position, fmt, state, RECORD_TAGS[tag])
    yield record
    yield from findings
    for element_name in dict.fromkeys(empties):
        if element_name in EMPTY_LISTS_ALLOWED:
            continue
        yield finding(name, "empty_element", f"Élément vide <{element_name}>", position=position,
                      field=element_name, buyer_siret=record.buyer_siret,
                      contract_id=record.contract_id)
