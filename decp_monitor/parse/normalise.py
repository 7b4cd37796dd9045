"""One normaliser for every format: a raw record (dict from JSON, or from XML via xml_reader)
becomes a Record plus its findings. Nothing is guessed: a missing date stays missing.

Bounds: an amount above ABSURD_AMOUNT (1e11 €, ten times the largest French contracts) is
`absurd_amount`; a date after today is `date_in_future`.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Optional

from decp_monitor.core.dates import parse_decp_date
from decp_monitor.core.findings import finding
from decp_monitor.core.french import fr_amount, fr_day
from decp_monitor.core.model import Finding, Modification, Record
from decp_monitor.core.siret import clean_siret, siret_problem

ABSURD_AMOUNT = 1e11
_MISSING_TEXT = {"", "nan", "nc", "null", "none"}
_CONCESSION_KEYS = ("autoriteConcedante", "dateSignature", "valeurGlobale", "concessionnaires")


class FileState:
    """Per-file memory of file-level findings already emitted (once per file, not per record)."""

    __slots__ = ("source_file", "today", "spaced_keys_reported")

    def __init__(self, source_file: str, today: Optional[dt.date] = None):
        self.source_file = source_file
        self.today = today or dt.date.today()
        self.spaced_keys_reported = False


def _text(value: Any) -> Optional[str]:
    if type(value) is str:  # the common case, kept first for speed
        return value.strip() or None
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def _clean_keys(raw: dict, state: FileState, out: list[Finding], position: int) -> dict:
    """Strip stray spaces from keys ("nom " -> "nom"); reported once per file."""
    if " " not in "".join(raw) or not any(k != k.strip() for k in raw):
        return raw
    if not state.spaced_keys_reported:
        state.spaced_keys_reported = True
        bad = next(k for k in raw if k != k.strip())
        out.append(finding(state.source_file, "key_with_spaces",
                           f"Nom de champ avec espaces parasites : « {bad} » (signalé une fois par fichier)",
                           position=position, field=bad.strip(), value=bad))
    return {k.strip(): v for k, v in raw.items()}


def _scalar_list(value: Any) -> list:
    """Values of a field possibly repeated (XML duplicate elements arrive as a list)."""
    if isinstance(value, list):
        return [v for v in value if not isinstance(v, (dict, list))]
    return [value]


class _Ctx:
    __slots__ = ("state", "out", "position", "siret", "cid")

    def __init__(self, state, out, position):
        self.state, self.out, self.position = state, out, position
        self.siret = None
        self.cid = None

    def add(self, code, message=None, field=None, value=None):
        self.out.append(finding(self.state.source_file, code, message, position=self.position,
                                field=field, value=value, buyer_siret=self.siret, contract_id=self.cid))


def _date(ctx: _Ctx, raw: Any, field: str) -> tuple[Optional[dt.date], Optional[str]]:
    """Parse one date field; repeated values keep the earliest (duplicate_field)."""
    values = _scalar_list(raw)
    if len(values) > 1:
        ctx.add("duplicate_field", f"Champ « {field} » répété {len(values)} fois (la plus ancienne date est retenue)",
                field=field, value=" | ".join(str(v) for v in values))
    best: Optional[dt.date] = None
    best_raw: Optional[str] = None
    for value in values:
        text = _text(value)
        parsed, problem = parse_decp_date(text)
        if problem:
            label = "Date illisible" if problem == "unparseable_date" else "Année invraisemblable"
            ctx.add(problem, f"{label} dans « {field} » : {text!r}", field=field, value=text)
        elif parsed is not None:
            if parsed > ctx.state.today:
                ctx.add("date_in_future", f"Date dans le futur dans « {field} » : {fr_day(parsed)}",
                        field=field, value=text)
            if best is None or parsed < best:
                best, best_raw = parsed, text
        elif best_raw is None and text is not None:
            best_raw = text
    if best_raw is None and values:
        best_raw = _text(values[0])
    return best, best_raw


def _number(ctx: _Ctx, raw: Any, field: str, is_amount: bool) -> Optional[float]:
    values = _scalar_list(raw)
    if len(values) > 1:
        ctx.add("duplicate_field", f"Champ « {field} » répété {len(values)} fois", field=field,
                value=" | ".join(str(v) for v in values))
    value = values[0] if values else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "")
        if text.lower() in _MISSING_TEXT:
            if text:
                ctx.add("unparseable_number", f"Valeur non numérique dans « {field} » : {value!r}",
                        field=field, value=value)
            return None
        try:
            number = float(text.replace(",", ".") if text.count(",") == 1 and "." not in text else text)
        except ValueError:
            ctx.add("unparseable_number", f"Nombre illisible dans « {field} » : {value!r}", field=field, value=value)
            return None
    if math.isnan(number) or math.isinf(number):
        ctx.add("unparseable_number", f"Nombre illisible dans « {field} » : {value!r}", field=field, value=value)
        return None
    if is_amount:
        if number < 0:
            ctx.add("negative_amount", f"Montant négatif dans « {field} » : {fr_amount(number)}", field=field, value=value)
        elif number > ABSURD_AMOUNT:
            ctx.add("absurd_amount", f"Montant invraisemblable dans « {field} » : {fr_amount(number)} "
                                    f"(plus de {fr_amount(ABSURD_AMOUNT)})",
                    field=field, value=value)
    return number


def _duration(ctx: _Ctx, raw: Any, field: str) -> Optional[int]:
    number = _number(ctx, raw, field, is_amount=False)
    if number is None:
        return None
    if number != int(number):
        ctx.add("unparseable_number", f"Durée non entière dans « {field} » : {number}", field=field, value=number)
    return int(number)


def _flatten(value: Any, wrapper: str, depth: int = 0) -> list[dict]:
    """Flatten nested lists and unwrap {"titulaire": {...}} / {"modification": [...]} forms."""
    if depth > 20 or value is None:
        return []
    if isinstance(value, list):
        items: list[dict] = []
        for item in value:
            items.extend(_flatten(item, wrapper, depth + 1))
        return items
    if isinstance(value, dict):
        if wrapper in value and len(value) == 1:
            return _flatten(value[wrapper], wrapper, depth + 1)
        return [value]
    return []


def _holders(raw: Any) -> list[dict]:
    holders = []
    for h in _flatten(raw, "titulaire") + []:
        if len(h) == 1 and "concessionnaire" in h:
            inner = _flatten(h["concessionnaire"], "concessionnaire")
        else:
            inner = [h]
        for item in inner:
            holders.append({"id": _text(item.get("id")), "type_id": _text(item.get("typeIdentifiant")),
                            "name": _text(item.get("denominationSociale"))})
    return holders


def _party(record: dict, key: str, ctx: _Ctx) -> tuple[Optional[str], Optional[str], bool]:
    """(id, name, present) of acheteur / autoriteConcedante, also from a flattened "acheteur.id"."""
    party = record.get(key)
    if isinstance(party, list):
        party = next((p for p in party if isinstance(p, dict)), None)
    if isinstance(party, dict):
        party = _clean_keys(party, ctx.state, ctx.out, ctx.position)  # {"nom ": …} is common
        return _text(party.get("id")), _text(party.get("nom")), True
    flat = record.get(key + ".id")
    if flat is not None:
        return _text(flat), _text(record.get(key + ".nom")), True
    if _text(party) is not None:
        return _text(party), None, True
    return None, None, False


def detect_kind(record: dict, hint: Optional[str] = None) -> str:
    type_ = _text(record.get("_type"))
    if type_:
        return "concession" if "concession" in type_.lower() else "marche"
    if hint:
        return hint
    for key in _CONCESSION_KEYS:
        if _text(record.get(key)) is not None or isinstance(record.get(key), dict):
            if key == "autoriteConcedante" or "acheteur" not in record:
                return "concession"
    return "marche"


def normalise(raw: dict, position: int, fmt: str, state: FileState,
              kind_hint: Optional[str] = None) -> tuple[Record, list[Finding]]:
    out: list[Finding] = []
    raw = _clean_keys(raw, state, out, position)
    ctx = _Ctx(state, out, position)
    kind = detect_kind(raw, kind_hint)
    concession = kind == "concession"

    buyer_key = "autoriteConcedante" if concession else "acheteur"
    siret_raw, buyer_name, present = _party(raw, buyer_key, ctx)
    if not present:
        siret_raw, buyer_name, present = _party(raw, "acheteur" if concession else "autoriteConcedante", ctx)
    cid = _text(raw.get("id"))
    ctx.cid = cid
    buyer_siret = None
    if siret_raw is None:
        ctx.add("missing_buyer", "Acheteur absent (pas d'identifiant)", field=buyer_key)
    else:
        cleaned = clean_siret(siret_raw)
        buyer_siret = cleaned if cleaned is not None else siret_raw
        ctx.siret = buyer_siret
        problem = siret_problem(siret_raw)
        if problem:
            ctx.add("invalid_siret", f"SIRET de l'acheteur invalide : {problem}", field=buyer_key + ".id",
                    value=siret_raw)
    if cid is None:
        ctx.add("missing_id", field="id")

    notif_field = "dateSignature" if concession and "dateSignature" in raw else "dateNotification"
    if concession and notif_field not in raw and "dateNotification" not in raw:
        notif_field = "dateSignature"
    notification, notification_raw = _date(ctx, raw.get(notif_field), notif_field)
    start, _ = _date(ctx, raw.get("dateDebutExecution"), "dateDebutExecution")
    publication, publication_raw = _date(ctx, raw.get("datePublicationDonnees"), "datePublicationDonnees")
    if notification is None and notification_raw is None:
        ctx.add("missing_notification_date", f"Date de notification absente ({notif_field})", field=notif_field)
    if publication is None and publication_raw is None:
        ctx.add("missing_publication_date", field="datePublicationDonnees")
    if notification and publication and publication < notification:
        ctx.add("publication_before_notification",
                f"Publication déclarée ({fr_day(publication)}) antérieure à la notification "
                f"({fr_day(notification)})", field="datePublicationDonnees", value=publication_raw)

    amount_field = "valeurGlobale" if concession and "valeurGlobale" in raw else "montant"
    amount = _number(ctx, raw.get(amount_field), amount_field, is_amount=True)
    duration = _duration(ctx, raw.get("dureeMois"), "dureeMois")

    place = raw.get("lieuExecution")
    place_code = place_type = place_name = None
    if isinstance(place, dict):
        place = _clean_keys(place, state, out, position)
        place_code, place_type, place_name = _text(place.get("code")), _text(place.get("typeCode")), _text(place.get("nom"))

    holders_raw = raw.get("concessionnaires") if concession else raw.get("titulaires")
    if holders_raw is None:
        holders_raw = raw.get("titulaires") if concession else raw.get("concessionnaires")
    holders = _holders(holders_raw)

    modifications = []
    for index, mod in enumerate(_flatten(raw.get("modifications"), "modification")):
        modifications.append(_modification(ctx, mod, index, concession, notification))

    cpv = raw.get("codeCPV")
    record = Record(
        source_file=state.source_file, position=position, kind=kind, format=fmt,
        buyer_siret=buyer_siret, buyer_name=buyer_name, contract_id=cid, uid=_text(raw.get("uid")),
        nature=_text(raw.get("nature")), objet=_text(raw.get("objet")), procedure=_text(raw.get("procedure")),
        cpv=_text(cpv[0] if isinstance(cpv, list) and cpv else cpv), amount=amount, duration_months=duration,
        notification_date=notification, start_date=start, publication_date=publication,
        notification_date_raw=notification_raw, publication_date_raw=publication_raw,
        place_code=place_code, place_type=place_type, place_name=place_name,
        holders=holders, modifications=modifications,
    )
    return record, out


def _modification(ctx: _Ctx, mod: dict, index: int, concession: bool,
                  contract_notification: Optional[dt.date]) -> Modification:
    if " " in "".join(mod) and any(k != k.strip() for k in mod):
        mod = {k.strip(): v for k, v in mod.items()}
    notif_field = "dateSignatureModification" if "dateSignatureModification" in mod else "dateNotificationModification"
    notified, _ = _date(ctx, mod.get(notif_field), notif_field)
    published, _ = _date(ctx, mod.get("datePublicationDonneesModification"), "datePublicationDonneesModification")
    if notified and contract_notification and notified < contract_notification:
        ctx.add("modification_before_notification",
                f"Modification n°{index + 1} notifiée le {fr_day(notified)}, avant le contrat "
                f"({fr_day(contract_notification)})", field=notif_field, value=notified.isoformat())
    amount_field = "valeurGlobale" if "valeurGlobale" in mod else "montant"
    amount = _number(ctx, mod.get(amount_field), amount_field, is_amount=True)
    duration = _duration(ctx, mod.get("dureeMois"), "dureeMois")
    return Modification(position=index, modification_id=_text(mod.get("id")), notification_date=notified,
                        publication_date=published, amount=amount, duration_months=duration,
                        objet=_text(mod.get("objetModification") or mod.get("objet")))
