import csv
import datetime as dt
import io

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from decp_monitor.core.model import Record
from decp_monitor.pipeline import build_version
from decp_monitor.read.export import (
    ExportError,
    TooManyRowsForExcel,
    export_dataframe,
    export_query,
    export_table,
    exportable_tables,
)
from decp_monitor.read.headers import FRENCH_HEADERS as H
from decp_monitor.store.versions import Store

SIRET = "21440036800012"
EVIL = '=HYPERLINK("http://x")'


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("data"))
    with build_version(store, "test") as build:
        build.add(Record(source_file="a.json", position=0, kind="marche", format="json-2019",
                         buyer_siret=SIRET, buyer_name="Ville", contract_id="C1", objet=EVIL,
                         amount=-1234.5, notification_date=dt.date(2024, 3, 15),
                         publication_date=dt.date(2024, 4, 1)))
        build.add(Record(source_file="a.json", position=1, kind="marche", format="json-2019",
                         buyer_siret="13000000000001", buyer_name="@Autre", contract_id="C2",
                         objet="Travaux", amount=50000.0, notification_date=dt.date(2023, 1, 10),
                         publication_date=dt.date(2023, 6, 1)))
    return store


@pytest.fixture
def con(store):
    con = store.connect()
    yield con
    con.close()


def test_only_documented_tables_are_listed_with_their_columns(con):
    tables = exportable_tables(con)
    assert "records" in tables and "contracts" in tables
    assert ("buyer_siret", "VARCHAR") in tables["records"]
    assert all(not name.startswith(("record_contract", "duckdb_")) for name in tables)


