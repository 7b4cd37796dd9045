"""Where the HTTP client may connect, and for how long: enforced where the socket is opened.

Resource URLs come from the catalogue, that is from whoever published a dataset: a URL (or a
redirect) to 127.0.0.1, 10.x or 169.254.169.254 would make decp-monitor fetch an internal
service and keep its answer. Every TCP connection the client opens (first request and every
redirect hop) goes through `GuardedBackend`: the host name is resolved once, every address it
resolves to is checked (`refusal_reason`), and the socket connects to the checked address, so a
DNS answer cannot change between the check and the use. Hosts in `allowed` (the configured API's
own host, or a setting) are exempt.

Reads and writes never wait past the deadline of the request running in the calling thread (set
with `deadline()`), so a server dripping one byte every 20 s is cut off at the deadline instead
of resetting the read timeout at every byte.
"""
from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Optional

import httpcore

# Cloud metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS IPv6; Alibaba):
# named in the refusal, though the generic rules below refuse them too.
_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_local = threading.local()


class BlockedAddress(Exception):
    """Not an httpcore error: httpx lets it through untouched, and it is never retried."""

    def __init__(self, host: str, address: str, reason: str):
        shown = host if host == address else f"{host} → {address}"
        super().__init__(f"adresse refusée : {shown} est {reason} ; decp-monitor ne contacte que des adresses "
                         "publiques (hôte de l'API configurée excepté)")
        self.host, self.address, self.reason = host, address, reason


class DeadlineExceeded(Exception):
    def __init__(self, seconds: float):
        super().__init__(f"délai total de {seconds:g} s dépassé (connexion, en-têtes et corps) : réponse abandonnée")
        self.seconds = seconds


def refusal_reason(address: str) -> Optional[str]:
    """Why a literal IP address must not be contacted (French, after « est »), None if public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (%eth0) is not part of the address
    if ip.version == 6:
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in embedded:
            if inner is not None and (reason := refusal_reason(str(inner))):
                return f"{reason} (dans l'adresse IPv6 {ip})"
    if ip in _METADATA:
        return "le service de métadonnées de l'hébergeur (cloud)"
    if ip.is_loopback:
        return "une adresse de bouclage (loopback)"
    if ip.is_unspecified:
        return "une adresse non spécifiée"
    if ip.is_link_local:
        return "une adresse lien-local"
    if ip.is_multicast:
        return "une adresse de multidiffusion"
    if ip.is_private:
        return "une adresse de réseau privé"
    if not ip.is_global:
        return "une adresse réservée (non publique)"
    return None


def normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def checked_addresses(host: str, port: int, allowed: Iterable[str] = (), resolve=socket.getaddrinfo) -> list[str]:
    """Addresses `host` resolves to, all checked; BlockedAddress if any is not public (a name that
    resolves to one public and one private address is refused: the choice is not ours)."""
    addresses = list(dict.fromkeys(info[4][0] for info in resolve(host, port, type=socket.SOCK_STREAM)))
    if normalise_host(host) in {normalise_host(a) for a in allowed}:
        return addresses
    for address in addresses:
        reason = refusal_reason(address)
        if reason:
            raise BlockedAddress(host, address, reason)
    return addresses


@contextlib.contextmanager
def deadline(seconds: Optional[float]) -> Iterator[None]:
    """Every socket operation of this thread ends at most `seconds` from now."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = (time.monotonic() + seconds, seconds) if seconds else None
    try:
        yield
    finally:
        _local.deadline = previous


def _remaining(timeout: Optional[float]) -> Optional[float]:
    current = getattr(_local, "deadline", None)
    if current is None:
        return timeout
    left = current[0] - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded(current[1])
    return left if timeout is None else min(timeout, left)


def _expired() -> Optional[DeadlineExceeded]:
    current = getattr(_local, "deadline", None)
    if current is not None and time.monotonic() >= current[0] - 0.01:
        return DeadlineExceeded(current[1])
    return None


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        try:
            return self._stream.read(max_bytes, _remaining(timeout))
        except httpcore.ReadTimeout:
            raise _expired() or httpcore.ReadTimeout("read timed out") from None

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        try:
            self._stream.write(buffer, _remaining(timeout))
        except httpcore.WriteTimeout:
            raise _expired() or httpcore.WriteTimeout("write timed out") from None

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: Optional[str] = None,
                  timeout: Optional[float] = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    def __init__(self, allowed: Iterable[str] = ()):
        self.allowed = tuple(allowed)

    def connect_tcp(self, host: str, port: int, timeout: Optional[float] = None,
                    local_address: Optional[str] = None, socket_options=None) -> httpcore.NetworkStream:
        _remaining(timeout)
        try:
            addresses = checked_addresses(host, port, self.allowed)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"nom d'hôte introuvable : {host} ({exc})") from exc
        error: Exception = httpcore.ConnectError(f"aucune adresse pour {host}")
        for address in addresses:
            try:
                stream = super().connect_tcp(address, port, _remaining(timeout), local_address, socket_options)
            except httpcore.ConnectTimeout:
                raise _expired() or httpcore.ConnectTimeout("connect timed out") from None
            except httpcore.ConnectError as exc:
                error = exc
                continue
            return _DeadlineStream(stream)
        raise error
