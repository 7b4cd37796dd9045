from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real sample files not found at {REAL}")
    return REAL


@pytest.fixture(autouse=True)
def _register_api_on_loopback(monkeypatch):
    """No test may reach the real register APIs: by default they point at a closed loopback port."""
    monkeypatch.setenv("DECP_RECHERCHE_ENTREPRISES_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DECP_API_ENTREPRISE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("DECP_API_ENTREPRISE_TOKEN", raising=False)


# The udata test server's fixtures, for every test module (tests/udata_server.py).
from tests.udata_server import small_udata_server, udata_server  # noqa: E402,F401
