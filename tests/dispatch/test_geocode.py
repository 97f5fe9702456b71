"""Geocoding through geopy's Nominatim against a local server that answers like
Nominatim: cached answers (found and not found), 422 for nothing found, 503
when the geocoder cannot be reached, and no job written when geocoding fails."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api import create_app
from dispatch.db import make_engine, migrate
from dispatch.errors import Invalid, Unavailable
from dispatch.geocode import CachedGeocoder, NominatimTarget, normalise_address
from dispatch.settings import Settings
from dispatch.tables import GeocodeRow
from tests.api.conftest import ADMIN, DISPATCHER

CATHEDRAL = "Unioninkatu 29, 00170 Helsinki"
PLACES = {
    CATHEDRAL: (60.1702, 24.9522),
    "Leppävaarankatu 3, 02600 Espoo": (60.2191, 24.8130),
}


class FakeNominatim:
    """A local HTTP server answering ``/search?q=...&format=json`` like Nominatim
    (a JSON array of places, ``[]`` for an unknown address); it records every
    request, and waits ``delay_s`` before answering when asked to."""

    def __init__(self, places: dict[str, tuple[float, float]] | None = None, delay_s: float = 0.0) -> None:
        self.places = {k.casefold(): v for k, v in (places or PLACES).items()}
        self.delay_s = delay_s
        self.requests: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append({"path": parts.path, "agent": self.headers.get("User-Agent", ""), **query})
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if not parts.path.endswith("/search") or query.get("format") != "json":
                    self.send_error(400, "expected /search?format=json")
                    return
                place = fake.places.get(query.get("q", "").casefold())
                found = [] if place is None else [{"lat": str(place[0]), "lon": str(place[1]), "display_name": "X"}]
                body = json.dumps(found).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def searches(self) -> int:
        return sum(1 for r in self.requests if r["path"].endswith("/search"))

    def __enter__(self) -> FakeNominatim:
        self.thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


def dead_url() -> str:
    """An http URL on a loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    with FakeNominatim() as fake:
        yield fake


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'geo.db'}")
    migrate(engine)
    return engine


def test_a_found_address_is_asked_once_and_then_read_from_the_database(
    engine: Engine, nominatim: FakeNominatim
) -> None:
    geocoder = CachedGeocoder(engine, nominatim.url, "dispatch-tests", timeout_s=2)
    place = geocoder(CATHEDRAL)
    assert (place.lat, place.lon) == PLACES[CATHEDRAL]
    assert nominatim.searches == 1
    sent = nominatim.requests[0]
    assert sent["q"] == CATHEDRAL and sent["format"] == "json" and sent["agent"] == "dispatch-tests"

    assert geocoder("  unioninkatu 29 ,00170   HELSINKI ") == place  # same address, other spelling
    fresh = CachedGeocoder(engine, nominatim.url, "dispatch-tests", timeout_s=2)  # cache is the table
    assert fresh(CATHEDRAL) == place
    assert nominatim.searches == 1
    with Session(engine) as session:
        row = session.get(GeocodeRow, normalise_address(CATHEDRAL))
        assert row is not None and row.lat == PLACES[CATHEDRAL][0]


def test_nothing_found_is_invalid_and_cached_too(engine: Engine, nominatim: FakeNominatim) -> None:
    geocoder = CachedGeocoder(engine, nominatim.url, "dispatch-tests", timeout_s=2)
    for _ in range(3):
        with pytest.raises(Invalid) as caught:
            geocoder("Olematon tie 404, Nowhere")
        assert caught.value.field == "address"
        assert caught.value.detail == "no place found for 'Olematon tie 404, Nowhere'"
    assert nominatim.searches == 1


def test_an_unreachable_geocoder_is_unavailable_and_not_cached(engine: Engine) -> None:
    url = dead_url()
    geocoder = CachedGeocoder(engine, url, "dispatch-tests", timeout_s=1)
    with pytest.raises(Unavailable) as caught:
        geocoder(CATHEDRAL)
    assert caught.value.status == 503 and caught.value.field == "address"
    assert caught.value.detail == f"the geocoder at {url} could not be reached; give a location or try later"
    with Session(engine) as session:
        assert session.get(GeocodeRow, normalise_address(CATHEDRAL)) is None


