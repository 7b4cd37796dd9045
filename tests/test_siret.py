from hypothesis import given, strategies as st

from decp_monitor.siret import clean_siret, is_valid_siret, siret_problem


def luhn_complete(body: str) -> str:
    """Append the digit that makes body+digit pass Luhn."""
    for key in "0123456789":
        candidate = body + key
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError


def test_known_valid_sirets():
    assert is_valid_siret("21440036800012")
    assert is_valid_siret("35600000000048")  # La Poste head office, plain Luhn


def test_la_poste_rule_digit_sum_multiple_of_five():
    siret = "35600000012345"  # digit sum 3+5+6+1+2+3+4+5 = 29 -> not a multiple of 5
    assert not is_valid_siret(siret)
    assert is_valid_siret("35600000012346")  # digit sum 30, fails Luhn but passes La Poste


def test_clean_siret_strips_separators_and_refuses_letters():
    assert clean_siret("214 400 368\u00a000012") == "21440036800012"
    assert clean_siret("214.400.368.00012") == "21440036800012"
    assert clean_siret("2144003680001A") is None
    assert clean_siret(None) is None


def test_siret_problem_messages_in_french():
    assert siret_problem("21440036800012") is None
    assert siret_problem("214400368000") == "doit comporter 14 chiffres (12 fournis)"
    assert siret_problem("21440036800013") == "clé de contrôle (Luhn) invalide"
    assert siret_problem("2144003680001A") == "contient des caractères non numériques"


@given(st.text(alphabet="0123456789", min_size=13, max_size=13).filter(lambda s: not s.startswith("356000000")))
def test_luhn_one_digit_change_invalidates(body):
    siret = luhn_complete(body)
    assert is_valid_siret(siret)
    for position in range(14):
        for digit in "0123456789":
            if digit != siret[position]:
                changed = siret[:position] + digit + siret[position + 1:]
                if not changed.startswith("356000000"):
                    assert not is_valid_siret(changed)


@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
def test_la_poste_valid_iff_digit_sum_multiple_of_five_or_luhn(tail):
    siret = "356000000" + tail
    digit_sum = sum(map(int, siret))
    assert is_valid_siret(siret) == (digit_sum % 5 == 0 or luhn_complete(siret[:13]) == siret)


@given(st.text(min_size=0, max_size=20))
def test_siret_problem_never_raises_and_agrees_with_validity(text):
    problem = siret_problem(text)
    cleaned = clean_siret(text)
    assert (problem is None) == (cleaned is not None and is_valid_siret(cleaned))
