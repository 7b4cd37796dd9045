"""One polite HTTP client for everything decp-monitor asks of data.gouv.fr.

Polite means: a User-Agent that names the tool, explicit timeouts, few requests at a time (the
caller bounds concurrency), retries with jittered exponential backoff only on what a retry can
fix (connection errors, timeouts, cut bodies, 429, 5xx), `Retry-After` honoured up to a cap,
and an error budget per refresh: once the platform has failed that many times, the client
stops asking instead of hammering it. Downloads are streamed to disk with a size cap.

A host that says "slow down" (429, or any error carrying Retry-After) is slowed down for every
thread at once: the wait is shared per host, so parallel downloads do not each discover the
limit by being refused. Being throttled is not a failure: it neither spends the error budget nor
the retries, only its own, larger allowance. Connections are kept alive and pooled, as many as
the caller's parallel downloads (pool_size).

Hostile servers are expected (sources/netguard.py): only public addresses are contacted (after
DNS resolution, on every redirect) unless the host is allowed; every request has a total
deadline (connection, headers and body); API answers and downloads have caps on their decoded
size, checked while they arrive (a gzip bomb stops at the cap).
"""
from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

import httpcore
import httpx

from decp_monitor import __version__
from decp_monitor.sources.netguard import BlockedAddress, DeadlineExceeded, GuardedBackend, deadline, normalise_host

USER_AGENT = f"decp-monitor/{__version__} (+https://github.com/decp-monitor/decp-monitor)"
MB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # between two bytes, not for a whole download
    api_deadline: float = 120.0  # a whole API answer (connection, headers, body)
    download_deadline: float = 30 * 60.0  # a whole download, against servers that drip bytes
    retries: int = 4  # attempts after the first one
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_cap: float = 120.0
    max_redirects: int = 5
    error_budget: int = 100  # failed attempts tolerated per host in one refresh (retryable errors)
    rate_limit_retries: int = 30  # 429 answers tolerated per request (each followed by the shared wait)
    pool_size: int = 16  # kept-alive connections; at least the number of parallel downloads
    max_file_bytes: int = 1024 * MB
    max_api_bytes: int = 32 * MB  # decoded; the largest real answer is 1.6 MB
    # Hosts contacted even on a loopback or private address (the refresh adds its API's host).
    allowed_hosts: tuple[str, ...] = ()
    user_agent: str = USER_AGENT


class FetchError(Exception):
    """A request that did not succeed; `message` is French, `status` the last HTTP status if any."""

    def __init__(self, url: str, message: str, status: Optional[int] = None, retryable: bool = False):
        super().__init__(message)
        self.url = url
        self.message = message
        self.status = status
        self.retryable = retryable


class FileTooLarge(FetchError):
    def __init__(self, url: str, size: Optional[int], limit: int, status: Optional[int] = 200, why: str = ""):
        what = f"{size} octets annoncés" if size is not None else f"plus de {limit} octets reçus"
        super().__init__(url, f"Fichier trop volumineux ({what}, limite {limit} octets{why}) : non téléchargé", status)
        self.size = size
        self.limit = limit


class AddressRefused(FetchError):
    """The URL (or a redirect) leads to a loopback, private, link-local or metadata address."""


class BudgetExhausted(FetchError):
    pass


@dataclass
class Download:
    url: str
    path: Path
    size: int
    sha1: str
    status: int
    final_url: str
    complete: bool = True  # False when the caller's `accept` stopped it after the first bytes
    attempts: int = 1


@dataclass
class ClientStats:
    requests: int = 0
    errors: int = 0  # failed attempts, retried or not
    retries: int = 0
    bytes: int = 0
    waits: list[float] = field(default_factory=list)
    throttled: int = 0  # 429 answers received
    host_waits: int = 0  # attempts held back by another thread's shared wait


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TooManyRedirects):
        return "trop de redirections (boucle ?)"
    if isinstance(exc, httpx.ConnectTimeout):
        return "délai de connexion dépassé"
    if isinstance(exc, httpx.TimeoutException):
        return "délai de lecture dépassé"
    if isinstance(exc, httpx.ConnectError):
        return f"connexion impossible ({exc})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"réponse interrompue par le serveur ({exc})"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return f"connexion coupée ({exc})"
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"URL non prise en charge ({exc})"
    if isinstance(exc, httpx.DecodingError):
        return f"contenu compressé illisible (en-tête Content-Encoding incohérent avec le corps : {exc})"
    return f"erreur HTTP imprévue ({type(exc).__name__} : {exc})"


