"""Fuzzing the compiled XML walk (parse/_xmlwalk.c) against the streaming reader (parse/xml_reader.py).

The input is hostile: files come from the internet. Two oracles, on mutated real and literal files
and on small random XML trees (hypothesis):
- the walk's own output: whenever it gives no reason (and the prologue check lets the file through),
  its JSON is exactly the objects xml_reader._to_dict gives for the same records (with the walk's
  plain lists, "_type", "_xml_format", "_xml_vides"), inside strings no byte json_sql's scan counts;
  and when the streaming reader cannot read the file to its end, the walk must have stopped;
- the tables: load_xml_sql, with the JSON cut in pieces (few threads, json_sql.MIN_CUT_BYTES small),
  gives the streaming reader's records, modifications and findings (test_xml_sql.assert_same).

Under `slow` a small fixed number of examples runs (well under 30 s). The long campaign runs this
module as a script, best against the AddressSanitizer + UBSan build of the extension (a sanitizer
report aborts the process, so each input is written to disk before it is tried):

    CFLAGS="-fsanitize=address,undefined -g -O1" python setup.py build_ext --inplace --force
    LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \\
        python -m tests.test_xml_walk_fuzz --minutes 20 --seed 1 --out /tmp/xml-fuzz
"""
from __future__ import annotations

import argparse
import codecs
import json
import random
import re
import time
import traceback
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from decp_monitor.parse import json_sql, xml_reader, xml_sql
from tests.test_xml_sql import LITERAL, REAL_XML, assert_same

# ---- mutations -------------------------------------------------------------------------------

TOKENS = [b"<", b">", b"&", b"]]>", b"<!--", b"-->", b"<![CDATA[", b"&amp;", b"&lt;", b"&#0;", b"&#x10FFFF;",
          b"&#xD800;", b"&#xFFFE;", b"&#x85;", b"&#13;", b"&#x2028;", b"&ext;", b"<?pi x?>", b"<marche>",
          b"</marche>", b"<contrat-concession>", b"<modifications>", b"</modifications>", b"<titulaires>",
          b"<titulaire>", b"</titulaire>", b"\x00", b"\xef\xbf\xbd", b"NaN", b"Infinity", b"[", b"]", b"{", b"}",
          b'"', b"\\", b"\xc2\xa0", b"\xe2\x80\xa8", b"\xc2\x85", b"\xe3\x80\x80", b"\xe2\x80\xaf", b"\xe1\x9a\x80",
          b"\xe2\x80\x8b", b"\xef\xbb\xbf", b' xmlns:a="urn:a"', b' xmlns="urn:d"', b"a:", b"<_type>x</_type>",
          b"<_xml_vides/>", b"<considerationsSociales/>", b"<modifications/>", b"<x/>", b"\r\n", b"\r", b"\t",
          b" ", b"\n", b"<!DOCTYPE marches>", b'<!DOCTYPE marches SYSTEM "x.dtd">', b"|", b"\xff", b"\x80",
          b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b" a='1'", b'<?xml version="1.0"?>']
NAMES = [b"marche", b"contrat-concession", b"titulaires", b"titulaire", b"modifications", b"modification",
         b"id", b"montant", b"acheteur", b"_type", b"NaN", b"Infinity", b"a:id", b"x"]
SPACES = ["\u00a0", "\u0085", "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
          "\u180e", "\u200b", "\ufeff", " ", "\t", "\n", "\r"]


def _insert(data: bytes, at: int, piece: bytes) -> bytes:
    return data[:at] + piece + data[at:]


