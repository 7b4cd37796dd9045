"""What `enrich` costs: requests and time for N SIRETs, measured on the loopback replay server.

    python -m bench.register --sirets 4000 --rate 280     # scaled: 40 times 7 requests/s

The server (tests/register_server.py) replays the real recorded answers of the API Recherche
d'entreprises; SIRETs it has no recording for get the recorded "no result" 200, which costs the
client what any answer costs. The run is scaled (more requests per second than the API allows,
fewer SIRETs) so that it fits in a minute on a shared machine; the figures at 7 requests/s are
computed from the measured request counts and the measured overhead per request.

Three runs on one cache: a first run (every SIRET asked), a second run the same day (nothing is
fresh-expired: no request), and a "daily" run after 1/30 of the answers were aged past the
30-day limit (what each day re-asks in steady state), plus the register stage of a build
(apply.py) over the N facts.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from decp_monitor.demo.corpus import with_check_digit  # noqa: E402
from decp_monitor.register.apply import apply  # noqa: E402
from decp_monitor.register.cache import RegisterCache, cache_path  # noqa: E402
from decp_monitor.register.enrich import RECHERCHE_RATE, EnrichSettings, enrich  # noqa: E402
from decp_monitor.store.versions import schema_sql  # noqa: E402
from tests.register.conftest import KNOWN  # noqa: E402
from tests.register_server import start_register_server  # noqa: E402

NATIONAL = 40_000
MAX_AGE_DAYS = 30


def sirets(n: int) -> list[str]:
    """The recorded SIRETs first (real answers), then distinct valid SIRETs."""
    out = list(KNOWN)
    i = 0
    while len(out) < n:
        out.append(with_check_digit(f"{20_000_000 + i:08d}00001"))  # 8 free digits, then the key
        i += 1
    return out[:n]


def timed_run(cache, wanted, server, rate: float) -> dict:
    before = len(server.log)
    started = time.monotonic()
    summary = enrich(cache, wanted, EnrichSettings(recherche_base=server.base, rate=rate, max_age_days=MAX_AGE_DAYS))
    seconds = time.monotonic() - started
    requests = len(server.log) - before
    return {"requests": requests, "seconds": round(seconds, 2), "found": summary.found,
            "not_found": summary.not_found, "errors": summary.errors,
            "per_request_ms": round(1000 * seconds / requests, 2) if requests else 0.0}


def at_national_scale(requests_share: float, per_request_ms: float) -> dict:
    """The rate limiter spaces requests 1/7 s apart; a request taking longer than that (answer,
    parsing, cache write) would set the pace instead."""
    requests = round(NATIONAL * requests_share)
    seconds = requests * max(1 / RECHERCHE_RATE, per_request_ms / 1000)
    return {"requests": requests, "seconds": round(seconds), "minutes": round(seconds / 60, 1)}


def register_stage(cache: RegisterCache, n: int, data_dir: Path) -> dict:
    """The register stage of a build (apply.py) with `n` facts in the cache (copies of a real one)."""
    for siret in sirets(n):
        cache.db.execute("INSERT OR REPLACE INTO facts SELECT * FROM (SELECT ?, found, name, legal_name, "
                         "categorie_juridique, categorie_juridique_label, kind, state, closed_on, legal_state, "
                         "commune_code, commune_name, departement, region, head_office_siret, is_head_office, "
                         "non_diffusible, source, fetched_at FROM facts WHERE siret = ? AND source = ?)",
                         [siret, KNOWN_FOUND, "recherche-entreprises"])
    cache.db.commit()
    con = duckdb.connect()
    con.execute(schema_sql())
    con.execute("CREATE TABLE contracts (buyer_siret VARCHAR, buyer_name VARCHAR, notification_date DATE)")
    started = time.monotonic()
    rows = apply(con, data_dir)
    return {"facts_in_cache": cache.count(), "register_rows": rows, "seconds": round(time.monotonic() - started, 2)}


KNOWN_FOUND = "13002526500013"  # DINUM: a recorded, found answer copied under other SIRETs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sirets", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=40 * RECHERCHE_RATE)
    parser.add_argument("--stage-facts", type=int, default=NATIONAL,
                        help="facts in the cache when timing the register stage of a build")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    wanted = sirets(args.sirets)
    server, stop = start_register_server()
    results: dict = {"sirets": args.sirets, "rate": args.rate}
    try:
        with tempfile.TemporaryDirectory() as tmp, RegisterCache(cache_path(Path(tmp))) as cache:
            results["first_run"] = timed_run(cache, wanted, server, args.rate)
            results["same_day_again"] = timed_run(cache, wanted, server, args.rate)
            # steady state: each day, the answers that turn 30 days old (1/30) are asked again
            stale = wanted[: len(wanted) // MAX_AGE_DAYS]
            old = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=MAX_AGE_DAYS + 1)).isoformat()
            cache.db.executemany("UPDATE facts SET fetched_at = ? WHERE siret = ?", [(old, s) for s in stale])
            cache.db.commit()
            results["daily_run"] = timed_run(cache, wanted, server, args.rate)
            results["register_stage"] = register_stage(cache, args.stage_facts, Path(tmp))
    finally:
        stop()
    first, daily = results["first_run"], results["daily_run"]
    results["national_first_run_at_7_per_s"] = at_national_scale(first["requests"] / args.sirets,
                                                                 first["per_request_ms"])
    results["national_daily_run_at_7_per_s"] = at_national_scale(daily["requests"] / args.sirets,
                                                                 daily["per_request_ms"])
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
