"""The SQL SIRET check used on every buyer agrees with the Python validator."""
import duckdb
import pytest
from hypothesis import given, settings, strategies as st

from decp_monitor.compliance import _sql

sirets = st.one_of(
    st.text(alphabet="0123456789", min_size=14, max_size=14),
    st.text(alphabet="0123456789", min_size=5, max_size=9).map(lambda tail: ("356000000" + tail)[:14].ljust(14, "0")),
    st.text(alphabet="0123456789 E+,", min_size=0, max_size=16),
)


@pytest.fixture(scope="module")
def sql_check():
    con = duckdb.connect()
    # the macros only: the universe query needs tables this test does not build
    text = _sql("buyer_universe.sql")
    con.execute(text[:text.index("CREATE OR REPLACE TEMP TABLE buyer_universe")])
    yield lambda values: dict(con.execute(
        "SELECT s, siret_is_valid(s) FROM unnest(CAST(? AS VARCHAR[])) t(s)", [values]).fetchall())
    con.close()


def luhn_or_la_poste(siret: str) -> bool:
    if len(siret) != 14 or not siret.isdigit():
        return False
    digits = [int(c) for c in siret]
    total = sum((d * 2 - 9 if d > 4 else d * 2) if i % 2 == 0 else d for i, d in enumerate(digits))
    return total % 10 == 0 or (siret.startswith("356000000") and sum(digits) % 5 == 0)


def test_known_sirets(sql_check):
    verdicts = sql_check(["21440036800012", "35600000000048", "35600000049837", "21440036800013", "2,10104E+13", ""])
    assert verdicts == {"21440036800012": True, "35600000000048": True, "35600000049837": True,
                        "21440036800013": False, "2,10104E+13": False, "": False}


@settings(max_examples=300, deadline=None)
@given(st.lists(sirets, min_size=1, max_size=30))
def test_sql_check_agrees_with_luhn_and_la_poste(sql_check, values):
    verdicts = sql_check(values)
    assert all(verdicts[v] is luhn_or_la_poste(v) for v in values)


@settings(max_examples=200, deadline=None)
@given(st.lists(sirets, min_size=1, max_size=30))
def test_sql_check_agrees_with_the_project_validator(sql_check, values):
    siret = pytest.importorskip("decp_monitor.siret")
    verdicts = sql_check(values)
    assert all(verdicts[v] is bool(siret.is_valid_siret(v)) for v in values)
