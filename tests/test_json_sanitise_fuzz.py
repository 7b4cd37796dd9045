"""Fuzzing the NaN copy in C (parse/_jsonscan.c: sanitise) against independent oracles.

The input is hostile: files come from the internet. On random bytes, mutated real files and
DECP-like documents with NaN/Infinity at random value positions:
- the copy is exactly what a regular expression over the bytes gives (strings whole, a backslash
  escaping the next byte, an unterminated string to the end; outside them each NaN, Infinity and
  -Infinity written null), with the same count;
- the byte scan (_jsonscan.scan) sees strings as the copy does: on the source and on the copy, its
  first problem is where the same expression finds the first bare N/I (or the nesting bound);
- on text json.loads reads: the copy reads as json.loads reads the source with NaN/±Infinity None,
  and it is, byte for byte, what the streaming reader's sanitising pass (json_reader._SanitisingReader,
  read in small chunks so that tokens and strings straddle them) gives, with the same count;
- the tables (DECP-like documents, 2019 and 2024 shapes): the SQL path, which reads the copy, gives
  the streaming reader's records, modifications and findings (test_json_sql.assert_same).

Under `slow` a fixed small number of examples runs. The long campaign runs this module as a script,
best against the AddressSanitizer + UBSan build of the extension (a sanitizer report aborts the
process, so each input is written to disk before it is tried):

    CFLAGS="-fsanitize=address,undefined -g -O1" python setup.py build_ext --inplace --force
    LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \\
        python -m tests.test_json_sanitise_fuzz --minutes 15 --seed 1 --out /tmp/nan-fuzz
"""
from __future__ import annotations

import argparse
import copy as copy_module
import io
import json
import math
import random
import re
import time
import traceback
from pathlib import Path
from typing import Optional

import pytest

from decp_monitor.parse import _jsonscan, json_reader
from decp_monitor.parse.json_sql import DEPTH_WATCH
from tests.test_json_scan import _nan_free
from tests.test_json_sql import BASE, assert_same

REAL_JSON = sorted((Path("/work/shared/real") / "decp-json").rglob("*.json"))

# ---- oracles ---------------------------------------------------------------------------------

# A string (to its closing quote, or to the end of the file: a last backslash escapes nothing), or a
# bare token. Matching strings whole is what puts the tokens inside them out of reach.
_COPY = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|-Infinity|Infinity|NaN', re.S)
_SCAN = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:(")|\\?\Z)|[^ \t\n\r"]', re.S)


def expected_copy(data: bytes) -> tuple[bytes, int]:
    count = 0

    def replace(match: re.Match) -> bytes:
        nonlocal count
        if match.group().startswith(b'"'):
            return match.group()
        count += 1
        return b"null"
    return _COPY.sub(replace, data), count


def expected_scan(data: bytes, max_depth: int = DEPTH_WATCH) -> Optional[tuple[str, int]]:
    """The scan's first problem: a bare N or I, the nesting bound, or a comma before a closing
    bracket, whichever comes first."""
    depth, last = 0, b""
    for match in _SCAN.finditer(data):
        token = match.group()
        if token.startswith(b'"'):
            if match.group(1) is None:
                return None  # a string open to the end: the scan stops there
            last = b'"'
            continue
        if token in (b"N", b"I"):
            return ("nan", match.start())
        if token in (b"}", b"]") and last == b",":
            return ("comma", match.start())
        if token in (b"[", b"{"):
            depth += 1
            if depth >= max_depth:
                return ("depth", match.start())
        elif token in (b"}", b"]"):
            depth -= 1
        last = token
    return None


class _PassThrough:
    """json_reader._Structure without its bounds: the sanitising pass alone is compared."""
    refused = None
    truncated = 0

    def feed(self, data, start):
        return data


