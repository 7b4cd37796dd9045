"""Per-contract rules: the two-month deadline, concessions, modifications, statuses."""
import datetime as dt

import pytest

from .conftest import BUYER, concession, marche, modification


@pytest.mark.parametrize("notified, deadline", [
    ("2025-03-15", "2025-05-15"),   # same day two months later
    ("2024-12-31", "2025-02-28"),   # clamped to the end of February
    ("2023-12-31", "2024-02-29"),   # leap year
    ("2025-01-31", "2025-03-31"),
    ("2024-08-31", "2024-10-31"),
    ("2023-11-30", "2024-01-30"),   # across a year, no clamping
    ("2024-12-30", "2025-02-28"),
])
def test_deadline_is_two_calendar_months_clamped_to_month_end(build, notified, deadline):
    db = build([marche("A", notified, notified)])
    row = db.contract("A")
    assert row["deadline"] == dt.date.fromisoformat(deadline)
    assert row["rule"] == "marche_notification_2m"
    assert row["rule_label"].startswith("Marché")


@pytest.mark.parametrize("published, status, days_late", [
    ("2025-02-28", "on_time", 0),     # on the deadline itself: on time
    ("2025-03-01", "late", 1),
    ("2025-01-02", "on_time", -57),
])
def test_publication_on_the_deadline_day_is_on_time(build, published, status, days_late):
    db = build([marche("A", "2024-12-31", published)])
    row = db.contract("A")
    assert row["status"] == status
    assert row["days_late"] == days_late
    assert row["delay_days"] == (dt.date.fromisoformat(published) - dt.date(2024, 12, 31)).days


def test_leap_year_february_29_is_the_last_day(build):
    db = build([marche("ok", "2023-12-31", "2024-02-29"), marche("late", "2023-12-31", "2024-03-01")])
    assert db.contract("ok")["status"] == "on_time"
    assert db.contract("late")["status"] == "late"
    assert db.contract("late")["status_label"] == "Publié en retard"


def test_missing_or_inconsistent_dates_have_their_own_status(build):
    db = build([
        marche("no-pub", "2025-01-10", None),
        marche("no-notif", None, "2025-01-10"),
        marche("before", "2025-01-10", "2025-01-09"),
    ])
    assert db.contract("no-pub")["status"] == "no_publication_date"
    assert db.contract("no-notif")["status"] == "no_notification_date"
    assert db.contract("no-notif")["deadline"] is None
    before = db.contract("before")
    assert before["status"] == "published_before_notification"
    assert before["delay_days"] == -1


def test_republished_contract_is_one_contract_first_published_at_its_earliest_date(build):
    db = build([
        marche("A", "2025-01-10", "2025-04-20", source="second.json"),   # republished late
        marche("A", "2025-01-10", "2025-02-01", source="first.json"),
    ])
    row = db.contract("A")
    assert row["record_count"] == 2
    assert row["publication_date"] == dt.date(2025, 2, 1)
    assert row["status"] == "on_time"
    assert row["source_file"] == "first.json"


def test_reused_id_with_different_notification_dates_gives_separate_verdicts(build):
    db = build([
        marche("LOT", "2025-01-10", "2025-02-01", position=0),
        marche("LOT", "2025-02-10", "2025-06-01", position=1),
    ])
    rows = db.rows("SELECT notification_date, status FROM contract_compliance WHERE contract_id = 'LOT' "
                   "ORDER BY notification_date")
    assert [(r["notification_date"], r["status"]) for r in rows] == [
        (dt.date(2025, 1, 10), "on_time"), (dt.date(2025, 2, 10), "late")]


def test_modification_is_judged_on_its_own_notification_date(build):
    contract = marche("A", "2024-10-01", "2024-10-15", modifications=[
        modification(0, "2025-01-31", "2025-03-31"),   # on the deadline
        modification(1, "2025-02-15", "2025-04-16"),   # one day late
        modification(2, "2025-03-01", None),
    ])
    db = build([contract])
    mods = {r["modification_id"]: r for r in db.rows("SELECT * FROM modification_compliance")}
    assert mods["1"]["deadline"] == dt.date(2025, 3, 31)
    assert mods["1"]["status"] == "on_time"
    assert mods["2"]["status"] == "late"
    assert mods["2"]["days_late"] == 1
    assert mods["3"]["status"] == "no_publication_date"
    assert db.contract("A")["status"] == "on_time"


