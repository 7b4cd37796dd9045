"""Every real file of ../shared/real through `check`: its schema errors agree with the validators
run directly on the whole file, and its statuses with a database loaded from the same files."""
from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import frictionless
import jsonschema
import pytest
import xmlschema
from lxml import etree

from decp_monitor.check import check_files, declaration_schema
from decp_monitor.check.validation import SCHEMA_DIR, XML_SCHEMAS, json_schema
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store

AS_OF = dt.date(2025, 6, 30)


def real_files(real_dir: Path) -> list[Path]:
    files = []
    for folder in ("decp-json", "decp-xml", "declarations"):
        files += sorted(p for p in (real_dir / folder).rglob("*") if p.is_file() and p.name != "SOURCES.md")
    return files


@pytest.fixture(scope="module")
def checked(real_dir):
    files = real_files(real_dir)
    report = check_files(files, as_of=AS_OF)
    return files, report


def test_every_real_file_is_checked(checked):
    files, report = checked
    assert [f.name for f in report.files] == [str(p) for p in files]
    kinds = Counter(f.kind for f in report.files)
    assert kinds["decp-json"] >= 20 and kinds["decp-xml"] >= 15 and kinds["declaration"] == 2
    # atexo's platform list is not a declaration file (no siretAcheteur column): not recognised.
    atexo = next(f for f in report.files if f.name.endswith("atexo-decp-scraper_plateformes.csv"))
    assert atexo.kind == "unknown" and atexo.unreadable
    assert report.exit_code == 2


# -- JSON: jsonschema on the whole document ------------------------------------------------------


def _direct_json(path: Path, version: str) -> list:
    text = path.read_bytes().decode("utf-8-sig", errors="strict") if _is_utf8(path) else path.read_bytes().decode("latin-1")
    # As `check` and the loader do for non-standard JSON: NaN/Infinity read as null.
    document = json.loads(text, parse_constant=lambda name: None)
    schema = json_schema(version)
    return list(jsonschema.validators.validator_for(schema)(schema).iter_errors(document))


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _json_record_of(path_parts: list, array_root: bool):
    if array_root:
        return ("marches", path_parts[1]) if len(path_parts) >= 2 else None
    return (f"marches.{path_parts[1]}", path_parts[2]) if len(path_parts) >= 3 else None


@pytest.mark.slow  # jsonschema over every real file's whole document: 40 s on 2 cores
def test_json_schema_errors_agree_with_jsonschema_run_directly(checked):
    files, report = checked
    compared = 0
    for entry in report.files:
        if entry.kind != "decp-json":
            continue
        validation = entry.validation
        assert validation.schema is not None, entry.name
        if validation.unreadable:
            continue
        version = validation.schema.version
        array_root = json_schema(version)["properties"]["marches"].get("type") == "array"
        direct = _direct_json(Path(entry.name), version)
        direct_records = {_json_record_of(list(e.absolute_path), array_root) for e in direct} - {None}
        assert set(validation.invalid_positions) == direct_records, entry.name
        assert validation.invalid_records == len(direct_records), entry.name
        direct_root = Counter(e.validator for e in direct if _json_record_of(list(e.absolute_path), array_root) is None)
        ours_root = Counter(key.split(":")[1] for key in validation.issues.groups
                            if key != "schema:undetailed"  # the count of invalid records beyond the detail cap
                            and (key == "schema:uniqueItems:marches"  # duplicates in the list of contracts
                                 or any(loc.record is None for loc in validation.issues.groups[key].locations)))
        assert ours_root == direct_root, entry.name
        if not array_root:  # 2024 records are validated against the same sub-schema: same errors, one by one
            assert validation.errors == len(direct), entry.name
        compared += 1
    assert compared >= 20


def test_json_files_with_known_defects_are_reported(checked):
    _, report = checked
    by_name = {Path(f.name).name: f for f in report.files}
    demantis = by_name["demantis.json"].validation  # SOURCES.md: 7 errors against 2.0.2
    assert demantis.schema.version == "2.0.2" and demantis.errors == 7
    assert by_name["dematis17.json"].validation.errors == 0
    assert by_name["paquet.json"].validation.schema.version == "1.5.0" and by_name["paquet.json"].validation.errors == 0
    aife = by_name["data.gouv.fr_aife_2019-04-04.json"].validation
    assert aife.records == 4530 and aife.invalid_records > 2000


# -- XML: xmlschema on the whole document --------------------------------------------------------


def _xml_record_of(path: str):
    match = re.match(r"^/(?:marches/)?(marche|contrat-concession)(?:\[(\d+)\])?", path or "")
    if not match:
        return None
    return match.group(1), int(match.group(2) or 1) - 1


