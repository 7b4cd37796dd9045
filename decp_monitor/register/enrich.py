"""Ask the register APIs about the SIRETs the data mentions: incremental, polite, resumable.

- Incremental: a SIRET answered less than `max_age_days` ago (known or not) is not asked again.
- Polite: one request at a time, at most `rate` per second (the open API allows 7 per second per
  address, 429 with Retry-After beyond); PoliteClient retries 429/5xx with backoff, honours
  Retry-After, and gives up on the host once the error budget is spent.
- Resumable: each answer is committed to the cache (cache.py) as it arrives.
- Never blocking: an API that is down ends the run early with what was fetched so far; the
  facts fetched before stay in the cache and in the register table.

Batching: a SIRET query answers for the legal unit and names its head office, so a head office
SIRET also on the list is learned without its own request. Invalid SIRETs are never asked.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from decp_monitor.core.siret import is_valid_siret
from decp_monitor.register import facts as parse
from decp_monitor.register.cache import RegisterCache
from decp_monitor.register.facts import Fact
from decp_monitor.sources.http import BudgetExhausted, FetchError, HttpSettings, PoliteClient, allow_api_host

RECHERCHE_BASE = "https://recherche-entreprises.api.gouv.fr"
RECHERCHE_ENV = "DECP_RECHERCHE_ENTREPRISES_URL"
RECHERCHE_RATE = 7.0  # requests per second per address (API documentation)
API_ENTREPRISE_BASE = "https://entreprise.api.gouv.fr"
API_ENTREPRISE_ENV = "DECP_API_ENTREPRISE_URL"
API_ENTREPRISE_TOKEN_ENV = "DECP_API_ENTREPRISE_TOKEN"
API_ENTREPRISE_RECIPIENT_ENV = "DECP_API_ENTREPRISE_RECIPIENT"  # SIRET of the administration asking
API_ENTREPRISE_RATE = 2.0  # its limits are per minute and per endpoint; stay well below
API_ENTREPRISE_CONTEXT = "Suivi de la publication des données essentielles de la commande publique"
API_ENTREPRISE_OBJECT = "decp-monitor : identification des acheteurs publics"
DEFAULT_MAX_AGE_DAYS = 30
DEFAULT_ERROR_BUDGET = 30
# SIRETs in a row whose request failed (after its retries): the API is down, stop asking.
MAX_CONSECUTIVE_FAILURES = 3

Progress = Callable[[int, int, str], None]


class RateLimiter:
    """At most `rate` calls per second, evenly spaced (a burst would earn a 429)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


