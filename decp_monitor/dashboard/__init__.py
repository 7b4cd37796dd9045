"""Streamlit helpers shared by the dashboard pages (connection, caching, formats, states)."""
