"""SQL-native loading of DECP JSON: DuckDB reads the records array, in two lanes.

    outcome = load_json_sql(con, path, name, resource_id, first_record_id)
    if outcome.reason is None: outcome.records rows were written straight into records,
                               record_modifications and findings; outcome.findings are the few
                               file-level findings left to the caller (mojibake, empty file).
    else: nothing was written; outcome.reason says in French why the streaming reader must read it.

No Python object is made per record: the records array (2019 `{"marches": [...]}`, 2024
`{"marches": {"marche": [...], "contrat-concession": [...]}}`, or a bare `[...]`) is located by
looking at the first and last bytes of the file, copied by the kernel into a file of its own when
it is not the whole file (copy_file_range), and read twice by DuckDB:
- the typed lane (json_fast.sql): `read_json` with explicit column types, normalised over typed
  columns, for the records whose typed read is provably what the Python normaliser reads;
- the exact lane (json_sql.sql): `read_json_objects`, normalised over JSON values (some forty JSON
  functions per record), for the other records and those whose keys carry stray spaces (SPACED_KEY),
  or for the whole array when the typed reader rejects it (repeated key, unexpected JSON type).
`outcome.exact` counts the records of the exact lane; above MAX_EXACT_SHARE of a file, the file
is declined (the streaming reader is then quicker).

The streaming reader (json_reader.py) stays the reference and the fallback: a file goes to it when
its root is unusual, when it holds what DuckDB reads differently (bare NaN/Infinity, BOM, absurd
nesting), when DuckDB rejects it (truncation, invalid UTF-8…), or when a record needs what the SQL
does not reproduce exactly (`exotic` in json_sql.sql). The two paths give the same tables
(tests/test_json_sql.py).
"""
from __future__ import annotations

import datetime as dt
import mmap
import os
import re
import tempfile
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
# Half the streaming reader's refusal of absurd nesting (json_reader.MAX_DEPTH = 64): a file whose
# bracket balance comes near it is left to the reader that owns the rule (at 128, above that rule,
# DuckDB read files nesting 65-127 levels that the streaming reader refuses). The balance counts
# brackets inside strings too; real files nest at most 11 (every file of ../shared/real, balanced
# back to 0 at their end, and the generated 1.5 M-record file at 4).
DEPTH_WATCH = MAX_DEPTH // 2
SCAN_CHUNK = 1 << 16
# The exact walk of the balance (_peak) runs over this many chunks' brackets at once: one set of
# numpy calls per MB instead of one per 64 KB chunk.
WALK_CHUNKS = 16
# An array is cut for concurrent reading (cut()) into pieces of at least this size; a cut is looked
# for within this many bytes after its target offset.
MIN_CUT_BYTES = 16 << 20
CUT_WINDOW = 1 << 20
_BOUNDARY = re.compile(rb'\}\s*,\s*\{\s*"[^"\\]{0,256}"\s*:')
MOJIBAKE = "\ufffd".encode()
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# A bracket byte as its step of the balance, an int8: +1 for [ and {, -1 (0xff) for ] and }.
_STEP = bytes(1 if b in b"[{" else 0xFF if b in b"]}" else 0 for b in range(256))
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


def scan(mm, balances: Optional[list[int]] = None) -> tuple[int, str]:
    """(U+FFFD count, reason): one pass over the bytes for what DuckDB reads differently.
    `balances`, when given, receives the bracket balance at the start of each chunk (for cut()).

    The nesting check holds within a chunk, not only at its ends (`[[[…]]]` 10 000 deep inside
    64 KB balances out by the chunk's end): the highest balance of a run of chunks can only reach
    DEPTH_WATCH when the balance at its start plus the brackets it opens do, and only then is the
    balance walked bracket by bracket (_peak). Brackets inside strings are counted as structure:
    an opening one only makes the check stricter; closing ones could hide depth (real files hold
    none unmatched: see DEPTH_WATCH).
    """
    replacement = 0
    balance = 0
    tail = b""
    size = len(mm)
    walk: list[bytes] = []  # the brackets of the chunks since walk_from
    walk_from = walk_opens = 0  # the balance where they start, their opening brackets
    for offset in range(0, size, SCAN_CHUNK):
        if balances is not None:
            balances.append(balance)
        chunk = mm[offset:offset + SCAN_CHUNK]
        seam = tail + chunk[:8]  # what a chunk boundary cuts: "Infinity" is 8 bytes
        if b"NaN" in chunk or b"Infinity" in chunk or b"NaN" in seam or b"Infinity" in seam:
            return 0, "valeurs NaN ou Infinity (JSON non standard)"
        # U+FFFD is 3 bytes: in 2 bytes either side of the boundary, only one cut by it fits.
        # U+FFFD starts with 0xEF, rare in French text: a one-byte search (memchr) first, ten
        # times cheaper than counting the three-byte sequence in every chunk
        if b"\xef" in chunk or b"\xef" in tail[-2:]:
            replacement += chunk.count(MOJIBAKE) + (tail[-2:] + chunk[:2]).count(MOJIBAKE)
        brackets = chunk.translate(None, _NOT_BRACKET)  # one pass, then counts over a few bytes
        opens = brackets.count(b"[") + brackets.count(b"{")
        balance += 2 * opens - len(brackets)
        walk.append(brackets)
        walk_opens += opens
        if len(walk) == WALK_CHUNKS or offset + SCAN_CHUNK >= size:
            if walk_from + walk_opens >= DEPTH_WATCH and walk_from + _peak(b"".join(walk)) >= DEPTH_WATCH:
                return 0, "imbrication très profonde"
            walk, walk_from, walk_opens = [], balance, 0
        tail = chunk[-8:]
        if offset % (SCAN_CHUNK * 256) == 0 and offset:
            release_pages(mm, offset - SCAN_CHUNK * 256, offset)
    return replacement, ""