_RETRYABLE = (httpx.TransportError,)
_NOT_RETRYABLE = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects, httpx.LocalProtocolError)
# Whatever else httpx raises (a body that does not match its Content-Encoding, …): one resource's
# failure, never the refresh's.
_OTHER_HTTP_ERRORS = (httpx.HTTPError, httpx.StreamError)


class PoliteClient:
    """Thread-safe: one instance is shared by the download threads of a refresh."""

    def __init__(self, settings: Optional[HttpSettings] = None, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings or HttpSettings()
        s = self.settings
        self._sleep = sleep
        self._lock = threading.Lock()
        self.stats = ClientStats()
        self._host_errors: dict[str, int] = {}
        self._paused_until: dict[str, float] = {}  # host -> time.monotonic() before which nobody asks
        self._client = httpx.Client(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=True,
            max_redirects=s.max_redirects,
            transport=_guarded_transport(s.allowed_hosts, s.pool_size),
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def budget_exhausted(self, url: str) -> bool:
        """A host that failed too often in this refresh is left alone (a dead buyer platform
        does not stop the downloads from data.gouv.fr, and data.gouv.fr on a bad day is not hammered)."""
        return self._host_errors.get(_host(url), 0) >= self.settings.error_budget

    # -- public ---------------------------------------------------------------------------------

    def get_json(self, url: str, params: Optional[dict] = None, headers: Optional[dict] = None) -> Any:
        """headers: extra request headers (an API's bearer token)."""
        limit = self.settings.max_api_bytes

        def attempt() -> Any:
            with deadline(self.settings.api_deadline), self._client.stream(
                    "GET", url, params=params, headers={"Accept": "application/json", **(headers or {})}) as response:
                self._check_status(response)
                body = bytearray()
                for chunk in response.iter_bytes(CHUNK):  # decoded: a gzip bomb stops at the cap
                    body += chunk
                    if len(body) > limit:
                        raise FetchError(str(response.url), f"réponse de l'API trop volumineuse (plus de {limit} "
                                         "octets une fois décompressée) : abandonnée", response.status_code)
            try:
                return json.loads(body)
            except ValueError as exc:
                # A proxy's HTML error page or a cut body: worth one more try.
                raise FetchError(str(response.url), f"réponse JSON illisible ({str(exc)[:200]})", response.status_code,
                                 retryable=True) from exc

        return self._with_retries(url, attempt)

    def download(
        self,
        url: str,
        dest: Path,
        max_bytes: Optional[int] = None,
        accept: Optional[Callable[[bytes], bool]] = None,
        accept_after: int = 8192,
        why: str = "",
    ) -> Download:
        """Stream `url` into `dest` (written whole or not at all).

        accept: called once with the first `accept_after` bytes; returning False stops the
        download there (the head is kept, `complete` is False): a large CSV that is not a
        declaration is never fetched in full. why: what the limit comes from, for the message.
        """
        limit = max_bytes if max_bytes is not None else self.settings.max_file_bytes
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        attempts = 0

        def attempt() -> Download:
            nonlocal attempts
            attempts += 1
            with deadline(self.settings.download_deadline), self._client.stream("GET", url) as response:
                self._check_status(response)
                declared = response.headers.get("Content-Length")
                declared_size = int(declared) if declared and declared.isdigit() else None
                if declared_size is not None and declared_size > limit and accept is None:
                    raise FileTooLarge(url, declared_size, limit, response.status_code, why)
                digest = hashlib.sha1()
                size = 0
                complete = True
                head = b""
                judged = accept is None
                with open(tmp, "wb") as out:
                    for chunk in response.iter_raw(CHUNK) if _is_identity(response) else response.iter_bytes(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise FileTooLarge(url, declared_size, limit, response.status_code, why)
                        digest.update(chunk)
                        out.write(chunk)
                        if not judged:
                            head += chunk
                            if len(head) >= accept_after:
                                judged = True
                                assert accept is not None  # not judged yet: there is a predicate
                                if not accept(head):
                                    complete = False
                                    break
                    if not judged:
                        assert accept is not None  # not judged yet: there is a predicate
                        if not accept(head):
                            complete = False
                if complete and _is_identity(response) and declared_size is not None and size != declared_size:
                    raise FetchError(url, f"fichier tronqué ({size} octets reçus sur {declared_size} annoncés)",
                                     response.status_code, retryable=True)
                with self._lock:
                    self.stats.bytes += size
                tmp.replace(dest)
                return Download(url, dest, size, digest.hexdigest(), response.status_code, str(response.url),
                                complete, attempts)

        try:
            return self._with_retries(url, attempt)
        finally:
            tmp.unlink(missing_ok=True)

    # -- internals ------------------------------------------------------------------------------

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        retryable = status == 429 or status >= 500
        error = FetchError(str(response.url), f"réponse HTTP {status} {response.reason_phrase}".strip(), status,
                           retryable=retryable)
        error.retry_after = retry_after  # type: ignore[attr-defined]
        raise error

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        s = self.settings
        if retry_after is not None:
            return min(retry_after, s.retry_after_cap)
        ceiling = min(s.backoff_max, s.backoff_base * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)  # jitter: parallel downloads do not retry in step

    def _pause_host(self, host: str, seconds: float) -> float:
        """Nobody asks `host` for `seconds`; returns the time until which it is paused."""
        until = time.monotonic() + seconds
        with self._lock:
            if until > self._paused_until.get(host, 0.0):
                self._paused_until[host] = until
            return self._paused_until[host]

    def _wait_for_host(self, host: str, waited_until: float) -> None:
        """Hold this attempt while the host is paused (beyond the pause this thread already slept)."""
        with self._lock:
            until = self._paused_until.get(host, 0.0)
        if until <= waited_until:
            return
        remaining = until - time.monotonic()
        if remaining > 0:
            with self._lock:
                self.stats.host_waits += 1
            self._sleep(remaining)

    def _with_retries(self, url: str, attempt_fn: Callable[[], Any]) -> Any:
        last: Optional[FetchError] = None
        host = _host(url)
        attempts = failures = throttled = 0
        waited_until = 0.0
        while True:
            if self.budget_exhausted(url):
                raise BudgetExhausted(
                    url,
                    f"requête non tentée : budget d'erreurs épuisé pour {host} "
                    f"({self._host_errors.get(host, 0)} échecs pendant ce rafraîchissement)"
                    + (f" ; dernière erreur : {last.message}" if last else ""),
                    last.status if last else None,
                )
            self._wait_for_host(host, waited_until)
            attempts += 1
            with self._lock:
                self.stats.requests += 1
            try:
                return attempt_fn()
            except FileTooLarge:
                raise
            except FetchError as exc:
                last = exc
            except BlockedAddress as exc:
                last = AddressRefused(url, str(exc))
            except DeadlineExceeded as exc:
                last = FetchError(url, str(exc))
            except _NOT_RETRYABLE as exc:
                last = FetchError(url, _describe(exc))
            except _RETRYABLE as exc:
                last = FetchError(url, _describe(exc), retryable=True)
            except _OTHER_HTTP_ERRORS as exc:
                last = FetchError(url, _describe(exc))
            retry_after = getattr(last, "retry_after", None)
            rate_limited = last.status == 429
            with self._lock:
                self.stats.errors += 1
                if rate_limited:
                    self.stats.throttled += 1
                elif last.retryable:
                    self._host_errors[host] = self._host_errors.get(host, 0) + 1
            if not last.retryable:
                break
            if rate_limited:
                throttled += 1
                if throttled > self.settings.rate_limit_retries:
                    break
                wait = self._delay(throttled - 1, retry_after)
            else:
                if failures == self.settings.retries:
                    break
                wait = self._delay(failures, retry_after)
                failures += 1
            if rate_limited or retry_after is not None:
                # The host asked everyone to slow down, not just this request.
                waited_until = self._pause_host(host, wait)
            with self._lock:
                self.stats.retries += 1
                self.stats.waits.append(wait)
            self._sleep(wait)
        assert last is not None
        if last.retryable:
            last.message = f"{last.message} (après {attempts} tentatives)"
        raise last


def _guarded_transport(allowed_hosts, pool_size: int) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport()
    # httpx 0.28 offers no public way to give its pool a network backend: the pool is rebuilt
    # with the same settings plus the guard (tests/sources/test_netguard.py proves it is in use).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=pool_size,
        max_keepalive_connections=pool_size,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(allowed_hosts),
    )
    return transport


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or ""
    except Exception:  # an unparseable URL fails later with its own message
        return ""


def _is_identity(response: httpx.Response) -> bool:
    return response.headers.get("Content-Encoding", "identity").lower() in ("", "identity")


# Comma-separated hosts that resource URLs may point to even on a loopback or private address
# (an internal mirror); the API's own host is always allowed.
ALLOWED_HOSTS_ENV = "DECP_ALLOWED_HOSTS"


def allow_api_host(settings: HttpSettings, api_base: str) -> HttpSettings:
    """The settings with the API's own host and DECP_ALLOWED_HOSTS added to the allowed hosts."""
    extra = [h for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
    host = urlsplit(api_base).hostname
    allowed = tuple(dict.fromkeys(normalise_host(h) for h in (*settings.allowed_hosts, *extra, host or "") if h))
    return dataclasses.replace(settings, allowed_hosts=allowed)
