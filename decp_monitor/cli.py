"""`python -m decp_monitor`: a thin command line over the package's Python API."""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Optional

from decp_monitor import __version__
from decp_monitor.core.progress import Progress
from decp_monitor.pipeline import build_version
from decp_monitor.read.export import add_export_arguments
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
  python -m decp_monitor status 21440036800012      verdict d'un acheteur
  python -m decp_monitor export buyer_compliance --format csv-fr --out acheteurs.csv
  python -m decp_monitor check DECP-21440036800012-2025-06-30-01.json   vérifier avant de publier
"""


def _add_common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # On sub-commands the default is SUPPRESS, so that `--data-dir X demo` is not undone by the
    # sub-command's own default.
    parser.add_argument(
        "--data-dir",
        default=None if top else argparse.SUPPRESS,
        help=f"répertoire des bases et du cache (défaut : ${DATA_DIR_ENV} ou « {DEFAULT_DATA_DIR}/ »)",
    )


def _date(value: str):
    from decp_monitor.compliance import parse_as_of

    try:
        return parse_as_of(value)
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


def _assessment_meta(args) -> dict:
    meta = {"as_of": args.as_of.isoformat() if args.as_of else None,
            "window_months": args.window_months, "stale_months": args.stale_months}
    return {k: v for k, v in meta.items() if v is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m decp_monitor",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"decp-monitor {__version__}")
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")

    demo = sub.add_parser(
        "demo",
        help="construire la base à partir du corpus de démonstration généré",
        description="Génère le corpus de démonstration (déterministe) et publie une base construite à partir de lui.",
    )
    demo.add_argument("--contracts", type=int, default=6000, help="nombre de contrats (défaut : 6000)")
    demo.add_argument("--buyers", type=int, default=300, help="nombre d'acheteurs (défaut : 300)")
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
        description="Interroge l'API de data.gouv.fr, télécharge les fichiers nouveaux ou modifiés et publie une nouvelle base.",
    )
    refresh.add_argument(
        "--api-base",
        default=None,
        help="racine de l'API udata (défaut : $DECP_API_BASE ou https://www.data.gouv.fr/api)",
    )
    refresh.add_argument("--tag", action="append", dest="tags", default=None, help="mot-clé à interroger (répétable)")
    refresh.add_argument("--dataset-id", action="append", dest="dataset_ids", default=None, help="jeu de données à inclure (répétable)")
    refresh.add_argument("--max-file-mb", type=int, default=None, help="taille maximale d'un fichier téléchargé, en Mo")
    refresh.add_argument("--concurrency", type=int, default=4, help="téléchargements simultanés (défaut : 4)")
    _add_assessment(refresh, "date d'évaluation (défaut : aujourd'hui)")
    _add_common(refresh)

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
        return 1
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
    from decp_monitor.pipeline.demo import build_demo

    started = time.monotonic()
    stats = build_demo(store, Progress("Chargement du corpus"), contracts=args.contracts, buyers=args.buyers)
    print(_summary(stats, started))
    return 0


def cmd_load(store: Store, args) -> int:
    from decp_monitor.pipeline.files import iter_files, load_paths

    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        print(f"Erreur : chemin introuvable : {', '.join(missing)}", file=sys.stderr)
        return 1
    names = tuple(str(p) for p in iter_files(args.paths))
    started = time.monotonic()
    meta = _assessment_meta(args)
    carry_over = not args.replace
    if carry_over and store.meta().get("is_demo") == "true":
        print("La base actuelle est la démonstration : elle n'est pas reprise.", file=sys.stderr)
        carry_over = False
    with build_version(store, 
        "load", source=" ".join(args.paths), carry_over=carry_over, replace_sources=names, meta=meta
    ) as build:
        kinds = load_paths(build, args.paths, progress=Progress("Lecture des fichiers"))
    read = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"Fichiers lus : {read}")
    print(_summary(build.stats, started))
    return 0


def cmd_refresh(store: Store, args) -> int:
    from decp_monitor.pipeline.refresh import run_refresh

    options = {
        key: value
        for key, value in {
            "api_base": args.api_base or os.environ.get("DECP_API_BASE"),
            "tags": args.tags,
            "dataset_ids": args.dataset_ids,
            "max_file_bytes": args.max_file_mb * 1024 * 1024 if args.max_file_mb else None,
            "concurrency": args.concurrency,
            "meta": _assessment_meta(args) or None,
        }.items()
        if value is not None
    }
    summary = run_refresh(store, progress=_phase_progress(), **options)
    print(summary if isinstance(summary, str) else getattr(summary, "text", summary))
    return 0


def _phase_progress():
    bars: dict[str, Progress] = {}

    def report(phase: str, done: int, total: int, detail: object = "") -> None:
        bar = bars.setdefault(phase, Progress(phase))
        bar(done, total, detail)

    return report


def cmd_status(store: Store, args) -> int:
    from decp_monitor.read.status import run_status

    return run_status(store, args.siret, as_of=args.as_of, as_json=args.json,
                      window_months=args.window_months, stale_months=args.stale_months)


def cmd_export(store: Store, args) -> int:
    from decp_monitor.read.export import run_export

    return run_export(store, args)


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
    "status": cmd_status,
    "export": cmd_export,
    "check": cmd_check,
}
