import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from decp_monitor.core.dates import parse_decp_date


def test_plain_and_suffixed_dates_keep_the_date_part():
    assert parse_decp_date("2019-01-01") == (dt.date(2019, 1, 1), None)
    assert parse_decp_date("2019-01-01+01:00") == (dt.date(2019, 1, 1), None)
    assert parse_decp_date("2019-01-01T10:00:00Z") == (dt.date(2019, 1, 1), None)
    assert parse_decp_date("2018-12-17-05:00") == (dt.date(2018, 12, 17), None)


def test_missing_values_are_not_errors():
    for raw in (None, "", "  ", "nan", "NaN", "NC"):
        assert parse_decp_date(raw) == (None, None)


def test_typo_years_are_absurd_and_garbage_unparseable():
    assert parse_decp_date("0222-01-01") == (None, "absurd_year")
    assert parse_decp_date("5021-03-04") == (None, "absurd_year")
    assert parse_decp_date("2019-02-30") == (None, "unparseable_date")
    assert parse_decp_date("01/02/2019") == (None, "unparseable_date")
    assert parse_decp_date("2019-01-01abc") == (None, "unparseable_date")


offsets = st.sampled_from(["", "Z", "+01:00", "-05:00", "+14:00", "T00:00:00", "T23:59:59+02:00", "T10:00:00Z"])


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)), offsets)
def test_any_valid_date_with_any_offset_round_trips(date, offset):
    assert parse_decp_date(date.isoformat() + offset) == (date, None)


@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(1989, 12, 31)))
def test_years_before_1990_are_absurd(date):
    assert parse_decp_date(date.isoformat()) == (None, "absurd_year")


@given(st.text(max_size=30))
def test_never_raises(text):
    value, code = parse_decp_date(text)
    assert code in (None, "unparseable_date", "absurd_year")
    assert value is None or code is None
