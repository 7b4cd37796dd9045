"""A stand-in record generator, used only when decp_monitor.demo is not available.

Same output as the demo generator's `generate_records`: plain dicts in the 2019 JSON record
shape. Buyers follow a Zipf-like law (a few buyers with tens of thousands of contracts, a long
tail with one or two); about 6 % of records carry a real-world defect (invalid SIRET, missing or
absurd dates, publication before notification, amounts as strings or NaN, keys with trailing
spaces), about 8 % are republications, 2 % concessions, 15 % have modifications.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Iterator

DEFAULT_AS_OF = dt.date(2025, 6, 30)
NATURES = ("Marché", "Accord-cadre", "Marché subséquent")
PROCEDURES = ("Procédure adaptée", "Appel d'offres ouvert", "Procédure négociée sans publicité")
CPVS = ("45000000-7", "72000000-5", "79000000-4", "33000000-0", "90000000-7")


def luhn_siret(head13: str) -> str:
    for digit in "0123456789":
        siret = head13 + digit
        total = 0
        for index, char in enumerate(reversed(siret)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return siret
    raise AssertionError


def generate_records(seed: int = 2026, contracts: int = 10_000, buyers: int = 500,
                     as_of: dt.date = DEFAULT_AS_OF) -> Iterator[dict]:
    rnd = random.Random(seed)
    sirets = [luhn_siret(f"2{rnd.randrange(10**11, 10**12):012d}") for _ in range(buyers)]
    names = [f"Commune n° {i}" for i in range(buyers)]
    # Zipf-like weights: buyer k gets a share proportional to 1 / (k + 1)^0.95
    weights = [1 / (k + 1) ** 0.95 for k in range(buyers)]
    start = dt.date(2018, 10, 1)
    span = (as_of - start).days
    recent: list[dict] = []
    produced = 0
    choices = rnd.choices
    while produced < contracts:
        batch = min(10_000, contracts - produced)
        for k in choices(range(buyers), weights=weights, k=batch):
            produced += 1
            if recent and rnd.random() < 0.08:  # republication of a recent contract
                yield dict(recent[rnd.randrange(len(recent))])
                continue
            notified = start + dt.timedelta(days=rnd.randrange(span))
            delay = int(rnd.expovariate(1 / 45))
            published = min(notified + dt.timedelta(days=delay), as_of)
            concession = rnd.random() < 0.02
            record = {
                "id": f"{notified.year}-{produced:07d}",
                ("autoriteConcedante" if concession else "acheteur"): {"id": sirets[k], "nom": names[k]},
                "nature": "Concession de service" if concession else rnd.choice(NATURES),
                "objet": f"Travaux et services lot {produced % 17}",
                "procedure": rnd.choice(PROCEDURES),
                "lieuExecution": {"code": f"{rnd.randrange(1, 96):02d}000", "typeCode": "Code postal", "nom": "Ville"},
                "dureeMois": rnd.randrange(1, 60),
            }
            if concession:
                record["_type"] = "Contrat de concession"
                record["dateSignature"] = notified.isoformat()
                record["dateDebutExecution"] = (notified + dt.timedelta(days=rnd.randrange(0, 90))).isoformat()
                record["datePublicationDonnees"] = published.isoformat()
                record["valeurGlobale"] = round(rnd.uniform(1e5, 5e7), 2)
                record["concessionnaires"] = [{"typeIdentifiant": "SIRET", "id": luhn_siret(f"3{rnd.randrange(10**11, 10**12):012d}"), "denominationSociale": "Délégataire SA"}]
            else:
                record["codeCPV"] = rnd.choice(CPVS)
                record["dateNotification"] = notified.isoformat()
                record["datePublicationDonnees"] = published.isoformat()
                record["montant"] = round(rnd.uniform(25_000, 2_000_000), 2)
                record["formePrix"] = "Ferme"
                record["titulaires"] = [{"typeIdentifiant": "SIRET", "id": luhn_siret(f"4{rnd.randrange(10**11, 10**12):012d}"), "denominationSociale": "Entreprise SARL"}]
            if rnd.random() < 0.15:
                mod_notified = notified + dt.timedelta(days=rnd.randrange(30, 400))
                record["modifications"] = [{
                    "objetModification": "Avenant n° 1",
                    ("dateSignatureModification" if concession else "dateNotificationModification"): mod_notified.isoformat(),
                    "datePublicationDonneesModification": (mod_notified + dt.timedelta(days=int(rnd.expovariate(1 / 50)))).isoformat(),
                    ("valeurGlobale" if concession else "montant"): round(rnd.uniform(1e4, 1e6), 2),
                }]
            else:
                record["modifications"] = []
            _maybe_defect(rnd, record, concession)
            recent.append(record)
            if len(recent) > 2000:
                recent = recent[-1000:]
            yield record


def _maybe_defect(rnd: random.Random, record: dict, concession: bool) -> None:
    if rnd.random() >= 0.06:
        return
    date_key = "dateSignature" if concession else "dateNotification"
    buyer_key = "autoriteConcedante" if concession else "acheteur"
    kind = rnd.randrange(7)
    if kind == 0:
        record[buyer_key] = {"id": record[buyer_key]["id"][:-1] + str((int(record[buyer_key]["id"][-1]) + 1) % 10), "nom": record[buyer_key]["nom"]}
    elif kind == 1:
        del record[date_key]
    elif kind == 2:
        record["datePublicationDonnees"] = "0" + record["datePublicationDonnees"][1:]  # typo year 0222
    elif kind == 3:
        record["datePublicationDonnees"] = "2018-01-01"  # before notification
    elif kind == 4 and not concession:
        record["montant"] = f"{record['montant']:.2f}"
    elif kind == 5 and not concession:
        record["montant"] = float("nan")
    else:
        record[buyer_key] = {"id": record[buyer_key]["id"], "nom ": record[buyer_key]["nom"]}
