"""The polite client against the real test server: retries, Retry-After, faults, size caps."""
import hashlib

import pytest

from decp_monitor.sources.http import (
    USER_AGENT,
    BudgetExhausted,
    FetchError,
    FileTooLarge,
    HttpSettings,
    PoliteClient,
    parse_retry_after,
)

MEGALIS = "5f4f4f8910f4b55843deae51"


def client(waits=None, **overrides):
    # The test server is on loopback: allowed explicitly (tests/sources/test_netguard.py shows the refusal).
    options = dict(backoff_base=0.001, backoff_max=0.01, read_timeout=0.5, connect_timeout=0.5, retries=2,
                   retry_after_cap=5.0, allowed_hosts=("127.0.0.1",))
    options.update(overrides)
    return PoliteClient(HttpSettings(**options), sleep=(waits.append if waits is not None else (lambda s: None)))


def first_file(server):
    resource = server.by_id(MEGALIS)["resources"][0]
    return resource["id"], server.base_url + server.file_path(resource["id"])


def test_user_agent_names_the_tool(small_udata_server):
    with client() as http:
        http.get_json(f"{small_udata_server.api_base}/1/datasets/{MEGALIS}/")
    assert small_udata_server.log[-1].user_agent == USER_AGENT
    assert USER_AGENT.startswith("decp-monitor/") and "github.com/decp-monitor" in USER_AGENT


def test_500_is_retried_then_succeeds(small_udata_server):
    path = f"/api/1/datasets/{MEGALIS}/"
    small_udata_server.fault(path, "status", status=503, times=2)
    with client() as http:
        obj = http.get_json(small_udata_server.base_url + path)
    assert obj["id"] == MEGALIS
    assert [r.fault for r in small_udata_server.requests(path)] == ["status", "status", None]


def test_500_forever_gives_up_after_the_retries(small_udata_server):
    path = f"/api/1/datasets/{MEGALIS}/"
    small_udata_server.fault(path, "status", status=500)
    with client() as http, pytest.raises(FetchError) as error:
        http.get_json(small_udata_server.base_url + path)
    assert error.value.status == 500 and "3 tentatives" in error.value.message
    assert len(small_udata_server.requests(path)) == 3


def test_404_is_not_retried(small_udata_server):
    with client() as http, pytest.raises(FetchError) as error:
        http.get_json(f"{small_udata_server.api_base}/1/datasets/nope/")
    assert error.value.status == 404
    assert len(small_udata_server.requests("/api/1/datasets/nope/")) == 1


def test_429_retry_after_is_honoured_and_capped(small_udata_server):
    path = f"/api/1/datasets/{MEGALIS}/"
    small_udata_server.fault(path, "status", status=429, retry_after="2", times=1)
    waits = []
    with client(waits) as http:
        http.get_json(small_udata_server.base_url + path)
    assert waits == [2.0]
    small_udata_server.fault(path, "status", status=429, retry_after="3600", times=1)
    waits.clear()
    with client(waits) as http:
        http.get_json(small_udata_server.base_url + path)
    assert waits == [5.0]  # retry_after_cap


def test_backoff_is_exponential_with_jitter():
    http = client(backoff_base=1.0, backoff_max=100.0)
    delays = [http._delay(attempt, None) for attempt in range(4)]
    for attempt, delay in enumerate(delays):
        assert 2 ** attempt / 2 <= delay <= 2 ** attempt
    assert http._delay(20, None) <= 100.0
    http.close()


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60.0
    assert parse_retry_after("bientôt") is None and parse_retry_after(None) is None


