"""Hostile JSON structure: deep nesting, long keys, brackets inside strings, huge strings.

The streaming reader follows the structure outside the parser (decp_monitor.parse.json_reader
._Structure); these tests pin what it must guarantee, chunk boundaries included.
"""
import io
import json
import time

import ijson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from decp_monitor.core.model import Finding, Record
from decp_monitor.parse import json_reader, read_decp
from decp_monitor.parse.json_reader import MAX_DEPTH, KeyTooLong, TooDeep, _RawReader, _Structure

GOOD = {"id": "1", "acheteur": {"id": "21440036800012"}, "dateNotification": "2019-01-01",
        "datePublicationDonnees": "2019-01-02", "montant": 1000}


def read(data, name="t"):
    items = list(read_decp(data, name=name))
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Finding)]


def feed_all(data: bytes, size: int) -> tuple[_Structure, bytes]:
    structure = _Structure()
    out = []
    for i in range(0, len(data), size):
        out.append(structure.feed(data[i:i + size], i))
        if structure.refused is not None:
            raise structure.refused
    return structure, b"".join(out)


def test_deep_nesting_without_adjacent_brackets_is_a_finding_and_earlier_records_are_kept():
    # `[1,[1,…` 20 000 levels: no run of adjacent openers, which the former guard looked for.
    deep = b"[1," * 20_000 + b"1" + b"]" * 20_000
    data = b'{"marches": [' + json.dumps(GOOD).encode() + b", " + deep + b"]}"
    records, findings = read(data)
    assert [r.contract_id for r in records] == ["1"]
    assert [f.code for f in findings] == ["file_unreadable"]
    assert f"plus de {MAX_DEPTH} niveaux" in findings[0].message and "après 1 contrat(s)" in findings[0].message


def test_deep_nesting_under_the_root_is_a_finding():
    records, findings = read(b"[" + b"[1," * 5_000 + b"]" * 5_000 + b"]")
    assert records == [] and [f.code for f in findings] == ["file_unreadable"]


def test_long_keys_are_refused_before_ijson_keeps_their_paths():
    # ijson keeps the dotted key path of every level: nested 2 KB keys would cost depth² x 2 KB.
    key = "k" * 2_000
    nested = "1"
    for _ in range(200):
        nested = '{"' + key + '": ' + nested + "}"
    records, findings = read(('{"marches": [' + json.dumps(GOOD) + ', {"id": "2", "x": ' + nested + "}]}").encode())
    assert [r.contract_id for r in records] == ["1"]
    assert [f.code for f in findings] == ["file_unreadable"] and "nom de champ" in findings[0].message


def test_long_values_are_not_keys():
    record = dict(GOOD, objet="x" * 5_000, titulaires=[{"denominationSociale": "y" * 3_000}])
    records, findings = read(json.dumps({"marches": [record]}).encode())
    assert records[0].objet == "x" * 5_000 and findings == []


def test_brackets_inside_strings_never_count_as_nesting():
    many = [dict(GOOD, id=str(i), objet="Lot [[[[[[[[[[A") for i in range(3_000)]
    records, findings = read(json.dumps({"marches": many}).encode())
    assert len(records) == 3_000 and findings == []
    assert records[-1].objet == "Lot [[[[[[[[[[A"
    one = [dict(GOOD, id=str(i), objet="[" * 300 if i == 500 else "{\"[") for i in range(1_000)]
    records, findings = read(json.dumps({"marches": one}).encode())
    assert len(records) == 1_000 and findings == []


def test_huge_string_is_cut_at_the_cap_in_linear_time():
    text = "é" * 10_000_000  # 20 MB of UTF-8: the former reader took seconds, quadratically
    started = time.monotonic()
    records, findings = read(json.dumps({"marches": [dict(GOOD, objet=text)]}, ensure_ascii=False).encode())
    elapsed = time.monotonic() - started
    assert [f.code for f in findings] == ["long_value"]
    objet = records[0].objet
    assert text.startswith(objet) and json_reader.MAX_STRING_BYTES - 32 < len(objet.encode()) <= json_reader.MAX_STRING_BYTES
    assert elapsed < 10.0, elapsed  # was quadratic: 3.5 s for 20 MB, 288 s for 200 MB


def test_the_nesting_guard_counts_depth_exactly():
    ok = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    too_deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    for size in (1, 7, 64, 1 << 16):
        structure, out = feed_all(ok, size)
        assert out == ok and structure.depth == 0
        try:
            feed_all(too_deep, size)
        except TooDeep:
            pass
        else:
            raise AssertionError(f"not refused with chunks of {size}")


def test_a_long_key_split_across_chunks_is_refused():
    data = b'{"' + b"k" * 5_000 + b'"   \n  : 1}'
    for size in (3, 100, 5_003, 5_004, 5_006):
        try:
            feed_all(data, size)
        except KeyTooLong:
            continue
        raise AssertionError(f"not refused with chunks of {size}")
    feed_all(b'["' + b"k" * 5_000 + b'" , "a"]', 100)  # a long value is not a key


_TEXT = st.text(alphabet=st.sampled_from(list('ab[]{}"\\\n/é€😀:, ')), max_size=80)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=30,
)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=_JSON, size=st.integers(1, 40), ascii_only=st.booleans())
def test_structure_follows_any_json_across_any_chunking(value, size, ascii_only):
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    structure, out = feed_all(data, size)
    assert out == data  # nothing long: the bytes pass untouched
    assert structure.depth == 0 and not structure.in_string
    nested = value
    for _ in range(MAX_DEPTH + 1 - _depth(value)):
        nested = [nested]
    try:
        feed_all(json.dumps(nested).encode(), size)
    except TooDeep:
        pass
    else:
        raise AssertionError("one level too deep was not refused")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.text(alphabet=st.sampled_from(list('ab"\\\n/é€😀[')), min_size=0, max_size=400),
                       min_size=1, max_size=4),
       size=st.integers(32, 90), ascii_only=st.booleans())
@example(values=['[[[[[[[["""""ééééééééééééé😀😀'], size=34, ascii_only=True)  # a cut between two surrogates
def test_cut_values_stay_valid_json_and_are_prefixes(monkeypatch, values, size, ascii_only):
    monkeypatch.setattr(json_reader, "MAX_STRING_BYTES", 120)
    data = json.dumps({"marches": values, "after": [1, {"k": "v"}]}, ensure_ascii=ascii_only).encode()
    structure, out = feed_all(data, size)
    parsed = json.loads(out)
    assert parsed["after"] == [1, {"k": "v"}]
    for original, kept in zip(values, parsed["marches"]):
        assert original.startswith(kept)
        if kept != original:
            assert len(json.dumps(kept, ensure_ascii=ascii_only)) >= 120 - 16 - 12
    assert len(parsed["marches"]) == len(values)


def test_the_reader_gives_ijson_the_cut_stream(monkeypatch):
    monkeypatch.setattr(json_reader, "MAX_STRING_BYTES", 1 << 16)
    data = json.dumps({"marches": [{"objet": "z" * 300_000}, {"objet": "ok"}]}).encode()
    items = list(ijson.items(_RawReader(io.BytesIO(data), 0), "marches.item"))
    assert [len(i["objet"]) for i in items][1] == 2 and len(items[0]["objet"]) <= 1 << 16
