"""The dashboard's pages: one list, their titles, icons and URL paths, and how to link to them.

Pages live in this package (not in a `pages/` folder beside `app.py`): Streamlit puts the first
session after a server start in its legacy multipage mode when it finds such a folder, and a shared
`/acheteur?siret=…` link then opened with an English "Page not found" dialog.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "pages"
BUYER_URL_PATH = "acheteur"


@dataclass(frozen=True)
class PageSpec:
    name: str
    title: str
    icon: str
    url_path: str

    @property
    def path(self) -> str:
        """Absolute script path: what st.Page, st.page_link and AppTest.switch_page accept."""
        return str(PAGES_DIR / f"{self.name}.py")


PAGES = (
    PageSpec("overview", "Vue d'ensemble", ":material/dashboard:", "vue-d-ensemble"),
    PageSpec("buyer", "Acheteur", ":material/account_balance:", BUYER_URL_PATH),
    PageSpec("buyers", "Acheteurs", ":material/list_alt:", "acheteurs"),
    PageSpec("contracts", "Contrats", ":material/description:", "contrats"),
    PageSpec("datasets", "Jeux de données", ":material/folder_open:", "jeux-de-donnees"),
    PageSpec("declarations", "Déclarations", ":material/assignment:", "declarations"),
    PageSpec("quality", "Qualité des données", ":material/health_and_safety:", "qualite"),
    PageSpec("check", "Vérifier un fichier", ":material/fact_check:", "verifier"),
    PageSpec("console", "Console SQL", ":material/terminal:", "console"),
    PageSpec("method", "Méthode", ":material/menu_book:", "methode"),
)
_BY_NAME = {page.name: page for page in PAGES}


def page_path(name: str) -> str:
    """The script path of a page by its short name ("buyer"); KeyError for an unknown page."""
    return _BY_NAME[name].path
