"""Discovery against the real server: tag searches, pagination, de-duplication, v2 resource pages."""
import json

from decp_monitor.sources.datagouv import DEFAULT_TAGS, discover
from decp_monitor.sources.http import HttpSettings, PoliteClient
from tests.udata_server import API_DIR, DATASET_FILES

PES = "5bd0b6fd8b4c413d0801dc57"
EMP = "5c0a7845634f4139b2ee8883"


def client():
    # The test server is on loopback: allowed explicitly, as the refresh allows its API's host.
    return PoliteClient(HttpSettings(backoff_base=0.001, backoff_max=0.01, retries=1, read_timeout=2,
                                     allowed_hosts=("127.0.0.1",)))


def real_objects():
    return [json.loads((API_DIR / name).read_text(encoding="utf-8")) for name in DATASET_FILES]


def test_union_of_tag_searches_deduplicated(udata_server):
    with client() as http:
        catalogue = discover(http, udata_server.api_base, DEFAULT_TAGS, page_size=100)
    objects = real_objects()
    expected = {o["id"] for o in objects if o.get("id") and set(o.get("tags") or []) & set(DEFAULT_TAGS)}
    expected.add("5cd0declaration0000000001")  # the declaration dataset, tagged decp
    found = [o["id"] for o in catalogue.datasets]
    assert sorted(found) == sorted(expected) and len(found) == len(set(found)) == 6
    # the page size is capped at 2 by the server: every search walked several pages
    searches = udata_server.requests("/api/1/datasets/")
    assert {r.query.get("page") for r in searches if r.query.get("tag") == "donnees-essentielles"} == {"1", "2"}
    # the partial object (no id) in the decp and marches-publics searches is reported, not kept
    assert [f.code for f in catalogue.findings] == ["api_error", "api_error"]


def test_large_resource_lists_are_paged_through_api_v2(udata_server):
    with client() as http:
        catalogue = discover(http, udata_server.api_base, ["commande-publique"])
    emp = next(o for o in catalogue.datasets if o["id"] == EMP)
    real = next(o for o in real_objects() if o.get("id") == EMP)
    assert [r["id"] for r in emp["resources"]] == [r["id"] for r in real["resources"]]
    pages = udata_server.requests(f"/api/2/datasets/{EMP}/resources/")
    assert len(pages) == -(-len(real["resources"]) // udata_server.max_resource_page_size) == 13


def test_configured_ids_complete_the_searches(udata_server):
    with client() as http:
        catalogue = discover(http, udata_server.api_base, ["decp"], dataset_ids=[PES, "5f4f4f8910f4b55843deae51"])
    ids = [o["id"] for o in catalogue.datasets]
    assert PES in ids and ids.count("5f4f4f8910f4b55843deae51") == 1
    # the dataset already found by the search is not fetched again
    assert udata_server.requests("/api/1/datasets/5f4f4f8910f4b55843deae51/") == []


def test_failing_search_is_a_finding_and_the_rest_goes_on(udata_server):
    udata_server.fault("/api/1/datasets/", "status", status=500, times=2)  # the first search, twice
    with client() as http:
        catalogue = discover(http, udata_server.api_base, ["decp", "commande-publique"])
    assert catalogue.searches_failed == ["decp"]
    assert any(f.code == "api_error" and "decp" in f.message for f in catalogue.findings)
    assert {o["id"] for o in catalogue.datasets} >= {EMP}


def test_unreachable_api_yields_no_response():
    with client() as http:
        catalogue = discover(http, "http://127.0.0.1:9/api", ["decp"], dataset_ids=[PES])
    assert catalogue.api_responses == 0 and catalogue.datasets == []
    assert len(catalogue.findings) == 2
