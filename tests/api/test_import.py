"""POST /v1/jobs/import: the good rows of a jobs CSV are stored, each bad row is
listed with its line and field and writes nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api import create_app
from dispatch import catalog, imports
from dispatch.booking import BookingService
from dispatch.db import make_engine, migrate
from dispatch.errors import Invalid
from dispatch.inputs import JobIn
from dispatch.settings import BookingSettings, Settings
from dispatch.tables import JobRow
from tests.api.conftest import ADMIN, DISPATCHER, SAMPLE_DAY, auth
from tests.conftest import HELSINKI
from tests.dispatch.test_geocode import CATHEDRAL, PLACES, FakeNominatim, dead_url

SAMPLE_JOBS = Path(__file__).resolve().parents[2] / "data" / "samples" / "helsinki-day" / "jobs.csv"
TECHNICIAN = {
    "name": "Aino",
    "home": {"lat": 60.17, "lon": 24.94},
    "skills": {"kitchen": 2},
    "shifts": [{"date": "2026-12-01", "start": "08:00", "end": "16:00"}],
}


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    with FakeNominatim() as fake:
        yield fake


def api(database_url: str, geocoder_url: str, seed: bool = False) -> TestClient:
    settings = Settings(
        database_url=database_url,
        admin_token=ADMIN,
        seed_samples=seed,
        geocoder_url=geocoder_url,
        geocoder_timeout_s=1,
    )
    return TestClient(create_app(settings))


def upload(
    client: TestClient, data: bytes | str, headers: dict[str, str] = DISPATCHER, **params: str
) -> tuple[int, dict[str, Any]]:
    body = data.encode() if isinstance(data, str) else data
    response = client.post(
        "/v1/jobs/import", files={"file": ("jobs.csv", body, "text/csv")}, params=params, headers=headers
    )
    return response.status_code, response.json()


def job_ids(client: TestClient, date: str) -> list[str]:
    return [j["id"] for j in client.get("/v1/jobs", params={"date": date}, headers=DISPATCHER).json()]


@pytest.mark.clock
def test_the_sample_jobs_csv_with_a_date_column_imports_all_180_jobs(
    database_url: str, nominatim: FakeNominatim
) -> None:
    day = (dt.date.fromisoformat(SAMPLE_DAY) + dt.timedelta(days=1)).isoformat()  # not the seeded day
    frame = pd.read_csv(SAMPLE_JOBS, dtype=str, keep_default_na=False)
    frame.insert(1, "date", day)
    with api(database_url, nominatim.url, seed=True) as client:  # the sample technicians, for the pinned jobs
        status, out = upload(client, frame.to_csv(index=False))
        assert status == 200, out
        assert out["errors"] == []
        assert out["imported"] == 180 and out["job_ids"] == list(frame["id"])
        assert sorted(job_ids(client, day)) == sorted(frame["id"])
        assert job_ids(client, SAMPLE_DAY) == []  # the seeded jobs of the same ids were replaced
        first = client.get("/v1/jobs/J0001", headers=DISPATCHER).json()
    nine, ten = (dt.datetime.combine(dt.date.fromisoformat(day), dt.time(h), tzinfo=HELSINKI) for h in (9, 10))
    assert first["windows"] == [{"start": nine.isoformat(), "end": ten.isoformat()}]
    assert first["location"] == {"lat": 60.305608, "lon": 25.031643}
    assert first["customer"] == {"name": "Antti Kinnunen", "phone": "+358 40 370 3277"}
    assert first["skills"] == {"kitchen": 2} and first["duration_min"] == 360
    assert nominatim.searches == 0  # every row had coordinates


BROKEN = f"""id,date,kind,lat,lon,address,duration_min,windows,pinned_technician_id
G1,2026-12-01,install,60.17,24.94,Mannerheimintie 1,120,09:00-11:00,
B1,2026-12-01,fix,60.17,24.94,,60,,
B2,2026-12-01,repair,60.17,24.94,,-30,,
B3,2026-12-01,measure,60.17,24.94,,60,10:00-09:00,
B4,2026-12-01,repair,95,24.94,,60,,
B5,2026-12-01,install,60.17,24.94,,60,,T99
G2,2026-12-01,repair,,,"{CATHEDRAL}",45,13:00-15:00,T01
B6,2026-12-01,repair,,,Olematon tie 404,45,,
G3,,measure,60.2,24.9,,30,08:00-09:00,
B7,2026-12-01,repair,24.94,60.17,,60,,
"""


def test_broken_rows_are_listed_by_line_and_field_and_the_good_rows_imported(
    database_url: str, nominatim: FakeNominatim
) -> None:
    with api(database_url, nominatim.url) as client:
        assert client.put("/v1/technicians/T01", json=TECHNICIAN, headers=DISPATCHER).status_code == 201
        status, out = upload(client, BROKEN, date="2026-12-01")  # G3 takes its date from the query
        assert status == 200, out
        assert out["imported"] == 3 and out["job_ids"] == ["G1", "G2", "G3"]
        found = {(e["line"], e["field"]) for e in out["errors"]}
        assert found == {
            (3, "kind"),
            (4, "duration_min"),
            (5, "windows"),
            (6, "lat"),
            (7, "pinned_technician_id"),
            (9, "address"),
            (11, "lat"),
        }
        messages = {e["line"]: e["message"] for e in out["errors"]}
        assert "fix" in messages[3] and "window ends before it starts" in messages[5]
        assert "T99 does not exist" in messages[7] and messages[9] == "no place found for 'Olematon tie 404'"
        assert "km from the nearest home of region helsinki's technicians" in messages[11]
        assert job_ids(client, "2026-12-01") == ["G1", "G2", "G3"]
        for bad in ("B1", "B2", "B3", "B4", "B5", "B6", "B7"):
            assert client.get(f"/v1/jobs/{bad}", headers=DISPATCHER).status_code == 404
        g2 = client.get("/v1/jobs/G2", headers=DISPATCHER).json()
    assert g2["location"] == {"lat": PLACES[CATHEDRAL][0], "lon": PLACES[CATHEDRAL][1]}
    assert g2["pinned_technician_id"] == "T01"
    assert nominatim.searches == 2  # the cathedral and the unknown address, once each


def test_a_row_that_fails_after_writing_leaves_nothing_behind(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The savepoint per row: a failure after the row's INSERT rolls back just that row."""
    engine = make_engine(database_url)
    migrate(engine)
    real_put_job = catalog.put_job

    def put_then_fail(session: Session, job_id: str, data: JobIn, *args: Any, **kwargs: Any) -> Any:
        stored = real_put_job(session, job_id, data, *args, **kwargs)
        if job_id.startswith("B"):
            raise Invalid("refused after the insert", "notes")
        return stored

    monkeypatch.setattr(imports.catalog, "put_job", put_then_fail)
    rows = "\n".join(f"{i},install,60.1,24.9,60,09:00-10:00" for i in ("B0", "G1", "B2", "G3", "B4"))
    data = f"id,kind,lat,lon,duration_min,windows\n{rows}\n".encode()
    with Session(engine) as session:
        result = imports.import_jobs(
            session,
            data,
            BookingService(ZoneInfo("Europe/Helsinki"), "helsinki", BookingSettings()),
            default_date=dt.date(2026, 12, 1),
            now=dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC),
        )
        session.commit()
    assert result.job_ids == ["G1", "G3"]
    assert [(e.line, e.field) for e in result.errors] == [(2, "notes"), (4, "notes"), (6, "notes")]
    with Session(engine) as session:
        assert list(session.exec(select(JobRow.id).order_by(col(JobRow.id))).all()) == ["G1", "G3"]
    engine.dispose()