def _after_tag(data: bytes, rng: random.Random) -> int:
    ends = [m.end() for m in re.finditer(rb">", data)]
    return rng.choice(ends) if ends else rng.randrange(len(data) + 1)


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(20)
    at = rng.randrange(len(data) + 1)
    if kind == 0 and data:  # byte flip
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
    if kind == 1 and data:  # bit flip
        i = rng.randrange(len(data))
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
    if kind == 2:  # truncation
        return data[:at]
    if kind in (3, 4, 5):  # markup tokens anywhere, or after a tag
        return _insert(data, at if kind == 3 else _after_tag(data, rng), rng.choice(TOKENS))
    if kind == 6:  # deep nesting, around the walk's and libxml2's bounds
        depth = rng.choice([rng.randrange(1, 140), 127, 128, 129, 255, 256, 257, rng.randrange(900, 1100)])
        name = rng.choice(NAMES)
        return _insert(data, _after_tag(data, rng), b"<" + name + b">" * 1 + (b"<" + name + b">") * (depth - 1)
                       + b"y" + (b"</" + name + b">") * depth)
    if kind == 7:  # huge names: element, attribute, namespace prefix
        length = rng.choice([1023, 1024, 1025, 4096, 50001, 60000])
        name = b"n" * length
        piece = rng.choice([b"<" + name + b">t</" + name + b">", b"<" + name + b"/>", b'<x ' + name + b'="1"/>',
                            b'<x xmlns:' + name + b'="u"/>', b"<?" + name + b" x?>"])
        return _insert(data, _after_tag(data, rng), piece)
    if kind == 8:  # long texts, around the walk's bound (1 MiB) and libxml2's (10 MB)
        length = rng.choice([1000, 65536, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 10_000_001])
        piece = rng.choice([b"x" * length, b"<!--" + b"c" * length + b"-->", b"<![CDATA[" + b"c" * length + b"]]>",
                            b'<x a="' + b"v" * length + b'"/>', b'<x xmlns:p="' + b"u" * length + b'"/>',
                            b"<?pi " + b"d" * length + b"?>", b" " * length])
        return _insert(data, _after_tag(data, rng), piece)
    if kind == 9:  # NUL bytes
        return _insert(data, at, b"\x00" * rng.randrange(1, 3))
    if kind == 10:  # UTF-8 broken: a multi-byte character cut at one of its bytes
        starts = [i for i, b in enumerate(data) if b >= 0xC0]
        if not starts:
            data = _insert(data, _after_tag(data, rng), rng.choice(SPACES + ["é", "\u20ac", "\U0001f600"]).encode())
            starts = [i for i, b in enumerate(data) if b >= 0xC0] or [0]
        i = rng.choice(starts)
        j = i + 1 + rng.randrange(3)
        return data[:j] + data[j + 1:] if rng.random() < 0.5 else data[:j] + b"<" + data[j:]
    if kind == 11:  # another encoding, with or without a BOM, declared or not
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        encoding = rng.choice(["utf-16-le", "utf-16-be", "utf-16", "latin-1", "utf-32"])
        body = text.encode(encoding, "replace") if encoding != "latin-1" else text.encode("latin-1", "replace")
        boms = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
        if encoding in boms and rng.random() < 0.5:
            body = boms[encoding] + body
        return body
    if kind == 12:  # a BOM, or a declaration contradicting the bytes
        bom = rng.choice([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, b""])
        decl = rng.choice([b"", b'<?xml version="1.0" encoding="ISO-8859-1"?>', b'<?xml version="1.0" encoding="UTF-16"?>',
                           b'<?xml version="1.0" encoding="US-ASCII"?>', b'<?xml version="1.0" encoding="windows-1252"?>',
                           b'<?xml version="1.1"?>', b'<?xml version="1.0" standalone="yes"?>'])
        body = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data) if decl else data
        return bom + decl + body
    if kind == 13 and data:  # a slice repeated (repeated elements, or garbage)
        i = rng.randrange(len(data))
        j = min(len(data), i + rng.randrange(1, 400))
        return _insert(data, rng.randrange(len(data) + 1), data[i:j] * rng.randrange(1, 4))
    if kind == 14 and data:  # a slice dropped
        i = rng.randrange(len(data))
        return data[:i] + data[i + rng.randrange(1, 200):]
    if kind == 15:  # an element renamed (start and end tags alike, or one of them)
        names = sorted(set(re.findall(rb"<([A-Za-z_][\w.:-]*)", data)))
        if not names:
            return data
        old, new = rng.choice(names), rng.choice(NAMES)
        return data.replace(b"<" + old, b"<" + new).replace(b"</" + old, b"</" + new) if rng.random() < 0.8 \
            else data.replace(b"<" + old, b"<" + new, 1)
    if kind == 16:  # spaces str.strip() knows or not, around a text
        space = rng.choice(SPACES).encode()
        return _insert(data, _after_tag(data, rng), space * rng.randrange(1, 3))
    if kind == 17:  # a text emptied (blank leaves, empty lists)
        return re.sub(rb">[^<>]{1,40}</", b"></", data, count=rng.randrange(1, 3))
    if kind == 18:  # a record's list with one item, several, or a stranger
        item = rng.choice([b"<titulaires><titulaire><id>1</id></titulaire></titulaires>",
                           b"<titulaires><titulaire/><titulaire> </titulaire></titulaires>",
                           b"<modifications><modification><id>1</id></modification><x/></modifications>",
                           b"<modifications><modification>t</modification><modification>u</modification></modifications>",
                           b"<titulaires/><titulaires><titulaire>1</titulaire></titulaires>"])
        return _insert(data, _after_tag(data, rng), item)
    return _insert(data, at, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6))))


