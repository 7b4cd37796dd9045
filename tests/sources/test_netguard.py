"""Hostile servers: internal addresses refused (pure function of the address, then through the
client against loopback servers only), size caps on decoded bodies, total deadlines."""
import socket
import time

import pytest

from decp_monitor.pipeline.refresh import FILESIZE_MARGIN, download_limit
from decp_monitor.sources.http import (
    MB,
    AddressRefused,
    FetchError,
    FileTooLarge,
    HttpSettings,
    PoliteClient,
    allow_api_host,
)
from decp_monitor.sources.netguard import BlockedAddress, checked_addresses, refusal_reason
from tests.udata_server import gzip_bomb, start_plain_server

MEGALIS = "5f4f4f8910f4b55843deae51"

REFUSED = {
    "127.0.0.1": "bouclage", "127.255.0.9": "bouclage", "::1": "bouclage",
    "10.1.2.3": "réseau privé", "172.16.0.1": "réseau privé", "172.31.255.254": "réseau privé",
    "192.168.1.1": "réseau privé", "fc00::1": "réseau privé",
    "169.254.169.254": "métadonnées", "fd00:ec2::254": "métadonnées", "100.100.100.200": "métadonnées",
    "169.254.1.1": "lien-local", "fe80::1": "lien-local", "fe80::1%eth0": "lien-local",
    "224.0.0.1": "multidiffusion", "ff02::1": "multidiffusion",
    "0.0.0.0": "non spécifiée", "::": "non spécifiée",
    "100.64.0.1": "réservée", "192.0.2.1": "réseau privé", "240.0.0.1": "réseau privé",
    "::ffff:127.0.0.1": "bouclage", "::ffff:10.0.0.1": "réseau privé", "::ffff:169.254.169.254": "métadonnées",
    "64:ff9b::7f00:1": "bouclage", "2002:a00:1::": "réseau privé",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "réseau privé",  # Teredo, client 10.0.0.1
}


@pytest.mark.parametrize("address,why", sorted(REFUSED.items()))
def test_internal_addresses_are_refused(address, why):
    reason = refusal_reason(address)
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "193.51.24.1", "2606:4700::1111", "2a00:1450:4007::64"])
def test_public_addresses_pass(address):
    assert refusal_reason(address) is None


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1", "017700000001", "localhost"])
def test_numeric_spellings_are_checked_after_resolution(host):
    # Whatever spelling the system resolver turns into 127.0.0.1 is refused (none is contacted).
    try:
        addresses = checked_addresses(host, 80)
    except socket.gaierror:
        return  # the resolver does not take this spelling: nothing to connect to either
    except BlockedAddress as exc:
        assert "bouclage" in str(exc) and exc.host == host
        return
    raise AssertionError(f"{host} resolved to {addresses} without refusal")


def test_one_internal_address_among_public_ones_refuses_the_host():
    def resolve(host, port, type=0):
        return [(socket.AF_INET, type, 6, "", (a, port)) for a in ("8.8.8.8", "10.0.0.7")]

    with pytest.raises(BlockedAddress) as error:
        checked_addresses("mixed.example", 443, resolve=resolve)
    assert "10.0.0.7" in str(error.value)
    assert checked_addresses("Mixed.Example.", 443, allowed=("mixed.example",), resolve=resolve) == ["8.8.8.8", "10.0.0.7"]


def test_the_refresh_allows_its_api_host_and_the_setting(monkeypatch):
    monkeypatch.setenv("DECP_ALLOWED_HOSTS", "mirror.internal, Other.Host")
    settings = allow_api_host(HttpSettings(allowed_hosts=("x.test",)), "http://127.0.0.1:8080/api")
    assert settings.allowed_hosts == ("x.test", "mirror.internal", "other.host", "127.0.0.1")


def client(**overrides):
    options = dict(backoff_base=0.001, backoff_max=0.01, read_timeout=0.5, connect_timeout=0.5, retries=2)
    options.update(overrides)
    return PoliteClient(HttpSettings(**options), sleep=lambda s: None)


def test_loopback_is_refused_unless_allowed_and_nothing_is_fetched(small_udata_server, tmp_path):
    url = f"{small_udata_server.api_base}/1/datasets/{MEGALIS}/"
    with client() as http, pytest.raises(AddressRefused) as error:
        http.get_json(url)
    assert "bouclage" in error.value.message and error.value.status is None
    assert small_udata_server.log == []
    with client(allowed_hosts=("127.0.0.1",)) as http:
        assert http.get_json(url)["id"] == MEGALIS


