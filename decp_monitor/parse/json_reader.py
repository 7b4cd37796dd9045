"""Streaming JSON reader (ijson, yajl2_c): memory bounded by the largest record.

Fast path: raw bytes straight into yajl. If yajl rejects the file, it is read again through a
sanitising wrapper (latin-1 fallback, bare NaN/Infinity -> null) and the records already yielded
are skipped, so well-formed files never pay for the filter.
"""
from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Union

import ijson

from decp_monitor.core.findings import finding
from decp_monitor.core.model import Finding, Record
from decp_monitor.parse.messages import explain
from decp_monitor.parse.normalise import FileState, normalise

CHUNK = 1 << 16
MAX_DEPTH_RUN = 256
_OPENERS = re.compile(rb'(?:[\[{]\s*(?:"[^"\\]{0,80}"\s*:\s*)?){%d}' % MAX_DEPTH_RUN)
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN|"', re.S)
MOJIBAKE = "\ufffd".encode()


class TooDeep(Exception):
    pass


class _Source:
    """Opens the same content again for each pass (path or bytes)."""

    def __init__(self, source: Union[str, Path, bytes]):
        self.source = source

    def open(self):
        if isinstance(self.source, (bytes, bytearray)):
            return io.BytesIO(self.source)
        return open(self.source, "rb")


class _RawReader(io.RawIOBase):
    """Pass-through that skips a BOM, counts bytes and U+FFFD, and refuses absurd nesting."""

    def __init__(self, handle, skip: int):
        self.handle = handle
        if skip:
            handle.read(skip)
        self.offset = skip
        self.replacement_chars = 0
        self.balance = 0
        self._tail = b""

    def readable(self):
        return True

    def read(self, size=-1):
        if size == 0:  # ijson probes read(0) to tell bytes from str: consume nothing
            return b""
        data = self.handle.read(size if size and size > 0 else CHUNK)
        if data:
            self.offset += len(data)
            joined = self._tail + data
            self.replacement_chars += joined.count(MOJIBAKE) - self._tail.count(MOJIBAKE)
            # Cheap running balance of brackets (strings included, so approximate); the precise
            # regex only runs once the balance looks deep, keeping normal files on the fast path.
            self.balance += (data.count(b"[") + data.count(b"{") - data.count(b"]") - data.count(b"}"))
            if self.balance >= MAX_DEPTH_RUN and (_OPENERS.search(joined) or self.balance > 100 * MAX_DEPTH_RUN):
                raise TooDeep(self.offset)
            self._tail = data[-2048:]
        return data

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _SanitisingReader(_RawReader):
    """Decodes (UTF-8 or latin-1), rewrites bare NaN/Infinity to null, re-encodes UTF-8."""

    def __init__(self, handle, skip: int, encoding: str):
        super().__init__(handle, skip)
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.carry = ""
        self.replaced = 0
        self.eof = False

    def read(self, size=-1):
        if size == 0:
            return b""
        while True:
            raw = super().read(CHUNK)
            if not raw:
                self.eof = True
            text = self.carry + self.decoder.decode(raw, final=self.eof)
            out, self.carry = self._filter(text)
            if out or self.eof:
                return out.encode("utf-8")

    def _filter(self, text: str) -> tuple[str, str]:
        # Fast path: a raw newline never occurs inside a JSON string, so text up to the last one
        # ends outside any string; without NaN/Infinity in it, it passes through untouched.
        if not self.eof:
            cut = text.rfind("\n") + 1
            if cut and "NaN" not in text[:cut] and "Infinity" not in text[:cut]:
                return text[:cut], text[cut:]
        parts = []
        last = 0
        cut = len(text)
        for match in _TOKENS.finditer(text):
            token = match.group()
            if token == '"':  # unterminated string: wait for the next chunk
                if not self.eof:
                    cut = match.start()
                    break
                continue
            if token[0] != '"':
                parts.append(text[last:match.start()])
                parts.append("null")
                last = match.end()
                self.replaced += 1
        if not self.eof and cut == len(text):
            # keep a possible partial token (e.g. "Na") for the next chunk
            stripped = text.rstrip("-InfatyN")
            cut = max(len(stripped), last)
        parts.append(text[last:cut])
        return "".join(parts), text[cut:]