NOT_A_JOBS_CSV: list[tuple[str, bytes]] = [
    ("a PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
    ("no id column", b"name,phone\nMatti,+358 40 1\n"),
    ("empty", b""),
    ("blank lines", b"\n\n\r\n"),
    ("a misspelt column", b"id,kind,lat,lon,duraton_min\nJ1,install,60,25,60\n"),
    ("not UTF-8", "id,address\nJ1,Häme\n".encode("utf-16")),
]


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("import") / "dispatch.db"
    with api(f"sqlite:///{path}", dead_url()) as client:
        yield client


@pytest.mark.parametrize(("what", "data"), NOT_A_JOBS_CSV, ids=[w for w, _ in NOT_A_JOBS_CSV])
def test_a_file_that_is_not_a_jobs_csv_is_422_naming_file(sqlite_client: TestClient, what: str, data: bytes) -> None:
    response = sqlite_client.post("/v1/jobs/import", files={"file": ("x.csv", data, "text/csv")}, headers=DISPATCHER)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "file"


def test_a_request_without_a_file_is_422_naming_file(sqlite_client: TestClient) -> None:
    response = sqlite_client.post("/v1/jobs/import", headers=DISPATCHER)
    assert response.status_code == 422 and response.json()["field"] == "file"


def test_only_a_dispatcher_imports(sqlite_client: TestClient) -> None:
    booking = sqlite_client.post("/v1/tokens", json={"role": "booking"}, headers=DISPATCHER).json()["token"]
    data = "id,kind,lat,lon,duration_min,date\nP1,install,60,25,60,2026-12-01\n"
    assert upload(sqlite_client, data, headers=auth(booking))[0] == 403
    assert upload(sqlite_client, data, headers={})[0] == 401
    assert sqlite_client.get("/v1/jobs/P1", headers=DISPATCHER).status_code == 404


def test_dates_times_ids_and_cells_are_checked_row_by_row(sqlite_client: TestClient) -> None:
    data = (
        "\ufeffid;date;lat;lon;duration_min;windows;release_at;notes\n"  # Excel: BOM and semicolons
        "R1;;60.1;24.9;60;09:00-10:00;;needs a date\n"
        'R2;;60.1;24.9;60;"2026-12-05T09:00+02:00/2026-12-05T11:00+02:00";;ISO window, no date needed\n'
        "R3;2026-12-06;60.1;24.9;60;;08:30;release on the row's date\n"
        "R2;2026-12-06;60.1;24.9;60;;;the same id again\n"
        "\n"
        "R4;2026-12-06;60.1;;60;;;no lon\n"
        "R5;2026-13-01;60.1;24.9;60;;;no such date\n"
        "R6;2026-12-06;60.1;24.9;60;;;too;many;cells\n"
        "R 7;2026-12-06;60.1;24.9;60;;;bad id\n"
        "R8;2026-12-06;60.1;24.9;sixty;9-10;;two bad cells\n"
    )
    status, out = upload(sqlite_client, data)
    assert status == 200, out
    assert out["job_ids"] == ["R2", "R3"]
    assert [(e["line"], e["field"]) for e in out["errors"]] == [
        (2, "date"),
        (5, "id"),
        (7, "lon"),
        (8, "date"),
        (9, "row"),
        (10, "id"),
        (11, "duration_min"),
        (11, "windows"),
    ]
    r2 = sqlite_client.get("/v1/jobs/R2", headers=DISPATCHER).json()
    assert r2["date"] == "2026-12-05" and r2["windows"][0]["start"] == "2026-12-05T09:00:00+02:00"
    r3 = sqlite_client.get("/v1/jobs/R3", headers=DISPATCHER).json()
    assert r3["date"] == "2026-12-06" and r3["release_at"] == "2026-12-06T08:30:00+02:00"


def test_a_skill_listed_twice_or_at_level_zero_fails_its_row_naming_skills(sqlite_client: TestClient) -> None:
    """Before, ``wardrobe:1;wardrobe:3`` was imported as wardrobe 3 with no error."""
    data = (
        "id;date;lat;lon;duration_min;skills\n"
        'S1;2026-12-06;60.1;24.9;60;"wardrobe:1;wardrobe:3"\n'
        "S2;2026-12-06;60.1;24.9;60;wardrobe:0\n"
        'S3;2026-12-06;60.1;24.9;60;"wardrobe:2;kitchen:1"\n'
    )
    status, out = upload(sqlite_client, data)
    assert status == 200, out
    assert out["job_ids"] == ["S3"], out
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(2, "skills"), (3, "skills")], out
    assert "each code once" in out["errors"][0]["message"], out


