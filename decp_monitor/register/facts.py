"""One fact shape for what the registers say about a SIRET, and the parsers that produce it.

Three sources answer differently (real recorded responses: real/annuaire/SOURCES.md):
- API Recherche d'entreprises (`/search?q=SIRET`): the legal unit, with the queried establishment
  in `matching_etablissements` (no département there), or only its head office (`siege`) when the
  query was a SIREN; an unknown SIRET is a 200 with no result; names can be null or
  "[NON-DIFFUSIBLE]"; a degenerate record has an empty `siege` and null everything.
- API Entreprise v3 (`/v3/insee/sirene/etablissements/{siret}`): dates are epoch seconds at
  midnight Paris time (a naive UTC conversion gives the day before); no département field.
- INSEE Sirene 3.11 (`/siret/{siret}`, `/siren/{siren}`): the establishment's state and sign
  live only in `periodesEtablissement` (current period: `dateFin` null), the legal unit's name in
  `periodesUniteLegale` for a `/siren` answer.

Every parser takes the decoded JSON body and the SIRET asked for, never raises on a strange body
(a ParseProblem says what was wrong), and derives département and région from the commune code.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional
from zoneinfo import ZoneInfo

from decp_monitor.register import kinds, reference

PARIS = ZoneInfo("Europe/Paris")
NON_DIFFUSIBLE = "[NON-DIFFUSIBLE]"
MAX_NAME = 300  # longer is not a name; bounded like every other input

SOURCE_LABELS = {
    "donnees": "données publiées par l'acheteur",
    "declaration": "déclaration du profil d'acheteur",
    "jeu_de_donnees": "titre du jeu de données data.gouv.fr",
    "recherche-entreprises": "API Recherche d'entreprises",
    "api-entreprise": "API Entreprise (INSEE)",
    "insee": "API Sirene de l'INSEE",
    "demo": "répertoire de démonstration",
}
# Names too generic to say who it is: the commune is added ("CENTRE COMMUNAL D ACTION SOCIALE — CORAY").
GENERIC_NAMES = ("CENTRE COMMUNAL D ACTION SOCIALE", "CENTRE COMMUNAL D'ACTION SOCIALE", "CCAS",
                 "CAISSE DES ECOLES", "CAISSE DES ÉCOLES", "CIAS")
# Signs that say less than the legal unit's name (the town hall of a commune): the legal name is kept.
UNINFORMATIVE_SIGNS = ("MAIRIE", "HOTEL DE VILLE", "HÔTEL DE VILLE", "SIEGE", "SIÈGE", "SIEGE SOCIAL")


class ParseProblem(ValueError):
    """A response body that is not what the API sends (French message)."""


@dataclass
class Fact:
    siret: str
    found: bool = True  # False: the register answered and does not know this SIRET
    name: Optional[str] = None  # the establishment as a reader would name it
    legal_name: Optional[str] = None  # the legal unit (SIREN)
    categorie_juridique: Optional[str] = None
    categorie_juridique_label: Optional[str] = None
    kind: Optional[str] = None
    state: Optional[str] = None  # establishment: A (active) | F (closed)
    closed_on: Optional[dt.date] = None
    legal_state: Optional[str] = None  # legal unit: A | C (ceased)
    commune_code: Optional[str] = None
    commune_name: Optional[str] = None
    departement: Optional[str] = None
    region: Optional[str] = None
    head_office_siret: Optional[str] = None
    is_head_office: Optional[bool] = None
    non_diffusible: bool = False
    source: str = ""
    fetched_at: Optional[dt.datetime] = None

    @property
    def siren(self) -> str:
        return self.siret[:9]

    def row(self) -> dict[str, Any]:
        values = asdict(self)
        values["siren"] = self.siren
        return values


FACT_COLUMNS = tuple(f.name for f in fields(Fact)) + ("siren",)


def _text(value: object) -> Optional[str]:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())[:MAX_NAME]
    return text or None


def _name(value: object) -> tuple[Optional[str], bool]:
    """(name, non-diffusible?)"""
    text = _text(value)
    if text and text.upper().startswith(NON_DIFFUSIBLE):
        return None, True
    return text, False


def _iso_date(value: object) -> Optional[dt.date]:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def paris_date(epoch: object) -> Optional[dt.date]:
    """An API Entreprise epoch (seconds, midnight Paris time) as the calendar date it means."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(epoch, tz=PARIS).date()
    except (OverflowError, OSError, ValueError):
        return None


