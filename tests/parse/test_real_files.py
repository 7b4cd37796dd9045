"""Every real sample file loads; counts are computed independently of the parser."""
import json
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from decp_monitor.core.model import Finding, Record
from decp_monitor.parse import read_decp

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real"
JSON_FILES = sorted(p for p in (REAL / "decp-json").rglob("*.json"))
XML_FILES = sorted(p for p in (REAL / "decp-xml").rglob("*.xml"))
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real sample files absent")


def read(path):
    items = list(read_decp(path))
    records = [i for i in items if isinstance(i, Record)]
    findings = [i for i in items if isinstance(i, Finding)]
    return records, findings


def count_wrapped(value):
    if value is None:
        return 0
    if isinstance(value, list):
        return sum(count_wrapped(v) for v in value)
    if isinstance(value, dict) and list(value) == ["modification"]:
        return count_wrapped(value["modification"])
    return 1 if isinstance(value, dict) else 0


def expected_json(path):
    doc = json.loads(path.read_text(encoding="utf-8-sig"))
    marches = doc.get("marches", [doc] if "id" in doc else [])
    if isinstance(marches, dict):
        entries = [(r, "marche") for r in marches.get("marche") or []]
        entries += [(r, "concession") for r in marches.get("contrat-concession") or []]
    else:
        entries = []
        for r in marches:
            if "_type" in r:
                kind = "concession" if "concession" in r["_type"].lower() else "marche"
            else:
                kind = "concession" if "autoriteConcedante" in r else "marche"
            entries.append((r, kind))
    kinds = Counter(kind for _, kind in entries)
    modifications = sum(count_wrapped(r.get("modifications")) for r, _ in entries)
    return len(entries), kinds, modifications


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: str(p.relative_to(REAL)))
def test_json_file_counts(path):
    records, findings = read(path)
    total, kinds, modifications = expected_json(path)
    assert len(records) == total
    assert Counter(r.kind for r in records) == kinds
    assert sum(len(r.modifications) for r in records) == modifications
    assert not [f for f in findings if f.code in ("file_unreadable", "unknown_root")]
    assert all(r.format in ("json-2019", "json-2024") for r in records)
    assert [r.position for r in records] == list(range(total))


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(REAL)))
def test_xml_file_counts(path):
    records, findings = read(path)
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    elements = [root] if root.tag in ("marche", "contrat-concession") else list(root)
    kinds = Counter("concession" if e.tag == "contrat-concession" else "marche" for e in elements)
    modifications = sum(len(e.findall("modifications/modification")) for e in elements)
    assert len(records) == len(elements)
    assert Counter(r.kind for r in records) == kinds
    assert sum(len(r.modifications) for r in records) == modifications
    assert not [f for f in findings if f.code in ("file_unreadable", "unknown_root")]


def test_pes_publications_before_notification_counted_independently():
    path = REAL / "decp-json/decp-json_2019-archives/data.gouv.fr_pes_2019-04-05.json"
    doc = json.loads(path.read_text())
    expected = sum(1 for r in doc["marches"]
                   if r.get("datePublicationDonnees") and r.get("dateNotification")
                   and r["datePublicationDonnees"][:10] < r["dateNotification"][:10])
    assert expected == 120
    records, findings = read(path)
    assert sum(f.code == "publication_before_notification" for f in findings) == 120
    assert all(r.notification_date is not None for r in records)  # TZ-suffixed dates parsed


def test_bare_nan_file_is_read_with_a_finding():
    records, findings = read(REAL / "decp-json/decp-processing-tests/decp_test_2022.json")
    assert len(records) == 5
    assert [f.code for f in findings].count("non_standard_json") == 1
    assert any(f.code == "absurd_amount" and f.field == "montant" for f in findings)  # 1e+17
    assert any(f.code == "unparseable_number" and f.field == "dureeMois" for f in findings)  # "NC"


def test_flattened_buyer_key_and_nested_holders():
    records, findings = read(REAL / "decp-json/decp-processing-tests/decp_test_2019.json")
    assert all(r.buyer_siret for r in records)
    assert not [f for f in findings if f.code == "missing_buyer"]
    assert all(h["id"] for r in records for h in r.holders)


def test_string_amounts_and_spaced_keys_of_marches_securises():
    path = REAL / "decp-json/marches-securises/decp_21590163800019_2019-01-01_2021-12-31.json"
    doc = json.loads(path.read_text())
    records, findings = read(path)
    assert [r.amount for r in records] == [float(m["montant"]) for m in doc["marches"]]
    assert [r.duration_months for r in records] == [int(m["dureeMois"]) for m in doc["marches"]]
    assert [f.code for f in findings].count("key_with_spaces") == 1  # once per file
    assert [r.place_name for r in records] == [m["lieuExecution"].get("nom ") or None for m in doc["marches"]]


def test_duplicated_publication_date_keeps_the_earliest():
    records, findings = read(REAL / "decp-xml/grandlyon/test-xml.xml")
    assert str(records[0].publication_date) == "2018-09-15"
    assert any(f.code == "duplicate_field" and f.field == "datePublicationDonnees" for f in findings)
    assert records[0].buyer_siret == "20004697700019"


def test_empty_xml_elements_one_finding_each():
    path = REAL / "decp-xml/decp-rama/test_tri.xml"
    tree = etree.parse(str(path))
    empty = {e.tag for e in tree.iter() if len(e) == 0 and not (e.text or "").strip()}
    records, findings = read(path)
    assert {f.field for f in findings if f.code == "empty_element"} == empty
    assert len([f for f in findings if f.code == "empty_element"]) == 11


def test_aife_mojibake_counted_once_and_missing_dates_kept_missing():
    path = REAL / "decp-json/decp-json_2019-archives/data.gouv.fr_aife_2019-04-04.json"
    text = path.read_text()
    doc = json.loads(text)
    records, findings = read(path)
    mojibake = [f for f in findings if f.code == "mojibake"]
    assert len(mojibake) == 1 and mojibake[0].value == str(text.count("\ufffd")) == "10746"
    # SOURCES.md's "2511 marchés have neither..." is in fact: 2511 marchés lack dateNotification.
    lacking = [i for i, r in enumerate(doc["marches"]) if r["_type"] == "Marché" and not r.get("dateNotification")]
    assert len(lacking) == 2511
    read_lacking = [r.position for r in records if r.kind == "marche" and r.notification_date is None]
    assert read_lacking == lacking  # a missing notification date is never filled from another date
    codes = Counter(f.code for f in findings)
    assert codes["missing_notification_date"] == 2511


def test_rendu_compte_records_have_no_dates():
    records, findings = read(REAL / "decp-xml/rendu-compte-decp/marches_region-bretagne_2020-10-16.xml")
    codes = Counter(f.code for f in findings)
    assert codes["missing_notification_date"] == codes["missing_publication_date"] == len(records) == 762


def test_empty_aife_publication_is_an_empty_file_finding():
    records, findings = read(REAL / "decp-json/aife-api-decp/decp-2024.json")
    assert records == [] and [f.code for f in findings] == ["empty_file"]


def test_modification_before_contract_in_aife_feed():
    records, findings = read(REAL / "decp-json/aife-api-decp/decp-2025.json")
    assert [f.code for f in findings] == ["modification_before_notification"]
