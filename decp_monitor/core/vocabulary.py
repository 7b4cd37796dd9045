"""The words of the verdict: contract statuses, buyer verdicts, their French labels.

One owner for the codes the compliance engine writes and every reader (queries, dashboard,
exports, status command) interprets. compliance/rules.py keeps the rules (delays, patterns,
reasons) and takes these codes from here; SQL readers use the fragments below instead of
spelling the status lists again.
"""
from __future__ import annotations

# -- Status of a contract or modification ------------------------------------------------------

STATUS_LABELS: dict[str, str] = {
    "on_time": "Publié dans les délais",
    "late": "Publié en retard",
    "declared_on_time_observed_late": "Déclaré à temps, apparu en retard",
    "no_publication_date": "Date de publication absente",
    "no_notification_date": "Date de notification absente",
    "published_before_notification": "Publication déclarée avant la notification",
}
# Statuses that count as late, and those with a usable delay (the base of a late rate); the
# others are data defects.
LATE_STATUSES: tuple[str, ...] = ("late", "declared_on_time_observed_late")
ASSESSED_STATUSES: tuple[str, ...] = ("on_time",) + LATE_STATUSES

# -- Verdict on a buyer ------------------------------------------------------------------------

VERDICT_LABELS: dict[str, str] = {
    "missing": "Déclaré mais jamais publié",
    "late": "Publications en retard",
    "stale": "Publications interrompues",
    "undeclared": "Publie sans profil d'acheteur déclaré",
    "invalid_siret": "SIRET invalide",
    "no_recent_data": "Rien à évaluer sur la période",
    "compliant": "Conforme",
    # A closed establishment (register of buyers) has nothing left to publish after its closing
    # date: silence after it becomes "closed" (compliance/buyer_register.sql); ranked last, it is
    # not a problem to chase.
    "closed": "Établissement fermé",
}
# The verdict is the first of these that applies (compliance/buyers.sql, then buyer_register.sql).
VERDICT_ORDER: tuple[str, ...] = ("invalid_siret", "missing", "stale", "late", "undeclared", "no_recent_data",
                                  "compliant", "closed")
# Sort order of the dashboard (worst first).
SEVERITY_RANK: dict[str, int] = {
    "missing": 1,
    "late": 2,
    "stale": 3,
    "undeclared": 4,
    "invalid_siret": 5,
    "no_recent_data": 6,
    "compliant": 7,
    "closed": 8,
}
# A « late » buyer none of whose contracts of the window is late: its modifications are.
LATE_BY_MODIFICATIONS_LABEL = "Publications en retard (modifications seulement)"
# How a verdict reads: the tone of its banner (success, error, warning, info).
VERDICT_TONE: dict[str, str] = {
    "compliant": "success", "late": "error", "missing": "error", "stale": "warning",
    "undeclared": "warning", "invalid_siret": "error", "no_recent_data": "info",
}

# buyer_compliance's count of late contracts in the window, declared or observed late (computed
# once by compliance/buyers.sql as n_late + n_declared_on_time_observed_late).
LATE_CONTRACTS_COLUMN = "n_late_all"


def _sql_list(codes: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + code.replace("'", "''") + "'" for code in codes) + ")"


# Constant SQL predicates on a `status` column (codes from this module, never user input).
LATE_SQL = f"status IN {_sql_list(LATE_STATUSES)}"
ASSESSED_SQL = f"status IN {_sql_list(ASSESSED_STATUSES)}"


def late_contracts(row: dict) -> int:
    """Late contracts (in the window) of a buyer_compliance row."""
    return int(row[LATE_CONTRACTS_COLUMN] or 0)


def late_only_by_modifications(row: dict) -> bool:
    """A buyer « en retard » with no late contract: only its modifications were published late."""
    return row.get("verdict") == "late" and late_contracts(row) == 0 and int(row.get("n_modifications_late") or 0) > 0
