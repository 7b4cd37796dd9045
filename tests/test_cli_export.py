"""`python -m decp_monitor export`: tables and columns, filters, formats, on databases built by the real store."""
import datetime as dt
import importlib.util

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from decp_monitor.cli import main
from decp_monitor.model import Record
from decp_monitor.store import Store

SIRET = "21440036800012"
CONTRACT_COLUMNS = {"contract_key", "buyer_siret", "contract_id", "kind", "notification_date",
                    "publication_date", "deadline", "delay_days", "days_late", "status", "status_label"}
BUYER_COLUMNS = {"buyer_siret", "siren", "buyer_name", "siret_valid", "declared", "contracts_total",
                 "n_on_time", "n_late", "late_rate", "verdict", "verdict_label", "reasons", "severity_rank"}


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    with Store(data_dir).build("test", meta={"as_of": "2025-06-30"}) as build:
        for i, (notified, published) in enumerate([((2025, 1, 10), (2025, 2, 1)), ((2025, 2, 10), (2025, 6, 1))]):
            build.add(Record(source_file="a.json", position=i, kind="marche", format="json-2019",
                             buyer_siret=SIRET, buyer_name="=Commune", contract_id=f"C{i}",
                             amount=50000.0, notification_date=dt.date(*notified),
                             publication_date=dt.date(*published)))
    return data_dir


def export(data_dir, *args):
    return main(["--data-dir", str(data_dir), "export", *args])


def test_list_shows_tables_and_columns(small_dir, capsys):
    assert export(small_dir, "--list") == 0
    out = capsys.readouterr().out
    assert "contract_compliance" in out and "buyer_compliance" in out
    assert "    verdict_label  VARCHAR" in out


def test_unknown_table_fails_with_french_message(small_dir, tmp_path, capsys):
    assert export(small_dir, "record_contract", "--out", str(tmp_path / "x.csv")) == 2
    assert "Table inconnue" in capsys.readouterr().err


def test_contract_compliance_filtered_by_siret_and_dates(small_dir, tmp_path):
    out = tmp_path / "c.csv"
    assert export(small_dir, "contract_compliance", "--format", "csv", "--out", str(out),
                  "--siret", SIRET, "--from", "2025-02-01") == 0
    df = pd.read_csv(out)
    assert CONTRACT_COLUMNS <= set(df.columns)
    assert df["contract_id"].tolist() == ["C1"]
    assert df["buyer_name"].iloc[0] == "'=Commune"


def test_buyer_compliance_in_every_format(small_dir, tmp_path):
    for fmt, ext in (("csv", "csv"), ("csv-fr", "csv"), ("xlsx", "xlsx"), ("parquet", "parquet")):
        out = tmp_path / f"b-{fmt}.{ext}"
        assert export(small_dir, "buyer_compliance", "--format", fmt, "--out", str(out)) == 0
        if fmt == "parquet":
            names = pq.read_table(out).schema.names
        elif fmt == "xlsx":
            names = [c.value for c in next(openpyxl.load_workbook(out).active.iter_rows(max_row=1))]
        else:
            names = list(pd.read_csv(out, sep=";" if fmt == "csv-fr" else ",", encoding="utf-8-sig", nrows=0).columns)
        assert BUYER_COLUMNS <= set(names), fmt


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    if importlib.util.find_spec("decp_monitor.demo") is None:
        pytest.skip("demo generator (decp_monitor.demo) not in the tree yet")
    from decp_monitor.demo_db import build_demo
    data_dir = tmp_path_factory.mktemp("demo")
    build_demo(Store(data_dir), contracts=600, buyers=40)
    return data_dir


@pytest.mark.parametrize("table, columns", [("buyer_compliance", BUYER_COLUMNS),
                                            ("contract_compliance", CONTRACT_COLUMNS)])
def test_demo_export_has_documented_columns_and_every_row(demo_dir, tmp_path, table, columns):
    con = Store(demo_dir).connect()
    try:
        expected = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        late = con.execute(
            "SELECT count(*) FROM buyer_compliance WHERE verdict = 'late'" if table == "buyer_compliance"
            else "SELECT count(*) FROM contract_compliance WHERE status = 'late'").fetchone()[0]
    finally:
        con.close()
    assert expected > 0
    out = tmp_path / f"{table}.csv"
    assert export(demo_dir, table, "--format", "csv-fr", "--out", str(out)) == 0
    df = pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str)
    assert columns <= set(df.columns)
    assert len(df) == expected
    assert export(demo_dir, table, "--format", "parquet", "--out", str(out.with_suffix(".parquet")),
                  "--verdict", "late") == 0
    assert pq.read_table(out.with_suffix(".parquet")).num_rows == late
