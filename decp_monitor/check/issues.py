"""Problems found by `check`, grouped by kind, each with a count and its first locations.

A file with 100 000 errors gives a few dozen groups, each keeping its count exact and its first
MAX_LOCATIONS occurrences: the report stays small whatever the input.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

MAX_LOCATIONS = 20  # located occurrences kept per group
MAX_GROUPS = 200  # distinct kinds kept; further kinds are counted in one "other" group
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
SEVERITY_LABELS = {"error": "Erreur", "warning": "Avertissement", "info": "Information"}
CATEGORY_LABELS = {
    "file": "Lecture du fichier",
    "schema": "Schéma officiel",
    "finding": "Anomalie relevée par decp-monitor",
    "deadline": "Délai de publication",
    "convention": "Convention de publication data.gouv.fr",
}


@dataclass
class Location:
    """Where one occurrence is: file, record (1-based), contract id, field, XML line, value."""

    file: str
    record: Optional[int] = None
    contract_id: Optional[str] = None
    field: Optional[str] = None
    line: Optional[int] = None
    value: Optional[str] = None
    note: Optional[str] = None  # French detail of this occurrence

    def describe(self) -> str:
        parts = []
        if self.record is not None:
            parts.append(f"enregistrement {self.record}")
        if self.contract_id:
            parts.append(f"id « {self.contract_id} »")
        if self.field:
            parts.append(f"champ {self.field}")
        if self.line is not None:
            parts.append(f"ligne {self.line}")
        if self.value not in (None, ""):
            parts.append(f"valeur « {self.value} »")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts) or "fichier entier"


@dataclass
class Issue:
    """One kind of problem: what, why, how to fix it, how many times, and where."""

    category: str  # file | schema | finding | deadline | convention
    code: str  # stable key of the kind (e.g. "schema:required:acheteur.id")
    severity: str  # error | warning | info
    title: str  # French
    explanation: str  # French
    fix: str  # French: what to change
    count: int = 0
    locations: list[Location] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["category_label"] = CATEGORY_LABELS.get(self.category, self.category)
        out["severity_label"] = SEVERITY_LABELS.get(self.severity, self.severity)
        out["locations_omitted"] = max(0, self.count - len(self.locations))
        return out


class IssueCollector:
    """Counts every occurrence, keeps the first locations of each kind, and a bounded number of kinds."""

    def __init__(self, max_locations: int = MAX_LOCATIONS, max_groups: int = MAX_GROUPS):
        self.max_locations = max_locations
        self.max_groups = max_groups
        self.groups: dict[str, Issue] = {}

    def add(self, category: str, code: str, severity: str, title: str, explanation: str, fix: str,
            location: Optional[Location] = None, count: int = 1) -> None:
        issue = self.groups.get(code)
        if issue is None:
            if len(self.groups) >= self.max_groups:
                code = f"{category}:autres"
                issue = self.groups.get(code)
                if issue is None:
                    issue = Issue(category, code, severity, "Autres problèmes (types trop nombreux pour être détaillés)",
                                  f"Plus de {self.max_groups} types de problèmes différents : les suivants sont "
                                  "seulement comptés.", "Corriger d'abord les problèmes détaillés ci-dessus.")
                    self.groups[code] = issue
            else:
                issue = Issue(category, code, severity, title, explanation, fix)
                self.groups[code] = issue
        issue.count += count
        if location is not None:
            if len(issue.locations) < self.max_locations:
                issue.locations.append(location)
            if location.file not in issue.files and len(issue.files) < 50:
                issue.files.append(location.file)

    def merge(self, other: IssueCollector) -> None:
        """Add another collector's groups (one file's schema errors) to this one."""
        for issue in other.groups.values():
            located = issue.locations
            # the first location carries the occurrences that were counted without being kept
            self.add(issue.category, issue.code, issue.severity, issue.title, issue.explanation, issue.fix,
                     located[0] if located else None, count=issue.count - max(0, len(located) - 1))
            for location in located[1:]:
                self.add(issue.category, issue.code, issue.severity, issue.title, issue.explanation, issue.fix,
                         location)

    def issues(self) -> list[Issue]:
        return sorted(self.groups.values(), key=lambda i: (SEVERITY_RANK.get(i.severity, 3), -i.count, i.code))
