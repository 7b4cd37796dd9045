"""Shared pieces of the reliability suite: a generated corpus, child processes of this checkout,
and the figures each test reports (written to test-artifacts/reliability/, quoted in
docs/RELIABILITY.md)."""
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "reliability"
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
PYTHON = sys.executable
SIRET = "21440036800012"
FILES, RECORDS_PER_FILE = 4, 1500


def report(name: str, figures: dict) -> None:
    """Keep a test's measured figures (and print them: `pytest -s` shows them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\n{name}: {json.dumps(figures, ensure_ascii=False)}")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A few DECP JSON files, 6 000 contracts: a build of a few seconds, long enough to kill."""
    out = tmp_path_factory.mktemp("corpus")
    for f in range(FILES):
        records = [{
            "id": f"2024-{f}-{i}", "acheteur": {"id": SIRET}, "nature": "Marché", "objet": f"objet {i}",
            "dateNotification": f"2024-{1 + i % 12:02d}-15", "datePublicationDonnees": f"2024-{1 + i % 12:02d}-28",
            "montant": 1000 + i,
        } for i in range(RECORDS_PER_FILE)]
        (out / f"f{f}.json").write_text(json.dumps({"marches": records}), encoding="utf-8")
    return out
