"""The dashboard's charts, drawn on the server as inline SVG and labelled in French.

Each function returns one `<svg>` string that widgets.chart() puts in the page: no JavaScript
chart library runs in the browser. The JavaScript charts of the overview's first tab cost
0.1–1.4 s of drawing in the browser at national scale, after the script was done; an SVG of a
few hundred elements is laid out with the page.

What every chart keeps: French numbers (decimal comma, narrow no-break space between thousands:
core.french), French month names, Okabe–Ito colours (told apart with any colour vision), a
legend, axis ticks, a native tooltip on every bar, point and département (an SVG `<title>`), a
width that follows the column (viewBox, width 100 %), and for screen readers role="img", an
aria-label and a `<title>`/`<desc>` summing the chart up (its figures are also in a table under it).
Text and axes are drawn in `currentColor`: they follow Streamlit's light or dark theme.

Every mark the data gives carries `data-key` (its month, bin, platform or département) and
`data-value` (the raw number drawn), so that tests can compare what a chart shows with the tables.
Text from the data (platform names, contract ids) is escaped: it is never markup.
"""
from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Optional

import pandas as pd

from decp_monitor.core.french import SHORT_MONTHS, fr_day, fr_month
from decp_monitor.dashboard.format import fr_number, fr_percent

# Okabe–Ito colours: late is vermillion, on time blue — never red against green alone; every
# chart also has its figures in a table under it.
LATE = "#D55E00"
ON_TIME = "#0072B2"
GREY = "#929292"
NO_DATA = "#D6D6D6"
STATUS_COLORS = {
    "on_time": ON_TIME, "late": LATE, "declared_on_time_observed_late": "#E69F00",
    "no_publication_date": GREY, "no_notification_date": GREY, "published_before_notification": "#CC79A7",
}
VERDICT_COLORS = {
    "compliant": ON_TIME, "late": LATE, "missing": "#CC79A7", "stale": "#E69F00",
    "undeclared": "#56B4E9", "invalid_siret": "#3A3A3A", "no_recent_data": GREY,
    "closed": "#5E2A2B",  # register of buyers: a closed establishment
}
# The map's scale: pale to vermillion through orange.
MAP_SCALE = ((0.0, "#F5F5FE"), (0.5, "#FC5D00"), (1.0, LATE))

# viewBox widths, about the width of the column the chart is shown in at a 1440-pixel window (text
# scales with the chart: drawn at about its nominal size there, smaller on a narrow screen).
HALF = 520   # one of two columns
FULL = 960   # the whole page width
FONT = 12
CHAR = 0.56 * FONT  # average advance of a character of the page's sans-serif font: label widths
AXIS = 'stroke="currentColor" stroke-opacity="0.45"'
GRID = 'stroke="currentColor" stroke-opacity="0.13"'


def pending_from(as_of) -> Optional[pd.Timestamp]:
    """The first month of notification whose two-month deadline may fall after `as_of`.

    From that month on, a contract published late is not yet in the data (or not yet late): the
    late share of those months can only rise, so the chart marks them as provisional.
    """
    if as_of is None or pd.isna(as_of):
        return None
    day = pd.Timestamp(as_of)
    # Month M is complete when its last deadline, the last day of M+2, is on or before as_of.
    month_end = day == day + pd.offsets.MonthEnd(0)
    return (day.to_period("M") - (1 if month_end else 2)).to_timestamp()


# -- SVG text --------------------------------------------------------------------------------

# Characters XML 1.0 forbids (control characters, lone surrogates): dropped, the SVG stays well formed.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Line breaks and tabs only: the no-break spaces of French figures stay.
_SPACES = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")


def esc(value) -> str:
    """Text from the data, inert inside an SVG element or attribute.

    On one line: widgets.chart() hands the SVG to Streamlit's Markdown as one raw-HTML block,
    which a blank line would end (the rest would be read as Markdown).
    """
    text = _SPACES.sub(" ", _NOT_XML.sub("", str(value)))
    return html.escape(text, quote=True)


def _f(x: float) -> str:
    """A coordinate: a tenth of a viewBox unit is below a pixel at any column width."""
    return f"{x:.1f}"


def _num(value: float) -> str:
    """A raw value for data-value: full precision, machine-readable."""
    return repr(round(float(value), 9))


def _width(text: str, size: float = FONT) -> float:
    return len(text) * 0.56 * size


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


