"""`check` on small written files: summary, located errors, fixes, exit codes, bounds, safety."""
from __future__ import annotations

import json

import pytest

from decp_monitor.check import READY, check_files
from decp_monitor.check.issues import MAX_LOCATIONS
from decp_monitor.cli import main
from tests.check.fixtures import (
    AS_OF,
    BUYER,
    CLEAN_NAME,
    DEFECTIVE_NAME,
    clean_bytes,
    defective_bytes,
    marche,
    write,
)

GOOD_DESCRIPTION = {
    "title": "Données essentielles des marchés publics - Commune de Bonneville",
    "tags": ["donnees-essentielles", "commande-publique"],
    "license": "fr-lo",
    "extras": {"siret": BUYER},
    "organization": {"id": "org-bonneville", "name": "Commune de Bonneville"},
    "frequency": "monthly",
}


def test_a_clean_file_is_ready_to_publish(tmp_path):
    report = check_files([write(tmp_path, CLEAN_NAME, clean_bytes())], as_of=AS_OF)
    assert report.ready and report.exit_code == 0
    assert report.summary() == [READY]
    assert report.files[0].validation.schema.version == "2.0.3"
    assert [row["status"] for row in report.status_counts] == ["on_time"]
    assert {c["today"] for c in report.contracts} == {"due"}
    assert report.buyers[0]["verdict"] == "compliant"
    assert {c["check"]: c["passed"] for c in report.conventions} == {"resource_file_name": True, "name_date": True}


def test_a_defective_file_says_what_to_fix_first_with_locations(tmp_path):
    report = check_files([write(tmp_path, DEFECTIVE_NAME, defective_bytes())], as_of=AS_OF)
    assert not report.ready and report.exit_code == 1
    summary = report.summary()
    assert len(summary) == 3
    assert summary[0].startswith("Champ obligatoire absent : dateNotification")
    assert "Renseigner « dateNotification »" in summary[0]
    issues = {issue.code: issue for issue in report.issues}
    montant = issues["schema:type:montant"]
    assert montant.locations[0].record == 1 and montant.locations[0].contract_id == "2025-DEF-01"
    assert montant.locations[0].field == "marches.marche[0].montant" and montant.locations[0].value == "30000.00"
    required = issues["schema:required:dateNotification"]
    assert required.locations[0].field == "marches.marche[1].dateNotification"
    late = issues["deadline:late"]
    assert late.count == 1 and late.locations[0].contract_id == "2025-DEF-03"
    assert "échéance 10/03/2025" in late.locations[0].note
    name = issues["convention:resource_file_name"]
    assert "DECP-{SIRET}" in name.fix and name.locations[0].value == DEFECTIVE_NAME
    assert report.buyers[0]["verdict"] == "late"


def test_the_file_name_date_must_be_the_upload_day(tmp_path):
    name = f"DECP-{BUYER}-2025-05-02-01.json"  # named as if published two months earlier
    report = check_files([write(tmp_path, name, clean_bytes())], as_of=AS_OF)
    failed = [c for c in report.conventions if not c["passed"]]
    assert [c["check"] for c in failed] == ["name_date"]
    assert "déposé le 30/06/2025" in failed[0]["message"]


def test_dataset_description_conventions_each_with_its_fix(tmp_path):
    path = write(tmp_path, CLEAN_NAME, clean_bytes())
    good = check_files([path], as_of=AS_OF, dataset_description=GOOD_DESCRIPTION)
    assert good.ready, good.summary()
    assert {c["check"] for c in good.conventions} >= {"title_pattern", "tags", "license", "extras_siret",
                                                      "frequency", "organization", "mime", "resource_type"}
    bad = dict(GOOD_DESCRIPTION, title="Marchés 2025", license="cc-by", tags=["marches"], extras={})
    description = tmp_path / "jeu.json"
    description.write_text(json.dumps(bad), encoding="utf-8")
    report = check_files([path], as_of=AS_OF, dataset_description=description)
    failed = {c["check"] for c in report.conventions if not c["passed"]}
    assert failed == {"title_pattern", "tags", "license", "extras_siret"}
    fixes = {i.code: i.fix for i in report.issues if i.category == "convention"}
    assert "fr-lo" in fixes["convention:license"]
    assert "extras.siret" in fixes["convention:extras_siret"]
    assert report.exit_code == 1


