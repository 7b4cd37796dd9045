"""Hostile or broken inputs: each yields a finding, never an exception, never an expanded entity."""
import datetime as dt
import json

from decp_monitor.core.model import Finding, Record
from decp_monitor.parse import read_decp

GOOD = {"id": "1", "acheteur": {"id": "21440036800012"}, "dateNotification": "2019-01-01",
        "datePublicationDonnees": "2019-01-02", "montant": 1000}


def read(data, name="t"):
    items = list(read_decp(data, name=name))
    return [i for i in items if isinstance(i, Record)], [i for i in items if isinstance(i, Finding)]


def codes(findings):
    return [f.code for f in findings]


def test_xxe_external_entity_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    path = tmp_path / "xxe.xml"
    path.write_bytes(f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file://{secret}">]>'
                     f'<marches><marche><id>&x;</id></marche></marches>'.encode())
    records, findings = read(path)
    assert records == [] and codes(findings) == ["unsafe_xml"]
    assert "TOPSECRET" not in repr(findings)


def test_billion_laughs_refused(tmp_path):
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    path = tmp_path / "bomb.xml"
    path.write_bytes(f'<?xml version="1.0"?><!DOCTYPE m [{entities}]><marches><marche><objet>&a9;</objet>'
                     f'</marche></marches>'.encode())
    records, findings = read(path)
    assert records == [] and codes(findings) == ["unsafe_xml"]


def test_truncated_json_keeps_records_read_before(tmp_path):
    text = json.dumps({"marches": [GOOD, dict(GOOD, id="2"), dict(GOOD, id="3")]})
    path = tmp_path / "cut.json"
    path.write_bytes(text[: text.rindex('"id": "3"') + 5].encode())
    records, findings = read(path)
    assert [r.contract_id for r in records] == ["1", "2"]
    unreadable = [f for f in findings if f.code == "file_unreadable"]
    assert len(unreadable) == 1 and "octet" in unreadable[0].message


