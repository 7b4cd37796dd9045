"""Reliability: a hostile-file corpus, generated here (never committed), each file loaded by
`python -m decp_monitor load` in its own child process next to a good real file.

For every file: the load succeeds (exit 0), the good file is loaded whole, the hostile one becomes
the expected finding(s), and the child's peak RSS stays under 1 GB and its time under a bound.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from decp_monitor.parse.json_reader import MAX_DEPTH
from decp_monitor.parse.xml_sql import MIN_XML_BYTES
from decp_monitor.store.versions import Store
from tests.parse.test_hostile_xml import _write_hostile
from tests.reliability.measured import RSS_LIMIT_MB, run_measured

pytestmark = pytest.mark.slow

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real"
GOOD_XML = REAL / "decp-xml" / "format-commande-publique" / "v2.0.x" / "Marche.xml"
MB = 1 << 20
GOOD = {"id": "1", "acheteur": {"id": "21440036800012"}, "dateNotification": "2019-01-01",
        "datePublicationDonnees": "2019-01-02", "montant": 1000, "objet": "Lot [A"}


def _marches(records_json: bytes) -> bytes:
    return b'{"marches": [' + records_json + b"]}"


def _long_keys(megabytes: int, key_length: int = 1000) -> bytes:
    depth = megabytes * MB // (key_length + 4)
    key = b'{"' + b"k" * key_length + b'":'
    return _marches(json.dumps(GOOD).encode() + b"," + key * depth + b"1" + b"}" * depth)


def _at_the_limits() -> bytes:
    """Records nesting objects with 1000-byte keys to the depth limit (64), 10 MB in all."""
    nested = (b'{"' + b"k" * 1000 + b'":') * (MAX_DEPTH - 3) + b"1" + b"}" * (MAX_DEPTH - 3)
    return _marches(b",".join(json.dumps(dict(GOOD, id=str(i))).encode()[:-1] + b', "x": ' + nested + b"}"
                              for i in range(170)))


def _xxe(codec: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE marches [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<marches><marche><id>&x;</id></marche></marches>").encode(codec)


def _laughs(codec: str) -> bytes:
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE m [{entities}]><marches><marche><objet>&a9;'
            "</objet></marche></marches>").encode(codec)


def _write_string_file(path: Path, size: int, unit: bytes) -> None:
    with open(path, "wb") as out:
        out.write(b'{"marches": [' + json.dumps(GOOD).encode()[:-1] + b', "notes": "')
        block = unit * (MB // len(unit))
        for _ in range(size // len(block)):
            out.write(block)
        out.write(b'"}]}')


def _write_xml_text_node(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        out.write(b"<marches><marche><id>1</id><acheteur><id>21440036800012</id></acheteur></marche>"
                  b"<marche><id>2</id><objet>")
        block = b"a" * MB
        for _ in range(size // MB):
            out.write(block)
        out.write(b"</objet></marche></marches>")


# name -> (writer, expected finding codes of the hostile file, records expected from it, seconds allowed)
CORPUS = {
    "deep_array_20000.json": (lambda p: p.write_bytes(_marches(json.dumps(GOOD).encode() + b"," + b"[1," * 20_000
                                                               + b"1" + b"]" * 20_000)),
                              {"file_unreadable"}, 1, 30),
    "deep_object_100000.json": (lambda p: p.write_bytes(b'{"marches": [' + b'{"a":' * 100_000 + b"1"
                                                        + b"}" * 100_000 + b"]}"), {"file_unreadable"}, 0, 30),
    "long_keys_1mb.json": (lambda p: p.write_bytes(_long_keys(1)), {"file_unreadable"}, 1, 30),
    "long_keys_3mb.json": (lambda p: p.write_bytes(_long_keys(3)), {"file_unreadable"}, 1, 30),
    "long_keys_10mb_40kb_keys.json": (lambda p: p.write_bytes(_long_keys(10, 40_000)), {"file_unreadable"}, 1, 30),
    # At the limits (250 levels of 1000-byte keys, 40 records of them): read, memory bounded.
    "long_keys_at_the_limits.json": (lambda p: p.write_bytes(_at_the_limits()), set(), 170, 60),
    "brackets_in_30000_strings.json": (lambda p: p.write_bytes(_marches(b",".join(
        json.dumps(dict(GOOD, id=str(i))).encode() for i in range(30_000)))), set(), 30_000, 60),
    "brackets_300_in_one_string.json": (lambda p: p.write_bytes(_marches(b",".join(
        json.dumps(dict(GOOD, id=str(i), objet="[" * 300 if i == 7 else "Lot [A")).encode() for i in range(1_000)))),
        set(), 1_000, 30),
    "string_200mb.json": (lambda p: _write_string_file(p, 200 * MB, b"a"), {"long_value"}, 1, 60),
    "string_64mb_escapes.json": (lambda p: _write_string_file(p, 64 * MB, b'\\"\\\\\\u00e9[{\xc3\xa9'), {"long_value"}, 1, 60),
    "xxe_utf16le_no_bom.xml": (lambda p: p.write_bytes(_xxe("utf-16-le")), {"unsafe_xml"}, 0, 30),
    "xxe_utf16be_no_bom.xml": (lambda p: p.write_bytes(_xxe("utf-16-be")), {"unsafe_xml"}, 0, 30),
    "laughs_utf16_bom.xml": (lambda p: p.write_bytes(_laughs("utf-16")), {"unsafe_xml"}, 0, 30),
    "deep_100000.xml": (lambda p: p.write_bytes(b"<marches><marche>" + b"<a>" * 100_000 + b"</a>" * 100_000
                                                + b"</marche></marches>"), {"file_unreadable", "empty_file"}, 0, 30),
    "text_node_200mb.xml": (lambda p: _write_xml_text_node(p, 200 * MB), {"file_unreadable"}, 1, 60),
    # one record of 10 million empty elements (40 MB): the walk declines the file, the streaming
    # reader drops that record as it reads it and keeps the two around it
    "record_10m_elements.xml": (lambda p: _write_hostile(p, 10_000_000), {"record_too_large"}, 2, 60),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_file_is_a_finding_with_bounded_memory_and_time(name, tmp_path):
    if not GOOD_XML.is_file():
        pytest.skip(f"real sample file not found: {GOOD_XML}")
    writer, codes, expected_records, seconds = CORPUS[name]
    path = tmp_path / name
    writer(path)
    data_dir = tmp_path / "data"
    run = run_measured(f"file-{name}", ["--data-dir", str(data_dir), "load", str(path), str(GOOD_XML)],
                       timeout=seconds + 30)
    path.unlink()  # the large ones do not stay on disk
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.peak_mb < RSS_LIMIT_MB, run.peak_mb
    assert run.seconds < seconds, run.seconds
    con = Store(data_dir).connect()
    try:
        found = {c for (c,) in con.execute("SELECT DISTINCT code FROM findings WHERE source_file = $p",
                                           {"p": str(path)}).fetchall()}
        hostile = con.execute("SELECT count(*) FROM records WHERE source_file = $p", {"p": str(path)}).fetchone()[0]
        good = con.execute("SELECT count(*) FROM records WHERE source_file = $p", {"p": str(GOOD_XML)}).fetchone()[0]
        leaked = con.execute("SELECT count(*) FROM findings WHERE message LIKE '%root:%' OR value LIKE '%root:%'"
                             ).fetchone()[0]
    finally:
        con.close()
    assert codes <= found and ("file_unreadable" in found) == ("file_unreadable" in codes), found
    assert hostile == expected_records
    assert good > 0  # the other file of the same load is read whole
    assert leaked == 0  # nothing of /etc/passwd


def _large_records(path: Path, records: int = 12, size: int = 5 * MB) -> None:
    with open(path, "w", encoding="ascii") as out:
        out.write("<marches>")
        for i in range(records):
            out.write(f"<marche><id>{i}</id><acheteur><id>21440036800012</id></acheteur><objet>{'a' * size}</objet>"
                      "</marche>")
        out.write("</marches>")


# The XML files above, and records of 5 MB each, through the XML SQL path (parse/xml_sql.py): the
# same findings and records, bounded, and the streaming reader named with its reason when it took over.
XML_SQL_CORPUS = {name: CORPUS[name] for name in CORPUS if name.endswith(".xml")}
XML_SQL_CORPUS["large_records_60mb.xml"] = (_large_records, set(), 12, 60)


@pytest.mark.parametrize("name", sorted(XML_SQL_CORPUS))
def test_hostile_xml_on_the_sql_path_is_bounded_and_falls_back_with_a_reason(name, tmp_path):
    writer, codes, expected_records, seconds = XML_SQL_CORPUS[name]
    path = tmp_path / name
    writer(path)
    large = path.stat().st_size >= MIN_XML_BYTES  # smaller files go to the streaming reader without trying
    data_dir = tmp_path / "data"
    run = run_measured(f"file-sql-{name}", ["--data-dir", str(data_dir), "load", str(path)],
                       timeout=seconds + 30, env={"DECP_XML_READER": "sql"})
    path.unlink()
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.peak_mb < RSS_LIMIT_MB, run.peak_mb
    assert run.seconds < seconds, run.seconds
    con = Store(data_dir).connect()
    try:
        found = {c for (c,) in con.execute("SELECT DISTINCT code FROM findings").fetchall()}
        records = con.execute("SELECT count(*) FROM records").fetchone()[0]
        readers = con.execute("SELECT reader, reason FROM file_readers").fetchall()
    finally:
        con.close()
    assert codes <= found and ("file_unreadable" in found) == ("file_unreadable" in codes), found
    assert records == expected_records
    assert len(readers) == 1 and (readers[0][1] is not None or readers[0][0] != "lecteur en flux"), readers
    if large and codes:
        assert readers[0][0] == "lecteur en flux" and readers[0][1], readers
