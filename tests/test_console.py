import pytest

from decp_monitor.core.model import Record
from decp_monitor.pipeline import build_version
from decp_monitor.read.console import EXAMPLE_QUERIES, run_query
from decp_monitor.store.versions import Store


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("data"))
    with build_version(store, "test") as build:
        for i in range(3):
            build.add(Record(source_file="a.json", position=i, kind="marche", format="json-2019",
                             buyer_siret="21440036800012", contract_id=f"C{i}"))
    return store.current().path


def refused(db_path, sql, **kw):
    result = run_query(sql, db_path, **kw)
    assert result.df is None and result.error_fr, f"not refused: {sql}"
    return result.error_fr


def test_select_returns_a_dataframe(db_path):
    result = run_query("SELECT contract_id FROM records ORDER BY 1", db_path)
    assert result.ok and result.df["contract_id"].tolist() == ["C0", "C1", "C2"]
    assert not result.truncated


def test_rows_are_bounded_by_the_row_limit(db_path):
    result = run_query("SELECT * FROM range(50)", db_path, row_limit=10)
    assert len(result.df) == 10 and result.truncated


@pytest.mark.parametrize("sql", [
    "COPY records TO '/tmp/decp_console_leak.csv'",
    "ATTACH '/tmp/decp_console_other.db' AS other",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM 'https://example.com/data.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "EXPORT DATABASE '/tmp/decp_console_export'",
])
def test_file_url_and_extension_access_is_refused_in_french(db_path, sql):
    message = refused(db_path, sql)
    assert "Requête refusée" in message and "fichier" in message


def test_copy_wrote_nothing(db_path):
    from pathlib import Path
    refused(db_path, "COPY records TO '/tmp/decp_console_leak2.csv'")
    assert not Path("/tmp/decp_console_leak2.csv").exists()


@pytest.mark.parametrize("sql", ["SET threads = 4", "RESET memory_limit",
                                 "SET enable_external_access = true"])
def test_settings_are_locked(db_path, sql):
    assert "verrouillés" in refused(db_path, sql)


@pytest.mark.parametrize("sql", ["CREATE TABLE x (a INTEGER)", "DELETE FROM records",
                                 "DROP TABLE records", "INSERT INTO records (record_id) VALUES (42)"])
def test_writes_are_refused(db_path, sql):
    assert "lecture seule" in refused(db_path, sql)
    assert run_query("SELECT count(*) AS n FROM records", db_path).df["n"].iloc[0] == 3


def test_runaway_query_is_interrupted(db_path):
    message = refused(db_path, "SELECT count(*) FROM range(10000000000)", timeout=0.5)
    assert "durée maximale" in message


def test_multiple_statements_and_syntax_errors_get_french_messages(db_path):
    assert "Une seule requête" in refused(db_path, "SELECT 1; SELECT 2")
    assert "syntaxe" in refused(db_path, "SELEC 1")
    assert "inconnue" in refused(db_path, "SELECT * FROM nowhere")
    assert "Saisissez" in refused(db_path, "   ")


def test_example_queries_are_valid_sql(db_path):
    import duckdb
    con = duckdb.connect()
    for sql in EXAMPLE_QUERIES.values():
        assert len(con.extract_statements(sql)) == 1
    assert run_query(EXAMPLE_QUERIES["Tables et colonnes disponibles"], db_path).ok


def test_console_page_shows_results_and_french_refusals(monkeypatch, db_path):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from decp_monitor.dashboard.navigation import page_path

    monkeypatch.setenv("DECP_DATA_DIR", str(Path(db_path).parents[1]))
    at = AppTest.from_file(page_path("console"), default_timeout=30).run()
    assert not at.exception
    at.text_area[0].set_value("SELECT contract_id FROM records ORDER BY 1")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["contract_id"].tolist() == ["C0", "C1", "C2"]
    assert "SELECT contract_id FROM records ORDER BY 1" in str(at.query_params["sql"])
    at.text_area[0].set_value("COPY records TO '/tmp/decp_console_page.csv'")
    at.button[0].click().run()
    assert "Requête refusée" in at.error[0].value


def test_console_works_beside_the_dashboards_plain_connection(db_path):
    import duckdb
    held = duckdb.connect(str(db_path), read_only=True)  # what the dashboard keeps open
    try:
        assert run_query("SELECT count(*) AS n FROM records", db_path).df["n"].iloc[0] == 3
        assert "Requête refusée" in refused(db_path, "SELECT * FROM read_csv('/etc/passwd')")
    finally:
        held.close()


