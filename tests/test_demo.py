"""The demo corpus: deterministic, in every format, with the defects real files have, and read
back by the ordinary loaders into every verdict the dashboard explains."""
import datetime as dt
import json

import pytest

from decp_monitor.core.siret import is_valid_siret
from decp_monitor.demo import corpus as demo
from decp_monitor.parse import read_decp
from decp_monitor.pipeline.demo import demo_corpus_dir
from decp_monitor.store.versions import Store


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "demo-corpus"
    written = demo.generate_corpus(out, seed=7, buyers=120, contracts=1500)
    return out, written


@pytest.fixture(scope="module")
def demo_db(shared_demo):
    store = Store(shared_demo(contracts=1500, buyers=120))
    con = store.connect()
    yield store, con
    con.close()


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_corpus_other_seed_other_corpus(corpus, tmp_path):
    out, _ = corpus
    again = tmp_path / "again"
    demo.generate_corpus(again, seed=7, buyers=120, contracts=1500)
    assert tree(again) == tree(out)
    other = tmp_path / "other"
    demo.generate_corpus(other, seed=8, buyers=120, contracts=1500)
    assert tree(other) != tree(out)


def test_regenerating_replaces_the_previous_corpus(tmp_path):
    out = tmp_path / "c"
    demo.generate_corpus(out, seed=1, buyers=40, contracts=300)
    (out / "stray.json").write_text("{}")
    demo.generate_corpus(out, seed=1, buyers=40, contracts=300)
    assert not (out / "stray.json").exists()
    assert not (tmp_path / "c.partial").exists()


def test_corpus_has_both_formats_in_json_and_xml(corpus):
    out, written = corpus
    formats = set()
    for path in out.rglob("*"):
        if path.suffix in (".json", ".xml") and "catalogue" not in path.parts:
            for item in read_decp(path):
                if hasattr(item, "format"):
                    formats.add(item.format)
    assert formats == {"json-2019", "json-2024", "xml-2019", "xml-2024"}
    assert written["contracts"] == 1500


def test_per_publication_files_follow_the_naming_convention(corpus):
    out, _ = corpus
    names = [p.name for p in (out / "acheteurs").rglob("DECP-*")]
    assert names
    for name in names:
        siret, rest = name[5:19], name[20:]
        assert is_valid_siret(siret)
        dt.date.fromisoformat(rest[:10])
        assert rest[10:14] in ("-01.", "-02.", "-03.") and name.rsplit(".", 1)[1] in ("json", "xml")


def test_declarations_and_catalogue_describe_the_files(corpus):
    out, written = corpus
    catalogue = json.loads((out / "catalogue" / "datasets-decp-data.gouv.fr.json").read_text(encoding="utf-8"))
    datasets = catalogue["data"]
    assert len(datasets) == written["datasets"] == catalogue["total"]
    urls = {r["url"].rsplit("/", 1)[1] for d in datasets for r in d["resources"]}
    # the register facts stand for API answers, not for a data.gouv.fr file
    files = {p.name for p in out.rglob("*") if p.is_file() and not {"catalogue", demo.REGISTER_FOLDER} & set(p.parts)}
    assert files <= urls  # every file is a resource of some dataset
    assert all(r["url"].startswith("https://") for d in datasets for r in d["resources"])
    csvs = list((out / "declarations").glob("*.csv"))
    assert len(csvs) >= 4
    heads = {c.read_bytes().split(b"\n", 1)[0] for c in csvs}
    assert any(b"," in h and b";" not in h for h in heads)  # not every platform uses ';'


def test_record_generator_yields_2019_shape_with_republications():
    records = list(demo.generate_records(seed=3, contracts=3000, buyers=200))
    assert len(records) == 3000
    ids = [(str((r.get("acheteur") or r.get("autoriteConcedante") or {}).get("id")), r.get("id")) for r in records]
    assert 0.03 < 1 - len(set(ids)) / len(ids) < 0.15  # about 8 % republished
    assert all(isinstance(r.get("modifications"), list) for r in records)
    concessions = [r for r in records if "autoriteConcedante" in r]
    assert 0 < len(concessions) < 300


