"""The dashboard's entry: `streamlit run app.py` calls `main()` at every rerun.

It sets up the page and the navigation, makes sure there is something to show (the demo database
on a first run) and hands over to the page chosen in the navigation.
"""
from __future__ import annotations

import logging
import os

import streamlit as st

from decp_monitor.dashboard import data, widgets
from decp_monitor.dashboard.format import fr_int
from decp_monitor.dashboard.navigation import PAGES
from decp_monitor.pipeline import demo as demo_db

# Set to 0 to keep an empty data directory empty (no demo built on first run).
AUTO_DEMO_ENV = "DECP_AUTO_DEMO"
log = logging.getLogger("decp_monitor.app")


def build_demo_on_first_run() -> None:
    """No database yet (or an outdated demo): build the demo one, showing progress, then show it."""
    if os.environ.get(AUTO_DEMO_ENV, "1") == "0":
        return
    store = data.store()
    label = ("Premier lancement : construction de la base de démonstration…" if store.current() is None
             else "Base de démonstration d'une version antérieure de decp-monitor : reconstruction…")
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text="Préparation du corpus de démonstration")

        def progress(done: int, total: int, detail: object = None) -> None:
            share = min(1.0, done / total) if total else 1.0
            bar.progress(share, text=f"Fichiers lus : {fr_int(done)} sur {fr_int(total)}")

        try:
            demo_db.build_demo_if_missing(store, progress=progress)
        except Exception as exc:  # the empty state below explains what to do instead
            log.exception("demo build failed")
            status.update(label="La base de démonstration n'a pas pu être construite", state="error")
            st.error(
                f"La construction de la base de démonstration a échoué ({type(exc).__name__}). "
                "Le détail est dans le journal du serveur.",
                icon=":material/error:",
            )
            return
        status.update(label="Base de démonstration prête", state="complete", expanded=False)


def main() -> None:
    st.set_page_config(
        page_title="decp-monitor — publication des données essentielles",
        page_icon=":material/fact_check:",
        layout="wide",
        # "auto": open on a desktop, closed on a phone (open, it covered 75 % of a 390 px screen).
        initial_sidebar_state="auto",
    )
    # Less empty space above the title: the pages are dense.
    st.markdown("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>",
                unsafe_allow_html=True)
    navigation = st.navigation([
        st.Page(page.path, title=page.title, icon=page.icon, url_path=page.url_path, default=(index == 0))
        for index, page in enumerate(PAGES)
    ])
    widgets.note_page(navigation.url_path)
    # After st.navigation: its French menu is drawn while the demo builds. The meta table comes
    # from the cached query of the version shown (not a connection opened at every rerun).
    store = data.store()
    shown = data.current() if store.current() is not None else None
    if demo_db.needs_demo(store, shown.meta if shown is not None else None):
        build_demo_on_first_run()

    loaded = None
    with widgets.error_boundary("les informations sur les données"):
        loaded = data.current()
        widgets.sidebar(loaded)

    # Last-resort boundary: a page that fails says so in French; the traceback goes to the server log.
    with widgets.error_boundary("cette page"):
        navigation.run()
