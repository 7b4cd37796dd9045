"""`python -m decp_monitor status SIRET [--json] [--as-of DATE]`: exit codes and output."""
import json

from decp_monitor.api import buyer_status
from decp_monitor.cli import main

from .conftest import BUYER, OTHER, declaration, marche


def status(capsys, root, *args):
    code = main(["--data-dir", str(root), "status", *args])
    return code, capsys.readouterr().out


def _data(build):
    return build([marche("A", "2025-01-10", "2025-01-20", buyer_name="Ville de Châteaubriant"),
                  marche("B", "2025-01-10", "2025-04-20")],
                 declarations=[declaration(BUYER), declaration(OTHER, line=3)])


def test_known_buyer_prints_verdict_reasons_and_counts_in_french(build, capsys):
    db = _data(build)
    code = main(["--data-dir", str(db.store.root), "status", BUYER])
    out = capsys.readouterr().out
    assert code == 0
    assert f"Acheteur {BUYER} — Ville de Châteaubriant" in out
    assert "Verdict : Publications en retard" in out
    assert "pour 1 contrat sur 2 (taux de retard : 50,0 %)" in out
    assert "Évaluation au 30/06/2025 : contrats notifiés du 01/07/2024 au 30/06/2025 (12 mois)" in out
    assert "Publié en retard : 1" in out


def test_json_output_carries_the_buyer_row_and_parameters(build, capsys):
    db = _data(build)
    code, out = status(capsys, db.store.root, BUYER, "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["found"] is True
    assert payload["buyer"]["verdict"] == "late"
    assert payload["buyer"]["n_late"] == 1
    assert payload["buyer"]["last_publication_date"] == "2025-04-20"
    assert payload["parameters"]["as_of"] == "2025-06-30"


def test_as_of_recomputes_the_verdict_without_touching_the_published_version(build, capsys):
    db = _data(build)
    code, out = status(capsys, db.store.root, BUYER, "--as-of", "2026-06-30", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["parameters"]["as_of"] == "2026-06-30"
    assert payload["buyer"]["verdict"] == "stale"
    assert db.buyer()["verdict"] == "late"      # the published version is unchanged


def test_declared_silent_buyer_is_found(build, capsys):
    db = _data(build)
    code, out = status(capsys, db.store.root, OTHER)
    assert code == 0
    assert "Déclaré mais jamais publié" in out


def test_unknown_siret_exits_1(build, capsys):
    db = _data(build)
    code, out = status(capsys, db.store.root, "21974015600019")
    assert code == 1
    assert "inconnu" in out


def test_invalid_siret_exits_2(build, capsys):
    db = _data(build)
    assert main(["--data-dir", str(db.store.root), "status", "12345"]) == 2
    assert "SIRET invalide" in capsys.readouterr().out
    code, out = status(capsys, db.store.root, "21440036800013", "--json")
    assert code == 2
    assert json.loads(out)["valid"] is False


def test_the_python_api_gives_the_same_verdict_and_ignores_spaces(build):
    db = _data(build)
    report = buyer_status(db.store, "214 400 368 00012")
    assert report.exit_code == 0 and report.valid and report.found
    assert report.buyer["verdict"] == "late" and report.parameters["as_of"] == "2025-06-30"


def test_nothing_published_exits_1(tmp_path, capsys):
    code, out = status(capsys, tmp_path, BUYER)
    assert code == 1
    assert "Aucune base publiée" in out