def test_a_query_beyond_the_memory_limit_fails_instead_of_spilling_to_disk(db_path, tmp_path, monkeypatch):
    import decp_monitor.read.console as console

    monkeypatch.chdir(tmp_path)  # an in-memory database would spill under ./.tmp
    monkeypatch.setitem(console.CONSOLE_CONFIG, "memory_limit", "64MB")  # small, so the test is quick
    message = refused(db_path, "SELECT * FROM range(6000000) t(i) ORDER BY hash(i)", timeout=30)
    assert message.startswith("Requête arrêtée") and "mémoire" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sql, french", [
    ("SELEC 1", "Erreur de syntaxe SQL près de « SELEC »"),
    ("SELECT nocol FROM records", "colonne « nocol » introuvable"),
    ("SELECT * FROM nowhere", "inconnue"),
    ("DROP TABLE records", "lecture seule"),
    ("SELECT * FROM read_csv('/etc/passwd')", "Requête refusée"),
])
def test_french_message_comes_first_duckdb_text_only_as_labelled_detail(db_path, sql, french):
    message = refused(db_path, sql)
    first, _, detail = message.partition("\n\n")
    assert french in first
    assert "Error" not in first and "DuckDB" not in first
    assert detail.startswith("Détail technique (message de DuckDB, en anglais) : ") and "Error" in detail


def test_detach_is_refused_with_a_sensible_french_message(db_path):
    message = refused(db_path, "DETACH decp")
    first = message.split("\n\n")[0]
    assert "Requête refusée" in first and "détacher" in first
    assert "colonne ou expression" not in message
    assert run_query("SELECT count(*) AS n FROM records", db_path).df["n"].iloc[0] == 3


def test_timestamps_with_time_zone_are_shown(db_path):
    result = run_query("SELECT now() AS t, max(built_at) AS b FROM (SELECT CAST(value AS TIMESTAMP) AS built_at "
                       "FROM meta WHERE key = 'built_at')", db_path)
    assert result.ok, result.error_fr
    assert result.df["t"].iloc[0].year >= 2025


# -- issue 14, item 12: wide values and queries DuckDB does not interrupt ---------------------------


def test_results_are_bounded_in_bytes_not_only_rows(db_path):
    budget = 1024 * 1024
    result = run_query("SELECT i, repeat('x', 10000) AS s FROM range(1000) t(i)", db_path, byte_limit=budget)
    assert result.ok, result.error_fr
    assert result.truncated and result.truncated_by == "octets"
    assert 50 <= len(result.df) < 1000
    assert result.df["s"].str.len().sum() <= budget
    assert result.df["i"].tolist() == list(range(len(result.df)))  # the first rows, in order


def test_a_single_row_beyond_the_byte_budget_is_refused_in_french(db_path):
    message = refused(db_path, "SELECT repeat('x', 2000000) AS s", byte_limit=1024 * 1024)
    assert message.startswith("Résultat trop volumineux") and "1 Mo" in message


def test_the_row_limit_still_says_rows(db_path):
    result = run_query("SELECT * FROM range(20)", db_path, row_limit=20)
    assert not result.truncated and len(result.df) == 20
    result = run_query("SELECT * FROM range(5000)", db_path, row_limit=2000)
    assert result.truncated_by == "lignes" and len(result.df) == 2000


def test_a_query_duckdb_cannot_interrupt_is_killed_at_the_timeout(db_path):
    import time

    import decp_monitor.read.console as console

    started = time.perf_counter()
    # One repeat() call is not interruptible: it finishes its 300 MB strings whatever the timeout.
    message = refused(db_path, "SELECT [repeat('x', 300000000), repeat('y', 300000000)] AS l", timeout=0.5)
    elapsed = time.perf_counter() - started
    assert "durée maximale de 0.5 secondes" in message
    assert elapsed < 0.5 + console.KILL_MARGIN_S + 1.0


def test_wide_values_beyond_the_child_memory_end_the_query_not_the_server(db_path, monkeypatch):
    import resource

    import decp_monitor.read.console as console

    monkeypatch.setattr(console, "CHILD_MEMORY_BYTES", 400 * 1024 * 1024)
    monkeypatch.setitem(console.CONSOLE_CONFIG, "memory_limit", "300MB")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_query("SELECT repeat('x', 50000000) AS s FROM range(20)", db_path, timeout=30)
    assert not result.ok and "mémoire" in result.error_fr
    assert result.child_peak_rss < 600 * 1024 * 1024
    # The serving process never held the values.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024


def test_stray_output_cannot_corrupt_the_answer(db_path):
    # A long query would draw DuckDB's progress bar on stdout; the answer still parses.
    result = run_query("SELECT count(*) AS n FROM range(300000000)", db_path, timeout=30)
    assert result.ok, result.error_fr
    assert result.df["n"].iloc[0] == 300000000


def test_values_keep_their_python_kinds_through_arrow(db_path):
    import datetime as dt

    result = run_query("SELECT sum(i) AS total, INTERVAL 3 DAY AS delay, 10::HUGEINT * 1e20::HUGEINT AS big "
                       "FROM range(10) t(i)", db_path)
    assert result.ok, result.error_fr
    row = result.df.iloc[0]
    assert row["total"] == 45 and result.df["total"].dtype.kind == "i"  # HUGEINT sum shown as a number
    assert row["delay"] == dt.timedelta(days=3)
    assert int(row["big"]) == 10 ** 21  # beyond 64 bits: exact
