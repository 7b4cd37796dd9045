"""The body of the buyer page: verdict banner, figures, contracts, timeline, datasets, advice."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from decp_monitor.core import vocabulary
from decp_monitor.core.siret import siret_problem
from decp_monitor.dashboard import charts, columns, widgets
from decp_monitor.dashboard.data import Loaded
from decp_monitor.dashboard.format import format_siret, fr_date, fr_days, fr_int, fr_percent, md_escape, plural
from decp_monitor.dashboard.navigation import page_path
from decp_monitor.read import queries
from decp_monitor.read import register as register_queries

BANNERS = {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}
ICONS = {"compliant": ":material/check_circle:", "late": ":material/schedule:", "missing": ":material/block:",
         "stale": ":material/hourglass_disabled:", "undeclared": ":material/help:",
         "invalid_siret": ":material/block:", "no_recent_data": ":material/info:"}
# A closed establishment (register of buyers) is not chased: an information banner.
ICONS["closed"] = ":material/door_front:"
PAGE_SIZE = 100
NO_CONTRACTS = ("Aucun contrat n'a été trouvé sous ce SIRET dans les données chargées : ni dans les fichiers "
                "de données essentielles moissonnés, ni dans les fichiers chargés localement. Si l'acheteur a "
                "passé des marchés de 40 000 € HT ou plus, leurs données essentielles auraient dû être publiées.")
TIMELINE_SIZE = 40  # beyond, the contract labels no longer fit


def render(loaded: Loaded, row: dict) -> None:
    siret = row["buyer_siret"]
    st.header(md_escape(row["buyer_name"]) if row.get("buyer_name") else "Acheteur sans nom publié")
    facts = [f"SIRET {format_siret(siret)}"]
    if row.get("platform"):
        facts.append(f"plateforme : {md_escape(row['platform'])}")
    facts.append("déclaré par un profil d'acheteur" if row.get("declared") else "non déclaré par un profil d'acheteur")
    if (not row.get("buyer_name") or row.get("buyer_name_source") == "declaration") and row.get("declared"):
        # No name in any publication: the declaration's contact details often say who it is.
        declared = widgets.q(loaded, queries.buyer_declarations, siret)
        contacts = [c for c in declared.get("coordonnees", []) if isinstance(c, str) and c.strip()]
        if contacts:
            facts.append(f"coordonnées déclarées : {md_escape(contacts[0].strip())}")
    st.caption(" · ".join(facts))
    register_facts(loaded, row)

    verdict = row.get("verdict") or "no_recent_data"
    reasons = row.get("reasons") or []
    label = row.get("verdict_label") or verdict
    if vocabulary.late_only_by_modifications(row):
        # « En retard » with 0 late contract and 0 % reads as a bug unless it says why.
        label = vocabulary.LATE_BY_MODIFICATIONS_LABEL
        reasons = [f"Aucun contrat de la période n'est publié en retard, mais "
                   f"{plural(row.get('n_modifications_late') or 0, 'modification')} de ces contrats "
                   f"{'a' if (row.get('n_modifications_late') or 0) == 1 else 'ont'} été publiée"
                   f"{'' if (row.get('n_modifications_late') or 0) == 1 else 's'} après l'échéance de deux mois.",
                   *reasons]
    text = f"**Verdict : {md_escape(label)}**"
    if reasons:
        text += "\n\n" + "\n".join(f"- {md_escape(reason)}" for reason in reasons)
    BANNERS[vocabulary.VERDICT_TONE.get(verdict, "info")](text, icon=ICONS.get(verdict, ":material/info:"))

    # Every figure of the verdict is over the assessment window; the all-dates counts say so apart.
    st.caption(period_caption(loaded))
    a, b, c, d = st.columns(4)
    a.metric("Contrats évalués (période)", fr_int(row.get("n_assessed")),
             help=f"Contrats notifiés sur la période dont le délai est calculable, sur "
                  f"{fr_int(row.get('contracts_in_window'))} notifiés sur la période et "
                  f"{fr_int(row.get('contracts_total'))} publiés toutes dates confondues")
    late = vocabulary.late_contracts(row)
    b.metric("Publiés en retard (période)", fr_int(late), help="Retard déclaré ou observé")
    c.metric("Taux de retard (période)", fr_percent(row.get("late_rate")),
             help="Publiés en retard / contrats évalués de la période")
    d.metric("Délai médian (période)", fr_days(row.get("median_delay_days")),
             help=f"9 contrats sur 10 publiés en moins de {fr_days(row.get('p90_delay_days'))}")
    e, f, g, h = st.columns(4)
    e.metric("Sans date de publication (période)", fr_int(row.get("n_no_publication_date")))
    f.metric("Dernière notification", fr_date(row.get("last_notification_date")), help="Toutes dates")
    g.metric("Dernière publication", fr_date(row.get("last_publication_date")), help="Toutes dates")
    h.metric("Modifications en retard (période)", fr_int(row.get("n_modifications_late")),
             help=f"Sur {fr_int(row.get('modifications_in_window'))} modifications de la période")
    all_dates = widgets.q(loaded, queries.buyer_status_counts, siret, window_only=False)
    late_all_dates = int(all_dates.loc[all_dates["status"].isin(vocabulary.LATE_STATUSES), "contracts"].sum()) \
        if not all_dates.empty else 0
    if late_all_dates > late:
        st.caption(f"Toutes dates confondues : {plural(late_all_dates, 'contrat publié', 'contrats publiés')} "
                   f"en retard, dont {fr_int(late_all_dates - late)} notifié"
                   f"{'s' if late_all_dates - late > 1 else ''} avant la période : ils ne comptent pas dans le "
                   "verdict (onglet « Contrats », décocher « Période d'évaluation seulement »).")

    # Only the open tab is built (a deep link to a large buyer built seven tabs, two of them charts);
    # the open tab lives in the URL (?onglet=…), so a shared link opens the same one.
    sections = (
        ("Contrats", "les contrats", lambda: _contracts(loaded, row)),
        ("Chronologie", "la chronologie", lambda: _timeline(loaded, siret)),
        ("Tendance mensuelle", "la tendance mensuelle", lambda: _trend(loaded, siret)),
        ("Jeux de données et déclarations", "les jeux de données", lambda: _datasets(loaded, siret)),
        ("Modifications", "les modifications", lambda: _modifications(loaded, siret)),
        ("Anomalies", "les anomalies", lambda: _findings(loaded, siret)),
        ("Se mettre en règle", "les conseils", lambda: _advice(loaded, row)),
    )
    tabs = st.tabs([label for label, _, _ in sections], key=TAB_PARAM, bind="query-params")
    for tab, (_, what, build) in zip(tabs, sections):
        if tab.open:
            with tab, widgets.error_boundary(what):
                build()


TAB_PARAM = "onglet"


def search_label(row) -> str:
    """One search result: name, SIRET, kind and place when the register knows them, verdict."""
    parts = [md_escape(getattr(row, "buyer_name", None) or "Nom inconnu"), format_siret(row.buyer_siret)]
    kind = getattr(row, "buyer_kind_label", None)
    place = getattr(row, "commune_name", None) or getattr(row, "departement_name", None)
    if isinstance(kind, str) and kind:
        parts.append(md_escape(kind) + (f" ({md_escape(place)})" if isinstance(place, str) and place else ""))
    closed = getattr(row, "closed_on", None)
    label = md_escape(row.verdict_label or "")
    if closed is not None and not (isinstance(closed, float) or str(closed) in ("NaT", "nan")):
        label = (f"Établissement fermé le {fr_date(closed)}" if getattr(row, "verdict", None) == "closed"
                 else f"{label}, fermé le {fr_date(closed)}")
    parts.append(label)
    return " — ".join(parts)


def register_facts(loaded: Loaded, row: dict) -> None:
    """What the register says: kind, place, closing, probable SIRET, the SIREN's other establishments."""
    siret = row["buyer_siret"]
    facts = []
    if row.get("buyer_kind") and row["buyer_kind"] != "inconnu":
        facts.append(md_escape(row.get("buyer_kind_label") or ""))
    if row.get("categorie_juridique"):
        facts.append(f"catégorie juridique {row['categorie_juridique']} ({md_escape(row.get('categorie_juridique_label') or '')})")
    if row.get("legal_name") and row.get("legal_name") != row.get("buyer_name"):
        facts.append(f"organisme : {md_escape(row['legal_name'])}")
    place = [p for p in (row.get("commune_name"), row.get("departement_name") and
                         f"{row['departement_name']} ({row['departement']})", row.get("region_name")) if p]
    if place:
        facts.append(md_escape(", ".join(place)))
    source = row.get("register_source")
    if source:
        from decp_monitor.register.facts import SOURCE_LABELS

        facts.append(f"source : {SOURCE_LABELS.get(source, source)}, interrogé le {fr_date(row.get('register_fetched_at'))}")
    elif row.get("siret_valid"):
        facts.append("répertoire des entreprises pas encore interrogé (commande « enrich »)")
    if facts:
        st.caption(" · ".join(facts))
    if row.get("is_closed") and row.get("verdict") != "closed":  # a "closed" verdict says it already
        when = f" le {fr_date(row['closed_on'])}" if row.get("closed_on") else ""
        st.warning(f"**Établissement fermé{when}** (répertoire Sirene) : il est jugé sur ce qu'il devait publier "
                   "jusqu'à cette date.", icon=":material/door_front:")
    if row.get("probable_siret"):
        st.info(f"**SIRET probablement voulu : {format_siret(row['probable_siret'])}**, seul établissement connu "
                "du même SIREN.", icon=":material/lightbulb:")
        st.page_link(page_path("buyer"), label=f"Ouvrir la fiche de {format_siret(row['probable_siret'])}",
                     query_params={"siret": row["probable_siret"]}, icon=":material/arrow_forward:")
    siblings = widgets.q(loaded, register_queries.register_siblings, siret)
    if not siblings.empty:
        with st.expander(f"Autres établissements du même SIREN ({fr_int(len(siblings))})", expanded=bool(row.get("is_closed"))):
            for sib in siblings.itertuples():
                state = f"fermé le {fr_date(sib.closed_on)}" if sib.establishment_state == "F" else "actif"
                tail = md_escape(sib.verdict_label) if sib.in_data else "absent des données chargées"
                label = f"{format_siret(sib.buyer_siret)} — {md_escape(sib.buyer_name or 'nom inconnu')} — {state} — {tail}"
                st.page_link(page_path("buyer"), label=label, query_params={"siret": sib.buyer_siret})


