"""Hostile XML: entities in any encoding, deep nesting, huge text nodes, records beyond the bound."""
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decp_monitor.core.model import Finding, Record
from decp_monitor.parse import read_decp, xml_reader
from decp_monitor.pipeline.files import sniff

XXE = ('<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE marches [<!ENTITY x SYSTEM "file://{secret}">]>'
       "<marches><marche><id>&x;</id></marche></marches>")
GOOD = ('<?xml version="1.0" encoding="UTF-16"?><marches><marche><id>é1</id><acheteur><id>21440036800012</id>'
        "</acheteur></marche></marches>")


def read(data):
    items = list(read_decp(data, name="t"))
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Finding)]


def test_xxe_in_utf16_and_utf32_without_bom_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    for encoding, codec in (("UTF-16", "utf-16-le"), ("UTF-16", "utf-16-be"), ("UTF-16", "utf-16"),
                            ("UTF-32", "utf-32-le"), ("UTF-32", "utf-32-be")):
        path = tmp_path / f"xxe-{codec}.xml"
        path.write_bytes(XXE.format(encoding=encoding, secret=secret).encode(codec))
        assert sniff(path.read_bytes()[:4096]) == "decp"
        records, findings = read(path)
        assert records == [] and [f.code for f in findings] == ["unsafe_xml"], codec
        assert "TOPSECRET" not in repr(findings)


def test_the_dtd_libxml2_read_is_checked_even_when_the_text_scan_misses(monkeypatch):
    # Any encoding libxml2 decodes and the text scan does not know: the parsed DTD still tells.
    monkeypatch.setattr(xml_reader, "_refuse_entities", lambda head: None)
    for codec in ("utf-16-le", "utf-8"):
        records, findings = read(XXE.format(encoding="UTF-16" if "16" in codec else "UTF-8", secret="/x").encode(codec))
        assert records == [] and [f.code for f in findings] == ["unsafe_xml"], codec


def test_a_doctype_without_entities_is_read():
    records, findings = read(b'<!DOCTYPE marches><marches><marche><id>1</id></marche></marches>')
    assert [r.contract_id for r in records] == ["1"]
    assert "unsafe_xml" not in [f.code for f in findings]


def test_utf16_files_are_read_with_or_without_bom():
    for codec in ("utf-16", "utf-16-le", "utf-16-be"):
        records, findings = read(GOOD.encode(codec))
        assert [r.contract_id for r in records] == ["é1"], codec
        assert [f.code for f in findings] == ["missing_notification_date", "missing_publication_date"]


def test_huge_text_node_and_deep_nesting_are_findings_in_french():
    records, findings = read(b"<marches><marche><id>1</id></marche><marche><objet>" + b"a" * 11_000_000
                             + b"</objet></marche></marches>")
    assert [r.contract_id for r in records] == ["1"]
    assert "texte de plus de 10 Mo" in findings[-1].message
    records, findings = read(b"<marches><marche>" + b"<a>" * 20_000 + b"</a>" * 20_000 + b"</marche></marches>")
    assert records == [] and "imbrication de plus de 256 niveaux" in findings[0].message


def test_an_attribute_value_beyond_libxml2s_limit_is_a_finding_in_french():
    records, findings = read(b'<marches><marche><id>1</id></marche><marche><id>2</id><objet a="' + b"v" * 11_000_000
                             + b'"/></marche></marches>')
    assert [r.contract_id for r in records] == ["1", "2"]  # attributes are not read: the record is whole
    assert findings[-1].code == "file_unreadable" and "balise de plus de 10 Mo" in findings[-1].message


BUYER = "<acheteur><id>21440036800012</id></acheteur>"
NEIGHBOURS = (f"<marche><id>A</id>{BUYER}<objet>avant</objet><nature/></marche>",
              f"<marche><id>B</id>{BUYER}<objet>après</objet><montant>-1</montant></marche>")


def _around(hostile: str) -> bytes:
    return ("<marches>\n" + NEIGHBOURS[0] + "\n" + hostile + "\n" + NEIGHBOURS[1] + "\n</marches>").encode()


