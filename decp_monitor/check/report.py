"""The report of a check: summary first, then located problems, statuses, verdicts, conventions.

One Report, three renderings: French text (the CLI), JSON (the CLI's --json and the page's
download, French keys) and French CSV (the page's downloads, through the export writers and
their formula guard).
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

import pandas as pd

from decp_monitor.check.issues import CATEGORY_LABELS, SEVERITY_LABELS, Issue, Location
from decp_monitor.check.validation import Validation
from decp_monitor.core.french import fr_date

READY = "Prêt à publier"
EXIT_READY, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2
# Which problems to fix first: a file that cannot be read, then the schema, then data defects
# the monitor records, then deadlines, then the publication conventions.
CATEGORY_ORDER = {"file": 0, "schema": 1, "finding": 2, "deadline": 3, "convention": 4}
TODAY_LABELS = {
    "due": "à temps si publié d'ici le {deadline}",
    "overdue": "échéance dépassée de {days} jour(s) au {as_of}",
    "unknown": "échéance inconnue",
}



@dataclass
class FileReport:
    name: str
    size: int
    kind: str  # decp-json | decp-xml | declaration | dataset | unknown | too-large | missing
    kind_label: str
    validation: Optional[Validation] = None
    unreadable: Optional[str] = None  # French reason when the file cannot be read at all

    def to_dict(self) -> dict:
        return {"nom": self.name, "taille_octets": self.size, "type": self.kind, "type_libelle": self.kind_label,
                "illisible": self.unreadable,
                "validation": self.validation.to_dict() if self.validation else None}


@dataclass
class Report:
    as_of: dt.date
    files: list[FileReport]
    issues: list[Issue]
    contracts: list[dict] = field(default_factory=list)
    contract_count: int = 0
    status_counts: list[dict] = field(default_factory=list)
    modifications: list[dict] = field(default_factory=list)
    buyers: list[dict] = field(default_factory=list)
    conventions: list[dict] = field(default_factory=list)
    description_given: bool = False
    duration_s: float = 0.0
    # Counter of (buyer SIRET, contract id, notification date, status) from the files alone, every
    # contract: what a database loaded from the same files says (not in the JSON: too long).
    declared_statuses: Counter = field(default_factory=Counter, repr=False)

    @property
    def unreadable(self) -> bool:
        return any(f.unreadable for f in self.files)

    @property
    def blocking(self) -> list[Issue]:
        return sorted((i for i in self.issues if i.blocking),
                      key=lambda i: (CATEGORY_ORDER.get(i.category, 9), -i.count, i.code))

    @property
    def ready(self) -> bool:
        return not self.unreadable and not self.blocking and bool(self.files)

    @property
    def exit_code(self) -> int:
        if self.unreadable:
            return EXIT_UNREADABLE
        return EXIT_READY if self.ready else EXIT_PROBLEMS

    def summary(self) -> list[str]:
        """« Prêt à publier », or the three things to fix first (each with its fix)."""
        if self.ready:
            return [READY]
        lines = []
        for issue in self.blocking[:3]:
            times = f" ({issue.count} fois)" if issue.count > 1 else ""
            lines.append(f"{issue.title}{times} — {issue.fix}")
        return lines

    # -- renderings ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "pret_a_publier": self.ready,
            "code_sortie": self.exit_code,
            "resume": self.summary(),
            "date_evaluation": self.as_of.isoformat(),
            "duree_secondes": round(self.duration_s, 2),
            "fichiers": [f.to_dict() for f in self.files],
            "problemes": [i.to_dict() for i in self.issues],
            "contrats_total": self.contract_count,
            "contrats_par_statut": self.status_counts,
            "contrats": self.contracts,
            "modifications_par_statut": self.modifications,
            "acheteurs": self.buyers,
            "conventions": self.conventions,
            "description_fournie": self.description_given,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=_json_default)

    def problems_frame(self) -> pd.DataFrame:
        """One row per located occurrence (groups keep their first locations), French headers."""
        rows = []
        for rank, issue in enumerate(self.issues, 1):
            base = {
                "Rang": rank, "Catégorie": CATEGORY_LABELS.get(issue.category, issue.category),
                "Gravité": SEVERITY_LABELS.get(issue.severity, issue.severity), "Problème": issue.title,
                "Explication": issue.explanation, "Correction": issue.fix, "Nombre": issue.count,
            }
            for location in issue.locations or [Location("")]:
                rows.append({**base, "Fichier": location.file, "Enregistrement": location.record,
                             "Identifiant": location.contract_id, "Champ": location.field, "Ligne": location.line,
                             "Valeur": location.value, "Détail": location.note})
        columns = ["Rang", "Catégorie", "Gravité", "Problème", "Explication", "Correction", "Nombre", "Fichier",
                   "Enregistrement", "Identifiant", "Champ", "Ligne", "Valeur", "Détail"]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("Enregistrement", "Ligne"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def contracts_frame(self) -> pd.DataFrame:
        rows = [{
            "SIRET acheteur": c.get("buyer_siret"), "Acheteur": c.get("buyer_name"),
            "Identifiant": c.get("contract_id"), "Nature": c.get("kind"), "Objet": c.get("objet"),
            "Notification": c.get("notification_date"), "Publication déclarée": c.get("publication_date"),
            "Échéance": c.get("deadline"), "Règle": c.get("rule_label"),
            "Statut d'après le fichier": c.get("declared_status_label"),
            f"Conclusion si publié le {fr_date(self.as_of)}": c.get("status_label"),
            "Au jour de l'évaluation": today_label(c, self.as_of),
            "Fichier": c.get("source_file"), "Enregistrement": c.get("record"),
        } for c in self.contracts]
        return pd.DataFrame(rows)

    def to_csv(self, which: str = "problems") -> bytes:
        from decp_monitor.read.export import export_dataframe

        frame = self.problems_frame() if which == "problems" else self.contracts_frame()
        return export_dataframe(frame, "csv-fr", sheet_title="verification")

    def to_text(self) -> str:
        out: list[str] = []
        out.append("Vérification avant publication — decp-monitor")
        out.append(f"Date d'évaluation : {fr_date(self.as_of)}")
        out.append("")
        if self.ready:
            out.append(f"✔ {READY}")
        else:
            out.append("✘ À corriger d'abord :" if not self.unreadable else "✘ Fichier illisible — à corriger d'abord :")
            for index, line in enumerate(self.summary(), 1):
                out.append(f"  {index}. {line}")
        out.append("")
        out.append("Fichiers")
        for f in self.files:
            line = f"  - {f.name} : {f.kind_label}"
            v = f.validation
            if v is not None and v.schema is not None:
                line += (f", schéma {v.schema.version} ({v.schema.reason}) : {v.records} enregistrement(s), "
                         f"{v.invalid_records} non conforme(s), {v.errors} erreur(s)")
                if v.capped:
                    line += f" (détail limité aux {v.detailed_records} premiers enregistrements non conformes)"
            if f.unreadable:
                line += f" — ILLISIBLE : {f.unreadable}"
            out.append(line)
            if f.validation:
                out.extend(f"      {note}" for note in f.validation.notes)
        out.append("")
        out.append(f"Problèmes ({len(self.issues)} types)")
        if not self.issues:
            out.append("  Aucun.")
        for issue in self.issues:
            out.append(f"  [{SEVERITY_LABELS.get(issue.severity, issue.severity)}] "
                       f"{CATEGORY_LABELS.get(issue.category, issue.category)} — {issue.title} : {issue.count}")
            out.append(f"      {issue.explanation}")
            out.append(f"      Correction : {issue.fix}")
            for location in issue.locations[:5]:
                out.append(f"      · {location.file} : {location.describe()}")
            if issue.count > min(5, len(issue.locations)):
                out.append(f"      · … et {issue.count - min(5, len(issue.locations))} autre(s)")
        out.append("")
        out.append(f"Contrats : {self.contract_count}")
        for row in self.status_counts:
            out.append(f"  - {row['status_label']} : {row['contracts']}")
        for c in self.contracts[:20]:
            out.append(f"  · {c.get('contract_id') or '(sans id)'} ({c.get('buyer_siret') or '?'}) : notifié le "
                       f"{fr_date(c.get('notification_date')) or '?'}, échéance {fr_date(c.get('deadline')) or '?'}, "
                       f"{c.get('status_label')} ; {today_label(c, self.as_of)}")
        if self.contract_count > 20:
            out.append(f"  · … {self.contract_count - 20} autre(s) contrat(s) (--json pour la liste)")
        if self.modifications:
            out.append("Modifications : " + ", ".join(f"{m['status_label']} : {m['modifications']}" for m in self.modifications))
        out.append("")
        out.append("Verdict par acheteur, si le fichier est publié aujourd'hui")
        if not self.buyers:
            out.append("  Aucun acheteur lu.")
        for b in self.buyers:
            out.append(f"  - {b['buyer_siret']} {b.get('buyer_name') or ''} : {b['verdict_label']}")
            out.extend(f"      {reason}" for reason in (b.get("reasons") or []))
        out.append("")
        out.append("Conventions de publication (data.gouv.fr)")
        if not self.description_given:
            out.append("  Description du jeu de données non fournie (--jeu-de-donnees) : seuls les noms de fichiers sont vérifiés.")
        for check in self.conventions:
            mark = "✔" if check["passed"] else "✘"
            out.append(f"  {mark} {check['check_label']} ({check['target']}) : {check['message']}")
        out.append("")
        out.append(f"Code de sortie : {self.exit_code} ({_exit_label(self.exit_code)}) ; durée {self.duration_s:.1f} s")
        return "\n".join(out) + "\n"


def today_label(contract: dict, as_of: dt.date) -> str:
    state = contract.get("today") or "unknown"
    return TODAY_LABELS[state].format(deadline=fr_date(contract.get("deadline")),
                                      days=contract.get("days_past_deadline"), as_of=fr_date(as_of))


def _exit_label(code: int) -> str:
    return {EXIT_READY: "prêt", EXIT_PROBLEMS: "problèmes à corriger", EXIT_UNREADABLE: "fichier illisible"}[code]


def _json_default(value: Any):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)