def test_modifications_republished_with_their_contract_are_counted_once(build):
    mods = [modification(0, "2025-02-01", "2025-05-01")]
    db = build([
        marche("A", "2025-01-10", "2025-01-20", source="v1.json", modifications=mods),
        marche("A", "2025-01-10", "2025-01-20", source="v2.json", modifications=list(mods)),
    ])
    assert db.rows("SELECT count(*) AS n FROM modification_compliance")[0]["n"] == 1
    assert db.buyer()["n_modifications_late"] == 1


def test_concession_must_be_published_by_the_start_of_execution(build):
    db = build([
        concession("on-start", "2025-01-10", "2025-03-01", start="2025-03-01"),
        concession("after-start", "2025-01-10", "2025-03-02", start="2025-03-01"),
    ])
    ok, late = db.contract("on-start"), db.contract("after-start")
    assert ok["rule"] == late["rule"] == "concession_start"
    assert ok["deadline"] == dt.date(2025, 3, 1)
    assert ok["status"] == "on_time"
    assert late["status"] == "late"
    assert "début d'exécution" in ok["rule_label"]


def test_concession_without_start_date_falls_back_to_signature_plus_two_months(build):
    db = build([
        concession("fallback-ok", "2024-12-31", "2025-02-28"),
        concession("fallback-late", "2024-12-31", "2025-03-01"),
        concession("nothing", None, "2025-03-01"),
    ])
    ok = db.contract("fallback-ok")
    assert ok["rule"] == "concession_signature_2m"
    assert ok["deadline"] == dt.date(2025, 2, 28)
    assert ok["status"] == "on_time"
    assert "repli" in ok["rule_label"]
    assert db.contract("fallback-late")["status"] == "late"
    assert db.contract("nothing")["status"] == "no_notification_date"


def test_in_window_follows_the_notification_date_and_as_of(build):
    db = build([
        marche("before-window", "2024-06-30", "2024-07-01"),
        marche("first-day", "2024-07-01", "2024-07-02"),
        marche("as-of", "2025-06-30", "2025-06-30"),
        marche("after-as-of", "2025-07-01", "2025-07-01"),
    ], as_of="2025-06-30")
    assert [db.contract(c)["in_window"] for c in ("before-window", "first-day", "as-of", "after-as-of")] == [
        False, True, True, False]
    meta = dict((r["key"], r["value"]) for r in db.rows("SELECT key, value FROM meta"))
    assert meta["as_of"] == "2025-06-30"
    assert meta["window_start"] == "2024-07-01"
    assert meta["window_months"] == "12"
    assert meta["stale_months"] == "9"


def test_a_change_of_rule_is_one_edit_in_rules(build, monkeypatch):
    from decp_monitor.compliance import rules

    monkeypatch.setattr(rules, "MARCHE_DELAY_MONTHS", 3)
    db = build([marche("A", "2024-12-31", "2025-03-15")])
    assert db.contract("A")["deadline"] == dt.date(2025, 3, 31)
    assert db.contract("A")["status"] == "on_time"


def test_every_status_and_rule_has_a_french_label(build):
    from decp_monitor.compliance import RULES, STATUS_LABELS

    db = build([marche("A", "2025-01-01", "2025-01-02")])
    vocab = db.rows("SELECT vocabulary, code, label FROM compliance_vocabulary")
    assert {r["code"] for r in vocab if r["vocabulary"] == "status"} == set(STATUS_LABELS)
    assert {r["code"] for r in vocab if r["vocabulary"] == "rule"} == set(RULES)
    assert all(rule.reference for rule in RULES.values())
    assert all(r["label"] for r in vocab)
    assert BUYER  # the fixture's buyer is the one judged
