"""Small per-publication files: the streaming reader does not parse a file more often than it must,
and reading a file from its bytes gives what reading it from its path gives."""
import dataclasses
import io
import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decp_monitor.core.model import Record
from decp_monitor.parse import json_reader, read_decp

MARCHE = {"id": "M1", "acheteur": {"id": "21440036800012"}, "dateNotification": "2024-01-15",
          "datePublicationDonnees": "2024-02-01", "montant": 1000}
CONCESSION = {"id": "C1", "autoriteConcedante": {"id": "21440036800012"}, "dateSignature": "2024-01-15",
              "datePublicationDonnees": "2024-02-01", "valeurGlobale": 5000}


def items(source, name="f.json"):
    return [dataclasses.astuple(item) for item in read_decp(source, name=name)]


def contracts(source):
    return [(item.kind, item.contract_id) for item in read_decp(source, name="f.json") if isinstance(item, Record)]


@pytest.fixture
def opens(monkeypatch):
    """How many times the JSON reader opened its source (each open is one parse of the file)."""
    counted = []
    original = json_reader._Source.open

    def counting(self):
        counted.append(1)
        return original(self)

    monkeypatch.setattr(json_reader._Source, "open", counting)
    return counted


@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_2024_file_without_concessions_is_parsed_twice_not_four_times(tmp_path, opens, as_bytes):
    path = tmp_path / "DECP-21440036800012-2024-01-15-1.json"
    path.write_text(json.dumps({"marches": {"marche": [MARCHE, dict(MARCHE, id="M2")]}}), encoding="utf-8")
    assert contracts(path.read_bytes() if as_bytes else path) == [("marche", "M1"), ("marche", "M2")]
    # the root sniff, then the "marche" list; the absent "contrat-concession" costs no parse
    assert len(opens) == 2


def test_a_key_spelt_with_escapes_is_still_read(opens):
    # "contrat\u002dconcession" is the key "contrat-concession": a byte search cannot rule it out
    data = ('{"marches": {"marche": [%s], "contrat\\u002dconcession": [%s]}}'
            % (json.dumps(MARCHE), json.dumps(CONCESSION))).encode()
    assert contracts(data) == [("marche", "M1"), ("concession", "C1")]
    assert len(opens) == 3


def test_a_file_with_bare_nan_is_read_whole_once(tmp_path, monkeypatch):
    # The national consolidated file holds bare NaN early on: the strict pass stops at the first one
    # and the sanitising pass reads the file; no pass before it reads the whole file to learn
    # whether it is UTF-8 (its decoder finds that out as it goes).
    read = []
    original = json_reader._Source.open

    def counting(self):
        handle = original(self)
        raw_read = handle.read

        def counted(size=-1):
            data = raw_read(size)
            read.append(len(data))
            return data

        handle.read = counted
        return handle

    monkeypatch.setattr(json_reader._Source, "open", counting)
    record = dict(MARCHE, objet="Réfection de la toiture de l'école " * 10)
    path = tmp_path / "decp.json"
    path.write_text(json.dumps({"marches": [dict(record, montant=float("nan"))] + [record] * 3000},
                               ensure_ascii=False), encoding="utf-8")
    size = path.stat().st_size
    found = list(read_decp(path, name="decp.json"))
    assert sum(isinstance(item, Record) for item in found) == 3001
    assert [item.code for item in found if not isinstance(item, Record)].count("non_standard_json") == 1
    assert size > 8 * json_reader.CHUNK
    assert sum(read) < size + 4 * json_reader.CHUNK  # the root sniff and the strict pass: a chunk each


@pytest.mark.parametrize("latin1_at", [0, 1, 2])
def test_bare_nan_and_latin1_read_every_record_once(tmp_path, latin1_at):
    # NaN before, at or after the first byte that is not UTF-8: the latin-1 fallback is still
    # found and said once, and no record is lost or repeated across the three passes.
    rows = [dict(MARCHE, id=f"M{index}", montant=float("nan") if index == 1 else 1000,
                 objet="Éclairage" if index == latin1_at else "plain " * 12_000) for index in range(3)]
    path = tmp_path / "decp.json"
    path.write_bytes(json.dumps({"marches": rows}, ensure_ascii=False).encode("latin-1"))
    found = list(read_decp(path, name="decp.json"))
    records = [item for item in found if isinstance(item, Record)]
    assert [r.contract_id for r in records] == ["M0", "M1", "M2"]
    assert records[latin1_at].objet == "Éclairage"
    codes = [item.code for item in found if not isinstance(item, Record)]
    assert codes.count("encoding_fallback") == 1 and codes.count("non_standard_json") == 1
    assert "file_unreadable" not in codes


