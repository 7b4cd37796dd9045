"""`python -m decp_monitor export`: tables and columns, filters, formats, on databases built by the real store."""
import datetime as dt
import importlib.util

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from decp_monitor.cli import main
from decp_monitor.core.model import Record
from decp_monitor.pipeline import build_version
from decp_monitor.read.headers import french_header
from decp_monitor.store.versions import Store

SIRET = "21440036800012"
CONTRACT_COLUMNS = {"contract_key", "buyer_siret", "contract_id", "kind", "notification_date",
                    "publication_date", "deadline", "delay_days", "days_late", "status", "status_label"}
BUYER_COLUMNS = {"buyer_siret", "siren", "buyer_name", "siret_valid", "declared", "contracts_total",
                 "n_on_time", "n_late", "late_rate", "verdict", "verdict_label", "reasons", "severity_rank"}


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    with build_version(Store(data_dir), "test", meta={"as_of": "2025-06-30"}) as build:
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
        # the French formats read French headers (read/headers.py), the others the schema's names
        expected = {french_header(c) for c in BUYER_COLUMNS} if fmt in ("csv-fr", "xlsx") else BUYER_COLUMNS
        assert expected <= set(names), fmt


@pytest.fixture(scope="module")
def demo_dir(shared_demo):
    if importlib.util.find_spec("decp_monitor.demo.corpus") is None:
        pytest.skip("demo generator (decp_monitor.demo.corpus) not in the tree yet")
    return shared_demo(contracts=600, buyers=40)


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
    assert {french_header(c) for c in columns} <= set(df.columns)
    assert len(df) == expected
    assert export(demo_dir, table, "--format", "parquet", "--out", str(out.with_suffix(".parquet")),
                  "--verdict", "late") == 0
    assert pq.read_table(out.with_suffix(".parquet")).num_rows == late


@pytest.mark.parametrize("table, accepted", [("buyer_compliance", ["late", "compliant", "missing"]),
                                             ("contract_compliance", ["on_time", "late", "no_publication_date"])])
def test_unknown_verdict_exits_2_listing_accepted_values(small_dir, tmp_path, capsys, table, accepted):
    out = tmp_path / "v.csv"
    assert export(small_dir, table, "--out", str(out), "--verdict", "late", "--verdict", "bogus") == 2
    err = capsys.readouterr().err
    assert "inconnu" in err and "« bogus »" in err
    assert all(value in err for value in accepted)
    assert not out.exists()


def test_missing_output_folder_exits_2_with_french_message(small_dir, tmp_path, capsys):
    target = tmp_path / "absent" / "b.csv"
    assert export(small_dir, "buyer_compliance", "--out", str(target)) == 2
    err = capsys.readouterr().err
    assert "Impossible d'écrire" in err and str(target) in err and "n'existe pas" in err
    assert "FileNotFoundError" not in err and "Errno" not in err


def test_write_failure_during_export_exits_2_with_french_message(small_dir, tmp_path, capsys, monkeypatch):
    import errno

    import decp_monitor.read.export as export_module

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(export_module, "export_table", full_disk)
    target = tmp_path / "b.csv"
    assert export(small_dir, "buyer_compliance", "--out", str(target)) == 2
    err = capsys.readouterr().err
    assert "Impossible d'écrire" in err and str(target) in err and "plus de place sur le disque" in err


def _buyer(path):
    df = pd.read_parquet(path)
    assert df["buyer_siret"].tolist() == [SIRET]
    return df.iloc[0]


def test_as_of_judges_compliance_tables_at_that_date(small_dir, tmp_path):
    """C1 (notified 2025-02-10, published 2025-06-01, due 2025-04-10) is late: as of the published
    2025-06-30 the buyer is late; as of 2025-02-05 C1 is not notified yet and the buyer is not late;
    as of 2026-06-30 nothing is in the window any more and the buyer's publications have stopped."""
    published = tmp_path / "published.parquet"
    assert export(small_dir, "buyer_compliance", "--format", "parquet", "--out", str(published)) == 0
    assert _buyer(published)["verdict"] == "late"

    early = tmp_path / "early.parquet"
    assert export(small_dir, "buyer_compliance", "--format", "parquet", "--out", str(early),
                  "--as-of", "2025-02-05") == 0
    buyer = _buyer(early)
    assert buyer["verdict"] != "late" and buyer["n_late"] == 0 and buyer["n_on_time"] == 1

    later = tmp_path / "later.parquet"
    assert export(small_dir, "buyer_compliance", "--format", "parquet", "--out", str(later),
                  "--as-of", "2026-06-30") == 0
    assert _buyer(later)["verdict"] == "stale"

    contracts = tmp_path / "contracts.parquet"
    assert export(small_dir, "contract_compliance", "--format", "parquet", "--out", str(contracts),
                  "--as-of", "2026-06-30", "--verdict", "late") == 0
    df = pd.read_parquet(contracts)
    assert df["contract_id"].tolist() == ["C1"] and not df["in_window"].any()  # judged as of 2026-06-30

    # the published version is unchanged
    assert export(small_dir, "buyer_compliance", "--format", "parquet", "--out", str(published), "--force") == 0
    assert _buyer(published)["verdict"] == "late"


def test_as_of_invalid_date_exits_2(small_dir, tmp_path, capsys):
    assert export(small_dir, "buyer_compliance", "--out", str(tmp_path / "b.csv"), "--as-of", "30/06/2025") == 2
    assert "date invalide" in capsys.readouterr().err
