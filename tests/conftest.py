from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real sample files not found at {REAL}")
    return REAL


# The udata test server's fixtures, for every test module (tests/udata_server.py).
from tests.udata_server import small_udata_server, udata_server  # noqa: E402,F401