def period_caption(loaded: Loaded) -> str:
    """« Période d'évaluation : contrats notifiés du … au … »: the period every verdict figure covers."""
    meta = loaded.meta
    if meta.get("window_start"):
        return (f"Période d'évaluation : contrats notifiés du {fr_date(meta['window_start'])} au "
                f"{fr_date(meta.get('as_of'))}.")
    return f"Situation au {fr_date(meta.get('as_of') or meta.get('built_at'))}."


def _contracts(loaded: Loaded, row: dict) -> None:
    siret = row["buyer_siret"]
    if not row.get("contracts_total"):
        # No filter to offer: say what the absence means instead of "nothing for this filter".
        st.info(NO_CONTRACTS, icon=":material/info:")
        return
    labels = widgets.q(loaded, queries.status_labels)
    left, right = st.columns([2, 1])
    with right:
        # The window by default, as the figures above; the status counts follow the toggle.
        window_only = widgets.url_toggle("Période d'évaluation seulement", "fenetre", True,
                                         help="Contrats notifiés dans la fenêtre d'évaluation, comme les chiffres "
                                              "ci-dessus ; décochez pour tous les contrats publiés")
    counts = widgets.q(loaded, queries.buyer_status_counts, siret, window_only=window_only)
    sizes = dict(zip(counts["status"], counts["contracts"])) if not counts.empty else {}
    with left:
        status = widgets.url_select(
            "Statut", "statut", [None] + list(labels), None,
            format_func=lambda s: "Tous les statuts" if s is None else f"{labels.get(s, s)} ({fr_int(sizes.get(s, 0))})",
        )
    page = widgets.paged_query(loaded, queries.buyer_contracts, "buyer_contracts", "contrats", PAGE_SIZE,
                               siret, status=status, window_only=window_only)
    widgets.table(
        page.rows,
        columns.config("notification_date", "contract_id", "status_label", "deadline", "publication_date",
                       "observed_date", "delay_days", "days_late", "objet", "amount", "in_window",
                       "record_count", "source_file", "observed_source", "kind", "rule_label",
                       objet=st.column_config.TextColumn("Objet", width="medium")),
        download=f"contrats-{siret}", full=page, loaded=loaded,
        empty="Aucun contrat publié pour ce filtre.",
    )