def _state(value: object, allowed: str) -> Optional[str]:
    text = _text(value)
    return text.upper() if text and text.upper() in allowed else None


def _siret(value: object) -> Optional[str]:
    text = _text(value)
    return text if text and len(text) == 14 and text.isdigit() else None


def readable_name(name: Optional[str], commune: Optional[str]) -> Optional[str]:
    """A generic name gets its commune, so that the CCAS of Coray is not one of thousands alike."""
    if not name or not commune:
        return name
    if name.upper().strip(" .") in GENERIC_NAMES and commune.upper() not in name.upper():
        return f"{name} — {commune}"
    return name


def complete(fact: Fact) -> Fact:
    """Derived fields: département and région from the commune, kind and label from the code."""
    fact.commune_code = reference.clean_commune_code(fact.commune_code)
    fact.departement = fact.departement or reference.department_of_commune(fact.commune_code)
    fact.region = reference.region_of_department(fact.departement) or fact.region
    code = kinds.clean_code(fact.categorie_juridique)
    fact.categorie_juridique = code
    fact.categorie_juridique_label = kinds.label(code, fact.categorie_juridique_label)
    fact.kind = kinds.kind(code) if fact.found else None
    if fact.name is None or fact.name.upper().strip(" .") in UNINFORMATIVE_SIGNS:
        fact.name = fact.legal_name
    fact.name = readable_name(fact.name, fact.commune_name)
    if fact.head_office_siret and fact.is_head_office is None:
        fact.is_head_office = fact.head_office_siret == fact.siret
    return fact


def _object(value: object) -> dict:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _stamp(fetched_at: Optional[dt.datetime]) -> dt.datetime:
    return fetched_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- API Recherche d'entreprises ----------------------------------------------------------------


def from_recherche(body: object, siret: str, fetched_at: Optional[dt.datetime] = None) -> Fact:
    """`/search?q=<SIRET>` (or a SIREN answer) -> the fact about `siret`."""
    if isinstance(body, dict) and "result" in body and "searchTerms" in body:
        body = body["result"]  # the annuaire site's fixture wrapper
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ParseProblem("réponse de l'API Recherche d'entreprises sans liste « results »")
    stamp = _stamp(fetched_at)
    units = [u for u in body["results"] if isinstance(u, dict)]
    unit = next((u for u in units if u.get("siren") == siret[:9]), None)
    if unit is None:
        return Fact(siret, found=False, source="recherche-entreprises", fetched_at=stamp)
    siege = _object(unit.get("siege"))
    matching = [e for e in unit.get("matching_etablissements") or [] if isinstance(e, dict)]
    establishment = next((e for e in matching if e.get("siret") == siret), None)
    if establishment is None and siege.get("siret") == siret:
        establishment = siege
    legal_name, hidden = _name(unit.get("nom_complet"))
    if legal_name is None and not hidden:
        legal_name, hidden = _name(unit.get("nom_raison_sociale"))
    fact = Fact(
        siret, legal_name=legal_name, categorie_juridique=_text(unit.get("nature_juridique")),
        legal_state=_state(unit.get("etat_administratif"), "AC"),
        head_office_siret=_siret(siege.get("siret")),
        non_diffusible=hidden or unit.get("statut_diffusion") == "P",
        source="recherche-entreprises", fetched_at=stamp,
    )
    if establishment is not None:
        signs = establishment.get("liste_enseignes")
        sign = _text(signs[0]) if isinstance(signs, list) and signs else None
        fact.name, sign_hidden = _name(sign or establishment.get("nom_commercial"))
        fact.state = _state(establishment.get("etat_administratif"), "AF")
        fact.closed_on = _iso_date(establishment.get("date_fermeture"))
        fact.commune_code = _text(establishment.get("commune"))
        fact.commune_name = _name(establishment.get("libelle_commune"))[0]
        fact.is_head_office = establishment.get("est_siege") if isinstance(establishment.get("est_siege"), bool) else None
        fact.non_diffusible = fact.non_diffusible or sign_hidden or establishment.get("statut_diffusion_etablissement") == "P"
    elif fact.legal_state == "C" and fact.head_office_siret is None:
        fact.state = "F"  # a ceased legal unit has no open establishment left
    return complete(fact)


# -- API Entreprise v3 ---------------------------------------------------------------------------