def test_a_redirect_to_another_internal_host_is_refused_on_that_hop(small_udata_server, tmp_path):
    internal, stop = start_plain_server("127.0.0.2")
    try:
        small_udata_server.fault("/files/secret", "redirect", location=internal.base_url + "/latest/meta-data")
        dest = tmp_path / "f"
        with client(allowed_hosts=("127.0.0.1",)) as http, pytest.raises(AddressRefused) as error:
            http.download(small_udata_server.base_url + "/files/secret", dest)
        assert "127.0.0.2" in error.value.message
        assert internal.paths == [] and not dest.exists() and list(tmp_path.iterdir()) == []
        assert len(small_udata_server.requests("/files/secret")) == 1  # refused: not retried
    finally:
        stop()


def test_gzip_bomb_api_answer_stops_at_the_cap(small_udata_server):
    small_udata_server.fault("/api/1/datasets/", "gzip_bomb", size=32 * MB)
    gzip_bomb(32 * MB)  # built before the request, not while the client waits
    started = time.monotonic()
    with client(allowed_hosts=("127.0.0.1",), max_api_bytes=4 * MB) as http, pytest.raises(FetchError) as error:
        http.get_json(f"{small_udata_server.api_base}/1/datasets/")
    assert "trop volumineuse" in error.value.message and time.monotonic() - started < 5
    assert len(small_udata_server.requests("/api/1/datasets/")) == 1


def test_gzip_bomb_resource_stops_at_its_catalogue_size(small_udata_server, tmp_path):
    small_udata_server.fault("/files/bomb.json", "gzip_bomb", size=96 * MB)
    gzip_bomb(96 * MB)
    resource = {"filesize": 1000, "url": small_udata_server.base_url + "/files/bomb.json"}
    limit, why = download_limit(resource, 1024 * MB)
    assert limit == 1000 + FILESIZE_MARGIN and "catalogue" in why
    with client(allowed_hosts=("127.0.0.1",)) as http, pytest.raises(FileTooLarge) as error:
        http.download(resource["url"], tmp_path / "bomb", max_bytes=limit, why=why)
    assert f"limite {limit} octets" in error.value.message and "selon le catalogue" in error.value.message
    assert list(tmp_path.iterdir()) == []
    assert download_limit({"filesize": None}, 1024 * MB) == (1024 * MB, "")
    assert download_limit({"filesize": 900 * MB}, 1024 * MB) == (1024 * MB, "")


def test_a_dripping_answer_is_cut_at_the_total_deadline(small_udata_server, tmp_path):
    # One byte every 0.1 s never trips a 0.5 s read timeout: only the total deadline ends it.
    small_udata_server.fault("/api/1/datasets/", "drip", delay=0.1)
    started = time.monotonic()
    with client(allowed_hosts=("127.0.0.1",), api_deadline=1.0) as http, pytest.raises(FetchError) as error:
        http.get_json(f"{small_udata_server.api_base}/1/datasets/")
    elapsed = time.monotonic() - started
    assert "délai total de 1 s dépassé" in error.value.message and elapsed < 2.5, elapsed
    assert len(small_udata_server.requests("/api/1/datasets/")) == 1  # not retried: it would drip again
    resource = small_udata_server.by_id(MEGALIS)["resources"][0]
    path = small_udata_server.file_path(resource["id"])
    small_udata_server.fault(path, "drip", delay=0.05)
    started = time.monotonic()
    with client(allowed_hosts=("127.0.0.1",), download_deadline=1.0) as http, pytest.raises(FetchError) as error:
        http.download(small_udata_server.base_url + path, tmp_path / "f")
    assert "délai total" in error.value.message and time.monotonic() - started < 2.5
    assert list(tmp_path.iterdir()) == []


def test_refresh_refuses_catalogue_urls_to_internal_hosts_and_keeps_nothing_of_them(small_udata_server, tmp_path):
    from decp_monitor.store.versions import Store
    from tests.test_refresh import one, refresh

    server = small_udata_server
    internal, stop = start_plain_server("127.0.0.2")
    try:
        direct, redirected, kept = server.by_id(MEGALIS)["resources"][:3]
        direct["url"] = internal.base_url + "/token.json"
        server.fault(server.file_path(redirected["id"]), "redirect", location=internal.base_url + "/admin.json")
        store = Store(tmp_path)
        summary = refresh(store, server)
    finally:
        stop()
    assert internal.paths == []  # nothing fetched from the internal host, first hop or redirect
    failed = dict(one(store, "SELECT resource_id, message FROM findings WHERE code = 'download_failed'"))
    assert set(failed) == {direct["id"], redirected["id"]}
    assert all("adresse refusée" in m and "127.0.0.2" in m and "bouclage" in m for m in failed.values())
    cached = {p.name for p in store.cache_dir.iterdir()}
    assert not any(direct["id"] in name or redirected["id"] in name for name in cached)
    assert any(kept["id"] in name for name in cached)  # the API's own host is allowed
    assert one(store, "SELECT count(*) FROM findings WHERE message LIKE '%INTERNAL-TOKEN%' "
                      "OR value LIKE '%INTERNAL-TOKEN%'") == [(0,)]
    assert summary.failed == 2 and summary.version
