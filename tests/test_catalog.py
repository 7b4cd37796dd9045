import datetime as dt
import json

import duckdb
import pytest

from decp_monitor.parse.catalog import classify_resource, dataset_findings, dataset_rows, looks_like_dataset_json
from decp_monitor.store.versions import schema_sql
from decp_monitor.store.writer import BatchWriter

API = "datagouv-api"


def load(real_dir, name):
    return json.loads((real_dir / API / name).read_text(encoding="utf-8"))


def table_columns(table):
    con = duckdb.connect()
    con.execute(schema_sql())
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]
    ).fetchall()]


def test_rows_have_exactly_the_schema_columns(real_dir):
    dataset, resources = dataset_rows(load(real_dir, "dataset_megalis-bretagne_5f4f4f8910f4b55843deae51.json"), "t")
    assert list(dataset) == table_columns("datasets")
    assert list(resources[0]) == table_columns("resources")


def test_megalis_dataset_fields(real_dir):
    obj = load(real_dir, "dataset_megalis-bretagne_5f4f4f8910f4b55843deae51.json")
    dataset, resources = dataset_rows(obj, source="http://api/1/datasets/x/")
    assert dataset["dataset_id"] == "5f4f4f8910f4b55843deae51"
    assert dataset["tags"] == ["decp", "marche", "marche-public", "marches-publics"]
    assert dataset["organization_name"] == "Mégalis Bretagne"
    assert dataset["license"] == "lov2" and dataset["frequency"] == "daily"
    assert dataset["resource_count"] == len(resources) == 11
    assert dataset["source"] == "http://api/1/datasets/x/"
    first = resources[0]
    assert first["resource_id"] == "6e392c4b-c7e1-422e-b2c3-74c0eab36d52"
    assert first["checksum_type"] == "sha1" and first["checksum_value"] == "854f70e3724a135f9b1d2fb5b1ad7c117506ccd6"
    assert first["filesize"] == 737762
    assert first["last_modified"] == dt.datetime(2024, 6, 11, 2, 0, 57, 242000)
    assert first["schema_name"] == "139bercy/format-commande-publique" and first["schema_version"] is None
    assert {r["classification"] for r in resources} == {"decp"}
    assert all(r["dataset_id"] == dataset["dataset_id"] for r in resources)


def test_pes_null_format_filesize_checksum(real_dir):
    dataset, resources = dataset_rows(load(real_dir, "dataset_pes_5bd0b6fd8b4c413d0801dc57.json"), "t")
    main, html = resources
    assert main["format"] is None and main["filesize"] is None and main["checksum_value"] is None
    assert main["classification"] == "decp" and "xml" in main["classification_reason"]
    assert html["classification"] == "other"
    assert dataset["tags"] == []


def test_partial_dataset_gives_a_finding_and_keeps_resources(real_dir):
    obj = load(real_dir, "dataset_megalis-bretagne_PARTIAL_2024-05.json")
    dataset, resources = dataset_rows(obj, "partial.json")
    assert dataset is None
    assert len(resources) == len(obj["resources"]) == 11
    assert all(r["dataset_id"] is None for r in resources)
    assert [(f.code, f.field) for f in dataset_findings(obj, "partial.json")] == [("api_error", "id")]


def test_e_marchespublics_schema_null_variants(real_dir):
    obj = load(real_dir, "dataset_e-marchespublics_5c0a7845634f4139b2ee8883.json")
    _, resources = dataset_rows(obj, "t")
    assert len(resources) == 1222
    assert {r["schema_name"] for r in resources} == {None}
    assert all(r["classification"] == "decp" for r in resources)


@pytest.mark.parametrize("obj", [{}, {"id": "x"}, {"id": "x", "resources": None}, {"id": "x", "resources": "nope"},
                                 {"id": "x", "resources": [None, 3, {"id": "r"}]}, [], "text", None,
                                 {"id": "x", "organization": "org-id", "owner": {"id": "u", "first_name": "A"},
                                  "created_at": "pas une date", "archived": "2020-01-01T00:00:00", "tags": None,
                                  "extras": {"siret": 21440036800012}}])