def test_timeout_is_retried(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    small_udata_server.fault(small_udata_server.file_path(rid), "timeout", delay=1.0, times=1)
    with client(read_timeout=0.2) as http:
        download = http.download(url, tmp_path / "f")
    assert download.attempts == 2
    assert download.sha1 == hashlib.sha1(small_udata_server.files[rid].read_bytes()).hexdigest()


def test_connection_reset_is_retried(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    small_udata_server.fault(small_udata_server.file_path(rid), "reset", times=1)
    with client() as http:
        download = http.download(url, tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == small_udata_server.files[rid].read_bytes()
    assert download.attempts == 2


def test_truncated_body_is_never_kept(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    small_udata_server.fault(small_udata_server.file_path(rid), "truncate")
    with client() as http, pytest.raises(FetchError) as error:
        http.download(url, tmp_path / "f")
    assert error.value.retryable
    assert not (tmp_path / "f").exists() and not list(tmp_path.iterdir())  # no partial file left
    assert len(small_udata_server.requests(small_udata_server.file_path(rid))) == 3


def test_redirect_loop_fails_without_retry(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    path = small_udata_server.file_path(rid)
    small_udata_server.fault(path, "redirect_loop")
    with client(max_redirects=3) as http, pytest.raises(FetchError) as error:
        http.download(url, tmp_path / "f")
    assert "redirections" in error.value.message
    assert len(small_udata_server.requests(path)) == 4  # the request and 3 redirects, once


def test_announced_huge_file_is_refused_before_reading(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    small_udata_server.fault(small_udata_server.file_path(rid), "huge")
    with client() as http, pytest.raises(FileTooLarge) as error:
        http.download(url, tmp_path / "f", max_bytes=1024 * 1024)
    assert error.value.size == 20 * 1024**3
    assert http.stats.bytes == 0 and not list(tmp_path.iterdir())


def test_unannounced_huge_file_stops_at_the_cap(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    small_udata_server.fault(small_udata_server.file_path(rid), "huge_unannounced")
    with client() as http, pytest.raises(FileTooLarge):
        http.download(url, tmp_path / "f", max_bytes=256 * 1024)
    assert not list(tmp_path.iterdir())


def test_accept_stops_a_download_after_its_head(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    small_udata_server.fault(small_udata_server.file_path(rid), "huge_unannounced")  # 128 MB on offer
    heads = []
    with client() as http:
        download = http.download(url, tmp_path / "f", accept=lambda head: heads.append(head) or False,
                                 accept_after=1024)
    assert not download.complete
    assert heads[0].startswith(b"<marches>") and 1024 <= download.size < 1024 * 1024


def test_error_budget_stops_asking_a_failing_host(small_udata_server):
    small_udata_server.fault("/api/*", "status", status=503)
    with client(error_budget=4, retries=2) as http:
        with pytest.raises(FetchError):
            http.get_json(f"{small_udata_server.api_base}/1/datasets/a/")  # 3 failed attempts
        with pytest.raises(BudgetExhausted):
            http.get_json(f"{small_udata_server.api_base}/1/datasets/b/")  # 1 more, then the budget is spent
        with pytest.raises(BudgetExhausted) as error:
            http.get_json(f"{small_udata_server.api_base}/1/datasets/c/")
    assert "budget d'erreurs" in error.value.message
    assert len(small_udata_server.requests("/api/")) == 4
    assert small_udata_server.requests("/api/1/datasets/c/") == []


def test_unreachable_host_is_a_fetch_error():
    with client(retries=1) as http, pytest.raises(FetchError) as error:
        http.get_json("http://127.0.0.1:9/api/1/datasets/")
    assert error.value.status is None and "connexion" in error.value.message


def test_unsupported_scheme_is_a_fetch_error(tmp_path):
    with client() as http, pytest.raises(FetchError):
        http.download("ftp://example.org/decp.xml", tmp_path / "f")


def test_429_pauses_every_thread_asking_that_host(small_udata_server, tmp_path):
    """The host's "slow down" holds back the other downloads too, not just the refused one."""
    import threading
    import time

    server = small_udata_server
    resources = server.by_id(MEGALIS)["resources"][:5]
    refused = server.file_path(resources[0]["id"])
    server.fault(refused, "status", status=429, retry_after="1", times=1)
    http = PoliteClient(HttpSettings(retry_after_cap=5.0, read_timeout=2.0, allowed_hosts=("127.0.0.1",)),
                        sleep=time.sleep)
    with http:
        first = threading.Thread(target=http.download, args=(server.base_url + refused, tmp_path / "0"))
        first.start()
        deadline = time.monotonic() + 30
        # the client has paused the host once it counts the retry (the server's log of the 429
        # comes earlier: the others, started then, could go out before the pause: 1 run in 70)
        while http.stats.retries < 1:
            assert time.monotonic() < deadline, "the first download was never refused"
            time.sleep(0.01)
        others = [threading.Thread(target=http.download, args=(server.base_url + server.file_path(r["id"]),
                                                               tmp_path / str(n)))
                  for n, r in enumerate(resources[1:], 1)]
        for thread in others:
            thread.start()
        for thread in [first, *others]:
            thread.join()
    refusal = next(r.at for r in server.requests(refused) if r.fault == "status")
    later = [r.at for r in server.requests("/files/") if r.fault is None]
    assert len(later) == 5 and len(list(tmp_path.iterdir())) == 5  # every file fetched in the end
    assert min(later) - refusal >= 0.95  # nobody asked during the second the host asked for
    assert (http.stats.throttled, http.stats.host_waits) == (1, 4)


def test_throttling_spends_neither_the_retries_nor_the_error_budget(small_udata_server, tmp_path):
    rid, url = first_file(small_udata_server)
    small_udata_server.fault(small_udata_server.file_path(rid), "status", status=429, retry_after="1", times=6)
    with client(retries=1, error_budget=2, retry_after_cap=0.0) as http:
        download = http.download(url, tmp_path / "f")
        assert download.attempts == 7 and not http.budget_exhausted(url)
    small_udata_server.fault(small_udata_server.file_path(rid), "status", status=429)
    with client(rate_limit_retries=3, retry_after_cap=0.0) as http, pytest.raises(FetchError) as error:
        http.download(url, tmp_path / "g")
    assert error.value.status == 429 and "4 tentatives" in error.value.message