@pytest.mark.parametrize("hostile", [
    "<a/>" * 30_000,  # 30 000 elements: 1.7 MB held, 120 KB of file
    ("<a>" + "x" * 400_000 + "</a>\n") * 3,  # texts
    "<a>" + ("<b/>" + " " * 100_000) * 12 + "</a>",  # text after the children (kept by lxml)
], ids=["elements", "texts", "tails"])
def test_a_record_beyond_the_bound_is_a_located_finding_and_its_neighbours_are_read_as_before(monkeypatch, hostile):
    data = _around(f"<marche><id> H </id>{BUYER}{hostile}</marche>")
    as_before = read(data)  # within the real bound: read as a record
    assert [r.contract_id for r in as_before[0]] == ["A", "H", "B"]
    monkeypatch.setattr(xml_reader, "MAX_RECORD_BYTES", 1 << 20)
    records, findings = read(data)
    assert records == [r for r in as_before[0] if r.contract_id != "H"]
    assert [f for f in findings if f.position != 1] == [f for f in as_before[1] if f.position != 1]
    [dropped] = [f for f in findings if f.position == 1]
    assert dropped.code == "record_too_large" and (dropped.contract_id, dropped.buyer_siret) == ("H", "21440036800012")
    assert dropped.message.startswith("Contrat ignoré (ligne 3) : plus de 1 Mo une fois lu, limite de lecture "
                                      "par contrat (abandonné après ")
    assert dropped.message.endswith(" de texte)")  # « à l'abandon » read as « laissés à l'abandon »


def test_records_inside_a_dropped_record_go_with_it_and_positions_stay(monkeypatch):
    # a record inside: after the outer one is dropped (160 KB of file, 2.2 MB held), or before it
    data = _around("<marche><a>" + "<marche><id>J</id></marche>" + "<b/>" * 40_000 + "<marche><id>I</id></marche>"
                   + "<b/>" * 10_000 + "</a></marche>")
    as_before = read(data)
    monkeypatch.setattr(xml_reader, "MAX_RECORD_BYTES", 1 << 20)
    records, findings = read(data)
    assert [(r.contract_id, r.position) for r in as_before[0]] == [("A", 0), ("J", 1), ("I", 2), (None, 3), ("B", 4)]
    assert [(r.contract_id, r.position) for r in records] == [("A", 0), ("J", 1), ("B", 4)]
    [dropped] = [f for f in findings if f.code == "record_too_large"]
    assert dropped.position == 3 and "1 contrat qu'il contenait, ignoré avec lui" in dropped.message
    assert dropped.contract_id is None  # its id was not read before it was dropped


def test_a_dropped_record_is_reported_once_when_the_file_is_read_again_in_latin1(monkeypatch):
    monkeypatch.setattr(xml_reader, "MAX_RECORD_BYTES", 1 << 20)
    data = _around("<marche><id>H</id>" + "<a/>" * 30_000 + "</marche>").replace("après".encode(), b"apr\xe8s")
    records, findings = read(data)
    assert [r.contract_id for r in records] == ["A", "B"]
    assert [r.objet for r in records] == ["avant", "après"]
    codes = [f.code for f in findings]
    assert codes.count("record_too_large") == 1 and "encoding_fallback" in codes


def _element(rnd, depth: int) -> str:
    """Random content: attributes, CDATA, comments, entities, text before and after children."""
    name = rnd.choice(["a", "b", "objet", "id", "titulaires", "titulaire"])
    attributes = "".join(f' k{i}="{"v" * rnd.randint(0, 30)}"' for i in range(rnd.randint(0, 2)))
    if depth > 6 or rnd.random() < 0.4:
        text = rnd.choice(["", "t", "x" * rnd.randint(0, 200), "<![CDATA[c<>]]>", "a<!--c-->b", "&amp;é"])
        return f"<{name}{attributes}>{text}</{name}>"
    children = "".join(_element(rnd, depth + 1) + rnd.choice(["", " ", "\n  ", "tail" * rnd.randint(0, 20)])
                       for _ in range(rnd.randint(0, 6)))
    return f"<{name}{attributes}>{rnd.choice(['', 'lead', ' '])}{children}</{name}>"


