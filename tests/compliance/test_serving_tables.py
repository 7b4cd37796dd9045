"""What the dashboard reads at national scale is stored, not derived at each query: per-contract
compliance as a table ordered by buyer, and the overview's figures precomputed at build time.
Both must give exactly what the live queries give."""
import shutil

import duckdb
import pandas as pd
import pytest

from decp_monitor.read import queries
from decp_monitor.store.versions import Store

PRECOMPUTED = ("overview_headline", "overview_recent_months", "overview_delay_bins")


@pytest.fixture(scope="module")
def demo_version(shared_demo):
    return Store(shared_demo(contracts=3000, buyers=150)).current().path


def test_contract_compliance_reads_a_stored_table_ordered_by_buyer(demo_version):
    con = duckdb.connect(str(demo_version), read_only=True)
    try:
        stored = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "contract_compliance_rows" in stored and "contract_judgements" not in stored
        # the view is a plain projection of the table: no join left at read time
        [(view_sql,)] = con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'contract_compliance'").fetchall()
        assert "JOIN" not in view_sql.upper() and "contract_compliance_rows" in view_sql
        sirets = [r[0] for r in con.execute("SELECT buyer_siret FROM contract_compliance_rows").fetchall()]
        assert len(sirets) > 1000
        assert sirets == sorted(sirets, key=lambda s: (s is None, s))  # physical order: by buyer
        # one row per consolidated contract, carrying the contract's own columns unchanged
        assert con.execute("SELECT count(*) FROM contracts").fetchone()[0] == len(sirets)
        mismatched = con.execute(
            """
            SELECT count(*) FROM contracts c JOIN contract_compliance cc USING (contract_key)
            WHERE cc.buyer_siret IS DISTINCT FROM c.buyer_siret OR cc.contract_id IS DISTINCT FROM c.contract_id
               OR cc.notification_date IS DISTINCT FROM c.notification_date
               OR cc.publication_date IS DISTINCT FROM c.publication_date
               OR cc.amount IS DISTINCT FROM c.amount OR cc.record_count IS DISTINCT FROM c.record_count
               OR cc.delay_days IS DISTINCT FROM CAST(c.publication_date - c.notification_date AS INTEGER)
            """
        ).fetchone()[0]
        assert mismatched == 0
    finally:
        con.close()


def test_precomputed_overview_figures_equal_the_live_queries(demo_version, tmp_path):
    # The same version without the precomputed tables: the queries compute everything live.
    live_path = tmp_path / "live.duckdb"
    shutil.copy(demo_version, live_path)
    con = duckdb.connect(str(live_path))
    for table in PRECOMPUTED:
        con.execute(f"DROP TABLE {table}")
    con.close()
    stored = duckdb.connect(str(demo_version), read_only=True)
    live = duckdb.connect(str(live_path), read_only=True)
    try:
        assert set(PRECOMPUTED) <= queries.tables(stored) and not set(PRECOMPUTED) & queries.tables(live)
        assert queries.overview_headline(stored) == queries.overview_headline(live)
        platforms = [None] + queries.platforms(stored)
        assert len(platforms) > 3
        for platform in platforms:
            months = queries.monthly(stored, platform=platform)
            pd.testing.assert_frame_equal(months, queries.monthly(live, platform=platform))
            pd.testing.assert_frame_equal(queries.delay_histogram(stored, platform=platform),
                                          queries.delay_histogram(live, platform=platform))
        assert len(queries.monthly(stored)) == 36 and queries.monthly(stored)["contracts"].sum() > 0
        # other spans and bins than the precomputed ones are still answered, live
        pd.testing.assert_frame_equal(queries.monthly(stored, months=12), queries.monthly(live, months=12))
        pd.testing.assert_frame_equal(queries.delay_histogram(stored, bin_days=30),
                                      queries.delay_histogram(live, bin_days=30))
    finally:
        stored.close()
        live.close()