def streaming_copy(data: bytes, chunk: int) -> tuple[bytes, int]:
    """What the streaming reader's sanitising pass gives of `data`, read `chunk` bytes at a time."""
    saved = json_reader.CHUNK
    json_reader.CHUNK = chunk
    try:
        reader = json_reader._SanitisingReader(io.BytesIO(data), 0, "utf-8")
        reader.structure = _PassThrough()
        parts = []
        while True:
            part = reader.read()
            if not part:
                break
            parts.append(part)
        return b"".join(parts), reader.replaced
    finally:
        json_reader.CHUNK = saved


def _loads(data: bytes):
    try:
        return json.loads(data.decode("utf-8")), True
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, False


def check_copy(data: bytes, folder: Path, chunk: int = 7) -> None:
    source, target = folder / "source.json", folder / "copy.json"
    source.write_bytes(data)
    replaced = _jsonscan.sanitise(str(source), str(target))
    written = target.read_bytes()
    wanted, count = expected_copy(data)
    assert written == wanted, _first_difference(written, wanted)
    assert replaced == count
    for body, path in ((data, source), (written, target)):
        problem = _jsonscan.scan(str(path), [], DEPTH_WATCH, 256, 16)[0]
        assert problem == expected_scan(body), (problem, expected_scan(body))
    if not data or len(data) > 4 << 20:
        return
    value, valid = _loads(data)
    if not valid:
        return
    assert json.loads(written) == _nan_free(value)
    assert (expected_scan(written) or ("depth",))[0] == "depth"  # no bare letter (nor stray comma) in the copy
    by_stream, stream_count = streaming_copy(data, chunk)
    assert by_stream == written, _first_difference(by_stream, written)
    assert stream_count == replaced


def _first_difference(a: bytes, b: bytes) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"lengths {len(a)} {len(b)}, first difference at {at}: {a[at - 20:at + 20]!r} / {b[at - 20:at + 20]!r}"


# ---- inputs ----------------------------------------------------------------------------------

_TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"-Infinit", b"Na", b"N", b"I", b"-", b"-NaN", b"NaNaN",
           b'"', b'\\', b'\\"', b'\\\\', b'\\\\"', b"\xef", b"\xef\xbf\xbd", b"\xef\xbf", b"[", b"{", b"]", b"}",
           b'"NaN"', b'"a\\"NaN"', b"\n", b"null", b"nan", b"inf"]
_ALPHABET = b'"\\NaIfinty-[]{}:, \n0\xef\xbf\xbd'


