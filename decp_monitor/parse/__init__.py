"""Read any DECP file (JSON or XML, 2019 or 2024 format) into Records and Findings.

    for item in read_decp("DECP-...json"):  # or bytes
        ...  # decp_monitor.core.model.Record or decp_monitor.core.model.Finding, in file order

The format is detected from the content (first significant byte, then the root), never from the
file name. Bad content never raises: it becomes findings (see decp_monitor.core.findings.CODES).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Union

from decp_monitor.core.findings import finding
from decp_monitor.core.model import Finding, Record
from decp_monitor.parse.json_reader import read_json
from decp_monitor.parse.xml_reader import looks_like_xml, read_xml

BOM = b"\xef\xbb\xbf"
_SPACE = b" \t\r\n"


def _head(source, size: int = 4096) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:size])
    with open(source, "rb") as handle:
        return handle.read(size)


def read_decp(source: Union[str, Path, bytes], name: Optional[str] = None) -> Iterator[Union[Record, Finding]]:
    name = name if name is not None else (str(source) if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    try:
        head = _head(source)
    except OSError as exc:
        yield finding(name, "file_unreadable", f"Fichier impossible à ouvrir : {exc.strerror or exc}")
        return
    if looks_like_xml(head):  # UTF-16 or UTF-32: libxml2 decodes it, the entity check reads it decoded
        yield from read_xml(source, name, 0)
        return
    skip = 0
    if head.startswith(BOM):
        skip = len(BOM)
        yield finding(name, "utf8_bom")
    rest = head[skip:].lstrip(_SPACE)
    if not rest:
        if len(head) < 4096:
            yield finding(name, "empty_file", "Fichier vide")
            return
        yield finding(name, "file_unreadable", "Début de fichier blanc sur plus de 4 Ko")
        return
    first = rest[:1]
    if first in (b"{", b"["):
        yield from read_json(source, name, skip)
    elif first == b"<":
        yield from read_xml(source, name, skip)
    else:
        yield finding(name, "file_unreadable",
                      f"Format non reconnu (premier caractère {rest[:1]!r} à l'octet {len(head) - len(rest)}) : ni JSON ni XML",
                      value=repr(rest[:40]))


__all__ = ["read_decp"]
