"""The demo corpus: fictitious but realistic DECP publications, generated from a seed.

`generate_corpus(folder)` writes what a crawl of data.gouv.fr would bring back for a few hundred
buyers: DECP files in the 2019 and 2024 formats (JSON and XML), the buyer-profile declaration
CSVs of the platforms that host them, and the catalogue metadata (datasets and resources) as a
data.gouv.fr API page. The ordinary loaders read it (`python -m decp_monitor demo`), so the
dashboard shows what it would show on real data.

The buyers behave as real ones do: most publish on time, some late, some declare on time but
put the file online weeks later, some went silent, some are declared by a platform and never
published anything, some publish without being declared. The files carry the defects real
files carry (BOM, bare NaN, amounts as strings, keys with trailing spaces, latin-1, duplicated
and empty XML elements, typo years, missing dates, republications, reused ids, a truncated
file, an HTML error page saved as JSON), so every finding code has something to show.

`generate_records()` yields the same kind of contracts as plain 2019-shape dicts, at any size,
for the benchmark (bench/run.py).

All names, SIRETs and URLs are invented; URLs use the reserved `.example` domain.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from xml.sax.saxutils import escape

from stdnum import luhn

from decp_monitor.core.siret import is_valid_siret

DEMO_AS_OF = dt.date(2026, 9, 30)
FIRST_NOTIFICATION = dt.date(2019, 1, 1)
NEW_FORMAT_FROM = dt.date(2024, 1, 1)  # arrêtés of 22 Dec 2022: schema 2.0, data.gouv.fr directly

# -- vocabulary ---------------------------------------------------------------------------------

TOWNS = (
    ("Rennes", "35"), ("Quimper", "29"), ("Lorient", "56"), ("Vannes", "56"), ("Brest", "29"),
    ("Saint-Malo", "35"), ("Dinan", "22"), ("Lannion", "22"), ("Morlaix", "29"), ("Nantes", "44"),
    ("Angers", "49"), ("Le Mans", "72"), ("Laval", "53"), ("Tours", "37"), ("Orléans", "45"),
    ("Lille", "59"), ("Arras", "62"), ("Amiens", "80"), ("Rouen", "76"), ("Caen", "14"),
    ("Lyon", "69"), ("Villeurbanne", "69"), ("Grenoble", "38"), ("Annecy", "74"), ("Chambéry", "73"),
    ("Dijon", "21"), ("Besançon", "25"), ("Metz", "57"), ("Nancy", "54"), ("Strasbourg", "67"),
    ("Colmar", "68"), ("Reims", "51"), ("Troyes", "10"), ("Bordeaux", "33"), ("Pau", "64"),
    ("Bayonne", "64"), ("Toulouse", "31"), ("Albi", "81"), ("Montpellier", "34"), ("Nîmes", "30"),
    ("Perpignan", "66"), ("Marseille", "13"), ("Avignon", "84"), ("Toulon", "83"), ("Nice", "06"),
    ("Ajaccio", "2A"), ("Clermont-Ferrand", "63"), ("Limoges", "87"), ("Poitiers", "86"),
    ("La Rochelle", "17"), ("Saint-Denis", "974"), ("Fort-de-France", "972"), ("Cayenne", "973"),
    ("Versailles", "78"), ("Créteil", "94"), ("Montreuil", "93"), ("Argenteuil", "95"),
    ("Évry-Courcouronnes", "91"), ("Melun", "77"), ("Paris", "75"),
)
DEPARTMENTS = {
    "35": "d'Ille-et-Vilaine", "29": "du Finistère", "56": "du Morbihan", "22": "des Côtes-d'Armor",
    "44": "de la Loire-Atlantique", "49": "de Maine-et-Loire", "72": "de la Sarthe", "53": "de la Mayenne",
    "37": "d'Indre-et-Loire", "45": "du Loiret", "59": "du Nord", "62": "du Pas-de-Calais",
    "80": "de la Somme", "76": "de la Seine-Maritime", "14": "du Calvados", "69": "du Rhône",
    "38": "de l'Isère", "74": "de la Haute-Savoie", "73": "de la Savoie", "21": "de la Côte-d'Or",
    "25": "du Doubs", "57": "de la Moselle", "54": "de Meurthe-et-Moselle", "67": "du Bas-Rhin",
    "68": "du Haut-Rhin", "51": "de la Marne", "10": "de l'Aube", "33": "de la Gironde",
    "64": "des Pyrénées-Atlantiques", "31": "de la Haute-Garonne", "81": "du Tarn", "34": "de l'Hérault",
    "30": "du Gard", "66": "des Pyrénées-Orientales", "13": "des Bouches-du-Rhône", "84": "de Vaucluse",
    "83": "du Var", "06": "des Alpes-Maritimes", "2A": "de Corse-du-Sud", "63": "du Puy-de-Dôme",
    "87": "de la Haute-Vienne", "86": "de la Vienne", "17": "de la Charente-Maritime",
    "974": "de La Réunion", "972": "de la Martinique", "973": "de la Guyane", "78": "des Yvelines",
    "94": "du Val-de-Marne", "93": "de la Seine-Saint-Denis", "95": "du Val-d'Oise", "91": "de l'Essonne",
    "77": "de Seine-et-Marne", "75": "de Paris",
}
# (SIRET head, name pattern, share): the first digits of a public body's SIREN tell its kind.
BUYER_KINDS = (
    ("21", "Commune {of_town}", 0.40),
    ("24", "Communauté d'agglomération {of_town}", 0.10),
    ("25", "Syndicat intercommunal des eaux {of_town}", 0.07),
    ("22", "Département {of_dept}", 0.05),
    ("26", "Centre hospitalier {of_town}", 0.09),
    ("27", "Office public de l'habitat {of_town}", 0.06),
    ("19", "Collège Jean Moulin {of_town}", 0.08),
    ("20", "Centre communal d'action sociale {of_town}", 0.07),
    ("13", "Direction départementale des territoires {of_dept}", 0.04),
    ("18", "Université {of_town}", 0.04),
)
PLATFORMS = (
    ("megalis-bretagne", "Mégalis Bretagne"),
    ("maximilien", "Maximilien"),
    ("achatpublic", "achatpublic.com"),
    ("marches-securises", "marches-securises.fr"),
    ("aws-achat", "AWS-Achat"),
    ("e-marchespublics", "e-marchespublics"),
    ("place", "PLACE"),
    ("dematis", "Dematis"),
)
# How a buyer behaves, and the share of buyers behaving so.
BEHAVIOURS = (
    ("exemplary", 0.38), ("mostly_on_time", 0.22), ("late", 0.12), ("backdating", 0.05),
    ("silent", 0.06), ("never", 0.08), ("undeclared", 0.09),
)
OBJETS = (
    "Travaux de voirie et réseaux divers", "Fourniture de repas pour la restauration scolaire",
    "Entretien des espaces verts", "Maintenance du parc informatique", "Nettoyage des locaux",
    "Réhabilitation du groupe scolaire", "Assurance dommages aux biens", "Fourniture de carburant",
    "Transport scolaire", "Maîtrise d'œuvre pour la construction de la médiathèque",
    "Fourniture de mobilier de bureau", "Location et maintenance de photocopieurs",
    "Travaux d'éclairage public", "Collecte des déchets ménagers", "Fourniture de produits d'entretien",
    "Prestations de téléphonie mobile", "Contrôle technique des bâtiments", "Accord-cadre de signalisation routière",
    "Rénovation énergétique de la mairie", "Fourniture de denrées alimentaires biologiques",
)
CPV = (
    ("45233141", "9"), ("15894210", "0"), ("77310000", "6"), ("50312000", "5"), ("90910000", "9"),
    ("45454000", "4"), ("66515000", "3"), ("09134100", "8"), ("60130000", "8"), ("71221000", "3"),
    ("39130000", "2"), ("30120000", "6"), ("45316110", "9"), ("90511000", "2"), ("33760000", "5"),
)
NATURES = ("Marché", "Marché", "Marché", "Accord-cadre", "Marché subséquent")
PROCEDURES = (
    "Procédure adaptée", "Procédure adaptée", "Appel d'offres ouvert", "Appel d'offres restreint",
    "Procédure négociée sans publicité ni mise en concurrence préalable", "Dialogue compétitif",
)
FORMES_PRIX = ("Ferme", "Révisable", "Actualisable")
COMPANIES = (
    "Eiffage Route Ouest", "Colas France", "Sodexo", "Elior Restauration", "Id Verde",
    "Atalian Propreté", "SMACL Assurances", "Keolis", "Veolia Eau", "Bureau Veritas",
    "Manutan Collectivités", "Orange Business", "Spie Citynetworks", "Suez RV", "Bouygues Bâtiment",
    "Entreprise Le Goff", "SARL Martin Paysages", "Menuiserie Durand", "Atelier d'architecture Bréhat",
    "Transports Guyader",
)
CONCESSION_NATURES = ("Concession de service", "Concession de travaux", "Délégation de service public")
CONCESSION_OBJETS = (
    "Exploitation de la piscine municipale", "Gestion du service public de l'eau potable",
    "Exploitation du camping municipal", "Gestion de la fourrière automobile",
    "Exploitation du réseau de chaleur", "Gestion des parcs de stationnement",
)

# 2019 XML: the element of each item of a list, by the list's name.
XML_ITEM_NAMES = {
    "titulaires": "titulaire",
    "modifications": "modification",
    "concessionnaires": "concessionnaire",
    "donneesExecution": "donneesAnnuelles",
    "tarifs": "tarif",
}


# -- helpers --------------------------------------------------------------------------------------

def with_check_digit(head13: str) -> str:
    """A valid SIRET from 13 digits: the 9th replaced by the SIREN's key, the 14th added as the SIRET's."""
    siren = head13[:8] + luhn.calc_check_digit(head13[:8])
    for digit in "0123456789":
        if is_valid_siret(siren + head13[9:13] + digit):
            return siren + head13[9:13] + digit
    raise ValueError(head13)  # unreachable: one digit in ten completes the key (Luhn or La Poste's)


def broken_siret(siret: str) -> str:
    """The same SIRET with its last digit mistyped (fails the Luhn key)."""
    broken = siret[:-1] + str((int(siret[-1]) + 1) % 10)
    return broken if not is_valid_siret(broken) else siret[:-1] + str((int(siret[-1]) + 3) % 10)


def _slug(text: str) -> str:
    table = str.maketrans("àâäçéèêëîïôöùûüœ' ", "aaaceeeeiioouuuo--")
    return "".join(c for c in text.lower().translate(table) if c.isalnum() or c == "-").strip("-")


def _hex(rnd: random.Random, length: int) -> str:
    return "".join(rnd.choice("0123456789abcdef") for _ in range(length))


def _uuid(rnd: random.Random) -> str:
    h = _hex(rnd, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


# -- buyers ---------------------------------------------------------------------------------------

@dataclass
class DemoBuyer:
    index: int
    siret: str
    name: str
    town: str
    postcode: str
    platform: int  # index in PLATFORMS
    behaviour: str
    weight: float  # share of the contracts (Zipf-like: a few large buyers, a long tail)
    own_dataset: bool  # since 2024, publishes its own DECP-{SIRET}-… files on data.gouv.fr
    xml: bool  # its own files are XML rather than JSON
    publish_day: int  # it puts files online on this day and 14 days later, each month

    @property
    def declared(self) -> bool:
        return self.behaviour != "undeclared"

    @property
    def publishes(self) -> bool:
        return self.behaviour != "never"


def _pick(rnd: random.Random, weighted) -> str:
    return rnd.choices([w[0] for w in weighted], weights=[w[-1] for w in weighted])[0]


README_SIRET = "21440036800012"  # Ville de Châteaubriant, the README's example
README_TOWN = ("Châteaubriant", "44")


def make_buyers(rnd: random.Random, count: int) -> list[DemoBuyer]:
    buyers: list[DemoBuyer] = []
    used_names: set[str] = set()
    ranks = list(range(count))
    rnd.shuffle(ranks)
    for index in range(count):
        for _attempt in range(50):
            head = _pick(rnd, BUYER_KINDS)
            pattern = next(k[1] for k in BUYER_KINDS if k[0] == head)
            town, dept = rnd.choice(TOWNS)
            of_town = ("d'" if town[0] in "AEÉIOUY" else "de ") + town
            name = pattern.format(of_town=of_town, of_dept=DEPARTMENTS[dept])
            if name not in used_names:
                break
        else:  # more buyers than names: number them
            name = f"{name} n° {index}"
        used_names.add(name)
        siren = head + f"{rnd.randrange(10**6, 10**7):07d}"
        siret = with_check_digit(siren + f"{rnd.randrange(1, 100):04d}")
        behaviour = _pick(rnd, BEHAVIOURS)
        buyers.append(DemoBuyer(
            index=index, siret=siret, name=name, town=town,
            postcode=(dept + "000")[:5] if len(dept) == 2 else dept + "00",
            platform=rnd.randrange(len(PLATFORMS)), behaviour=behaviour,
            weight=0.0 if behaviour == "never" else 1 / (ranks[index] + 1) ** 0.8,
            own_dataset=behaviour == "backdating" or rnd.random() < 0.45,
            xml=rnd.random() < 0.3, publish_day=rnd.randrange(1, 15),
        ))
    if buyers:
        # The README's example (`status 21440036800012`) answers on the demo: the first buyer takes
        # that SIRET and name, a publishing buyer with late contracts (after the draws, which stay
        # the same so the rest of the corpus does not move).
        first = buyers[0]
        buyers[0] = DemoBuyer(
            index=first.index, siret=README_SIRET, name="Commune de Châteaubriant", town=README_TOWN[0],
            postcode="44110", platform=first.platform, behaviour="late", weight=max(first.weight, 0.5),
            own_dataset=first.own_dataset, xml=first.xml, publish_day=first.publish_day,
        )
    return buyers


# -- contracts ------------------------------------------------------------------------------------

@dataclass
class DemoContract:
    """One contract as a 2019-shape dict, and where and when it really appeared."""

    buyer: DemoBuyer
    record: dict
    notified: dt.date
    observed: dt.date  # the day its file was put online
    concession: bool = False
    defects: list[str] = field(default_factory=list)


def _notification_day(rnd: random.Random, buyer: DemoBuyer, as_of: dt.date) -> dt.date:
    end = as_of - dt.timedelta(days=5)
    if buyer.behaviour == "silent":  # stopped publishing well over the stale period ago
        end = as_of - dt.timedelta(days=460)
    span = (end - FIRST_NOTIFICATION).days
    # more contracts in recent years, as publication spread
    return FIRST_NOTIFICATION + dt.timedelta(days=int(span * math.sqrt(rnd.random())))


def _declared_delay(rnd: random.Random, behaviour: str) -> int:
    """Days between notification and the publication date the buyer declares."""
    if behaviour == "late":
        return rnd.randint(64, 330) if rnd.random() < 0.6 else rnd.randint(15, 58)
    if behaviour in ("mostly_on_time", "silent", "undeclared"):
        return rnd.randint(64, 150) if rnd.random() < 0.12 else rnd.randint(5, 56)
    return rnd.randint(3, 55)  # exemplary, backdating (it declares on time)


def _publication_day(buyer: DemoBuyer, notified: dt.date, declared: dt.date) -> dt.date:
    """A buyer with its own dataset puts files online twice a month: the publication day on or
    before `declared` (never before the notification), so snapping makes nobody late."""
    for day in (buyer.publish_day + 14, buyer.publish_day):
        candidate = declared.replace(day=day)
        if notified < candidate <= declared:
            return candidate
    previous = _add_months(declared.replace(day=buyer.publish_day + 14), -1)
    return previous if previous > notified else declared


def _money(rnd: random.Random, low: float, median: float) -> float:
    return round(max(low, rnd.lognormvariate(math.log(median), 0.9)), 2)


COMPANY_SIRETS = tuple(with_check_digit(f"{380_000_000 + i * 7_919:09d}0001") for i in range(len(COMPANIES)))


def _company(rnd: random.Random) -> dict:
    index = rnd.randrange(len(COMPANIES))
    return {"typeIdentifiant": "SIRET", "id": COMPANY_SIRETS[index], "denominationSociale": COMPANIES[index]}


MODIFIED_SHARE = 0.15  # contracts with at least one modification


def _modifications(rnd: random.Random, buyer: DemoBuyer, notified: dt.date, concession: bool,
                   amount: float, as_of: dt.date) -> list[dict]:
    mods: list[dict] = []
    if rnd.random() >= MODIFIED_SHARE:
        return mods
    day = notified
    for number in range(1, rnd.choice((1, 1, 1, 2, 3)) + 1):
        day = day + dt.timedelta(days=rnd.randint(30, 300))
        published = day + dt.timedelta(days=_declared_delay(rnd, buyer.behaviour))
        if published > as_of:
            break
        amount = round(amount * rnd.uniform(1.02, 1.15), 2)
        mod = {"id": number, "objetModification": f"Avenant n° {number}"}
        if concession:
            mod.update({"dateSignatureModification": day.isoformat(), "valeurGlobale": amount})
        else:
            mod.update({"dateNotificationModification": day.isoformat(), "montant": amount,
                        "dureeMois": rnd.randint(1, 48)})
        mod["datePublicationDonneesModification"] = published.isoformat()
        mods.append(mod)
    return mods


def make_contract(rnd: random.Random, buyer: DemoBuyer, number: int, as_of: dt.date) -> Optional[DemoContract]:
    """A contract of `buyer`, or None when it is not published yet at `as_of`."""
    notified = _notification_day(rnd, buyer, as_of)
    declared = notified + dt.timedelta(days=_declared_delay(rnd, buyer.behaviour))
    if buyer.own_dataset and declared >= NEW_FORMAT_FROM:
        declared = _publication_day(buyer, notified, declared)
    observed = declared
    if buyer.behaviour == "backdating" and declared >= NEW_FORMAT_FROM and rnd.random() < 0.6:
        observed = _add_months(notified, 2) + dt.timedelta(days=rnd.randint(10, 150))
    if observed > as_of:
        return None
    concession = rnd.random() < 0.03
    year = notified.year
    contract_id = f"{year}-{buyer.index:03d}-{number:04d}"
    if concession:
        start = notified + dt.timedelta(days=rnd.randint(-10, 120))
        value = _money(rnd, 100_000, 2_500_000)
        record = {
            "_type": "Contrat de concession",
            "id": contract_id,
            "autoriteConcedante": {"id": buyer.siret, "nom": buyer.name},
            "nature": rnd.choice(CONCESSION_NATURES),
            "objet": rnd.choice(CONCESSION_OBJETS),
            "procedure": "Procédure négociée ouverte",
            "dureeMois": rnd.choice((60, 84, 120, 144)),
            "dateSignature": notified.isoformat(),
            "datePublicationDonnees": declared.isoformat(),
            "dateDebutExecution": start.isoformat(),
            "valeurGlobale": value,
            "concessionnaires": [_company(rnd)],
            "modifications": _modifications(rnd, buyer, notified, True, value, as_of),
        }
    else:
        threshold = 25_000 if year < 2020 else 40_000
        amount = _money(rnd, threshold, 140_000)
        code, key = rnd.choice(CPV)
        record = {
            "_type": "Marché",
            "id": contract_id,
            "acheteur": {"id": buyer.siret, "nom": buyer.name},
            "nature": rnd.choice(NATURES),
            "objet": f"{rnd.choice(OBJETS)} — lot {rnd.randint(1, 6)}",
            "codeCPV": f"{code}-{key}",
            "procedure": rnd.choice(PROCEDURES),
            "lieuExecution": {"code": buyer.postcode, "typeCode": "Code postal", "nom": buyer.town},
            "dureeMois": rnd.randint(1, 48),
            "dateNotification": notified.isoformat(),
            "datePublicationDonnees": declared.isoformat(),
            "montant": amount,
            "formePrix": rnd.choice(FORMES_PRIX),
            "titulaires": [_company(rnd) for _ in range(rnd.choice((1, 1, 1, 2)))],
            "modifications": _modifications(rnd, buyer, notified, False, amount, as_of),
        }
    return DemoContract(buyer, record, notified, observed, concession)


# Record-level defects of real files (BRIEF §2), their weights, and the share of records with one.
RECORD_DEFECTS = (
    ("invalid_siret", 0.4), ("missing_notification", 1), ("missing_publication", 1), ("typo_year", 0.7),
    ("publication_before_notification", 1), ("amount_as_string", 1), ("negative_amount", 0.5),
    ("absurd_amount", 0.5), ("key_with_spaces", 1), ("date_with_offset", 1), ("nan_amount", 0.5),
)
RECORD_DEFECT_RATE = 0.05


def add_record_defect(rnd: random.Random, contract: DemoContract) -> None:
    record = contract.record
    buyer_key = "autoriteConcedante" if contract.concession else "acheteur"
    date_key = "dateSignature" if contract.concession else "dateNotification"
    amount_key = "valeurGlobale" if contract.concession else "montant"
    kind = _pick(rnd, RECORD_DEFECTS)
    if kind == "invalid_siret":
        record[buyer_key] = dict(record[buyer_key], id=broken_siret(contract.buyer.siret))
    elif kind == "missing_notification":
        del record[date_key]
    elif kind == "missing_publication":
        del record["datePublicationDonnees"]
    elif kind == "typo_year":
        day = record["datePublicationDonnees"]
        record["datePublicationDonnees"] = rnd.choice(("0", "5")) + day[1:]  # 0222, 5024
    elif kind == "publication_before_notification":
        notified = dt.date.fromisoformat(record[date_key])
        record["datePublicationDonnees"] = (notified - dt.timedelta(days=rnd.randint(3, 60))).isoformat()
    elif kind == "amount_as_string":
        record[amount_key] = f"{record[amount_key]:.2f}"
    elif kind == "negative_amount":
        record[amount_key] = -record[amount_key]
    elif kind == "absurd_amount":
        record[amount_key] = 9.99e13
    elif kind == "key_with_spaces":
        buyer = record.pop(buyer_key)
        record[buyer_key] = {"id": buyer["id"], "nom ": buyer.get("nom")}
    elif kind == "date_with_offset":  # not a defect: the date part is kept
        record[date_key] = record[date_key] + "+01:00"
    elif kind == "nan_amount":
        record[amount_key] = float("nan")
    contract.defects.append(kind)


def generate_contracts(seed: int, contracts: int, buyers: int, as_of: dt.date = DEMO_AS_OF,
                       defect_rate: float = RECORD_DEFECT_RATE) -> tuple[list[DemoBuyer], Iterator[DemoContract]]:
    """The buyers, and an iterator over `contracts` contracts distributed among them."""
    rnd = random.Random(seed)
    people = make_buyers(rnd, buyers)
    publishing = [b for b in people if b.publishes]
    weights = [b.weight for b in publishing]

    def contracts_iter() -> Iterator[DemoContract]:
        numbers = [0] * len(people)
        produced = 0
        while produced < contracts:
            for buyer in rnd.choices(publishing, weights=weights, k=min(10_000, contracts - produced)):
                numbers[buyer.index] += 1
                contract = make_contract(rnd, buyer, numbers[buyer.index], as_of)
                if contract is None:
                    continue
                if rnd.random() < defect_rate:
                    add_record_defect(rnd, contract)
                produced += 1
                yield contract
                if produced >= contracts:
                    return

    return people, contracts_iter()


def generate_records(seed: int = 2026, contracts: int = 10_000, buyers: int = 500,
                     as_of: dt.date = DEMO_AS_OF) -> Iterator[dict]:
    """`contracts` records in the 2019 JSON shape (defects included), of which about 8 % are
    republications of an earlier record (as consolidated files repeat a contract at each
    modification). For the benchmark: nothing is written."""
    rnd = random.Random(seed + 1)
    _, contracts_iter = generate_contracts(seed, contracts, buyers, as_of)
    recent: list[dict] = []
    for contract in contracts_iter:
        if recent and rnd.random() < 0.08:
            yield dict(recent[rnd.randrange(len(recent))])
        else:
            recent.append(contract.record)
            if len(recent) > 2000:
                del recent[:1000]
            yield contract.record


# -- formats --------------------------------------------------------------------------------------

def to_2024(record: dict) -> dict:
    """A 2019-shape record in the 2024 shape: wrapped lists, no buyer name, CPV without key."""
    out = {}
    for key, value in record.items():
        if key == "_type":
            continue
        if key in ("acheteur", "autoriteConcedante") and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k.strip() != "nom"}
        elif key == "codeCPV" and isinstance(value, str):
            value = value.split("-")[0]
        elif key in XML_ITEM_NAMES and isinstance(value, list):
            value = [{XML_ITEM_NAMES[key]: to_2024(item) if isinstance(item, dict) else item} for item in value]
        out[key] = value
    if "acheteur" in out:
        out.setdefault("techniques", {"technique": ["Sans objet"]})
        out.setdefault("considerationsSociales", {"considerationSociale": ["Pas de considération sociale"]})
        out.setdefault("typesPrix", {"typePrix": ["Définitif ferme"]})
    return out


def record_to_xml(record: dict) -> str:
    """One record (2019 or 2024 shape) as an XML element."""
    concession = "autoriteConcedante" in record or "concession" in str(record.get("_type", "")).lower()
    tag = "contrat-concession" if concession else "marche"
    parts = [f"<{tag}>"]
    for key, value in record.items():
        if key != "_type":
            _xml_field(parts, key, value)
    parts.append(f"</{tag}>\n")
    return "".join(parts)


def _xml_field(parts: list, key: str, value) -> None:
    # A key with stray spaces is not a valid tag name: XML files carry that defect as spaces
    # around the text instead (both are what real files do).
    name = key.strip() or "champ"
    if value is None:
        parts.append(f"<{name}/>")
    elif isinstance(value, dict):
        parts.append(f"<{name}>")
        for sub_key, sub_value in value.items():
            _xml_field(parts, sub_key, sub_value)
        parts.append(f"</{name}>")
    elif isinstance(value, list):
        item_name = XML_ITEM_NAMES.get(name)
        if item_name is None:  # a list of values is a repeated element
            for item in value:
                _xml_field(parts, name, item)
            return
        parts.append(f"<{name}>")
        for item in value:
            if isinstance(item, dict) and list(item) == [item_name]:  # 2024 wrapper
                item = item[item_name]
            _xml_field(parts, item_name, item)
        parts.append(f"</{name}>")
    else:
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float) and not math.isfinite(value):
            text = "NaN"
        else:
            text = str(value)
        parts.append(f"<{name}>{escape(text)}</{name}>")


def _json_text(records: list[dict], new_format: bool) -> str:
    body: dict[str, object]
    if new_format:
        body = {"marches": {
            "marche": [to_2024(r) for r in records if "acheteur" in r or "autoriteConcedante" not in r],
            "contrat-concession": [to_2024(r) for r in records if "autoriteConcedante" in r],
        }}
    else:
        body = {"marches": records}
    return json.dumps(body, ensure_ascii=False, indent=1)  # NaN stays bare, as in real files


def _xml_text(records: list[dict], new_format: bool, encoding: str = "UTF-8") -> str:
    items = [record_to_xml(to_2024(r) if new_format else r) for r in records]
    return f'<?xml version="1.0" encoding="{encoding}"?>\n<marches>\n' + "".join(items) + "</marches>\n"


# -- the corpus ------------------------------------------------------------------------------------

@dataclass
class DemoFile:
    name: str  # file name (also the last segment of its resource URL)
    folder: str  # sub-folder of the corpus
    dataset: str  # key of its dataset
    records: list[dict]
    new_format: bool
    xml: bool
    published: dt.datetime  # when the resource was created on data.gouv.fr
    modified: dt.datetime
    defect: Optional[str] = None  # file-level defect (see _FILE_DEFECTS)


def _build_files(rnd: random.Random, contracts: list[DemoContract], as_of: dt.date) -> list[DemoFile]:
    files: list[DemoFile] = []
    own: dict[tuple[str, dt.date], list[DemoContract]] = {}
    consolidated: list[DemoContract] = []
    for c in contracts:
        if c.buyer.own_dataset and c.observed >= NEW_FORMAT_FROM:
            own.setdefault((c.buyer.siret, c.observed), []).append(c)
        else:
            consolidated.append(c)

    for (siret, day), group in sorted(own.items()):
        buyer = group[0].buyer
        ext = "xml" if buyer.xml else "json"
        for seq, start in enumerate(range(0, len(group), 25), 1):
            stamp = dt.datetime.combine(day, dt.time(rnd.randint(7, 19), rnd.randint(0, 59)))
            files.append(DemoFile(
                name=f"DECP-{siret}-{day.isoformat()}-{seq:02d}.{ext}", folder=f"acheteurs/{siret}",
                dataset=f"buyer:{siret}", records=[c.record for c in group[start:start + 25]],
                new_format=True, xml=buyer.xml, published=stamp, modified=stamp,
            ))

    # Platforms consolidate the others into one file a year, rewritten as the year goes on.
    # Some contracts appear again the next year (republished with their modification).
    by_platform_year: dict[tuple[int, int], list[DemoContract]] = {}
    for c in consolidated:
        by_platform_year.setdefault((c.buyer.platform, c.observed.year), []).append(c)
    for (platform, year), group in sorted(by_platform_year.items()):
        slug = PLATFORMS[platform][0]
        records = [c.record for c in group]
        xml = slug in ("maximilien", "dematis")
        new_format = year >= NEW_FORMAT_FROM.year
        files.append(DemoFile(
            name=f"decp-{slug}-{year}.{'xml' if xml else 'json'}", folder=f"plateformes/{slug}",
            dataset=f"platform:{platform}", records=records, new_format=new_format, xml=xml,
            published=dt.datetime(year, 1, 15, 6, 0),
            modified=min(dt.datetime(year, 12, 31, 23, 0), dt.datetime.combine(as_of, dt.time(6))),
        ))
    previous: dict[str, DemoFile] = {}
    for f in files:
        if f.dataset.startswith("platform:"):
            prior = previous.get(f.dataset)
            if prior is not None and prior.new_format == f.new_format:
                again = [r for r in prior.records if r.get("modifications") and rnd.random() < 0.5]
                f.records.extend(dict(r) for r in again)
            previous[f.dataset] = f
    return files


# File-level defects, each given to one file: name -> what happens to the file's bytes.
_FILE_DEFECTS = ("bom", "nan", "latin1_xml", "latin1_json", "duplicate_xml_element", "empty_xml_elements",
                 "truncated", "html_error_page", "reused_id", "string_amounts")


def _file_bytes(f: DemoFile) -> bytes:
    records = f.records
    if f.defect == "string_amounts":
        records = [dict(r, montant=f"{r['montant']:.2f}") if isinstance(r.get("montant"), float)
                   and math.isfinite(r["montant"]) else r for r in records]
    if f.defect == "empty_xml_elements":
        records = [dict(r, procedure="", formePrix=None) if i < 3 else r for i, r in enumerate(records)]
    if f.defect == "nan":
        records = [dict(r, dureeMois=float("nan")) if i % 3 == 0 else r for i, r in enumerate(records)]
    if f.defect == "html_error_page":
        return (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
                b"<body><h1>502 Bad Gateway</h1></body></html>\n")
    if f.xml:
        encoding = "ISO-8859-1" if f.defect == "latin1_xml" else "UTF-8"
        text = _xml_text(records, f.new_format, encoding)
        if f.defect == "duplicate_xml_element":  # the element written twice, as some exporters do
            text = re.sub(r"<datePublicationDonnees>[^<]*</datePublicationDonnees>", r"\g<0>\g<0>", text, count=3)
        data = text.encode("latin-1" if encoding == "ISO-8859-1" else "utf-8", errors="replace")
    else:
        text = _json_text(records, f.new_format)
        data = text.encode("latin-1", errors="replace") if f.defect == "latin1_json" else text.encode("utf-8")
    if f.defect == "bom":
        data = b"\xef\xbb\xbf" + data
    if f.defect == "truncated":
        data = data[: max(200, len(data) * 2 // 3)]
    return data


def _assign_file_defects(rnd: random.Random, files: list[DemoFile]) -> None:
    by_kind = {
        "xml": [f for f in files if f.xml],
        "json": [f for f in files if not f.xml],
    }
    wants_xml = {"latin1_xml", "duplicate_xml_element", "empty_xml_elements"}
    taken: set[str] = set()
    for defect in _FILE_DEFECTS:
        pool = by_kind["xml" if defect in wants_xml else "json"]
        pool = [f for f in pool if f.name not in taken and f.records]
        if not pool:
            continue
        chosen = rnd.choice(pool)
        if defect == "reused_id":  # two lots published under the same id, other notification dates
            marches = [r for r in chosen.records if "dateNotification" in r and "acheteur" in r]
            if len(marches) >= 2:
                marches[1]["id"] = marches[0]["id"]
                marches[1]["acheteur"] = dict(marches[0]["acheteur"])
            continue
        chosen.defect = defect
        taken.add(chosen.name)


def _dataset(rnd: random.Random, key: str, title: str, org: str, siret: Optional[str],
             as_of: dt.date, conforming: float) -> dict:
    tags = ["donnees-essentielles", "commande-publique", "decp"]
    license_ = "fr-lo"
    frequency = "monthly"
    extras = {"siret": siret} if siret else {}
    if rnd.random() > conforming:  # break one convention
        which = rnd.choice(("title", "tags", "license", "frequency", "extras"))
        if which == "title":
            title = title.replace("Données essentielles des marchés publics - ", "DECP ")
        elif which == "tags":
            tags = ["marches-publics"]
        elif which == "license":
            license_ = rnd.choice(("cc-by", "odc-odbl", "notspecified"))
        elif which == "frequency":
            frequency = "unknown"
        elif siret:
            extras = rnd.choice(({}, {"siret": broken_siret(siret)}))
    slug = _slug(title)[:90]
    dataset_id = _hex(rnd, 24)
    return {
        "id": dataset_id, "title": title, "slug": slug,
        "page": f"https://www.data.gouv.example/fr/datasets/{slug}/",
        "tags": tags, "extras": extras, "license": license_, "frequency": frequency,
        "organization": {"id": _hex(rnd, 24), "name": org}, "owner": None,
        "created_at": "2019-01-10T09:00:00", "last_modified": f"{as_of.isoformat()}T06:00:00",
        "last_update": f"{as_of.isoformat()}T06:00:00",
        "archived": None, "deleted": None, "private": False, "resources": [], "_key": key,
    }


def _resource(rnd: random.Random, dataset: dict, name: str, title: str, fmt: str, size: int,
              created: dt.datetime, modified: dt.datetime, conforming: float) -> dict:
    filetype, rtype, mime = "file", "main", {"json": "application/json", "xml": "application/xml", "csv": "text/csv"}[fmt]
    # Invented files at invented paths: on the reserved .example domain, never a real data.gouv.fr address.
    url = f"https://static.data.gouv.example/resources/{dataset['slug']}/{created:%Y%m%d-%H%M%S}/{name}"
    if rnd.random() > conforming:
        which = rnd.choice(("remote", "format", "type", "title", "late_upload"))
        if which == "remote":
            filetype, url = "remote", f"https://profil.{_slug(dataset['organization']['name'])[:30]}.example/decp/{name}"
        elif which == "format":
            fmt, mime = ("xml", "application/xml") if fmt == "json" else ("json", "application/json")
        elif which == "type":
            rtype = "documentation"
        elif which == "title":
            title = f"Marchés publiés le {created:%d/%m/%Y}"
        else:  # the file went online well after the date in its name
            created = modified = created + dt.timedelta(days=rnd.randint(20, 60))
    return {
        "id": _uuid(rnd), "title": title, "url": url, "filetype": filetype, "type": rtype,
        "format": fmt, "mime": mime, "filesize": size,
        "checksum": {"type": "sha1", "value": _hex(rnd, 40)},
        "created_at": created.isoformat(timespec="seconds"),
        "last_modified": modified.isoformat(timespec="seconds"),
        "latest": f"https://www.data.gouv.example/fr/datasets/r/{_uuid(rnd)}", "extras": {},
        "schema": {"name": "139bercy/format-commande-publique", "version": "2.0.1" if "DECP-" in name else None},
    }


def _declaration_csv(platform: int, rows: list[DemoBuyer]) -> tuple[str, bytes]:
    slug = PLATFORMS[platform][0]
    style = platform % 4  # the platforms do not agree on how to write a CSV
    sep = "," if style == 1 else ";"
    header = ["siretAcheteur", "urlProfilAcheteur", "urlDCAT", "coordonnees" if style != 2 else "coordonnées"]
    lines = [sep.join(header)]
    for i, b in enumerate(rows):
        siret = b.siret
        if style == 3 and i == 1:  # opened and saved again in a spreadsheet
            siret = f"{siret[0]},{siret[1:9]}E+13"
        url = f"https://{slug}.example/acheteurs/{b.siret}"
        address = f'"{b.name}, {b.postcode} {b.town}"'
        lines.append(sep.join([siret, url, f"https://{slug}.example/dcat/{b.siret}.ttl", address]))
    text = ("\r\n" if style == 0 else "\n").join(lines) + "\n"
    data = text.encode("latin-1", errors="replace") if style == 2 else text.encode("utf-8")
    return f"declarations-{slug}.csv", data


def generate_corpus(out: Path, seed: int = 2026, buyers: int = 300, contracts: int = 6000,
                    as_of: dt.date = DEMO_AS_OF) -> dict[str, int]:
    """Write the demo corpus under `out` (replaced whole); returns what was written."""
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    rnd = random.Random(seed + 7)
    people, contracts_iter = generate_contracts(seed, contracts, buyers, as_of)
    all_contracts = list(contracts_iter)
    files = _build_files(rnd, all_contracts, as_of)
    _assign_file_defects(rnd, files)

    datasets: dict[str, dict] = {}
    for index, (_, label) in enumerate(PLATFORMS):
        datasets[f"platform:{index}"] = _dataset(
            rnd, f"platform:{index}", f"Données essentielles des marchés publics - {label}", label, None, as_of, 0.75)
    for b in people:
        if b.own_dataset and b.publishes:
            # platforms mostly publish on their buyers' behalf, in their own organisation
            org = PLATFORMS[b.platform][1] if rnd.random() < 0.8 else b.name
            datasets[f"buyer:{b.siret}"] = _dataset(
                rnd, f"buyer:{b.siret}", f"Données essentielles des marchés publics - {b.name}", org,
                b.siret, as_of, 0.7)

    written = {"files": 0, "bytes": 0}
    for f in files:
        data = _file_bytes(f)
        path = tmp / f.folder / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written["files"] += 1
        written["bytes"] += len(data)
        title = f.name if f.dataset.startswith("buyer:") else f"Données essentielles {f.name.rsplit('-', 1)[-1]}"
        datasets[f.dataset]["resources"].append(_resource(
            rnd, datasets[f.dataset], f.name, title, "xml" if f.xml else "json", len(data),
            f.published, f.modified, 0.85 if f.dataset.startswith("buyer:") else 1.0))

    declared_by: dict[int, list[DemoBuyer]] = {}
    for b in people:
        if b.declared:
            declared_by.setdefault(b.platform, []).append(b)
    for platform, rows in sorted(declared_by.items()):
        name, data = _declaration_csv(platform, rows)
        path = tmp / "declarations" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written["files"] += 1
        written["bytes"] += len(data)
        stamp = dt.datetime.combine(as_of - dt.timedelta(days=40), dt.time(10))
        resource = _resource(rnd, datasets[f"platform:{platform}"], name,
                             "Liste des acheteurs hébergés (déclaration du profil d'acheteur)",
                             "csv", len(data), stamp, stamp, 1.0)
        resource["type"] = "other"
        datasets[f"platform:{platform}"]["resources"].append(resource)

    facts = register_facts(people, seed, as_of)
    path = tmp / REGISTER_FOLDER / REGISTER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(facts, ensure_ascii=False, indent=1), encoding="utf-8")

    page = [{k: v for k, v in d.items() if k != "_key"} for d in datasets.values()]
    catalogue = {"data": page, "page": 1, "page_size": len(page), "total": len(page),
                 "next_page": None, "previous_page": None}
    path = tmp / "catalogue" / "datasets-decp-data.gouv.fr.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(catalogue, ensure_ascii=False, indent=1), encoding="utf-8")
    written["files"] += 1

    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    written.update({
        "buyers": len(people),
        "contracts": len(all_contracts),
        "datasets": len(page),
        "declared_buyers": sum(len(r) for r in declared_by.values()),
        "register_facts": len(facts),
        "closed": sum(1 for f in facts if f["state"] == "F"),
    })
    return written


# -- the register of buyers ----------------------------------------------------------------------

REGISTER_FOLDER = "repertoire"
REGISTER_FILE = "repertoire-acheteurs.json"
# Catégorie juridique of each kind of demo buyer (by the first digits of its SIRET, BUYER_KINDS).
CATEGORIES = {"21": "7210", "24": "7348", "25": "7353", "22": "7220", "26": "7364", "27": "7371",
              "19": "7331", "20": "7361", "13": "7172", "18": "7383"}
CLOSED_SHARE = {"silent": 0.5, "never": 0.3}  # of these behaviours, closed establishments


def _register_style(name: str) -> str:
    """As the Sirene register writes names: capitals, no accents, apostrophes as spaces."""
    table = str.maketrans("àâäçéèêëîïôöùûüÀÂÄÇÉÈÊËÎÏÔÖÙÛÜ'’", "aaaceeeeiioouuuAAACEEEEIIOOUUU  ")
    return " ".join(name.translate(table).upper().split())


def _commune_code(rnd: random.Random, town: str, dept: str) -> str:
    if town == "Paris":
        return f"751{rnd.randint(1, 20):02d}"  # arrondissement codes, as the register gives them
    if town == "Lyon":
        return f"6938{rnd.randint(1, 9)}"
    if town == "Marseille":
        return f"132{rnd.randint(1, 16):02d}"
    number = sum(map(ord, town))
    return f"{dept}{number % 90 + 10:02d}" if len(dept) == 3 else f"{dept}{number % 900 + 1:03d}"


def register_facts(people: list[DemoBuyer], seed: int, as_of: dt.date) -> list[dict]:
    """What the national register says about each demo buyer (register/facts.py's Fact, as JSON):
    names in the register's style, catégorie juridique, commune; some establishments closed (a
    silent buyer after its last publications, a declared one before the assessed period), each
    with the establishment that took over under the same SIREN."""
    rnd = random.Random(seed + 15)  # its own stream: the rest of the corpus does not move
    towns = {**dict(TOWNS), README_TOWN[0]: README_TOWN[1]}
    fetched = dt.datetime.combine(as_of - dt.timedelta(days=3), dt.time(4, 0)).isoformat()
    facts: list[dict] = []
    for b in people:
        dept = towns[b.town]
        code = CATEGORIES[b.siret[:2]]
        commune = _commune_code(rnd, b.town, dept)
        legal = _register_style(b.name)
        if code == "7361":  # the register names every CCAS alike
            legal = "CENTRE COMMUNAL D ACTION SOCIALE"
        closed_on = None
        if rnd.random() < CLOSED_SHARE.get(b.behaviour, 0.0):
            # silent: its last contracts were notified about 460 days before as_of and published
            # up to a year later; it closed after that. Declared-only: closed before the period.
            back = rnd.randint(30, 100) if b.behaviour == "silent" else rnd.randint(500, 900)
            closed_on = (as_of - dt.timedelta(days=back)).isoformat()
        fact = {
            "siret": b.siret, "found": True, "name": None, "legal_name": legal,
            "categorie_juridique": code, "state": "F" if closed_on else "A", "closed_on": closed_on,
            "legal_state": "A", "commune_code": commune, "commune_name": _register_style(b.town),
            "head_office_siret": b.siret, "is_head_office": True, "non_diffusible": False,
            "source": "demo", "fetched_at": fetched,
        }
        facts.append(fact)
        if closed_on:  # the establishment that took over, under the same SIREN
            successor = with_check_digit(b.siret[:9] + f"{int(b.siret[9:13]) + 100:04d}")
            facts.append(dict(fact, siret=successor, state="A", closed_on=None, head_office_siret=successor,
                              commune_code=_commune_code(rnd, b.town, dept)))
            fact["head_office_siret"] = successor
            fact["is_head_office"] = False
    return facts
