"""data.gouv.fr (udata) dataset objects -> rows of the `datasets` and `resources` tables.

Also decides what each resource is (a DECP file, a declaration CSV, documentation, something
else) from its metadata alone, with the reason in French: the refresh only downloads what may
hold DECP or declarations, and the dashboard shows why a resource was left aside.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Optional
from urllib.parse import urlsplit

from decp_monitor.core.findings import finding
from decp_monitor.core.model import Finding

DECP_FORMATS = {"json", "xml"}
CSV_FORMATS = {"csv", "txt"}
DOCUMENT_FORMATS = {"pdf", "doc", "docx", "odt", "md", "rtf", "ppt", "pptx", "odp"}
JSON_XML_MIMES = {"application/json", "application/xml", "text/xml", "text/json", "application/ld+json"}
CSV_MIMES = {"text/csv", "application/csv", "text/comma-separated-values"}


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return str(value)


def _bool(value: Any) -> Optional[bool]:
    """udata gives `archived`/`deleted` as a timestamp when set, null or false when not."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "none")
    return bool(value)


def _int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_timestamp(value: Any) -> Optional[dt.datetime]:
    """Platform timestamps (ISO 8601, with or without offset) as naive UTC; None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _ref(value: Any) -> tuple[Optional[str], Optional[str]]:
    """(id, name) of an organisation/owner given as an object, an id string or null."""
    if isinstance(value, dict):
        name = value.get("name")
        if name is None and (value.get("first_name") or value.get("last_name")):
            name = " ".join(p for p in (value.get("first_name"), value.get("last_name")) if p)
        return _text(value.get("id")), _text(name)
    if isinstance(value, str):
        return value, None
    return None, None


def _dict_or_none(value: Any) -> Optional[dict]:
    return value if isinstance(value, dict) else None


def dataset_findings(obj: Any, source: str) -> list[Finding]:
    """What is wrong with a dataset object, as findings (an empty list for a sound one)."""
    if not isinstance(obj, dict):
        return [finding(source, "api_error", "Réponse de l'API inattendue : un objet jeu de données était attendu",
                        value=type(obj).__name__)]
    problems = []
    if not obj.get("id"):
        present = ", ".join(sorted(obj)[:12])
        problems.append(finding(
            source, "api_error",
            "Jeu de données sans identifiant (réponse partielle ou tronquée) : ses ressources sont gardées "
            "sans jeu de données",
            field="id", value=present,
        ))
    resources = obj.get("resources")
    if resources is not None and not isinstance(resources, (list, dict)):
        problems.append(finding(source, "api_error", "Champ « resources » inattendu", field="resources",
                                value=type(resources).__name__))
    return problems


def dataset_rows(obj: Any, source: str) -> tuple[Optional[dict], list[dict]]:
    """A `datasets` row (None when the object has no id) and its `resources` rows.

    Never raises on a degenerate object; `dataset_findings` says what was wrong with it.
    """
    if not isinstance(obj, dict):
        return None, []
    dataset_id = _text(obj.get("id")) or None
    resources = obj.get("resources")
    resource_list = [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []
    if isinstance(resources, dict):
        resource_count = _int(resources.get("total"))
    elif isinstance(resources, list):
        resource_count = len(resources)
    else:
        resource_count = None
    rows = [resource_row(r, dataset_id) for r in resource_list]
    if dataset_id is None:
        return None, rows
    org_id, org_name = _ref(obj.get("organization"))
    owner_id, _ = _ref(obj.get("owner"))
    extras = _dict_or_none(obj.get("extras"))
    tags = obj.get("tags")
    dataset = {
        "dataset_id": dataset_id,
        "title": _text(obj.get("title")),
        "slug": _text(obj.get("slug")),
        "url": _text(obj.get("page")) or _text(obj.get("uri")),
        "tags": [str(t) for t in tags if t is not None] if isinstance(tags, list) else None,
        "extras": extras,
        "extras_siret": _text(extras.get("siret")) if extras and extras.get("siret") is not None else None,
        "license": _text(obj.get("license")),
        "frequency": _text(obj.get("frequency")),
        "organization_id": org_id,
        "organization_name": org_name,
        "owner_id": owner_id,
        "created_at": parse_timestamp(obj.get("created_at")),
        "last_modified": parse_timestamp(obj.get("last_modified")),
        "last_update": parse_timestamp(obj.get("last_update")),
        "archived": _bool(obj.get("archived")),
        "deleted": _bool(obj.get("deleted")),
        "private": _bool(obj.get("private")),
        "resource_count": resource_count,
        "source": source,
    }
    return dataset, rows


def resource_row(res: dict, dataset_id: Optional[str]) -> dict:
    checksum = _dict_or_none(res.get("checksum")) or {}
    schema = _dict_or_none(res.get("schema")) or {}
    classification, reason = classify_resource(res)
    return {
        "resource_id": _text(res.get("id")),
        "dataset_id": dataset_id,
        "title": _text(res.get("title")),
        "url": _text(res.get("url")),
        "latest": _text(res.get("latest")),
        "filetype": _text(res.get("filetype")),
        "type": _text(res.get("type")),
        "format": _text(res.get("format")),
        "mime": _text(res.get("mime")),
        "filesize": _int(res.get("filesize")),
        "checksum_type": _text(checksum.get("type")),
        "checksum_value": _text(checksum.get("value")),
        "created_at": parse_timestamp(res.get("created_at")),
        "last_modified": parse_timestamp(res.get("last_modified")),
        "schema_name": _text(schema.get("name")),
        "schema_version": _text(schema.get("version")),
        "schema_url": _text(schema.get("url")),
        "extras": _dict_or_none(res.get("extras")),
        "classification": classification,
        "classification_reason": reason,
        "local_file": None,
        "download_status": "not_attempted",
    }


def _extension(url: Optional[str]) -> str:
    if not url:
        return ""
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    match = re.search(r"\.([A-Za-z0-9]{1,5})$", path)
    return match.group(1).lower() if match else ""


def classify_resource(res: dict) -> tuple[str, str]:
    """(decp | declaration | documentation | other, French reason) from the metadata alone.

    A CSV is only a *candidate* declaration: the refresh confirms it from the header
    (siretAcheteur) once the first bytes are downloaded.
    """
    if not isinstance(res, dict):
        return "other", "ressource illisible dans la réponse de l'API"
    kind = (_text(res.get("type")) or "").strip().lower()
    fmt = (_text(res.get("format")) or "").strip().lower().lstrip(".")
    mime = (_text(res.get("mime")) or "").split(";")[0].strip().lower()
    ext = _extension(_text(res.get("url")))
    title_ext = _extension("/" + (_text(res.get("title")) or "").strip())

    if not _text(res.get("url")):
        return "other", "ressource sans URL"
    if kind in ("api", "code"):
        return "other", f"ressource de type « {kind} » (ni fichier de données ni déclaration)"

    decp_hint = None
    if fmt in DECP_FORMATS:
        decp_hint = f"format « {fmt} »"
    elif ext in DECP_FORMATS:
        decp_hint = f"URL en .{ext}"
    elif mime in JSON_XML_MIMES:
        decp_hint = f"type MIME {mime}"
    elif title_ext in DECP_FORMATS:
        decp_hint = f"titre en .{title_ext}"
    if decp_hint:
        if kind == "documentation":
            return "documentation", f"ressource de type « documentation » ({decp_hint})"
        return "decp", f"fichier JSON/XML susceptible de contenir des DECP ({decp_hint})"

    csv_hint = None
    if fmt in CSV_FORMATS and (fmt == "csv" or ext == "csv"):
        csv_hint = f"format « {fmt} »"
    elif ext == "csv":
        csv_hint = "URL en .csv"
    elif mime in CSV_MIMES:
        csv_hint = f"type MIME {mime}"
    elif title_ext == "csv":
        csv_hint = "titre en .csv"
    if csv_hint:
        return "declaration", f"CSV, déclaration de profil d'acheteur à confirmer par l'en-tête ({csv_hint})"

    if kind == "documentation" or fmt in DOCUMENT_FORMATS or ext in DOCUMENT_FORMATS:
        return "documentation", f"documentation (type « {kind or '?'} », format « {fmt or ext or '?'} »)"
    if fmt in ("html", "htm") or mime == "text/html":
        return "other", "lien vers une page web"
    return "other", f"format « {fmt or ext or 'inconnu'} » non pris en charge"


def looks_like_dataset_json(first_bytes: bytes) -> bool:
    """True for a udata dataset object or API page (cheap: used to sniff local files)."""
    head = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    if b'"marches"' in first_bytes:
        return False
    return b'"resources"' in first_bytes and (
        b'"slug"' in first_bytes or b'"filetype"' in first_bytes or b'"checksum"' in first_bytes
    )
