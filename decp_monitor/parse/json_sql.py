"""SQL-native loading of DECP JSON: DuckDB reads the records array, in two lanes.

    outcome = load_json_sql(con, path, name, resource_id, first_record_id)
    if outcome.reason is None: outcome.records rows were written straight into records,
                               record_modifications and findings; outcome.findings are the few
                               file-level findings left to the caller (mojibake, empty file).
    else: nothing was written; outcome.reason says in French why the streaming reader must read it.

No Python object is made per record: the records array (2019 `{"marches": [...]}`, 2024
`{"marches": {"marche": [...], "contrat-concession": [...]}}`, or a bare `[...]`) is located by
looking at the first and last bytes of the file; one pass in C over the bytes (_jsonscan.c: scan())
checks what DuckDB must not see and finds where each record starts; the array is cut between
records into pieces read at once, each copied by the kernel into a file of its own
(copy_file_range), and read by DuckDB in two lanes:
- the typed lane (json_fast.sql): `read_json` with explicit column types, normalised over typed
  columns, for the records whose typed read is provably what the Python normaliser reads;
- the exact lane (json_sql.sql): `read_json_objects`, normalised over JSON values (some forty JSON
  functions per record), for the other records (read at their offsets, or picked by a pass over
  every record's text when keys may carry stray spaces: SPACED_KEY), or for the whole array when
  the typed reader rejects it (repeated key, unexpected JSON type).
`outcome.exact` counts the records of the exact lane; above MAX_EXACT_SHARE of a file, the file
is declined (the streaming reader is then quicker).

A file with bare NaN/Infinity is read in a copy where they are null (_read_sanitised), as the
streaming reader's sanitising pass reads them. load_json_files reads several files (xml_sql's
pieces) as one file's records, each file uncut.

The streaming reader (json_reader.py) stays the reference and the fallback: a file goes to it when
its root is unusual, when it holds what DuckDB reads differently (BOM, absurd nesting, a comma
before a closing bracket), when DuckDB rejects it (truncation, invalid UTF-8…), or when a record
needs what the SQL does not reproduce exactly (`exotic` in json_sql.sql). The two paths give the
same tables (tests/test_json_sql.py).
"""
from __future__ import annotations

import bisect
import datetime as dt
import mmap
import os
import re
import tempfile
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import duckdb
import numpy as np
import pyarrow as pa

from decp_monitor.core import findings as finding_codes
from decp_monitor.core.findings import finding
from decp_monitor.core.model import Finding
from decp_monitor.core.siret import install_sql as install_siret_sql
from decp_monitor.parse import _jsonscan
from decp_monitor.parse.json_reader import MAX_DEPTH, MAX_KEY_BYTES, MAX_STRING_BYTES, find_releasing, release_pages

SQL_FILE = Path(__file__).resolve().with_name("json_sql.sql")
MACROS, STAGE = SQL_FILE.read_text(encoding="utf-8").split("-- stage --", 1)
# The characters Python's str.strip() removes, as an SQL literal (no quote among them).
# No code point above U+3000 (ideographic space) is a space to str.isspace(): scanning up to it
# instead of 0x10FFFF saves 0.4 s at every start (tests/test_json_sql.py checks the bound).
PY_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
MACROS = MACROS.replace("{PY_WHITESPACE}", PY_WHITESPACE)
FAST_FILE = Path(__file__).resolve().with_name("json_fast.sql")
FAST_MACROS, FAST_STAGE = FAST_FILE.read_text(encoding="utf-8").split("-- stage --", 1)
FAST_MACROS = FAST_MACROS.replace("{PY_WHITESPACE}", PY_WHITESPACE)
# A key that Python's str.strip() would change, in a record's JSON text (RE2): a space (any
# character str.isspace() accepts, raw or escaped) just inside the quotes of a string followed by
# ":", or just after the quote of a string that follows "{" or ",". Conservative: a string value
# such as ":x" or an array item " x" also matches, which only sends that record to the exact lane.
_PY_SPACE = r"[\s\x{0b}\x{0c}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
SPACED_KEY = (r'(?:' + _PY_SPACE + r'|\\[tnrfb]|\\u[0-9a-fA-F]{4})"\s*:'
              r'|[{,]\s*"(?:' + _PY_SPACE + r'|\\[tnrfbu])')
