import datetime as dt

from decp_monitor.sources.cache import DownloadCache, cache_key
from decp_monitor.sources.http import Download

MODIFIED = dt.datetime(2024, 6, 11, 2, 0, 57)


def resource(**overrides):
    row = {"resource_id": "6e392c4b-c7e1-422e-b2c3-74c0eab36d52", "url": "https://h/decp-2024.xml",
           "checksum_value": "abc", "last_modified": MODIFIED, "filesize": 5}
    row.update(overrides)
    return row


def put(cache, res, content=b"hello"):
    path = cache.path(res)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    cache.store(res, Download(res["url"], path, len(content), "sha", 200, res["url"]))


def test_unchanged_checksum_is_fresh_even_if_the_url_moved(tmp_path):
    cache = DownloadCache(tmp_path)
    put(cache, resource())
    assert cache.is_fresh(resource())
    assert cache.is_fresh(resource(url="https://h/other-upload/decp-2024.xml", last_modified=None))
    assert not cache.is_fresh(resource(checksum_value="def"))


def test_without_checksum_last_modified_and_size_decide(tmp_path):
    cache = DownloadCache(tmp_path)
    put(cache, resource(checksum_value=None))
    assert cache.is_fresh(resource(checksum_value=None))
    assert not cache.is_fresh(resource(checksum_value=None, last_modified=MODIFIED + dt.timedelta(days=1)))
    assert not cache.is_fresh(resource(checksum_value=None, filesize=6))
    assert not cache.is_fresh(resource(checksum_value=None, url="https://elsewhere/decp.xml"))


def test_nothing_known_means_download_again(tmp_path):
    cache = DownloadCache(tmp_path)
    bare = resource(checksum_value=None, last_modified=None, filesize=None)
    put(cache, bare)
    assert not cache.is_fresh(bare)
    assert cache.cached_file(bare) is not None  # still usable as a stale copy


def test_a_damaged_cache_file_is_not_fresh(tmp_path):
    cache = DownloadCache(tmp_path)
    put(cache, resource())
    cache.path(resource()).write_bytes(b"hel")  # cut by a crash
    assert not cache.is_fresh(resource())
    assert cache.cached_file(resource()) is None


def test_keys_from_the_network_cannot_escape_the_cache(tmp_path):
    assert cache_key("6e392c4b-c7e1-422e-b2c3-74c0eab36d52", None) == "6e392c4b-c7e1-422e-b2c3-74c0eab36d52"
    for hostile in ("../../etc/passwd", "a/b", "", None, "x" * 500):
        key = cache_key(hostile, "https://h/f.xml")
        assert "/" not in key and ".." not in key and key.startswith("h-")
    assert DownloadCache(tmp_path).path(resource(resource_id="../x")).parent == tmp_path
