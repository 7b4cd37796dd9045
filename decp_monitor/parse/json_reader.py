"""Streaming JSON reader (ijson, yajl2_c): memory bounded by the largest record.

Fast path: raw bytes straight into yajl. If yajl rejects the file, it is read again through a
sanitising wrapper (bare NaN/Infinity -> null) and the records already yielded are skipped, so
well-formed files never pay for the filter. The wrapper decodes UTF-8 until a byte is not; only
then is the file read again in latin-1 (no pass reads the whole file first to decide).

Hostile structure never reaches yajl: every pass reads through `_Structure`, which refuses nesting
beyond MAX_DEPTH and keys beyond MAX_KEY_BYTES (a file_unreadable finding, after the records
before them) and cuts text values beyond MAX_STRING_BYTES (a long_value finding), so time and
memory stay linear in the file's size whatever its shape.
"""
from __future__ import annotations

import codecs
import io
import mmap
import re
import reprlib
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Optional, Union

import ijson

from decp_monitor.core.findings import finding
from decp_monitor.core.model import Finding, Record
from decp_monitor.parse.messages import explain
from decp_monitor.parse.normalise import FileState, normalise

CHUNK = 1 << 16
# Real DECP files nest about ten levels. ijson keeps the dotted path of keys for every level: its
# memory and time per record grow with depth² x key length (a 10 MB file nesting 250 levels of
# 1000-byte keys took 9 s in ijson alone, 0.1 s at 60 levels), so both are bounded.
MAX_DEPTH = 64
MAX_KEY_BYTES = 1024  # real keys are under 40 characters
# Longer text values are cut there (a finding says so): yajl re-reads a value split across reads
# from its start at every read, so an unbounded value costs time quadratic in its length.
MAX_STRING_BYTES = 1 << 20
# What the sanitiser leaves untouched, matched as long runs: text without `"`, N, I or -, whole
# strings, and the N, I or - that do not start NaN / Infinity. A run stops at a bare NaN,
# [-]Infinity (replaced) or at an unterminated string. Possessive quantifiers keep it linear (an
# unterminated string is not retried); one match per run instead of one per string token made
# the filter 3.5x faster on a one-line 14 MB file with bare NaN.
_PLAIN = re.compile(r'(?:[^"NI\-]++|"(?:[^"\\]++|\\.)*+"|-(?!Infinity)|N(?!aN)|I(?!nfinity))++', re.S)
_BARE = re.compile(r"-?Infinity|NaN")
# The letters of a bare token a chunk may end in the middle of ("Na", "-Infini"): kept for the next
# chunk. The lowercase i was missing: "-Infini" + "ty" across two chunks went through unreplaced.
_PARTIAL = "-INafinty"
MOJIBAKE = "\ufffd".encode()
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
_SHORT = reprlib.Repr()  # bounded, whatever the item's size or depth
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 120, 120
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = [0] * 256
for _byte in b"[{":
    _DELTA[_byte] = 1
for _byte in b"]}":
    _DELTA[_byte] = -1


def release_pages(mm, start: int, end: int) -> None:
    """Drop the pages of [start, end) from this process's mapping (they stay in the page cache).

    A byte pass over a mapped file otherwise leaves every page it touched resident in the process:
    at 1.5 M records the 972 MB file alone put the load's peak RSS above 1 GB.
    """
    start -= start % mmap.PAGESIZE
    if end > start:
        mm.madvise(mmap.MADV_DONTNEED, start, end - start)


def find_releasing(mm, needle: bytes, start: int = 0) -> int:
    """mm.find(needle, start), releasing the pages it has read."""
    chunk = 16 << 20
    while start < len(mm):
        stop = min(len(mm), start + chunk + len(needle))
        pos = mm.find(needle, start, stop)
        release_pages(mm, start, min(stop, len(mm)) - len(needle))
        if pos != -1:
            return pos
        start += chunk
    return -1


class TooDeep(Exception):
    pass


class KeyTooLong(Exception):
    pass


class _Violation(Exception):
    def __init__(self, kind: type, position: int):
        super().__init__(position)
        self.kind, self.position = kind, position