def test_a_geocoder_slower_than_the_timeout_is_unavailable(engine: Engine) -> None:
    with FakeNominatim(delay_s=1.5) as slow:
        geocoder = CachedGeocoder(engine, slow.url, "dispatch-tests", timeout_s=0.2)
        started = time.monotonic()
        with pytest.raises(Unavailable):
            geocoder(CATHEDRAL)
        assert time.monotonic() - started < 5


def test_the_geocoder_url_gives_scheme_host_port_and_path() -> None:
    assert NominatimTarget.parse("http://127.0.0.1:8089") == NominatimTarget("http", "127.0.0.1:8089")
    assert NominatimTarget.parse("https://geo.example.org/nominatim/") == NominatimTarget(
        "https", "geo.example.org/nominatim"
    )
    with pytest.raises(ValueError):
        NominatimTarget.parse("geo.example.org")
    engine = make_engine("sqlite://")
    public = CachedGeocoder.from_settings(Settings(), engine)
    assert public is not None and public.min_interval_s == 1.0  # the public server's usage policy
    assert public.nominatim.api == "https://nominatim.openstreetmap.org/search"
    assert CachedGeocoder.from_settings(Settings(geocoder_url=""), engine) is None


def test_a_self_hosted_geocoder_under_a_path_is_asked_there(engine: Engine, nominatim: FakeNominatim) -> None:
    geocoder = CachedGeocoder(engine, nominatim.url + "/nominatim", "dispatch-tests", timeout_s=2)
    geocoder(CATHEDRAL)
    assert nominatim.requests[0]["path"] == "/nominatim/search"


# --- through the API: PUT /v1/jobs with an address and no location ---------------------------------------------


def api_for(tmp_path: Path, geocoder_url: str) -> TestClient:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        admin_token=ADMIN,
        seed_samples=False,
        geocoder_url=geocoder_url,
        geocoder_timeout_s=1,
    )
    return TestClient(create_app(settings))


def job(address: str) -> dict[str, object]:
    return {"kind": "repair", "address": address, "duration_min": 60, "date": "2026-12-01"}


def test_put_job_geocodes_an_address_once(tmp_path: Path, nominatim: FakeNominatim) -> None:
    with api_for(tmp_path, nominatim.url) as client:
        first = client.put("/v1/jobs/G1", json=job(CATHEDRAL), headers=DISPATCHER)
        assert first.status_code == 201, first.text
        assert first.json()["location"] == {"lat": PLACES[CATHEDRAL][0], "lon": PLACES[CATHEDRAL][1]}
        second = client.put("/v1/jobs/G2", json=job(CATHEDRAL.upper()), headers=DISPATCHER)
        assert second.status_code == 201 and second.json()["location"] == first.json()["location"]
        given = client.put(
            "/v1/jobs/G3", json={**job("Somewhere"), "location": {"lat": 60.0, "lon": 25.0}}, headers=DISPATCHER
        )
        assert given.status_code == 201
    assert nominatim.searches == 1  # G2 from the cache, G3 had a location


def test_put_job_with_an_unknown_address_is_422_and_writes_nothing(tmp_path: Path, nominatim: FakeNominatim) -> None:
    with api_for(tmp_path, nominatim.url) as client:
        refused = client.put("/v1/jobs/G1", json=job("Olematon tie 404"), headers=DISPATCHER)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["field"] == "address"
        assert refused.json()["detail"] == "no place found for 'Olematon tie 404'"
        assert client.get("/v1/jobs/G1", headers=DISPATCHER).status_code == 404
        again = client.put("/v1/jobs/G1", json=job("Olematon tie 404"), headers=DISPATCHER)
        assert again.status_code == 422
    assert nominatim.searches == 1


def test_put_job_with_the_geocoder_down_is_503_and_writes_nothing(tmp_path: Path) -> None:
    url = dead_url()
    with api_for(tmp_path, url) as client:
        refused = client.put("/v1/jobs/G1", json=job(CATHEDRAL), headers=DISPATCHER)
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["field"] == "address" and url in problem["detail"]
        assert client.get("/v1/jobs/G1", headers=DISPATCHER).status_code == 404
        assert client.get("/v1/jobs", params={"date": "2026-12-01"}, headers=DISPATCHER).json() == []
