"""A real udata-compatible HTTP server on 127.0.0.1 for the crawler's tests.

It serves the real dataset responses of ../shared/real/datagouv-api/ (GET /api/1/datasets/{id}/)
wrapped in udata's paginated envelope for tag searches (small page sizes force several pages),
pages large resource lists through /api/2/datasets/{id}/resources/, and serves real DECP files
and declaration CSVs of ../shared/real/ as the resources (their URLs are rewritten to point here).

No real declaration dataset response exists in the corpus, so one dataset object is synthetic:
`DECLARATION_DATASET_ID`, tagged `decp`, whose resources are the real declaration CSVs.
Resources keep their real metadata (ids, checksums, dates); the file served for each is
picked deterministically from the real files of its format (see `UdataServer.files`).

Fault injection: `server.fault(path, kind, times=None, ...)` with kind in
timeout | status | reset | truncate | redirect_loop | huge | huge_unannounced | bad_gzip, and the
hostile ones: redirect (302 to `location`), drip (the whole answer, headers included, one byte
every `delay` seconds), gzip_bomb (`size` bytes of JSON-looking padding served gzip-compressed).
Every request is logged in `server.log` (method, path, query, user agent, arrival time).
Rate limit like the real platform: `server.rate_limit = N` answers 429 with `Retry-After: 1` to
file requests beyond N in the last second (logged with fault "rate_limited").
`start_plain_server(host)` is "another host" (127.0.0.2): it answers a secret to any GET and
logs the paths asked, for the tests that prove it is never contacted.

    def test_x(udata_server):            # fixture below, registered by tests/conftest.py
        api = udata_server.api_base
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.loopback import QuietHandler, running, serve_in_thread

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
API_DIR = REAL / "datagouv-api"

DATASET_FILES = (
    "dataset_aife_5bd789ee8b4c4155bd9a0770.json",
    "dataset_aife_5c3d0d6b8b4c41333775f45a.json",
    "dataset_aife_5cc8be59634f412a53e309e8.json",
    "dataset_e-marchespublics_5c0a7845634f4139b2ee8883.json",
    "dataset_megalis-bretagne_5f4f4f8910f4b55843deae51.json",
    "dataset_megalis-bretagne_PARTIAL_2024-05.json",  # no id: a degenerate search hit
    "dataset_pes_5bd0b6fd8b4c413d0801dc57.json",  # no tags: reachable by id only
    "datagouv_client_dataset_metadata.json",  # catalogue exports (CSV, not declarations), no tags
)
SMALL_CATALOGUE = (
    "dataset_megalis-bretagne_5f4f4f8910f4b55843deae51.json",
    "dataset_pes_5bd0b6fd8b4c413d0801dc57.json",
)
DECLARATION_DATASET_ID = "5cd0declaration0000000001"
DECLARATION_FILES = (
    "etalab_decp-dpa_aggregation.csv",
    "schema-decp-dpa_exemple-valide.csv",
    "atexo-decp-scraper_plateformes.csv",  # a CSV that is not a declaration
)
# Files above this size are left out of the pools: the tests stay fast.
MAX_POOL_FILE = 20_000


def _pool(folder: str, suffix: str) -> list[Path]:
    return sorted(
        p for p in (REAL / folder).rglob(f"*{suffix}")
        if p.is_file() and p.stat().st_size <= MAX_POOL_FILE
    )


@dataclass
class Fault:
    kind: str
    times: Optional[int] = None  # None: every request; else the first N requests only
    status: int = 500
    retry_after: Optional[str] = None
    delay: float = 1.0
    hits: int = 0
    location: str = ""
    size: int = 0


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict
    user_agent: str
    fault: Optional[str] = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class UdataServer:
    datasets: list[dict]  # served objects, URLs rewritten (resources always a full list)
    max_page_size: int = 2
    max_resource_page_size: int = 100
    inline_resources_max: int = 100
    files: dict[str, Path] = field(default_factory=dict)  # resource id -> real file served
    log: list[LoggedRequest] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    rate_limit: Optional[int] = None  # file requests per second; more are answered 429
    _served: list[float] = field(default_factory=list)  # times of the file requests served, last second

    @property
    def api_base(self) -> str:
        return self.base_url + "/api"

    # -- configuration -------------------------------------------------------------------------

    def fault(self, path: str, kind: str, **options) -> Fault:
        """Inject a fault on an exact path (no query), or a prefix when it ends with '*'."""
        fault = Fault(kind, **options)
        self.faults[path] = fault
        return fault

    def file_path(self, resource_id: str) -> str:
        for obj in self.datasets:
            for res in obj["resources"]:
                if res.get("id") == resource_id:
                    return urlsplit(res["url"]).path
        raise KeyError(resource_id)

    def requests(self, prefix: str) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def by_id(self, dataset_id: str) -> dict:
        return next(o for o in self.datasets if o.get("id") == dataset_id)

    # -- envelope ------------------------------------------------------------------------------

    def _summary(self, obj: dict) -> dict:
        """The object as a listing returns it: large resource lists become a v2-style link."""
        resources = obj["resources"]
        if len(resources) <= self.inline_resources_max or not obj.get("id"):
            return obj
        href = f"{self.api_base}/2/datasets/{obj['id']}/resources/?page=1&page_size={self.max_resource_page_size}"
        return dict(obj, resources={"rel": "subsection", "href": href, "type": "GET", "total": len(resources)})

    def envelope(self, items: list, page: int, page_size: int, path: str, params: dict) -> dict:
        start = (page - 1) * page_size
        chunk = items[start:start + page_size]

        def link(n: int) -> str:
            return f"{self.base_url}{path}?{urlencode(dict(params, page=n, page_size=page_size))}"

        return {
            "data": chunk,
            "page": page,
            "page_size": page_size,
            "total": len(items),
            "next_page": link(page + 1) if start + page_size < len(items) else None,
            "previous_page": link(page - 1) if page > 1 else None,
        }


def build_catalogue(base_url: str, dataset_files=DATASET_FILES, with_declarations: bool = True
                    ) -> tuple[list[dict], dict[str, Path]]:
    pools = {
        "xml": _pool("decp-xml", ".xml"),
        "json": _pool("decp-json", ".json"),
        "csv": sorted((API_DIR).glob("hydra_*.csv")),
    }
    files: dict[str, Path] = {}
    datasets = []
    for name in dataset_files:
        obj = json.loads((API_DIR / name).read_text(encoding="utf-8"))
        datasets.append(obj)
    if with_declarations:
        datasets.append(_declaration_dataset())
    served = []
    for obj in datasets:
        obj = copy.deepcopy(obj)
        for index, res in enumerate(obj.get("resources") or []):
            rid = res["id"]
            fmt = (res.get("format") or "").lower()
            mime = res.get("mime") or ""
            if rid in files or res.get("_file"):
                path = Path(res.pop("_file", None) or files[rid])
            elif fmt == "csv":
                path = pools["csv"][index % len(pools["csv"])]
            elif fmt == "json":
                path = pools["json"][index % len(pools["json"])]
            elif fmt == "xml" or "xml" in mime:
                path = pools["xml"][index % len(pools["xml"])]
            else:
                path = None
            res.pop("_file", None)
            tail = urlsplit(res.get("url") or "").path.rsplit("/", 1)[-1] or "file"
            res["url"] = f"{base_url}/files/{rid}/{tail}"
            if path is not None:
                files.setdefault(rid, path)
        served.append(obj)
    return served, files


def _declaration_dataset() -> dict:
    resources = []
    for index, name in enumerate(DECLARATION_FILES):
        path = REAL / "declarations" / name
        data = path.read_bytes()
        resources.append({
            "id": f"00000000-dec1-4000-8000-{index:012d}",
            "title": name,
            "url": f"https://static.data.gouv.fr/resources/declaration/{name}",
            "filetype": "file", "type": "main", "format": "csv", "mime": "text/csv",
            "filesize": len(data),
            "checksum": {"type": "sha1", "value": hashlib.sha1(data).hexdigest()},
            "created_at": "2019-05-01T10:00:00+00:00", "last_modified": "2019-05-02T10:00:00+00:00",
            "schema": None, "extras": {},
            "_file": str(path),
        })
    return {
        "id": DECLARATION_DATASET_ID,
        "title": "Déclaration de profil d'acheteur (jeu synthétique autour de fichiers réels)",
        "slug": "declaration-profil-acheteur", "page": "https://www.data.gouv.fr/fr/datasets/declaration/",
        "tags": ["decp"], "extras": {}, "license": "fr-lo", "frequency": "unknown",
        "organization": {"id": "org-decl", "name": "Plateforme"}, "owner": None,
        "created_at": "2019-05-01T10:00:00+00:00", "last_modified": "2019-05-02T10:00:00+00:00",
        "last_update": "2019-05-02T10:00:00+00:00", "archived": None, "deleted": None, "private": False,
        "resources": resources,
    }


def _make_handler(server: UdataServer):
    class Handler(QuietHandler):  # the request log is `server.log`
        def do_GET(self):
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            entry = LoggedRequest("GET", parts.path, query, self.headers.get("User-Agent", ""))
            with server.lock:
                server.log.append(entry)
                fault = self._fault(parts.path)
                if fault is not None:
                    fault.hits += 1
                    entry.fault = fault.kind
                elif server.rate_limit is not None and parts.path.startswith("/files/"):
                    now = time.monotonic()
                    server._served[:] = [t for t in server._served if t > now - 1.0]
                    if len(server._served) >= server.rate_limit:
                        fault = Fault("status", status=429, retry_after="1")
                        entry.fault = "rate_limited"
                    else:
                        server._served.append(now)
            try:
                if fault is not None and self._inject(fault, parts.path):
                    return
                self._route(parts.path, query)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _fault(self, path: str) -> Optional[Fault]:
            for key, fault in server.faults.items():
                matches = path.startswith(key[:-1]) if key.endswith("*") else path == key
                if matches and (fault.times is None or fault.hits < fault.times):
                    return fault
            return None

        def _inject(self, fault: Fault, path: str) -> bool:
            """Apply the fault; True when the response is done."""
            kind = fault.kind
            if kind == "timeout":
                time.sleep(fault.delay)
                return False  # then answer normally (the client has given up meanwhile)
            if kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                self._send(fault.status, b'{"message": "injected"}', "application/json", headers)
                return True
            if kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return True
            if kind == "truncate":
                body = self._body(path) or b"x" * 1000
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) + 5000))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return True
            if kind == "bad_gzip":  # a body that is not what its Content-Encoding says
                body = self._body(path) or b"x" * 1000
                self._send(200, body, "application/json", {"Content-Encoding": "gzip"})
                return True
            if kind == "redirect":
                self.send_response(302)
                self.send_header("Location", fault.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            if kind == "drip":
                body = self._body(path) or b'{"data": [], "next_page": null}'
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                        "Connection: close\r\n\r\n").encode()
                self.close_connection = True
                for byte in head + body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(fault.delay)
                return True
            if kind == "gzip_bomb":
                bomb = gzip_bomb(fault.size)
                self._send(200, bomb, "application/json", {"Content-Encoding": "gzip"})
                return True
            if kind == "redirect_loop":
                self.send_response(302)
                self.send_header("Location", path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            if kind in ("huge", "huge_unannounced"):
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                if kind == "huge":
                    self.send_header("Content-Length", str(20 * 1024**3))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                block = b"<marches>" + b" " * 65527
                for _ in range(2000):  # up to 128 MB unless the client hangs up first
                    self.wfile.write(block)
                return True
            raise ValueError(f"unknown fault {kind}")

        def _body(self, path: str) -> Optional[bytes]:
            if path.startswith("/files/"):
                rid = path.split("/")[2]
                if rid in server.files:
                    return server.files[rid].read_bytes()
            return None

        def _route(self, path: str, query: dict) -> None:
            segments = [s for s in path.split("/") if s]
            if segments[:3] == ["api", "1", "datasets"] and len(segments) == 3:
                tag = query.get("tag")
                hits = [server._summary(o) for o in server.datasets if tag in (o.get("tags") or [])]
                return self._json(server.envelope(hits, *self._paging(query, server.max_page_size), path,
                                                  {"tag": tag}))
            if segments[:3] == ["api", "1", "datasets"] and len(segments) == 4:
                obj = next((o for o in server.datasets if o.get("id") == segments[3]), None)
                if obj is None:
                    return self._send(404, b'{"message": "Not found"}', "application/json")
                return self._json(obj)
            if segments[:3] == ["api", "2", "datasets"] and len(segments) == 5 and segments[4] == "resources":
                obj = next((o for o in server.datasets if o.get("id") == segments[3]), None)
                if obj is None:
                    return self._send(404, b'{"message": "Not found"}', "application/json")
                return self._json(server.envelope(obj["resources"], *self._paging(query, server.max_resource_page_size),
                                                  path, {}))
            body = self._body(path)
            if body is not None:
                kind = "text/csv" if path.endswith(".csv") else "application/octet-stream"
                return self._send(200, body, kind)
            return self._send(404, b"not found", "text/plain")

        def _paging(self, query: dict, cap: int) -> tuple[int, int]:
            try:
                page = max(1, int(query.get("page", 1)))
                size = max(1, min(cap, int(query.get("page_size", cap))))
            except ValueError:
                page, size = 1, cap
            return page, size

        def _json(self, obj) -> None:
            self._send(200, json.dumps(obj).encode(), "application/json")

    return Handler


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """`size` bytes once decompressed (a JSON list of spaces, never closed), about size/1000 on the wire."""
    block = b" " * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    out = compressor.compress(b'{"data": [')
    for _ in range(size // len(block)):
        out += compressor.compress(block)
    return out + compressor.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):  # injected resets are expected
        pass


def start_server(dataset_files=DATASET_FILES, with_declarations: bool = True, **options):
    """(UdataServer, stop) — the server answers until stop() is called."""
    httpd = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    datasets, files = build_catalogue(base_url, dataset_files, with_declarations)
    server = UdataServer(datasets=datasets, files=files, base_url=base_url, **options)
    httpd.RequestHandlerClass = _make_handler(server)
    return server, serve_in_thread(httpd, poll_interval=0.05)


@dataclass
class PlainServer:
    base_url: str
    paths: list[str] = field(default_factory=list)
    secret: bytes = b"INTERNAL-TOKEN-7f3a9c"


def start_plain_server(host: str = "127.0.0.2"):
    """(PlainServer, stop): an internal service on another loopback address."""
    httpd = _Server((host, 0), BaseHTTPRequestHandler)
    server = PlainServer(base_url=f"http://{host}:{httpd.server_address[1]}")

    class Handler(QuietHandler):
        def do_GET(self):
            server.paths.append(self.path)
            self._send(200, b'{"marches": [{"id": "' + server.secret + b'"}]}', "application/json")

    httpd.RequestHandlerClass = Handler
    return server, serve_in_thread(httpd, poll_interval=0.05)


@pytest.fixture
def udata_server():
    """The whole real catalogue (≈1 600 resources)."""
    if not API_DIR.is_dir():
        pytest.skip(f"real sample files not found at {REAL}")
    with running(start_server) as server:
        yield server


@pytest.fixture
def small_udata_server():
    """Mégalis (11 XML files), PES (by id only) and the declaration CSVs: for fault tests."""
    if not API_DIR.is_dir():
        pytest.skip(f"real sample files not found at {REAL}")
    with running(start_server, SMALL_CATALOGUE) as server:
        yield server
