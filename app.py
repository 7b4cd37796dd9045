"""decp-monitor dashboard: `streamlit run app.py` (the code is in decp_monitor/dashboard)."""
from decp_monitor.dashboard.app import main

main()
