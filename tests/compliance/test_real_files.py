"""On real published files: per-buyer late and on-time counts against an independent computation.

The expected figures are computed here in plain Python over json.load, from the published
rule (two calendar months, clamped to the month's end; republications collapse on buyer + id +
notification date, earliest declared publication), not with the engine's code.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from collections import Counter, defaultdict

import duckdb
import pytest

from decp_monitor import compliance
from decp_monitor.pipeline import build_version

FILES = {
    "pes": "decp-json/decp-json_2019-archives/data.gouv.fr_pes_2019-04-05.json",
    "marches-securises": "decp-json/marches-securises/decp_21590163800019_2019-01-01_2021-12-31.json",
    "e-marchespublics": "decp-json/decp-json_2019-archives/e-marchespublics_2019-04-03.json",
    "pes-publication": "decp-json/decp-json_2019-archives/pes_DECP-21974015600019-2018-12-28-01.xml.json",
}


def _date(value):
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _two_months_later(day: dt.date) -> dt.date:
    year, month = divmod(day.month - 1 + 2, 12)
    year, month = day.year + year, month + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def independent_counts(paths) -> dict[str, Counter]:
    """Statuses per buyer over all the files together (a contract may be republished in several)."""
    earliest: dict[tuple, dt.date | None] = {}
    observed: dict[tuple, dt.date] = {}
    for path in paths:
        name = re.search(r"DECP-\d{14}-(\d{4}-\d{2}-\d{2})-\d+", path.name)
        name_date = dt.date.fromisoformat(name.group(1)) if name else None
        for position, record in enumerate(json.loads(path.read_text(encoding="utf-8-sig"))["marches"]):
            # a record without an id cannot be matched with any other: it stands alone
            contract_id = str(record["id"]).strip() or ("#", path.name, position)
            key = (str(record["acheteur"]["id"]).strip(), contract_id, _date(record.get("dateNotification")))
            published = _date(record.get("datePublicationDonnees"))
            if key not in earliest or (published and (earliest[key] is None or published < earliest[key])):
                earliest[key] = published
            if name_date and (key not in observed or name_date < observed[key]):
                observed[key] = name_date
    counts: dict[str, Counter] = defaultdict(Counter)
    for key, published in earliest.items():
        siret, _id, notified = key
        if notified is None:
            status = "no_notification_date"
        elif published is None:
            status = "no_publication_date"
        elif published < notified:
            status = "published_before_notification"
        elif published > _two_months_later(notified):
            status = "late"
        elif key in observed and observed[key] > _two_months_later(notified):
            status = "declared_on_time_observed_late"
        else:
            status = "on_time"
        counts[siret][status] += 1
    return counts


def records_from_json(path):
    """Minimal 2019-format mapping to model Records, so the engine can be checked on real data
    even without the project's reader (the "parser" variant goes through the reader)."""
    from decp_monitor.core.model import Record

    for position, record in enumerate(json.loads(path.read_text(encoding="utf-8-sig"))["marches"]):
        yield Record(path.name, position, "marche", "json-2019",
                     buyer_siret=str(record["acheteur"]["id"]).strip(), contract_id=str(record["id"]).strip() or None,
                     notification_date=_date(record.get("dateNotification")),
                     publication_date=_date(record.get("datePublicationDonnees")))


@pytest.fixture(scope="module", params=["converted", "parser"])
def real_db(request, real_dir, tmp_path_factory):
    from decp_monitor.store.versions import Store

    if request.param == "parser":
        pytest.importorskip("decp_monitor.parse")
    store = Store(tmp_path_factory.mktemp("real") / "data")
    with build_version(store, "test", meta={"as_of": "2022-06-30"}) as b:
        for relative in FILES.values():
            if request.param == "parser":
                b.load_file(real_dir / relative)
            else:
                for record in records_from_json(real_dir / relative):
                    b.add(record)
    return store


def test_per_buyer_statuses_match_an_independent_computation(real_db, real_dir):
    expected = independent_counts([real_dir / relative for relative in FILES.values()])
    con = real_db.connect()
    try:
        rows = con.execute("SELECT buyer_siret, status, count(*) FROM contract_compliance GROUP BY ALL").fetchall()
    finally:
        con.close()
    actual: dict[str, Counter] = defaultdict(Counter)
    for siret, status, n in rows:
        actual[siret][status] = n
    assert len(expected) > 150
    assert sum(c["late"] for c in expected.values()) > 0
    assert sum(c["declared_on_time_observed_late"] for c in expected.values()) > 0   # the PES publication file
    mismatched = {s: (dict(actual.get(s, {})), dict(c)) for s, c in expected.items() if dict(actual.get(s, {})) != dict(c)}
    assert not mismatched
    assert set(actual) == set(expected)


def test_buyer_rows_count_the_same_late_and_on_time_contracts_over_a_wide_window(real_db, real_dir, tmp_path):
    # recompute with a window covering every notification, on a copy of the published version
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(real_db.current().path.read_bytes())
    con = duckdb.connect(str(copy))
    try:
        compliance.compute(con, as_of="2022-06-30", window_months=120)
        rows = con.execute("SELECT buyer_siret, n_late, n_on_time, n_declared_on_time_observed_late "
                           "FROM buyer_compliance").fetchall()
    finally:
        con.close()
    expected = independent_counts([real_dir / relative for relative in FILES.values()])
    engine = {siret: (late, on_time, observed) for siret, late, on_time, observed in rows}
    for siret, counts in expected.items():
        assert engine[siret] == (counts["late"], counts["on_time"], counts["declared_on_time_observed_late"]), siret
    # the marches-securises buyer, Ville de Croix: some contracts late, most on time
    croix = engine["21590163800019"]
    assert croix[0] > 0 and croix[1] > croix[0]