def test_a_dataset_json_among_the_files_is_the_description(tmp_path):
    description = tmp_path / "jeu.json"
    description.write_text(json.dumps({**GOOD_DESCRIPTION, "id": "abc", "slug": "x", "resources": [
        {"id": "r1", "title": CLEAN_NAME, "url": f"https://static.data.gouv.fr/{CLEAN_NAME}", "filetype": "remote",
         "type": "main", "format": "json", "mime": "application/json"}]}), encoding="utf-8")
    report = check_files([write(tmp_path, CLEAN_NAME, clean_bytes()), description], as_of=AS_OF)
    assert report.description_given
    failed = [c["check"] for c in report.conventions if not c["passed"]]
    assert failed == ["uploaded"]  # a link to an external server instead of an upload
    second = tmp_path / "autre.json"
    second.write_bytes(description.read_bytes())
    report = check_files([write(tmp_path, CLEAN_NAME, clean_bytes()), description, second], as_of=AS_OF)
    ignored = next(i for i in report.issues if i.code == "convention:second-description")
    assert ignored.severity == "warning" and ignored.locations[0].file == str(second)


def test_declaration_csv_is_validated_and_counts_in_the_verdict(tmp_path):
    csv = tmp_path / "declarations.csv"
    csv.write_text(f"siretAcheteur;urlProfilAcheteur;urlDCAT;coordonnees\n{BUYER};https://profil.example.fr/b;;Mairie\n"
                   "1234;pas-une-url;;\n", encoding="utf-8")
    report = check_files([write(tmp_path, CLEAN_NAME, clean_bytes()), csv], as_of=AS_OF)
    codes = {i.code: i for i in report.issues}
    assert codes["schema:table:constraint-error:siretAcheteur"].locations[0].line == 3
    assert "schema:table:constraint-error:coordonnees" in codes
    buyer = next(b for b in report.buyers if b["buyer_siret"] == BUYER)
    assert buyer["declared"] and buyer["verdict"] == "compliant"


def test_errors_are_grouped_and_bounded(tmp_path):
    records = [marche(f"ID-{i}", AS_OF, AS_OF, montant="1", dureeMois="12") for i in range(3000)]
    path = write(tmp_path, CLEAN_NAME, json.dumps({"marches": {"marche": records}}).encode())
    report = check_files([path], as_of=AS_OF)
    validation = report.files[0].validation
    assert validation.invalid_records == 3000
    # details for the first 1000 invalid records (2 errors each), the other 2000 only counted
    assert validation.capped and validation.detailed_records == 1000 and validation.errors == 2000
    issues = {i.code: i for i in report.issues}
    assert issues["schema:type:montant"].count == 1000
    assert len(issues["schema:type:montant"].locations) == MAX_LOCATIONS
    assert issues["schema:undetailed"].count == 2000
    text = report.to_text()
    assert len(text.splitlines()) < 150
    assert "détail limité aux 1000 premiers enregistrements non conformes" in text


def test_xml_errors_are_located_by_line(tmp_path):
    xml = ("<?xml version='1.0' encoding='UTF-8'?>\n<marches>\n<marche>\n<id>2025-X-1</id>\n"
           f"<acheteur><id>{BUYER}</id></acheteur>\n<nature>Marché</nature>\n<montant>abc</montant>\n</marche>\n</marches>\n")
    report = check_files([write(tmp_path, "x.xml", xml.encode())], as_of=AS_OF)
    validation = report.files[0].validation
    assert validation.schema.version == "1.5.0" and validation.invalid_records == 1
    lines = {loc.line for i in report.issues if i.category == "schema" for loc in i.locations}
    assert lines and lines <= set(range(3, 10))


@pytest.mark.parametrize("content, reason", [
    (b'<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<marches><marche>&x;</marche></marches>',
     "XXE"),
    (b'{"marches": {"marche": [{"id": "1", "acheteur": {"id": "2144', "illisible"),
    (b"%PDF-1.4 binary", "non reconnu"),
    (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "imbrication"),
])
def test_unreadable_or_refused_files_exit_2(tmp_path, capsys, content, reason):
    path = tmp_path / "fichier.json"
    path.write_bytes(content)
    assert main(["check", str(path), "--as-of", AS_OF.isoformat()]) == 2
    out = capsys.readouterr().out
    assert "Fichier illisible" in out and reason in out


