"""Read buyer-profile declaration CSVs (siretAcheteur, urlProfilAcheteur, urlDCAT, coordonnees).

These files are made by hand in spreadsheets and it shows: `;` or `,`, UTF-8 or Windows
encodings, a BOM, CRLF and LF mixed, quoted multi-line addresses, the header spelled several
ways (the official aggregation says `coordonnnées`, three n), SIRETs turned into `2,10104E+13`
by Excel, and a platform (klekoon) whose header runs straight into the first data row.
Every row becomes a Declaration; everything doubtful becomes a Finding beside it.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, Union

from decp_monitor.core.findings import finding
from decp_monitor.core.model import Declaration, Finding
from decp_monitor.core.siret import clean_siret, siret_problem

BOM = b"\xef\xbb\xbf"
# A declaration file is a short list of buyers; anything far larger is not one.
MAX_DECLARATION_BYTES = 50 * 1024 * 1024

# Normalised header -> Declaration attribute. Normalised = no accents, lower case, letters only.
_COLUMNS = {
    "siretacheteur": "siret",
    "urlprofilacheteur": "url_profil_acheteur",
    "urldcat": "url_dcat",
}
_COORDONNEES = re.compile(r"^coor?don+e+s?$")  # coordonnees, coordonnnees, coordonees...
_SCIENTIFIC = re.compile(r"^\s*\d+(?:[.,]\d+)?\s*[eE]\s*[+-]?\s*\d+\s*$")
# The klekoon quirk: the last header name glued to the first SIRET of the data.
_GLUED_HEADER = re.compile(
    r"(coor?don+[eé]+s?|urldcat|urlprofilacheteur)[\"']?(?=\s*\"?\d)", re.IGNORECASE
)


def normalise_header(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.replace("\ufeff", ""))
    return "".join(c for c in text if c.isascii() and c.isalnum()).lower()


def _column_for(header: str) -> Optional[str]:
    key = normalise_header(header)
    if key in _COLUMNS:
        return _COLUMNS[key]
    if _COORDONNEES.match(key):
        return "coordonnees"
    return None


def looks_like_declaration_csv(first_bytes: bytes) -> bool:
    """True when the first line names a siretAcheteur column (cheap: used to classify downloads)."""
    head = first_bytes[:8192]
    if head.startswith(BOM):
        head = head[len(BOM):]
    stripped = head.lstrip()
    if not stripped or stripped[:1] in (b"{", b"[", b"<"):
        return False
    first_line = head.decode("latin-1").splitlines()[0] if head else ""
    return "siretacheteur" in normalise_header(first_line)


def _decode(data: bytes, name: str) -> tuple[str, list[Finding]]:
    findings = []
    if data.startswith(BOM):
        data = data[len(BOM):]
        findings.append(finding(name, "utf8_bom"))
    try:
        return data.decode("utf-8"), findings
    except UnicodeDecodeError as exc:
        try:
            text, encoding = data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        findings.append(finding(
            name, "encoding_fallback",
            f"Fichier non UTF-8 (octet invalide à la position {exc.start}) : lu en {encoding}",
        ))
        return text, findings


def _unglue_header(text: str, name: str) -> tuple[str, list[Finding]]:
    """Put back the newline klekoon leaves out between the header and the first row."""
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    if "siretacheteur" not in normalise_header(first_line):
        return text, []
    match = _GLUED_HEADER.search(first_line)
    if match is None:
        return text, []
    # Only when the glued name is the last header cell: nothing but data after it on the line.
    before = first_line[: match.start()]
    if before.count(";") + before.count(",") < 1:
        return text, []
    cut = match.end()
    return text[:cut] + "\n" + text[cut:], [finding(
        name, "declaration_header_glued",
        "En-tête collé à la première ligne de données (saut de ligne absent) : séparés à la lecture",
        position=1,
    )]


def _sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") >= header_line.count(",") else ","


def _clean_url(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    value = value.strip()
    return value or None


def read_declarations(
    source: Union[str, Path, bytes], name: Optional[str] = None
) -> Iterator[Union[Declaration, Finding]]:
    """Declarations and findings of one CSV, in file order. Never raises on bad content."""
    if isinstance(source, (bytes, bytearray)):
        name = name or "<bytes>"
        data = bytes(source)
    else:
        name = name or str(source)
        try:
            with open(source, "rb") as handle:
                data = handle.read(MAX_DECLARATION_BYTES + 1)
        except OSError as exc:
            yield finding(name, "file_unreadable", f"Fichier impossible à ouvrir : {exc.strerror or exc}")
            return
    if len(data) > MAX_DECLARATION_BYTES:
        yield finding(name, "file_too_large", "Fichier de déclaration de plus de 50 Mo : non lu")
        return
    text, notes = _decode(data, name)
    yield from notes
    text, notes = _unglue_header(text, name)
    yield from notes
    if not text.strip():
        yield finding(name, "empty_file", "Fichier de déclaration vide")
        return

    header_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(header_line))
    try:
        header = next(reader)
    except csv.Error as exc:
        yield finding(name, "file_unreadable", f"CSV illisible : {exc}")
        return
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        column = _column_for(cell)
        if column is not None and column not in columns:
            columns[column] = index
    if "siret" not in columns:
        yield finding(
            name, "declaration_missing_column",
            "Colonne siretAcheteur absente de l'en-tête : aucune déclaration lue",
            field="siretAcheteur", value=header_line.strip()[:200],
        )
        return

    line = reader.line_num + 1  # physical line where the next row starts
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield finding(name, "file_unreadable", f"Ligne CSV illisible : {exc}", position=line)
            break
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        yield from _declaration(row, columns, name, start)


def _cell(row: list[str], columns: dict[str, int], column: str) -> Optional[str]:
    index = columns.get(column)
    if index is None or index >= len(row):
        return None
    return row[index]


def _declaration(row, columns, name, line) -> Iterator[Union[Declaration, Finding]]:
    raw = (_cell(row, columns, "siret") or "").strip()
    siret: Optional[str] = None
    if _SCIENTIFIC.match(raw):
        # Excel kept only a few significant digits: the SIRET is gone, never guess it back.
        yield finding(
            name, "declaration_siret_mangled",
            f"SIRET en notation scientifique ({raw}) : chiffres perdus par un tableur, non récupérable",
            position=line, field="siretAcheteur", value=raw,
        )
    else:
        problem = siret_problem(raw)
        digits = clean_siret(raw)
        if problem is None:
            siret = digits
        else:
            if digits is not None and len(digits) == 14:
                siret = digits  # a checksum error may still match the buyer's own files
            yield finding(
                name, "invalid_siret", f"SIRET de la déclaration invalide : {problem}",
                position=line, field="siretAcheteur", value=raw, buyer_siret=siret,
            )
    url_profile = _clean_url(_cell(row, columns, "url_profil_acheteur"))
    url_dcat = _clean_url(_cell(row, columns, "url_dcat"))
    for field_name, url in (("urlProfilAcheteur", url_profile), ("urlDCAT", url_dcat)):
        if url is not None and not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
            yield finding(name, "invalid_url", f"URL invalide dans {field_name}", position=line,
                          field=field_name, value=url, buyer_siret=siret)
    coordonnees = _cell(row, columns, "coordonnees")
    coordonnees = coordonnees.strip() if coordonnees and coordonnees.strip() else None
    yield Declaration(
        source_file=name, line=line, siret=siret, siret_raw=raw,
        url_profil_acheteur=url_profile, url_dcat=url_dcat, coordonnees=coordonnees,
    )
