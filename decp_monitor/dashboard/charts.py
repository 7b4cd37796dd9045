"""Plotly figures of the dashboard, labelled in French (decimal comma, French dates)."""
from __future__ import annotations

from typing import Any, Optional

import pandas as pd
import plotly.graph_objects as go

# Plotly's toolbar is English and covers the legends: hidden (the tables below are downloadable).
CONFIG = {"displayModeBar": False, "locale": "fr"}
# Okabe–Ito colours: told apart with any colour vision (late is vermillion, on time blue — never
# red against green alone); every chart also has its figures in a table under it.
LATE = "#D55E00"
ON_TIME = "#0072B2"
NEUTRAL = "#000091"
GREY = "#929292"
STATUS_COLORS = {
    "on_time": ON_TIME, "late": LATE, "declared_on_time_observed_late": "#E69F00",
    "no_publication_date": GREY, "no_notification_date": GREY, "published_before_notification": "#CC79A7",
}
VERDICT_COLORS = {
    "compliant": ON_TIME, "late": LATE, "missing": "#CC79A7", "stale": "#E69F00",
    "undeclared": "#56B4E9", "invalid_siret": "#3A3A3A", "no_recent_data": GREY,
}
FRENCH_LAYOUT: dict[str, Any] = dict(separators=", ", margin=dict(l=10, r=10, t=40, b=10), height=380,
                     legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))


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


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure from plain trace and layout dicts, without plotly's per-property validation.

    Validation made the charts a page's slowest part (0.1 s for the map alone, 60 % of the
    overview's run): the specs here are fixed, and tests/dashboard/test_charts.py builds every
    chart with validation on (VALIDATE), so a wrong property still fails there.
    """
    return go.Figure(data=data, layout=layout, _validate=VALIDATE)


# Tests turn it on; the pages leave it off (see _figure).
VALIDATE = False


def _values(series: pd.Series) -> list:
    """A column as a JSON-ready list: dates as ISO strings, missing values as None."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(v) else v.isoformat() for v in series]
    return [None if pd.isna(v) else v for v in series.astype(object)]


def _rows(df: pd.DataFrame, columns: list[str]) -> list[list]:
    return [list(row) for row in zip(*(_values(df[c]) for c in columns))]


def _layout(**changes: Any) -> dict:
    return {**FRENCH_LAYOUT, **changes}


def monthly(df: pd.DataFrame, as_of=None) -> go.Figure:
    data: list[dict[str, Any]] = [
        dict(type="bar", x=_values(df["month"]), y=_values(df["late_share"] * 100), name="Part publiée en retard (%)",
             marker=dict(color=LATE), opacity=0.8, customdata=_rows(df, ["late", "assessed"]),
             hovertemplate="%{x|%m/%Y} : %{y:.1f} % (%{customdata[0]} sur %{customdata[1]})<extra></extra>"),
        dict(type="scatter", x=_values(df["month"]), y=_values(df["median_delay_days"]), name="Délai médian (jours)",
             mode="lines+markers", line=dict(color=NEUTRAL), xaxis="x", yaxis="y2",
             hovertemplate="%{x|%m/%Y} : délai médian %{y:.0f} jours<extra></extra>"),
    ]
    layout = _layout(
        xaxis=dict(anchor="y", domain=[0.0, 0.94], tickformat="%m/%Y", title=dict(text="Mois de notification")),
        yaxis=dict(anchor="x", domain=[0.0, 1.0], title=dict(text="Part en retard (%)"), rangemode="tozero"),
        # Whole days, and ticks of its own (not aligned on the left axis: 8,22 / 16,44 read as noise).
        yaxis2=dict(anchor="x", overlaying="y", side="right", title=dict(text="Délai médian (jours)"),
                    rangemode="tozero", showgrid=False, tickmode="auto", nticks=6, tickformat=",.0f"),
    )
    start = pending_from(as_of)
    if start is not None and len(df) and pd.Timestamp(df["month"].max()) >= start:
        # Bars are centred on the first of the month: the band starts half a month earlier.
        x0 = (start - pd.Timedelta(days=15)).isoformat()
        x1 = (pd.Timestamp(df["month"].max()) + pd.Timedelta(days=15)).isoformat()
        layout["shapes"] = [dict(type="rect", xref="x", yref="y domain", x0=x0, x1=x1, y0=0, y1=1, fillcolor=GREY,
                                 opacity=0.18, line=dict(width=0), layer="below")]
        layout["annotations"] = [dict(text="provisoire", showarrow=False, xref="x", yref="y domain", x=x0, y=1,
                                      xanchor="left", yanchor="top", font=dict(color="#3A3A3A"))]
    return _figure(data, layout)


