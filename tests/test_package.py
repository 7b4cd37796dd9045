"""The package has no optional parts: every module imports, and a missing one fails loudly."""
import importlib
import pkgutil
import subprocess
import sys

import decp_monitor


def test_every_module_of_the_package_imports():
    names = [m.name for m in pkgutil.walk_packages(decp_monitor.__path__, "decp_monitor.")
             if ".dashboard.pages." not in m.name and m.name != "decp_monitor.__main__"]
    assert "decp_monitor.compliance" in names and "decp_monitor.pipeline" in names
    for name in names:
        importlib.import_module(name)


BLOCKED_COMPLIANCE = """
import sys
sys.modules["decp_monitor.compliance"] = None  # as if the engine's package were missing
from decp_monitor.cli import main
sys.exit(main(["--data-dir", sys.argv[1], "demo", "--contracts", "60", "--buyers", "8"]))
"""


def test_without_the_compliance_engine_nothing_is_published(tmp_path):
    done = subprocess.run([sys.executable, "-c", BLOCKED_COMPLIANCE, str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "decp_monitor.compliance" in done.stderr
    assert "Base publiée" not in done.stdout
    assert not (tmp_path / "data" / "CURRENT").exists()


def test_without_the_compliance_engine_the_dashboard_does_not_start(tmp_path):
    blocked = ("import sys; sys.modules['decp_monitor.compliance'] = None; "
               "import decp_monitor.dashboard.app")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ImportError" in done.stderr or "ModuleNotFoundError" in done.stderr