def test_work_over_several_days_imports_with_its_range_preferred_date_and_days(sqlite_client: TestClient) -> None:
    data = (
        "id,date_from,date_to,preferred_date,days,lat,lon,duration_min\n"
        "K1,2026-12-07,2026-12-11,2026-12-08,2,60.1,24.9,300\n"
        "K2,2026-12-07,,,1,60.1,24.9,60\n"
        "K3,2026-12-07,2026-12-11,2026-12-14,1,60.1,24.9,60\n"
        "K4,2026-12-07,2026-12-11,,0,60.1,24.9,60\n"
    )
    status, out = upload(sqlite_client, data, date="2026-12-01")
    assert status == 200, out
    assert out["job_ids"] == ["K1"]
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(3, "date_to"), (4, "preferred_date"), (5, "days")]
    k1 = sqlite_client.get("/v1/jobs/K1", headers=DISPATCHER).json()
    assert k1["date_range"] == {"from": "2026-12-07", "to": "2026-12-11"}
    assert (k1["preferred_date"], k1["days"], k1["date"]) == ("2026-12-08", 2, "2026-12-08")


def test_with_the_geocoder_down_address_rows_fail_and_the_rest_import(sqlite_client: TestClient) -> None:
    data = (
        "id,date,lat,lon,address,duration_min\n"
        f'D1,2026-12-07,,,"{CATHEDRAL}",60\n'
        "D2,2026-12-07,60.2,24.9,Somewhere 1,60\n"
        "D3,2026-12-07,,,Another street 5,60\n"
    )
    status, out = upload(sqlite_client, data)
    assert status == 200 and out["job_ids"] == ["D2"]
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(2, "address"), (4, "address")]
    assert all("could not be reached; give a location or try later" in e["message"] for e in out["errors"])