def delay_histogram(df: pd.DataFrame, bin_days: int = 10, two_months: int = 61,
                    low: int = -30, high: int = 365) -> go.Figure:
    """Bars of `bin_days`; the query clips delays to [low, high], so the end bars hold the tails."""
    colors = [LATE if start >= two_months else ON_TIME for start in df["bin_start"]]

    def label(start: int) -> str:
        if start <= low:
            return f"{low} jours ou moins (publié avant la notification)"
        if start + bin_days > high:
            return f"{start} jours ou plus"
        return f"{start} à {start + bin_days - 1} jours"

    labels = [label(int(s)) for s in df["bin_start"]]
    data: list[dict[str, Any]] = [dict(type="bar", x=_values(df["bin_start"] + bin_days / 2), y=_values(df["contracts"]),
                 width=bin_days * 0.95, marker=dict(color=colors), customdata=labels, name="Contrats",
                 hovertemplate="%{customdata} : %{y} contrats<extra></extra>")]
    layout = _layout(
        showlegend=False,
        shapes=[dict(type="line", xref="x", yref="y domain", x0=two_months, x1=two_months, y0=0, y1=1,
                     line=dict(color="#161616", dash="dash"))],
        annotations=[dict(text="deux mois", showarrow=False, xref="x", yref="y domain", x=two_months, y=1,
                          xanchor="left", yanchor="top")],
        xaxis=dict(title=dict(text="Jours entre notification et publication déclarée")),
        yaxis=dict(title=dict(text="Contrats"), tickformat=",d"),
    )
    return _figure(data, layout)


def verdicts_by_platform(df: pd.DataFrame, other: str = "Autres") -> go.Figure:
    order = df.groupby("platform")["buyers"].sum().sort_values().index.tolist()
    if other in order:  # the group goes to the bottom, whatever its size
        order = [other] + [p for p in order if p != other]
    data: list[dict[str, Any]] = []
    for verdict, part in df.groupby("verdict", sort=False):
        label = str(part["verdict_label"].iloc[0])
        data.append(dict(type="bar", y=_values(part["platform"]), x=_values(part["buyers"]), orientation="h",
                         name=label, marker=dict(color=VERDICT_COLORS.get(verdict, GREY)),
                         hovertemplate="%{y} : %{x} acheteurs<extra>" + label + "</extra>"))
    # Legend in the order of the bars (plotly reverses it for stacked bars by default).
    layout = _layout(height=max(300, 40 + 28 * len(order)), barmode="stack",
                     legend={**FRENCH_LAYOUT["legend"], "traceorder": "normal"},
                     yaxis=dict(categoryorder="array", categoryarray=order),
                     xaxis=dict(title=dict(text="Acheteurs"), tickformat=",d"))
    return _figure(data, layout)


def buyer_timeline(df: pd.DataFrame) -> go.Figure:
    """One line per contract: notification → deadline, and the publication marker."""
    df = df.sort_values("notification_date").reset_index(drop=True)
    # A contract id may be reused (lots, typos): the notification date keeps each line apart.
    labels = [f"{cid or '?'} · {pd.Timestamp(d):%d/%m/%Y}" for cid, d in zip(df["contract_id"], df["notification_date"])]
    df["label"] = labels
    data: list[dict[str, Any]] = [
        dict(type="scatter", x=_values(df["notification_date"]), y=labels, mode="markers", name="Notification",
             marker=dict(symbol="circle", color=NEUTRAL, size=8),
             hovertemplate="%{y} : notifié le %{x|%d/%m/%Y}<extra></extra>"),
        dict(type="scatter", x=_values(df["deadline"]), y=labels, mode="markers", name="Échéance (deux mois)",
             marker=dict(symbol="line-ns-open", color="#161616", size=12, line=dict(width=2)),
             hovertemplate="%{y} : échéance le %{x|%d/%m/%Y}<extra></extra>"),
    ]
    for status, part in df.groupby("status", sort=False):
        part = part[part["publication_date"].notna()]
        if part.empty:
            continue
        data.append(dict(type="scatter", x=_values(part["publication_date"]), y=_values(part["label"]),
                         mode="markers", name=f"Publication — {part['status_label'].iloc[0]}",
                         marker=dict(symbol="diamond", color=STATUS_COLORS.get(status, GREY), size=10),
                         hovertemplate="%{y} : publié le %{x|%d/%m/%Y}<extra></extra>"))
    # Segments notification → publication (or deadline when never published), in one trace.
    xs: list = []
    ys: list = []
    for row, label in zip(df.itertuples(), labels):
        end = row.publication_date if pd.notna(row.publication_date) else row.deadline
        if pd.notna(end):
            xs += [pd.Timestamp(row.notification_date).isoformat(), pd.Timestamp(end).isoformat(), None]
            ys += [label, label, None]
    data.append(dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color=GREY, width=1), showlegend=False,
                     hoverinfo="skip"))
    # A tall chart: the dates on top, where the reader starts; the legend under the last line.
    layout = _layout(height=min(900, max(320, 130 + 18 * len(df))), margin=dict(l=10, r=10, t=30, b=10),
                     legend=dict(orientation="h", yanchor="top", y=-0.02, x=0),
                     xaxis=dict(tickformat="%d/%m/%Y", side="top"),
                     yaxis=dict(autorange="reversed", showticklabels=len(df) <= 40))
    return _figure(data, layout)