def _random_file(seed: int) -> bytes:
    rnd = random.Random(seed)
    records = []
    for i in range(rnd.randint(1, 8)):
        body = "".join(_element(rnd, 1) for _ in range(rnd.randint(0, 5)))
        if rnd.random() < 0.3:
            body += "<big>" + "".join(_element(rnd, 2) for _ in range(rnd.randint(20, 200))) + "</big>"
        if rnd.random() < 0.1:
            body += f"<marche><id>in{i}</id>{_element(rnd, 2)}</marche>"
        records.append(f"<marche><id>{i}</id>{body}</marche>")
    return ("<marches>\n" + "\n".join(records) + "\n</marches>").encode()


@pytest.mark.parametrize("seed", range(6))
def test_dropping_records_at_any_point_of_the_parse_leaves_the_others_as_they_were(monkeypatch, seed):
    # small reads and bounds: the open record is measured and cut at every state of the parser
    data = _random_file(seed)
    whole = list(read_decp(data, name="t"))
    monkeypatch.setattr(xml_reader, "READ_CHUNK", (7, 64, 500)[seed % 3])
    monkeypatch.setattr(xml_reader, "MAX_RECORD_BYTES", (1000, 3000, 10_000)[seed % 3 - 1])
    items = list(read_decp(data, name="t"))
    dropped = {f.position: f for f in items if isinstance(f, Finding) and f.code == "record_too_large"}
    gone = set(dropped)  # and the records inside each, just before it
    for position, f in dropped.items():
        within = re.search(r"; (\d+) contrats? qu'il contenait", f.message)
        inner = int(within.group(1)) if within else 0
        gone |= set(range(position - inner, position))
    assert [i for i in items if i.position not in dropped] == [i for i in whole if i.position not in gone]
    assert dropped or seed % 3 == 0  # the two smaller bounds drop some


def _write_hostile(path: Path, elements: int) -> None:
    """A record of `elements` empty elements between two plain ones, written in blocks."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<marches>\n' + NEIGHBOURS[0] + "\n")
        out.write(f"<marche><id>H</id>{BUYER}")
        block = "<a/>" * 100_000
        for _ in range(elements // 100_000):
            out.write(block)
        out.write("</marche>\n" + NEIGHBOURS[1] + "\n</marches>\n")


# Read in a child process, which prints what it read and its own peak RSS: VmHWM, which exec resets
# (ru_maxrss, from os.wait4, keeps the forking test process's size: 622 MB in a full xdist worker).
READ_IN_CHILD = """
import json, sys
from decp_monitor.parse import read_decp
items = list(read_decp(sys.argv[1], name="h.xml"))
peak_kb = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])
print(json.dumps({"items": [[type(i).__name__, getattr(i, "code", None), i.position, i.contract_id] for i in items],
                  "peak_mb": peak_kb / 1024}))
"""


def read_in_child(path: Path) -> tuple[list, float, float]:
    """(items read, seconds, peak RSS in MB) of the streaming reader reading `path` in a child."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", READ_IN_CHILD, str(path)], stdout=subprocess.PIPE, env=env,
                             cwd=env["PYTHONPATH"])
    out = child.stdout.read()
    assert child.wait() == 0
    run = json.loads(out)
    return run["items"], time.monotonic() - started, run["peak_mb"]


@pytest.mark.slow  # a 40 MB file of 10 million empty elements in one record, read in a child: ~10 s
def test_a_record_far_beyond_the_bound_is_dropped_in_bounded_memory(tmp_path):
    path = tmp_path / "hostile.xml"
    _write_hostile(path, 10_000_000)  # 570 MB held by the walk's count, ~1.5 GB as an lxml tree
    items, seconds, peak_mb = read_in_child(path)
    path.unlink()
    assert [i[3] for i in items if i[0] == "Record"] == ["A", "B"]
    assert ["Finding", "record_too_large", 1, "H"] in items
    # the record is dropped at 1 to 1.5 times the bound (64 MB by the walk's count, ~150 bytes an
    # element in lxml) and memory stays there while the rest of it is read
    assert peak_mb < 400, peak_mb
    assert seconds < 60, seconds