def test_every_row_of_a_file_with_broken_quotes_is_imported_or_reported(sqlite_client: TestClient) -> None:
    data = (
        "id,date,lat,lon,duration_min,notes\n"
        'Q1,2026-12-07,60.1,24.9,60,"Gate code 12"34"\n'
        "Q2,2026-12-07,60.1,24.9,60,plain\n"
        'Q3,2026-12-07,60.1,24.9,60,"never closed\n'
        "Q4,2026-12-07,60.1,24.9,60,after the broken one\n"
        'Q5,2026-12-07,60.1,24.9,60,"a ""quoted"" word"\n'
    )
    status, out = upload(sqlite_client, data)
    assert status == 200, out
    assert out["job_ids"] == ["Q2", "Q4", "Q5"]
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(2, "row"), (4, "row")]
    assert all("quotes do not pair up" in e["message"] for e in out["errors"])
    assert sqlite_client.get("/v1/jobs/Q5", headers=DISPATCHER).json()["notes"] == 'a "quoted" word'


def test_a_row_may_wait_for_a_job_on_a_later_row_of_the_same_file(sqlite_client: TestClient) -> None:
    """Before, the install was refused ("job M1 does not exist") because its measure came
    further down the file."""
    data = (
        "id,date,lat,lon,duration_min,depends_on\n"
        "I1,2026-12-08,60.1,24.9,120,M1\n"
        "M1,2026-12-07,60.1,24.9,60,\n"
        "I2,2026-12-08,60.1,24.9,120,NOPE\n"
    )
    status, out = upload(sqlite_client, data)
    assert status == 200, out
    assert sorted(out["job_ids"]) == ["I1", "M1"], out
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(4, "depends_on")], out["errors"]
    assert sqlite_client.get("/v1/jobs/I1", headers=DISPATCHER).json()["depends_on"]["job_id"] == "M1"
