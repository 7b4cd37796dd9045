"""`python -m decp_monitor`: a thin command line over the package's Python API."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Optional

from decp_monitor import __version__, api
from decp_monitor.core import vocabulary
from decp_monitor.core.dates import parse_iso_date
from decp_monitor.core.french import fr_date
from decp_monitor.core.progress import Progress
from decp_monitor.read.export import DOCUMENTED_TABLES, FORMATS, ExportError, write_problem
from decp_monitor.read.status import StatusReport
from decp_monitor.register.enrich import EnrichSettings
from decp_monitor.store.versions import DATA_DIR_ENV, DEFAULT_DATA_DIR, Store, StoreError

DESCRIPTION = """\
decp-monitor : qui publie à temps les données essentielles de ses marchés publics (DECP) ?

Chaque commande qui charge des données construit une nouvelle version de la base DuckDB dans
le répertoire de données, puis la publie d'un coup : le tableau de bord continue de servir la
version précédente pendant le chargement, et la garde si le chargement échoue.
"""

EPILOG = """\
exemples :
  python -m decp_monitor demo                       base de démonstration
  python -m decp_monitor load ../mes-fichiers/      charger des fichiers locaux
  python -m decp_monitor refresh                    moissonner data.gouv.fr
  python -m decp_monitor enrich                     nommer les acheteurs (répertoire des entreprises)
  python -m decp_monitor status 21440036800012      verdict d'un acheteur
  python -m decp_monitor export buyer_compliance --format csv-fr --out acheteurs.csv
  python -m decp_monitor check DECP-21440036800012-2025-06-30-01.json   vérifier avant de publier
"""


# argparse's own words (usage, section titles, the -h help, its error messages), in French.
# argparse looks each of them up when it writes it, through the module-level names `_` and
# `ngettext` it imports from gettext. FrenchArgumentParser points these two names at this
# catalogue only while it builds, parses or prints, then puts them back: no .mo file, no locale
# setting, and no other parser of the process (pytest's, a library's) changes language. A message
# missing here (a newer Python's) stays English; tests/test_cli.py checks the ones users meet.
ARGPARSE_FRENCH = {
    "usage: ": "utilisation : ",
    "positional arguments": "arguments",
    "options": "options",
    "subcommands": "commandes",
    "show this help message and exit": "afficher cette aide et quitter",
    "show program's version number and exit": "afficher la version et quitter",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "one of the arguments %s is required": "l'un de ces arguments est obligatoire : %s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "ignored explicit argument %r": "valeur %r ignorée : cette option n'en prend pas",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "une valeur au plus attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "expected %s argument": "%s valeur attendue",
    "expected %s arguments": "%s valeurs attendues",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "unexpected option string: %s": "option inattendue : %s",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r (type attendu : %(type)s)",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choix possibles : %(choices)s)",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "commande inconnue %(parser_name)r (choix possibles : %(choices)s)",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
}


@contextlib.contextmanager
def _argparse_in_french():
    saved = argparse._, argparse.ngettext
    argparse._ = lambda message: ARGPARSE_FRENCH.get(message, message)
    argparse.ngettext = lambda one, many, n: (
        ARGPARSE_FRENCH.get(one, one) if n == 1 else ARGPARSE_FRENCH.get(many, many))
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


class FrenchArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose own words are French (ARGPARSE_FRENCH); its sub-commands' parsers
    are of the same class (argparse makes them with type(self))."""

    def __init__(self, *args, **kwargs):
        with _argparse_in_french():  # section titles and the -h help are written here
            super().__init__(*args, **kwargs)

    def add_subparsers(self, **kwargs):
        with _argparse_in_french():
            return super().add_subparsers(**kwargs)

    def parse_args(self, args=None, namespace=None):
        with _argparse_in_french():  # « unrecognized arguments » is written here
            return super().parse_args(args, namespace)

    def parse_known_args(self, args=None, namespace=None):
        with _argparse_in_french():  # errors, and the help printed by -h, are written here
            return super().parse_known_args(args, namespace)

    def format_usage(self):
        with _argparse_in_french():
            return super().format_usage()

    def format_help(self):
        with _argparse_in_french():
            return super().format_help()

    def error(self, message):
        with _argparse_in_french():
            super().error(message)


def _add_common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # On sub-commands the default is SUPPRESS, so that `--data-dir X demo` is not undone by the
    # sub-command's own default.
    parser.add_argument(
        "--data-dir",
        default=None if top else argparse.SUPPRESS,
        metavar="RÉPERTOIRE",
        help=f"répertoire des bases et du cache (défaut : ${DATA_DIR_ENV} ou « {DEFAULT_DATA_DIR}/ »)",
    )


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"« {value} » : nombre entier attendu") from None