def _peak(brackets: bytes) -> int:
    """The highest bracket balance reached along `brackets` (only bracket bytes), from 0.

    numpy: ~45 µs per MB of a national file (~19 000 brackets), against ~105 µs for the same
    cumulative sum in pyarrow.compute and ~160 µs for rounds of bytes.replace; one bracket at a
    time in Python would take seconds per GB."""
    if not brackets:
        return 0
    return int(np.cumsum(np.frombuffer(brackets.translate(_STEP), np.int8), dtype=np.int64).max())


def _balance_at(mm, balances: list[int], pos: int) -> int:
    """Brackets opened minus closed before `pos` (strings not told apart: see cut())."""
    chunk = pos // SCAN_CHUNK
    brackets = mm[chunk * SCAN_CHUNK:pos].translate(None, _NOT_BRACKET)
    return balances[chunk] + brackets.count(b"[") + brackets.count(b"{") - brackets.count(b"]") - brackets.count(b"}")


def cut(mm, part: _Part, pieces: int, balances: list[int]) -> list[_Part]:
    """`part` cut at record boundaries into up to `pieces` arrays of about equal size.

    DuckDB reads a JSON array on one thread (only newline-delimited JSON is split across threads):
    read piece by piece on as many connections, a national file uses every core. A cut goes after
    a `}`, `,` and `{` followed by a key: in valid JSON those are structure, not text (a `{` inside
    a string cannot be followed by a quote that opens a key). The cut must also be between
    records, not between two holders of one record: the bracket balance there (scan()) equals the
    array's own. Brackets inside strings can mislead that count; a wrong cut leaves two pieces
    that are not valid JSON, DuckDB rejects them, and the file is then read uncut.
    """
    if pieces < 2 or part.end - part.start < MIN_CUT_BYTES * 2:
        return [part]
    level = _balance_at(mm, balances, part.start + 1)
    cuts: list[tuple[int, int]] = []  # (end of a piece: after its "}", start of the next: its "{")
    for k in range(1, pieces):
        target = part.start + (part.end - part.start) * k // pieces
        if cuts and target <= cuts[-1][1]:
            continue
        window = mm[target:min(part.end, target + CUT_WINDOW)]
        for match in _BOUNDARY.finditer(window):
            close = target + match.start() + 1
            if _balance_at(mm, balances, close) == level:
                cuts.append((close, target + match.group(0).index(b"{") + match.start()))
                break
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
                  pieces: Optional[int] = None) -> Outcome:
    path = Path(path)
    size = path.stat().st_size
    if size < max(MIN_SQL_BYTES if min_bytes is None else min_bytes, 1):
        return Outcome(reason="petit fichier (lecteur en flux plus rapide)")
    if pieces is None:
        pieces = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        fmt, arrays, reason = plan(mm)
        if reason:
            return Outcome(reason=reason)
        assert fmt is not None  # plan() names the format whenever it gives no reason
        balances: list[int] = []
        replacement, reason = scan(mm, balances)
        if reason:
            return Outcome(reason=reason)
        parts = [piece for array in arrays for piece in cut(mm, array, pieces, balances)]
        release_pages(mm, 0, len(mm))
    share = MAX_EXACT_SHARE if max_exact_share is None else max_exact_share
    today = today or dt.date.today()
    outcome, refused = _load_parts(con, path, parts, name, resource_id, first_record_id, today, share, fmt)
    if refused and len(parts) > len(arrays):  # a wrong cut (see cut()): read the arrays uncut
        outcome, refused = _load_parts(con, path, arrays, name, resource_id, first_record_id, today, share, fmt)
    if outcome.reason:
        return outcome
    outcome.format = fmt
    if replacement:
        outcome.findings.append(finding(name, "mojibake",
                                        f"{replacement} caractère(s) de remplacement U+FFFD (texte corrompu)",
                                        value=str(replacement)))
    if outcome.records == 0:
        outcome.findings.append(finding(name, "empty_file", "Fichier sans aucun contrat"))
    return outcome


