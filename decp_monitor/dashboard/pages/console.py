"""Console SQL: read-only queries over the published version (engine: decp_monitor.read.console)."""
import streamlit as st

from decp_monitor.dashboard import columns, widgets
from decp_monitor.dashboard.format import MISSING, fr_int, fr_number
from decp_monitor.read import console, queries

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
RESULT_KEY = "console_result"
if SQL_KEY not in st.session_state:
    # A shared link carries its query (?sql=...) and runs it on opening: read-only and time-bounded,
    # the same as a click on « Exécuter ».
    shared = st.query_params.get("sql")
    st.session_state[SQL_KEY] = shared or next(iter(console.EXAMPLE_QUERIES.values()))
    if shared:
        st.session_state[RESULT_KEY] = console.run_query(shared, loaded.version.path)


def use_example() -> None:
    choice = st.session_state.get(EXAMPLE_KEY)
    if choice in console.EXAMPLE_QUERIES:
        st.session_state[SQL_KEY] = console.EXAMPLE_QUERIES[choice]


editor, schema = st.columns([3, 1])
with editor:
    st.selectbox("Requêtes d'exemple", list(console.EXAMPLE_QUERIES), index=None,
                 placeholder="Choisir un exemple…", key=EXAMPLE_KEY, on_change=use_example)
    sql = st.text_area("Requête SQL", key=SQL_KEY, height=180)
    if st.button("Exécuter", type="primary", icon=":material/play_arrow:"):
        st.query_params["sql"] = sql
        with st.spinner("Exécution…"):
            st.session_state[RESULT_KEY] = console.run_query(sql, loaded.version.path)
with schema, widgets.error_boundary("la liste des tables"):
    st.markdown("**Tables et colonnes**")
    described = widgets.q(loaded, queries.schema_columns)
    for table, part in described.groupby("table_name", sort=False):
        with st.expander(f"{table} ({fr_int(len(part))})"):
            st.markdown("\n".join(f"- `{row.column_name}` {row.data_type.lower()}" for row in part.itertuples()))

result = st.session_state.get(RESULT_KEY)
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
        st.dataframe(result.df, hide_index=True, width="stretch", column_config=columns.by_type(result.df),
                     placeholder=MISSING)  # NULL reads « – », not « None »
        widgets.download_buttons(result.df, "requete", key="console")