def test_unknown_table_is_refused_in_french(con, tmp_path):
    with pytest.raises(ExportError, match="Table inconnue"):
        export_table(con, "record_contract", "csv", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_csv_round_trips_with_guard_and_numbers(con, tmp_path):
    out = tmp_path / "r.csv"
    assert export_table(con, "records", "csv", out) == 2
    df = pd.read_csv(out).sort_values("contract_id")
    assert list(df["contract_id"]) == ["C1", "C2"]
    assert df["objet"].iloc[0] == "'" + EVIL
    assert df["buyer_name"].iloc[1] == "'@Autre"
    assert df["amount"].iloc[0] == -1234.5  # a negative number stays a number
    assert str(df["notification_date"].iloc[0]) == "2024-03-15"


def test_csv_fr_has_bom_semicolons_decimal_comma_french_dates(con, tmp_path):
    out = tmp_path / "r.csv"
    export_table(con, "records", "csv-fr", out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig").sort_values(H["contract_id"])
    assert df[H["amount"]].tolist() == [-1234.5, 50000.0]
    assert df[H["notification_date"]].iloc[0] == "15/03/2024"
    assert df[H["objet"]].iloc[0] == "'" + EVIL


def test_parquet_round_trips_types(con, tmp_path):
    out = tmp_path / "r.parquet"
    export_table(con, "records", "parquet", out)
    table = pq.read_table(out)
    expected = con.sql("SELECT * FROM records").to_arrow_table()
    assert table.schema.names == expected.schema.names
    assert table.schema.field("amount").type == expected.schema.field("amount").type
    assert table.num_rows == 2
    assert table.sort_by("contract_id").column("objet")[0].as_py() == EVIL  # parquet keeps data as is
    assert str(table.schema.field("notification_date").type) == "date32[day]"


def test_parquet_of_a_console_query_with_intervals_writes_them_as_text():
    # age() and date arithmetic in the console give INTERVAL, which Arrow cannot put in Parquet
    # (it failed the whole download); the other columns keep their types.
    con = duckdb.connect()
    buf = io.BytesIO()
    rows = export_query(con, "SELECT age(DATE '2024-01-01', DATE '2023-02-03') AS \"écart\", 4 AS n, "
                             "DATE '2024-01-01' AS d", [], "parquet", buf)
    table = pq.read_table(io.BytesIO(buf.getvalue()))
    assert rows == 1
    assert table.to_pylist() == [{"écart": "10 months 26 days", "n": 4, "d": dt.date(2024, 1, 1)}]
    assert str(table.schema.field("n").type) == "int32"


def test_xlsx_round_trips_typed_cells_frozen_header_and_inert_formula(con, tmp_path):
    out = tmp_path / "r.xlsx"
    export_table(con, "records", "xlsx", out)
    wb = openpyxl.load_workbook(out)
    ws = wb.active
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert ws[1][0].font.bold
    rows = [dict(zip(header, [c.value for c in r])) for r in ws.iter_rows(min_row=2)]
    rows.sort(key=lambda r: r[H["contract_id"]])
    assert len(rows) == 2
    assert rows[0][H["objet"]] == "'" + EVIL
    assert rows[0][H["amount"]] == -1234.5 and isinstance(rows[0][H["amount"]], float)
    assert rows[0][H["notification_date"]].date() == dt.date(2024, 3, 15)
    # no cell holds a formula
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_filters_siret_dates_and_as_of_are_applied(con, tmp_path):
    def count(**filters):
        buf = io.BytesIO()
        return export_table(con, "records", "csv", buf, filters)
    assert count(siret=SIRET) == 1
    assert count(date_from="2024-01-01") == 1
    assert count(date_to="2023-12-31") == 1
    assert count(as_of="2022-01-01") == 0
    assert count(siret="'; DROP TABLE records; --") == 0
    with pytest.raises(ExportError, match="--verdict"):
        count(verdict="late")  # records has no verdict/status column: refused, not ignored
    with pytest.raises(ExportError, match="date invalide"):
        count(date_from="15/03/2024")


def test_excel_row_limit_gives_french_message_and_alternatives(monkeypatch):
    import decp_monitor.read.export as export
    monkeypatch.setattr(export, "EXCEL_MAX_DATA_ROWS", 3)
    con = duckdb.connect()
    with pytest.raises(TooManyRowsForExcel, match="CSV .*Parquet"):
        export_query(con, "SELECT * FROM range(4)", [], "xlsx", io.BytesIO())


def test_dataframe_export_uses_the_same_guard():
    df = pd.DataFrame({"name": [EVIL, "ok"], "n": [-3, 4]})
    data = export_dataframe(df, "csv")
    back = pd.read_csv(io.BytesIO(data))
    assert back["name"].tolist() == ["'" + EVIL, "ok"]
    assert back["n"].tolist() == [-3, 4]
    wb = openpyxl.load_workbook(io.BytesIO(export_dataframe(df, "xlsx")))
    assert [c.value for c in wb.active[2]] == ["'" + EVIL, -3]


def test_list_columns_become_joined_text_in_csv():
    con = duckdb.connect()
    buf = io.BytesIO()
    export_query(con, "SELECT ['a', '=b'] AS reasons", [], "csv", buf)
    assert pd.read_csv(io.BytesIO(buf.getvalue()))["reasons"].iloc[0] == "a | =b"


def test_download_of_a_full_query_holds_every_row_not_just_a_page(store):
    from decp_monitor.read import queries
    from decp_monitor.read.export import export_listing

    con = store.connect()
    try:
        siret = con.execute("SELECT buyer_siret FROM contract_compliance LIMIT 1").fetchone()[0]
        page = queries.buyer_contracts(con, siret, limit=1)
        assert len(page.rows) == 1
        buffer = io.BytesIO()
        rows = export_listing(con, page.listing, ["contract_id", "amount"], "csv-fr", buffer, sheet_title="contrats")
    finally:
        con.close()
    assert rows == page.total
    back = pd.read_csv(io.BytesIO(buffer.getvalue()), sep=";", decimal=",", encoding="utf-8-sig")
    assert len(back) == page.total and list(back.columns) == [H["contract_id"], H["amount"]]


def test_xlsx_drops_control_characters_keeps_guard_and_numbers(tmp_path):
    store = Store(tmp_path / "data")
    with build_version(store, "test") as build:
        build.add(Record(source_file="a.json", position=0, kind="marche", format="json-2019",
                         buyer_siret=SIRET, buyer_name="Ville\x00 de\x1f Nantes", contract_id="C1",
                         objet="Travaux\x0b de voirie\x0c\ttab\nligne", amount=-12.5,
                         notification_date=dt.date(2024, 3, 15)))
        build.add(Record(source_file="a.json", position=1, kind="marche", format="json-2019",
                         buyer_siret=SIRET, buyer_name="Ville", contract_id="C2",
                         objet="\x0b" + EVIL, amount=3.0, notification_date=dt.date(2024, 3, 16)))
    con = store.connect()
    try:
        out = tmp_path / "r.xlsx"
        assert export_table(con, "records", "xlsx", out) == 2
    finally:
        con.close()
    ws = openpyxl.load_workbook(out).active
    header = [c.value for c in ws[1]]
    rows = sorted((dict(zip(header, [c.value for c in r])) for r in ws.iter_rows(min_row=2)),
                  key=lambda r: r[H["contract_id"]])
    assert rows[0][H["objet"]] == "Travaux de voirie\ttab\nligne"  # tab and newline are legal in XLSX
    assert rows[0][H["buyer_name"]] == "Ville de Nantes"
    assert rows[0][H["amount"]] == -12.5
    assert rows[1][H["objet"]] == "'" + EVIL  # control character removed, then the guard
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_dataframe_xlsx_drops_control_characters():
    df = pd.DataFrame({"objet\x0b": ["a\x0bb", "\x01-3", None], "n": [-1.5, 2.0, 3.0]})
    ws = openpyxl.load_workbook(io.BytesIO(export_dataframe(df, "xlsx"))).active
    assert [c.value for c in ws[1]] == ["objet", "n"]
    assert [[c.value for c in r] for r in ws.iter_rows(min_row=2)] == [["ab", -1.5], ["'-3", 2.0], [None, 3.0]]
    # CSV keeps the data as is (control characters are legal there)
    assert pd.read_csv(io.BytesIO(export_dataframe(df, "csv")))["objet\x0b"].iloc[0] == "a\x0bb"


def test_unknown_verdict_or_status_is_refused_with_accepted_values(store):
    con = store.connect()
    try:
        def rows(table, verdict):
            return export_table(con, table, "csv", io.BytesIO(), {"verdict": verdict})
        with pytest.raises(ExportError, match=r"(?s)Verdict inconnu.*« bogus ».*late \(Publications en retard\).*compliant"):
            rows("buyer_compliance", "bogus")
        with pytest.raises(ExportError, match=r"(?s)Statut inconnu.*« en retard ».*on_time.*late"):
            rows("contract_compliance", ["late", "en retard"])
        assert rows("contract_compliance", "late") == 1
        assert rows("contract_compliance", ["on_time", "late"]) == 2
    finally:
        con.close()


def test_as_of_on_a_compliance_table_refuses_a_connection_assessed_at_another_date(store):
    con = store.connect()
    try:
        assessed = con.execute("SELECT value FROM meta WHERE key = 'as_of'").fetchone()[0]
        with pytest.raises(ExportError, match="connect_for_export"):
            export_table(con, "buyer_compliance", "csv", io.BytesIO(), {"as_of": "2020-01-01"})
        # the version's own assessment date needs no recomputation
        assert export_table(con, "contract_compliance", "csv", io.BytesIO(), {"as_of": assessed}) == 2
    finally:
        con.close()


def test_french_formats_have_french_headers_real_dates_and_no_float_noise():
    # what a dashboard table hands over: pandas holds DATE columns as datetime64 at midnight
    df = pd.DataFrame({
        "notification_date": pd.to_datetime(["2026-09-19", None]),
        "created_at": pd.to_datetime(["2026-09-19 14:05:00", "2026-09-20 08:00:00"]),
        "amount": [45000.5 * 1.1, 50.800000000000004],
        "buyer_siret": ["21440036800012", "21440036800012"],
    })
    header, first, second = csv.reader(io.StringIO(export_dataframe(df, "csv-fr").decode("utf-8-sig")), delimiter=";")
    assert header == [H["notification_date"], H["created_at"], H["amount"], H["buyer_siret"]]
    assert first[:3] == ["19/09/2026", "19/09/2026 14:05:00", "49500,55"]
    assert second[2] == "50,8" and second[0] == ""
    # the standard CSV keeps the schema's names and ISO dates, without noise either
    header, first, second = csv.reader(io.StringIO(export_dataframe(df, "csv").decode("utf-8")))
    assert header == ["notification_date", "created_at", "amount", "buyer_siret"]
    assert (first[0], first[2], second[2]) == ("2026-09-19", "49500.55", "50.8")

    ws = openpyxl.load_workbook(io.BytesIO(export_dataframe(df, "xlsx"))).active
    assert [c.value for c in ws[1]] == [H["notification_date"], H["created_at"], H["amount"], H["buyer_siret"]]
    date_cell, time_cell, amount_cell = ws[2][0], ws[2][1], ws[3][2]
    assert date_cell.value == dt.datetime(2026, 9, 19) and date_cell.number_format == "DD/MM/YYYY"
    assert time_cell.number_format == "DD/MM/YYYY HH:MM"
    assert amount_cell.value == 50.8


def test_every_exportable_column_has_a_french_header(store):
    con = store.connect()
    try:
        columns = {c for cols in exportable_tables(con).values() for c, _ in cols}
    finally:
        con.close()
    assert "buyer_siret" in columns and "verdict_label" in columns
    assert sorted(c for c in columns if c not in H) == []


def test_download_file_names_say_format_and_date():
    from decp_monitor.dashboard.downloads import LABELS, file_name

    day = dt.date(2026, 9, 30)
    names = {fmt: file_name("acheteurs", fmt, day) for fmt in LABELS}
    assert len(set(names.values())) == len(LABELS), names
    assert names["csv-fr"] == "acheteurs-2026-09-30-excel-fr.csv"
    assert names["csv"] == "acheteurs-2026-09-30.csv"
    assert all("2026-09-30" in name for name in names.values())