def _trend(loaded: Loaded, siret: str) -> None:
    df = widgets.q(loaded, queries.buyer_monthly, siret)
    if df.empty:
        st.info("Aucun contrat notifié sur les 36 derniers mois.", icon=":material/info:")
        return
    st.caption("Par mois de notification, sur les 36 derniers mois : part des contrats évalués publiés en retard "
               "(barres) et délai médian (ligne). Les mois grisés sont provisoires.")
    widgets.chart(charts.monthly(df, as_of=loaded.meta.get("as_of"), width=charts.FULL))
    chart_data(df, "tendance-mensuelle")


def chart_data(df, download: str) -> None:
    """The figures of a chart as a table: what a screen reader or a colour-blind reader uses."""
    # Lazy: the table and its download buttons are built only once the reader opens it (five of
    # them on the overview made the browser's first display markedly slower).
    box = st.expander("Données du graphique (tableau)", key=chart_table_key(download), on_change="rerun")
    if box.open:
        with box:
            widgets.table(df, columns.config(*df.columns, **CHART_COLUMNS), download=download)


def chart_table_key(download: str) -> str:
    return f"chart_table_{download}"


CHART_COLUMNS = {
    "month": columns.cc.DateColumn("Mois", format="MM/YYYY"),
    "contracts": columns.count("Contrats"),
    "late": columns.count("En retard"),
    "assessed": columns.count("Évalués"),
    "late_share": columns.cc.NumberColumn("Part en retard", format="percent", step=0.001),
    "median_delay_days": columns.cc.NumberColumn("Délai médian (j)", format="localized"),
    "bin_start": columns.cc.NumberColumn("Délai à partir de (j)", format="localized"),
    "verdict_label": columns.cc.TextColumn("Verdict"),
}


