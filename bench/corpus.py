"""Write the benchmark corpus from the demo generator's records, streaming.

One pass over the generated records writes four files:
- corpus.json: every record, defects included, in the 2019 JSON shape `{"marches": [...]}`;
- corpus.xml: the same records in the 2019 XML shape (its twin), written by the demo's own
  XML writer (`decp_monitor.demo.corpus.record_to_xml`);
- clean.json / clean.ndjson: the clean records only (see `exclusion_reason`), for the side-by-side
  comparison of the pipeline, the pandas baseline and DuckDB's own reader.
Nothing is held in memory but the record being written.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from decp_monitor.core.siret import is_valid_siret
from decp_monitor.demo.corpus import record_to_xml

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FIRST_YEAR = 2018  # the obligation starts on 1 Oct 2018


@dataclass
class CorpusInfo:
    records: int = 0
    clean_records: int = 0
    marches: int = 0
    concessions: int = 0
    modifications: int = 0
    excluded: dict = field(default_factory=dict)  # reason -> count of records left out of clean
    buyers: int = 0
    files: dict = field(default_factory=dict)  # name -> bytes

    def to_dict(self) -> dict:
        return asdict(self)


def is_concession(record: dict) -> bool:
    kind = str(record.get("_type", "")).strip().lower()
    return "concession" in kind or "autoriteConcedante" in record


def _strict_date(value, as_of: dt.date) -> Optional[dt.date]:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    if day.year < FIRST_YEAR or day > as_of:
        return None
    return day


def _clean_value(value) -> bool:
    """No NaN, no stray-space key, no empty string anywhere inside the record."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, dict):
        return all(k == k.strip() and _clean_value(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_clean_value(v) for v in value)
    return True


def exclusion_reason(record: dict, as_of: dt.date) -> Optional[str]:
    """Why a record is left out of the comparison set (None: it is clean).

    The methods compared (pipeline, pandas, DuckDB read_json, alone and stored) all receive exactly the clean
    records, so no method needs its own defect handling to agree with the others. Clean means: a
    marché (concessions follow another rule), a string id, a buyer SIRET of 14 digits passing the
    checksum, notification and publication dates strictly YYYY-MM-DD, real, between 2018 and
    `as_of`, publication not before notification, a finite non-negative numeric amount, and no
    NaN, empty string or stray-space key anywhere.
    """
    if is_concession(record):
        return "concession"
    if not isinstance(record.get("id"), str) or not record["id"].strip():
        return "id"
    buyer = record.get("acheteur")
    siret = buyer.get("id") if isinstance(buyer, dict) else None
    if not isinstance(siret, str) or not is_valid_siret(siret):
        return "siret"
    notified = _strict_date(record.get("dateNotification"), as_of)
    if notified is None:
        return "dateNotification"
    published = _strict_date(record.get("datePublicationDonnees"), as_of)
    if published is None:
        return "datePublicationDonnees"
    if published < notified:
        return "publication_before_notification"
    amount = record.get("montant")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount < 0:
        return "montant"
    if not _clean_value(record):
        return "other_defect"
    return None


class _JsonArrayFile:
    """`{"marches": [` record, record, ... `]}` written one record at a time."""

    def __init__(self, path: Path):
        self.fh = open(path, "w", encoding="utf-8")
        self.fh.write('{"marches": [\n')
        self.first = True

    def write(self, text: str) -> None:
        if not self.first:
            self.fh.write(",\n")
        self.fh.write(text)
        self.first = False

    def close(self) -> None:
        self.fh.write("\n]}\n")
        self.fh.close()


def write_corpus(records: Iterable[dict], out: Path, as_of: dt.date) -> CorpusInfo:
    out.mkdir(parents=True, exist_ok=True)
    info = CorpusInfo()
    buyers = set()
    full_json = _JsonArrayFile(out / "corpus.json")
    clean_json = _JsonArrayFile(out / "clean.json")
    with open(out / "corpus.xml", "w", encoding="utf-8") as xml, open(out / "clean.ndjson", "w", encoding="utf-8") as ndjson:
        xml.write('<?xml version="1.0" encoding="UTF-8"?>\n<marches>\n')
        for record in records:
            text = json.dumps(record, ensure_ascii=False)  # NaN stays a bare NaN, as in real files
            full_json.write(text)
            xml.write(record_to_xml(record))
            info.records += 1
            if is_concession(record):
                info.concessions += 1
            else:
                info.marches += 1
            mods = record.get("modifications")
            if isinstance(mods, list):
                info.modifications += len(mods)
            buyer = record.get("acheteur") or record.get("autoriteConcedante")
            if isinstance(buyer, dict):
                buyers.add(str(buyer.get("id")))
            reason = exclusion_reason(record, as_of)
            if reason is None:
                clean_json.write(text)
                ndjson.write(text + "\n")
                info.clean_records += 1
            else:
                info.excluded[reason] = info.excluded.get(reason, 0) + 1
        xml.write("</marches>\n")
    full_json.close()
    clean_json.close()
    info.buyers = len(buyers)
    info.files = {p.name: p.stat().st_size for p in sorted(out.glob("*")) if p.suffix in (".json", ".xml", ".ndjson")}
    return info
