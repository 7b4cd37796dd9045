"""The values that flow from the readers into the store.

Readers (DECP files, declaration CSVs, data.gouv.fr metadata) yield these objects; the store
writes them in batches. Nothing here touches DuckDB or the network.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional


@dataclass(slots=True)
class Modification:
    """One modification of a contract, as declared inside its record."""

    position: int  # 0-based index in the record's modification list
    modification_id: Optional[str] = None
    # dateNotificationModification (marchés) / dateSignatureModification (concessions)
    notification_date: Optional[dt.date] = None
    publication_date: Optional[dt.date] = None  # datePublicationDonneesModification
    amount: Optional[float] = None  # montant / valeurGlobale after modification
    duration_months: Optional[int] = None
    objet: Optional[str] = None


@dataclass(slots=True)
class Record:
    """One contract record read from a file (a marché or a concession), normalised.

    Raw date strings are kept beside the parsed dates so that an unparseable value can be shown.
    """

    source_file: str  # path or file name as given to the reader
    position: int  # 0-based index of the record in its file
    kind: str  # "marche" | "concession"
    format: str  # "json-2019" | "json-2024" | "xml-2019" | "xml-2024"
    buyer_siret: Optional[str] = None  # digits only when it looked like a SIRET, else the raw value
    buyer_name: Optional[str] = None
    contract_id: Optional[str] = None
    uid: Optional[str] = None
    nature: Optional[str] = None
    objet: Optional[str] = None
    procedure: Optional[str] = None
    cpv: Optional[str] = None
    amount: Optional[float] = None  # montant (marché) / valeurGlobale (concession)
    duration_months: Optional[int] = None
    notification_date: Optional[dt.date] = None  # dateNotification / dateSignature
    start_date: Optional[dt.date] = None  # dateDebutExecution
    publication_date: Optional[dt.date] = None  # datePublicationDonnees (earliest if repeated)
    notification_date_raw: Optional[str] = None
    publication_date_raw: Optional[str] = None
    place_code: Optional[str] = None
    place_type: Optional[str] = None
    place_name: Optional[str] = None
    holders: list[dict] = field(default_factory=list)  # [{"id", "type_id", "name"}]
    modifications: list[Modification] = field(default_factory=list)


@dataclass(slots=True)
class Finding:
    """A defect found while reading: always recorded, never fatal.

    `code` is one of the stable codes of decp_monitor.core.findings.CODES; `message` is French.
    """

    source_file: str
    code: str
    message: str
    position: Optional[int] = None  # record position in the file, None for file-level findings
    field: Optional[str] = None
    value: Optional[str] = None  # the offending raw value, truncated
    buyer_siret: Optional[str] = None
    contract_id: Optional[str] = None


@dataclass(slots=True)
class Declaration:
    """One row of a buyer-profile declaration CSV."""

    source_file: str
    line: int  # 1-based line of the row in the CSV (header is line 1)
    siret: Optional[str]  # 14 digits when recoverable, else None (a finding says why)
    siret_raw: str
    url_profil_acheteur: Optional[str] = None
    url_dcat: Optional[str] = None
    coordonnees: Optional[str] = None