def seeds() -> list[bytes]:
    files = [p.read_bytes() for p in REAL_XML if p.stat().st_size < 100_000]
    big = [p.read_bytes() for p in REAL_XML if p.stat().st_size >= 100_000]
    for data in big:  # the first records of a large file (mutating all of it is slow to compare)
        cut = data.find(b"</marche>", 20_000)
        if cut > 0:
            files.append(data[:cut + 9] + b"\n</marches>\n")
    return files + [LITERAL[name] for name in sorted(LITERAL)]


# ---- oracles ---------------------------------------------------------------------------------

_OWN = set(xml_sql._OWN_KEYS)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_IN_STRINGS = re.compile(rb"[\x00-\x1f]|\xef\xbf\xbd")


def expected_objects(path: Path) -> tuple[Optional[list], Optional[str]]:
    """The walk's objects as the streaming reader sees the records (read_xml's parse and _to_dict),
    and why a walk without a reason could not match: the reader's own error, or a record's own key."""
    objects: list = []
    stop = None
    events = etree.iterparse(str(path), events=("end",), tag=("{*}marche", "{*}contrat-concession"),
                             resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        for _, elem in events:
            empties: list[str] = []
            raw = xml_reader._to_dict(elem, empties)
            objects.append(_object(xml_reader._local(elem.tag), raw, empties))
            if isinstance(raw, dict) and _OWN.intersection(raw):
                stop = stop or "own key"
            elem.clear()
    except etree.XMLSyntaxError as exc:
        return objects, f"streaming reader error: {exc}"
    return objects, stop


def _object(tag: str, raw, empties: list[str]) -> dict:
    obj: dict = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            item = xml_sql._LISTS.get(key)
            if item and isinstance(value, dict) and list(value) == [item]:
                value = value[item] if isinstance(value[item], xml_reader._Repeated) else [value[item]]
            obj[key] = value
    obj["_type"] = xml_reader.RECORD_TAGS[tag]
    if isinstance(raw, dict) and xml_reader.FIELDS_2024.intersection(raw):
        obj["_xml_format"] = "xml-2024"
    vides = [e for e in dict.fromkeys(empties) if e not in xml_reader.EMPTY_LISTS_ALLOWED]
    if vides:
        obj["_xml_vides"] = "|".join(vides)
    return obj


def _no_constant(name):
    raise AssertionError(f"bare {name} in the walk's JSON")


def check_walk(path: Path, target: Path) -> Optional[str]:
    """The walk of `path` against the streaming reader's view; returns the walk's reason."""
    side = target.with_suffix(".tsv")
    count, reason, _ = xml_sql.convert(path, target, side)
    if reason is not None or xml_sql._prologue_reason(path) is not None:
        return reason or "prologue"
    data = target.read_bytes()
    for match in _STRING.finditer(data):
        bad = _NOT_IN_STRINGS.search(match.group(0)[1:-1])
        assert bad is None, f"raw {bad.group(0)!r} inside a JSON string of the walk"
    got = json.loads(data, parse_constant=_no_constant)
    assert len(got) == count
    expected, stop = expected_objects(path)
    assert stop is None, f"the walk gave no reason, but {stop}"
    # what is XML's own goes to the side file: one line per record of schema 2.0 or with blank elements
    own = [[str(k), obj.pop("_xml_format", ""), obj.pop("_xml_vides", "")] for k, obj in enumerate(expected or [])]
    assert [line.split("\t") for line in side.read_text(encoding="utf-8").splitlines()] == [
        line for line in own if line[1] or line[2]]
    assert json.dumps(got, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    return None


class _Cut:
    """json_sql cuts every array of more than a few bytes into `threads` pieces."""

    def __init__(self, threads: int):
        self.threads = threads

    def __enter__(self):
        self.saved = json_sql.MIN_CUT_BYTES, json_sql.load_json_sql
        json_sql.MIN_CUT_BYTES = 64
        original, threads = json_sql.load_json_sql, self.threads

        def load(*args, **kwargs):
            kwargs["pieces"] = threads
            return original(*args, **kwargs)
        xml_sql.load_json_sql = load
        return self

    def __exit__(self, *exc):
        json_sql.MIN_CUT_BYTES, original = self.saved
        xml_sql.load_json_sql = original


def check_both(path: Path, target: Path, threads: int, tables: bool) -> Optional[str]:
    reason = check_walk(path, target)
    if tables:
        with _Cut(threads):
            assert_same(path)
    return reason


# ---- random XML trees (hypothesis) -------------------------------------------------------------

_TEXT_LIST = ["", " ", "A", "Lot [1] {x}", "NaN", "Infinity", "caf\u00e9", "\ufffd", "a\"b\\c", "\u00a0x\u202f",
              "\u3000", "\u0085", "x\ny", "12,5", "2024-01-15", "21440036800012", "&amp;", "&lt;&gt;", "&#x85;",
              "&#13;", "<![CDATA[ ]]]]>", "<![CDATA[<a>&]]>", "<!-- c -->", "<?pi d?>", "\u2028", "-1e400", "|"]
_TAG_LIST = ["marche", "contrat-concession", "id", "acheteur", "titulaires", "titulaire", "modifications",
             "modification", "montant", "objet", "dateNotification", "datePublicationDonnees",
             "considerationsSociales", "donneesExecution", "_type", "d:id", "d:marche", "NaN", "x"]
_TEXTS = st.sampled_from(_TEXT_LIST)
_TAGS = st.sampled_from(_TAG_LIST)


def _tree(depth: int):
    leaf = st.tuples(_TAGS, _TEXTS, st.just(()), st.booleans())
    if depth == 0:
        return leaf
    return st.one_of(leaf, st.tuples(_TAGS, _TEXTS, st.lists(_tree(depth - 1), max_size=4), st.booleans()))


def _render(node) -> str:
    tag, text, children, attribute = node
    attrs = ' a="1"' if attribute else ""
    inner = "".join(_render(child) for child in children)
    return f"<{tag}{attrs}>{text}{inner}</{tag}>" if text or inner else f"<{tag}{attrs}/>"


_DOCUMENTS = st.tuples(st.lists(st.tuples(st.sampled_from(["marche", "contrat-concession", "d:marche"]), _TEXTS,
                                          st.lists(_tree(3), max_size=5), st.booleans()), min_size=1, max_size=4),
                       st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n', '\ufeff',
                                        '<?xml version="1.0" encoding="ISO-8859-1"?>']))