def test_cli_text_json_and_exit_codes(tmp_path, capsys):
    data_dir = tmp_path / "data"
    clean = write(tmp_path, CLEAN_NAME, clean_bytes())
    assert main(["--data-dir", str(data_dir), "check", str(clean), "--as-of", AS_OF.isoformat()]) == 0
    assert "✔ Prêt à publier" in capsys.readouterr().out
    defective = write(tmp_path, DEFECTIVE_NAME, defective_bytes())
    assert main(["check", str(defective), "--as-of", AS_OF.isoformat(), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["pret_a_publier"] is False and report["code_sortie"] == 1 and len(report["resume"]) == 3
    assert {p["code"] for p in report["problemes"]} >= {"schema:type:montant", "deadline:late"}
    assert not data_dir.exists()  # nothing written: no data directory, no database


def test_cli_with_a_dataset_description(tmp_path, capsys):
    description = tmp_path / "jeu.json"
    description.write_text(json.dumps(GOOD_DESCRIPTION), encoding="utf-8")
    clean = write(tmp_path, CLEAN_NAME, clean_bytes())
    assert main(["check", str(clean), "--as-of", AS_OF.isoformat(), "--jeu-de-donnees", str(description)]) == 0
    assert "✔ Licence ouverte (fr-lo)" in capsys.readouterr().out


def test_french_csv_report(tmp_path):
    report = check_files([write(tmp_path, DEFECTIVE_NAME, defective_bytes())], as_of=AS_OF)
    text = report.to_csv("problems").decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.startswith('"Rang";"Catégorie";"Gravité";"Problème";"Explication";"Correction"')
    assert "2025-DEF-01" in text and "Schéma officiel" in text
    contracts = report.to_csv("contracts").decode("utf-8-sig")
    assert "Échéance" in contracts.splitlines()[0] and "10/03/2025" in contracts


@pytest.mark.parametrize("latin1", [False, True], ids=["utf8", "latin1"])
def test_non_standard_json_is_checked_as_the_loader_reads_it(tmp_path, latin1):
    """Bare NaN read as null, then latin-1 from the first byte UTF-8 does not allow: every record
    checked once, the notes in the order the corrections were made."""
    records = [marche("2025-NAN-01", AS_OF, AS_OF), marche("2025-NAN-02", AS_OF, AS_OF, dureeMois="@"),
               marche("2025-NAN-03", AS_OF, AS_OF, objet="Électricité")]
    text = json.dumps({"marches": {"marche": records}}, ensure_ascii=False).replace('"@"', "NaN")
    data = text.encode("latin-1" if latin1 else "utf-8")
    report = check_files([write(tmp_path, CLEAN_NAME, data)], as_of=AS_OF)
    validation = report.files[0].validation
    assert not validation.unreadable and validation.records == 3
    notes = [note.split(" :")[0] for note in validation.notes]
    assert notes == (["Fichier non UTF-8", "JSON non standard (NaN, Infinity ou encodage)"] if latin1
                     else ["JSON non standard (NaN, Infinity ou encodage)"])


def test_a_file_with_bare_nan_is_read_once_more_by_each_reader(tmp_path, monkeypatch):
    from decp_monitor.parse import json_reader

    opened = []
    real_open = json_reader._Source.open
    monkeypatch.setattr(json_reader._Source, "open", lambda self: opened.append(1) or real_open(self))
    records = [marche("2025-NAN-01", AS_OF, AS_OF), marche("2025-NAN-02", AS_OF, AS_OF, dureeMois="@")]
    opens = []
    for bare in ("12", "NaN"):
        text = json.dumps({"marches": {"marche": records}}, ensure_ascii=False).replace('"@"', bare)
        opened.clear()
        check_files([write(tmp_path, CLEAN_NAME, text.encode())], as_of=AS_OF)
        opens.append(len(opened))
    # a sanitising pass for the validation, one for the load; the whole file's encoding is not read first
    assert opens[1] == opens[0] + 2


def _xml_contracts(*middles: str) -> bytes:
    records = "".join(f"<marche><id>2025-X-{k}</id><acheteur><id>{BUYER}</id></acheteur><nature>Marché</nature>"
                      f"{middle}</marche>\n" for k, middle in enumerate(middles, 1))
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<marches>\n{records}</marches>\n".encode()


def test_an_xml_contract_too_large_to_check_is_reported_and_its_neighbours_checked(tmp_path, monkeypatch):
    from decp_monitor.check import validation

    monkeypatch.setattr(validation, "CHECK_MAX_ELEMENTS", 100)
    data = _xml_contracts("<montant>abc</montant>", "<x/>" * 3000, "<montant>def</montant>")
    result = validation.validate_xml(write(tmp_path, "x.xml", data), "x.xml")
    assert result.records == 3 and result.invalid_records == 3
    issues = result.issues.groups
    too_large = issues["schema:xml-record-too-large"]
    assert [(loc.record, loc.contract_id) for loc in too_large.locations] == [(2, "2025-X-2")]
    assert "plus de 100 éléments" in too_large.explanation
    # its neighbours are checked as before: their amounts, and nothing about the <x/> elements
    records_with_errors = {loc.record for code, issue in issues.items() if code != "schema:xml-record-too-large"
                           for loc in issue.locations}
    assert records_with_errors == {1, 3}


def test_an_xml_contract_gives_at_most_a_bounded_number_of_detailed_errors(tmp_path):
    from decp_monitor.check import validation

    data = _xml_contracts("<x/>" * (validation.MAX_ERRORS_PER_RECORD * 4))
    result = validation.validate_xml(write(tmp_path, "x.xml", data), "x.xml")
    assert result.invalid_records == 1 and result.errors == validation.MAX_ERRORS_PER_RECORD


@pytest.mark.slow  # ~3 s: a hostile 8 MB upload, read in a child process
def test_a_contract_of_two_million_elements_is_checked_in_bounded_time_and_memory(tmp_path):
    """It ran for more than 11 minutes at 890 MB before the checker bounded contracts."""
    import json as json_module
    import subprocess
    import sys

    path = tmp_path / "x.xml"
    with open(path, "wb") as out:
        out.write(b"<marches><marche><id>A</id>")
        for _ in range(20):
            out.write(b"<x/>" * 100_000)
        out.write(b"</marche><marche><id>B</id></marche></marches>")
    # its own peak: VmHWM, which exec resets (ru_maxrss keeps the forking test process's size)
    code = ("import json, sys, time; from pathlib import Path; "
            "from decp_monitor.check.validation import validate_xml; started = time.perf_counter(); "
            "r = validate_xml(Path(sys.argv[1]), 'x.xml'); "
            "print(json.dumps({'records': r.records, 'codes': sorted(r.issues.groups), "
            "'seconds': time.perf_counter() - started, "
            "'peak_mb': int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024}))")
    run = json_module.loads(subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                                           capture_output=True, text=True, timeout=120).stdout)
    assert run["records"] == 2 and "schema:xml-record-too-large" in run["codes"]
    assert run["seconds"] < 20 and run["peak_mb"] < 400, run


def test_a_json_contract_too_large_for_the_detail_is_counted_without_it(tmp_path):
    """jsonschema compares every two holders (uniqueItems): 10 000 of them in a 129 KB file ran 95 s."""
    from decp_monitor.check import validation

    big = marche("2025-BIG", AS_OF, AS_OF, titulaires=[{"x": k} for k in range(10_000)])
    small = marche("2025-SMALL", AS_OF, AS_OF, montant="abc")
    data = json.dumps({"marches": {"marche": [big, small]}}).encode()
    result = validation.validate_json(write(tmp_path, CLEAN_NAME, data), CLEAN_NAME)
    assert result.records == 2 and result.invalid_records == 2
    too_large = result.issues.groups["schema:record-too-large"]
    assert [(loc.record, loc.contract_id) for loc in too_large.locations] == [(1, "2025-BIG")]
    detailed = {loc.contract_id for code, issue in result.issues.groups.items() if code != "schema:record-too-large"
                for loc in issue.locations}
    assert detailed == {"2025-SMALL"}


def test_a_json_contract_gives_at_most_a_bounded_number_of_detailed_errors(tmp_path):
    from decp_monitor.check import validation

    many = marche("2025-MANY", AS_OF, AS_OF, titulaires=[{"x": k} for k in range(validation.MAX_DETAILED_LIST_ITEMS)])
    data = json.dumps({"marches": {"marche": [many]}}).encode()
    result = validation.validate_json(write(tmp_path, CLEAN_NAME, data), CLEAN_NAME)
    assert result.invalid_records == 1 and result.errors == validation.MAX_ERRORS_PER_RECORD
