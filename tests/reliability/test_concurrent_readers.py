"""Readers in other processes across many publishes of versions built long ago (issue 14, item 3
under load): a page drawn just before a publish can still open its version for its download
buttons, for the whole grace period."""
import json
import os
import subprocess
import textwrap
import time

import duckdb
import pytest

from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import Store
from tests.reliability.conftest import CHILD_ENV, PYTHON, report
from tests.test_store import record

pytestmark = pytest.mark.slow

HOUR = 3600
PUBLISHES = 12
READERS = 2

# A dashboard session: read the pointer, draw a page from the version it names, then (a moment
# later) open that same version again by its path, as a download button does.
READER = textwrap.dedent("""
    import json, random, sys, time
    from pathlib import Path
    import duckdb
    from decp_monitor.store.versions import Store
    store, stop, rng = Store(sys.argv[1]), Path(sys.argv[2]), random.Random(int(sys.argv[3]))
    reads = errors = 0
    first_error = ""
    held = []
    while not stop.exists():
        version = store.current()
        con = duckdb.connect(str(version.path), read_only=True)
        con.execute("SELECT count(*) FROM contracts").fetchone()
        con.close()
        held.append(version.path)
        time.sleep(rng.uniform(0, 0.4))
        for path in (version.path, held[0]):  # just now, and the first page of this session
            try:
                con = duckdb.connect(str(path), read_only=True)
                con.execute("SELECT count(*) FROM contract_compliance").fetchone()
                con.close()
                reads += 1
            except Exception as exc:
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
    print(json.dumps({"reads": reads, "errors": errors, "first_error": first_error}))
""")


def test_readers_across_publishes_of_aged_versions(tmp_path):
    store = Store(tmp_path)
    with build_version(store, "test") as build:
        build.add(record(0))
    stop = tmp_path / "stop"
    readers = [subprocess.Popen([PYTHON, "-c", READER, str(tmp_path), str(stop), str(seed)],
                                stdout=subprocess.PIPE, text=True, env=CHILD_ENV) for seed in range(READERS)]
    started = time.monotonic()
    try:
        time.sleep(1.5)  # the readers are reading
        for n in range(PUBLISHES):
            # The version about to be replaced was built an hour ago: its grace period must start at
            # the swap, not at its build.
            aged = time.time() - HOUR
            os.utime(store.current().path, (aged, aged))
            with build_version(store, "test") as build:
                for i in range(n + 2):
                    build.add(record(i, contract_id=f"C{i}"))
            time.sleep(0.2)
    finally:
        stop.touch()
        results = [json.loads(reader.communicate(timeout=60)[0]) for reader in readers]
    reads = sum(r["reads"] for r in results)
    errors = sum(r["errors"] for r in results)
    assert reads > 20 * READERS
    assert errors == 0, results
    # Every version of the run is still on disk (all replaced less than the grace period ago), and
    # each opens.
    names = sorted(store.versions_dir.glob("decp-*.duckdb"))
    assert len(names) == PUBLISHES + 1
    for path in names:
        duckdb.connect(str(path), read_only=True).close()
    report("concurrent_readers", {"reader_processes": READERS, "publishes": PUBLISHES, "reads": reads,
                                  "errors": errors, "seconds": round(time.monotonic() - started, 1)})