def _load_parts(con: duckdb.DuckDBPyConnection, path: Path, parts: list[_Part], name: str,
                resource_id: Optional[str], first_record_id: int, today: dt.date, share: float,
                fmt: str) -> tuple[Outcome, bool]:
    """Both lanes over each part, the parts read at once on connections of their own (one per
    part: DuckDB runs a statement over one JSON array on one thread), then written at once.
    Also says whether DuckDB refused a part's JSON (what a wrong cut gives; another reason, such
    as too many records for the exact lane, would be the same uncut)."""
    size = path.stat().st_size
    cursors = [con.cursor() for _ in parts] if len(parts) > 1 else [con]
    try:
        try:
            with tempfile.TemporaryDirectory(prefix="decp-json-") as folder:
                sources = [str(path) if part.start == 0 and part.end == size and not part.opens and not part.closes
                           else _copy_range(path, part, folder, index) for index, part in enumerate(parts)]
                jobs = [(cursor, {"path": source, "hint": part.hint, "today": today})
                        for cursor, source, part in zip(cursors, sources, parts)]
                if len(jobs) == 1:
                    results = [_read_checked(*jobs[0])]
                else:
                    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                        results = list(pool.map(lambda job: _read_checked(*job), jobs))
        except duckdb.Error as exc:
            return Outcome(reason=_refused(exc)), True
        declined = next((r for r in results if isinstance(r, str)), None)
        if declined:
            return Outcome(reason=declined), isinstance(declined, _Refusal)
        counts = [r for r in results if not isinstance(r, str)]
        records = sum(count for count, _ in counts)
        exact = sum(routed for _, routed in counts)
        if exact > share * records:
            return Outcome(reason=f"{exact} contrats sur {records} hors de la voie rapide "
                                  "(lecteur en flux plus rapide)"), False
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
    return Outcome(records=records, exact=exact), False


def _drop_stages(con: duckdb.DuckDBPyConnection, cursors: list) -> None:
    for cursor in cursors:
        for stage in ("decp_fast", "decp_stage", "decp_routed"):
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        if cursor is not con:
            cursor.close()


class _Refusal(str):
    """The French reason when DuckDB rejects a part's JSON."""


def _refused(exc: duckdb.Error) -> _Refusal:
    message = re.sub(r"\s+", " ", str(exc))[:200]
    return _Refusal(f"refusé par DuckDB ({message})")


def _read_checked(cursor: duckdb.DuckDBPyConnection, params: dict) -> "tuple[int, int] | str":
    """(records, records of the exact lane) of one part, or the French reason the streaming reader
    must read the file."""
    install(cursor)
    try:
        count, routed = _read_part(cursor, params)
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


def _read_part(con, params: dict) -> tuple[int, int]:
    """Both lanes over one record array: (records, records read by the exact lane).

    The typed read (json_fast.sql) keeps the records it reads exactly; one pass over the records'
    JSON text then picks the others, and those whose keys have stray spaces, for the exact lane
    (json_sql.sql). When DuckDB's typed reader rejects the array (a repeated key, a value of an
    unexpected JSON type…), the exact lane reads all of it, as it did before the fast lane existed.
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
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE decp_routed AS
            SELECT o.position, o.j, {_BEYOND} AS beyond
            FROM {_WHOLE_ARRAY} o LEFT JOIN decp_fast f USING (position)
            WHERE f.position IS NULL OR regexp_matches(o.j, $spaced) OR {_BEYOND}
               OR CASE WHEN contains(o.j, '"titulaire"') THEN regexp_matches(o.j, $wrapped) ELSE FALSE END
            """, {**whole, "spaced": SPACED_KEY, "wrapped": WRAPPED_SIBLING, **_BEYOND_PARAMS})
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
