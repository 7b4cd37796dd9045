"""decp-monitor dashboard: `streamlit run app.py`.

The entry point only sets up the page, makes sure there is something to show (the demo database
on a first run) and hands over to the page chosen in the navigation.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from decp_monitor.ui import data, widgets
from decp_monitor.ui.format import fr_int

HERE = Path(__file__).resolve().parent
# Set to 0 to keep an empty data directory empty (no demo built on first run).
AUTO_DEMO_ENV = "DECP_AUTO_DEMO"

st.set_page_config(
    page_title="decp-monitor — publication des données essentielles",
    page_icon=":material/fact_check:",
    layout="wide",
    initial_sidebar_state="expanded",
)
log = logging.getLogger("decp_monitor.app")
# Less empty space above the title: the pages are dense.
st.markdown("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>", unsafe_allow_html=True)


def build_demo_on_first_run() -> None:
    """No database yet: build the demo one, showing progress, then show it."""
    if os.environ.get(AUTO_DEMO_ENV, "1") == "0":
        return
    store = data.store()
    try:
        from decp_monitor import demo_db
    except ImportError:
        return
    with st.status("Premier lancement : construction de la base de démonstration…", expanded=True) as status:
        bar = st.progress(0.0, text="Préparation du corpus de démonstration")

        def progress(done: int, total: int, detail=None) -> None:
            share = min(1.0, done / total) if total else 1.0
            bar.progress(share, text=f"Fichiers lus : {fr_int(done)} sur {fr_int(total)}")

        try:
            builder = getattr(demo_db, "build_demo_if_missing", None)
            if builder is not None:
                builder(store, progress=progress)
            else:
                demo_db.build_demo(store, progress=progress)
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


PAGES = [
    ("pages/overview.py", "Vue d'ensemble", ":material/dashboard:", "vue-d-ensemble"),
    ("pages/buyer.py", "Acheteur", ":material/account_balance:", widgets.BUYER_URL_PATH),
    ("pages/buyers.py", "Acheteurs", ":material/list_alt:", "acheteurs"),
    ("pages/datasets.py", "Jeux de données", ":material/folder_open:", "jeux-de-donnees"),
    ("pages/declarations.py", "Déclarations", ":material/assignment:", "declarations"),
    ("pages/quality.py", "Qualité des données", ":material/health_and_safety:", "qualite"),
    ("pages/console.py", "Console SQL", ":material/terminal:", "console"),
    ("pages/method.py", "Méthode", ":material/menu_book:", "methode"),
]

navigation = st.navigation([
    st.Page(path, title=title, icon=icon, url_path=url_path, default=(index == 0))
    for index, (path, title, icon, url_path) in enumerate(PAGES)
    if (HERE / path).exists()
])

# After st.navigation (its French menu, not the pages/ folder's file names, is drawn meanwhile).
if data.store().current() is None:
    build_demo_on_first_run()

loaded = None
with widgets.error_boundary("les informations sur les données"):
    loaded = data.current()
    widgets.sidebar(loaded)

# Last-resort boundary: a page that fails says so in French; the traceback goes to the server log.
with widgets.error_boundary("cette page"):
    navigation.run()
