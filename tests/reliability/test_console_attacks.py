"""Greedy SQL console queries (issue 14, item 12): every one ends within the timeout plus the kill
margin, the query process stays under its caps, and the serving process never holds the values.

The attacks run from a separate "serving" process (what the Streamlit server is), which reports
its own peak resident memory: the figure the issue is about."""
import json
import subprocess
import textwrap

import pytest

from decp_monitor.read import console
from decp_monitor.store.versions import Store
from tests.reliability.conftest import CHILD_ENV, PYTHON, report
from tests.test_store import publish, record

pytestmark = pytest.mark.slow

GB = 1024 ** 3
ATTACKS = {
    "wide_rows": "SELECT repeat('x',100000000) AS s FROM range(20)",
    "wide_list": "SELECT [repeat('x',400000000),repeat('y',400000000),repeat('z',400000000)] AS l",
    "many_wide_rows": "SELECT repeat('x', 10000) AS s FROM range(100000)",
    "one_huge_value": "SELECT repeat('x', 300000000) AS s",
    "huge_aggregate": "SELECT string_agg(repeat('x', 1000), '') FROM range(2000000)",
    "sort_beyond_memory": "SELECT * FROM range(100000000) t(i) ORDER BY hash(i)",
    "endless_recursion": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r",
}

SERVER = textwrap.dedent("""
    import json, resource, sys, time
    from decp_monitor.read.console import run_query
    out = {}
    for name, sql in json.loads(sys.argv[2]).items():
        started = time.perf_counter()
        result = run_query(sql, sys.argv[1])
        out[name] = {"seconds": round(time.perf_counter() - started, 2),
                     "child_peak_mb": round((result.child_peak_rss or 0) / 2**20),
                     "rows": None if result.df is None else len(result.df),
                     "truncated_by": result.truncated_by,
                     "answer": (result.error_fr or "").split(chr(10))[0][:120]}
    out["serving_process_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))
""")


def test_greedy_queries_are_bounded_in_time_and_memory(tmp_path):
    store = Store(tmp_path)
    publish(store, record(0))
    done = subprocess.run([PYTHON, "-c", SERVER, str(store.current().path), json.dumps(ATTACKS)],
                          capture_output=True, text=True, env=CHILD_ENV, timeout=600)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    limit_s = console.DEFAULT_TIMEOUT_S + console.KILL_MARGIN_S + 1.0  # + the child's start-up
    for name in ATTACKS:
        outcome = figures[name]
        assert outcome["seconds"] < limit_s, (name, outcome)
        assert outcome["child_peak_mb"] * 2**20 < console.CHILD_KILL_RSS_BYTES + 64 * 2**20, (name, outcome)
        # Each attack is refused in French or cut; none returns its full weight.
        assert outcome["answer"].startswith(("Requête arrêtée", "Résultat trop volumineux")) or \
            outcome["truncated_by"] == "octets", (name, outcome)
    assert figures["many_wide_rows"]["truncated_by"] == "octets"
    assert figures["wide_list"]["answer"].startswith("Requête arrêtée")
    assert figures["serving_process_peak_mb"] * 2**20 < GB
    report("console_attacks", {
        **figures,
        "longest_seconds": max(figures[n]["seconds"] for n in ATTACKS),
        "worst_child_peak_mb": max(figures[n]["child_peak_mb"] for n in ATTACKS),
    })
