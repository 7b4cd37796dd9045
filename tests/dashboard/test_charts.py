"""The charts are SVG strings drawn on the server: what they draw is read back from the SVG itself.

Every chart is well-formed XML, says what it is to a screen reader (role, aria-label, title, desc),
writes its figures the French way, and draws its marks in proportion to the data. Names from the
data (platforms, contract ids) are escaped.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from decp_monitor.dashboard import charts
from decp_monitor.register import reference

SVG = "{http://www.w3.org/2000/svg}"
MONTHS = pd.to_datetime(["2026-05-01", "2026-06-01", "2026-07-01", "2026-08-01"])
HOSTILE = 'A&B <i>"x"</i> \'y\' </svg><script>alert(1)</script>\n\nligne'


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


def _verdicts(platform="PLACE"):
    return pd.DataFrame({
        "platform": [platform, platform, "Autres"], "verdict": ["compliant", "late", "late"],
        "verdict_label": ["Conforme", "Publications en retard", "Publications en retard"], "buyers": [5, 3, 1]})


def _rates(platform="PLACE"):
    return pd.DataFrame({
        "platform": [platform, "Dematis", "Achatpublic"], "late_rate": [0.2, None, 0.05], "late_contracts": [2, 0, 1],
        "contracts_assessed": [10, 0, 20], "median_delay_days": [30.0, None, 12.0]})


def _departements():
    return pd.DataFrame({
        "departement": ["44", "69", "971"], "departement_name": ["Loire-Atlantique", "Rhône", "Guadeloupe"],
        "late_share": [0.3, 0.0, 0.5], "late": [3, 0, 1], "assessed": [10, 4, 2], "buyers": [2, 1, 1]})


BUILDS = {
    "monthly": lambda: charts.monthly(_monthly(), as_of="2026-09-01"),
    "delay_histogram": lambda: charts.delay_histogram(pd.DataFrame({"bin_start": [-30, 0, 60, 360],
                                                                    "contracts": [1, 500, 3, 2000]})),
    "verdicts_by_platform": lambda: charts.verdicts_by_platform(_verdicts()),
    "buyer_timeline": lambda: charts.buyer_timeline(_timeline()),
    "platform_rates": lambda: charts.platform_rates(_rates()),
    "departement_map": lambda: charts.departement_map(_departements(), reference.geojson()),
}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything but well-formed XML


def marks(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == cls]


def tip(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_every_chart_is_one_accessible_responsive_svg(name):
    svg = BUILDS[name]()
    assert "\n" not in svg, "one line: Markdown would end the raw HTML block at a blank line"
    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("width") == "100%"
    x, y, width, height = (float(v) for v in root.get("viewBox").split())
    assert (x, y) == (0, 0) and 300 < width <= charts.FULL and height > 100
    assert root.get("aria-label") == root.find(f"{SVG}title").text
    assert len(root.find(f"{SVG}desc").text) > 20
    assert root.get("fill") == "currentColor", "text follows the theme's colour"
    assert "<script" not in svg and "<foreignObject" not in svg


def test_monthly_bars_are_proportional_and_the_provisional_months_shaded():
    root = parse(BUILDS["monthly"]())
    bars = marks(root, "bar")
    assert [b.get("data-key") for b in bars] == ["2026-05", "2026-06", "2026-08"], "no bar for a month without assessed contract"
    ratio = {float(b.get("height")) / float(b.get("data-value")) for b in bars}
    assert max(ratio) - min(ratio) < 0.05, "a bar's height is proportional to its late share"
    assert [float(p.get("data-value")) for p in marks(root, "point")] == [20.0, 45.5, 70.0]
    # as of 01/09/2026, July and August are provisional: the band starts at July's column
    [band] = marks(root, "provisional")
    months = marks(root, "month")
    july = next(g for g in months if tip(g).startswith("juillet 2026"))
    assert float(band.get("x")) == pytest.approx(float(july.find(f"{SVG}rect").get("x")))
    assert "provisoire" in texts(root) and "Mois provisoires" in texts(root)
    # French: month names, decimal comma, words
    assert tip(months[1]) == "juin 2026 : 25,0\u00a0% publiés en retard (2 sur 8), délai médian 46 jours"
    assert tip(july) == "juillet 2026 (provisoire) : aucun contrat évalué"
    assert ["mai", "2026", "juin", "juil.", "août"] == [t for t in texts(root) if t in ("mai", "juin", "juil.", "août", "2026")]


def test_monthly_without_provisional_month_has_no_band():
    root = parse(charts.monthly(_monthly(), as_of="2027-06-30"))
    assert not marks(root, "provisional") and "Mois provisoires" not in texts(root)


def test_delay_histogram_colours_beyond_two_months_and_writes_thousands():
    root = parse(BUILDS["delay_histogram"]())
    bars = marks(root, "bar")
    assert [(b.get("data-key"), b.get("fill")) for b in bars] == [
        ("-30", charts.ON_TIME), ("0", charts.ON_TIME), ("60", charts.ON_TIME), ("360", charts.LATE)]
    heights = [float(b.get("height")) for b in bars]
    assert heights[3] == pytest.approx(heights[1] * 4, rel=0.01)
    tips = [tip(g) for g in marks(root, "bin")]
    assert tips[-1] == "360 jours ou plus : 2\u202f000 contrats"
    assert tips[0] == "-30 jours ou moins (publié avant la notification) : 1 contrat"
    assert "2\u202f000" in texts(root) and "deux mois" in texts(root)


def test_verdicts_stack_per_platform_the_group_at_the_bottom():
    root = parse(BUILDS["verdicts_by_platform"]())
    bars = marks(root, "bar")
    assert [(b.get("data-key"), b.get("data-value")) for b in bars] == [
        ("PLACE|compliant", "5"), ("PLACE|late", "3"), ("Autres|late", "1")]
    place = [b for b in bars if b.get("data-key").startswith("PLACE")]
    assert float(place[1].get("x")) == pytest.approx(float(place[0].get("x")) + float(place[0].get("width")), abs=0.11)
    assert float(place[0].get("width")) == pytest.approx(5 / 3 * float(place[1].get("width")), abs=0.2)
    assert float(bars[2].get("y")) > float(bars[0].get("y")), "« Autres » under the platforms"
    assert tip(bars[0]) == "PLACE — Conforme : 5 acheteurs"
    assert {"Conforme", "Publications en retard"} <= set(texts(root)), "the legend"


def test_platform_rates_most_late_on_top_without_data_said_in_words():
    root = parse(BUILDS["platform_rates"]())
    bars = marks(root, "bar")
    assert [b.get("data-key") for b in bars] == ["PLACE", "Achatpublic"]
    assert float(bars[0].get("width")) == pytest.approx(4 * float(bars[1].get("width")), rel=0.01)
    tips = [tip(g) for g in marks(root, "platform")]
    assert tips == ["PLACE : 20,0\u00a0% en retard (2 sur 10), délai médian 30 jours",
                    "Achatpublic : 5,0\u00a0% en retard (1 sur 20), délai médian 12 jours",
                    "Dematis : aucun contrat évalué"]


def test_map_draws_every_departement_grey_without_data_and_a_legend():
    root = parse(BUILDS["departement_map"]())
    paths = marks(root, "dept")
    assert len(paths) == len(reference.geojson()["features"]) == 96
    by_code = {p.get("data-key"): p for p in paths}
    assert by_code["44"].get("fill") == charts.scale_color(1.0), "30 % is the top of a 30 % scale"
    assert by_code["69"].get("fill") == charts.scale_color(0.0)
    assert by_code["01"].get("fill") == charts.NO_DATA and "data-value" not in by_code["01"].attrib
    assert tip(by_code["44"]).startswith("Loire-Atlantique (44) : 30,0\u00a0% des contrats publiés en retard")
    assert tip(by_code["01"]) == "Ain (01) : aucun contrat évalué"
    assert "Retard (%)" in texts(root) and "30\u00a0%" in texts(root)
    # one projection for both axes: the drawing keeps France's proportions (about as tall as wide)
    xs = [float(v) for p in paths for v in p.get("d").replace("M", " ").replace("L", " ").replace("Z", " ").split()[0::2]]
    ys = [float(v) for p in paths for v in p.get("d").replace("M", " ").replace("L", " ").replace("Z", " ").split()[1::2]]
    assert 0.9 < (max(ys) - min(ys)) / (max(xs) - min(xs)) < 1.05
    assert max(xs) < float(root.get("viewBox").split()[2]) - 100, "the legend on the right"


def test_timeline_draws_notification_deadline_and_publication():
    root = parse(BUILDS["buyer_timeline"]())
    rows = marks(root, "contract")
    assert [r.get("data-key") for r in rows] == ["A1 · 05/01/2026", "? · 10/02/2026", "C3 · 15/03/2026"]
    assert len(marks(root, "notification")) == 3 and len(marks(root, "deadline")) == 3
    assert [p.get("data-value") for p in marks(root, "publication")] == ["on_time", "late"]
    assert tip(marks(root, "publication")[1]) == "C3 · 15/03/2026 : publié le 01/07/2026 (Publié en retard)"
    assert "Publication — Publié en retard" in texts(root)
    # dates on top, in French
    labels = texts(root)
    assert "janv. 2026" in labels or "févr. 2026" in labels


def test_hostile_names_are_escaped_everywhere():
    svgs = [charts.verdicts_by_platform(_verdicts(HOSTILE)), charts.platform_rates(_rates(HOSTILE)),
            charts.buyer_timeline(_timeline().assign(contract_id=[HOSTILE, None, "C3"],
                                                     status_label=[HOSTILE, "x", "y"]))]
    flat = HOSTILE.replace("\n\n", " ")  # on one line (see charts.esc)
    for svg in svgs:
        root = parse(svg)  # still well-formed
        assert svg.count("<svg") == 1 and svg.count("</svg>") == 1 and svg.endswith("</svg>")
        assert "<script" not in svg and "<i>" not in svg and "\n" not in svg
        assert any(flat in "".join(e.itertext()) for e in root.iter(f"{SVG}title")), "shown as text"
    departements = _departements().assign(departement_name=[HOSTILE, "Rhône", "x"])
    assert HOSTILE.replace("\n\n", " ") in tip(next(p for p in marks(parse(charts.departement_map(
        departements, reference.geojson())), "dept") if p.get("data-key") == "44"))


def test_a_control_character_in_a_name_does_not_break_the_svg():
    parse(charts.platform_rates(_rates("PLACE\x00\x1b\ufffe")))
