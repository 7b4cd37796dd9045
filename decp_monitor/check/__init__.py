"""« Vérifier avant de publier »: what is wrong with DECP files before anyone else sees it.

    report = check_files(["DECP-21440036800012-2025-06-30-01.json"], as_of="2025-06-30",
                         dataset_description="jeu.json")
    report.ready, report.summary(), report.exit_code, report.to_text(), report.to_json()

For each file: schema validation against the official version it claims or resembles
(validation.py), then what the monitor will conclude once it is published, computed by the
real engine in memory (engine.py): each contract's deadline and status, the buyer's verdict,
and the publication conventions on the proposed dataset and file names. Used by the CLI
(`python -m decp_monitor check`) and the dashboard page « Vérifier un fichier ». Nothing is
written anywhere: no data directory, no published database.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Optional, Union

from decp_monitor.check import engine
from decp_monitor.check.fixes import (
    CONVENTION_FIXES,
    DEFAULT_CONVENTION_FIX,
    DEFAULT_FINDING_FIX,
    FINDING_FIXES,
)
from decp_monitor.check.issues import IssueCollector, Location
from decp_monitor.check.report import READY, FileReport, Report, fr_date
from decp_monitor.check.validation import validate_declaration_csv, validate_json, validate_xml
from decp_monitor.core import findings as finding_codes
from decp_monitor.core import vocabulary
from decp_monitor.core.dates import parse_iso_date
from decp_monitor.pipeline.files import SNIFF_BYTES, sniff

# The CLI checks files of any size up to this (a national consolidated file is not a file one
# publishes); the page states and enforces its own, smaller limit.
MAX_FILE_BYTES = 500 * 1024 * 1024
MAX_DESCRIPTION_BYTES = 5 * 1024 * 1024
# Reader findings that mean the file (or its end) could not be read.
FATAL_FINDINGS = frozenset({"file_unreadable", "unknown_root", "unsafe_xml"})
# Contract statuses the monitor counts against the buyer.
LATE_STATUSES = frozenset(vocabulary.LATE_STATUSES)
ProgressFn = Callable[[str, float], None]

KIND_LABELS = {
    "decp-json": "données essentielles (JSON)",
    "decp-xml": "données essentielles (XML)",
    "declaration": "déclaration de profil d'acheteur (CSV)",
    "dataset": "description du jeu de données (JSON data.gouv.fr)",
    "unknown": "fichier non reconnu",
    "too-large": "fichier trop volumineux",
    "missing": "fichier introuvable",
}

__all__ = ["READY", "Report", "check_files", "MAX_FILE_BYTES"]


def check_files(
    paths: Iterable[Union[str, os.PathLike]],
    as_of: Union[dt.date, str, None] = None,
    dataset_description: Union[str, os.PathLike, dict, None] = None,
    *,
    names: Optional[list[str]] = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    progress: Optional[ProgressFn] = None,
) -> Report:
    """Check DECP files (and optional declaration CSVs) as they would be published on `as_of`.

    names: how each file is called in the report (the uploaded name; default: the path).
    dataset_description: the data.gouv.fr dataset object to be published (path or dict); a
    dataset JSON among `paths` is taken as the description too.
    progress: told (French phase, share done 0..1).
    """
    started = time.monotonic()
    as_of_date = parse_iso_date(as_of) or dt.date.today()
    report_progress = progress or (lambda phase, share: None)
    file_paths = [Path(p) for p in paths]
    names = names or [str(p) for p in file_paths]
    files: list[FileReport] = []
    issues = IssueCollector()
    to_engine: list[tuple[Path, str]] = []
    description = None
    description_name = None

    if dataset_description is not None:
        description, problem = _load_description(dataset_description)
        description_name = dataset_description if isinstance(dataset_description, (str, os.PathLike)) else "description"
        if problem:
            files.append(FileReport(str(description_name), 0, "dataset", KIND_LABELS["dataset"], unreadable=problem))
            _file_issue(issues, str(description_name), problem)

    total_bytes = sum(p.stat().st_size for p in file_paths if p.is_file()) or 1
    done_bytes = 0
    for path, name in zip(file_paths, names):
        if not path.is_file():
            files.append(FileReport(name, 0, "missing", KIND_LABELS["missing"], unreadable="fichier introuvable"))
            _file_issue(issues, name, "Fichier introuvable.")
            continue
        size = path.stat().st_size
        if size > max_file_bytes:
            reason = f"{size / 2**20:.1f} Mo, au-delà de la limite de {max_file_bytes / 2**20:.0f} Mo"
            files.append(FileReport(name, size, "too-large", KIND_LABELS["too-large"], unreadable=reason))
            _file_issue(issues, name, f"Fichier trop volumineux : {reason}.")
            continue
        kind = _kind(path)
        report = FileReport(name, size, kind, KIND_LABELS[kind])
        files.append(report)

        def file_progress(done: int, total: int, base=done_bytes, label=name) -> None:
            report_progress(f"Validation du schéma : {Path(label).name}", 0.6 * (base + done) / total_bytes)

        if kind == "dataset":
            if description is None:
                description, problem = _load_description(path)
                description_name = name
                if problem:
                    report.unreadable = problem
                    _file_issue(issues, name, problem)
            else:
                issues.add("convention", "convention:second-description", "warning",
                           "Description de jeu de données en trop",
                           "Une seule description de jeu de données est vérifiée à la fois : celle-ci est ignorée.",
                           "Vérifier chaque jeu de données séparément.", Location(name))
            continue
        if kind == "unknown":
            report.unreadable = ("ni données essentielles (JSON/XML), ni déclaration de profil d'acheteur (CSV), "
                                 "ni description de jeu de données data.gouv.fr")
            _file_issue(issues, name, f"Fichier non reconnu : {report.unreadable}.")
            continue
        report_progress(f"Validation du schéma : {Path(name).name}", 0.6 * done_bytes / total_bytes)
        if kind == "decp-json":
            report.validation = validate_json(path, name, progress=file_progress)
        elif kind == "decp-xml":
            report.validation = validate_xml(path, name, progress=file_progress)
        else:
            report.validation = validate_declaration_csv(path, name)
        issues.merge(report.validation.issues)
        if report.validation.unreadable:
            report.unreadable = report.validation.unreadable
            _file_issue(issues, name, report.validation.unreadable)
        done_bytes += size
        to_engine.append((path, name))

    report_progress("Lecture par decp-monitor", 0.6)
    result = engine.run(to_engine, as_of_date, description,
                        progress=lambda done, total, name: report_progress(
                            f"Lecture par decp-monitor : {Path(name).name}", 0.6 + 0.3 * done / max(total, 1)),
                        on_stage=lambda stage: report_progress("Calcul des échéances et des verdicts", 0.9))
    _engine_issues(issues, result, files)
    report_progress("Rapport", 1.0)
    return Report(
        as_of=as_of_date, files=files, issues=issues.issues(), contracts=result.contracts,
        contract_count=result.contract_count, status_counts=result.status_counts,
        modifications=result.modifications, buyers=result.buyers,
        conventions=_conventions(result, description_name), description_given=description is not None,
        duration_s=time.monotonic() - started, declared_statuses=result.declared_statuses,
    )


def _kind(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    kind = sniff(head)
    if kind == "decp":
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return "decp-xml" if text.startswith(b"<") else "decp-json"
    return kind if kind in ("declaration", "dataset") else "unknown"


def _load_description(source) -> tuple[Optional[dict], Optional[str]]:
    if isinstance(source, dict):
        return source, None
    path = Path(source)
    try:
        if path.stat().st_size > MAX_DESCRIPTION_BYTES:
            return None, f"description de plus de {MAX_DESCRIPTION_BYTES // 2**20} Mo"
        obj = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        return None, f"description illisible : {exc.strerror or exc}"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"description illisible (JSON invalide : {str(exc)[:120]})"
    if isinstance(obj, dict) and isinstance(obj.get("data"), list) and obj["data"]:
        obj = obj["data"][0]  # an API page: its first dataset
    if not isinstance(obj, dict):
        return None, "description illisible : un objet JSON (jeu de données data.gouv.fr) est attendu"
    return obj, None


def _file_issue(issues: IssueCollector, name: str, reason: str) -> None:
    issues.add("file", "file:unreadable", "error", "Fichier illisible ou refusé",
               "Le fichier ne peut pas être lu en entier : decp-monitor ne verrait pas tous ses contrats.",
               "Enregistrer le fichier en JSON ou XML valide (UTF-8), complet, au format officiel.",
               Location(name, note=reason))


def _engine_issues(issues: IssueCollector, result: engine.EngineResult, files: list[FileReport]) -> None:
    by_name = {f.name: f for f in files}
    located: dict[str, list[dict]] = {}
    for row in result.findings:
        located.setdefault(row["code"], []).append(row)
    for row in result.finding_counts:
        code = row["code"]
        rows = located.get(code, [])
        severity = row["severity"] or finding_codes.severity(code)
        title = finding_codes.label(code)
        fix = FINDING_FIXES.get(code, DEFAULT_FINDING_FIX)
        explanation = "Relevé par le lecteur de decp-monitor : l'anomalie figurera dans la page Qualité des données."
        category = "file" if code in FATAL_FINDINGS else "finding"
        for index, f in enumerate(rows):
            issues.add(category, f"finding:{code}", severity, title, explanation, fix,
                       Location(f["source_file"], record=None if f["position"] is None else f["position"] + 1,
                                contract_id=f["contract_id"], field=f["field"], value=f["value"], note=f["message"]),
                       count=1 if index < len(rows) - 1 else row["count"] - len(rows) + 1)
            if code in FATAL_FINDINGS and f["source_file"] in by_name and not by_name[f["source_file"]].unreadable:
                by_name[f["source_file"]].unreadable = f["message"]
        if not rows:
            issues.add(category, f"finding:{code}", severity, title, explanation, fix, count=row["count"])

    late = [c for c in result.contracts if c["status"] in LATE_STATUSES]
    late_count = sum(r["contracts"] for r in result.status_counts if r["status"] in LATE_STATUSES)
    for index, c in enumerate(late):
        declared_late = c["status"] == "late"
        issues.add(
            "deadline", "deadline:late", "error", "Contrats publiés après l'échéance légale",
            "Pour ces contrats, la publication (déclarée, ou le dépôt du fichier le "
            f"{fr_date(result.as_of)}) vient après l'échéance : decp-monitor les comptera en retard.",
            "Publier sans attendre ; à l'avenir, publier dans les deux mois suivant la notification. "
            "Ne pas modifier les dates déclarées : elles doivent rester exactes.",
            Location(c["source_file"], record=c.get("record"), contract_id=c.get("contract_id"),
                     field="datePublicationDonnees" if declared_late else None,
                     note=(f"échéance {fr_date(c['deadline'])}, "
                           + (f"publication déclarée le {fr_date(c['publication_date'])}" if declared_late
                              else f"fichier déposé le {fr_date(c.get('observed_date'))}"))),
            count=1 if index < len(late) - 1 else late_count - len(late) + 1,
        )
    for check in _failed_checks(result):
        issues.add("convention", f"convention:{check['check']}", "error", check["check_label"],
                   check["message"], CONVENTION_FIXES.get(check["check"], DEFAULT_CONVENTION_FIX),
                   Location(check["target"], field=check["check"], value=check.get("actual")))
    for problem in result.description_problems:
        issues.add("convention", "convention:description", "error", "Description du jeu de données incomplète",
                   problem, "Compléter la description d'après la documentation de l'API data.gouv.fr.",
                   Location("description"))


# Checks that say something when the resource rows were made from the file names only.
NAME_CHECKS = ("resource_file_name", "name_siret", "name_date")


def _convention_rows(result: engine.EngineResult, description_name) -> list[dict]:
    rows = []
    for check in result.dataset_checks:
        rows.append({**check, "target": f"jeu de données ({description_name or 'description'})"})
    for check in result.resource_checks:
        if not result.description_given and check["check"] not in NAME_CHECKS:
            continue
        rows.append({**check, "target": check.get("resource_title") or check.get("resource_id")})
    return rows


def _failed_checks(result: engine.EngineResult) -> list[dict]:
    return [c for c in _convention_rows(result, None) if not c["passed"]]


def _conventions(result: engine.EngineResult, description_name) -> list[dict]:
    return [{k: v for k, v in c.items() if k in ("check", "check_label", "passed", "expected", "actual",
                                                 "message", "target")}
            for c in _convention_rows(result, description_name)]