def from_api_entreprise(body: object, siret: str, fetched_at: Optional[dt.datetime] = None) -> Fact:
    """`/v3/insee/sirene/etablissements/{siret}` -> the fact; an `errors` body is "not found"."""
    stamp = _stamp(fetched_at)
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return Fact(siret, found=False, source="api-entreprise", fetched_at=stamp)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise ParseProblem("réponse de l'API Entreprise sans objet « data »")
    unit = _object(data.get("unite_legale"))
    moral = _object(unit.get("personne_morale_attributs"))
    form = _object(unit.get("forme_juridique"))
    address = _object(data.get("adresse"))
    legal_name, hidden = _name(moral.get("raison_sociale"))
    sign, sign_hidden = _name(data.get("enseigne"))
    fact = Fact(
        siret, name=sign, legal_name=legal_name,
        categorie_juridique=_text(form.get("code")), categorie_juridique_label=_text(form.get("libelle")),
        state=_state(data.get("etat_administratif"), "AF"), closed_on=paris_date(data.get("date_fermeture")),
        legal_state=_state(unit.get("etat_administratif"), "AC"),
        commune_code=_text(address.get("code_commune")), commune_name=_name(address.get("libelle_commune"))[0],
        head_office_siret=_siret(unit.get("siret_siege_social")),
        is_head_office=data.get("siege_social") if isinstance(data.get("siege_social"), bool) else None,
        non_diffusible=hidden or sign_hidden or data.get("status_diffusion") not in (None, "diffusible"),
        source="api-entreprise", fetched_at=stamp,
    )
    return complete(fact)


# -- INSEE Sirene 3.11 ----------------------------------------------------------------------------


def _current(periods: object) -> dict:
    items = [p for p in periods or [] if isinstance(p, dict)] if isinstance(periods, list) else []
    return next((p for p in items if p.get("dateFin") is None), items[0] if items else {})


def from_insee(body: object, siret: str, fetched_at: Optional[dt.datetime] = None) -> Fact:
    """`/siret/{siret}` (or `/siren/{siren}`, legal unit only) -> the fact."""
    stamp = _stamp(fetched_at)
    if not isinstance(body, dict):
        raise ParseProblem("réponse de l'API Sirene illisible")
    header = _object(body.get("header"))
    if header.get("statut") == 404:
        return Fact(siret, found=False, source="insee", fetched_at=stamp)
    establishment = body.get("etablissement")
    if isinstance(establishment, dict):
        unit = _object(establishment.get("uniteLegale"))
        address = _object(establishment.get("adresseEtablissement"))
        period = _current(establishment.get("periodesEtablissement"))
        legal_name, hidden = _name(unit.get("denominationUniteLegale"))
        sign, _ = _name(period.get("enseigne1Etablissement") or period.get("denominationUsuelleEtablissement"))
        state = _state(period.get("etatAdministratifEtablissement"), "AF")
        nic = _text(unit.get("nicSiegeUniteLegale"))
        fact = Fact(
            siret, name=sign, legal_name=legal_name,
            categorie_juridique=_text(unit.get("categorieJuridiqueUniteLegale")),
            state=state, closed_on=_iso_date(period.get("dateDebut")) if state == "F" else None,
            legal_state=_state(unit.get("etatAdministratifUniteLegale"), "AC"),
            commune_code=_text(address.get("codeCommuneEtablissement")),
            commune_name=_text(address.get("libelleCommuneEtablissement")),
            head_office_siret=siret[:9] + nic if nic and len(nic) == 5 and nic.isdigit() else None,
            is_head_office=establishment.get("etablissementSiege") if isinstance(establishment.get("etablissementSiege"), bool) else None,
            non_diffusible=hidden or establishment.get("statutDiffusionEtablissement") == "P",
            source="insee", fetched_at=stamp,
        )
        return complete(fact)
    legal_unit = body.get("uniteLegale")
    if isinstance(legal_unit, dict):
        period = _current(legal_unit.get("periodesUniteLegale"))
        legal_name, hidden = _name(period.get("denominationUniteLegale"))
        nic = _text(period.get("nicSiegeUniteLegale"))
        fact = Fact(
            siret, legal_name=legal_name, categorie_juridique=_text(period.get("categorieJuridiqueUniteLegale")),
            legal_state=_state(period.get("etatAdministratifUniteLegale"), "AC"),
            head_office_siret=siret[:9] + nic if nic and len(nic) == 5 and nic.isdigit() else None,
            non_diffusible=hidden, source="insee", fetched_at=stamp,
        )
        return complete(fact)
    raise ParseProblem("réponse de l'API Sirene sans « etablissement » ni « uniteLegale »")
