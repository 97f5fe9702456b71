"""Addresses to coordinates: geopy's Nominatim behind a cache in the database.

``CachedGeocoder`` is the ``catalog.Geocoder`` the service uses. It asks a
Nominatim server (the public one by default, or a self-hosted one: the URL is
``Settings.geocoder_url``) and stores every answer, a place found *and* no
place found, in the ``geocode_cache`` table under a normalised form of the
address, so one address never reaches the geocoder twice.

Failures are ``DispatchError`` s naming the field ``address``:

- nothing found → ``Invalid`` (422): "no place found for '...'";
- the geocoder cannot be reached, times out, refuses us or answers garbage →
  ``Unavailable`` (503). Such failures are not cached: the next call asks again.

The cache is written in its own short transaction, committed at once, so a
request that fails afterwards (a 422 for the job) still keeps the answer.
Callers on SQLite must therefore geocode before they start writing in their
own session (``catalog.put_job`` and ``dispatch.imports`` do), or the cache
write would wait for their write lock.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from geopy.adapters import URLLibAdapter
from geopy.exc import GeocoderQueryError, GeopyError
from geopy.geocoders import Nominatim
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dispatch.clock import SYSTEM_CLOCK, Clock
from dispatch.errors import Invalid, Unavailable
from dispatch.inputs import LatLon
from dispatch.settings import Settings
from dispatch.tables import GeocodeRow

log = logging.getLogger(__name__)
PUBLIC_NOMINATIM = "nominatim.openstreetmap.org"
MAX_QUERY = 500  # GeocodeRow.query


def normalise_address(address: str) -> str:
    """The cache key of an address: Unicode NFKC, case-folded, one space
    between words and ``", "`` between parts, so trivially different spellings
    of one address share an entry."""
    text = unicodedata.normalize("NFKC", address).casefold()
    text = re.sub(r"\s*,\s*", ", ", text)
    text = re.sub(r"\s+", " ", text).strip(" ,")
    return text[:MAX_QUERY]


@dataclass(frozen=True)
class NominatimTarget:
    """Where the geocoder lives, as geopy wants it: ``scheme`` and ``domain``
    (host, port and any path prefix of a self-hosted server)."""

    scheme: str
    domain: str

    @classmethod
    def parse(cls, url: str) -> NominatimTarget:
        """``https://nominatim.example.org:8080/nominatim`` → https, ``nominatim.example.org:8080/nominatim``."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"geocoder URL must be http(s)://host[:port][/path], got {url!r}")
        return cls(parts.scheme, parts.netloc + parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.domain}"


class CachedGeocoder:
    """Turns an address into a ``LatLon`` (see the module docstring); thread-safe."""

    def __init__(
        self,
        engine: Engine,
        url: str,
        user_agent: str,
        timeout_s: float,
        min_interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        stamps: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``min_interval_s`` spaces calls to the server (default: 1 s for the
        public Nominatim, as its usage policy asks; none for any other), timed by
        ``clock``; cached answers are stamped by ``stamps``."""
        self.engine = engine
        self.target = NominatimTarget.parse(url)
        # urllib: no retries behind our back, so ``timeout_s`` is the longest a caller waits
        # (system proxies, HTTP_PROXY and NO_PROXY, are respected)
        self.nominatim = Nominatim(
            domain=self.target.domain,
            scheme=self.target.scheme,
            user_agent=user_agent,
            timeout=timeout_s,
            adapter_factory=URLLibAdapter,
        )
        if min_interval_s is None:
            min_interval_s = 1.0 if self.target.domain.split(":")[0] == PUBLIC_NOMINATIM else 0.0
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._stamps = stamps
        self._last_call = -float("inf")
        self._pace = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> CachedGeocoder | None:
        """The geocoder ``settings`` describe; None when ``geocoder_url`` is empty (geocoding off)."""
        if not settings.geocoder_url.strip():
            return None
        return cls(
            engine,
            settings.geocoder_url,
            settings.geocoder_user_agent,
            settings.geocoder_timeout_s,
            stamps=settings.clock,
        )

    def __call__(self, address: str) -> LatLon:
        """The coordinates of ``address`` (Invalid when nothing is found, Unavailable when unreachable)."""
        key = normalise_address(address)
        if not key:
            raise Invalid("address: is empty, nothing to geocode", "address")
        with self._lock_for(key):
            row = self._cached(key)
            if row is None:
                row = self._ask(address.strip(), key)
        if row.lat is None or row.lon is None:
            raise Invalid(f"no place found for '{address.strip()}'", "address")
        return LatLon(lat=row.lat, lon=row.lon)

    def _lock_for(self, key: str) -> threading.Lock:
        """One lock per address, so concurrent requests for it make one call."""
        with self._locks_guard:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())

    def _cached(self, key: str) -> GeocodeRow | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(GeocodeRow, key)

    def _ask(self, address: str, key: str) -> GeocodeRow:
        place = self._query(address)
        row = GeocodeRow(query=key, created_at=self._stamps.now())
        if place is not None:
            lat, lon = float(place.latitude), float(place.longitude)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise Unavailable(f"the geocoder at {self.target.url} answered coordinates out of range", "address")
            row.lat, row.lon, row.display_name = lat, lon, str(place.address or "")[:1000]
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another process stored it meanwhile; same answer
                session.rollback()
        return row

    def _query(self, address: str) -> Any:
        unreachable = f"the geocoder at {self.target.url} could not be reached; give a location or try later"
        self._wait_turn()
        try:
            return self.nominatim.geocode(address, exactly_one=True)
        except GeocoderQueryError as exc:  # the server said 400: the query itself is unusable
            raise Invalid(f"the geocoder refused the address '{address}': {exc}", "address") from None
        except (GeopyError, OSError, ValueError) as exc:
            log.warning("geocoder %s failed: %r", self.target.url, exc)
            raise Unavailable(unreachable, "address") from None

    def _wait_turn(self) -> None:
        if self.min_interval_s <= 0:
            return
        with self._pace:
            wait = self._last_call + self.min_interval_s - self._clock()
            if wait > 0:
                time.sleep(wait)
            self._last_call = self._clock()