def test_a_lone_surrogate_with_bare_nan_is_no_encoding_fallback():
    # ijson reads an escaped lone surrogate as "?": the file is UTF-8, whatever else fails in it
    data = ('{"marches": [%s, %s' % (json.dumps(dict(MARCHE, montant=float("nan"))),
                                     json.dumps(dict(MARCHE, objet="\ud83d x")))).encode()  # truncated
    codes = [item.code for item in read_decp(data, name="f.json") if not isinstance(item, Record)]
    assert "encoding_fallback" not in codes and "file_unreadable" in codes


def test_concessions_only_and_single_objects_read_as_before():
    only = json.dumps({"marches": {"contrat-concession": [CONCESSION]}}).encode()
    assert contracts(only) == [("concession", "C1")]
    single = json.dumps({"marches": {"marche": MARCHE, "contrat-concession": CONCESSION}}).encode()
    assert contracts(single) == [("marche", "M1"), ("concession", "C1")]
    # "contrat-concession" as a value, not a key: no concession read, the marche still is
    valued = json.dumps({"marches": {"marche": [dict(MARCHE, objet="contrat-concession")]}}).encode()
    assert contracts(valued) == [("marche", "M1")]


BROKEN = {
    "truncated_2024": json.dumps({"marches": {"marche": [MARCHE, MARCHE]}})[:-30].encode(),
    "nan_2024": json.dumps({"marches": {"marche": [MARCHE]}}).replace("1000", "NaN").encode(),
    "bom_latin1": b"\xef\xbb\xbf" + json.dumps({"marches": [dict(MARCHE, objet="caf\xe9")]},
                                                ensure_ascii=False).encode("latin-1"),
    "mojibake_2024": json.dumps({"marches": {"marche": [dict(MARCHE, objet="\ufffd")]}},
                                ensure_ascii=False).encode(),
    "empty_list_2024": b'{"marches": {"marche": []}}',
    "xml": b"<marches><marche><id>X1</id><acheteur><id>21440036800012</id></acheteur></marche></marches>",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_bytes_and_path_give_the_same_records_and_findings(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BROKEN[name])
    from_path = items(path, name="https://h/" + name)
    assert from_path  # every case yields records or findings
    assert items(BROKEN[name], name="https://h/" + name) == from_path


def test_load_file_hands_a_small_file_over_as_the_bytes_it_sniffed(tmp_path, monkeypatch):
    import decp_monitor.parse
    from decp_monitor.pipeline import files

    sources = []
    real = decp_monitor.parse.read_decp

    def spy(source, name=None):
        sources.append(type(source))
        return real(source, name=name)

    monkeypatch.setattr(decp_monitor.parse, "read_decp", spy)

    class Build:  # what load_file needs: a writer
        def __init__(self):
            import duckdb

            from decp_monitor.store.versions import schema_sql
            from decp_monitor.store.writer import BatchWriter

            self.con = duckdb.connect()
            self.con.execute(schema_sql())
            self.writer = BatchWriter(self.con)

        def add(self, item, resource_id=None):
            self.writer.add(item, resource_id)

    small = tmp_path / "small.json"
    small.write_text(json.dumps({"marches": {"marche": [MARCHE]}}), encoding="utf-8")
    large = tmp_path / "large.json"
    large.write_text(json.dumps({"marches": {"marche": [dict(MARCHE, objet="x" * files.SNIFF_BYTES)]}}),
                     encoding="utf-8")
    build = Build()
    assert files.load_file(build, small) == files.load_file(build, large) == "decp"
    assert sources == [bytes, type(large)]  # the large one is read from its path, streaming
    build.writer.flush()
    assert build.con.execute("SELECT source_file, contract_id FROM records ORDER BY ALL").fetchall() == [
        (str(large), "M1"), (str(small), "M1")]


# -- the sanitiser (bare NaN / Infinity) ---------------------------------------------------------

# The definition the filter keeps: tokens from left to right, strings skipped whole, a bare NaN or
# [-]Infinity outside them becomes null, an unterminated string waits for the next chunk.
REFERENCE_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN|"', re.S)


def reference_filter(text, eof):
    parts, last, cut, replaced = [], 0, len(text), 0
    for match in REFERENCE_TOKENS.finditer(text):
        token = match.group()
        if token == '"':
            if not eof:
                cut = match.start()
                break
            continue
        if token[0] != '"':
            parts += [text[last:match.start()], "null"]
            last = match.end()
            replaced += 1
    if not eof and cut == len(text):
        cut = max(len(text.rstrip(json_reader._PARTIAL)), last)
    parts.append(text[last:cut])
    return "".join(parts), text[cut:], replaced


PIECES = ['"', "\\", "N", "a", "NaN", "Infinity", "-", "I", "n", "f", "x", " ", ":", ",", "{", "}", '\\"', "\\\\",
          "é", "-Infinity", '"NaN"']  # no newline: the fast path before the filter (unchanged) takes those


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join), st.booleans())
def test_sanitiser_filter_is_the_token_definition(text, eof):
    reader = json_reader._SanitisingReader(io.BytesIO(b""), 0, "utf-8")
    reader.eof = eof
    assert reader._filter(text) + (reader.replaced,) == reference_filter(text, eof)


