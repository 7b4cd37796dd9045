import subprocess
import sys

import pytest

from decp_monitor.cli import main
from decp_monitor.pipeline.files import iter_files
from decp_monitor.store.versions import Store


def test_help_explains_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "load", "refresh", "status", "export"):
        assert command in out


def test_module_runs_as_a_program():
    done = subprocess.run(
        [sys.executable, "-m", "decp_monitor", "load", "--help"], capture_output=True, text=True, check=True
    )
    assert "--data-dir" in done.stdout and "CHEMIN" in done.stdout


def test_load_of_a_missing_path_is_one_clear_line(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "load", str(tmp_path / "nope.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Erreur : chemin introuvable") and "Traceback" not in err
    assert Store(tmp_path).current() is None


def test_data_dir_option_is_accepted_before_and_after_the_command(tmp_path, real_dir):
    sample = real_dir / "decp-json" / "format-commande-publique" / "v1.5.0" / "mar-basique.json"
    assert main(["--data-dir", str(tmp_path / "a"), "load", str(sample)]) == 0
    assert main(["load", str(sample), "--data-dir", str(tmp_path / "b")]) == 0
    assert Store(tmp_path / "a").current() is not None
    assert Store(tmp_path / "b").current() is not None


def test_data_dir_from_environment(tmp_path, real_dir, monkeypatch):
    monkeypatch.setenv("DECP_DATA_DIR", str(tmp_path))
    sample = real_dir / "decp-json" / "format-commande-publique" / "v1.5.0" / "mar-basique.json"
    assert main(["load", str(sample)]) == 0
    assert Store(tmp_path).current() is not None


def test_load_of_real_decp_json_names_each_file(tmp_path, real_dir, capsys):
    folder = real_dir / "decp-json"
    assert main(["--data-dir", str(tmp_path), "load", str(folder)]) == 0
    assert "Base publiée" in capsys.readouterr().out
    con = Store(tmp_path).connect()
    files_with_rows = {
        row[0] for row in con.execute(
            "SELECT source_file FROM records UNION SELECT source_file FROM findings"
        ).fetchall()
    }
    record_files = {row[0] for row in con.execute("SELECT DISTINCT source_file FROM records").fetchall()}
    finding_count = con.execute("SELECT count(*) FROM findings").fetchone()[0]
    con.close()
    expected = {str(p) for p in iter_files([folder])}
    assert expected <= files_with_rows
    # every file but the empty AIFE publication holds records
    assert expected - record_files == {str(folder / "aife-api-decp" / "decp-2024.json")}
    assert finding_count > 0


def test_second_load_adds_to_the_first(tmp_path, real_dir):
    v15 = real_dir / "decp-json" / "format-commande-publique" / "v1.5.0"
    assert main(["--data-dir", str(tmp_path), "load", str(v15 / "mar-basique.json")]) == 0
    assert main(["--data-dir", str(tmp_path), "load", str(v15 / "cc-basique.json")]) == 0
    con = Store(tmp_path).connect()
    kinds = sorted(r[0] for r in con.execute("SELECT kind FROM records").fetchall())
    con.close()
    assert kinds == ["concession", "marche"]
    # loading the same file again replaces it rather than doubling it
    assert main(["--data-dir", str(tmp_path), "load", str(v15 / "cc-basique.json")]) == 0
    con = Store(tmp_path).connect()
    assert con.execute("SELECT count(*) FROM records").fetchone()[0] == 2
    con.close()


def test_unreadable_as_of_is_refused_before_anything_is_built(tmp_path, real_dir, capsys):
    sample = real_dir / "decp-json" / "format-commande-publique" / "v1.5.0" / "mar-basique.json"
    try:
        main(["--data-dir", str(tmp_path), "load", str(sample), "--as-of", "31/12/2021"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "date illisible « 31/12/2021 »" in capsys.readouterr().err
    assert Store(tmp_path).current() is None


def test_assessment_periods_given_to_load_are_the_published_ones(tmp_path, real_dir, capsys):
    folder = real_dir / "decp-json" / "marches-securises"
    assert main(["--data-dir", str(tmp_path), "load", str(folder), "--as-of", "2021-12-31",
                 "--window-months", "36", "--stale-months", "4"]) == 0
    meta = Store(tmp_path).meta()
    assert (meta["as_of"], meta["window_months"], meta["stale_months"]) == ("2021-12-31", "36", "4")
    assert meta["window_start"] == "2019-01-01"
    capsys.readouterr()
    # status keeps the published periods unless told otherwise
    assert main(["--data-dir", str(tmp_path), "status", "21590163800019", "--json"]) == 0
    assert '"window_months": "36"' in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "status", "21590163800019", "--json", "--window-months", "6"]) == 0
    out = capsys.readouterr().out
    assert '"window_months": "6"' in out and '"window_start": "2021-07-01"' in out
    assert Store(tmp_path).meta()["window_months"] == "36"  # the published version is untouched


# argparse's own English, as Python 3.11+ writes it; none may reach a user.
ARGPARSE_ENGLISH = ("usage:", "positional arguments", "optional arguments", "show this help message",
                    "show program's version", "error:", "the following arguments are required",
                    "invalid choice", "choose from", "unrecognized arguments", "expected one argument",
                    "invalid int value", "subcommands")


@pytest.mark.parametrize("command", ["", "demo", "load", "refresh", "enrich", "status", "export", "check"])
def test_help_of_every_command_has_no_english_from_argparse(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"] if command else ["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("utilisation : python -m decp_monitor") and "afficher cette aide et quitter" in out
    assert not [english for english in ARGPARSE_ENGLISH if english in out]


@pytest.mark.parametrize(("argv", "french"), [
    (["status"], "erreur : arguments obligatoires manquants : SIRET"),
    (["export", "--format", "ods"], "erreur : argument --format : choix invalide : 'ods' (choix possibles : 'csv'"),
    (["nope"], "erreur : argument COMMANDE : choix invalide : 'nope'"),
    (["demo", "--contracts"], "erreur : argument --contracts : une valeur attendue"),
    (["demo", "--contracts", "beaucoup"], "erreur : argument --contracts : « beaucoup » : nombre entier attendu"),
    (["demo", "en-trop"], "erreur : arguments non reconnus : en-trop"),
])
def test_argument_errors_are_french_with_exit_code_2(argv, french, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("utilisation : python -m decp_monitor") and french in err
    assert not [english for english in ARGPARSE_ENGLISH if english in err]


def test_french_words_do_not_leak_into_other_parsers(capsys):
    import argparse

    with pytest.raises(SystemExit):
        main(["status"])
    other = argparse.ArgumentParser(prog="autre")
    assert other.format_usage().startswith("usage: autre") and "show this help message" in other.format_help()


def test_refresh_progress_makes_one_bar_per_phase(monkeypatch, capsys):
    # The refresh reports twice per file: a bar built per call asked the terminal each time.
    import decp_monitor.cli as cli
    from decp_monitor.core.progress import Progress

    built = []

    class Counted(Progress):
        def __init__(self, label, *args, **kwargs):
            built.append(label)
            super().__init__(label, *args, **kwargs)

    monkeypatch.setattr(cli, "Progress", Counted)
    report = cli._phase_progress()
    for done in range(1, 101):
        report("Téléchargements", done, 100, f"f{done}")
        report("Lecture", done, 100, f"f{done}")
    assert built == ["Téléchargements", "Lecture"]
    err = capsys.readouterr().err
    assert "Téléchargements : 100/100 (terminé en" in err and "Lecture : 100/100" in err
