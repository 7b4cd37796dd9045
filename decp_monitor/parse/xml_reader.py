"""Streaming XML reader (lxml iterparse): one record element at a time, cleared once read.

Entities are never expanded: a DTD declaring entities (XXE, billion laughs) is refused up front,
on decoded text (UTF-16/32 with or without a BOM included) and on the DTD libxml2 itself read;
the parser is configured with resolve_entities=False, no_network=True, load_dtd=False.
huge_tree=False keeps libxml2's own limits: 256 levels of nesting, text nodes of 10 MB.

A record holds at most MAX_RECORD_BYTES once read (_held): a bigger one (millions of empty
elements, many long texts…) is dropped while it is read — its finished parts deleted as the parser
goes on, so memory stays flat — and becomes one record_too_large finding at its position; the
records around it are read as usual. The compiled walk (xml_sql) holds records to the same bound.
"""
from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import BinaryIO, Optional, Union

from lxml import etree

from decp_monitor.core.findings import finding
from decp_monitor.core.french import fr_number
from decp_monitor.core.model import Finding, Record
from decp_monitor.core.siret import clean_siret
from decp_monitor.parse._xmlwalk import NODE_BYTES
from decp_monitor.parse.messages import explain
from decp_monitor.parse.normalise import FileState, _text, normalise

RECORD_TAGS = {"marche": "marche", "contrat-concession": "concession"}
# Lists the schemas allow to be empty (minOccurs="0" items): <modifications/> is valid, not a defect.
EMPTY_LISTS_ALLOWED = frozenset({"modifications", "donneesExecution", "actesSousTraitance",
                                 "modificationsActesSousTraitance"})
PROLOG_SCAN = 1 << 20
# What one record may hold once read, by either reader: NODE_BYTES an element or attribute (the
# walk's node), plus the bytes of its texts and attribute values. The walk (xml_sql) declines a
# file with a bigger record, and this reader drops that record with a record_too_large finding.
MAX_RECORD_BYTES = 64 << 20
# iterparse's read: between two reads the parser is idle and the open record can be measured.
READ_CHUNK = 32768
# The most a record holds per byte of file: `<a/>` is 4 bytes and one element. A record of fewer
# bytes than MAX_RECORD_BYTES / HELD_PER_BYTE is not measured at all (real ones are a few KB).
HELD_PER_BYTE = NODE_BYTES // 4 + 1
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
            open_records: list = []  # start tags seen, end tags not yet: the outermost first
            bound: Optional[_Bound] = None  # the outermost open record and what it holds
            try:
                for event, elem, offset in _events(handle, encoding):
                    if event == "start":
                        if not open_records:
                            bound = _Bound(elem, offset)
                        open_records.append(elem)
                        continue
                    if event == "read":
                        if bound is not None and offset >= bound.next_check:
                            bound.check(offset)
                        continue
                    # an end: of a record whose start set `bound` (the outermost) or came inside it
                    assert elem is not None and bound is not None
                    open_records.pop()
                    if not open_records and offset + READ_CHUNK >= bound.next_check:
                        bound.check(offset + READ_CHUNK)  # what it gained since the last read counts too
                    dropped = bound.dropped
                    if dropped and open_records:
                        bound.inner += 1  # a record inside the dropped one goes with it, in its finding
                    elif position >= done:
                        if dropped:
                            yield bound.finding(name, position)
                        else:
                            yield from _record(name, state, elem, position)
                    position += 1
                    if not open_records:
                        bound = None
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


def _events(handle: BinaryIO, encoding: Optional[str], tags: tuple[str, ...] = ("{*}marche", "{*}contrat-concession"),
            ) -> Iterator[tuple[str, Optional[etree._Element], int]]:
    """The start and end events of the record elements, each with the bytes read before it, and
    ("read", None, bytes read) after each read: iterparse's own loop (same reads, same events,
    pending events given before the parser's error), with a moment between two reads where the
    parser is idle and the open record may be measured.

    Only record elements (or `tags`) produce events: the loop stays out of Python for their contents."""
    parser = etree.XMLPullParser(events=("start", "end"), tag=tags,
                                 encoding=encoding, resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False, remove_comments=True, remove_pis=True)
    offset = 0
    while True:
        data = handle.read(READ_CHUNK)
        error = None
        try:
            if data:
                parser.feed(data)
            else:
                parser.close()
        except Exception as exc:  # as iterparse: the events before the error first
            error = exc
        for event, elem in parser.read_events():
            yield event, elem, offset
        if error is not None:
            raise error
        if not data:
            return
        offset += len(data)
        yield "read", None, offset