def _timeline(loaded: Loaded, siret: str) -> None:
    df = widgets.q(loaded, queries.buyer_timeline, siret, limit=TIMELINE_SIZE)
    if df.empty:
        st.info("Aucun contrat avec une date de notification : pas de chronologie à tracer.", icon=":material/info:")
        return
    shown = f"Les {len(df)} contrats les plus récents" if len(df) == TIMELINE_SIZE else "Les contrats"
    st.caption(f"{shown} : notification (rond), échéance de deux mois (trait), publication déclarée "
               "(losange, coloré selon le statut). L'onglet « Contrats » les liste tous.")
    widgets.chart(charts.buyer_timeline(df))


def _datasets(loaded: Loaded, siret: str) -> None:
    declarations = widgets.q(loaded, queries.buyer_declarations, siret)
    st.markdown("**Déclarations de profil d'acheteur**")
    widgets.table(
        widgets.with_safe_links(declarations, "url_profil_acheteur", "url_dcat"),
        columns.config("url_profil_acheteur", "url_dcat", "coordonnees", "source_file", "line"),
        empty="Aucune plateforme de profil d'acheteur ne déclare ce SIRET.",
    )
    st.markdown("**Jeux de données sur data.gouv.fr**")
    ds = widgets.q(loaded, queries.buyer_datasets, siret)
    widgets.table(
        widgets.with_safe_links(ds, "url"),
        columns.config("title", "url", "organization_name", "license", "frequency", "extras_siret",
                       "resource_count", "last_modified", "failed_checks"),
        empty="Aucun jeu de données rattaché à ce SIRET (par extras.siret, nom de fichier ou contrats).",
    )
    checks = widgets.q(loaded, queries.buyer_checks, siret)
    if not checks.empty:
        st.markdown("**Conventions de publication non respectées**")
        widgets.table(checks, columns.config("level", "name", "check_label", "expected", "actual", "message"))
    res = widgets.q(loaded, queries.buyer_resources, siret)
    if res.total:
        st.markdown("**Fichiers publiés**")
        widgets.count_caption(len(res.rows), res.total, 0, "fichiers")
        widgets.table(
            widgets.with_safe_links(res.rows, "url"),
            columns.config("title", "url", "filetype", "type", "format", "created_at", "download_status",
                           "failed_checks"),
        )


def _modifications(loaded: Loaded, siret: str) -> None:
    page = widgets.q(loaded, queries.buyer_modifications, siret)
    widgets.count_caption(len(page.rows), page.total, 0, "modifications")
    widgets.table(
        page.rows,
        columns.config("contract_id", "modification_id", "notification_date", "deadline", "publication_date",
                       "delay_days", "days_late", "status_label", "in_window", "source_file",
                       modification_id=st.column_config.TextColumn("Modification")),
        empty="Aucune modification publiée pour ce SIRET.",
    )


def _findings(loaded: Loaded, siret: str) -> None:
    page = widgets.q(loaded, queries.buyer_findings, siret)
    widgets.count_caption(len(page.rows), page.total, 0, "anomalies")
    widgets.table(
        columns.french_severity(page.rows),
        columns.config("severity", "code", "message", "field", "value", "source_file", "position", "contract_id"),
        empty="Aucune anomalie relevée dans les fichiers de cet acheteur.",
    )


