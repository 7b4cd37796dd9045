"""Crash leftovers, damaged versions, grace periods and the build lock (issue 14, items 1, 2, 3, 10)."""
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from decp_monitor import cli
from decp_monitor.pipeline import build_version
from decp_monitor.store.versions import GRACE_SECONDS, STALE_POINTER_SECONDS, BuildLockTimeout, Store
from tests.test_store import count, publish, record

HOUR = 3600


def age(path, seconds):
    """Set a file's mtime `seconds` in the past (what a long wait would do, without the wait)."""
    when = time.time() - seconds
    os.utime(path, (when, when))


def versions(store):
    return sorted(store.versions_dir.glob("decp-*.duckdb"))


# -- item 1: leftovers ------------------------------------------------------------------------------


def test_prune_removes_orphan_wals_and_stale_pointers_and_keeps_the_rest(tmp_path):
    store = Store(tmp_path)
    for _ in range(4):
        publish(store, record(0))
    current = store.current().path
    for file in versions(store):
        age(file, 2 * GRACE_SECONDS)
    oldest, newest_other = versions(store)[0], versions(store)[-2]
    # What kill -9 leaves: the WAL of a build whose file is gone, the WAL of a kept (never
    # published) file, temporary pointers of a swap cut short.
    orphan_wal = store.versions_dir / "decp-20200101T000000000000-dead00.duckdb.wal"
    kept_wal = newest_other.with_suffix(".duckdb.wal")
    current_wal = current.with_suffix(".duckdb.wal")
    old_wal = oldest.with_suffix(".duckdb.wal")
    stale_tmp = store.root / ".CURRENT.20200101T000000000000-dead00.tmp"
    fresh_tmp = store.root / ".CURRENT.20991231T000000000000-live00.tmp"
    for leftover in (orphan_wal, kept_wal, current_wal, old_wal, stale_tmp, fresh_tmp):
        leftover.write_bytes(b"x" * 1000)
    for leftover in (orphan_wal, kept_wal, current_wal, stale_tmp):
        age(leftover, 2 * STALE_POINTER_SECONDS)
    age(old_wal, 1)  # young, but its version goes: it goes too

    removed = set(store.prune())

    assert {orphan_wal, kept_wal, old_wal, stale_tmp, oldest} <= removed
    assert current_wal.exists(), "the served version's files are never touched"
    assert fresh_tmp.exists(), "a pointer being written (young) is left alone"
    assert newest_other.exists() and current.exists()
    assert store.current().path == current and count(store, "records") == 1


def test_leftovers_stay_bounded_over_many_crashes(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    for crash in range(6):
        # A killed build: its file and WAL, a half-swapped pointer; all from long ago.
        stem = f"decp-2020010{crash}T000000000000-dead0{crash}"
        for name in (f"versions/{stem}.duckdb", f"versions/{stem}.duckdb.wal", f".CURRENT.{stem[5:]}.tmp"):
            (tmp_path / name).write_bytes(b"x" * 100)
            age(tmp_path / name, 2 * GRACE_SECONDS)
    publish(store, record(0))  # publishing prunes
    leftovers = [p for p in tmp_path.rglob("*") if "dead" in p.name]
    assert leftovers == []


# -- item 3: grace period from the swap -------------------------------------------------------------


def test_grace_period_counts_from_when_a_version_stopped_being_current(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    first = store.current().path
    age(first, HOUR)  # built an hour ago, current until now
    reader = duckdb.connect(str(first), read_only=True)  # a page drawn just before the publish
    try:
        publish(store, record(0), record(1, contract_id="C2"))
        second = store.current().path
        age(second, HOUR)
        publish(store, record(0))  # `first` is now the third newest: only its grace keeps it
        assert first.exists(), "replaced one publish ago: still in its grace period"
        assert reader.execute("SELECT count(*) FROM records").fetchone()[0] == 1
        fresh = duckdb.connect(str(first), read_only=True)  # a download button opening it anew
        assert fresh.execute("SELECT count(*) FROM contracts").fetchone()[0] == 1
        fresh.close()
    finally:
        reader.close()
    # Once its grace period (from the swap) is over, it goes.
    store.prune(now=time.time() + GRACE_SECONDS + 1)
    assert not first.exists()
    assert store.current() is not None and second.exists()


# -- item 2: damaged previous version ---------------------------------------------------------------


def _truncate(path):
    os.truncate(path, 5000)


def _garbage(path):
    path.write_bytes(os.urandom(64 * 1024))


def _garbage_blocks(path):
    """Headers intact (the file attaches), every block after them garbage."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(3 * 4096)
        fh.write(os.urandom(size - 3 * 4096))


def _garbage_wal(path):
    path.with_suffix(".duckdb.wal").write_bytes(os.urandom(5000))


@pytest.mark.parametrize("damage", [_truncate, _garbage, _garbage_blocks, _garbage_wal])
def test_a_damaged_previous_version_does_not_block_the_next_build(tmp_path, damage, capsys):
    store = Store(tmp_path)
    publish(store, *[record(i, contract_id=f"C{i}", source_file="old.json") for i in range(2000)], command="first")
    with pytest.raises(RuntimeError):
        with build_version(store, "failed"):
            raise RuntimeError("boom")
    damaged = store.current().path
    damage(damaged)

    with build_version(store, "load", carry_over=True) as build:
        build.add(record(0, contract_id="NEW", source_file="new.json"))

    assert store.current().path != damaged
    con = store.connect()
    try:
        if damage is _garbage_wal:
            # DuckDB may or may not read past a garbage WAL: either way the build published
            pass
        else:
            assert con.execute("SELECT list(contract_id) FROM contracts").fetchone()[0] == ["NEW"]
        history = dict(con.execute("SELECT command, outcome FROM refreshes").fetchall())
        message = con.execute("SELECT message FROM refreshes WHERE command = 'load'").fetchone()[0]
    finally:
        con.close()
    # The history survives through the log even when the file does not.
    assert history == {"first": "published", "failed": "failed", "load": "published"}
    if damage is not _garbage_wal:
        assert "Version précédente illisible" in message and damaged.name in message
        assert "Version précédente illisible" in capsys.readouterr().err
        assert "illisible" in store.read_refresh_log()[-1]["message"]


@pytest.fixture
def damaged_dir(tmp_path):
    data = tmp_path / "data"
    files = tmp_path / "files"
    files.mkdir()
    (files / "a.json").write_text(json.dumps({"marches": [{
        "id": "2024-1", "acheteur": {"id": "21440036800012"}, "dateNotification": "2024-01-15",
        "datePublicationDonnees": "2024-02-01", "nature": "Marché", "objet": "x", "montant": 1000,
    }]}), encoding="utf-8")
    assert cli.main(["--data-dir", str(data), "load", str(files)]) == 0
    store = Store(data)
    _truncate(store.current().path)
    return data, files


@pytest.mark.parametrize("args", [["load", "{files}"], ["load", "--replace", "{files}"],
                                  ["demo", "--contracts", "200", "--buyers", "20"]])
def test_commands_work_after_the_current_file_is_truncated(damaged_dir, args, capsys):
    data, files = damaged_dir
    damaged = Store(data).current().path
    code = cli.main(["--data-dir", str(data), *[a.format(files=files) for a in args]])
    assert code == 0, capsys.readouterr().err
    store = Store(data)
    assert store.current().path != damaged and count(store, "contracts") >= 1
    assert "illisible" in capsys.readouterr().err


def test_refresh_works_after_the_current_file_is_garbage(small_udata_server, tmp_path, capsys):
    from tests.test_refresh import PES

    store = Store(tmp_path)
    publish(store, record(0))
    _garbage(store.current().path)
    code = cli.main(["--data-dir", str(tmp_path), "refresh", "--api-base", small_udata_server.api_base,
                     "--dataset-id", PES, "--tag", "decp", "--max-file-mb", "5"])
    assert code == 0
    assert count(store, "datasets") == 3
    assert "illisible" in capsys.readouterr().err


# -- item 10: the build lock ------------------------------------------------------------------------

# Children import this checkout (not another installed copy of the package).
ROOT = Path(__file__).resolve().parents[1]
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

HOLDER = textwrap.dedent("""
    import sys, time
    from decp_monitor.store.versions import Store
    with Store(sys.argv[1]).exclusive("load mes-fichiers/"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def _hold_lock(data, seconds):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data), str(seconds)],
                              stdout=subprocess.PIPE, text=True, env=CHILD_ENV)
    assert holder.stdout.readline().strip() == "held"
    return holder


