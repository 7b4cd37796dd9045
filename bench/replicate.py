"""A stand-in database at scale for the dashboard's contract queries (run by hand).

    python -m bench.replicate SRC_DATA_DIR DEST_DATA_DIR --contracts 1500000

Copies SRC (a data directory with a published version, e.g. the demo's) to DEST, then, in DEST's
published version, repeats the rows of contract_compliance, contracts and records until about
`--contracts` contracts, each copy with its own keys and record ids (the buyers, holders, CPV
codes, amounts and dates repeat: each filter keeps the selectivity it has on the source). Building
a real 1.5 M database from the demo generator takes 4–5 minutes of load on a quiet machine; this
takes seconds and exercises the same scans and joins. The other tables are left as they are.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import duckdb

from decp_monitor.store.versions import Store


def replicate(src: Path, dest: Path, contracts: int) -> dict:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    version = Store(dest).current()
    if version is None:
        raise SystemExit(f"no published version in {src}")
    started = time.perf_counter()
    con = duckdb.connect(str(version.path))
    try:
        (base,) = con.execute("SELECT count(*) FROM contract_compliance").fetchone()
        (step,) = con.execute("SELECT max(record_id) + 1 FROM records").fetchone()
        copies = max(1, round(contracts / base))
        con.execute("CREATE TEMP TABLE n AS SELECT range AS i FROM range(1, $copies)", {"copies": copies})
        con.execute("INSERT INTO records SELECT t.* REPLACE (t.record_id + n.i * $step AS record_id) "
                    "FROM records t, n", {"step": step})
        con.execute("INSERT INTO contracts SELECT t.* REPLACE (t.contract_key || '~' || n.i AS contract_key, "
                    "t.first_record_id + n.i * $step AS first_record_id) FROM contracts t, n", {"step": step})
        # contract_compliance is a view over the stored contract_compliance_rows (compliance/contracts.sql):
        # the copies go there, then the table is rewritten in the build's order (by buyer) so that its
        # zone maps prune as a real build's do.
        con.execute("CREATE TEMP TABLE copies AS SELECT t.* REPLACE (t.contract_key || '~' || n.i AS contract_key) "
                    "FROM contract_compliance_rows t, n")
        con.execute("CREATE OR REPLACE TABLE contract_compliance_rows AS SELECT * FROM "
                    "(SELECT * FROM contract_compliance_rows UNION ALL SELECT * FROM copies) ORDER BY buyer_siret")
        con.execute("CHECKPOINT")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("contract_compliance", "contracts", "records")}
    finally:
        con.close()
    return {"version": str(version.path), "copies": copies, "seconds": round(time.perf_counter() - started, 1),
            **counts}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--contracts", type=int, default=1_500_000)
    args = parser.parse_args(argv)
    print(replicate(args.src, args.dest, args.contracts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
