"""A small illustrative database (300 fictitious Breton buyers, ~6 000 contracts) for screenshots
while decp_monitor.demo is absent (not a test: run by hand).

    python tests/browser/showcase_db.py DATA_DIR
"""
import sys, random, datetime as dt
from pathlib import Path as _P
sys.path.insert(0, str(_P(__file__).resolve().parents[1])); sys.path.insert(0, str(_P(__file__).resolve().parents[2]))
from pathlib import Path
from pages.conftest import luhn_siret
from decp_monitor.model import Record, Declaration, Finding, Modification
from decp_monitor.store import Store
rng = random.Random(42)
slug = lambda p: p.lower().replace(' ', '-').replace('é', 'e')
out = Path(sys.argv[1])
PLATFORMS = ["achatpublic.com", "Maximilien", "marches-publics.info", "AWS-Achat", "PLACE", "e-marchespublics", "Mégalis Bretagne"]
KINDS = ["Commune de", "Communauté de communes de", "Syndicat intercommunal des eaux de", "Centre hospitalier de", "Département de", "Collège", "Office public de l'habitat de"]
TOWNS = ["Rennes", "Quimper", "Lorient", "Vannes", "Brest", "Saint-Malo", "Dinan", "Lannion", "Morlaix", "Pontivy", "Redon", "Vitré", "Fougères", "Concarneau", "Auray", "Ploërmel", "Guingamp", "Landerneau", "Carhaix", "Douarnenez"]
OBJETS = ["Travaux de voirie", "Fourniture de repas scolaires", "Entretien des espaces verts", "Maintenance informatique", "Nettoyage des locaux", "Réhabilitation de l'école", "Assurance dommages aux biens", "Fourniture de carburant", "Transport scolaire", "Maîtrise d'œuvre de la médiathèque"]
AS_OF = dt.date(2025, 6, 30)
buyers = []
for i in range(300):
    siret = luhn_siret(f"2{rng.randrange(10**11, 10**12):012d}")
    name = f"{rng.choice(KINDS)} {rng.choice(TOWNS)}"
    profile = rng.random()
    buyers.append((siret, name, rng.choice(PLATFORMS), profile))
store = Store(out)
with store.build("demo", source="corpus de démonstration (stand-in)", meta={"as_of": AS_OF.isoformat(), "is_demo": "true"}) as b:
    pos = 0
    for siret, name, platform, profile in buyers:
        if profile < 0.08:
            continue  # declared, never published
        n = rng.randint(3, 40)
        for k in range(n):
            notif = AS_OF - dt.timedelta(days=rng.randint(10, 1100))
            if profile < 0.35:
                delay = rng.randint(40, 240)
            elif profile < 0.5:
                delay = rng.choice([rng.randint(5, 55), rng.randint(62, 120)])
            else:
                delay = rng.randint(3, 58)
            pub = notif + dt.timedelta(days=delay)
            if pub > AS_OF:
                continue
            if rng.random() < 0.02:
                pub = None
            mods = []
            if rng.random() < 0.1:
                mn = notif + dt.timedelta(days=rng.randint(30, 200))
                mods = [Modification(position=0, modification_id="1", notification_date=mn, publication_date=mn + dt.timedelta(days=rng.randint(5, 120)))]
            b.add(Record(source_file=f"{slug(platform)}-decp-{notif.year}.json", position=pos, kind="marche" if rng.random() > 0.03 else "concession",
                         format="json-2019", buyer_siret=siret, buyer_name=name, contract_id=f"{notif.year}-{k:03d}",
                         objet=f"{rng.choice(OBJETS)} — lot {rng.randint(1, 6)}", amount=round(rng.uniform(40000, 2_500_000), 2),
                         notification_date=notif, publication_date=pub, start_date=notif + dt.timedelta(days=30), modifications=mods))
            pos += 1
    for line, (siret, name, platform, profile) in enumerate(buyers, 2):
        if profile < 0.85:
            b.add(Declaration(source_file=f"declaration-{platform.lower().replace(' ', '-')}.csv", line=line, siret=siret, siret_raw=siret,
                              url_profil_acheteur=f"https://{platform.lower().replace(' ', '-')}.example.fr/acheteur/{siret}"))
    b.add(Declaration(source_file="declaration-place.csv", line=400, siret=None, siret_raw="2,14400368E+13"))
    for i in range(40):
        siret, name, platform, _ = rng.choice(buyers)
        b.add(Finding(source_file=f"{platform.lower()}/decp-2024.json", code=rng.choice(["missing_publication_date", "unparseable_date", "absurd_year", "publication_before_notification", "key_with_spaces"]),
                      message="Valeur relevée à la lecture", position=rng.randint(0, 500), field="datePublicationDonnees", value="0222-03-01", buyer_siret=siret))
    b.add(Finding(source_file="maximilien/decp-2019.xml", code="file_unreadable", message="Fichier illisible : balise <marche> non fermée ligne 3 412"))
    b.add_datasets([{"dataset_id": f"ds-{i}", "title": (f"Données essentielles des marchés publics - {p}" if i % 2 == 0 else f"DECP {p}"),
                     "url": f"https://www.data.gouv.fr/fr/datasets/ds-{i}/", "license": "fr-lo" if i % 3 else "cc-by",
                     "tags": ["donnees-essentielles", "commande-publique"] if i % 2 == 0 else ["decp"], "frequency": "daily" if i % 2 else None,
                     "organization_name": p, "resource_count": 3} for i, p in enumerate(PLATFORMS)])
    b.add_resources([{"resource_id": f"r-{i}-{y}", "dataset_id": f"ds-{i}", "title": f"{slug(p)}-decp-{y}.json",
                      "url": f"https://static.data.gouv.fr/resources/{slug(p)}-decp-{y}.json", "filetype": "file" if y != 2023 else "remote",
                      "type": "main", "format": "json", "mime": "application/json", "created_at": dt.datetime(y, 1, 5)}
                     for i, p in enumerate(PLATFORMS) for y in (2022, 2023, 2024, 2025)])
print(store.current())
