"""A minimal DECP reader used by the benchmark ONLY while decp_monitor.parse is absent.

It streams the 2019 shapes the bench writes (ijson for JSON, lxml iterparse for XML) into the
project's Record objects, with none of the real reader's validation or findings. Figures taken
with it are labelled as such: they measure store, consolidation, compliance and serving, not the
project's reader.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator, Optional

from decp_monitor.model import Modification, Record

LIST_ITEMS = {"titulaires", "modifications", "concessionnaires", "donneesExecution", "tarifs"}


def _date(value) -> Optional[dt.date]:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day if 1900 < day.year < 2100 else None


def _number(value) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _int(value) -> Optional[int]:
    number = _number(value)
    return int(number) if number is not None else None


def _record(raw: dict, name: str, position: int, fmt: str) -> Record:
    raw = {k.strip(): v for k, v in raw.items()}
    concession = "autoriteConcedante" in raw or "concession" in str(raw.get("_type", "")).lower()
    buyer = raw.get("autoriteConcedante" if concession else "acheteur") or {}
    buyer = {k.strip(): v for k, v in buyer.items()} if isinstance(buyer, dict) else {}
    place = raw.get("lieuExecution") or {}
    holders = raw.get("concessionnaires" if concession else "titulaires") or []
    mods = raw.get("modifications") or []
    notification_raw = raw.get("dateSignature" if concession else "dateNotification")
    publication_raw = raw.get("datePublicationDonnees")
    return Record(
        source_file=name, position=position, kind="concession" if concession else "marche", format=fmt,
        buyer_siret=buyer.get("id"), buyer_name=buyer.get("nom"), contract_id=raw.get("id"),
        uid=raw.get("uid"), nature=raw.get("nature"), objet=raw.get("objet"), procedure=raw.get("procedure"),
        cpv=raw.get("codeCPV"), amount=_number(raw.get("valeurGlobale" if concession else "montant")),
        duration_months=_int(raw.get("dureeMois")), notification_date=_date(notification_raw),
        start_date=_date(raw.get("dateDebutExecution")), publication_date=_date(publication_raw),
        notification_date_raw=notification_raw, publication_date_raw=publication_raw,
        place_code=place.get("code") if isinstance(place, dict) else None,
        place_type=place.get("typeCode") if isinstance(place, dict) else None,
        place_name=place.get("nom") if isinstance(place, dict) else None,
        holders=[{"id": h.get("id"), "type_id": h.get("typeIdentifiant"), "name": h.get("denominationSociale")}
                 for h in holders if isinstance(h, dict)],
        modifications=[
            Modification(
                position=i, modification_id=m.get("id"),
                notification_date=_date(m.get("dateSignatureModification" if concession else "dateNotificationModification")),
                publication_date=_date(m.get("datePublicationDonneesModification")),
                amount=_number(m.get("valeurGlobale" if concession else "montant")),
                duration_months=_int(m.get("dureeMois")), objet=m.get("objetModification"),
            )
            for i, m in enumerate(mods) if isinstance(m, dict)
        ],
    )


def _element_to_dict(element) -> dict:
    out = {}
    for child in element:
        tag = child.tag
        if len(child):
            if tag in LIST_ITEMS:
                out[tag] = [_element_to_dict(item) for item in child]
            else:
                out[tag] = _element_to_dict(child)
        else:
            out[tag] = (child.text or "").strip() or None
    return out


def read_decp(path, name: Optional[str] = None) -> Iterator[Record]:
    path = Path(path)
    name = name or str(path)
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        from lxml import etree

        position = 0
        for _, element in etree.iterparse(str(path), events=("end",), tag=("marche", "contrat-concession"),
                                          resolve_entities=False, no_network=True, load_dtd=False):
            raw = _element_to_dict(element)
            if element.tag == "contrat-concession":
                raw["_type"] = "Contrat de concession"
            yield _record(raw, name, position, "xml-2019")
            position += 1
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
        return
    # The bench writes one record per line (bench/corpus.py), and real files carry bare NaN,
    # which the stdlib parser accepts: read line by line.
    import json

    position = 0
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            line = line.strip().rstrip(",")
            if not line.startswith("{") or line.startswith('{"marches"'):
                continue
            yield _record(json.loads(line), name, position, "json-2019")
            position += 1