# Whole JSON tokens (strings with escapes, brackets or NaN in them; bare values), so that every text
# starts and ends outside a string, as a real file does, with no newline (a one-line file).
TOKENS = ['"a\\"b"', '"\\\\"', '"NaN"', '"x NaN -Infinity"', '"[{"', '"é\\\\\\""', '""', "NaN", "-Infinity",
          "Infinity", "--Infinity", "NaNaN", "Na", "N", "-", "I", "1", "null", ", ", ":", "[", "]", "{", "}", " "]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join), st.integers(1, 12))
def test_sanitiser_chunk_by_chunk_is_the_token_definition(text, chunk):
    # The reader cut in small chunks anywhere (inside strings, escapes and tokens) gives what the
    # token definition gives over the whole text at once
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_reader, "CHUNK", chunk)
        reader = json_reader._SanitisingReader(io.BytesIO(text.encode()), 0, "utf-8")
        out = b""
        while data := reader.read(chunk):
            out += data
    expected, rest, replaced = reference_filter(text, True)
    assert (out.decode(), reader.replaced) == (expected + rest, replaced)


def test_a_one_line_file_with_bare_nan_skips_the_token_regex(monkeypatch):
    # The national consolidated file is one line: without a newline to cut at, every chunk went
    # through the token regex; a chunk that ends between two strings no longer does.
    matched = []

    class Counting:
        def __init__(self, pattern):
            self.pattern = pattern

        def match(self, *args):
            matched.append(1)
            return self.pattern.match(*args)

    monkeypatch.setattr(json_reader, "_PLAIN", Counting(json_reader._PLAIN))
    rows = [dict(MARCHE, id=f"M{index}", objet="Lot [A] \"NaN\" " * 20,
                 montant=float("nan") if index % 7 == 0 else 1000) for index in range(3000)]
    data = json.dumps({"marches": rows}, ensure_ascii=False).encode()
    assert b"\n" not in data and len(data) > 20 * json_reader.CHUNK
    found = list(read_decp(data, name="decp.json"))
    records = [item for item in found if isinstance(item, Record)]
    assert [r.amount for r in records[:8]] == [None] + [1000.0] * 6 + [None]
    assert records[1].objet.startswith('Lot [A] "NaN" ')
    assert [item.message for item in found if getattr(item, "code", "") == "non_standard_json"] == [
        "JSON non standard : 429 valeur(s) NaN/Infinity lue(s) comme absentes"]
    assert len(matched) < 10  # only the last chunk (end of file) goes through the regex


def test_sanitiser_stays_linear_on_a_long_unterminated_string():
    reader = json_reader._SanitisingReader(io.BytesIO(b""), 0, "utf-8")
    text = '{"a": NaN, "b": "' + "x\\\"" * 200_000  # 600 000 characters, never closed
    started = time.process_time()
    out, carry = reader._filter(text)
    assert (out, reader.replaced) == ('{"a": null, "b": ', 1) and carry.startswith('"x')
    assert time.process_time() - started < 0.5


def test_the_key_search_does_not_keep_a_large_file_resident(tmp_path):
    # The search runs over the whole file when the key is absent: the pages it read are let go,
    # or a 1 GB national file would sit in the process's memory (its peak) for one byte search.
    import subprocess
    import sys

    path = tmp_path / "big.json"
    path.write_bytes(b'{"marches": {"marche": [' + b'{"id": "' + b"x" * (48 << 20) + b'"}]}}')
    probe = (  # the peak since the search: VmHWM reset first (Linux: clear_refs 5)
        "import sys\n"
        "from decp_monitor.parse.json_reader import _Source\n"
        "status = lambda key: int(open('/proc/self/status').read().split(key)[1].split()[0]) // 1024\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = status('VmRSS:')\n"
        "assert _Source(sys.argv[1]).lacks_key('contrat-concession')\n"
        "print(status('VmHWM:') - before)\n"
    )
    grown_mb = int(subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True,
                                  check=True).stdout)
    assert grown_mb < 30  # pages of 16 MiB at a time at most; 48 MB without the release