def random_bytes(rng: random.Random) -> bytes:
    n = rng.choice([0, 1, 2, 3, 8, 9, 10, rng.randrange(64), rng.randrange(2000)])
    if rng.random() < 0.3:
        return bytes(rng.randrange(256) for _ in range(n))
    if rng.random() < 0.5:
        return bytes(rng.choice(_ALPHABET) for _ in range(n))
    return b"".join(rng.choice(_TOKENS) for _ in range(n // 3))


def boundary_bytes(rng: random.Random) -> bytes:
    """Texts around the copy's 1 MiB buffer: a long run written straight out, escapes and tokens
    just before and after a flush, a string or token cut by the file's end."""
    buffer = 1 << 20
    head = b"".join(rng.choice([b"NaN,", b'"\\"",', b" ", b"-Infinity,"]) for _ in range(rng.randrange(40)))
    run = b"x" * (buffer - rng.randrange(-40, 40) - len(head) * rng.randrange(2))
    escapes = b'\\"' * rng.randrange(0, 20) + b"\\\\" * rng.randrange(0, 3)
    tail = b"".join(rng.choice(_TOKENS) for _ in range(rng.randrange(30)))
    body = b"[" + head + b'"' + run + escapes + b'", ' + tail
    if rng.random() < 0.3:  # only escapes and tokens across a flush
        body = b"[" + b'"' + b'\\"' * rng.randrange(buffer // 2 - 20, buffer // 2 + 20) + b'", ' + b"NaN, " * 10
    elif rng.random() < 0.3:  # "null" written over and over, filling the buffer to its end
        token = rng.choice([b"NaN, ", b"-Infinity,", b'"a", NaN,', b"Infinity\n"])
        body = b"[" + b" " * rng.randrange(8) + token * rng.randrange(buffer // 9, buffer // 2) + b"1]"
    return body[:len(body) - rng.randrange(3)] if rng.random() < 0.5 else body


def _inject(value, rng: random.Random, rate: float):
    """`value` with some scalars (records, holders, modifications…) made NaN, ±Infinity, or texts
    holding those words beside quotes and backslashes."""
    if isinstance(value, dict):
        return {k: _inject(v, rng, rate) for k, v in value.items()}
    if isinstance(value, list):
        return [_inject(v, rng, rate) for v in value]
    if rng.random() < rate:
        return rng.choice([math.nan, math.inf, -math.inf, math.nan, "NaN", 'a "NaN" \\', "\\\\NaN\\",
                           "-Infinity", 'x\\" Infinity', "\ufffd NaN", None])
    return value


def _documents() -> list:
    documents = []
    for path in REAL_JSON:
        if path.stat().st_size < 200_000:
            value, valid = _loads(path.read_bytes())
            if valid:
                documents.append(value)
    return documents


def render(value, rng: random.Random) -> bytes:
    return json.dumps(value, indent=rng.choice([None, None, 1, 2, "\t"]), ensure_ascii=rng.random() < 0.3).encode()


def decp_document(rng: random.Random, pool: list) -> bytes:
    """A DECP-like document with bare NaN/Infinity at random value positions: a real file's, or
    records like test_json_sql.BASE (holders, modifications) in the 2019 or the 2024 shape."""
    rate = rng.choice([0.02, 0.1, 0.3])
    if pool and rng.random() < 0.5:
        return render(_inject(copy_module.deepcopy(rng.choice(pool)), rng, rate), rng)
    records = []
    for i in range(rng.randrange(1, 6)):
        record = copy_module.deepcopy(BASE)
        record["id"] = f"2024-{i:03d}"
        record["titulaires"] = record["titulaires"] * rng.randrange(1, 3)
        if rng.random() < 0.3:
            record.update({"_type": "Contrat de concession", "valeurGlobale": 10.5,
                           "concessionnaires": record.pop("titulaires")})
        records.append(_inject(record, rng, rate))
    if rng.random() < 0.5:
        return render({"marches": records}, rng)
    cut = rng.randrange(len(records) + 1)
    return render({"marches": {"marche": records[:cut], "contrat-concession": records[cut:]}}, rng)


def mutate(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return rng.choice(_TOKENS)
    at = rng.randrange(len(data) + 1)
    kind = rng.randrange(7)
    if kind == 0:  # a token anywhere (in strings too)
        return data[:at] + rng.choice(_TOKENS) + data[at:]
    if kind == 1:  # a value written as a bare token
        values = [m.start(1) for m in re.finditer(rb'": *(-?\d[\d.eE+-]*|true|false|null)', data[:200_000])]
        if values:
            start = rng.choice(values)
            end = re.match(rb"-?\d[\d.eE+-]*|true|false|null", data[start:]).end() + start
            return data[:start] + rng.choice([b"NaN", b"Infinity", b"-Infinity"]) + data[end:]
        return data
    if kind == 2:  # cut: a token or a string ends the file
        return data[:at]
    if kind == 3:
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1:]
    if kind == 4:
        return data[:at] + data[at + rng.randint(1, 8):]
    if kind == 5:  # a copy of a piece elsewhere
        start = rng.randrange(len(data))
        return data[:at] + data[start:start + rng.randrange(1, 200)] + data[at:]
    return data[:at] + b"\\" + data[at:]


def seeds() -> list[bytes]:
    return [p.read_bytes() for p in REAL_JSON if p.stat().st_size < 1_200_000]


# ---- tests (fast: a few fixed examples; slow: more) -----------------------------------------------

@pytest.mark.parametrize("data", [b"", b"N", b"I", b"-", b'"', b"\\", b"Na", b"NaN", b"[NaN", b"-Infinit",
                                  b"-Infinity", b'"\\', b'["a\\"NaN', b'"\\\\"NaN', b"\xef", b'"\xef\xbf',
                                  b"NNaN", b"--Infinity", b"InfinityNaN", b'["\\"", NaN]'])
def test_edge_inputs_are_copied_as_the_expression_says(tmp_path, data):
    check_copy(data, tmp_path)


def test_random_inputs_and_injected_documents(tmp_path):
    rng = random.Random(20261202)
    pool = _documents()
    for _ in range(25):
        check_copy(random_bytes(rng), tmp_path, chunk=rng.choice([1, 2, 5, 64]))
        check_copy(decp_document(rng, pool), tmp_path, chunk=rng.choice([1, 3, 16, 4096]))


@pytest.mark.slow
def test_the_copy_at_its_buffer_bounds(tmp_path):
    rng = random.Random(7)
    for _ in range(6):
        check_copy(boundary_bytes(rng), tmp_path, chunk=65536)


@pytest.mark.slow
def test_mutated_real_files(tmp_path):
    rng = random.Random(11)
    pool = seeds()
    for _ in range(200):
        data = rng.choice(pool)
        for _ in range(rng.randrange(1, 4)):
            data = mutate(data, rng)
        check_copy(data, tmp_path, chunk=rng.choice([7, 4096, 65536]))


@pytest.mark.slow
def test_documents_with_bare_values_give_the_same_tables(tmp_path):
    rng = random.Random(3)
    pool = _documents()
    read = 0
    for _ in range(10):
        path = tmp_path / "d.json"
        path.write_bytes(decp_document(rng, pool))
        read += assert_same(path).reason is None
    assert read >= 6  # most are read by the SQL path (through the copy), not declined


# ---- the long campaign ---------------------------------------------------------------------------

def campaign(minutes: float, seed: int, out: Path, tables_every: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool, documents = seeds(), _documents()
    current = out / f"current-{seed}.json"
    folder = out / f"work-{seed}"
    folder.mkdir(exist_ok=True)
    stop_at = time.monotonic() + minutes * 60
    tried, failures, kinds, tables = 0, {}, {}, {"read": 0, "declined": 0}
    while time.monotonic() < stop_at:
        pick = rng.random()
        if pick < 0.25:
            kind, data = "random", random_bytes(rng)
        elif pick < 0.27:
            kind, data = "boundary", boundary_bytes(rng)
        elif pick < 0.55:
            kind, data = "document", decp_document(rng, documents)
        else:
            kind, data = "mutated", rng.choice(pool)
            for _ in range(rng.choice([1, 1, 2, 3, 5])):
                data = mutate(data, rng)
        current.write_bytes(data)  # left on disk if a sanitizer aborts the process
        tried += 1
        kinds[kind] = kinds.get(kind, 0) + 1
        if tried % 500 == 0:
            print(json.dumps({"seed": seed, "inputs": tried, "failures": len(failures), "tables": tables}), flush=True)
        try:
            # the streaming reader, one byte at a time, is slow: small chunks for small inputs
            check_copy(data, folder, chunk=rng.choice([1, 7, 64] if len(data) < 20_000 else [4096, 65536]))
            if kind == "document" and tried % tables_every == 0:
                path = folder / "d.json"
                path.write_bytes(data)
                tables["read" if assert_same(path).reason is None else "declined"] += 1
        except Exception as exc:  # every failure is kept with its input
            signature = re.sub(r"\d+", "N", f"{type(exc).__name__}: {str(exc)[:120]}")
            if signature not in failures:
                failures[signature] = tried
                (out / f"fail-{seed}-{tried}.json").write_bytes(data)
                (out / f"fail-{seed}-{tried}.txt").write_text(traceback.format_exc())
                print("FAIL", tried, signature, flush=True)
    print(json.dumps({"seed": seed, "inputs": tried, "failures": len(failures), "kinds": kinds, "tables": tables}),
          flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Fuzz the compiled NaN copy against its oracles.")
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/nan-fuzz"))
    parser.add_argument("--tables-every", type=int, default=5, help="compare the tables every N inputs")
    args = parser.parse_args()
    campaign(args.minutes, args.seed, args.out, args.tables_every)
