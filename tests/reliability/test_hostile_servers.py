"""Reliability: refreshes against a hostile udata server (tests/udata_server.py faults), each run
in a measured child process: gzip bombs (API page and resource), answers dripping a byte at a
time (API and resource), catalogue URLs and redirects to an internal host (127.0.0.2).

Every trial: the child's peak RSS under 1 GB, its time bounded, the failure recorded as a French
finding, the rest of the refresh done, or, when the API itself is hostile, the previous version
still serving.
"""
from __future__ import annotations

import json

import pytest

from decp_monitor.pipeline.refresh import run_refresh
from decp_monitor.sources.http import HttpSettings
from decp_monitor.store.versions import Store
from tests.reliability.measured import RSS_LIMIT_MB, run_measured
from tests.udata_server import gzip_bomb, start_plain_server

pytestmark = pytest.mark.slow

PES = "5bd0b6fd8b4c413d0801dc57"
MEGALIS = "5f4f4f8910f4b55843deae51"
GIB = 1 << 30
# Short deadlines keep the trials short; the read timeout is longer than the gap between two
# dripped bytes, so only the total deadline can end a dripping answer.
SETTINGS = dict(backoff_base=0.001, backoff_max=0.01, retry_after_cap=0.05, connect_timeout=1.0,
                read_timeout=2.0, retries=1, api_deadline=3.0, download_deadline=3.0)
DRIP_DELAY = 0.3


def refresh_child(name, server, data_dir, timeout, **settings):
    options = {"settings": dict(SETTINGS, **settings), "dataset_ids": [PES]}
    run = run_measured(name, [server.api_base, str(data_dir), json.dumps(options)],
                       timeout=timeout, module="tests.reliability.refresh_child")
    return run


def query(data_dir, sql, params=None):
    con = Store(data_dir).connect()
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def test_hostile_resources_are_findings_and_the_refresh_publishes(small_udata_server, tmp_path):
    server = small_udata_server
    internal, stop = start_plain_server("127.0.0.2")
    try:
        bomb, drip, direct, redirected, chained = server.by_id(MEGALIS)["resources"][:5]
        bomb["filesize"] = 1_000_000  # the catalogue says 1 MB; it decompresses to 1 GiB
        gzip_bomb(GIB)
        server.fault(server.file_path(bomb["id"]), "gzip_bomb", size=GIB)
        server.fault(server.file_path(drip["id"]), "drip", delay=DRIP_DELAY)
        direct["url"] = internal.base_url + "/latest/meta-data/iam/security-credentials/"
        server.fault(server.file_path(redirected["id"]), "redirect", location=internal.base_url + "/admin/token")
        # an allowed first hop, then a second redirect to the internal host
        server.fault(server.file_path(chained["id"]), "redirect", location=server.base_url + "/files/hop")
        server.fault("/files/hop", "redirect", location=internal.base_url + "/hop2")
        # 10 s: decompressing and writing the bomb's first 65 MB must fit in it on a loaded machine.
        run = refresh_child("servers-resources", server, tmp_path, timeout=120, download_deadline=10.0)
    finally:
        stop()
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert run.peak_mb < RSS_LIMIT_MB and run.seconds < 90, (run.peak_mb, run.seconds)
    assert internal.paths == []  # the internal host was never contacted, on any hop
    findings = dict(query(tmp_path, "SELECT resource_id, code || ' ' || message FROM findings "
                                    "WHERE code IN ('download_failed', 'file_too_large')"))
    assert findings[bomb["id"]].startswith("file_too_large") and "selon le catalogue" in findings[bomb["id"]]
    assert "délai total de 10 s dépassé" in findings[drip["id"]]
    for resource in (direct, redirected, chained):
        assert "adresse refusée" in findings[resource["id"]] and "127.0.0.2" in findings[resource["id"]]
    hostile = {r["id"] for r in (bomb, drip, direct, redirected, chained)}
    cache = Store(tmp_path).cache_dir
    assert not [p.name for p in cache.iterdir() if any(rid in p.name for rid in hostile)]
    assert not any(internal.secret in p.read_bytes() for p in cache.iterdir() if p.is_file())
    assert query(tmp_path, "SELECT count(*) FROM findings WHERE message LIKE '%INTERNAL-TOKEN%' "
                           "OR value LIKE '%INTERNAL-TOKEN%'") == [(0,)]
    loaded = {r for (r,) in query(tmp_path, "SELECT DISTINCT resource_id FROM records")}
    others = {r["id"] for r in server.by_id(MEGALIS)["resources"][5:]}
    assert others <= loaded  # the other files of the dataset are read


def test_gzip_bomb_api_page_stops_at_the_cap(small_udata_server, tmp_path):
    gzip_bomb(GIB)
    small_udata_server.fault("/api/1/datasets/", "gzip_bomb", size=GIB)  # every tag search
    run = refresh_child("servers-api-bomb", small_udata_server, tmp_path, timeout=120, api_deadline=10.0)
    assert run.peak_mb < RSS_LIMIT_MB and run.seconds < 60, (run.peak_mb, run.seconds)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]  # the dataset asked by id is still read
    messages = [m for (m,) in query(tmp_path, "SELECT message FROM findings WHERE code = 'api_error'")]
    assert messages and all("trop volumineuse" in m for m in messages)


def test_dripping_api_keeps_the_previous_version_serving(small_udata_server, tmp_path):
    store = Store(tmp_path)
    run_refresh(store, api_base=small_udata_server.api_base, dataset_ids=[PES],
                settings=HttpSettings(**dict(SETTINGS, allowed_hosts=("127.0.0.1",))))
    before = store.current()
    small_udata_server.fault("/api/*", "drip", delay=DRIP_DELAY)
    run = refresh_child("servers-api-drip", small_udata_server, tmp_path, timeout=120)
    assert run.returncode == 3 and "version précédente" in run.stdout, run.stdout + run.stderr[-3000:]
    assert "délai total de 3 s dépassé" in run.stdout
    assert run.peak_mb < RSS_LIMIT_MB and run.seconds < 60, (run.peak_mb, run.seconds)
    assert store.current() == before
    assert [e["outcome"] for e in store.read_refresh_log()] == ["published", "failed"]