# A record the streaming reader would cut (a text beyond MAX_STRING_BYTES: long_value) or refuse
# (a key beyond MAX_KEY_BYTES: file_unreadable), which neither lane reproduces: the file is left to
# the streaming reader. Only records longer than the key limit are searched (3 % of the clean
# corpus: the search over every record cost 0.4 s of CPU per 185 000), and the search counts
# characters, not bytes: keys of a quarter of the limit already match, a conservative bound.
_BEYOND = ("CASE WHEN strlen(o.j::VARCHAR) > $max_text THEN TRUE "
           "WHEN strlen(o.j::VARCHAR) > $max_key THEN regexp_matches(o.j, $long_key) ELSE FALSE END")
_BEYOND_PARAMS = {"max_text": MAX_STRING_BYTES, "max_key": MAX_KEY_BYTES,
                  "long_key": r'(?:[^"\\]|\\.){' + str(MAX_KEY_BYTES // 4 + 1) + r'}"\s*:'}
_BEYOND_REASON = "valeur ou nom de champ au-delà des limites du lecteur en flux"
# A {"titulaire": …} wrapper that is not the only key of its object, or whose value is not a flat
# object (json_fast.sql unwraps the others): a key before it, a key after its object, an object
# inside it, or a value other than an object. Searched only in records that name it.
_STRING = r'"(?:[^"\\]|\\.)*"'
WRAPPED_SIBLING = (r',\s*"titulaire"\s*:'
                   r'|"titulaire"\s*:\s*\{(?:[^{}"]|' + _STRING + r')*\}\s*,'
                   r'|"titulaire"\s*:\s*\{(?:[^{}"]|' + _STRING + r')*\{'
                   r'|"titulaire"\s*:\s*[^\s{]')
# The exact lane reads either the records the fast lane routed to it, or a whole array.
_WHOLE_ARRAY = "(SELECT ord - 1 AS position, j FROM read_json_objects($path, format = 'array') " \
               "WITH ORDINALITY AS t(j, ord))"
# Below this size the streaming reader is quicker than setting up the queries (per-publication
# files hold a handful of records): the SQL path costs ~0.24 s per file plus ~0.03 s of CPU per MB,
# the streaming reader ~0.055 s per MB (real 2019 files of 0.45-4.6 MB, 1 Dec 2026: 0.25-0.39 s
# against 0.03-0.27 s), so they cross near 10 MB; above it DuckDB's reader is the faster.
MIN_SQL_BYTES = 8 << 20
# Above this share of records read by the exact lane (~100 µs of CPU each, against ~10 µs for the
# typed lane and ~60 µs for the streaming reader plus its inserts), the streaming reader is quicker:
# the file is declined, after the typed lane's read, before anything is written.
MAX_EXACT_SHARE = 0.5
# Half the streaming reader's refusal of absurd nesting (json_reader.MAX_DEPTH = 64): a file that
# comes near it is left to the reader that owns the rule (at 128, above that rule, DuckDB read
# files nesting 65-127 levels that the streaming reader refuses). Real files nest at most 11 (every
# file of ../shared/real) and the generated 1.5 M-record file 4.
DEPTH_WATCH = MAX_DEPTH // 2
# An array is cut for concurrent reading (cut()) into pieces of at least this size.
MIN_CUT_BYTES = 16 << 20
_SPACE = b" \t\r\n"
_ROOT = re.compile(rb'\s*\{(?:\s*"[^"\\]{0,80}"\s*:\s*"[^"\\]{0,500}"\s*,)*\s*"marches"\s*:\s*([\[{])')
_INNER = re.compile(rb'\s*"(marche|contrat-concession)"\s*:\s*\[')
LANE_COLUMNS = ("position, kind, buyer_siret, buyer_name, contract_id, uid, nature, objet, procedure, cpv, amount, "
                "duration_months, notification_date, start_date, publication_date, notification_date_raw, "
                "publication_date_raw, place_code, place_type, place_name, holders, modifications, findings")
_KINDS = {b"marche": "marche", b"contrat-concession": "concession"}


@dataclass
class Outcome:
    reason: Optional[str] = None  # French: why the file must be read by the streaming reader
    records: int = 0
    exact: int = 0  # records the exact lane read (json_sql.sql); the others, the typed lane (json_fast.sql)
    format: Optional[str] = None
    findings: list[Finding] = field(default_factory=list)


@dataclass
class _Part:
    start: int  # offset of the array's "[" (of its first record's "{" when cut from an array)
    end: int  # offset just after its "]" (its last record's "}" when cut)
    hint: Optional[str]  # "marche" | "concession" from the 2024 key, None in the 2019 shape
    opens: bool = False  # a piece cut from an array: "[" goes before its bytes
    closes: bool = False  # and "]" after them
    source: Path = Path()  # the file it is in (set by _prepare)


def _skip_back(mm, pos: int) -> int:
    """Index of the last non-space byte before `pos`."""
    pos -= 1
    while pos >= 0 and mm[pos:pos + 1] in (b" ", b"\t", b"\r", b"\n"):
        pos -= 1
    return pos


def _expect_tail(mm, closers: bytes) -> Optional[int]:
    """Offset just after the final "]" when the file ends with `]` + `closers` (spaces allowed)."""
    pos = len(mm)
    for closer in reversed(closers):
        pos = _skip_back(mm, pos)
        if pos < 0 or mm[pos:pos + 1] != bytes([closer]):
            return None
    pos = _skip_back(mm, pos)
    if pos < 0 or mm[pos:pos + 1] != b"]":
        return None
    return pos + 1


def _second_array(mm, first_start: int, key: bytes) -> Optional[tuple[int, int]]:
    """(end of the first array, start of the second) where `], "<key>": [` joins them."""
    needle = b'"' + key + b'"'
    pos = find_releasing(mm, needle, first_start)
    while pos != -1:
        before = _skip_back(mm, pos)
        if before >= 0 and mm[before:before + 1] == b",":
            close = _skip_back(mm, before)
            after = re.match(rb"\s*:\s*\[", mm[pos + len(needle):pos + len(needle) + 256])
            if close >= 0 and mm[close:close + 1] == b"]" and after:
                return close + 1, pos + len(needle) + after.end() - 1
        pos = find_releasing(mm, needle, pos + 1)
    return None


def plan(mm) -> tuple[Optional[str], list[_Part], str]:
    """(format, record arrays, reason): the arrays DuckDB can read, or a French reason not to."""
    head = mm[:65536]
    if head.startswith(b"\xef\xbb\xbf"):
        return None, [], "marque d'ordre d'octets (BOM) en tête de fichier"
    text = head.lstrip(_SPACE)
    if text.startswith(b"["):
        return "json-2019", [_Part(len(head) - len(text), len(mm), None)], ""
    root = _ROOT.match(head)
    if root is None:
        return None, [], "structure racine inhabituelle"
    if root.group(1) == b"[":
        end = _expect_tail(mm, b"}")
        if end is None:
            return None, [], "contenu inattendu après la liste des contrats"
        return "json-2019", [_Part(root.end() - 1, end, None)], ""
    inner = _INNER.match(head, root.end())
    if inner is None:
        return None, [], "structure « marches » inhabituelle"
    end = _expect_tail(mm, b"}}")
    if end is None:
        return None, [], "contenu inattendu après les listes de contrats"
    first_key = inner.group(1)
    other = b"contrat-concession" if first_key == b"marche" else b"marche"
    first = _Part(inner.end() - 1, end, _KINDS[first_key])
    joint = _second_array(mm, first.start, other)
    if joint is None:
        return "json-2024", [first], ""
    first.end = joint[0]
    return "json-2024", [first, _Part(joint[1], end, _KINDS[other])], ""


@dataclass
class Scanned:
    """What the byte scan (_jsonscan.c) saw of a file."""

    reason: str = ""  # French: why DuckDB must not read it ("" when it may)
    bare_values: bool = False  # the reason is a bare NaN/Infinity (a sanitised copy may be read instead)
    replacement: int = 0  # U+FFFD characters (the mojibake finding)
    spaced_keys: bool = True  # a key str.strip() would change may be in it (SPACED_KEY is searched)
    # Whether the routing may take the records the typed lane left by their offsets, instead of
    # reading every record's text again: no key to search for (spaced, too long, a "titulaire"
    # wrapper), nothing but objects in the arrays (offsets are then positions), no record longer
    # than the streaming reader's bound on texts.
    by_offset: bool = False
    starts: list[array] = field(default_factory=list)  # per records array: the offset of each record


# Record offsets the scan keeps at most (8 bytes each): beyond, none are kept, and the file is read
# uncut, every text read again for the routing (a hostile file of 300 million "{}" would otherwise
# hold 2.4 GB of offsets). The national consolidated file holds about 1.4 million records.
MAX_OFFSETS = 8 << 20
_SCAN_REASONS = {"nan": "valeurs NaN ou Infinity (JSON non standard)", "depth": "imbrication très profonde",
                 "comma": "virgule en trop avant une fin d'objet ou de liste"}


def scan(path: Path, arrays: list[_Part]) -> Scanned:
    """One pass over the file's bytes, in C: bare NaN/Infinity, nesting, U+FFFD, spaced keys, and
    where each record of `arrays` starts (for cut())."""
    problem, replacement, flags, packed = _jsonscan.scan(str(path), [part.start for part in arrays], DEPTH_WATCH,
                                                         MAX_KEY_BYTES // 4, MAX_OFFSETS)
    if problem:
        return Scanned(reason=f"{_SCAN_REASONS[problem[0]]} (octet {problem[1]})",
                       bare_values=problem[0] == "nan" and _starts_bare_value(path, problem[1]))
    starts = []
    for offsets in packed:
        starts.append(array("q"))
        starts[-1].frombytes(offsets)
    by_offset = not (flags["spaced_keys"] or flags["long_keys"] or flags["wrapped_keys"] or flags["scalars"]
                     or flags["too_many"])
    for part, record_starts in zip(arrays, starts):
        lengths = np.diff(np.frombuffer(record_starts, dtype=np.int64), append=part.end)
        if len(lengths) and lengths.max() > MAX_STRING_BYTES:
            by_offset = False
    return Scanned(replacement=replacement, spaced_keys=flags["spaced_keys"], by_offset=by_offset, starts=starts)


def _starts_bare_value(path: Path, at: int) -> bool:
    """Whether the scan's first bare letter starts NaN or Infinity (-Infinity: at its I), which the
    copy writes null; another (a bare None) would stay in the copy: a whole file copied for nothing."""
    with open(path, "rb") as handle:
        handle.seek(at)
        head = handle.read(8)
    return head.startswith(b"NaN") or head == b"Infinity"


def cut(mm, part: _Part, pieces: int, starts: array) -> list[_Part]:
    """`part` cut between records into up to `pieces` arrays of about equal size.

    DuckDB reads a JSON array on one thread (only newline-delimited JSON is split across threads):
    read piece by piece on as many connections, a national file uses every core. `starts` (from
    scan(), which tells strings from structure) are the offsets of the array's records: a piece
    ends just after the record before a start, and the next one begins at it."""
    if pieces < 2 or part.end - part.start < MIN_CUT_BYTES * 2 or len(starts) < 2:
        return [part]
    cuts: list[tuple[int, int]] = []  # (end of a piece: after its last record, start of the next)
    for k in range(1, pieces):
        index = bisect.bisect_left(starts, part.start + (part.end - part.start) * k // pieces)
        if index <= 0 or index >= len(starts) or (cuts and starts[index] <= cuts[-1][1]):
            continue
        comma = _skip_back(mm, starts[index])
        if mm[comma:comma + 1] == b",":
            cuts.append((_skip_back(mm, comma) + 1, starts[index]))
    if not cuts:
        return [part]
    pieces_out = []
    start, opens = part.start, part.opens
    for close, open_ in cuts:
        pieces_out.append(_Part(start, close, part.hint, opens=opens, closes=True))
        start, opens = open_, True
    pieces_out.append(_Part(start, part.end, part.hint, opens=opens, closes=part.closes))
    return pieces_out


def install(con: duckdb.DuckDBPyConnection) -> None:
    """The normaliser's macros and the severity of each finding code, once per connection."""
    if con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'decp_fast_holder_ok'").fetchall()[0][0]:
        return
    install_siret_sql(con)
    for statement in (MACROS + FAST_MACROS).split(";\n"):  # one by one: DuckDB's splitter trips on quotes in comments
        if statement.strip():
            con.execute(statement)
    severities = pa.table({"code": list(finding_codes.CODES),  # noqa: F841 - read by DuckDB
                           "severity": [finding_codes.severity(c) for c in finding_codes.CODES]})
    con.execute("CREATE OR REPLACE TEMP TABLE decp_severities AS SELECT * FROM severities")
    # The columns both lanes give (json_fast.sql, json_sql.sql), for a lane that reads nothing.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE decp_fast_empty (
            position BIGINT, kind VARCHAR, buyer_siret VARCHAR, buyer_name VARCHAR, contract_id VARCHAR,
            uid VARCHAR, nature VARCHAR, objet VARCHAR, procedure VARCHAR, cpv VARCHAR, amount DOUBLE,
            duration_months INTEGER, notification_date DATE, start_date DATE, publication_date DATE,
            notification_date_raw VARCHAR, publication_date_raw VARCHAR, place_code VARCHAR, place_type VARCHAR,
            place_name VARCHAR, holders VARCHAR,
            modifications STRUCT(position BIGINT, modification_id VARCHAR, notification_date DATE,
                                 publication_date DATE, amount DOUBLE, duration_months INTEGER, objet VARCHAR)[],
            findings STRUCT(code VARCHAR, field VARCHAR, message VARCHAR, value VARCHAR)[])""")


def _copy_range(source: Path, part: _Part, folder: str, index: int) -> str:
    """The bytes of `part` in a file of their own, copied by the kernel (with the brackets of a
    piece cut from an array)."""
    target = os.path.join(folder, f"part-{index}.json")
    with open(source, "rb") as src, open(target, "wb") as dst:
        if part.opens:
            dst.write(b"[")
            dst.flush()
        offset, left = part.start, part.end - part.start
        while left > 0:
            copied = os.copy_file_range(src.fileno(), dst.fileno(), left, offset)
            if copied == 0:
                break
            offset += copied
            left -= copied
        if part.closes:
            dst.seek(0, os.SEEK_END)
            dst.write(b"]")
    return target


def load_json_sql(con: duckdb.DuckDBPyConnection, path: Path, name: str, resource_id: Optional[str],
                  first_record_id: int, today: Optional[dt.date] = None,
                  min_bytes: Optional[int] = None, max_exact_share: Optional[float] = None,
                  pieces: Optional[int] = None, record_format: Optional[str] = None,
                  sanitised: Optional[int] = None) -> Outcome:
    """record_format, when given, is written as each record's format instead of the JSON one read
    (xml_sql: the JSON it writes from an XML file). sanitised: `path` is a copy of the file with
    that many bare NaN/Infinity written null (_read_sanitised)."""
    path = Path(path)
    size = path.stat().st_size
    if size < max(MIN_SQL_BYTES if min_bytes is None else min_bytes, 1):
        return Outcome(reason="petit fichier (lecteur en flux plus rapide)")
    if pieces is None:
        pieces = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    prepared = _prepare(path, pieces)
    if prepared.scanned.bare_values and sanitised is None:
        outcome = _read_sanitised(con, path, name, resource_id, first_record_id, today=today, min_bytes=min_bytes,
                                  max_exact_share=max_exact_share, pieces=pieces, record_format=record_format)
        if outcome.reason is not None:  # said of the copy, whose offsets are not the file's: both said
            outcome.reason = f"{prepared.reason} ; copie où elles valent null : {outcome.reason}"
        return outcome
    return _load([prepared], con, name, resource_id, first_record_id, today, max_exact_share, record_format,
                 sanitised)


def load_json_files(con: duckdb.DuckDBPyConnection, paths: list[Path], name: str, resource_id: Optional[str],
                    first_record_id: int, today: Optional[dt.date] = None,
                    max_exact_share: Optional[float] = None, record_format: Optional[str] = None) -> Outcome:
    """The records of several JSON files, in their order, as those of one file `name`: the pieces
    of one file's records written apart (xml_sql's walk writes one per thread). Each is read whole
    on its own connection, so none is copied again to be cut (a national XML file's JSON is ~1 GB)."""
    with ThreadPoolExecutor(max_workers=max(1, len(paths))) as pool:  # the scan releases the GIL
        prepared = list(pool.map(lambda path: _prepare(Path(path), 1), paths))
    return _load(prepared, con, name, resource_id, first_record_id, today, max_exact_share, record_format, None)


@dataclass
class _Prepared:
    """One file planned and scanned: its parts (cut for concurrent reading), where their records are."""

    scanned: Scanned
    fmt: Optional[str] = None
    parts: list[_Part] = field(default_factory=list)
    texts: list[Optional[_Texts]] = field(default_factory=list)  # where the routing finds each part's records
    reason: str = ""  # French: why DuckDB must not read the file


def _prepare(path: Path, pieces: int) -> _Prepared:
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        fmt, arrays, reason = plan(mm)
        if reason:
            return _Prepared(Scanned(), reason=reason)
        scanned = scan(path, arrays)
        if scanned.reason:
            return _Prepared(scanned, fmt, reason=scanned.reason)
        prepared = _Prepared(scanned, fmt)
        for array, starts in zip(arrays, scanned.starts):
            for piece in cut(mm, array, pieces, starts):
                piece.source = path
                prepared.parts.append(piece)
                prepared.texts.append(_Texts(path, starts[bisect.bisect_left(starts, piece.start):
                                                          bisect.bisect_left(starts, piece.end)], piece.end)
                                      if scanned.by_offset else None)
        release_pages(mm, 0, len(mm))
    return prepared


def _load(files: list[_Prepared], con: duckdb.DuckDBPyConnection, name: str, resource_id: Optional[str],
          first_record_id: int, today: Optional[dt.date], max_exact_share: Optional[float],
          record_format: Optional[str], sanitised: Optional[int]) -> Outcome:
    """The parts of planned and scanned files into the tables, as one file's records, and the
    file-level findings (NaN read as null, U+FFFD, no record at all)."""
    reason = next((f.reason for f in files if f.reason), None)
    if reason:
        return Outcome(reason=reason)
    fmt = record_format or files[0].fmt
    assert fmt is not None  # plan() names the format whenever it gives no reason
    keys_plain = not any(f.scanned.spaced_keys for f in files)  # no key to search for (SPACED_KEY)
    share = MAX_EXACT_SHARE if max_exact_share is None else max_exact_share
    parts = [part for f in files for part in f.parts]
    texts = [text for f in files for text in f.texts]
    outcome = _load_parts(con, parts, texts, name, resource_id, first_record_id, today or dt.date.today(), share,
                          fmt, keys_plain)
    if outcome.reason:
        return outcome
    outcome.format = fmt
    if sanitised:  # worded as the streaming reader's sanitising pass words it
        outcome.findings.append(finding(name, "non_standard_json",
                                        f"JSON non standard : {sanitised} valeur(s) NaN/Infinity lue(s) comme absentes"))
    replacement = sum(f.scanned.replacement for f in files)
    if replacement:
        outcome.findings.append(finding(name, "mojibake",
                                        f"{replacement} caractère(s) de remplacement U+FFFD (texte corrompu)",
                                        value=str(replacement)))
    if outcome.records == 0:
        outcome.findings.append(finding(name, "empty_file", "Fichier sans aucun contrat"))
    return outcome


def _read_sanitised(con: duckdb.DuckDBPyConnection, path: Path, name: str, resource_id: Optional[str],
                    first_record_id: int, **options) -> Outcome:
    """A file with bare NaN/Infinity (Python's json accepts them, DuckDB does not; national files
    written by pandas hold them): its copy with each written null, read by this path, as the
    streaming reader's sanitising pass reads them, with the same finding. The copy is written in
    C at disk speed; the streaming reader read such a file at ~60 µs a record."""
    with tempfile.TemporaryDirectory(prefix="decp-nan-") as folder:
        copy = Path(folder) / "sanitised.json"
        try:
            replaced = _jsonscan.sanitise(str(path), str(copy))
        except OSError as exc:
            return Outcome(reason=f"écriture impossible ({exc.strerror or exc})")  # load_json_sql says of what
        return load_json_sql(con, copy, name, resource_id, first_record_id, sanitised=replaced, **options)


def _load_parts(con: duckdb.DuckDBPyConnection, parts: list[_Part], texts: list[Optional[_Texts]],
                name: str, resource_id: Optional[str], first_record_id: int, today: dt.date, share: float,
                fmt: str, keys_plain: bool) -> Outcome:
    """Both lanes over each part, the parts read at once on connections of their own (one per
    part: DuckDB runs a statement over one JSON array on one thread), then written at once."""
    cursors = [con.cursor() for _ in parts] if len(parts) > 1 else [con]
    try:
        try:
            with tempfile.TemporaryDirectory(prefix="decp-json-") as folder:
                sources = [str(part.source) if part.start == 0 and part.end == part.source.stat().st_size
                           and not part.opens and not part.closes
                           else _copy_range(part.source, part, folder, index) for index, part in enumerate(parts)]
                jobs = [(cursor, {"path": source, "hint": part.hint, "today": today}, keys_plain, part_texts)
                        for cursor, source, part, part_texts in zip(cursors, sources, parts, texts)]
                if len(jobs) == 1:
                    results = [_read_checked(*jobs[0])]
                else:
                    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                        results = list(pool.map(lambda job: _read_checked(*job), jobs))
        except duckdb.Error as exc:
            return Outcome(reason=_refused(exc))
        except OSError as exc:  # pieces copied to a full temporary disk: nothing written yet; the streaming
            # reader needs no copy (a NaN file's pieces are a second copy, of its sanitised copy)
            return Outcome(reason=f"écriture des morceaux impossible ({exc.strerror or exc})")
        declined = next((r for r in results if isinstance(r, str)), None)
        if declined:
            return Outcome(reason=declined)
        counts = [r for r in results if not isinstance(r, str)]
        records = sum(count for count, _ in counts)
        exact = sum(routed for _, routed in counts)
        if exact > share * records:
            return Outcome(reason=f"{exact} contrats sur {records} hors de la voie rapide "
                                  "(lecteur en flux plus rapide)")
        # From here a failure is not the file's: it fails the build (the previous version keeps
        # serving) instead of sending the file to the streaming reader on top of rows written.
        offsets = [sum(count for count, _ in counts[:index]) for index in range(len(counts))]
        if len(cursors) == 1:
            _write(con, name, resource_id, first_record_id, 0, fmt)
        else:  # appends from several connections at once (DuckDB's appends do not conflict)
            with ThreadPoolExecutor(max_workers=len(cursors)) as pool:
                list(pool.map(lambda job: _write(job[0], name, resource_id, first_record_id, job[1], fmt),
                              zip(cursors, offsets)))
    finally:
        _drop_stages(con, cursors)
    return Outcome(records=records, exact=exact)


def _drop_stages(con: duckdb.DuckDBPyConnection, cursors: list) -> None:
    for cursor in cursors:
        for stage in ("decp_fast", "decp_stage", "decp_routed"):
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        if cursor is not con:
            cursor.close()


def _refused(exc: duckdb.Error) -> str:
    message = re.sub(r"\s+", " ", str(exc))[:200]
    return f"refusé par DuckDB ({message})"


def _read_checked(cursor: duckdb.DuckDBPyConnection, params: dict, keys_plain: bool,
                  texts: "Optional[_Texts]") -> "tuple[int, int] | str":
    """(records, records of the exact lane) of one part, or the French reason the streaming reader
    must read the file."""
    install(cursor)
    try:
        count, routed = _read_part(cursor, params, keys_plain, texts)
    except _Declined as declined:
        return str(declined)
    except duckdb.Error as exc:
        return _refused(exc)
    if routed and cursor.execute(
            "SELECT coalesce(bool_or(exotic OR list_bool_or(list_transform(findings, "
            "lambda f: f.message IS NULL))), FALSE) FROM decp_stage").fetchall()[0][0]:
        return "contenu que seul le lecteur en flux reproduit (valeurs atypiques)"
    return count, routed


class _Declined(Exception):
    """A record that neither lane reads as the streaming reader does; the message says why (French)."""


@dataclass
class _Texts:
    """Where a part's records are in the file: the offset of each, and the part's end."""

    path: Path
    offsets: array
    end: int


# The routing takes the records the typed lane left by their offsets when they hold at most this
# many bytes (read into memory at once); more, and it reads every record's text again in DuckDB.
ROUTED_BYTES = 32 << 20


def _route_by_offset(con, texts: _Texts) -> bool:
    """decp_routed from the records the typed lane left, read at their offsets in the file (no
    second reading of every record); False when there are too many bytes of them."""
    missing = con.execute("SELECT coalesce(list(r ORDER BY r), []) FROM range($n) t(r) "
                          "WHERE r NOT IN (SELECT position FROM decp_fast)", {"n": len(texts.offsets)}).fetchall()[0][0]
    bounds = [(texts.offsets[k], texts.offsets[k + 1] if k + 1 < len(texts.offsets) else texts.end) for k in missing]
    if sum(stop - start for start, stop in bounds) > ROUTED_BYTES:
        return False
    # one buffer and its offsets (an Arrow string column as it lies in memory): no Python string per
    # record, which held two to four times the bytes of French text
    data = bytearray()
    ends = np.zeros(len(bounds) + 1, dtype=np.int64)
    with open(texts.path, "rb") as handle:
        for k, (start, stop) in enumerate(bounds):
            text = os.pread(handle.fileno(), stop - start, start).rstrip(b" \t\r\n")
            if text.endswith((b",", b"]")):  # the comma before the next record, or the array's end
                text = text[:-1].rstrip(b" \t\r\n")
            data += text
            ends[k + 1] = len(data)
    column = pa.LargeStringArray.from_buffers(len(bounds), pa.py_buffer(ends), pa.py_buffer(data))
    routed = pa.table({"position": pa.array(missing, pa.int64()), "j": column})
    con.register("decp_routed_texts", routed)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE decp_routed AS "
                    "SELECT position, j::JSON AS j, FALSE AS beyond FROM decp_routed_texts")
    finally:
        con.unregister("decp_routed_texts")
    return True


def _read_part(con, params: dict, keys_plain: bool = False, texts: Optional[_Texts] = None) -> tuple[int, int]:
    """Both lanes over one record array: (records, records read by the exact lane).

    The typed read (json_fast.sql) keeps the records it reads exactly; the others go to the exact
    lane (json_sql.sql), read at their offsets (`texts`, when the byte scan allows it), or picked
    by one pass over every record's JSON text, with those whose keys have stray spaces. When
    DuckDB's typed reader rejects the array (a repeated key, a value of an unexpected JSON type…),
    the exact lane reads all of it, as it did before the fast lane existed.
    """
    whole = {"path": params["path"]}
    try:
        con.execute(FAST_STAGE, params)
    except duckdb.Error:
        con.execute("CREATE OR REPLACE TEMP TABLE decp_fast AS SELECT * FROM decp_fast_empty")
        source = _WHOLE_ARRAY
        beyond = con.execute(f"SELECT coalesce(bool_or({_BEYOND}), FALSE) FROM {_WHOLE_ARRAY} o",
                             {**whole, **_BEYOND_PARAMS}).fetchall()[0][0]
    else:
        # The SIRET rule once per buyer (a few thousand), not once per record: a buyer whose SIRET
        # the normaliser would report sends its records to the exact lane (routed below). The
        # list() keeps DuckDB from pushing the test below the DISTINCT (once per record again).
        con.execute("""
            DELETE FROM decp_fast WHERE coalesce(buyer_siret, '') IN (
                SELECT siret FROM (SELECT unnest(list(DISTINCT coalesce(buyer_siret, ''))) AS siret FROM decp_fast)
                WHERE NOT siret_is_valid(siret))""")
        if texts is None or not _route_by_offset(con, texts):
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE decp_routed AS
                SELECT o.position, o.j, {_BEYOND} AS beyond
                FROM {_WHOLE_ARRAY} o LEFT JOIN decp_fast f USING (position)
                WHERE f.position IS NULL OR {"FALSE" if keys_plain else "regexp_matches(o.j, $spaced)"} OR {_BEYOND}
                   OR CASE WHEN contains(o.j, '"titulaire"') THEN regexp_matches(o.j, $wrapped) ELSE FALSE END
                """, {**whole, **({} if keys_plain else {"spaced": SPACED_KEY}), "wrapped": WRAPPED_SIBLING,
                      **_BEYOND_PARAMS})
        beyond = con.execute("SELECT coalesce(bool_or(beyond), FALSE) FROM decp_routed").fetchall()[0][0]
        con.execute("DELETE FROM decp_fast WHERE position IN (SELECT position FROM decp_routed)")
        source = "decp_routed"
    if beyond:
        raise _Declined(_BEYOND_REASON)
    count_fast = con.execute("SELECT count(*) FROM decp_fast").fetchall()[0][0]
    if source == "decp_routed" and not con.execute("SELECT count(*) FROM decp_routed").fetchall()[0][0]:
        con.execute("CREATE OR REPLACE TEMP TABLE decp_stage AS SELECT * FROM decp_fast_empty")
        return count_fast, 0
    con.execute(STAGE.replace("FROM decp_source", f"FROM {source}"),
                params if source == _WHOLE_ARRAY else {"hint": params["hint"], "today": params["today"]})
    routed = con.execute("SELECT count(*) FROM decp_stage").fetchall()[0][0]
    return count_fast + routed, routed


def _write(con, name: str, resource_id: Optional[str], first_record_id: int, offset: int, fmt: str) -> None:
    """Both lanes' records, modifications and findings.

    Records and modifications are not sorted back into file order: their ids say it (record_id =
    first + position, and every reader orders by it), and sorting both lanes' wide rows, once per
    table, was 10 s of the 1.5 M load. Findings, narrow, are written in file order.
    """
    # position: in this part; $offset: the records of the parts before it
    stage = (f"(SELECT $offset + position AS position, * EXCLUDE (position) FROM "
             f"(SELECT {LANE_COLUMNS} FROM decp_fast UNION ALL SELECT {LANE_COLUMNS} FROM decp_stage))")
    params = {"name": name, "resource_id": resource_id, "first": first_record_id, "format": fmt, "offset": offset}
    con.execute(
        f"""
        INSERT INTO records
        SELECT $first + position, $name, $resource_id, position, $format, kind, buyer_siret, buyer_name,
               contract_id, uid, nature, objet, procedure, cpv, amount, duration_months, notification_date,
               start_date, publication_date, notification_date_raw, publication_date_raw, place_code,
               place_type, place_name, holders, len(modifications)
        FROM {stage}
        """, params)
    con.execute(
        f"""
        INSERT INTO record_modifications
        SELECT $first + position, m.position, m.modification_id, m.notification_date, m.publication_date,
               m.amount, m.duration_months, m.objet
        FROM (SELECT position, unnest(modifications) AS m FROM {stage})
        """, {"first": first_record_id, "offset": offset})
    con.execute(
        f"""
        INSERT INTO findings
        SELECT $name, $resource_id, position, f.field, f.code, s.severity, f.message, left(f.value, 200),
               buyer_siret, contract_id
        FROM (SELECT position, buyer_siret, contract_id, unnest(findings) AS f,
                     unnest(range(len(findings))) AS k FROM {stage}) r
        JOIN decp_severities s ON s.code = r.f.code
        ORDER BY position, k
        """, {"name": name, "resource_id": resource_id, "offset": offset})
