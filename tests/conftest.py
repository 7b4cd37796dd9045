import fcntl
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real sample files not found at {REAL}")
    return REAL


def _run_shared_dir(tmp_path_factory) -> Path:
    """A folder of this run that every xdist worker sees: the workers' base temp dirs are its
    children. Without xdist, the run's own base temp dir (its parent outlives the run)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory):
    """shared_demo(contracts=…, buyers=…) -> a data directory holding the demo database of that size
    (build_demo's own size when none is given), built once per run: the first worker that asks builds
    it under a lock, the others wait for it and read the same directory. Tests only read it (the
    store's connections are read-only); one that must write copies it first."""
    from decp_monitor.pipeline.demo import build_demo
    from decp_monitor.store.versions import Store

    def _demo(**size: int) -> Path:
        name = "demo-" + "-".join(f"{k}{v}" for k, v in sorted(size.items())) if size else "demo-default"
        root = _run_shared_dir(tmp_path_factory) / "shared-demo"
        root.mkdir(exist_ok=True)
        data_dir, done = root / name, root / f"{name}.done"
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            if not done.exists():
                shutil.rmtree(data_dir, ignore_errors=True)  # left half-built by a worker that failed
                build_demo(Store(data_dir), **size)
                done.touch()
        return data_dir

    return _demo


@pytest.fixture(autouse=True)
def _register_api_on_loopback(monkeypatch):
    """No test may reach the real register APIs: by default they point at a closed loopback port."""
    monkeypatch.setenv("DECP_RECHERCHE_ENTREPRISES_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DECP_API_ENTREPRISE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("DECP_API_ENTREPRISE_TOKEN", raising=False)


# The udata test server's fixtures, for every test module (tests/udata_server.py).
from tests.udata_server import small_udata_server, udata_server  # noqa: E402,F401
