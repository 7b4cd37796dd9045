"""The charts are built without plotly's validation (for speed): here every chart is built with it too.

A misspelt property or a value of the wrong type makes the validated build raise; and the spec the
pages send (unvalidated) must be the very one plotly's validation would give.
"""
import json

import pandas as pd
import plotly.io as pio
import pytest

from decp_monitor.dashboard import charts
from decp_monitor.register import reference

MONTHS = pd.to_datetime(["2026-05-01", "2026-06-01", "2026-07-01", "2026-08-01"])


def _monthly():
    return pd.DataFrame({"month": MONTHS, "late_share": [0.1, 0.25, None, 0.5], "late": [1, 2, 0, 3],
                         "assessed": [10, 8, 0, 6], "median_delay_days": [20.0, 45.5, None, 70.0]})


def _timeline():
    return pd.DataFrame({
        "contract_id": ["A1", None, "C3"],
        "notification_date": pd.to_datetime(["2026-01-05", "2026-02-10", "2026-03-15"]),
        "deadline": pd.to_datetime(["2026-03-05", "2026-04-10", "2026-05-15"]),
        "publication_date": pd.to_datetime(["2026-02-01", None, "2026-07-01"]),
        "status": ["on_time", "no_publication_date", "late"],
        "status_label": ["Publié à temps", "Sans date de publication", "Publié en retard"],
    })


BUILDS = {
    "monthly": lambda: charts.monthly(_monthly(), as_of="2026-09-01"),
    "delay_histogram": lambda: charts.delay_histogram(pd.DataFrame({"bin_start": [-30, 0, 60, 370],
                                                                    "contracts": [1, 5, 3, 2]})),
    "verdicts_by_platform": lambda: charts.verdicts_by_platform(pd.DataFrame({
        "platform": ["PLACE", "PLACE", "Autres"], "verdict": ["late", "compliant", "late"],
        "verdict_label": ["Publications en retard", "Conforme", "Publications en retard"], "buyers": [3, 5, 1]})),
    "buyer_timeline": lambda: charts.buyer_timeline(_timeline()),
    "platform_rates": lambda: charts.platform_rates(pd.DataFrame({
        "platform": ["PLACE", "Dematis"], "late_rate": [0.2, None], "late_contracts": [2, 0],
        "contracts_assessed": [10, 0], "median_delay_days": [30.0, None]})),
    "departement_map": lambda: charts.departement_map(pd.DataFrame({
        "departement": ["44", "69"], "departement_name": ["Loire-Atlantique", "Rhône"], "late_share": [0.3, 0.0],
        "late": [3, 0], "assessed": [10, 4], "buyers": [2, 1]}), reference.geojson()),
}


def _spec(figure) -> dict:
    spec = json.loads(pio.to_json(figure.to_dict(), validate=False))
    spec["layout"].pop("template", None)
    return spec


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_every_chart_passes_plotly_validation_and_sends_the_same_spec(name, monkeypatch):
    fast = _spec(BUILDS[name]())
    monkeypatch.setattr(charts, "VALIDATE", True)
    validated = BUILDS[name]()  # raises on an unknown property or a wrong value
    # Validation turns arrays into typed arrays; compare what they decode to.
    assert json.dumps(_decoded(fast), sort_keys=True) == json.dumps(_decoded(_spec(validated)), sort_keys=True)


def _decoded(value):
    import base64

    import numpy as np

    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            if "shape" in value:
                array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
            return _decoded(array.tolist())
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    if isinstance(value, str) and value.endswith("T00:00:00"):
        return value[:-9]
    if isinstance(value, str) and value.endswith("T00:00:00.000000"):
        return value[:-16]
    if isinstance(value, float):
        return round(value, 9)
    return value


def test_a_misspelt_property_is_caught_by_the_validated_build(monkeypatch):
    monkeypatch.setattr(charts, "VALIDATE", True)
    with pytest.raises(ValueError):
        charts._figure([{"type": "bar", "colour": "red"}], {})