def test_truncated_xml_keeps_records_and_gives_line_and_column(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_bytes(b"<marches>\n<marche><id>1</id><acheteur><id>21440036800012</id></acheteur></marche>\n"
                     b"<marche><id>2</i")
    records, findings = read(path)
    assert [r.contract_id for r in records] == ["1"]
    unreadable = [f for f in findings if f.code == "file_unreadable"]
    assert len(unreadable) == 1 and "ligne" in unreadable[0].message


def test_latin1_json_read_with_fallback(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(json.dumps({"marches": [dict(GOOD, objet="Réfection de l'été")]}, ensure_ascii=False)
                     .encode("latin-1"))
    records, findings = read(path)
    assert records[0].objet == "Réfection de l'été"
    assert codes(findings) == ["encoding_fallback"]


def test_deeply_nested_json_is_refused_without_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"marches":[{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}]}")
    records, findings = read(path)
    assert records == []
    assert "file_unreadable" in codes(findings)
    assert "imbrication" in findings[0].message


def test_empty_and_blank_files(tmp_path):
    for content in (b"", b"   \n"):
        path = tmp_path / "empty.json"
        path.write_bytes(content)
        records, findings = read(path)
        assert records == [] and codes(findings) == ["empty_file"]


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.json"
    path.write_bytes(bytes(range(256)) * 40)
    records, findings = read(path)
    assert records == [] and codes(findings) == ["file_unreadable"]


def test_garbage_after_a_brace(tmp_path):
    path = tmp_path / "brace.json"
    path.write_bytes(b"{" + bytes(range(256)) * 4)
    records, findings = read(path)
    assert records == [] and "file_unreadable" in codes(findings)


def test_unknown_roots():
    assert codes(read(b'{"foo": [1]}')[1]) == ["unknown_root"]
    assert codes(read(b"<contrats><contrat/></contrats>")[1]) == ["unknown_root"]


def test_format_detected_from_content_not_name(tmp_path):
    path = tmp_path / "looks-like.xml"
    path.write_bytes(json.dumps({"marches": [GOOD]}).encode())
    records, _ = read(path)
    assert records[0].format == "json-2019"


def test_bom_and_bare_nan_with_nan_inside_strings_untouched():
    data = b'\xef\xbb\xbf{"marches": [{"id": "NaN", "objet": "x NaN y", "acheteur": {"id": "21440036800012"},' \
           b' "montant": NaN, "dateNotification": "2019-01-01", "datePublicationDonnees": "2019-01-02"}]}'
    records, findings = read(data)
    assert records[0].contract_id == "NaN" and records[0].objet == "x NaN y" and records[0].amount is None
    assert codes(findings) == ["utf8_bom", "non_standard_json"]


def test_2024_root_with_concessions_first_keeps_file_order():
    concession = {"id": "c", "autoriteConcedante": {"id": "21440036800012"}, "dateSignature": "2024-01-01",
                  "datePublicationDonnees": "2024-01-02", "valeurGlobale": "5000"}
    data = json.dumps({"marches": {"contrat-concession": [concession], "marche": [GOOD]}}).encode()
    records, findings = read(data)
    assert [(r.kind, r.contract_id, r.format) for r in records] == [("concession", "c", "json-2024"),
                                                                     ("marche", "1", "json-2024")]
    assert records[0].amount == 5000.0 and str(records[0].notification_date) == "2024-01-01"
    assert findings == []


def test_xml_namespaces_stripped_and_single_record_root():
    data = (b'<marche xmlns="urn:stray"><id>9</id><acheteur><id>21440036800012</id></acheteur>'
            b'<dateNotification>2019-01-01+01:00</dateNotification>'
            b'<datePublicationDonnees>2019-03-01</datePublicationDonnees>'
            b'<titulaires><titulaire><id>1</id><denominationSociale>ACME</denominationSociale></titulaire>'
            b'</titulaires></marche>')
    records, findings = read(data)
    assert records[0].contract_id == "9" and records[0].holders == [{"id": "1", "type_id": None, "name": "ACME"}]
    assert findings == []


def test_record_level_findings_carry_position_field_and_keys():
    bad = dict(GOOD, acheteur={"id": "21440036800013"}, montant=-5, datePublicationDonnees="2018-12-01",
               dateDebutExecution="0222-01-01")
    records, findings = read(json.dumps({"marches": [GOOD, bad]}).encode())
    by_code = {f.code: f for f in findings}
    assert set(by_code) == {"invalid_siret", "negative_amount", "publication_before_notification", "absurd_year"}
    assert all(f.position == 1 and f.contract_id == "1" and f.buyer_siret == "21440036800013" for f in findings)
    assert "clé de contrôle (Luhn) invalide" in by_code["invalid_siret"].message
    assert by_code["absurd_year"].field == "dateDebutExecution"


def test_xml_declared_latin1_is_decoded_by_the_parser():
    data = '<?xml version="1.0" encoding="ISO-8859-1"?><marche><id>1</id><objet>Réfection</objet></marche>'
    records, findings = read(data.encode("latin-1"))
    assert records[0].objet == "Réfection"
    assert "file_unreadable" not in codes(findings)


def test_xml_garbage_after_angle_bracket():
    records, findings = read(b"<" + bytes(range(256)))
    assert records == [] and codes(findings)[0] == "file_unreadable" and "ligne 1" in findings[0].message


def test_spaced_key_inside_the_buyer_keeps_its_name_and_is_reported():
    record = dict(GOOD, acheteur={"id": "21440036800012", "nom ": "Commune de Nantes"})
    records, findings = read(json.dumps({"marches": [record, record]}).encode())
    assert [r.buyer_name for r in records] == ["Commune de Nantes", "Commune de Nantes"]
    assert codes(findings).count("key_with_spaces") == 1  # once per file
    assert [f.field for f in findings if f.code == "key_with_spaces"] == ["nom"]


def test_undeclared_latin1_xml_is_read_again_in_latin1_without_losing_or_repeating_records():
    first = "<marche><id>1</id><acheteur><id>21440036800012</id></acheteur></marche>"
    second = "<marche><id>2</id><acheteur><id>21440036800012</id></acheteur><objet>Éclairage de Sèvres</objet></marche>"
    records, findings = read(f"<marches>{first}{second}</marches>".encode("latin-1"))
    assert [r.contract_id for r in records] == ["1", "2"]
    assert records[1].objet == "Éclairage de Sèvres"
    assert codes(findings).count("encoding_fallback") == 1
    assert "file_unreadable" not in codes(findings)


def test_2024_root_with_a_single_object_instead_of_a_list():
    concession = {"id": "C", "autoriteConcedante": {"id": "21440036800012"}, "dateSignature": "2024-01-01"}
    records, findings = read(json.dumps({"marches": {"marche": GOOD, "contrat-concession": concession}}).encode())
    assert [(r.contract_id, r.kind, r.format) for r in records] == [("1", "marche", "json-2024"),
                                                                    ("C", "concession", "json-2024")]
    assert "empty_file" not in codes(findings)


def test_single_record_under_marches_is_read():
    records, findings = read(json.dumps({"marches": GOOD}).encode())
    assert [r.contract_id for r in records] == ["1"]
    assert "unknown_root" not in codes(findings) and "empty_file" not in codes(findings)


def test_date_in_the_future_is_a_finding_and_kept():
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    records, findings = read(json.dumps({"marches": [dict(GOOD, datePublicationDonnees=future)]}).encode())
    assert records[0].publication_date == dt.date.fromisoformat(future)
    assert [f.field for f in findings if f.code == "date_in_future"] == ["datePublicationDonnees"]


def test_unreadable_files_are_explained_in_french_with_the_parser_text_kept():
    cases = {
        b'{"marches": [{"id": "1"}': "fin de fichier prématurée",
        b'{"marches": [{"id": 1 "x": 2}]}': "syntaxe JSON incorrecte",
        b"<marches><marche><id>1</id></marches>": "balise fermante qui ne correspond pas",
        b"<marches><marche><id>1</id></marche>": "fin de fichier prématurée",
    }
    for data, french in cases.items():
        _, findings = read(data)
        [message] = [f.message for f in findings if f.code == "file_unreadable"]
        assert french in message and "(analyseur : " in message, message


def test_empty_lists_the_schema_allows_are_not_findings():
    xml = ("<marches><marche><id>1</id><acheteur><id>21440036800012</id></acheteur><procedure></procedure>"
           "<modifications/><donneesExecution></donneesExecution></marche></marches>")
    _, findings = read(xml.encode())
    assert [f.field for f in findings if f.code == "empty_element"] == ["procedure"]


def test_nan_after_many_clean_lines_is_still_replaced_and_strings_untouched():
    lines = [json.dumps(dict(GOOD, id=str(i), objet="NaNtes et Infinity")) for i in range(3000)]
    lines[2500] = lines[2500].replace('"montant": 1000', '"montant": NaN')
    records, findings = read(('{"marches": [\n' + ",\n".join(lines) + "\n]}").encode())
    assert len(records) == 3000 and records[2500].amount is None and records[10].amount == 1000
    assert all(r.objet == "NaNtes et Infinity" for r in records)
    assert codes(findings) == ["non_standard_json"]