def test_xml_schema_errors_agree_with_xmlschema_run_directly(checked):
    files, report = checked
    compared = 0
    for entry in report.files:
        if entry.kind != "decp-xml":
            continue
        validation = entry.validation
        version = validation.schema.version
        path = SCHEMA_DIR / XML_SCHEMAS[version]
        cls = xmlschema.XMLSchema11 if b'vc:minVersion="1.1"' in path.read_bytes()[:400] else xmlschema.XMLSchema10
        tree = etree.parse(entry.name, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
        direct = list(cls(str(path)).iter_errors(tree))
        assert validation.errors == len(direct), entry.name
        assert set(validation.invalid_positions) == {_xml_record_of(e.path) for e in direct} - {None}, entry.name
        compared += 1
    assert compared >= 15


def test_xml_errors_carry_lines(checked):
    _, report = checked
    located = [loc for issue in report.issues if issue.category == "schema"
               for loc in issue.locations if loc.file.endswith("marches_region-bretagne_2020-10-16.xml")]
    assert located and all(loc.line and loc.record for loc in located)


# -- CSV: frictionless with the official declaration schema --------------------------------------


def test_declaration_schema_matches_the_official_one(real_dir):
    official = json.loads((real_dir / "schemas" / "schema-decp-dpa_schema.json").read_text(encoding="utf-8"))
    keep = ("name", "type", "format", "constraints")
    assert [{k: f[k] for k in keep if k in f} for f in official["fields"]] == declaration_schema.DESCRIPTOR["fields"]
    assert official["missingValues"] == declaration_schema.DESCRIPTOR["missingValues"]
    assert official["version"] == declaration_schema.VERSION


def test_declaration_errors_agree_with_frictionless_run_directly(checked, real_dir):
    _, report = checked
    official = json.loads((real_dir / "schemas" / "schema-decp-dpa_schema.json").read_text(encoding="utf-8"))
    official = {k: v for k, v in official.items() if k in ("fields", "missingValues")}
    compared = 0
    for entry in report.files:
        if entry.kind != "declaration":
            continue
        path = Path(entry.name)
        resource = frictionless.Resource(path=path.name, basepath=str(path.parent), format="csv",
                                         schema=frictionless.Schema.from_descriptor(official))
        direct = resource.validate().tasks[0].errors
        ours = Counter()
        for key, issue in entry.validation.issues.groups.items():
            kind = key.split(":")[2]
            for loc in issue.locations:
                ours[(kind, loc.field or "", loc.record)] += 1
        assert ours == Counter((e.type, getattr(e, "field_name", None) or getattr(e, "label", None) or "",
                                getattr(e, "row_number", None)) for e in direct), entry.name
        compared += 1
    assert compared == 2


# -- statuses: the same as a database loaded from the same files --------------------------------


def test_statuses_agree_with_the_loaded_database(checked, tmp_path):
    files, report = checked
    store = Store(tmp_path / "data")
    with build_version(store, "load", source="real", meta={"as_of": AS_OF.isoformat()}) as build:
        for path in files:
            build.load_file(path)
    con = store.connect()
    try:
        loaded = Counter(con.execute(
            "SELECT buyer_siret, contract_id, notification_date, status FROM contract_compliance").fetchall())
    finally:
        con.close()
    assert sum(loaded.values()) > 5000
    assert report.declared_statuses == loaded
    assert report.contract_count == sum(loaded.values())


def test_published_today_only_adds_observed_lateness(checked):
    """Published on AS_OF, a contract can only go from on time to « apparu en retard », and only
    when its deadline is before AS_OF."""
    _, report = checked
    declared = Counter()
    for (_, _, _, status), n in report.declared_statuses.items():
        declared[status] += n
    today = {row["status"]: row for row in report.status_counts}
    # File names carrying a publication day (DECP-…-2019-01-10-01) are evidence even without the upload.
    already = declared["declared_on_time_observed_late"]
    added = today["declared_on_time_observed_late"]["contracts"] - already
    assert added > 0 and today["declared_on_time_observed_late"]["same_as_declared"] == already
    assert declared["on_time"] == today.get("on_time", {}).get("contracts", 0) + added
    for status, row in today.items():
        if status not in ("declared_on_time_observed_late", "on_time"):
            assert row["contracts"] == row["same_as_declared"] == declared[status], status


def test_published_today_a_late_upload_is_seen_late(real_dir):
    report = check_files([real_dir / "decp-json" / "dematis" / "dematis17.json"], as_of=AS_OF)
    shown = [c for c in report.contracts if c["status"] == "declared_on_time_observed_late"]
    assert len(shown) == 108  # every contract declared on time, its deadline long past on AS_OF
    assert all(c["deadline"] < AS_OF and c["declared_status"] == "on_time" and c["observed_date"] == AS_OF
               and c["today"] == "overdue" for c in shown)