def render_document(document) -> bytes:
    records, prolog = document
    body = "".join(_render(record) for record in records)
    text = f'{prolog}<marches xmlns:d="urn:decp">\n{body}\n</marches>\n'
    return text.encode("latin-1", "replace") if "ISO-8859-1" in prolog else text.encode("utf-8")


# ---- tests (slow: a fixed, small number of examples) ---------------------------------------------

@pytest.mark.slow
def test_mutated_files_walk_exactly_or_stop_with_a_reason(tmp_path):
    rng = random.Random(20261202)
    pool = seeds()
    path, target = tmp_path / "f.xml", tmp_path / "out.json"
    for round_ in range(150):
        data = rng.choice(pool)
        for _ in range(rng.randrange(1, 4)):
            data = mutate(data, rng)
        path.write_bytes(data)
        check_both(path, target, threads=2 + round_ % 2, tables=round_ % 15 == 0)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
@given(document=_DOCUMENTS)
def test_random_trees_walk_exactly_or_stop_with_a_reason(tmp_path_factory, document):
    folder = tmp_path_factory.mktemp("tree")
    path, target = folder / "f.xml", folder / "out.json"
    path.write_bytes(render_document(document))
    check_walk(path, target)


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
@given(document=_DOCUMENTS)
def test_random_trees_give_the_same_tables_cut_in_pieces(tmp_path_factory, document):
    folder = tmp_path_factory.mktemp("tree")
    path, target = folder / "f.xml", folder / "out.json"
    path.write_bytes(render_document(document))
    check_both(path, target, threads=3, tables=True)