def test_degenerate_objects_never_crash(obj):
    dataset, resources = dataset_rows(obj, "t")
    dataset_findings(obj, "t")
    if dataset is not None:
        assert dataset["dataset_id"] == "x"
    assert all(isinstance(r, dict) for r in resources)


def test_odd_values_are_normalised():
    dataset, resources = dataset_rows({
        "id": "x", "organization": "org-id", "created_at": "pas une date", "archived": "2020-01-01T00:00:00",
        "extras": {"siret": 21440036800012}, "resources": [{"id": "r", "url": "https://h/f.xml", "filesize": "12"}],
    }, "t")
    assert dataset["organization_id"] == "org-id" and dataset["created_at"] is None
    assert dataset["archived"] is True and dataset["extras_siret"] == "21440036800012"
    assert resources[0]["filesize"] == 12


@pytest.mark.parametrize("resource,expected", [
    ({"url": "https://h/DECP-1.json", "format": "json", "type": "main"}, "decp"),
    ({"url": "https://h/dgfip-pes-decp.xml", "format": None, "type": "main", "mime": "application/xml"}, "decp"),
    ({"url": "https://h/download?id=3", "format": None, "mime": "text/xml"}, "decp"),
    ({"url": "https://h/declaration.csv", "format": "csv", "type": "main"}, "declaration"),
    ({"url": "https://h/x", "format": None, "mime": "text/csv"}, "declaration"),
    ({"url": "https://h/guide.pdf", "format": "pdf", "type": "main"}, "documentation"),
    ({"url": "https://h/schema.json", "format": "json", "type": "documentation"}, "documentation"),
    ({"url": "http://files.data.gouv.fr/decp/", "format": "html", "type": "other"}, "other"),
    ({"url": "https://h/api", "format": "json", "type": "api"}, "other"),
    ({"url": "https://h/a.zip", "format": "zip"}, "other"),
    ({"url": None, "format": "json"}, "other"),
])
def test_classification(resource, expected):
    classification, reason = classify_resource(resource)
    assert classification == expected
    assert reason  # always explained, in French


def test_rows_insert_into_real_duckdb(real_dir):
    con = duckdb.connect()
    con.execute(schema_sql())
    writer = BatchWriter(con)
    total = 0
    for name in ["dataset_aife_5bd789ee8b4c4155bd9a0770.json", "dataset_pes_5bd0b6fd8b4c413d0801dc57.json",
                 "datagouv_client_dataset_metadata.json"]:
        dataset, resources = dataset_rows(load(real_dir, name), name)
        writer.insert_dicts("datasets", [dataset])
        writer.insert_dicts("resources", resources)
        total += len(resources)
    assert con.execute("SELECT count(*) FROM datasets").fetchone()[0] == 3
    assert con.execute("SELECT count(*) FROM resources").fetchone()[0] == total == 84 + 2 + 8
    extras = con.execute("SELECT extras->>'$.\"apigouvfr:apis\"[0].slug' FROM datasets WHERE dataset_id = '5d13a8b6634f41070a43dff3'").fetchone()[0]
    assert extras == "api_data_gouv"


def test_looks_like_dataset_json(real_dir):
    for name in ["dataset_pes_5bd0b6fd8b4c413d0801dc57.json", "dataset_megalis-bretagne_PARTIAL_2024-05.json"]:
        assert looks_like_dataset_json((real_dir / API / name).read_bytes()[:65536])
    assert not looks_like_dataset_json(b'{"marches": [{"id": "1"}]}')
    assert not looks_like_dataset_json(b"siretAcheteur;url\n")


def test_resource_schema_keeps_name_version_and_url():
    from decp_monitor.parse.catalog import resource_row

    row = resource_row({"id": "r", "url": "https://x/DECP-21440036800012-2024-01-02-01.json",
                        "schema": {"name": "139bercy/format-commande-publique", "version": "2.0.1",
                                   "url": "https://schema.data.gouv.fr/139bercy/format-commande-publique/"}}, "d")
    assert (row["schema_name"], row["schema_version"], row["schema_url"]) == (
        "139bercy/format-commande-publique", "2.0.1", "https://schema.data.gouv.fr/139bercy/format-commande-publique/")
