"""The « Vérifier un fichier » page, headless: upload, summary, located errors, fixes, downloads."""
from __future__ import annotations

from decp_monitor.dashboard.navigation import page_path
from tests.check.fixtures import AS_OF, CLEAN_NAME, DEFECTIVE_NAME, clean_bytes, defective_bytes


def open_check(at):
    at.run()
    at.switch_page(page_path("check"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload_and_check(at, *files):
    at.file_uploader(key="check_files").set_value(list(files))
    at.date_input(key="check_as_of").set_value(AS_OF)
    at.run()
    next(b for b in at.button if b.label == "Vérifier").click()
    at.run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_states_its_limits(app):
    at = open_check(app)
    assert "5 fichiers au plus, 60 Mo chacun" in "\n".join(c.value for c in at.caption)
    assert "supprimé aussitôt" in "\n".join(c.value for c in at.caption)


def test_a_file_with_known_defects_shows_summary_located_errors_and_fixes(app, test_db):
    before = sorted(p.name for p in test_db.rglob("*"))
    at = upload_and_check(open_check(app), (DEFECTIVE_NAME, defective_bytes(), "application/json"))
    summary = "\n".join(e.value for e in at.error).replace("\\", "")  # markdown escapes
    assert "À corriger d'abord" in summary
    assert "Champ obligatoire absent : dateNotification" in summary and "Renseigner « dateNotification »" in summary
    labels = [e.label for e in at.expander]
    assert any("Type incorrect pour montant" in label and "(1)" in label for label in labels)
    assert any("Contrats publiés après l'échéance légale" in label for label in labels)
    montant = next(e for e in at.expander if "Type incorrect pour montant" in e.label)
    assert "**Correction** : Écrire la valeur avec le bon type" in montant.markdown[0].value.replace("\\", "")
    located = montant.markdown[1].value.replace("\\", "")
    assert located == (f"- `{DEFECTIVE_NAME}` : enregistrement 1, id « 2025-DEF-01 », "
                       "champ marches.marche[0].montant, valeur « 30000.00 »")
    assert {b.label for b in at.get("download_button")} == {
        "Problèmes (CSV Excel français)", "Contrats (CSV Excel français)", "Rapport complet (JSON)"}
    # nothing uploaded went into the data directory
    assert sorted(p.name for p in test_db.rglob("*")) == before


def test_a_clean_file_is_ready_to_publish(app):
    at = upload_and_check(open_check(app), (CLEAN_NAME, clean_bytes(), "application/json"))
    assert any("Prêt à publier" in s.value for s in at.success)
    assert not at.error
    assert "Publié dans les délais : **2**" in "\n".join(m.value for m in at.markdown)


def test_too_many_files_are_refused(app):
    at = open_check(app)
    files = [(f"f{i}.json", clean_bytes(), "application/json") for i in range(6)]
    at = upload_and_check(at, *files)
    assert any("5 au plus" in e.value for e in at.error)
    assert "check_report" not in at.session_state
