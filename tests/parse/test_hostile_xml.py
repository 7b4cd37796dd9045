"""Hostile XML: entities in any encoding, deep nesting, huge text nodes."""
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