class _Source:
    """Opens the same content again for each pass (path or bytes)."""

    def __init__(self, source: Union[str, Path, bytes]):
        self.source = source
        self._lacks: dict[str, bool] = {}

    def open(self):
        if isinstance(self.source, (bytes, bytearray)):
            return io.BytesIO(self.source)
        return open(self.source, "rb")

    def lacks_key(self, key: str) -> bool:
        """True when no JSON key `key` can be in the content: its quoted spelling is nowhere in the
        bytes and no \\u escape is either (the only way to spell an ASCII key otherwise). A byte
        search, far cheaper than a parse; False whenever it cannot tell."""
        if key not in self._lacks:
            needle = b'"' + key.encode("ascii") + b'"'
            if isinstance(self.source, (bytes, bytearray)):
                self._lacks[key] = needle not in self.source and b"\\u" not in self.source
            else:
                try:
                    with open(self.source, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                        self._lacks[key] = find_releasing(mm, needle) < 0 and find_releasing(mm, b"\\u") < 0
                except (OSError, ValueError):  # unreadable, or empty (mmap refuses 0 bytes)
                    self._lacks[key] = False
        return self._lacks[key]


class _Structure:
    """Follows the JSON structure of a byte stream chunk by chunk, outside the parser.

    It counts brackets outside strings only (a `[` in « Lot [A » is text), refuses nesting beyond
    MAX_DEPTH and keys beyond MAX_KEY_BYTES before yajl sees them, and cuts text values beyond
    MAX_STRING_BYTES. Everything runs in C-speed bytes operations (replace, split, translate):
    escaped quotes and backslashes are first masked with same-length neutral bytes, so every
    remaining `"` delimits a string and every other part of a split on `"` is structure.
    """

    def __init__(self):
        self.depth = 0
        self.in_string = False
        self.escape_pending = False  # the chunk ended on the `\` of an escape inside a string
        self.string_len = 0  # bytes of the open string so far
        self.cutting = False  # the open string is over MAX_STRING_BYTES: its rest is dropped
        self.key_check = False  # a long string just closed: a `:` next makes it a key
        self.truncated = 0
        self.refused: Optional[Exception] = None

    def feed(self, data: bytes, offset: int) -> bytes:
        """The bytes to give the parser (data, less the cut part of an over-long value).

        On a violation, the bytes before it are still given (the records they end are read)
        and `refused` holds the exception to raise at the next read.
        """
        try:
            return self._feed(data)
        except _Violation as violation:
            self.refused = violation.kind(offset + violation.position)
            return data[:violation.position]

    def _feed(self, data: bytes) -> bytes:
        starts_inside = self.in_string
        start = 1 if starts_inside and self.escape_pending else 0
        text = data[start:]
        if b"\\" in text:
            text = text.replace(b"\\\\", b"__").replace(b'\\"', b"__")
        parts = text.split(b'"')
        last = len(parts) - 1
        self.in_string = starts_inside ^ (last % 2 == 1)
        self.escape_pending = self.in_string and text.endswith(b"\\")
        given = data
        if starts_inside:
            before = self.string_len
            self.string_len += start + len(parts[0])
            if self.cutting or self.string_len > MAX_STRING_BYTES:
                given = self._cut(data, start, start + len(parts[0]), before, closes=last > 0)
            if last > 0:
                self.cutting = False
                self.key_check = self.string_len > MAX_KEY_BYTES + 1
                self._check_key(parts, 1, 0)
        elif self.key_check:
            self._check_key(parts, 0, 0)
        if self.in_string and (last > 0 or not starts_inside):
            self.string_len = len(parts[-1]) + 1  # the open string started in this chunk
        if max(map(len, parts)) > MAX_KEY_BYTES:
            self._long_keys(parts, starts_inside, start)
        structure = parts[1::2] if starts_inside else parts[0::2]
        brackets = b"".join(structure).translate(None, _NOT_BRACKETS)
        if brackets:
            opens = brackets.count(b"[") + brackets.count(b"{")
            if self.depth + opens > MAX_DEPTH:
                peak = max(accumulate(map(_DELTA.__getitem__, brackets), initial=self.depth))
                if peak > MAX_DEPTH:
                    raise _Violation(TooDeep, self._too_deep_at(parts, starts_inside, start))
            self.depth += opens - (len(brackets) - opens)
        return given

    def _too_deep_at(self, parts: list[bytes], starts_inside: bool, start: int) -> int:
        """Where in the chunk the nesting goes too deep (slow, only once per refused file)."""
        depth, position = self.depth, start
        for index, part in enumerate(parts):
            if (index % 2 == 1) == starts_inside:
                for at, byte in enumerate(part):
                    depth += _DELTA[byte]
                    if depth > MAX_DEPTH:
                        return position + at
            position += len(part) + 1
        return 0

    def _check_key(self, parts: list[bytes], index: int, position: int) -> None:
        """After a long string: a `:` next (maybe in a later chunk) makes it a key."""
        if not self.key_check or index >= len(parts):
            return
        head = parts[index].lstrip()
        if head[:1] == b":":
            raise _Violation(KeyTooLong, position)
        if head or index < len(parts) - 1:
            self.key_check = False

    def _cut(self, data: bytes, start: int, end: int, before: int, closes: bool) -> bytes:
        """Drop data[cut:end] of the open string (end: its closing quote, or the chunk's end)."""
        if self.cutting:
            cut = 0  # the value's head was given already, escapes included
        else:
            cut = max(16, MAX_STRING_BYTES - before)
            if cut >= end:  # the value ends within 16 bytes: keep it whole
                return data
            self.cutting = True
            self.truncated += 1
            # Never end inside an escape (\n, \uXXXX) or a multi-byte character.
            slash = data.rfind(b"\\", cut - 8, cut)
            if slash >= 0:
                cut = slash
                while cut > start and data[cut - 1] == 0x5C:
                    cut -= 1
            while cut > start and data[cut - 1] & 0xC0 == 0x80:
                cut -= 1
            if cut > start and data[cut - 1] >= 0xC0:
                cut -= 1
            # Nor between the two escapes of a surrogate pair (\ud83d\ude00, an emoji written by
            # json.dumps): a lone high surrogate is not text (found by test_hostile_json).
            if cut - 6 >= start and _HIGH_SURROGATE.fullmatch(data, cut - 6, cut):
                slashes = cut - 6
                while slashes > start and data[slashes - 1] == 0x5C:
                    slashes -= 1
                if (cut - 6 - slashes) % 2 == 0:  # the backslash is not itself escaped
                    cut -= 6
        return data[:cut] + data[end:] if closes else data[:cut]

    def _long_keys(self, parts: list[bytes], starts_inside: bool, start: int) -> None:
        """Slow path, only for chunks holding MAX_KEY_BYTES without a quote: strings opened and
        closed in this chunk that are followed by `:`."""
        position = start
        for index, part in enumerate(parts[:-1]):
            if (index % 2 == 1) != starts_inside and index and len(part) > MAX_KEY_BYTES:
                self.key_check = True
                self._check_key(parts, index + 1, position - 1)
            position += len(part) + 1


class _RawReader(io.RawIOBase):
    """Pass-through that skips a BOM, counts bytes and U+FFFD, and guards the structure."""

    def __init__(self, handle, skip: int):
        self.handle = handle
        if skip:
            handle.read(skip)
        self.offset = skip
        self.replacement_chars = 0
        self.structure = _Structure()
        self._tail = b""

    def readable(self):
        return True

    def read(self, size=-1):
        if size == 0:  # ijson probes read(0) to tell bytes from str: consume nothing
            return b""
        while True:
            if self.structure.refused is not None:
                raise self.structure.refused
            data = self.handle.read(size if size and size > 0 else CHUNK)
            if not data:
                return data
            start = self.offset
            self.offset += len(data)
            joined = self._tail + data
            self.replacement_chars += joined.count(MOJIBAKE) - self._tail.count(MOJIBAKE)
            self._tail = data[-2:]
            given = self.structure.feed(data, start)
            if given:  # empty when the whole chunk was the cut part of a long value
                return given

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
        self.undecodable = False  # the decoder met a byte the encoding does not allow

    def read(self, size=-1):
        if size == 0:
            return b""
        while True:
            raw = super().read(CHUNK)
            if not raw:
                self.eof = True
            try:
                decoded = self.decoder.decode(raw, final=self.eof)
            except UnicodeDecodeError:
                self.undecodable = True
                raise
            text = self.carry + decoded
            out, self.carry = self._filter(text, by_quotes=True)
            if out or self.eof:
                return out.encode("utf-8")

    def _filter(self, text: str, by_quotes: bool = False) -> tuple[str, str]:
        """(text to give, text kept for the next chunk); `text` starts outside any string.
        `by_quotes`: before the end of the file, _by_quotes() instead of the token regex."""
        # Fast path: a raw newline never occurs inside a JSON string, so text up to the last one
        # ends outside any string; without NaN/Infinity in it, it passes through untouched.
        if not self.eof:
            cut = text.rfind("\n") + 1
            if cut and "NaN" not in text[:cut] and "Infinity" not in text[:cut]:
                return text[:cut], text[cut:]
            if by_quotes:
                return self._by_quotes(text)
        parts = []
        last = pos = 0
        cut = end = len(text)
        plain, bare = _PLAIN.match, _BARE.match
        while True:
            run = plain(text, pos)
            if run is not None:
                pos = run.end()
            if pos >= end:
                break
            token = bare(text, pos)
            if token is None:  # an unterminated string: wait for the next chunk
                if not self.eof:
                    cut = pos
                    break
                pos += 1
                continue
            parts.append(text[last:pos])
            parts.append("null")
            last = pos = token.end()
            self.replaced += 1
        if not self.eof and cut == len(text):
            # keep a possible partial token (e.g. "Na") for the next chunk
            stripped = text.rstrip(_PARTIAL)
            cut = max(len(stripped), last)
        parts.append(text[last:cut])
        return "".join(parts), text[cut:]

    def _by_quotes(self, text: str) -> tuple[str, str]:
        """_filter without the token regex over every character (a one-line file, such as the
        national consolidated file, has no newline for the fast path): escaped quotes and
        backslashes masked as in _Structure, an odd number of quotes before a NaN/Infinity puts it
        in a string, and an odd number in the whole text means that it ends inside one, which is
        kept, from its opening quote, for the next chunk. The same as the token regex on JSON text
        (tests/parse/test_small_files.py); a backslash outside any string, which yajl refuses
        anyway, may count a NaN after it differently."""
        masked = text.replace("\\\\", "__").replace('\\"', "__") if "\\" in text else text
        if masked.count('"') % 2:
            cut = masked.rfind('"')
        else:
            cut = len(text.rstrip(_PARTIAL))  # a possible partial token (e.g. "Na"): next chunk
        head = text[:cut]
        if "NaN" not in head and "Infinity" not in head:
            return head, text[cut:]
        parts = []
        last = counted = 0
        inside = False
        for token in _BARE.finditer(head):
            start = token.start()
            inside ^= masked.count('"', counted, start) % 2 == 1
            counted = start
            if not inside:
                parts.append(head[last:start])
                parts.append("null")
                last = token.end()
                self.replaced += 1
        parts.append(head[last:])
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
                            order: list[tuple[str, Optional[str]]] = [("marches.marche.item", "marche"),
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
        except (ijson.JSONError, ijson.IncompleteJSONError, TooDeep, KeyTooLong, UnicodeDecodeError):
            return "json-2019", [("marches.item", None)]  # the main pass will report the error


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
    whole = None  # the reader of the first pass's first attempt: it parsed the whole file
    truncated = 0
    while True:
        error = None
        try:
            for pass_index, (prefix, hint) in enumerate(passes):
                # 2024 files converted from XML may hold a single object where a list is due
                # ("marche": {...}): read the value itself when its list form gave nothing.
                attempts = (prefix, prefix[:-len(".item")]) if fmt == "json-2024" else (prefix,)
                for attempt_index, attempt in enumerate(attempts):
                    if (pass_index or attempt_index) and src.lacks_key(prefix.split(".")[1]):
                        # Nothing can be read under a key the file does not hold, and the first
                        # attempt already parsed the whole file without error: a parse saved
                        # (most 2024 files hold no "contrat-concession"). Its counts are the same.
                        reader = whole
                        continue
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
                                              position=position, value=_SHORT.repr(item))
                                position += 1
                                continue
                            record, findings = normalise(item, position, fmt, state, hint)
                            yield record
                            yield from findings
                            position += 1
                    truncated = max(truncated, reader.structure.truncated)
                    if not (pass_index or attempt_index):
                        whole = reader
                    if seen:
                        break
        except TooDeep as exc:
            yield finding(name, "file_unreadable",
                          f"JSON refusé à partir de l'octet {exc.args[0]} : imbrication de plus de {MAX_DEPTH} niveaux "
                          f"(lecture arrêtée après {position} contrat(s))")
            return
        except KeyTooLong as exc:
            yield finding(name, "file_unreadable",
                          f"JSON refusé à partir de l'octet {exc.args[0]} : nom de champ de plus de {MAX_KEY_BYTES} octets "
                          f"(lecture arrêtée après {position} contrat(s))")
            return
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
            error = exc
        if error is None:
            break
        if not sanitise:
            # Read again in UTF-8 from the start (the records yielded are skipped), instead of
            # first reading the whole file to learn its encoding: a file with bare NaN (the
            # national consolidated file) is then read whole once. Text before the first byte
            # that is not UTF-8 reads the same as when yajl stops there on the strict pass.
            sanitise = True
            continue
        if encoding == "utf-8" and isinstance(reader, _SanitisingReader) and reader.undecodable:
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
    if truncated:
        yield finding(name, "long_value",
                      f"{truncated} valeur(s) texte de plus de {MAX_STRING_BYTES // (1 << 20)} Mo tronquée(s) "
                      f"à {MAX_STRING_BYTES // (1 << 20)} Mo", value=str(truncated))
    if reader is not None and reader.replacement_chars:
        yield finding(name, "mojibake",
                      f"{reader.replacement_chars} caractère(s) de remplacement U+FFFD (texte corrompu)",
                      value=str(reader.replacement_chars))
    if position == 0:
        yield finding(name, "empty_file", "Fichier sans aucun contrat")
