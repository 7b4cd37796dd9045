"""`enrich` and the refresh's register step against the loopback server replaying recorded answers."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

from decp_monitor import cli
from decp_monitor.register.cache import RegisterCache, cache_path
from decp_monitor.register.enrich import EnrichSettings, RateLimiter, enrich
from decp_monitor.sources.http import HttpSettings
from tests.register.conftest import INVALID, KNOWN, UNKNOWN

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = HttpSettings(read_timeout=5.0, retries=2, backoff_base=0.01, backoff_max=0.05, retry_after_cap=1.5,
                    error_budget=10)


def run_enrich(store, server, *extra) -> int:
    return cli.main(["--data-dir", str(store.root), "enrich", "--api-url", server.base, "--debit", "50", *extra])


def buyers(store) -> dict:
    con = store.connect()
    try:
        cur = con.execute("SELECT * FROM buyer_compliance")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}
    finally:
        con.close()


def test_enrich_names_kinds_states_and_departements(register_store, register_server, capsys):
    before = buyers(register_store)
    assert before["21750001600019"]["buyer_name"] is None  # 2024 format: no name in the data
    assert run_enrich(register_store, register_server) == 0
    rows = buyers(register_store)
    paris, dinum, ca, dept = (rows[s] for s in ("21750001600019", "13002526500013", "20003067400010", "22630001000015"))
    assert (paris["buyer_name"], paris["buyer_kind"], paris["departement"], paris["region_name"]) == (
        "VILLE DE PARIS", "collectivite", "75", "Île-de-France")
    assert paris["buyer_name_source"] == "recherche-entreprises"
    assert (dinum["buyer_kind"], dinum["categorie_juridique"]) == ("etat", "7120")
    assert (ca["buyer_kind"], ca["departement"]) == ("epci", "47")
    assert (dept["buyer_kind"], dept["departement_name"]) == ("departement", "Puy-de-Dôme")
    reunion = rows["35155639400010"]
    assert reunion["departement"] == "974" and reunion["is_closed"] and reunion["closed_on"].isoformat() == "2009-01-05"
    # its contract of 2026 was published on time: still judged, and said to be closed
    assert reunion["verdict"] == "compliant" and reunion["reasons"][0].startswith("Établissement fermé le 05/01/2009")
    hidden = rows["30002576400048"]
    assert hidden["buyer_name"] is None and hidden["departement"] == "35"
    assert rows[UNKNOWN]["buyer_kind"] == "inconnu"
    # the invalid SIRET is never asked, and is linked to the one valid SIRET of its SIREN
    asked = register_server.asked()
    assert INVALID not in asked and sorted(asked) == sorted([*KNOWN, UNKNOWN])
    assert rows[INVALID]["probable_siret"] == "21750001600019"
    assert any("SIRET probablement voulu : 21750001600019 (VILLE DE PARIS)" in r for r in rows[INVALID]["reasons"])
    assert all(int(e.query["per_page"][0]) <= 25 for e in register_server.log)
    out = capsys.readouterr().out
    assert "9 SIRET à interroger" in out and "Base publiée" in out


def test_enrich_is_incremental(register_store, register_server, capsys):
    assert run_enrich(register_store, register_server) == 0
    first = len(register_server.log)
    assert run_enrich(register_store, register_server) == 0
    assert len(register_server.log) == first  # everything is fresh: nothing asked again
    assert "la base publiée est inchangée" in capsys.readouterr().out
    assert run_enrich(register_store, register_server, "--age-max", "0") == 0
    assert len(register_server.log) == 2 * first  # an age of 0 days asks again


def test_rate_limit_spaces_requests():
    clock = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(7.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(8):
        limiter.wait()
    assert clock[0] == pytest.approx(1.0) and len(waits) == 7


def test_requests_on_the_wire_stay_under_seven_per_second(tmp_path, register_server):
    with RegisterCache(tmp_path / "facts.sqlite") as cache:
        enrich(cache, list(KNOWN), EnrichSettings(recherche_base=register_server.base, http=FAST))
    stamps = [e.at for e in register_server.log]
    assert len(stamps) == len(KNOWN)
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) <= 7.5


def test_429_storm_honours_retry_after_and_gets_everything(tmp_path, register_server):
    register_server.storm(2, retry_after="1")  # FAST tries each SIRET three times
    started = time.monotonic()
    with RegisterCache(tmp_path / "facts.sqlite") as cache:
        summary = enrich(cache, list(KNOWN), EnrichSettings(recherche_base=register_server.base, http=FAST))
        assert {f.siret for f in cache.facts() if f.found} == set(KNOWN)
    assert summary.found == len(KNOWN) and not summary.stopped
    assert [e.status for e in register_server.log[:3]] == [429, 429, 200]
    assert time.monotonic() - started >= 1.9  # Retry-After: 1 s, twice, honoured


def test_outage_stops_early_and_keeps_previous_facts(register_store, register_server, capsys, monkeypatch):
    assert run_enrich(register_store, register_server) == 0
    register_server.outage()
    # The command's own HTTP settings (its retries, error budget, timeouts) with a backoff of tens of
    # milliseconds instead of seconds: the same requests and the same early stop, without ~15 s of waiting.
    from_environment = EnrichSettings.from_environment.__func__

    def short_backoff(cls, **overrides):
        settings = from_environment(cls, **overrides)
        http = dataclasses.replace(settings.http_settings(), backoff_base=0.01, backoff_max=0.05)
        return dataclasses.replace(settings, http=http)

    monkeypatch.setattr(EnrichSettings, "from_environment", classmethod(short_backoff))
    asked_before = len(register_server.log)
    env_settings = ["--age-max", "0"]
    assert run_enrich(register_store, register_server, *env_settings) == 0
    out = capsys.readouterr().out
    assert "Arrêt anticipé : API Recherche d'entreprises indisponible" in out
    # three SIRETs in a row failed (each with its retries), then it stopped asking
    assert len(register_server.log) - asked_before <= 3 * 5
    assert buyers(register_store)["21750001600019"]["buyer_name"] == "VILLE DE PARIS"


def test_refresh_with_429_storm_or_outage_publishes_with_previous_facts(register_store, register_server,
                                                                         small_udata_server):
    from decp_monitor.pipeline.refresh import run_refresh

    assert run_enrich(register_store, register_server) == 0
    settings = EnrichSettings(recherche_base=register_server.base, http=FAST, rate=50, max_age_days=0)
    for fault in ("storm", "outage"):
        if fault == "storm":
            register_server.storm(10_000, retry_after="0")
        else:
            register_server.storm(0)
            register_server.outage()
        summary = run_refresh(register_store, api_base=small_udata_server.api_base, tags=("decp",),
                              register=True, register_settings=settings)
        assert summary.version and "Arrêt anticipé" in summary.register
        con = register_store.connect()
        try:
            kept = dict(con.execute("SELECT siret, name FROM register WHERE found").fetchall())
        finally:
            con.close()
        assert kept["21750001600019"] == "VILLE DE PARIS" and kept["13002526500013"].startswith("DIRECTION")


def test_killed_enrich_resumes_without_asking_again(register_store, register_server):
    register_server.delay = 0.4  # slow answers: the kill lands mid-run
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen(
        [sys.executable, "-m", "decp_monitor", "--data-dir", str(register_store.root), "enrich",
         "--api-url", register_server.base, "--debit", "50"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(register_server.log) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    asked_first = register_server.asked()
    assert 4 <= len(asked_first) < len(KNOWN) + 1
    with RegisterCache(cache_path(register_store.root)) as cache:
        answered = {f.siret for f in cache.facts()}
    assert answered and answered <= set(asked_first)

    register_server.delay = 0.0
    register_server.log.clear()
    assert run_enrich(register_store, register_server) == 0
    asked_again = set(register_server.asked())
    assert not asked_again & answered  # what the killed run had stored is not asked again
    assert answered | asked_again == {*KNOWN, UNKNOWN}
    assert buyers(register_store)["21750001600019"]["buyer_name"] == "VILLE DE PARIS"


def test_api_entreprise_completes_what_the_open_api_does_not_know(tmp_path, register_server):
    st_denis = "21930066200018"  # unknown to the replayed open API, recorded in API Entreprise
    settings = EnrichSettings(recherche_base=register_server.base, http=FAST, api_entreprise_base=register_server.base,
                              api_entreprise_token="jwt", api_entreprise_recipient="13002526500013")
    with RegisterCache(tmp_path / "facts.sqlite") as cache:
        summary = enrich(cache, [st_denis], settings)
        facts = {f.source: f for f in cache.facts([st_denis])}
    assert summary.api_entreprise == 1
    assert not facts["recherche-entreprises"].found
    fact = facts["api-entreprise"]
    assert (fact.name, fact.state, fact.closed_on.isoformat(), fact.departement) == ("COMMUNE DE ST DENIS", "F", "2025-01-01", "93")
    request = [e for e in register_server.log if e.path.startswith("/v3/")][0]
    assert request.status == 200 and {"recipient", "context", "object"} <= set(request.query)


def test_api_entreprise_needs_a_recipient(tmp_path, register_server):
    settings = EnrichSettings(recherche_base=register_server.base, http=FAST, api_entreprise_base=register_server.base,
                              api_entreprise_token="jwt", api_entreprise_recipient=None)
    with RegisterCache(tmp_path / "facts.sqlite") as cache:
        summary = enrich(cache, ["21930066200018"], settings)
    assert summary.api_entreprise == 0 and "recipient" in summary.problems[0]
    assert not [e for e in register_server.log if e.path.startswith("/v3/")]


def test_enrich_refuses_the_demo(tmp_path, register_server, capsys):
    from decp_monitor.pipeline.demo import build_demo
    from decp_monitor.store.versions import Store

    store = Store(tmp_path / "demo")
    build_demo(store, contracts=200, buyers=20)
    assert run_enrich(store, register_server) == 0
    assert "démonstration" in capsys.readouterr().err and not register_server.log
