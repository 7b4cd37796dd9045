"""Page building blocks: data guards, empty states, error boundaries, URL-synced filters, tables."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Optional
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from decp_monitor.dashboard import data, downloads
from decp_monitor.dashboard.columns import command_label, french_codes, short_file_names
from decp_monitor.dashboard.format import MISSING, fr_date, fr_datetime, fr_int, md_escape, paris_now, safe_url
from decp_monitor.dashboard.navigation import BUYER_URL_PATH, page_path
from decp_monitor.read import queries

log = logging.getLogger("decp_monitor.dashboard")

# Columns that only exist to be clicked: left out of the downloads.
LINK_ONLY_COLUMNS = ("fiche",)
NO_DATA_HELP = """
Pour charger des données :

- `python -m decp_monitor demo` construit la base de démonstration ;
- `python -m decp_monitor load fichiers/` charge des fichiers DECP, des déclarations de profils
  d'acheteur ou des métadonnées de jeux de données ;
- `python -m decp_monitor refresh` moissonne data.gouv.fr.

Le tableau de bord lit le répertoire de données `{data_dir}` (variable `DECP_DATA_DIR`) et
affiche la nouvelle version dès sa publication, sans redémarrage.
"""


# -- guards ------------------------------------------------------------------------------------


def require_data() -> data.Loaded:
    """The version to show; otherwise an explanatory empty state and the page stops."""
    loaded = data.current()
    if loaded is None:
        empty_state(
            "Aucune donnée chargée",
            NO_DATA_HELP.format(data_dir=data.store().root),
            icon=":material/inbox:",
        )
        st.stop()
    if loaded.outdated:
        st.warning(
            "Cette base a été construite par une version antérieure de decp-monitor : certaines pages "
            "peuvent afficher une erreur tant qu'elle n'est pas reconstruite avec cette version "
            "(`python -m decp_monitor refresh`, ou `load` de vos fichiers).",
            icon=":material/update:",
        )
    return loaded


def require_compliance(loaded: data.Loaded) -> None:
    if not q(loaded, queries.has_compliance):
        empty_state(
            "Conformité non calculée",
            "La version chargée ne contient pas encore les tables de conformité "
            "(`contract_compliance`, `buyer_compliance`). Elles sont calculées à chaque construction "
            "de la base : relancez `python -m decp_monitor load …` ou `refresh` avec une version "
            "de decp-monitor qui inclut le moteur de conformité.",
            icon=":material/calculate:",
        )
        st.stop()


def q(loaded: data.Loaded, query: Callable, *args, **kwargs):
    """A cached call of a read.queries function on the version shown."""
    return data.cached(query, *args, version_key=loaded.key, **kwargs)


def empty_state(title: str, body: str = "", icon: str = ":material/info:") -> None:
    with st.container(border=True):
        st.markdown(f"#### {icon} {title}")
        if body:
            st.markdown(body)


@contextmanager
def error_boundary(what: str) -> Iterator[None]:
    """Show a French message instead of a traceback; the details go to the server log."""
    try:
        yield
    except Exception as exc:  # Streamlit's stop/rerun are BaseException and pass through
        log.exception("dashboard section failed: %s", what)
        st.error(
            f"Impossible d'afficher {what} : une erreur est survenue ({type(exc).__name__}). "
            "Le reste de la page reste utilisable ; le détail est dans le journal du serveur.",
            icon=":material/error:",
        )


# -- URL state ---------------------------------------------------------------------------------


def note_page(url_path: str) -> None:
    """Remember whether this run shows another page than the last one (app.main, every run)."""
    st.session_state["_url_page_changed"] = st.session_state.get("_url_page") != url_path
    st.session_state["_url_page"] = url_path


def _seed(param: str, key: str, parse, default):
    """Give a widget its value from the URL on first display, when the URL changes and when the page
    changes (two pages share a parameter, « plateforme »: the new page's widget starts from the URL,
    not from the other page's widget state)."""
    raw = st.query_params.get(param)
    seen_key = f"_url_seen_{param}"
    if (key not in st.session_state or st.session_state.get(seen_key) != raw
            or st.session_state.get("_url_page_changed")):
        st.session_state[seen_key] = raw
        value = default
        if raw is not None:
            try:
                value = parse(raw)
            except (TypeError, ValueError):
                value = default
        st.session_state[key] = value


def _publish(param: str, value, default, render=str) -> None:
    if value == default or value is None or value == "" or value == []:
        if param in st.query_params:
            del st.query_params[param]
        st.session_state[f"_url_seen_{param}"] = None
    else:
        text = render(value)
        if st.query_params.get(param) != text:
            st.query_params[param] = text
        st.session_state[f"_url_seen_{param}"] = text


def url_text(label: str, param: str, default: str = "", **kwargs) -> str:
    key = f"url_{param}"
    _seed(param, key, str, default)
    value = st.text_input(label, key=key, **kwargs)
    _publish(param, value.strip(), default)
    return value.strip()


_ALL = ""  # stands for the "all" choice (None): a None selection would show Streamlit's English placeholder


def url_select(label: str, param: str, options: Sequence, default, format_func=str, **kwargs):
    key = f"url_{param}"
    has_none = None in options
    if has_none:
        options = [_ALL if o is None else o for o in options]
        default = _ALL if default is None else default
    options = list(options)
    _seed(param, key, lambda raw: raw if raw in options else default, default)
    if st.session_state[key] not in options:
        st.session_state[key] = default
    shown = (lambda v: format_func(None if v == _ALL else v)) if has_none else format_func
    value = st.selectbox(label, options, key=key, format_func=shown, **kwargs)
    _publish(param, value, default)
    return None if has_none and value == _ALL else value


def url_multiselect(label: str, param: str, options: Sequence, format_func=str, **kwargs) -> list:
    key = f"url_{param}"
    options = list(options)
    _seed(param, key, lambda raw: [v for v in raw.split(",") if v in options], [])
    st.session_state[key] = [v for v in st.session_state[key] if v in options]
    value = st.multiselect(label, options, key=key, format_func=format_func, **kwargs)
    _publish(param, value, [], render=lambda v: ",".join(v))
    return value


def url_int(label: str, param: str, default: int = 0, min_value: int = 0, **kwargs) -> int:
    key = f"url_{param}"
    _seed(param, key, lambda raw: max(min_value, int(raw)), default)
    value = st.number_input(label, min_value=min_value, step=1, key=key, **kwargs)
    _publish(param, int(value), default)
    return int(value)


def url_range(label: str, param: str, default: tuple[int, int], min_value: int, max_value: int, **kwargs):
    key = f"url_{param}"

    def parse(raw: str):
        low, high = (int(x) for x in raw.split("-"))
        return (max(min_value, min(low, high)), min(max_value, max(low, high)))

    _seed(param, key, parse, default)
    value = st.slider(label, min_value=min_value, max_value=max_value, key=key, **kwargs)
    _publish(param, tuple(value), tuple(default), render=lambda v: f"{v[0]}-{v[1]}")
    return tuple(value)


def url_number(label: str, param: str, **kwargs) -> Optional[float]:
    """An optional number (empty: no filter), e.g. an amount bound."""
    key = f"url_{param}"
    _seed(param, key, lambda raw: max(0.0, float(raw.replace(",", "."))), None)
    # Whole numbers: Streamlit's default shows « 40000.00 », an English decimal point.
    value = st.number_input(label, min_value=0.0, value=None, key=key, format="%.0f", **kwargs)
    _publish(param, value, None, render=lambda v: f"{v:g}")
    return None if value is None else float(value)


def url_date(label: str, param: str, **kwargs) -> Optional[dt.date]:
    """An optional date (empty: no filter), AAAA-MM-JJ in the URL, jj/mm/aaaa on screen."""
    key = f"url_{param}"
    _seed(param, key, lambda raw: dt.date.fromisoformat(raw[:10]), None)
    value = st.date_input(label, value=None, key=key, format="DD/MM/YYYY",
                          min_value=dt.date(2010, 1, 1), max_value=dt.date(2040, 12, 31), **kwargs)
    _publish(param, value, None, render=lambda v: v.isoformat())
    return value if isinstance(value, dt.date) else None


def url_toggle(label: str, param: str, default: bool = False, **kwargs) -> bool:
    key = f"url_{param}"
    _seed(param, key, lambda raw: raw in ("1", "true", "oui"), default)
    value = st.toggle(label, key=key, **kwargs)
    _publish(param, bool(value), default, render=lambda v: "1" if v else "0")
    return bool(value)


# -- tables ------------------------------------------------------------------------------------


def buyer_href(siret: Optional[str]) -> Optional[str]:
    """Relative link to a buyer's page: resolves against the app's base URL, whatever it is."""
    if not siret:
        return None
    return f"{BUYER_URL_PATH}?{urlencode({'siret': siret})}"


def with_buyer_links(df: pd.DataFrame, column: str = "buyer_siret", target: str = "fiche") -> pd.DataFrame:
    df = df.copy()
    df[target] = [buyer_href(s) for s in df[column]] if len(df) else pd.Series(dtype="object")
    return df


def with_safe_links(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Only http(s) URLs stay clickable; anything else is blanked (shown elsewhere as text)."""
    df = df.copy()
    for column in columns:
        if column in df.columns:
            df[column] = [safe_url(v) for v in df[column]]
    return df


def paginate(total: int, key: str, page_size: int) -> int:
    """A page selector under the counts; returns the offset of the page shown."""
    pages = max(1, -(-total // page_size))
    state_key = f"page_{key}"
    if st.session_state.get(state_key, 1) > pages:
        st.session_state[state_key] = 1
    if pages == 1:
        return 0
    narrow, _ = st.columns([1, 4])
    page = narrow.number_input(
        f"Page (sur {fr_int(pages)})", min_value=1, max_value=pages, step=1, key=state_key,
        help=f"{fr_int(page_size)} lignes par page",
    )
    return (int(page) - 1) * page_size


SINGULARS = {"contrats": "contrat", "acheteurs": "acheteur", "anomalies": "anomalie", "fichiers": "fichier",
             "modifications": "modification", "déclarations": "déclaration", "jeux de données": "jeu de données",
             "lignes": "ligne"}


def count_caption(shown: int, total: int, offset: int, noun: str = "lignes") -> None:
    if total == 0:
        return
    if shown >= total:
        st.caption(f"{fr_int(total)} {SINGULARS.get(noun, noun) if total == 1 else noun}.")
    else:
        st.caption(f"{noun.capitalize()} {fr_int(offset + 1)} à {fr_int(offset + shown)} sur {fr_int(total)}.")


def table(df: pd.DataFrame, column_config: dict, *, columns: Optional[Sequence[str]] = None,
          height="auto", key: Optional[str] = None, download: Optional[str] = None,
          empty: str = "Aucune ligne ne correspond.", full: Optional[queries.Page] = None,
          loaded: Optional[data.Loaded] = None) -> None:
    """A dataframe with French column labels and help; an explanation instead of an empty grid.

    `full` is the Page the rows come from and `loaded` its version: the downloads then hold every
    row matching the filters (the displayed columns), not only the page on screen.
    """
    if df is None or df.empty:
        st.info(empty, icon=":material/info:")
        return
    order = [c for c in (columns or column_config.keys()) if c in df.columns]
    # Shown in French (codes as labels, file names without the server's folders); downloads keep the data as is.
    shown = french_codes(short_file_names(df, "source_file"))
    opens_buyer = "fiche" in order and "buyer_siret" in df.columns
    if opens_buyer:
        # One click on a row's box opens the buyer in this tab (the « Ouvrir » link opens a new tab).
        key = key or f"open_{download or len(order)}"
        event = st.dataframe(shown, column_config=column_config, column_order=order, hide_index=True,
                             height=height, key=key, width="stretch", placeholder=MISSING,
                             on_select="rerun", selection_mode="single-row")
        chosen = event.selection.rows if event is not None else []
        if chosen:
            st.switch_page(page_path("buyer"), query_params={"siret": str(df.iloc[chosen[0]]["buyer_siret"])})
        st.caption("Cochez la case d'une ligne pour ouvrir la fiche de l'acheteur dans cet onglet "
                   "(« Ouvrir » l'ouvre dans un nouvel onglet). Au clavier : Tab jusqu'au tableau, "
                   "flèches jusqu'à la ligne, puis Maj + Espace.")
    else:
        st.dataframe(shown, column_config=column_config, column_order=order, hide_index=True,
                     height=height, key=key, width="stretch", placeholder=MISSING)
    if download:
        kept = [c for c in order if c not in LINK_ONLY_COLUMNS]
        export = _full_export(full, loaded, kept)
        if export is not None and full is not None:
            download_buttons(export, download, total_rows=full.total)
            st.caption(f"Les téléchargements contiennent les {fr_int(full.total)} lignes correspondant aux "
                       "filtres, pas seulement la page affichée.")
        else:
            download_buttons(df[kept], download)


def _full_export(full: Optional[queries.Page], loaded: Optional[data.Loaded], kept: Sequence[str]):
    """An ExportListing of the whole filtered result behind a paginated table, or None."""
    if full is None or full.listing is None or full.total <= len(full.rows):
        return None
    if loaded is None:
        raise ValueError("table(full=…) needs the version it was read from (loaded=…)")
    # Columns computed on the page (French labels beside their codes) are not in the query.
    return downloads.ExportListing(loaded.key, full.listing, tuple(c for c in kept if c in full.rows.columns))


def download_buttons(source, basename: str, **kwargs) -> None:
    """The download buttons, inside their own error boundary (a failed export leaves the page).
    File names carry the date the data is assessed at (else today's date in Paris)."""
    with error_boundary("les boutons de téléchargement"):
        loaded = data.current()
        day = None
        if loaded is not None and loaded.meta.get("as_of"):
            day = dt.date.fromisoformat(loaded.meta["as_of"][:10])
        downloads.download_buttons(source, basename, day=day or paris_now().date(), **kwargs)


# -- charts ------------------------------------------------------------------------------------


def chart(svg: str) -> None:
    """A chart of dashboard.charts (an SVG string) in the page itself, not in an iframe.

    st.markdown with unsafe_allow_html, because st.html cannot show it: in Streamlit 1.67 st.html
    runs DOMPurify with its HTML profile only (USE_PROFILES {html: true}), which removes every SVG
    element. Markdown passes raw HTML through (rehype-raw) as one block that ends at the first
    blank line: the SVG is one line, and charts.esc keeps data text on it, escaped. The SVG's
    own <title> elements give the tooltips (the browser's, no script);
    tests/browser/test_dashboard_browser.py checks they stay SVG elements in the page.
    """
    # Sideways scroll on a narrow screen: the chart keeps a legible width (charts.MIN_SCALE).
    st.markdown(f'<div class="decp-chart-box" style="overflow-x:auto">{svg}</div>', unsafe_allow_html=True)


# -- shared chrome -----------------------------------------------------------------------------


def sidebar(loaded: Optional[data.Loaded]) -> None:
    with st.sidebar:
        st.markdown("**Données affichées**")
        if loaded is None:
            st.caption("Aucune version publiée.")
            return
        meta = loaded.meta
        # Paris time; the database file's name means nothing to a reader (Méthode names the version).
        lines = [
            f"Construite le {fr_datetime(meta.get('built_at') or loaded.version.published_at)}",
            f"Origine : {command_label(meta.get('command') or loaded.version.command)}",
        ]
        if meta.get("as_of"):
            lines.append(f"Date d'évaluation : {fr_date(meta['as_of'])}")
        if meta.get("source"):
            lines.append(f"Source : {md_escape(meta['source'])}")
        st.caption("  \n".join(lines))
        if loaded.is_demo:
            st.warning("Données de démonstration : corpus généré, acheteurs fictifs.", icon=":material/science:")


def demo_notice(loaded: data.Loaded) -> None:
    if loaded.is_demo:
        st.info(
            "**Données de démonstration.** Ce corpus est généré par decp-monitor pour montrer "
            "l'outil ; les acheteurs et les contrats sont fictifs. Chargez les vraies données avec "
            "`python -m decp_monitor refresh`.",
            icon=":material/science:",
        )


def paged_query(loaded: data.Loaded, query: Callable, key: str, noun: str, page_size: int = 100,
                *args, url_param: Optional[str] = None, **kwargs) -> queries.Page:
    """Run a paginated query with a page selector; back to page 1 whenever the filters change.
    With `url_param`, the page number lives in the URL too (a shared link reopens the same page)."""
    signature = repr((args, sorted(kwargs.items())))
    state = f"page_{key}"
    if url_param:
        _seed(url_param, state, lambda raw: max(1, int(raw)), 1)
    previous = st.session_state.get(f"_filters_{key}")
    if previous != signature:
        st.session_state[f"_filters_{key}"] = signature
        if previous is not None or not url_param:  # a shared link's first display keeps its page
            st.session_state[state] = 1
    offset = (int(st.session_state.get(state, 1)) - 1) * page_size
    page = q(loaded, query, *args, limit=page_size, offset=offset, **kwargs)
    new_offset = paginate(page.total, key, page_size)
    if new_offset != page.offset:
        page = q(loaded, query, *args, limit=page_size, offset=new_offset, **kwargs)
    if url_param:
        _publish(url_param, new_offset // page_size + 1, 1)
    count_caption(len(page.rows), page.total, page.offset, noun)
    return page