# The mark under the pointer stands out, so the reader sees which one the tooltip is about (an
# inline SVG's <style> applies to the whole page: scoped to the charts' class).
HOVER = ("<style>svg.decp-chart g:hover>.bar,svg.decp-chart .bar:hover{fill-opacity:1;filter:brightness(0.85)}"
         "svg.decp-chart .dept:hover{stroke:currentColor;stroke-width:1.6}"
         "svg.decp-chart g:hover>rect[fill=transparent]{fill:currentColor;fill-opacity:0.06}</style>")


# Narrower than this share of its viewBox, a chart's text would fall below ~9 px (on a phone): the
# chart keeps this width and its box scrolls sideways instead (widgets.chart).
MIN_SCALE = 0.75


def _svg(width: float, height: float, title: str, desc: str, body: Iterable[str], kind: str,
         max_width: str = "100%") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="decp-chart" data-chart="{kind}" '
            f'viewBox="0 0 {_f(width)} {_f(height)}" width="100%" role="img" aria-label="{esc(title)}" '
            f'font-size="{FONT}" fill="currentColor" '
            f'style="display:block;height:auto;max-width:{max_width};min-width:{_f(width * MIN_SCALE)}px">'
            f"<title>{esc(title)}</title><desc>{esc(desc)}</desc>{HOVER}" + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: Optional[float] = None,
          extra: str = "") -> str:
    size_attr = f' font-size="{size}"' if size else ""
    return (f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{size_attr}{extra}>{esc(text)}</text>')


def _vtext(x: float, y: float, text: str) -> str:
    """An axis title turned a quarter (reads bottom to top), centred on (x, y)."""
    return (f'<text transform="translate({_f(x)} {_f(y)}) rotate(-90)" text-anchor="middle">'
            f"{esc(text)}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(0.0, w))}" height="{_f(max(0.0, h))}" '
            f'fill="{fill}"{extra}/>')


# -- numbers and axes ------------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or bool(pd.isna(value))


def _count(value) -> str:
    return fr_number(int(value))


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top` (steps of 1, 2, 2.5 or 5 × 10^k)."""
    if not top or top <= 0 or math.isnan(top):
        top = 1.0
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_label(value: float, ticks: Sequence[float]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    return fr_number(value, 0 if float(step).is_integer() else 1)


def _y_axis(ticks: Sequence[float], scale, x0: float, x1: float, side: str = "left",
            grid: bool = True, suffix: str = "") -> list[str]:
    out = []
    for t in ticks:
        y = scale(t)
        if grid:
            out.append(f'<line x1="{_f(x0)}" x2="{_f(x1)}" y1="{_f(y)}" y2="{_f(y)}" {GRID}/>')
        label = _tick_label(t, ticks) + suffix
        if side == "left":
            out.append(_text(x0 - 6, y + 4, label, "end"))
        else:
            out.append(_text(x1 + 6, y + 4, label, "start"))
    return out


def _x_axis(ticks: Sequence[float], scale, y0: float, y1: float, suffix: str = "") -> list[str]:
    """Vertical grid lines and labels under the plot (a horizontal bar chart's value axis)."""
    out = []
    for t in ticks:
        x = scale(t)
        out.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(y0)}" y2="{_f(y1)}" {GRID}/>')
        out.append(_text(x, y1 + 16, _tick_label(t, ticks) + suffix, "middle"))
    return out


def _legend(items: Sequence[tuple[str, str]], x: float, y: float, right: float) -> tuple[list[str], float]:
    """Swatches and labels left to right, wrapped at `right`; items are (mark SVG at (0,0), label).
    Returns the elements and the y under the last line."""
    out = ['<g class="legend">']
    cx, cy = x, y
    for mark, label in items:
        w = 22 + _width(label) + 14
        if cx > x and cx + w > right:
            cx, cy = x, cy + 18
        out.append(f'<g transform="translate({_f(cx)} {_f(cy)})">{mark}{_text(20, 4, label)}</g>')
        cx += w
    out.append("</g>")
    return out, cy + 18


def _swatch(color: str, opacity: float = 1.0) -> str:
    extra = f' fill-opacity="{opacity}"' if opacity < 1 else ""
    return _rect(0, -6, 14, 12, color, extra)


def _linear(d0: float, d1: float, r0: float, r1: float):
    span = (d1 - d0) or 1.0
    return lambda v: r0 + (float(v) - d0) * (r1 - r0) / span


# -- monthly: late share (bars) and median delay (line) -----------------------------------------


def monthly(df: pd.DataFrame, as_of=None, width: float = HALF) -> str:
    """Late share by month of notification (bars, left axis) and median delay (line, right axis);
    the provisional months (pending_from) on a grey band. Months without a row stay empty."""
    height = 380.0
    left, right, top, bottom = 56.0, width - 56.0, 54.0, height - 58.0
    months = pd.period_range(pd.Timestamp(df["month"].min()), pd.Timestamp(df["month"].max()), freq="M")
    rows = {pd.Timestamp(r.month).to_period("M"): r for r in df.itertuples()}
    n = len(months)
    band = (right - left) / n
    shares = [100 * float(r.late_share) for r in rows.values() if not _missing(r.late_share)]
    delays = [float(r.median_delay_days) for r in rows.values() if not _missing(r.median_delay_days)]
    share_ticks = nice_ticks(max(shares, default=0.0) or 10.0)
    delay_ticks = nice_ticks(max(delays, default=0.0) or 10.0, 5)
    ys = _linear(0, share_ticks[-1], bottom, top)
    yd = _linear(0, delay_ticks[-1], bottom, top)

    body: list[str] = []
    legend_items = [(_swatch(LATE, 0.8), "Part publiée en retard (%)"),
                    ('<line x1="0" x2="14" y1="0" y2="0" stroke="currentColor" stroke-width="2"/>'
                     '<circle cx="7" cy="0" r="3"/>', "Délai médian (jours)")]
    start = pending_from(as_of)
    first_pending = None
    if start is not None and months[-1] >= start.to_period("M"):
        first_pending = max(months[0], start.to_period("M"))
        x0 = left + band * (first_pending - months[0]).n
        body.append(_rect(x0, top, right - x0, bottom - top, GREY, ' fill-opacity="0.18" class="provisional"'))
        # Above the plot at the band's end (the band always reaches the last month): a one-month
        # band is narrower than the word.
        body.append(_text(right, top - 6, "provisoire", "end", extra=' fill-opacity="0.8"'))
        legend_items.append((_swatch(GREY, 0.3), "Mois provisoires"))
    legend, _ = _legend(legend_items, left, 14, right)
    body += legend
    body += _y_axis(share_ticks, ys, left, right, "left")
    body += _y_axis(delay_ticks, yd, left, right, "right", grid=False)
    body.append(f'<line x1="{_f(left)}" x2="{_f(right)}" y1="{_f(bottom)}" y2="{_f(bottom)}" {AXIS}/>')

    # Month labels every k months, from January (a calendar's rhythm); the year under January's
    # and under the first label.
    k = next(s for s in (1, 2, 3, 6, 12, 24) if s * band >= _width("janv.") + 10)
    labelled = [i for i, m in enumerate(months) if (m.month - 1) % min(k, 12) == 0 and (k <= 12 or m.year % 2 == 0)]
    for i in labelled:
        month = months[i]
        x = left + band * (i + 0.5)
        body.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(bottom)}" y2="{_f(bottom + 4)}" {AXIS}/>')
        body.append(_text(x, bottom + 16, SHORT_MONTHS[month.month - 1], "middle"))
        if month.month == 1 or i == labelled[0]:
            body.append(_text(x, bottom + 29, str(month.year), "middle"))
    body.append(_text((left + right) / 2, height - 4, "Mois de notification", "middle"))
    body.append(_vtext(14, (top + bottom) / 2, "Part en retard (%)"))
    body.append(_vtext(width - 8, (top + bottom) / 2, "Délai médian (jours)"))

    line: list[str] = []
    points: list[str] = []
    pen_down = False
    for i, month in enumerate(months):
        row = rows.get(month)
        x = left + band * (i + 0.5)
        day = month.to_timestamp().date()
        name = fr_month(day) + (" (provisoire)" if first_pending is not None and month >= first_pending else "")
        if row is None or _missing(row.late_share):
            tip = f"{name} : aucun contrat évalué"
            bar = ""
        else:
            share = 100 * float(row.late_share)
            tip = (f"{name} : {fr_percent(row.late_share)} publiés en retard "
                   f"({_count(row.late)} sur {_count(row.assessed)})")
            bar = _rect(x - band * 0.4, ys(share), band * 0.8, bottom - ys(share), LATE,
                        f' fill-opacity="0.8" class="bar" data-key="{month}" data-value="{_num(share)}"')
        raw = None if row is None else row.median_delay_days
        delay = None if raw is None or pd.isna(raw) else float(raw)
        if delay is not None:
            tip += f", délai médian {fr_number(delay, 0)} jours"
        body.append(f'<g class="month"><title>{esc(tip)}</title>'
                    + _rect(left + band * i, top, band, bottom - top, "transparent") + bar + "</g>")
        if delay is None:
            pen_down = False
            continue
        y = yd(delay)
        line.append(f"{'L' if pen_down else 'M'}{_f(x)} {_f(y)}")
        pen_down = True
        points.append(f'<circle class="point" cx="{_f(x)}" cy="{_f(y)}" r="3" data-key="{month}" '
                      f'data-value="{_num(delay)}"><title>{esc(fr_month(day))} : délai médian '
                      f"{fr_number(delay, 0)} jours</title></circle>")
    if line:
        body.append(f'<path d="{"".join(line)}" fill="none" stroke="currentColor" stroke-width="2"/>')
    body += points

    title = "Part des contrats publiés en retard et délai médian, par mois de notification"
    desc = (f"{n} mois, de {fr_month(months[0].to_timestamp().date())} à {fr_month(months[-1].to_timestamp().date())}. "
            f"Part en retard de {fr_number(min(shares, default=0), 1)} à {fr_number(max(shares, default=0), 1)} % ; "
            f"délai médian de {fr_number(min(delays, default=0), 0)} à {fr_number(max(delays, default=0), 0)} jours."
            + (f" Mois provisoires à partir de {fr_month(first_pending.to_timestamp().date())}."
               if first_pending is not None else ""))
    return _svg(width, height, title, desc, body, "monthly")


# -- delay histogram ---------------------------------------------------------------------------


def delay_histogram(df: pd.DataFrame, bin_days: int = 10, two_months: int = 61,
                    low: int = -30, high: int = 365, width: float = HALF) -> str:
    """Bars of `bin_days`; the query clips delays to [low, high], so the end bars hold the tails.
    Bins starting at two months or later are orange."""
    height = 380.0
    left, right, top, bottom = 64.0, width - 16.0, 40.0, height - 52.0
    starts = [int(s) for s in df["bin_start"]]
    lo = min([low, *starts])
    hi = max([high, *(s + bin_days for s in starts)])
    xs = _linear(lo, hi, left, right)
    counts = [int(c) for c in df["contracts"]]
    ticks = nice_ticks(max(counts, default=0) or 1)
    if ticks[-1] < 5:
        ticks = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0][: max(2, int(ticks[-1]) + 1)]
    ys = _linear(0, ticks[-1], bottom, top)

    def label(start: int) -> str:
        if start <= low:
            return f"{low} jours ou moins (publié avant la notification)"
        if start + bin_days > high:
            return f"{start} jours ou plus"
        return f"{start} à {start + bin_days - 1} jours"

    body, _ = _legend([(_swatch(ON_TIME), "Dans les deux mois"), (_swatch(LATE), "Au-delà de deux mois")], left, 14, right)
    body += _y_axis(ticks, ys, left, right)
    body.append(f'<line x1="{_f(left)}" x2="{_f(right)}" y1="{_f(bottom)}" y2="{_f(bottom)}" {AXIS}/>')
    step = next(s for s in (30, 60, 90, 120, 180, 365, 730) if (hi - lo) / s <= 8)
    for t in range(math.ceil(lo / step) * step, hi + 1, step):
        x = xs(t)
        body.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(bottom)}" y2="{_f(bottom + 4)}" {AXIS}/>')
        body.append(_text(x, bottom + 17, fr_number(t), "middle"))
    body.append(_text((left + right) / 2, height - 8, "Jours entre notification et publication déclarée", "middle"))
    body.append(_vtext(14, (top + bottom) / 2, "Contrats"))
    for start, count in zip(starts, counts):
        x0, x1 = xs(start), xs(start + bin_days)
        color = LATE if start >= two_months else ON_TIME
        tip = f"{label(start)} : {_count(count)} contrat{'s' if count > 1 else ''}"
        body.append(f'<g class="bin"><title>{esc(tip)}</title>'
                    + _rect(x0, top, x1 - x0, bottom - top, "transparent")
                    + _rect(x0 + 0.025 * (x1 - x0), ys(count), 0.95 * (x1 - x0), bottom - ys(count), color,
                            f' class="bar" data-key="{start}" data-value="{count}"') + "</g>")
    x = xs(two_months)
    body.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(top)}" y2="{_f(bottom)}" stroke="currentColor" '
                'stroke-dasharray="5 4" stroke-width="1.2"/>')
    body.append(_text(x + 4, top + 12, "deux mois"))

    total = sum(counts)
    late = sum(c for s, c in zip(starts, counts) if s >= two_months)
    title = "Distribution des délais de publication"
    desc = (f"{_count(total)} contrats par tranches de {bin_days} jours, de {lo} à {hi} jours ; "
            f"{_count(late)} publiés au-delà de deux mois ({fr_percent(late / total if total else None)}).")
    return _svg(width, height, title, desc, body, "delay_histogram")


# -- horizontal bars -----------------------------------------------------------------------------


def _label_column(names: Sequence[str], chars: int = 30) -> tuple[list[str], float]:
    shown = [_clip(str(n), chars) for n in names]
    return shown, min(_width("x" * chars), max([_width(s) for s in shown] + [40.0])) + 14


def verdicts_by_platform(df: pd.DataFrame, other: str = "Autres", width: float = FULL) -> str:
    """Buyers by verdict, one stacked bar per platform; the largest on top, the group at the bottom."""
    order = df.groupby("platform")["buyers"].sum().sort_values().index.tolist()
    if other in order:  # the group goes to the bottom, whatever its size
        order = [other] + [p for p in order if p != other]
    rows = list(reversed(order))  # top to bottom
    verdicts = list(dict.fromkeys(df["verdict"]))  # the query's order: most favourable first
    labels = {v: str(df.loc[df["verdict"] == v, "verdict_label"].iloc[0]) for v in verdicts}
    legend, legend_bottom = _legend([(_swatch(VERDICT_COLORS.get(v, GREY)), labels[v]) for v in verdicts], 8, 14, width - 8)
    shown, label_w = _label_column(rows)
    row_h = 28.0
    left, right, top = label_w, width - 24.0, legend_bottom + 4
    bottom = top + row_h * len(rows)
    height = bottom + 44
    totals = df.groupby("platform")["buyers"].sum()
    ticks = nice_ticks(float(totals.max()) if len(totals) else 1.0)
    if ticks[-1] < 5:
        ticks = [float(t) for t in range(int(ticks[-1]) + 1)] if ticks[-1] >= 1 else [0.0, 1.0]
    xs = _linear(0, ticks[-1], left, right)
    body = legend + _x_axis(ticks, xs, top, bottom)
    cells = {(p, v): int(b) for p, v, b in zip(df["platform"], df["verdict"], df["buyers"])}
    for i, (platform, name) in enumerate(zip(rows, shown)):
        y = top + row_h * i
        body.append(f'<text x="{_f(left - 8)}" y="{_f(y + row_h / 2 + 4)}" text-anchor="end">'
                    f"<title>{esc(platform)} : {_count(totals[platform])} acheteurs</title>{esc(name)}</text>")
        acc = 0
        for verdict in verdicts:
            count = cells.get((platform, verdict))
            if not count:
                continue
            tip = f"{platform} — {labels[verdict]} : {_count(count)} acheteur{'s' if count > 1 else ''}"
            body.append(_rect(xs(acc), y + 4, xs(acc + count) - xs(acc), row_h - 8, VERDICT_COLORS.get(verdict, GREY),
                              f' class="bar" data-key="{esc(platform)}|{esc(verdict)}" data-value="{count}"')[:-2]
                        + f"><title>{esc(tip)}</title></rect>")
            acc += count
    body.append(f'<line x1="{_f(left)}" x2="{_f(left)}" y1="{_f(top)}" y2="{_f(bottom)}" {AXIS}/>')
    body.append(_text((left + right) / 2, height - 8, "Acheteurs", "middle"))
    title = "Verdicts des acheteurs par plateforme"
    desc = (f"{len(rows)} plateformes, {_count(int(df['buyers'].sum()))} acheteurs. "
            + " ; ".join(f"{labels[v]} : {_count(int(df.loc[df['verdict'] == v, 'buyers'].sum()))}" for v in verdicts)
            + ".")
    return _svg(width, height, title, desc, body, "verdicts_by_platform")


def platform_rates(df: pd.DataFrame, width: float = FULL) -> str:
    """Late share per platform, most late on top; the figures and the median delay in the tooltip."""
    df = df.sort_values(["late_rate", "contracts_assessed"], ascending=False, na_position="last")
    rows = [str(p) for p in df["platform"]]
    shown, label_w = _label_column(rows)
    row_h = 28.0
    left, right, top = label_w, width - 60.0, 12.0
    bottom = top + row_h * len(rows)
    height = bottom + 44
    rates = [100 * float(r) for r in df["late_rate"] if not _missing(r)]
    ticks = nice_ticks(max(rates, default=0.0) or 10.0)
    xs = _linear(0, ticks[-1], left, right)
    body = _x_axis(ticks, xs, top, bottom)
    for i, (row, name) in enumerate(zip(df.itertuples(), shown)):
        y = top + row_h * i
        body.append(_text(left - 8, y + row_h / 2 + 4, name, "end"))
        if _missing(row.late_rate):
            tip = f"{row.platform} : aucun contrat évalué"
            bar = _text(left + 6, y + row_h / 2 + 4, "aucun contrat évalué", extra=' fill-opacity="0.7"')
        else:
            share = 100 * float(row.late_rate)
            tip = (f"{row.platform} : {fr_percent(row.late_rate)} en retard ({_count(row.late_contracts)} sur "
                   f"{_count(row.contracts_assessed)})"
                   + ("" if _missing(row.median_delay_days)
                      else f", délai médian {fr_number(float(row.median_delay_days), 0)} jours"))
            bar = (_rect(left, y + 4, xs(share) - left, row_h - 8, LATE,
                         f' class="bar" data-key="{esc(row.platform)}" data-value="{_num(share)}"')
                   + _text(xs(share) + 5, y + row_h / 2 + 4, fr_percent(row.late_rate)))
        body.append(f'<g class="platform"><title>{esc(tip)}</title>'
                    + _rect(0, y, width, row_h, "transparent") + bar + "</g>")
    body.append(f'<line x1="{_f(left)}" x2="{_f(left)}" y1="{_f(top)}" y2="{_f(bottom)}" {AXIS}/>')
    body.append(_text((left + right) / 2, height - 8, "Part des contrats évalués publiés en retard (%)", "middle"))
    title = "Part des contrats publiés en retard, par plateforme"
    desc = (f"{len(rows)} plateformes" + (f", de {fr_number(min(rates), 1)} à {fr_number(max(rates), 1)} % "
                                          "des contrats évalués publiés en retard." if rates else "."))
    return _svg(width, height, title, desc, body, "platform_rates")


# -- map of the départements ---------------------------------------------------------------------


def _mix(a: str, b: str, t: float) -> str:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02X}" for x, y in zip(ca, cb))


def scale_color(t: float) -> str:
    """The map's colour for t in 0..1 (linear between MAP_SCALE's stops)."""
    t = min(1.0, max(0.0, t))
    for (t0, c0), (t1, c1) in zip(MAP_SCALE, MAP_SCALE[1:]):
        if t <= t1:
            return _mix(c0, c1, (t - t0) / (t1 - t0))
    return MAP_SCALE[-1][1]


def _map_paths(geojson: dict, x0: float, y0: float, size: float) -> tuple[dict[str, str], float, float]:
    """SVG path data per département, fitted in a size × size box at (x0, y0); also the drawn
    width and height.

    The outlines came from an SVG drawing, mapped linearly onto a longitude/latitude box
    (register/build_reference.py): the same linear map back, with one scale for both axes, draws
    them as that drawing showed them (a plate carrée projection of the box, fixed)."""
    lons: list[float] = []
    lats: list[float] = []
    for feature in geojson["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                lons += [p[0] for p in ring]
                lats += [p[1] for p in ring]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    k = size / max(east - west, north - south)
    paths = {}
    for feature in geojson["features"]:
        parts = []
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                points = [f"{(lon - west) * k + x0:.1f} {(north - lat) * k + y0:.1f}" for lon, lat in ring]
                parts.append("M" + "L".join(points) + "Z")
        paths[str(feature["id"])] = "".join(parts)
    return paths, (east - west) * k, (north - south) * k


def departement_map(df: pd.DataFrame, geojson: dict) -> str:
    """Late share by département, filled outlines (shipped with the package, register/data/LICENCES.md);
    grey where no contract is assessed. Drawn without any network access."""
    codes = {str(f["id"]) for f in geojson["features"]}
    shown = df[df["assessed"].fillna(0) > 0].set_index("departement")
    shown = shown[shown.index.isin(codes)]  # overseas départements: named under the map, not on its scale
    top = max(10.0, float((shown["late_share"] * 100).max()) if len(shown) else 10.0)
    paths, map_w, map_h = _map_paths(geojson, 8, 8, 540)
    height = max(map_h + 16, 400.0)
    body = []
    for feature in geojson["features"]:
        code = str(feature["id"])
        if code in shown.index:
            row = shown.loc[code]
            share = float(row["late_share"] or 0.0)
            color = scale_color(100 * share / top)
            tip = (f"{row['departement_name']} ({code}) : {fr_percent(share)} des contrats publiés en retard — "
                   f"{_count(row['late'])} sur {_count(row['assessed'])} contrats évalués · {_count(row['buyers'])} "
                   f"acheteur{'s' if int(row['buyers']) > 1 else ''}")
            data = f' data-value="{_num(share)}"'
        else:
            color = NO_DATA
            tip = f"{feature['properties'].get('nom', code)} ({code}) : aucun contrat évalué"
            data = ""
        body.append(f'<path class="dept" data-key="{esc(code)}"{data} d="{paths[code]}" fill="{color}" '
                    f'stroke="#FFFFFF" stroke-width="0.6" stroke-linejoin="round"><title>{esc(tip)}</title></path>')
    # The colour legend: a bar of 20 steps, 0 % at the bottom.
    lx, ly, lh = 8 + map_w + 28, 40.0, 220.0
    body.append(_text(lx, ly - 14, "Retard (%)"))
    steps = 20
    for i in range(steps):
        body.append(_rect(lx, ly + lh * (steps - 1 - i) / steps, 14, lh / steps + 0.5, scale_color((i + 0.5) / steps)))
    for t in nice_ticks(top, 4):
        if t <= top + 1e-9:
            y = ly + lh - lh * t / top
            body.append(f'<line x1="{_f(lx + 14)}" x2="{_f(lx + 18)}" y1="{_f(y)}" y2="{_f(y)}" {AXIS}/>')
            body.append(_text(lx + 22, y + 4, f"{fr_number(t, 0)}\u00a0%"))
    body.append(_rect(lx, ly + lh + 24, 14, 12, NO_DATA))
    body.append(_text(lx + 20, ly + lh + 34, "aucun contrat"))
    body.append(_text(lx + 20, ly + lh + 48, "évalué"))

    title = "Part des contrats publiés en retard, par département"
    worst = shown["late_share"].sort_values(ascending=False).head(3) if len(shown) else pd.Series(dtype=float)
    names = shown["departement_name"].to_dict() if len(shown) else {}
    desc = (f"{len(shown)} départements avec des contrats évalués sur {len(geojson['features'])} ; "
            + (f"les plus en retard : {', '.join(f'{names.get(c, c)} {fr_percent(v)}' for c, v in worst.items())}."
               if len(worst) else "aucun contrat évalué."))
    return _svg(lx + 110, height, title, desc, body, "departement_map", max_width=f"{_f(lx + 110)}px")


# -- a buyer's timeline --------------------------------------------------------------------------


def _time_ticks(first: dt.date, last: dt.date, room: float) -> list[tuple[dt.date, str]]:
    """First-of-month ticks spaced so that their labels fit in `room` units."""
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    for step in (1, 2, 3, 6, 12, 24, 60):
        if months / step * (_width("janv. 2026") + 12) <= room:
            break
    ticks = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        if (m - 1) % step == 0 and (step < 12 or m == 1):
            day = dt.date(y, m, 1)
            if first <= day <= last:
                ticks.append((day, str(y) if step >= 12 else fr_month(day, short=True)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return ticks


def _diamond(x: float, y: float, r: float = 6) -> str:
    return f"{_f(x)},{_f(y - r)} {_f(x + r)},{_f(y)} {_f(x)},{_f(y + r)} {_f(x - r)},{_f(y)}"


def buyer_timeline(df: pd.DataFrame, width: float = FULL) -> str:
    """One line per contract, oldest on top: notification (dot) → deadline (tick), and the
    declared publication (diamond coloured by status); dates on top, where the reader starts."""
    df = df.sort_values("notification_date", kind="stable").reset_index(drop=True)
    # A contract id may be reused (lots, typos): the notification date keeps each line apart.
    labels = [f"{cid if isinstance(cid, str) and cid else '?'} · {pd.Timestamp(d):%d/%m/%Y}"
              for cid, d in zip(df["contract_id"], df["notification_date"])]
    with_labels = len(df) <= 40
    shown, label_w = _label_column(labels, 28) if with_labels else (labels, 12.0)
    height = float(min(900, max(320, 130 + 18 * len(df))))
    statuses = [s for s in dict.fromkeys(df.loc[df["publication_date"].notna(), "status"])]
    status_labels = {s: str(df.loc[df["status"] == s, "status_label"].iloc[0]) for s in statuses}
    legend_items = [('<circle cx="7" cy="0" r="4"/>', "Notification"),
                    ('<line x1="7" x2="7" y1="-7" y2="7" stroke="currentColor" stroke-width="2"/>', "Échéance (deux mois)")]
    legend_items += [(f'<polygon points="{_diamond(7, 0, 6)}" fill="{STATUS_COLORS.get(s, GREY)}"/>',
                      f"Publication — {status_labels[s]}") for s in statuses]
    _, legend_h = _legend(legend_items, 8, 0, width - 8)
    left, right, top = label_w, width - 20.0, 36.0
    bottom = height - legend_h - 14
    dates = pd.concat([df["notification_date"], df["deadline"], df["publication_date"]]).dropna()
    first, last = pd.Timestamp(dates.min()), pd.Timestamp(dates.max())
    pad = max(pd.Timedelta(days=5), (last - first) * 0.03)
    d0, d1 = first - pad, last + pad
    xs = _linear(0, (d1 - d0).total_seconds(), left, right)

    def x(value) -> float:
        return xs((pd.Timestamp(value) - d0).total_seconds())

    body: list[str] = []
    for day, text in _time_ticks(d0.date(), d1.date(), right - left):
        tx = x(day)
        body.append(f'<line x1="{_f(tx)}" x2="{_f(tx)}" y1="{_f(top)}" y2="{_f(bottom)}" {GRID}/>')
        body.append(_text(tx, top - 10, text, "middle"))
    body.append(f'<line x1="{_f(left)}" x2="{_f(right)}" y1="{_f(top)}" y2="{_f(top)}" {AXIS}/>')
    row_h = (bottom - top) / max(1, len(df))
    for i, (row, label, name) in enumerate(zip(df.itertuples(), labels, shown)):
        y = top + row_h * (i + 0.5)
        parts = [f'<g class="contract" data-key="{esc(label)}">']
        if with_labels:
            parts.append(_text(left - 8, y + 4, name, "end"))
        end = row.publication_date if pd.notna(row.publication_date) else row.deadline
        if pd.notna(end):
            parts.append(f'<line x1="{_f(x(row.notification_date))}" x2="{_f(x(end))}" y1="{_f(y)}" y2="{_f(y)}" '
                         f'stroke="{GREY}" stroke-width="1.5"/>')
        parts.append(f'<circle class="notification" cx="{_f(x(row.notification_date))}" cy="{_f(y)}" r="4">'
                     f"<title>{esc(label)} : notifié le {fr_day(pd.Timestamp(row.notification_date).date())}</title></circle>")
        if pd.notna(row.deadline):
            dx = x(row.deadline)
            parts.append(f'<line class="deadline" x1="{_f(dx)}" x2="{_f(dx)}" y1="{_f(y - min(7, row_h / 2))}" '
                         f'y2="{_f(y + min(7, row_h / 2))}" stroke="currentColor" stroke-width="2">'
                         f"<title>{esc(label)} : échéance le {fr_day(pd.Timestamp(row.deadline).date())}</title></line>")
        if pd.notna(row.publication_date):
            px = x(row.publication_date)
            parts.append(f'<polygon class="publication" data-value="{esc(row.status)}" '
                         f'points="{_diamond(px, y, min(6, row_h / 2))}" fill="{STATUS_COLORS.get(row.status, GREY)}">'
                         f"<title>{esc(label)} : publié le {fr_day(pd.Timestamp(row.publication_date).date())} "
                         f"({esc(row.status_label)})</title></polygon>")
        parts.append("</g>")
        body += parts
    legend, _ = _legend(legend_items, 8, bottom + 22, width - 8)
    body += legend
    title = "Chronologie des contrats : notification, échéance de deux mois et publication"
    counts = df["status_label"].value_counts()
    desc = (f"{len(df)} contrats notifiés du {fr_day(pd.Timestamp(df['notification_date'].min()).date())} au "
            f"{fr_day(pd.Timestamp(df['notification_date'].max()).date())} ; "
            + " ; ".join(f"{label} : {n}" for label, n in counts.items()) + ".")
    return _svg(width, height, title, desc, body, "buyer_timeline")