VERDICT_COLORS["closed"] = "#5E2A2B"  # register of buyers: a closed establishment


def departement_map(df: pd.DataFrame, geojson: dict) -> go.Figure:
    """Choropleth of the late share by département, drawn as filled outlines (shipped with the
    package, register/data/LICENCES.md). Plain filled shapes rather than plotly's geo subplot:
    that one fetches its world map from a CDN before drawing anything, and the dashboard must
    work offline. Départements without an assessed contract stay grey."""
    from plotly.colors import sample_colorscale

    scale = [[0, "#F5F5FE"], [0.5, "#FC5D00"], [1, LATE]]
    shown = df[df["assessed"].fillna(0) > 0].set_index("departement")
    top = max(10.0, float((shown["late_share"] * 100).max()) if len(shown) else 10.0)
    data: list[dict[str, Any]] = []
    for feature in geojson["features"]:
        code = feature["id"]
        xs: list = []
        ys: list = []
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                xs += [p[0] for p in ring] + [None]
                ys += [p[1] for p in ring] + [None]
        if code in shown.index:
            row = shown.loc[code]
            share = float(row["late_share"] or 0.0)
            color = sample_colorscale(scale, [min(1.0, 100 * share / top)])[0]
            hover = (f"<b>{row['departement_name']} ({code})</b><br>{_fr_percent(share)} des contrats publiés en "
                     f"retard<br>{int(row['late'])} sur {int(row['assessed'])} contrats évalués · "
                     f"{int(row['buyers'])} acheteurs")
        else:
            color = "#D6D6D6"
            hover = f"<b>{feature['properties'].get('nom', code)} ({code})</b><br>aucun contrat évalué"
        data.append(dict(type="scatter", x=xs, y=ys, fill="toself", fillcolor=color, mode="lines",
                         line=dict(color="white", width=0.6), hoveron="fills", text=hover, hoverinfo="text",
                         showlegend=False, name=code))
    # the colour scale, on an invisible point
    data.append(dict(type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                     marker=dict(colorscale=scale, cmin=0, cmax=top, color=[0], showscale=True,
                                 colorbar=dict(title=dict(text="Retard (%)"), ticksuffix=" %", thickness=12, len=0.7))))
    layout = _layout(height=560, margin=dict(l=0, r=0, t=10, b=0), plot_bgcolor="white", hovermode="closest",
                     xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x", scaleratio=1))
    return _figure(data, layout)


def _fr_percent(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * value:.1f} %".replace(".", ",")


def platform_rates(df: pd.DataFrame) -> go.Figure:
    """Late share per platform (bars) with its median delay in the hover; most late on top."""
    df = df.sort_values(["late_rate", "contracts_assessed"], na_position="first")
    data: list[dict[str, Any]] = [dict(type="bar", y=_values(df["platform"]), x=_values(df["late_rate"] * 100), orientation="h",
                 marker=dict(color=LATE), name="Part en retard",
                 customdata=_rows(df, ["late_contracts", "contracts_assessed", "median_delay_days"]),
                 hovertemplate="%{y} : %{x:.1f} % en retard (%{customdata[0]} sur %{customdata[1]}), "
                               "délai médian %{customdata[2]:.0f} jours<extra></extra>")]
    layout = _layout(height=max(260, 60 + 28 * len(df)), showlegend=False,
                     xaxis=dict(title=dict(text="Part des contrats évalués publiés en retard (%)"), rangemode="tozero"))
    return _figure(data, layout)
