"""Plotly figures of the dashboard, labelled in French (decimal comma, French dates)."""
from __future__ import annotations

from typing import Any, Optional

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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


def monthly(df: pd.DataFrame, as_of=None) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=df["month"], y=df["late_share"] * 100, name="Part publiée en retard (%)",
                marker_color=LATE, opacity=0.8,
                customdata=df[["late", "assessed"]].to_numpy(),
                hovertemplate="%{x|%m/%Y} : %{y:.1f} % (%{customdata[0]} sur %{customdata[1]})<extra></extra>")
    fig.add_scatter(x=df["month"], y=df["median_delay_days"], name="Délai médian (jours)", mode="lines+markers",
                    line_color=NEUTRAL, secondary_y=True,
                    hovertemplate="%{x|%m/%Y} : délai médian %{y:.0f} jours<extra></extra>")
    start = pending_from(as_of)
    if start is not None and len(df) and pd.Timestamp(df["month"].max()) >= start:
        # Bars are centred on the first of the month: the band starts half a month earlier.
        fig.add_vrect(x0=start - pd.Timedelta(days=15), x1=pd.Timestamp(df["month"].max()) + pd.Timedelta(days=15),
                      fillcolor=GREY, opacity=0.18, line_width=0, layer="below",
                      annotation_text="provisoire", annotation_position="top left",
                      annotation_font_color="#3A3A3A")
    fig.update_layout(**FRENCH_LAYOUT)
    fig.update_xaxes(tickformat="%m/%Y", title_text="Mois de notification")
    fig.update_yaxes(title_text="Part en retard (%)", rangemode="tozero", secondary_y=False)
    # Whole days, and ticks of its own (not aligned on the left axis: 8,22 / 16,44 read as noise).
    fig.update_yaxes(title_text="Délai médian (jours)", rangemode="tozero", secondary_y=True, showgrid=False,
                     tickmode="auto", nticks=6, tickformat=",.0f")
    return fig


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
    fig = go.Figure(go.Bar(x=df["bin_start"] + bin_days / 2, y=df["contracts"], width=bin_days * 0.95,
                           marker_color=colors, customdata=labels, name="Contrats",
                           hovertemplate="%{customdata} : %{y} contrats<extra></extra>"))
    fig.add_vline(x=two_months, line_dash="dash", line_color="#161616",
                  annotation_text="deux mois", annotation_position="top right")
    fig.update_layout(**FRENCH_LAYOUT, showlegend=False)
    fig.update_xaxes(title_text="Jours entre notification et publication déclarée")
    fig.update_yaxes(title_text="Contrats", tickformat=",d")
    return fig


def verdicts_by_platform(df: pd.DataFrame, other: str = "Autres") -> go.Figure:
    fig = go.Figure()
    order = df.groupby("platform")["buyers"].sum().sort_values().index.tolist()
    if other in order:  # the group goes to the bottom, whatever its size
        order = [other] + [p for p in order if p != other]
    for verdict, part in df.groupby("verdict", sort=False):
        fig.add_bar(y=part["platform"], x=part["buyers"], orientation="h", name=part["verdict_label"].iloc[0],
                    marker_color=VERDICT_COLORS.get(verdict, GREY),
                    hovertemplate="%{y} : %{x} acheteurs<extra>" + str(part["verdict_label"].iloc[0]) + "</extra>")
    # Legend in the order of the bars (plotly reverses it for stacked bars by default).
    fig.update_layout(**{**FRENCH_LAYOUT, "height": max(300, 40 + 28 * len(order)),
                         "legend": {**FRENCH_LAYOUT["legend"], "traceorder": "normal"}}, barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=order, title_text=None)
    fig.update_xaxes(title_text="Acheteurs", tickformat=",d")
    return fig