def _number(value: str) -> float:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"« {value} » : nombre attendu") from None


def _minutes(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 24 * 60:
        raise argparse.ArgumentTypeError(f"« {value} » : nombre de minutes attendu, de 0 à 1440")
    return int(value)


def _date(value: str):
    try:
        return parse_iso_date(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date illisible « {value} » (format attendu AAAA-MM-JJ)") from None


def _months(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 240:
        raise argparse.ArgumentTypeError(f"« {value} » : nombre de mois attendu, de 1 à 240")
    return int(value)


def _add_assessment(parser: argparse.ArgumentParser, as_of_help: str) -> None:
    parser.add_argument("--as-of", type=_date, default=None, metavar="AAAA-MM-JJ", help=as_of_help)
    parser.add_argument("--window-months", type=_months, default=None, metavar="MOIS",
                        help="période évaluée : les notifications des N derniers mois (défaut : 12)")
    parser.add_argument("--stale-months", type=_months, default=None, metavar="MOIS",
                        help="silence au-delà duquel un acheteur est « publications interrompues » (défaut : 9)")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", nargs="?", metavar="TABLE", help="table ou vue documentée (voir --list)")
    parser.add_argument("--list", action="store_true", help="lister les tables exportables et leurs colonnes")
    parser.add_argument("--format", choices=list(FORMATS), default="csv",
                        help="; ".join(f"{k} : {v}" for k, v in FORMATS.items()))
    parser.add_argument("--out", metavar="FICHIER", help="fichier à écrire (« - » pour la sortie standard)")
    parser.add_argument("--force", action="store_true", help="remplacer le fichier --out s'il existe déjà")
    parser.add_argument("--siret", metavar="SIRET", help="garder les lignes de cet acheteur")
    parser.add_argument("--verdict", action="append", metavar="VERDICT", help="garder ce verdict (ou statut) ; répétable")
    parser.add_argument("--from", dest="date_from", metavar="AAAA-MM-JJ", help="notification à partir du AAAA-MM-JJ")
    parser.add_argument("--to", dest="date_to", metavar="AAAA-MM-JJ", help="notification jusqu'au AAAA-MM-JJ inclus")
    parser.add_argument("--as-of", dest="as_of", metavar="AAAA-MM-JJ",
                        help="état au AAAA-MM-JJ : contrats notifiés au plus tard ce jour ; "
                             "tables de conformité : verdicts et statuts évalués à cette date")


def build_parser() -> argparse.ArgumentParser:
    parser = FrenchArgumentParser(
        prog="python -m decp_monitor",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"decp-monitor {__version__}",
                        help="afficher la version et quitter")
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")

    demo = sub.add_parser(
        "demo",
        help="construire la base à partir du corpus de démonstration généré",
        description="Génère le corpus de démonstration (déterministe) et publie une base construite à partir de lui.",
    )
    demo.add_argument("--contracts", type=_integer, default=6000, metavar="N", help="nombre de contrats (défaut : 6000)")
    demo.add_argument("--buyers", type=_integer, default=300, metavar="N", help="nombre d'acheteurs (défaut : 300)")
    _add_common(demo)

    load = sub.add_parser(
        "load",
        help="charger des fichiers ou dossiers locaux (DECP JSON/XML, CSV de déclaration, JSON de jeux de données)",
        description=(
            "Charge des fichiers locaux. Le type de chaque fichier est reconnu à son contenu. "
            "Les données déjà chargées sont conservées ; un fichier chargé à nouveau remplace sa version précédente."
        ),
    )
    load.add_argument("paths", nargs="+", metavar="CHEMIN", help="fichier ou dossier")
    load.add_argument("--replace", action="store_true", help="repartir d'une base vide au lieu de compléter la base actuelle")
    _add_assessment(load, "date d'évaluation (défaut : aujourd'hui)")
    _add_common(load)

    refresh = sub.add_parser(
        "refresh",
        help="moissonner data.gouv.fr (jeux de données DECP, déclarations, fichiers)",
        description="Interroge l'API de data.gouv.fr, télécharge les fichiers nouveaux ou modifiés et publie une nouvelle base. "
                    "Seules des adresses publiques sont contactées, hôte de l'API excepté ; "
                    "$DECP_ALLOWED_HOSTS (noms séparés par des virgules) autorise d'autres hôtes internes de confiance.",
    )
    refresh.add_argument(
        "--api-base",
        default=None,
        metavar="URL",
        help="racine de l'API udata (défaut : $DECP_API_BASE ou https://www.data.gouv.fr/api)",
    )
    refresh.add_argument("--tag", action="append", dest="tags", default=None, metavar="MOT-CLÉ", help="mot-clé à interroger (répétable)")
    refresh.add_argument("--dataset-id", action="append", dest="dataset_ids", default=None, metavar="ID", help="jeu de données à inclure (répétable)")
    refresh.add_argument("--max-file-mb", type=_integer, default=None, metavar="MO", help="taille maximale d'un fichier téléchargé, en Mo")
    refresh.add_argument("--concurrency", type=_integer, default=4, metavar="N", help="téléchargements simultanés (défaut : 4)")
    refresh.add_argument("--sans-annuaire", action="store_true", dest="no_register",
                         help="ne pas interroger le répertoire des entreprises (noms, nature, commune des acheteurs)")
    refresh.add_argument("--annuaire-minutes", type=_minutes, default=10, metavar="MINUTES",
                         help="durée maximale de l'interrogation du répertoire pendant le rafraîchissement "
                              "(défaut : 10 ; la suite est reprise au prochain rafraîchissement ou par « enrich »)")
    _add_assessment(refresh, "date d'évaluation (défaut : aujourd'hui)")
    _add_common(refresh)

    enrich = sub.add_parser(
        "enrich",
        help="compléter le répertoire des acheteurs (nom, nature juridique, commune, fermeture) par l'API Recherche d'entreprises",
        description=(
            "Interroge l'API Recherche d'entreprises (ouverte, sans clé, 7 requêtes par seconde au plus) pour les SIRET "
            "de la base publiée encore inconnus ou dont l'information date de plus de --age-max jours, puis publie une "
            "nouvelle version de la base. Chaque réponse est conservée aussitôt dans le répertoire de données : une "
            "exécution interrompue reprend là où elle s'était arrêtée. Avec un jeton dans $DECP_API_ENTREPRISE_TOKEN "
            "(et le SIRET de l'administration destinataire dans $DECP_API_ENTREPRISE_RECIPIENT), l'API Entreprise "
            "complète les établissements non diffusibles ou inconnus de l'API ouverte."
        ),
    )
    enrich.add_argument("--age-max", type=_integer, default=None, dest="max_age_days", metavar="JOURS",
                        help="réinterroger les SIRET dont l'information a plus de JOURS jours (défaut : 30)")
    enrich.add_argument("--limite", type=_integer, default=None, dest="limit", metavar="N",
                        help="interroger au plus N SIRET lors de cette exécution")
    enrich.add_argument("--api-url", default=None, metavar="URL",
                        help="racine de l'API Recherche d'entreprises (défaut : $DECP_RECHERCHE_ENTREPRISES_URL "
                             "ou https://recherche-entreprises.api.gouv.fr)")
    enrich.add_argument("--debit", type=_number, default=None, dest="rate", metavar="REQ/S",
                        help="requêtes par seconde au plus (défaut : 7, la limite de l'API)")
    _add_common(enrich)

    status = sub.add_parser(
        "status",
        help="verdict, raisons et chiffres d'un acheteur (code de sortie 0 connu, 1 inconnu, 2 SIRET invalide)",
        description="Affiche le verdict d'un acheteur. Code de sortie : 0 acheteur trouvé, 1 inconnu, 2 SIRET invalide.",
    )
    status.add_argument("siret", metavar="SIRET")
    status.add_argument("--json", action="store_true", help="sortie JSON")
    _add_assessment(status, "date d'évaluation (défaut : celle de la base publiée)")
    _add_common(status)

    export = sub.add_parser(
        "export",
        help="exporter une table (CSV, CSV Excel français, XLSX, Parquet)",
        description="Exporte une table ou vue documentée, filtrée. « export --list » liste les tables et leurs colonnes.",
    )
    add_export_arguments(export)
    _add_common(export)

    check = sub.add_parser(
        "check",
        help="vérifier des fichiers avant de les publier (code de sortie 0 prêt, 1 problèmes, 2 illisible)",
        description=(
            "Vérifie des fichiers DECP (JSON ou XML, format 2019 ou 2024) avant publication : schéma officiel, "
            "échéance et statut de chaque contrat, verdict de l'acheteur si le fichier est publié à la date "
            "d'évaluation, conventions de publication de data.gouv.fr. Un CSV de déclaration de profil "
            "d'acheteur peut être joint. Rien n'est écrit : ni dans le répertoire de données, ni dans la base "
            "publiée. Code de sortie : 0 prêt à publier, 1 problèmes à corriger, 2 fichier illisible."
        ),
    )
    check.add_argument("files", nargs="+", metavar="FICHIER", help="fichier DECP (JSON/XML) ou CSV de déclaration")
    check.add_argument("--as-of", type=_date, default=None, metavar="AAAA-MM-JJ",
                       help="date de publication envisagée (défaut : aujourd'hui)")
    check.add_argument("--json", action="store_true", help="rapport JSON sur la sortie standard")
    check.add_argument("--jeu-de-donnees", default=None, metavar="DESCRIPTION.json", dest="dataset_description",
                       help="description du jeu de données à publier (objet jeu de données de l'API data.gouv.fr : "
                            "titre, mots-clés, licence, extras.siret, ressources)")
    _add_common(check)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    store = Store(args.data_dir) if args.command != "check" else None  # check reads no data directory
    try:
        return COMMANDS[args.command](store, args)
    except StoreError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrompu : la base publiée n'a pas changé.", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI speaks in one line; the traceback is there on demand
        if os.environ.get("DECP_DEBUG"):
            raise
        print(f"Erreur : {type(exc).__name__}: {exc} (DECP_DEBUG=1 pour le détail)", file=sys.stderr)
        return 1


def _summary(stats: dict, started: float) -> str:
    return (
        f"Base publiée en {time.monotonic() - started:.1f} s : "
        f"{stats.get('records', 0)} enregistrements, {stats.get('contracts', 0)} contrats, "
        f"{stats.get('declarations', 0)} déclarations, {stats.get('datasets', 0)} jeux de données, "
        f"{stats.get('findings', 0)} anomalies relevées."
    )


def cmd_demo(store: Store, args) -> int:
    started = time.monotonic()
    stats = api.build_demo(store, Progress("Chargement du corpus"), contracts=args.contracts, buyers=args.buyers)
    print(_summary(stats, started))
    return 0


def cmd_load(store: Store, args) -> int:
    started = time.monotonic()
    try:
        result = api.load(store, args.paths, replace=args.replace, as_of=args.as_of,
                          window_months=args.window_months, stale_months=args.stale_months,
                          progress=Progress("Lecture des fichiers"))
    except FileNotFoundError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    if result.note:
        print(result.note, file=sys.stderr)
    read = ", ".join(f"{n} {k}" for k, n in sorted(result.kinds.items()))
    print(f"Fichiers lus : {read}")
    print(_summary(result.stats, started))
    return 0


def cmd_refresh(store: Store, args) -> int:
    options = {
        key: value
        for key, value in {
            "tags": args.tags,
            "dataset_ids": args.dataset_ids,
            "max_file_bytes": args.max_file_mb * 1024 * 1024 if args.max_file_mb else None,
            "concurrency": args.concurrency,
        }.items()
        if value is not None
    }
    if args.no_register:
        options["register"] = False
    else:
        options["register_settings"] = EnrichSettings.from_environment(deadline_seconds=args.annuaire_minutes * 60.0)
    summary = api.refresh(store, api_base=args.api_base, as_of=args.as_of, window_months=args.window_months,
                          stale_months=args.stale_months, progress=_phase_progress(), **options)
    print(summary.text)
    return 0


def _phase_progress():
    bars: dict[str, Progress] = {}

    def report(phase: str, done: int, total: int, detail: object = "") -> None:
        bar = bars.get(phase)
        if bar is None:  # one bar per phase, not one per call (each asks the terminal: a system call per file)
            bar = bars[phase] = Progress(phase)
        bar(done, total, detail)

    return report


def cmd_enrich(store: Store, args) -> int:
    settings = EnrichSettings.from_environment(
        recherche_base=args.api_url, rate=args.rate, max_age_days=args.max_age_days, limit=args.limit)
    started = time.monotonic()
    result = api.enrich(store, settings, progress=Progress("Répertoire des acheteurs"))
    if result.summary is None:
        print(result.refused, file=sys.stderr)
        return 0 if result.is_demo else 1
    print(result.summary.text)
    for problem in result.summary.problems[:10]:
        print(f"  {problem}", file=sys.stderr)
    if result.stats is None:
        print("Aucune information nouvelle : la base publiée est inchangée.")
    else:
        print(_summary(result.stats, started))
    return 0


# -- status --------------------------------------------------------------------------------------


def _fr_date(value) -> str:
    return fr_date(value, missing="—")


def _fr_number(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def status_text(row: dict, params: dict) -> str:
    """A buyer's verdict, reasons and figures, as the terminal shows them."""
    name = row.get("buyer_name") or "(nom inconnu)"
    lines = [
        f"Acheteur {row['buyer_siret']} — {name}",
        f"Verdict : {row['verdict_label']}",
    ]
    reasons = row.get("reasons") or []
    if reasons:
        lines.append("Raisons :")
        lines += [f"  - {reason}" for reason in reasons]
    lines.append(
        f"Évaluation au {_fr_date(params['as_of'])} : contrats notifiés du {_fr_date(params['window_start'])} "
        f"au {_fr_date(params['as_of'])} ({params['window_months']} mois)"
    )
    urls = row.get("profile_urls") or []
    declared = "oui" + (f" ({', '.join(urls)})" if urls else "") if row.get("declared") else "non"
    lines.append(f"Déclaré par un profil d'acheteur : {declared}")
    if row.get("platform"):
        lines.append(f"Plateforme : {row['platform']}")
    lines.append(f"Jeux de données : {row.get('dataset_count') or 0}")
    lines.append(
        f"Contrats : {_fr_number(row['contracts_total'])} au total, "
        f"{_fr_number(row['contracts_in_window'])} sur la période"
    )
    for status, label in vocabulary.STATUS_LABELS.items():
        count = row.get(f"n_{status}") or 0
        if count:
            lines.append(f"  {label} : {_fr_number(count)}")
    if row.get("modifications_in_window"):
        lines.append(
            f"Modifications sur la période : {_fr_number(row['modifications_in_window'])}, "
            f"dont {_fr_number(row['n_modifications_late'])} publiées en retard"
        )
    if row.get("late_rate") is not None:
        lines.append(f"Taux de retard : {_fr_number(100 * row['late_rate'], 1)} %")
    if row.get("median_delay_days") is not None:
        lines.append(
            f"Délai de publication : médian {_fr_number(row['median_delay_days'])} jours, "
            f"90e centile {_fr_number(row['p90_delay_days'])} jours"
        )
    lines.append(f"Dernière publication connue : {_fr_date(row.get('last_publication_date'))}")
    return "\n".join(lines)


def status_json(report: StatusReport) -> str:
    payload: dict = {"siret": report.siret, "found": report.found, "valid": report.valid}
    if report.message:
        payload["message"] = report.message
    if report.found and report.valid:
        payload["parameters"] = report.parameters
    if report.buyer is not None:
        payload["buyer"] = {k: _jsonable(v) for k, v in report.buyer.items()}
    return json.dumps(payload, ensure_ascii=False, indent=2)


def cmd_status(store: Store, args) -> int:
    report = api.buyer_status(store, args.siret, as_of=args.as_of, window_months=args.window_months,
                              stale_months=args.stale_months)
    if args.json:
        print(status_json(report))
    else:
        if report.message:
            print(report.message)
        if report.buyer is not None:
            print(status_text(report.buyer, report.parameters))
    return report.exit_code


# -- export --------------------------------------------------------------------------------------


def cmd_export(store: Store, args) -> int:
    if args.list:
        tables = api.exportable_tables(store)
        if store.current() is None:
            print("Aucune base publiée : lancez d'abord « python -m decp_monitor demo » ou « load ».", file=sys.stderr)
            return 1
        for table, columns in tables.items():
            print(f"{table} — {DOCUMENTED_TABLES[table]}")
            for column, dtype in columns:
                print(f"    {column}  {dtype}")
        return 0
    if not args.table or not args.out:
        print("Indiquez une TABLE et --out FICHIER (ou « export --list »).", file=sys.stderr)
        return 2
    filters = {"siret": args.siret, "verdict": args.verdict, "date_from": args.date_from,
               "date_to": args.date_to, "as_of": args.as_of}
    out = sys.stdout.buffer if args.out == "-" else args.out
    try:
        rows = api.export(store, args.table, args.format, out, filters, force=args.force)
    except ExportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(write_problem(args.out, exc), file=sys.stderr)
        return 2
    print(f"{rows} lignes exportées ({args.format}) vers {args.out}", file=sys.stderr)
    return 0


def cmd_check(store, args) -> int:
    from decp_monitor.check import check_files

    bar = Progress("Vérification")
    report = check_files(args.files, as_of=args.as_of, dataset_description=args.dataset_description,
                         progress=lambda phase, share: bar(int(share * 100), 100, phase))
    sys.stdout.write(report.to_json() + "\n" if args.json else report.to_text())
    return report.exit_code


COMMANDS = {
    "demo": cmd_demo,
    "load": cmd_load,
    "refresh": cmd_refresh,
    "enrich": cmd_enrich,
    "status": cmd_status,
    "export": cmd_export,
    "check": cmd_check,
}
