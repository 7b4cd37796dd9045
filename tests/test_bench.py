"""Smoke test of the benchmark: at a small size, the pipeline, the pandas baseline and DuckDB's own
JSON reader give the same late / on-time counts per buyer SIRET. No timing is asserted."""
import pytest

# The corpus comes from the demo generator (decp_monitor.demo.corpus.generate_records, its XML twin from
# decp_monitor.demo.corpus.record_to_xml) and the pipeline reads it with the project's reader
# (decp_monitor.parse): no stand-in is involved.


@pytest.fixture(scope="module")
def bench_run():
    from bench import run

    return run


@pytest.mark.slow  # four methods over a generated corpus, ~6 s: the fast suite's margin under 5 minutes is thin
def test_bench_methods_agree_on_per_buyer_late_counts(bench_run, tmp_path):
    corpus = bench_run.generate(tmp_path, 20_000, seed=bench_run.DEFAULT_SEED)
    # the generated corpus has defects, and the comparison set leaves them out
    assert corpus["records"] == 20_000
    assert 0 < corpus["clean_records"] < corpus["records"]

    result = bench_run.compare_methods(tmp_path, corpus["as_of"], in_process=True)

    assert result["checks"]["pipeline_vs_pandas"]["differing"] == 0, result["checks"]
    assert result["checks"]["pipeline_vs_duckdb"]["differing"] == 0, result["checks"]
    assert result["checks"]["pipeline_vs_duckdb_stored"]["differing"] == 0, result["checks"]
    assert result["agree"]
    # the stored floor really kept the records, and its database went away with it
    assert result["methods"]["duckdb_stored"]["late"] == result["methods"]["duckdb"]["late"]
    assert not list(tmp_path.glob("*.duckdb"))
    pipeline = result["methods"]["pipeline"]
    # the comparison is not vacuous: many buyers, both late and on-time contracts
    assert pipeline["buyers"] > 50
    assert pipeline["late"] > 0 and pipeline["on_time"] > 0
    assert pipeline["late"] + pipeline["on_time"] == result["methods"]["duckdb"]["late"] + result["methods"]["duckdb"]["on_time"]