@dataclass
class EnrichSettings:
    recherche_base: str = RECHERCHE_BASE
    rate: float = RECHERCHE_RATE
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    error_budget: int = DEFAULT_ERROR_BUDGET
    deadline_seconds: Optional[float] = None  # a refresh bounds its register step
    limit: Optional[int] = None  # at most this many SIRETs asked in this run
    api_entreprise_base: str = API_ENTREPRISE_BASE
    api_entreprise_token: Optional[str] = None
    api_entreprise_recipient: Optional[str] = None
    api_entreprise_rate: float = API_ENTREPRISE_RATE
    http: Optional[HttpSettings] = None

    @classmethod
    def from_environment(cls, **overrides) -> EnrichSettings:
        values: dict[str, Any] = {
            "recherche_base": os.environ.get(RECHERCHE_ENV) or RECHERCHE_BASE,
            "api_entreprise_base": os.environ.get(API_ENTREPRISE_ENV) or API_ENTREPRISE_BASE,
            "api_entreprise_token": os.environ.get(API_ENTREPRISE_TOKEN_ENV) or None,
            "api_entreprise_recipient": os.environ.get(API_ENTREPRISE_RECIPIENT_ENV) or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def http_settings(self) -> HttpSettings:
        if self.http is not None:
            return self.http
        # Short reads (the answers are small), a few retries, and the run's error budget.
        return HttpSettings(read_timeout=20.0, retries=3, backoff_base=1.0, backoff_max=30.0,
                            retry_after_cap=60.0, error_budget=self.error_budget)

    def client_settings(self) -> HttpSettings:
        """The HTTP settings with the configured register APIs' own hosts allowed (SSRF guard)."""
        settings = self.http_settings()
        for base in (self.recherche_base, self.api_entreprise_base):
            settings = allow_api_host(settings, base)
        return settings


@dataclass
class EnrichSummary:
    asked: int = 0  # SIRETs that needed an answer
    requests: int = 0
    found: int = 0
    not_found: int = 0
    learned_free: int = 0  # head offices learned from another SIRET's answer
    errors: int = 0
    remaining: int = 0  # still to ask (budget spent, deadline, limit)
    api_entreprise: int = 0
    stopped: str = ""  # why the run ended early, in French
    duration: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        parts = [
            f"Répertoire des acheteurs : {self.asked} SIRET à interroger, {self.requests} requêtes, "
            f"{self.found} trouvés, {self.not_found} inconnus du répertoire, {self.learned_free} sièges "
            f"appris sans requête, {self.errors} en erreur, en {self.duration:.1f} s."
        ]
        if self.api_entreprise:
            parts.append(f"API Entreprise : {self.api_entreprise} SIRET complétés.")
        if self.stopped:
            parts.append(f"Arrêt anticipé : {self.stopped} ; {self.remaining} SIRET restent à interroger "
                         "(repris au prochain enrichissement ; les informations déjà connues sont conservées).")
        return " ".join(parts)


def to_ask(cache: RegisterCache, sirets: Iterable[str], max_age_days: int,
           now: Optional[dt.datetime] = None) -> list[str]:
    """Valid SIRETs without a fresh answer of the open API, in a stable order."""
    now = now or _utcnow()
    fresh = cache.fetched_since("recherche-entreprises", now - dt.timedelta(days=max_age_days))
    return sorted({s for s in sirets if is_valid_siret(s)} - fresh)


def enrich(cache: RegisterCache, sirets: Iterable[str], settings: Optional[EnrichSettings] = None,
           progress: Optional[Progress] = None, now: Optional[dt.datetime] = None) -> EnrichSummary:
    settings = settings or EnrichSettings.from_environment()
    report = progress or (lambda done, total, detail: None)
    started = time.monotonic()
    wanted = set(sirets)
    todo = to_ask(cache, wanted, settings.max_age_days, now)
    summary = EnrichSummary(asked=len(todo))
    if settings.limit is not None and len(todo) > settings.limit:
        summary.remaining = len(todo) - settings.limit
        todo = todo[:settings.limit]
        summary.stopped = f"limite de {settings.limit} SIRET par exécution atteinte"
    limiter = RateLimiter(settings.rate)
    learned: set[str] = set()
    failures_in_row = 0
    unresolved: list[str] = []  # not known to the open API, or hidden: API Entreprise may say more
    url = settings.recherche_base.rstrip("/") + "/search"
    with PoliteClient(settings.client_settings()) as client:
        for index, siret in enumerate(todo):
            report(index, len(todo), siret)
            if siret in learned:
                continue
            if settings.deadline_seconds is not None and time.monotonic() - started > settings.deadline_seconds:
                summary.stopped = "durée maximale de l'étape atteinte"
                summary.remaining += len(todo) - index
                break
            limiter.wait()
            try:
                body = client.get_json(url, params={"q": siret, "page": 1, "per_page": 1, "minimal": "true",
                                                    "include": "siege,matching_etablissements"})
                fact = parse.from_recherche(body, siret)
            except BudgetExhausted as exc:
                summary.stopped = f"API Recherche d'entreprises indisponible ({exc.message})"
                summary.remaining += len(todo) - index
                break
            except FetchError as exc:
                summary.errors += 1
                summary.problems.append(f"{siret} : {exc.message}")
                failures_in_row += 1 if exc.retryable or exc.status is None else 0
                if failures_in_row >= MAX_CONSECUTIVE_FAILURES:
                    summary.stopped = f"API Recherche d'entreprises indisponible ({exc.message})"
                    summary.remaining += len(todo) - index - 1
                    break
                continue
            except parse.ParseProblem as exc:
                summary.errors += 1
                summary.problems.append(f"{siret} : {exc}")
                continue
            finally:
                summary.requests = client.stats.requests
            failures_in_row = 0
            cache.put(fact)
            if fact.found:
                summary.found += 1
                head = fact.head_office_siret
                if head and head != siret and head in wanted and head not in learned:
                    head_fact = _head_office_fact(body, head)
                    if head_fact is not None and head_fact.found:
                        cache.put(head_fact)
                        learned.add(head)
                        summary.learned_free += 1
            else:
                summary.not_found += 1
            if not fact.found or fact.non_diffusible or fact.legal_name is None:
                unresolved.append(siret)
        report(len(todo), len(todo), "")
    if settings.api_entreprise_token and unresolved:
        summary.api_entreprise = _ask_api_entreprise(cache, unresolved, settings, summary)
    summary.duration = time.monotonic() - started
    return summary


def _head_office_fact(body, head: str) -> Optional[Fact]:
    try:
        return parse.from_recherche(body, head)
    except parse.ParseProblem:
        return None


def _ask_api_entreprise(cache: RegisterCache, sirets: list[str], settings: EnrichSettings,
                        summary: EnrichSummary) -> int:
    """The habilitated API for what the open one cannot say (non-diffusible units, unknown SIRETs)."""
    base = settings.api_entreprise_base.rstrip("/")
    recipient = settings.api_entreprise_recipient
    if not recipient or not is_valid_siret(recipient):
        summary.problems.append(
            f"API Entreprise non interrogée : ${API_ENTREPRISE_RECIPIENT_ENV} doit contenir le SIRET de "
            "l'administration destinataire (paramètre recipient obligatoire)")
        return 0
    params = {"recipient": recipient, "context": API_ENTREPRISE_CONTEXT, "object": API_ENTREPRISE_OBJECT}
    headers = {"Authorization": f"Bearer {settings.api_entreprise_token}"}
    limiter = RateLimiter(settings.api_entreprise_rate)
    completed = 0
    with PoliteClient(settings.client_settings()) as client:
        for siret in sirets:
            limiter.wait()
            try:
                body = client.get_json(f"{base}/v3/insee/sirene/etablissements/{siret}", params=params, headers=headers)
                fact = parse.from_api_entreprise(body, siret)
            except BudgetExhausted as exc:
                summary.problems.append(f"API Entreprise indisponible : {exc.message}")
                break
            except FetchError as exc:
                if exc.status == 404:
                    cache.put(Fact(siret, found=False, source="api-entreprise", fetched_at=_utcnow()))
                else:
                    summary.problems.append(f"{siret} (API Entreprise) : {exc.message}")
                continue
            except parse.ParseProblem as exc:
                summary.problems.append(f"{siret} (API Entreprise) : {exc}")
                continue
            cache.put(fact)
            completed += fact.found
    return completed


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- the register step of a build, and the `enrich` command ---------------------------------------

_DATA_SIRETS_SQL = """
    SELECT DISTINCT siret FROM (
        SELECT siret FROM declarations
        UNION ALL SELECT nullif(trim(extras_siret), '') FROM datasets
        UNION ALL SELECT buyer_siret FROM records
    ) WHERE siret IS NOT NULL
"""


def data_sirets(con) -> list[str]:
    """Every SIRET the version's data mentions (validity is checked by to_ask)."""
    return [row[0] for row in con.execute(_DATA_SIRETS_SQL).fetchall()]


def enrich_build(build, settings: Optional[EnrichSettings] = None,
                 progress: Optional[Progress] = None) -> EnrichSummary:
    """The register step of a refresh: ask about the build's SIRETs, within its deadline. Never
    raises: the register is an aid, a refresh does not fail for it (the facts fetched before stay)."""
    from decp_monitor.register.cache import cache_path

    build.writer.flush()
    try:
        with RegisterCache(cache_path(build.store.root)) as cache:
            return enrich(cache, data_sirets(build.con), settings, progress)
    except Exception as exc:  # the register must never cost a refresh its publication
        summary = EnrichSummary()
        summary.stopped = f"étape du répertoire abandonnée ({type(exc).__name__} : {exc})"
        return summary