class _Bound:
    """The outermost open record, measured between two reads once it is long enough to matter,
    and dropped as it is read once it holds more than MAX_RECORD_BYTES."""

    def __init__(self, record, offset: int):
        self.record = record
        self.line = record.sourceline
        self.next_check = offset + MAX_RECORD_BYTES // HELD_PER_BYTE
        self.dropped = False
        self.inner = 0  # records inside it, dropped with it
        self.elements = self.text = 0
        self.contract_id: Optional[str] = None
        self.buyer: Optional[str] = None

    def check(self, offset: int) -> None:
        if self.dropped:
            _prune(self.record)
            return
        elements, attributes, text = _held(self.record)
        held = NODE_BYTES * (elements + attributes) + text
        if held <= MAX_RECORD_BYTES:
            # Measured again once it may have passed the bound, and not before it may have grown
            # by half what it holds: a measure costs what the record holds, so this costs at most
            # a few times the read, and the record holds at most 1.5 times the bound when dropped.
            self.next_check = offset + max(MAX_RECORD_BYTES - held, held // 2) // HELD_PER_BYTE
            return
        self.dropped = True
        self.next_check = 0  # from now on, pruned after every read
        self.elements, self.text = elements, text
        # what locates it for the user, if read already (its first fields usually)
        self.contract_id = _text(self.record.findtext("{*}id"))
        buyer = _text(self.record.findtext("{*}acheteur/{*}id") or self.record.findtext("{*}autoriteConcedante/{*}id"))
        self.buyer = clean_siret(buyer) or buyer
        _prune(self.record)

    def finding(self, name: str, position: int) -> Finding:
        inner = (f" ; {_count(self.inner, 'contrat')} qu'il contenait, ignoré{'s' if self.inner > 1 else ''} avec lui"
                 if self.inner else "")
        return finding(name, "record_too_large",
                       f"Contrat ignoré (ligne {self.line}) : plus de {MAX_RECORD_BYTES >> 20} Mo une fois lu, "
                       f"limite de lecture par contrat (abandonné après {_count(self.elements, 'élément')} et "
                       f"{_count(self.text, 'octet')} de texte){inner}",
                       position=position, value=f"{self.elements} éléments, {self.text} octets de texte",
                       buyer_siret=self.buyer, contract_id=self.contract_id)


def _count(count: int, word: str) -> str:
    return f"{fr_number(count)} {word}{'s' if count > 1 else ''}"


def _held(record) -> tuple[int, int, int]:
    """(elements, attributes, bytes of texts and attribute values) under the record, counted by
    libxml2 itself (XPath, serialisation): no Python object per element."""
    elements = int(record.xpath("count(descendant-or-self::*)"))
    attributes = int(record.xpath("count(descendant-or-self::*/@*)"))
    text = len(etree.tostring(record, method="text", encoding="utf-8", with_tail=False))
    if attributes:
        text += sum(len(value.encode("utf-8", "replace")) for value in record.xpath("descendant-or-self::*/@*"))
    return elements, attributes, text


def _prune(record) -> None:
    """Delete what the parser has finished with: at each level of the open path (the last child,
    from the record down), the children before the last one, the text before them, attributes.
    The parser only ever adds to the last child of the deepest open element (and the text after
    it), which stays, as iterparse's own advice keeps it (delete the previous siblings)."""
    node = record
    while True:
        if len(node.attrib):
            node.attrib.clear()
        if len(node) == 0:
            return  # its text may be the one the parser is adding to: at most 10 MB (libxml2)
        node.text = None
        if len(node) > 1:
            del node[:-1]
        node = node[-1]


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
