"""Measure the dashboard's queries on a big database (not a test: run by hand).

    python tests/pages/perf_dashboard.py build /tmp/decp-big 1000000
    python tests/pages/perf_dashboard.py measure /tmp/decp-big

`build` writes a synthetic national-scale version through the real store (consolidation and
compliance included); `measure` times, cold then warm (cached), each query a page interaction
runs, and the full AppTest rerun of each page.
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from decp_monitor.dashboard.navigation import page_path
from decp_monitor.pipeline import build_version
from decp_monitor.read import queries  # noqa: E402
from decp_monitor.store.versions import Store  # noqa: E402
from tests.dashboard.conftest import luhn_siret  # noqa: E402


def build(data_dir: str, contracts: int) -> None:
    buyers = max(1000, contracts // 16)
    rng = random.Random(7)
    sirets = [luhn_siret(f"2{rng.randrange(10**11, 10**12):012d}") for _ in range(buyers)]
    store = Store(data_dir)
    t0 = time.monotonic()
    with build_version(store, "bench", source="synthetic", meta={"as_of": "2025-06-30"}) as b:
        con = b.con
        con.execute("CREATE TEMP TABLE bs AS SELECT unnest(?) AS siret, generate_subscripts(?, 1) - 1 AS n",
                    [sirets, sirets])
        con.execute(
            """
            INSERT INTO records (record_id, source_file, position, format, kind, buyer_siret, buyer_name,
                                 contract_id, objet, amount, notification_date, publication_date)
            SELECT i, 'decp-' || (i % 3000) || '.json', CAST(i // 3000 AS INTEGER), 'json-2019',
                   CASE WHEN i % 50 = 0 THEN 'concession' ELSE 'marche' END,
                   bs.siret, 'Acheteur public n° ' || bs.n, 'C' || i, 'Objet du marché ' || i,
                   (i % 997) * 1000.0,
                   DATE '2019-01-01' + CAST(i % 2370 AS INTEGER),
                   CASE WHEN i % 40 = 0 THEN NULL
                        ELSE DATE '2019-01-01' + CAST(i % 2370 AS INTEGER) + CAST(hash(i) % 160 AS INTEGER) END
            FROM range(?) t(i) JOIN bs ON bs.n = i % ?
            """,
            [contracts, buyers],
        )
        con.execute(
            "INSERT INTO declarations SELECT siret, siret, 'https://profil.example.fr/' || n, NULL, NULL, "
            "'declarations-' || (n % 40) || '.csv', NULL, CAST(n AS INTEGER) FROM bs WHERE n % 3 = 0"
        )
        con.execute(
            "INSERT INTO declarations SELECT '2' || lpad(CAST(n AS VARCHAR), 13, '0'), NULL, "
            "'https://profil.example.fr/x' || n, NULL, NULL, 'declarations-x.csv', NULL, CAST(n AS INTEGER) "
            "FROM range(5000) t(n)"
        )
        con.execute(
            "INSERT INTO datasets (dataset_id, title, url, extras_siret, license, organization_name, resource_count) "
            "SELECT 'ds' || n, 'Données essentielles des marchés publics - Plateforme ' || n, "
            "'https://www.data.gouv.fr/fr/datasets/ds' || n, NULL, CASE WHEN n % 3 = 0 THEN 'fr-lo' ELSE 'other' END, "
            "'Plateforme ' || n, 50 FROM range(64) t(n)"
        )
        con.execute(
            "INSERT INTO resources (resource_id, dataset_id, title, url, filetype, type, format, created_at) "
            "SELECT 'r' || n, 'ds' || (n % 64), 'decp-' || n || '.json', 'https://static.data.gouv.fr/decp-' || n || '.json', "
            "'file', 'main', 'json', TIMESTAMP '2019-01-01' + to_days(CAST(n % 2000 AS INTEGER)) FROM range(3000) t(n)"
        )
        con.execute(
            "INSERT INTO findings (source_file, position, field, code, severity, message, buyer_siret, contract_id) "
            "SELECT 'decp-' || (i % 3000) || '.json', CAST(i AS INTEGER), 'datePublicationDonnees', "
            "'missing_publication_date', 'error', 'Date de publication des données absente', bs.siret, 'C' || i "
            "FROM range(0, ?, 40) t(i) JOIN bs ON bs.n = i % ?",
            [contracts, buyers],
        )
    print(f"built {contracts} records for {buyers} buyers in {time.monotonic() - t0:.1f}s -> {store.current().path}")


def timed(fn, *args, repeat=3, **kwargs):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def measure(data_dir: str) -> None:
    store = Store(data_dir)
    con = store.connect()
    print("counts:", queries.table_counts(con))
    siret = con.execute("SELECT buyer_siret FROM buyer_compliance ORDER BY contracts_total DESC LIMIT 1").fetchone()[0]
    platform = queries.platforms(con)[0]
    f = queries.BuyerFilter(verdicts=("late",), min_contracts=5, late_min=0.2, late_max=0.9)
    cases = [
        ("overview_headline", (), {}), ("monthly", (), {}), ("monthly(platform)", (), {"platform": platform}),
        ("delay_histogram", (), {}), ("verdicts_by_platform", (), {}), ("worst_buyers", (), {}),
        ("buyer", (siret,), {}), ("buyer_contracts", (siret,), {}), ("buyer_timeline", (siret,), {}),
        ("buyer_datasets", (siret,), {}), ("buyer_checks", (siret,), {}), ("buyer_resources", (siret,), {}),
        ("buyer_findings", (siret,), {}), ("buyer_modifications", (siret,), {}),
        ("search_buyers", ("public n° 123",), {}), ("buyers", (queries.BuyerFilter(),), {}),
        ("buyers(filtered)", (f,), {}), ("buyers(page 50)", (queries.BuyerFilter(),), {"offset": 5000}),
        ("datasets", (), {}), ("resources", (), {}), ("checks_summary", (), {}),
        ("declarations", (), {}), ("declarations(never)", (), {"only_never_published": True}),
        ("declarations_summary", (), {}), ("findings_by_code", (), {}), ("findings_by_file", (), {}),
        ("findings_by_buyer", (), {}), ("findings_list", (), {}), ("failed_files", (), {}), ("refreshes", (), {}),
    ]
    for label, args, kwargs in cases:
        name = label.split("(")[0]
        best, median = timed(getattr(queries, name), con.cursor(), *args, **kwargs)
        print(f"{label:28s} {best * 1000:8.1f} ms (best of 3), median {median * 1000:8.1f} ms")

    import os

    from streamlit.testing.v1 import AppTest

    os.environ["DECP_DATA_DIR"] = str(Path(data_dir).resolve())
    os.environ["DECP_AUTO_DEMO"] = "0"
    os.chdir(REPO)
    for page, params in [(page_path("overview"), {}), (page_path("buyer"), {"siret": siret}), (page_path("buyers"), {}),
                         (page_path("buyers"), {"verdict": "late", "min": "5", "retard": "20-90"}),
                         (page_path("datasets"), {}), (page_path("declarations"), {}), (page_path("quality"), {}),
                         (page_path("method"), {})]:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        at.run()
        at.switch_page(page)
        for k, v in params.items():
            at.query_params[k] = v
        t = time.perf_counter(); at.run(); cold = time.perf_counter() - t
        t = time.perf_counter(); at.run(); warm = time.perf_counter() - t
        assert not at.exception, [e.value for e in at.exception]
        print(f"page {page:24s} {str(params):48s} first run {cold * 1000:7.0f} ms, rerun {warm * 1000:6.0f} ms")


if __name__ == "__main__":
    command, data_dir, *rest = sys.argv[1:]
    if command == "build":
        build(data_dir, int(rest[0]) if rest else 1_000_000)
    else:
        measure(data_dir)