def _load(data, files, timeout):
    env = {**CHILD_ENV, "DECP_BUILD_LOCK_TIMEOUT": str(timeout)}
    return subprocess.run([sys.executable, "-m", "decp_monitor", "--data-dir", str(data), "load", str(files)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_concurrent_build_gives_up_after_the_lock_timeout_saying_what_it_waited_for(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "a.json").write_text('{"marches": []}', encoding="utf-8")
    holder = _hold_lock(tmp_path / "data", 60)
    try:
        started = time.monotonic()
        done = _load(tmp_path / "data", files, 1.5)
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == BuildLockTimeout.exit_code == 75
    assert "En attente" in done.stderr and "load mes-fichiers/" in done.stderr
    assert f"processus {holder.pid}" in done.stderr
    assert "Construction abandonnée" in done.stderr and "DECP_BUILD_LOCK_TIMEOUT" in done.stderr
    assert elapsed < 30
    assert Store(tmp_path / "data").current() is None


def test_a_concurrent_build_waits_for_the_lock_then_publishes(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "a.json").write_text('{"marches": []}', encoding="utf-8")
    holder = _hold_lock(tmp_path / "data", 60)
    env = {**CHILD_ENV, "DECP_BUILD_LOCK_TIMEOUT": "60"}
    loader = subprocess.Popen([sys.executable, "-m", "decp_monitor", "--data-dir", str(tmp_path / "data"), "load",
                               str(files)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # The holder lets go once the load says it waits (a fixed delay raced the load's start-up).
        waiting = loader.stderr.readline()
        holder.kill()
        holder.wait()
        out, err = loader.communicate(timeout=120)
    finally:
        holder.kill()
        loader.kill()
    assert loader.returncode == 0, waiting + err
    assert "En attente" in waiting and "load mes-fichiers/" in waiting
    assert Store(tmp_path / "data").current() is not None


def test_invalid_lock_timeout_is_a_french_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DECP_BUILD_LOCK_TIMEOUT", "bientôt")
    with pytest.raises(Exception, match="nombre de secondes attendu"):
        publish(Store(tmp_path), record(0))


def test_the_lock_is_released_and_cleared_after_a_build(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    assert (tmp_path / ".build.lock").read_text() == ""
    with store.exclusive("second", timeout=0):  # free at once
        assert json.loads((tmp_path / ".build.lock").read_text())["command"] == "second"


@pytest.mark.parametrize("pointer", ['{"files": 1}', "[1, 2]", '{"file": "../../etc/passwd"}', '{"file": 3}', "{"])
def test_a_damaged_pointer_points_nowhere_and_the_next_build_publishes(tmp_path, pointer):
    store = Store(tmp_path)
    publish(store, record(0))
    store.pointer.write_text(pointer, encoding="utf-8")
    assert store.current() is None and store.meta() == {}
    publish(store, record(0), record(1, contract_id="C2"))
    assert count(store, "contracts") == 2
