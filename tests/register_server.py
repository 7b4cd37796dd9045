"""A register API server on 127.0.0.1 replaying the real recorded responses of real/annuaire/.

- `GET /search?q=…` (API Recherche d'entreprises): the recorded body for a SIRET query
  (48744469700428, 88087814500015), the recorded SIREN answer when the SIRET's SIREN was recorded
  (Ville de Paris, DINUM, a lycée, a closed head office in La Réunion, a non-diffusible unit,
  La Poste), each recorded result of the collectivités search for its matching SIRET (EPCIs and
  départements, in the API's envelope), and the recorded "no result" 200 for anything else.
  `per_page` above 25 gets the API's 400. The site's fixture wrapper ({searchTerms, result}) is
  removed: the API sends the body alone.
- `GET /v3/insee/sirene/etablissements/{siret}` (API Entreprise): the recorded bodies, 404 with
  the recorded error payload otherwise; 401 without a bearer token, 422 without recipient,
  context and object (as the real API).

Faults: `storm(n, retry_after)` answers the next n requests 429 with Retry-After; `outage()`
answers 503 to everything; `delay` slows every answer. Every request is logged (`log`).
"""
from __future__ import annotations

import json
import textwrap
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.loopback import QuietHandler, running, serve_in_thread

ANNUAIRE = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "annuaire"
RECHERCHE = ANNUAIRE / "recherche-entreprises"
ENTREPRISE = ANNUAIRE / "api-entreprise"
SIRET_FILES = {
    "48744469700428": "site_search_q-48744469700428_siret-match.json",
    "88087814500015": "site_search_q-88087814500015_siret-closed-company.json",
}
SIREN_FILES = {
    "217500016": "site_search_q-217500016_ville-de-paris.json",
    "130025265": "site_search_q-130025265_dinum.json",
    "198100125": "site_search_q-198100125_lycee-jean-jaures.json",
    "351556394": "site_search_q-351556394_ul-active-siege-closed.json",
    "300025764": "site_search_q-300025764_non-diffusible.json",
    "356000000": "site_search_q-356000000_la-poste-siren.json",
}
COLLECTIVITES = "site_search_est_collectivite_territoriale-true_est_rge-true.json"
NO_RESULT = "site_search_q-12345678900003_no-result.json"


def recorded(name: str) -> dict:
    body = json.loads((RECHERCHE / name).read_text(encoding="utf-8"))
    return body["result"]


def entreprise_404() -> dict:
    text = (ENTREPRISE / "siade-staging_insee_etablissements_404.yaml").read_text(encoding="utf-8")
    return json.loads(textwrap.dedent(text.split("payload: |-\n", 1)[1]))


@dataclass
class Logged:
    path: str
    query: dict
    status: int
    at: float


class RegisterServer:
    def __init__(self):
        self.log: list[Logged] = []
        self.storm_left = 0
        self.retry_after = "1"
        self.down = False
        self.delay = 0.0
        self._lock = threading.Lock()
        self.search_bodies: dict[str, dict] = {}
        for siret, name in SIRET_FILES.items():
            self.search_bodies[siret] = recorded(name)
        collectivites = recorded(COLLECTIVITES)
        for result in collectivites["results"]:
            for establishment in result["matching_etablissements"]:
                self.search_bodies[establishment["siret"]] = {
                    "results": [result], "total_results": 1, "page": 1, "per_page": 1, "total_pages": 1}
        self.siren_bodies = {siren: recorded(name) for siren, name in SIREN_FILES.items()}
        self.no_result = recorded(NO_RESULT)
        self.entreprise = {p.name[-19:-5]: json.loads(p.read_text(encoding="utf-8"))
                           for p in ENTREPRISE.glob("proconnect_v3_etablissement_*.json")}
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def storm(self, n: int, retry_after: str = "1") -> None:
        self.storm_left, self.retry_after = n, retry_after

    def outage(self, down: bool = True) -> None:
        self.down = down

    def asked(self, path: str = "/search") -> list[str]:
        """The `q` (or the SIRET in the path) of each request to `path`, in order."""
        out = []
        for entry in self.log:
            if entry.path == "/search" and path == "/search":
                out.append(entry.query.get("q", [""])[0])
            elif path != "/search" and entry.path.startswith(path):
                out.append(entry.path.rsplit("/", 1)[1])
        return out

    def search(self, query: dict) -> tuple[int, dict]:
        per_page = int(query.get("per_page", ["10"])[0])
        if not 1 <= per_page <= 25:
            return 400, {"erreur": "Veuillez indiquer un paramètre `per_page` entre `1` et `25`, par défaut `10`."}
        q = query.get("q", [""])[0].strip()
        if q in self.search_bodies:
            return 200, self.search_bodies[q]
        if len(q) == 14 and q[:9] in self.siren_bodies:
            return 200, self.siren_bodies[q[:9]]
        return 200, self.no_result

    def entreprise_answer(self, siret: str, query: dict, headers) -> tuple[int, dict]:
        if not (headers.get("Authorization") or "").startswith("Bearer "):
            return 401, {"errors": [{"code": "00101", "title": "Interdit"}]}
        for name in ("recipient", "context", "object"):
            if not query.get(name):
                return 422, {"errors": [{"code": "00201", "title": "Entité non traitable",
                                         "detail": f"Le paramètre {name} est obligatoire"}]}
        if siret in self.entreprise:
            return 200, self.entreprise[siret]
        return 404, entreprise_404()


def _handler(server: RegisterServer):
    class Handler(QuietHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if server.delay:
                time.sleep(server.delay)
            headers = {}
            with server._lock:
                if server.down:
                    status, body = 503, {"erreur": "Service indisponible"}
                elif server.storm_left > 0:
                    server.storm_left -= 1
                    status, body = 429, {"erreur": "Trop de requêtes"}
                    headers["Retry-After"] = server.retry_after
                else:
                    status = None
            if status is None:
                if parts.path == "/search":
                    status, body = server.search(query)
                elif parts.path.startswith("/v3/insee/sirene/etablissements/"):
                    status, body = server.entreprise_answer(parts.path.rsplit("/", 1)[1], query, self.headers)
                else:
                    status, body = 404, {"erreur": "introuvable"}
            server.log.append(Logged(parts.path, query, status, time.monotonic()))
            self._send(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json", headers)

    return Handler


def start_register_server():
    server = RegisterServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    return server, serve_in_thread(httpd)


@pytest.fixture
def register_server():
    if not ANNUAIRE.is_dir():
        pytest.skip(f"recorded register responses not found at {ANNUAIRE}")
    with running(start_register_server) as server:
        yield server