def _invalid_siret_advice(loaded: Loaded, row: dict) -> None:
    siret = row["buyer_siret"]
    text = (f"**Le SIRET {format_siret(siret)} sous lequel ces données sont publiées n'est pas valide** "
            f"({md_escape(row.get('siret_problem') or 'clé de contrôle fausse')}). Aucun acheteur ne peut être "
            "reconnu sous ce numéro : corrigez le SIRET de l'acheteur (`acheteur.id`) dans les données publiées, "
            "puis republiez-les sous le SIRET exact de l'établissement, tel qu'il figure dans le répertoire "
            "Sirene ([annuaire-entreprises.data.gouv.fr](https://annuaire-entreprises.data.gouv.fr)).")
    valid = []
    if len(siret) >= 9 and siret[:9].isdigit():
        siblings = widgets.q(loaded, queries.same_siren, siret[:9])
        valid = [s for s in siblings.itertuples() if s.buyer_siret != siret and not siret_problem(s.buyer_siret)]
    if len(valid) == 1:
        other = valid[0]
        text += (f"\n\nUn seul établissement valide du même SIREN figure dans les données : "
                 f"**{format_siret(other.buyer_siret)}** ({md_escape(other.buyer_name or 'nom inconnu')}). "
                 "S'il s'agit de lui, c'est ce SIRET qu'il faut publier.")
        st.markdown(text)
        st.page_link(page_path("buyer"), query_params={"siret": other.buyer_siret},
                     label=f"Voir la fiche de {format_siret(other.buyer_siret)}", icon=":material/account_balance:")
        return
    st.markdown(text)


def _advice(loaded: Loaded, row: dict) -> None:
    siret = row["buyer_siret"]
    today = dt.date.today()
    name = md_escape(row.get("buyer_name") or "Nom de l'acheteur")
    verdict = row.get("verdict")
    steps = []
    if verdict == "invalid_siret":
        # Naming files DECP-<invalid SIRET>-… or setting extras.siret to it would spread the error.
        _invalid_siret_advice(loaded, row)
        return
    if verdict == "missing":
        steps.append("Votre profil d'acheteur vous déclare, mais aucune donnée essentielle n'a été trouvée "
                     "sous ce SIRET : publiez les données de chaque contrat de 40 000 € HT ou plus.")
    if verdict == "undeclared":
        steps.append("Demandez à votre plateforme de profil d'acheteur de vous inscrire dans sa déclaration "
                     "(fichier CSV `siretAcheteur`, `urlProfilAcheteur`, `urlDCAT`, `coordonnees` publié sur "
                     "data.gouv.fr avec le mot-clé `decp`).")
    if verdict in ("late", "stale"):
        steps.append("Publiez les données de chaque contrat **au plus tard deux mois après sa notification** "
                     "(le 15 mars → le 15 mai ; le 31 décembre → le 28 ou 29 février).")
    st.markdown("\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) if steps else "")
    st.markdown(
        f"""
**Ce que prévoit la réglementation**

- **Délai** : les données essentielles d'un marché sont publiées au plus tard **deux mois après sa
  notification** ; chaque modification, deux mois après la sienne. Les données d'une concession le
  sont avant le début de son exécution.
- **Où** : depuis le 1er janvier 2024, sur **data.gouv.fr**, dans un jeu de données intitulé
  « Données essentielles des marchés publics \\- {name} », sous licence `fr-lo` (Licence Ouverte), avec les
  mots-clés `donnees-essentielles` et `commande-publique`, une fréquence de mise à jour, et
  `extras.siret` = `{siret}` s'il s'agit du jeu de données propre à l'acheteur.
- **Fichiers** : un fichier **déposé** (et non un lien externe) par publication, au format du schéma
  en vigueur, nommé `DECP-{siret}-{today:%Y-%m-%d}-01.json` (ou `.xml`) — SIRET, date de
  publication, numéro d'ordre à partir de `01`.
- **Contenu** : `datePublicationDonnees` doit être la date réelle de mise en ligne ;
  `dateNotification` la date de notification au titulaire.
"""
    )
    checks = widgets.q(loaded, queries.buyer_checks, siret)
    if checks.empty:
        return
    # One line per convention; the message already names the rule and what was found. What sits in
    # a platform's dataset is the platform's to fix: the buyer can only report it.
    for own, heading in ((True, "**À corriger dans vos publications actuelles**"),
                         (False, "**À signaler à la plateforme qui publie pour vous** (ses jeux de données "
                                 "contiennent vos contrats, elle seule peut les corriger)")):
        part = checks[checks["own_dataset"] == own] if "own_dataset" in checks else checks.iloc[0:0]
        if part.empty:
            continue
        items = part.drop_duplicates(subset=["check_label"]).itertuples()
        st.markdown(heading + " (un exemple par convention ; la liste complète est dans l'onglet "
                    "« Jeux de données et déclarations ») :\n\n" + "\n".join(
            f"- {md_escape(item.message if isinstance(item.message, str) and item.message else item.check_label)}"
            for item in items))