def test_to_2024_wraps_lists_and_drops_the_buyer_name():
    record = {"_type": "Marché", "id": "1", "acheteur": {"id": "21440036800012", "nom": "Commune"},
              "codeCPV": "45233141-9", "titulaires": [{"id": "x"}], "modifications": [{"id": 1}]}
    out = demo.to_2024(record)
    assert out["acheteur"] == {"id": "21440036800012"}
    assert out["codeCPV"] == "45233141"
    assert out["titulaires"] == [{"titulaire": {"id": "x"}}]
    assert out["modifications"] == [{"modification": {"id": 1}}]
    assert "_type" not in out


def test_record_to_xml_unwraps_2024_lists_and_repeats_value_lists():
    xml = demo.record_to_xml(demo.to_2024({"id": "1", "acheteur": {"id": "2"}, "titulaires": [{"id": "x"}]}))
    assert "<titulaires><titulaire><id>x</id></titulaire></titulaires>" in xml
    assert "<techniques><technique>Sans objet</technique></techniques>" in xml
    assert demo.record_to_xml({"objet": "a < b & c", "montant": float("nan")}).count("&lt;") == 1


def test_demo_database_shows_every_verdict_and_status(demo_db):
    _, con = demo_db
    verdicts = {v for (v,) in con.execute("SELECT DISTINCT verdict FROM buyer_compliance").fetchall()}
    assert {"compliant", "late", "missing", "stale", "undeclared", "invalid_siret"} <= verdicts
    statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM contract_compliance").fetchall()}
    assert {"on_time", "late", "declared_on_time_observed_late", "no_publication_date",
            "no_notification_date", "published_before_notification"} <= statuses
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert meta["is_demo"] == "true" and meta["as_of"] == demo.DEMO_AS_OF.isoformat()


def test_demo_database_records_the_defects_of_real_files(demo_db):
    _, con = demo_db
    codes = {c for (c,) in con.execute("SELECT DISTINCT code FROM findings").fetchall()}
    assert {"utf8_bom", "non_standard_json", "encoding_fallback", "duplicate_field", "empty_element",
            "file_unreadable", "unknown_root", "invalid_siret", "absurd_year", "missing_notification_date",
            "missing_publication_date", "publication_before_notification", "duplicate_record",
            "declaration_siret_mangled", "negative_amount", "key_with_spaces"} <= codes


def test_demo_files_are_linked_to_their_catalogue_resources(demo_db):
    _, con = demo_db
    unlinked = con.execute("SELECT count(*) FROM records WHERE resource_id IS NULL").fetchone()[0]
    assert unlinked == 0
    assert con.execute("SELECT count(*) FROM declarations WHERE resource_id IS NULL").fetchone()[0] == 0
    platforms = {p for (p,) in con.execute("SELECT DISTINCT platform FROM buyer_compliance").fetchall()}
    assert {label for _, label in demo.PLATFORMS} & platforms
    failing = {c for (c,) in con.execute(
        "SELECT DISTINCT \"check\" FROM dataset_conformance WHERE NOT passed").fetchall()}
    assert len(failing) >= 3  # the catalogue breaks several conventions


def test_demo_corpus_lives_in_the_data_directory(demo_db):
    store, _ = demo_db
    assert (demo_corpus_dir(store) / "catalogue").is_dir()


def test_readme_example_siret_is_a_demo_buyer_and_links_are_on_example(demo_db):
    _, con = demo_db
    row = con.execute("SELECT buyer_name, contracts_total, verdict FROM buyer_compliance "
                      "WHERE buyer_siret = '21440036800012'").fetchone()
    assert row is not None and row[0] == "Commune de Châteaubriant" and row[1] > 0
    assert row[2] != "invalid_siret"
    real_hosts = con.execute(
        "SELECT count(*) FROM (SELECT url FROM datasets UNION ALL SELECT url FROM resources "
        "UNION ALL SELECT latest FROM resources) "
        "WHERE regexp_matches(url, '^https?://[^/]*data\\.gouv\\.fr(/|$)')").fetchone()[0]
    assert real_hosts == 0, "invented files never point to real data.gouv.fr addresses"
    assert con.execute("SELECT count(*) FROM resources WHERE url LIKE '%.example/%'").fetchone()[0] > 0
