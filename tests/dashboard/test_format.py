"""French formats and safe links of the dashboard."""
import datetime as dt

from decp_monitor.core.siret import siret_problem
from decp_monitor.dashboard.format import (
    format_siret,
    fr_date,
    fr_datetime,
    fr_days,
    fr_int,
    fr_money,
    fr_percent,
    md_escape,
    safe_url,
)
from decp_monitor.dashboard.siret_input import as_siret

NNBSP, NBSP = "\u202f", "\u00a0"


def test_money_has_french_separators():
    assert fr_money(1234567.89) == f"1{NNBSP}234{NNBSP}567,89{NBSP}€"
    assert fr_money(None) == "–"


def test_integers_percentages_and_days():
    assert fr_int(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert fr_percent(0.125) == f"12,5{NBSP}%"
    assert fr_percent(float("nan")) == "–"
    assert fr_days(1) == f"1{NBSP}jour" and fr_days(61) == f"61{NBSP}jours"


def test_dates_day_first():
    assert fr_date(dt.date(2024, 12, 31)) == "31/12/2024"
    assert fr_date("2024-12-31") == "31/12/2024"
    assert fr_datetime("2025-01-02T03:04:05") == "02/01/2025 à 04:04"  # UTC stored, Paris shown
    assert fr_datetime("2025-07-02T03:04:05+00:00") == "02/07/2025 à 05:04"


def test_only_http_urls_are_links():
    assert safe_url("https://www.data.gouv.fr/x") == "https://www.data.gouv.fr/x"
    assert safe_url(" http://a.fr/b ") == "http://a.fr/b"
    for bad in ("javascript:alert(1)", "ftp://a.fr", "data:text/html,x", "//a.fr", "https://", "http://a.fr/<x>", None, 3):
        assert safe_url(bad) is None, bad


def test_untrusted_text_never_becomes_markdown():
    escaped = md_escape("[clic](https://evil.example) **gras** :red[x]")
    assert "\\[clic\\]\\(https\\:" in escaped and "\\*\\*" in escaped and "\\:red\\[" in escaped


def test_siret_typed_with_spaces():
    assert as_siret("214 400 368 00012") == "21440036800012"
    assert as_siret("214\u00a0400\u00a0368\u00a000012") == "21440036800012"
    assert as_siret("Commune de Nantes") is None
    assert format_siret("21440036800012") == "214 400 368 00012"


def test_siret_problem_says_why():
    assert siret_problem("21440036800012") is None
    assert "14 chiffres" in siret_problem("2144003680")
    assert "clé de contrôle" in siret_problem("21440036800013")


def test_codes_shown_as_french_labels():
    import pandas as pd

    from decp_monitor.dashboard.columns import command_label, file_name, french_codes

    df = french_codes(pd.DataFrame({"kind": ["marche", "concession"], "filetype": ["file", "remote"],
                                    "download_status": ["not_attempted", "inconnu"], "contract_id": ["marche", "x"]}))
    assert list(df["kind"]) == ["Marché", "Concession"]
    assert list(df["filetype"]) == ["Fichier déposé", "Lien externe"]
    assert list(df["download_status"]) == ["Non téléchargé", "inconnu"], "an unknown code stays as it is"
    assert list(df["contract_id"]) == ["marche", "x"], "only code columns are translated"
    assert command_label("refresh") == "Moissonnage data.gouv.fr" and command_label(None) == "–"
    assert file_name("/srv/decp/data/cache/abc/DECP-1-2024-01-01-01.json") == "DECP-1-2024-01-01-01.json"
    assert file_name("https://www.data.gouv.fr/x.json") == "https://www.data.gouv.fr/x.json"


def test_month_names_are_french():
    from decp_monitor.core.french import fr_month

    assert fr_month(dt.date(2026, 7, 15)) == "juillet 2026"
    assert fr_month(dt.date(2026, 2, 1), short=True) == "févr. 2026"
    assert fr_month(dt.date(2025, 8, 31), short=True) == "août 2025"


def test_provisional_months_start_where_deadlines_pass_the_assessment_date():
    from decp_monitor.dashboard.charts import pending_from

    # notified on 31/07, due on 30/09: July is complete on 30/09, not on 15/09
    assert pending_from(dt.date(2026, 9, 30)).date() == dt.date(2026, 8, 1)
    assert pending_from(dt.date(2026, 9, 15)).date() == dt.date(2026, 7, 1)
    assert pending_from(dt.date(2024, 2, 29)).date() == dt.date(2024, 1, 1)
    assert pending_from(None) is None


def test_findings_messages_write_numbers_and_dates_the_french_way():
    import datetime as dt

    from decp_monitor.parse.normalise import FileState, normalise

    raw = {"id": "X1", "acheteur": {"id": "21440036800012"}, "montant": "99900000000000",
           "dateNotification": "2024-03-15", "datePublicationDonnees": "2024-03-01",
           "modifications": [{"modification": {"montant": -431851.88, "dateNotificationModification": "2030-01-02",
                                                "datePublicationDonneesModification": "2030-01-03"}}]}
    _, findings = normalise(raw, 0, "json-2019", FileState("a.json", today=dt.date(2025, 1, 1)))
    messages = {f.code: f.message for f in findings if f.field != "datePublicationDonneesModification"}
    assert messages["absurd_amount"].endswith("99\u202f900\u202f000\u202f000\u202f000\u00a0€ (plus de "
                                              "100\u202f000\u202f000\u202f000\u00a0€)")
    assert "Publication déclarée (01/03/2024) antérieure à la notification (15/03/2024)" in \
        messages["publication_before_notification"]
    assert "02/01/2030" in messages["date_in_future"] and "2030-01-02" not in messages["date_in_future"]
    assert messages["negative_amount"].endswith("-431\u202f851,88\u00a0€")