def _prefixes(source: _Source, skip: int) -> tuple[Optional[str], list[tuple[str, Optional[str]]]]:
    """Sniff the root: (format, [(ijson prefix, kind hint)]) or (None, []) for an unknown root."""
    with source.open() as handle:
        events = ijson.parse(_RawReader(handle, skip), use_float=True)
        try:
            prefix, event, value = next(events)
            if event == "start_array":
                return "json-2019", [("item", None)]
            if event != "start_map":
                return None, []
            keys = []
            for prefix, event, value in events:
                if prefix == "" and event == "map_key":
                    keys.append(value)
                    if value == "marches":
                        _, kind_event, _ = next(events)
                        if kind_event == "start_array":
                            return "json-2019", [("marches.item", None)]
                        if kind_event == "start_map":
                            _, ev, first = next(events)
                            if ev == "map_key" and first not in ("marche", "contrat-concession"):
                                return "json-2019", [("marches", None)]  # one record under "marches"
                            order = [("marches.marche.item", "marche"),
                                     ("marches.contrat-concession.item", "concession")]
                            if ev == "map_key" and first == "contrat-concession":
                                order.reverse()
                            return "json-2024", order
                        return None, []
                elif prefix == "" and event == "end_map":
                    break
            if "id" in keys and ("acheteur" in keys or "autoriteConcedante" in keys or "acheteur.id" in keys):
                return "json-2019", [("", None)]
            return None, []
        except (ijson.JSONError, ijson.IncompleteJSONError, TooDeep, UnicodeDecodeError):
            return "json-2019", [("marches.item", None)]  # the main pass will report the error


def _utf8_valid(source: _Source, skip: int) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with source.open() as handle:
        handle.read(skip)
        try:
            while True:
                data = handle.read(CHUNK)
                decoder.decode(data, final=not data)
                if not data:
                    return True
        except UnicodeDecodeError:
            return False


def read_json(source, name: str, skip: int) -> Iterator[Union[Record, Finding]]:
    src = _Source(source)
    state = FileState(name)
    fmt, passes = _prefixes(src, skip)
    if fmt is None:
        yield finding(name, "unknown_root", "Structure racine JSON inconnue (ni « marches » ni contrat isolé)")
        return
    position = 0
    sanitise = False
    encoding = "utf-8"
    done_per_pass = [0] * len(passes)
    reader = None
    while True:
        error = None
        try:
            for pass_index, (prefix, hint) in enumerate(passes):
                # 2024 files converted from XML may hold a single object where a list is due
                # ("marche": {...}): read the value itself when its list form gave nothing.
                attempts = (prefix, prefix[:-len(".item")]) if fmt == "json-2024" else (prefix,)
                for attempt in attempts:
                    seen = 0
                    with src.open() as handle:
                        reader = (_SanitisingReader(handle, skip, encoding) if sanitise else _RawReader(handle, skip))
                        for item in ijson.items(reader, attempt, use_float=True):
                            if attempt != prefix and not isinstance(item, dict):
                                break  # an empty list: nothing to read
                            seen += 1
                            if seen <= done_per_pass[pass_index]:
                                continue
                            done_per_pass[pass_index] = seen
                            if not isinstance(item, dict):
                                yield finding(name, "file_unreadable", "Élément de la liste des contrats qui n'est pas un objet",
                                              position=position, value=repr(item)[:200])
                                position += 1
                                continue
                            record, findings = normalise(item, position, fmt, state, hint)
                            yield record
                            yield from findings
                            position += 1
                    if seen:
                        break
        except TooDeep as exc:
            yield finding(name, "file_unreadable",
                          f"JSON refusé : imbrication de plus de {MAX_DEPTH_RUN} niveaux (vers l'octet {exc.args[0]})")
            return
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            error = exc
        if error is None:
            break
        if not sanitise:
            sanitise = True
            if not _utf8_valid(src, skip):
                encoding = "latin-1"
                yield finding(name, "encoding_fallback", "Fichier non UTF-8 : relu en latin-1")
            continue
        message = re.sub(r"\s+", " ", str(error).strip())[:300]
        yield finding(name, "file_unreadable",
                      f"JSON illisible vers l'octet {reader.offset if reader else 0} après {position} contrat(s) : "
                      f"{explain(message)}",
                      value=message)
        break
    if reader is not None and isinstance(reader, _SanitisingReader) and reader.replaced:
        yield finding(name, "non_standard_json",
                      f"JSON non standard : {reader.replaced} valeur(s) NaN/Infinity lue(s) comme absentes")
    if reader is not None and reader.replacement_chars:
        yield finding(name, "mojibake",
                      f"{reader.replacement_chars} caractère(s) de remplacement U+FFFD (texte corrompu)",
                      value=str(reader.replacement_chars))
    if position == 0:
        yield finding(name, "empty_file", "Fichier sans aucun contrat")