def buyer_timeline(df: pd.DataFrame) -> go.Figure:
    """One line per contract: notification → deadline, and the publication marker."""
    df = df.sort_values("notification_date").reset_index(drop=True)
    # A contract id may be reused (lots, typos): the notification date keeps each line apart.
    labels = [f"{cid or '?'} · {pd.Timestamp(d):%d/%m/%Y}" for cid, d in zip(df["contract_id"], df["notification_date"])]
    df["label"] = labels
    fig = go.Figure()
    fig.add_scatter(x=df["notification_date"], y=labels, mode="markers", name="Notification",
                    marker=dict(symbol="circle", color=NEUTRAL, size=8),
                    hovertemplate="%{y} : notifié le %{x|%d/%m/%Y}<extra></extra>")
    fig.add_scatter(x=df["deadline"], y=labels, mode="markers", name="Échéance (deux mois)",
                    marker=dict(symbol="line-ns-open", color="#161616", size=12, line_width=2),
                    hovertemplate="%{y} : échéance le %{x|%d/%m/%Y}<extra></extra>")
    for status, part in df.groupby("status", sort=False):
        part = part[part["publication_date"].notna()]
        if part.empty:
            continue
        fig.add_scatter(x=part["publication_date"], y=part["label"], mode="markers",
                        name=f"Publication — {part['status_label'].iloc[0]}",
                        marker=dict(symbol="diamond", color=STATUS_COLORS.get(status, GREY), size=10),
                        hovertemplate="%{y} : publié le %{x|%d/%m/%Y}<extra></extra>")
    # Segments notification → publication (or deadline when never published), in one trace.
    xs, ys = [], []
    for row, label in zip(df.itertuples(), labels):
        end = row.publication_date if pd.notna(row.publication_date) else row.deadline
        if pd.notna(end):
            xs += [row.notification_date, end, None]
            ys += [label, label, None]
    fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(color=GREY, width=1), showlegend=False, hoverinfo="skip")
    # A tall chart: the dates on top, where the reader starts; the legend under the last line.
    fig.update_layout(**{**FRENCH_LAYOUT, "height": min(900, max(320, 130 + 18 * len(df))),
                         "margin": dict(l=10, r=10, t=30, b=10),
                         "legend": dict(orientation="h", yanchor="top", y=-0.02, x=0)})
    fig.update_xaxes(tickformat="%d/%m/%Y", title_text=None, side="top")
    fig.update_yaxes(title_text=None, autorange="reversed", showticklabels=len(df) <= 40)
    return fig


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
    fig = go.Figure()
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
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=color, mode="lines",
                                 line=dict(color="white", width=0.6), hoveron="fills", text=hover,
                                 hoverinfo="text", showlegend=False, name=code))
    # the colour scale, on an invisible point
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(colorscale=scale, cmin=0, cmax=top, color=[0], showscale=True,
                                         colorbar=dict(title="Retard (%)", ticksuffix=" %", thickness=12, len=0.7))))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(**{**FRENCH_LAYOUT, "height": 560, "margin": dict(l=0, r=0, t=10, b=0)},
                      plot_bgcolor="white", hovermode="closest")
    return fig


def _fr_percent(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * value:.1f} %".replace(".", ",")


def platform_rates(df: pd.DataFrame) -> go.Figure:
    """Late share per platform (bars) with its median delay in the hover; most late on top."""
    df = df.sort_values(["late_rate", "contracts_assessed"], na_position="first")
    fig = go.Figure(go.Bar(
        y=df["platform"], x=df["late_rate"] * 100, orientation="h", marker_color=LATE, name="Part en retard",
        customdata=df[["late_contracts", "contracts_assessed", "median_delay_days"]].to_numpy(),
        hovertemplate="%{y} : %{x:.1f} % en retard (%{customdata[0]} sur %{customdata[1]}), "
                      "délai médian %{customdata[2]:.0f} jours<extra></extra>"))
    fig.update_layout(**{**FRENCH_LAYOUT, "height": max(260, 60 + 28 * len(df))}, showlegend=False)
    fig.update_xaxes(title_text="Part des contrats évalués publiés en retard (%)", rangemode="tozero")
    fig.update_yaxes(title_text=None)
    return fig
