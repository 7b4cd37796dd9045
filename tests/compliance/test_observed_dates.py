"""The observed publication date: file names, one-off resources, the monitor's own sightings."""
import datetime as dt

from .conftest import BUYER, marche

NOTIFIED, DECLARED = "2025-01-01", "2025-01-15"   # deadline 2025-03-01, declared on time


def test_per_publication_file_name_after_the_deadline_is_observed_late(build):
    db = build([marche("A", NOTIFIED, DECLARED, source=f"/depot/DECP-{BUYER}-2025-04-15-01.json")])
    row = db.contract("A")
    assert row["observed_date"] == dt.date(2025, 4, 15)
    assert row["observed_source"] == "file_name"
    assert row["status"] == "declared_on_time_observed_late"
    assert row["status_label"] == "Déclaré à temps, apparu en retard"
    assert row["observed_days_late"] == 45


def test_file_name_on_the_deadline_day_is_on_time(build):
    db = build([marche("A", NOTIFIED, DECLARED, source=f"decp-{BUYER}-2025-03-01-02.xml")])  # lower case too
    assert db.contract("A")["observed_source"] == "file_name"
    assert db.contract("A")["status"] == "on_time"


def test_a_contract_republished_later_keeps_its_first_appearance(build):
    db = build([
        marche("A", NOTIFIED, DECLARED, source=f"DECP-{BUYER}-2025-06-01-01.json"),
        marche("A", NOTIFIED, DECLARED, source=f"DECP-{BUYER}-2025-02-01-01.json"),
    ])
    row = db.contract("A")
    assert row["observed_date"] == dt.date(2025, 2, 1)
    assert row["status"] == "on_time"


def test_declared_late_stays_late_whatever_the_file_says(build):
    db = build([marche("A", NOTIFIED, "2025-03-10", source=f"DECP-{BUYER}-2025-01-20-01.json")])
    assert db.contract("A")["status"] == "late"


def test_aife_daily_file_name_carries_the_publication_day(build):
    db = build([marche("A", NOTIFIED, DECLARED, source="donnees-essentielles-marches30.04.2025.01-00.xml")])
    row = db.contract("A")
    assert row["observed_date"] == dt.date(2025, 4, 30)
    assert row["status"] == "declared_on_time_observed_late"


def test_per_year_or_date_range_file_names_are_not_publication_dates(build):
    db = build([
        marche("A", NOTIFIED, DECLARED, source="decp-2025.json"),
        marche("B", NOTIFIED, DECLARED, source=f"decp_{BUYER}_2025-04-01_2025-12-31.json"),
    ])
    for contract_id in ("A", "B"):
        row = db.contract(contract_id)
        assert row["observed_source"] == "first_seen"   # only the monitor's own sighting
        assert row["observed_conclusive"] is False      # the first load proves nothing
        assert row["status"] == "on_time"


def _resource(resource_id, created, modified, filetype="file", name="decp-2025.json"):
    return {"resource_id": resource_id, "dataset_id": "ds", "title": name,
            "url": f"https://static.data.gouv.fr/resources/x/{name}", "filetype": filetype, "type": "main",
            "format": "json", "mime": "application/json", "created_at": created, "last_modified": modified,
            "classification": "decp"}


def test_one_off_resource_created_after_the_deadline_is_observed_late(build):
    created = dt.datetime(2025, 5, 2, 22, 30)
    db = build(
        [marche("A", NOTIFIED, DECLARED, source="cache/decp-2025.json")],
        resources=[_resource("r1", created, created + dt.timedelta(seconds=2))],
    )
    row = db.contract("A")
    assert row["resource_id"] == "r1"          # attached by file name
    assert row["observed_source"] == "resource_created_at"
    assert row["observed_date"] == dt.date(2025, 5, 2)
    assert row["status"] == "declared_on_time_observed_late"


def test_a_consolidated_file_rewritten_over_time_says_nothing_by_its_creation_date(build):
    db = build(
        [marche("A", NOTIFIED, DECLARED, source="cache/decp-2025.json")],
        resources=[_resource("r1", dt.datetime(2025, 5, 2), dt.datetime(2025, 9, 1))],
    )
    row = db.contract("A")
    assert row["observed_source"] == "first_seen"
    assert row["status"] == "on_time"


def test_a_remote_link_says_nothing_by_its_creation_date(build):
    db = build(
        [marche("A", NOTIFIED, DECLARED, source="cache/decp-2025.json")],
        resources=[_resource("r1", dt.datetime(2025, 5, 2), dt.datetime(2025, 5, 2), filetype="remote")],
    )
    assert db.contract("A")["observed_source"] == "first_seen"


def test_first_sighting_proves_lateness_only_after_an_earlier_build_that_did_not_see_it(build):
    # Notified in January 2026, deadline 2026-03-01: every build of this test runs after it.
    build([marche("A", "2026-01-01", "2026-01-15")], as_of="2026-06-30")
    db = build([marche("A", "2026-01-01", "2026-01-15"), marche("B", "2026-01-01", "2026-01-15")],
               as_of="2026-06-30", carry_over=False)
    first, second = db.contract("A"), db.contract("B")
    assert first["observed_source"] == second["observed_source"] == "first_seen"
    assert first["observed_conclusive"] is False      # seen at the monitor's first build
    assert first["status"] == "on_time"
    assert second["observed_conclusive"] is True      # absent from a build after its deadline
    assert second["status"] == "declared_on_time_observed_late"
    assert first["observed_date"] <= second["observed_date"]


def test_first_sighting_before_the_deadline_is_on_time(build):
    future = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    build([marche("X", future, future)], as_of="2030-01-01")
    db = build([marche("X", future, future), marche("Y", future, future)], as_of="2030-01-01")
    assert db.contract("Y")["observed_conclusive"] is False
    assert db.contract("Y")["status"] == "on_time"


def test_sightings_are_kept_across_versions(build):
    build([marche("A", "2026-01-01", "2026-01-15")])
    db = build([marche("A", "2026-01-01", "2026-01-15")])
    con = db.con()
    try:
        seen = con.execute("SELECT count(*), min(first_seen) FROM sightings").fetchone()
        builds = con.execute("SELECT min(started_at) FROM refreshes WHERE outcome = 'published'").fetchone()
    finally:
        con.close()
    assert seen[0] == 1
    assert seen[1] == builds[0]


def test_a_buyer_first_seen_in_a_later_build_proves_nothing_by_its_first_sighting(build):
    # The first build watched another buyer only: the new buyer's history is not "late".
    from .conftest import OTHER

    build([marche("A", "2026-01-01", "2026-01-15", buyer=OTHER)], as_of="2026-06-30")
    db = build([marche("A", "2026-01-01", "2026-01-15", buyer=OTHER), marche("B", "2026-01-01", "2026-01-15")],
               as_of="2026-06-30")
    row = db.contract("B")
    assert row["observed_source"] == "first_seen"
    assert row["observed_conclusive"] is False
    assert row["status"] == "on_time"
