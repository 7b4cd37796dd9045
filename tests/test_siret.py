"""One SIRET rule: python-stdnum's fr.siret in Python, core/siret.sql in SQL, the same verdicts."""
import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from decp_monitor.core.siret import clean_siret, install_sql, is_valid_siren, is_valid_siret, siret_problem


def complete(head13: str) -> str:
    """A SIRET from 13 digits: the SIREN key put in 9th place, then the SIRET key."""
    siren = head13[:8] + luhn.calc_check_digit(head13[:8])
    body = siren + head13[9:13]
    return body + luhn.calc_check_digit(body)


def test_known_valid_sirets():
    assert is_valid_siret("21440036800012")
    assert is_valid_siret("35600000000048")  # La Poste head office, plain Luhn
    assert is_valid_siren("214400368")
    assert not is_valid_siren("214400369")


def test_la_poste_establishments_by_digit_sum_only():
    assert not is_valid_siret("35600000012345")  # digit sum 29
    assert is_valid_siret("35600000012346")  # digit sum 30, fails Luhn but passes La Poste
    # a La Poste establishment that passes Luhn but not the digit-sum rule is not valid
    lp_luhn = "3560000001001"
    lp_luhn += luhn.calc_check_digit(lp_luhn)
    assert luhn.is_valid(lp_luhn) and sum(map(int, lp_luhn)) % 5 != 0
    assert not is_valid_siret(lp_luhn)


def test_the_siren_key_is_checked_too():
    # 14 digits that pass Luhn, but whose first 9 digits are not a SIREN
    body = "2144003690001"
    siret = body + luhn.calc_check_digit(body)
    assert luhn.is_valid(siret) and not is_valid_siren(siret[:9])
    assert not is_valid_siret(siret)
    assert siret_problem(siret) == "clé de contrôle du SIREN (9 premiers chiffres) invalide"


def test_clean_siret_strips_separators_and_refuses_letters():
    assert clean_siret("214 400 368\u00a000012") == "21440036800012"
    assert clean_siret("214.400.368.00012") == "21440036800012"
    assert clean_siret("2144003680001A") is None
    assert clean_siret(None) is None


def test_siret_problem_messages_in_french():
    assert siret_problem("21440036800012") is None
    assert siret_problem("214400368000") == "doit comporter 14 chiffres (12 fournis)"
    assert siret_problem("21440036800013").startswith("clé de contrôle (Luhn) invalide")
    assert siret_problem("2144003680001A") == "contient des caractères non numériques"
    assert siret_problem("35600000012345").startswith("clé de contrôle de La Poste invalide")
    assert siret_problem("") == "SIRET absent"


@given(st.text(alphabet="0123456789", min_size=13, max_size=13).filter(lambda s: not s.startswith("356000000")))
def test_one_digit_changed_invalidates(head):
    siret = complete(head)
    assert is_valid_siret(siret)
    for position in range(14):
        for digit in "0123456789":
            changed = siret[:position] + digit + siret[position + 1:]
            if digit != siret[position] and not changed.startswith("356000000"):
                assert not is_valid_siret(changed)


@given(st.text(min_size=0, max_size=20))
def test_siret_problem_never_raises_and_agrees_with_validity(text):
    problem = siret_problem(text)
    cleaned = clean_siret(text)
    assert (problem is None) == (cleaned is not None and is_valid_siret(cleaned))


# -- the SQL twin ------------------------------------------------------------------------------

sirets = st.one_of(
    st.text(alphabet="0123456789", min_size=13, max_size=13).map(complete),           # valid
    st.text(alphabet="0123456789", min_size=14, max_size=14),                          # mostly invalid
    st.text(alphabet="0123456789", min_size=5, max_size=5).map(lambda tail: "356000000" + tail),
    st.text(alphabet="0123456789 E+,", min_size=0, max_size=16),
)


@pytest.fixture(scope="module")
def sql_verdicts():
    con = duckdb.connect()
    install_sql(con)
    yield lambda values: dict(con.execute(
        "SELECT s, siret_is_valid(s) FROM unnest(CAST($values AS VARCHAR[])) t(s)", {"values": values}).fetchall())
    con.close()


def test_sql_known_sirets(sql_verdicts):
    verdicts = sql_verdicts(["21440036800012", "35600000000048", "35600000049837", "21440036800013",
                             "2,10104E+13", "", "35600000012346", "35600000012345"])
    assert verdicts == {"21440036800012": True, "35600000000048": True, "35600000049837": True,
                        "21440036800013": False, "2,10104E+13": False, "": False,
                        "35600000012346": True, "35600000012345": False}


@settings(max_examples=100, deadline=None)
@given(st.lists(sirets, min_size=20, max_size=60))
def test_sql_macro_agrees_with_stdnum(sql_verdicts, values):
    """Thousands of generated numbers (100 examples × up to 60), valid and invalid alike."""
    verdicts = sql_verdicts(values)
    assert all(verdicts[v] is is_valid_siret(v) for v in values), [
        (v, verdicts[v], is_valid_siret(v)) for v in values if verdicts[v] is not is_valid_siret(v)]


_CONNECTIONS: list = []


def _explaining_connection():
    """One connection with the macros for every example (a new one each took 7 s for 100)."""
    if not _CONNECTIONS:
        con = duckdb.connect()
        install_sql(con)
        _CONNECTIONS.append(con)
    return _CONNECTIONS[0]


@settings(max_examples=30, deadline=None)  # fewer, longer lists: one query each is the cost
@given(st.lists(st.one_of(sirets, st.text(alphabet="0123456789 .-\u00a0\u202fx", min_size=1, max_size=18)),
                min_size=60, max_size=200))
def test_sql_explains_a_siret_in_the_words_of_python(values):
    """siret_digits + siret_problem_of (the SQL path's invalid_siret messages) say what
    siret_problem says, for every SIRET given (blank ones are « absent », a finding of their own)."""
    con = _explaining_connection()
    rows = con.execute("SELECT s, siret_digits(s), siret_problem_of(siret_digits(s)) "
                       "FROM unnest(CAST($values AS VARCHAR[])) t(s)", {"values": values}).fetchall()
    for raw, digits, problem in rows:
        if raw.strip():
            assert (digits, problem) == (clean_siret(raw), siret_problem(raw)), raw


# -- the memo of siret_problem -----------------------------------------------------------------


@settings(max_examples=300)
@given(st.one_of(sirets, st.text(max_size=80), st.integers(), st.none()))
def test_remembered_verdicts_are_the_computed_ones(value):
    from decp_monitor.core.siret import _problem

    expected = _problem(value)
    assert siret_problem(value) == expected
    assert siret_problem(value) == expected  # the second call is answered from the memo


def test_siret_memo_is_bounded_and_keeps_no_long_text():
    from decp_monitor.core import siret

    siret._cached_problem.cache_clear()
    for n in range(siret.SIRET_CACHE_SIZE + 500):
        siret_problem(f"{n:014d}")
    info = siret._cached_problem.cache_info()
    assert info.currsize == info.maxsize == siret.SIRET_CACHE_SIZE
    # a recurring SIRET is answered from the memo
    siret_problem("21440036800012")
    hits = siret._cached_problem.cache_info().hits
    assert siret_problem("21440036800012") is None
    assert siret._cached_problem.cache_info().hits == hits + 1
    # a hostile text longer than any SIRET is checked, never kept
    siret._cached_problem.cache_clear()
    assert siret_problem("2" * 100_000) == "doit comporter 14 chiffres (100000 fournis)"
    assert siret_problem(" 214 400 368 00012 ") is None
    assert siret._cached_problem.cache_info().currsize == 1