# ---- the long campaign ---------------------------------------------------------------------------

def campaign(minutes: float, seed: int, out: Path, tables_every: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = seeds()
    path, target, current = out / f"in-{seed}.xml", out / f"out-{seed}.json", out / f"current-{seed}.xml"
    stop_at = time.monotonic() + minutes * 60
    tried, failures, reasons = 0, {}, {}
    while time.monotonic() < stop_at:
        if rng.random() < 0.2:
            data = render_document(_random_document(rng))
        else:
            data = rng.choice(pool)
            for _ in range(rng.choice([1, 1, 2, 3, 5])):
                data = mutate(data, rng)
        current.write_bytes(data)  # left on disk if a sanitizer aborts the process
        path.write_bytes(data)
        tried += 1
        if tried % 500 == 0:
            print(json.dumps({"seed": seed, "inputs": tried, "failures": len(failures)}), flush=True)
        try:
            reason = check_both(path, target, threads=2 + tried % 2, tables=tried % tables_every == 0)
            key = (reason or "none").split(" (")[0]
            reasons[key] = reasons.get(key, 0) + 1
        except Exception as exc:  # every failure is kept with its input
            signature = re.sub(r"\d+", "N", f"{type(exc).__name__}: {str(exc)[:120]}")
            if signature not in failures:
                failures[signature] = tried
                (out / f"fail-{seed}-{tried}.xml").write_bytes(data)
                (out / f"fail-{seed}-{tried}.txt").write_text(traceback.format_exc())
                print("FAIL", tried, signature, flush=True)
    print(json.dumps({"seed": seed, "inputs": tried, "failures": len(failures), "reasons": reasons}), flush=True)


def _random_document(rng: random.Random):
    """A document of _DOCUMENTS' shape drawn with `rng` (the campaign runs without hypothesis' engine)."""
    texts = _TEXT_LIST

    def node(depth):
        children = [node(depth - 1) for _ in range(rng.randrange(5))] if depth and rng.random() < 0.5 else []
        return (rng.choice(_TAG_LIST), rng.choice(texts), children, rng.random() < 0.2)
    records = [(rng.choice(["marche", "contrat-concession", "d:marche"]), rng.choice(texts),
                [node(3) for _ in range(rng.randrange(6))], rng.random() < 0.2) for _ in range(rng.randrange(1, 5))]
    return records, rng.choice(["", '<?xml version="1.0" encoding="UTF-8"?>\n', "\ufeff",
                                '<?xml version="1.0" encoding="ISO-8859-1"?>'])



if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Fuzz the compiled XML walk against the streaming reader.")
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/xml-fuzz"))
    parser.add_argument("--tables-every", type=int, default=10, help="compare the tables every N inputs")
    args = parser.parse_args()
    campaign(args.minutes, args.seed, args.out, args.tables_every)
