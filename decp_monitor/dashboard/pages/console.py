"""Console SQL: read-only queries over the published version (engine: decp_monitor.read.console)."""
import streamlit as st

from decp_monitor.dashboard import columns, widgets
from decp_monitor.dashboard.downloads import download_buttons
from decp_monitor.dashboard.format import fr_int, fr_number
from decp_monitor.read import console

st.title("Console SQL")
loaded = widgets.require_data()

st.markdown(
    "Interrogez la base en SQL (dialecte DuckDB). La console est **en lecture seule** : elle ne peut "
    "ni modifier les données, ni lire ou écrire de fichiers, ni accéder au web, ni changer les réglages. "
    f"Une requête est arrêtée après {fr_number(console.DEFAULT_TIMEOUT_S)} secondes ; les "
    f"{fr_int(console.DEFAULT_ROW_LIMIT)} premières lignes (au plus "
    f"{fr_int(console.DEFAULT_BYTE_LIMIT // (1024 * 1024))} Mo) sont affichées et téléchargeables."
)

EXAMPLE_KEY = "console_example"
SQL_KEY = "console_sql"
if SQL_KEY not in st.session_state:
    # A shared link carries its query: ?sql=...
    st.session_state[SQL_KEY] = st.query_params.get("sql") or next(iter(console.EXAMPLE_QUERIES.values()))


def use_example() -> None:
    choice = st.session_state.get(EXAMPLE_KEY)
    if choice in console.EXAMPLE_QUERIES:
        st.session_state[SQL_KEY] = console.EXAMPLE_QUERIES[choice]


st.selectbox("Requêtes d'exemple", list(console.EXAMPLE_QUERIES), index=None,
             placeholder="Choisir un exemple…", key=EXAMPLE_KEY, on_change=use_example)
sql = st.text_area("Requête SQL", key=SQL_KEY, height=180)

if st.button("Exécuter", type="primary", icon=":material/play_arrow:"):
    st.query_params["sql"] = sql
    with st.spinner("Exécution…"):
        st.session_state["console_result"] = console.run_query(sql, loaded.version.path)

result = st.session_state.get("console_result")
if result is not None:
    if not result.ok:
        st.error(result.error_fr, icon=":material/block:")
    else:
        shown = len(result.df)
        note = f"{fr_int(shown)} {'ligne' if shown <= 1 else 'lignes'} en {fr_number(result.elapsed, 2)} s"
        if result.truncated:
            limit = (f"{fr_int(console.DEFAULT_BYTE_LIMIT // (1024 * 1024))} Mo" if result.truncated_by == "octets"
                     else f"{fr_int(console.DEFAULT_ROW_LIMIT)} lignes")
            note += (f" — résultat coupé à {limit} ; pour l'export complet "
                     "d'une table, utilisez `python -m decp_monitor export`.")
        st.caption(note)
        # Columns keep their SQL names; dates and numbers are shown the French way.
        st.dataframe(result.df, hide_index=True, width="stretch", column_config=columns.by_type(result.df))
        download_buttons(result.df, "requete", key="console")
