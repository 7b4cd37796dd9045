"""Time the compliance engine on a synthetic national-scale corpus.

    python bench/compliance_bench.py                 # 1 000 000 contracts
    python bench/compliance_bench.py --contracts 200000

The corpus is generated inside DuckDB (range() and random functions, fixed seed): records with
republications (~10 %), modifications (~15 %), concessions (~2 %), missing dates, per-publication
file names, catalogue datasets and resources, declarations and sightings. Then the same
consolidation as a build runs, then compliance.compute(); both are timed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from decp_monitor import compliance, pipeline  # noqa: E402
from decp_monitor.store.versions import schema_sql  # noqa: E402

GENERATE = """
SELECT setseed(0.42);

-- buyers: 14-digit SIRETs with a correct Luhn key (2 % with a wrong one), about 25 contracts each
CREATE TEMP TABLE bench_buyers AS
SELECT b AS buyer_no, CAST(2100000000000 + b * 97 AS VARCHAR) AS head
FROM range(0, greatest(CAST($contracts AS BIGINT) // 25, 1)) t(b);

CREATE TEMP TABLE bench_buyers_siret AS
SELECT buyer_no,
       head || CAST((10 - list_sum(list_transform(range(13), lambda i:
           CASE WHEN i % 2 = 0
                THEN 2 * CAST(head[i + 1] AS INTEGER) - CASE WHEN CAST(head[i + 1] AS INTEGER) > 4 THEN 9 ELSE 0 END
                ELSE CAST(head[i + 1] AS INTEGER) END)) % 10 + CASE WHEN buyer_no % 50 = 7 THEN 1 ELSE 0 END) % 10 AS VARCHAR) AS siret
FROM bench_buyers;

CREATE TEMP TABLE bench_contracts AS
SELECT
    c AS contract_no,
    CAST(floor(random() * (SELECT count(*) FROM bench_buyers_siret)) AS BIGINT) AS buyer_no,
    CASE WHEN random() < 0.02 THEN 'concession' ELSE 'marche' END AS kind,
    CASE WHEN random() < 0.01 THEN NULL
         ELSE DATE '2019-01-01' + CAST(floor(random() * 2500) AS INTEGER) END AS notification_date,
    CAST(floor(random() * 150) AS INTEGER) - 5 AS publication_lag,
    random() < 0.03 AS no_publication_date,
    random() < 0.5 AS start_known
FROM range(0, CAST($contracts AS BIGINT)) t(c);

INSERT INTO records
SELECT
    row_number() OVER () - 1 AS record_id,
    CASE WHEN c.contract_no % 3 = 0
         THEN 'DECP-' || s.siret || '-' || strftime(coalesce(c.notification_date, DATE '2020-01-01') + c.publication_lag + r.rep * 30, '%Y-%m-%d') || '-01.json'
         ELSE 'platform-' || CAST(c.buyer_no % 40 AS VARCHAR) || '/decp-' || CAST(year(coalesce(c.notification_date, DATE '2020-01-01')) AS VARCHAR) || '.json'
    END AS source_file,
    CASE WHEN c.contract_no % 3 = 1 THEN 'res-' || CAST(c.buyer_no % 400 AS VARCHAR) END AS resource_id,
    CAST(c.contract_no % 1000 AS INTEGER) AS position,
    'json-2019', c.kind, s.siret, 'Acheteur ' || CAST(c.buyer_no AS VARCHAR),
    'ID-' || CAST(c.contract_no AS VARCHAR), NULL, 'Marché', 'objet', 'Procédure adaptée', '45000000',
    random() * 100000, 12, c.notification_date,
    CASE WHEN c.kind = 'concession' AND c.start_known THEN c.notification_date + 40 END,
    CASE WHEN c.no_publication_date THEN NULL ELSE c.notification_date + c.publication_lag + r.rep * 30 END,
    NULL, NULL, '75056', 'Code commune', 'Paris', NULL,
    CASE WHEN c.contract_no % 7 = 0 THEN 1 ELSE 0 END
FROM bench_contracts c
JOIN bench_buyers_siret s USING (buyer_no)
JOIN (SELECT 0 AS rep UNION ALL SELECT 1) r ON r.rep = 0 OR c.contract_no % 10 = 0;

INSERT INTO record_modifications
SELECT record_id, 0, '1', notification_date + 200, notification_date + 200 + CAST(floor(random() * 90) AS INTEGER),
       amount * 1.1, 14, 'avenant'
FROM records WHERE modification_count > 0;

INSERT INTO datasets (dataset_id, title, tags, extras_siret, license, frequency, organization_id, organization_name, created_at, last_modified)
SELECT 'ds-' || CAST(d AS VARCHAR),
       CASE WHEN d % 2 = 0 THEN 'Données essentielles des marchés publics - Plateforme ' || CAST(d AS VARCHAR) ELSE 'DECP ' || CAST(d AS VARCHAR) END,
       ['donnees-essentielles', 'commande-publique'],
       CASE WHEN d % 3 = 0 THEN (SELECT siret FROM bench_buyers_siret WHERE buyer_no = d) END,
       CASE WHEN d % 5 = 0 THEN 'lov2' ELSE 'fr-lo' END, 'daily', 'org-' || CAST(d % 40 AS VARCHAR),
       'Plateforme ' || CAST(d % 40 AS VARCHAR), TIMESTAMP '2019-01-01', TIMESTAMP '2024-01-01'
FROM range(0, 400) t(d);

INSERT INTO resources (resource_id, dataset_id, title, url, filetype, type, format, mime, created_at, last_modified, classification)
SELECT 'res-' || CAST(r AS VARCHAR), 'ds-' || CAST(r AS VARCHAR), 'decp-' || CAST(r AS VARCHAR) || '.json',
       'https://static.data.gouv.fr/resources/x/decp-' || CAST(r AS VARCHAR) || '.json', 'file', 'main', 'json',
       'application/json', TIMESTAMP '2019-01-01' + to_days(CAST(r AS INTEGER)),
       TIMESTAMP '2019-01-01' + to_days(CAST(r AS INTEGER)) + to_hours(CAST(r % 2 AS INTEGER) * 1000), 'decp'
FROM range(0, 400) t(r);

INSERT INTO declarations (siret, siret_raw, url_profil_acheteur, source_file, line)
SELECT siret, siret, 'https://profil.example/' || CAST(buyer_no AS VARCHAR), 'declarations.csv', CAST(buyer_no AS INTEGER) + 2
FROM bench_buyers_siret WHERE buyer_no % 4 <> 0;

INSERT INTO refreshes (refresh_id, started_at, outcome) VALUES ('previous', TIMESTAMP '2023-06-01', 'published');
"""

SIGHTINGS = """
INSERT INTO sightings
SELECT buyer_siret, contract_id, notification_date,
       CASE WHEN hash(contract_key) % 5 = 0 THEN TIMESTAMP '2024-09-01' ELSE TIMESTAMP '2023-06-01' END
FROM contracts WHERE contract_id IS NOT NULL;
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of compute() (the best and all are printed)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        con.execute(schema_sql())
        started = time.perf_counter()
        con.execute(GENERATE.replace("$contracts", str(int(args.contracts))))
        generated = time.perf_counter() - started
        started = time.perf_counter()
        con.execute(pipeline.sql("consolidate.sql"))
        con.execute(pipeline.sql("consolidate_findings.sql"))
        con.execute(SIGHTINGS)
        consolidated = time.perf_counter() - started
        counts = con.execute(
            "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM contracts), "
            "(SELECT count(*) FROM modifications)"
        ).fetchone()
        print(f"generated {counts[0]:,} records in {generated:.2f} s")
        print(f"consolidation: {counts[1]:,} contracts, {counts[2]:,} modifications in {consolidated:.2f} s")
        timings = []
        for _ in range(max(1, args.repeat)):
            started = time.perf_counter()
            compliance.compute(con, as_of="2025-06-30")
            timings.append(time.perf_counter() - started)
        sizes = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in compliance.TABLES
        }
        print("compute(): " + ", ".join(f"{t:.2f} s" for t in timings) + f" (best {min(timings):.2f} s)")
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
        verdicts = con.execute(
            "SELECT verdict, count(*) FROM buyer_compliance GROUP BY ALL ORDER BY 2 DESC").fetchall()
        print("verdicts: " + ", ".join(f"{v} {n:,}" for v, n in verdicts))
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
