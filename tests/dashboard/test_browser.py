"""The board in a real headless browser: Debian's chromium driven by Playwright.

``streamlit run dashboard/app.py`` runs against its own test API. A dispatcher
enters the token, optimizes the sample day and sees the map, the Gantt and the
KPI cards, and the unassigned list the API gave. A second test times how long
a 200-job plan takes to appear once its run is done (docs/board.md).

Set ``BOARD_SCREENSHOT=path.png`` to also copy the screenshot there.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from dashboard.charts import BARS, ROW_PX, UNASSIGNED_COLOUR
from tests.dashboard.conftest import ADMIN, APP, DAY, TIME_LIMIT_S, Api, free_port, start_api

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1600, "height": 2300}
WAIT_MS = 120_000

# Marks, in the page's own clock, when the plan run is seen done and when, for
# that plan, the KPI cards are in the page and the map and the Gantt have been
# drawn on their canvases (checked every 5 ms; a canvas counts as drawn once a
# 24x24 copy of it has a non-transparent pixel).
TIMING_PROBE = """
() => {
  window.__marks = {};
  const m = window.__marks;
  const probe = document.createElement("canvas");
  probe.width = probe.height = 24;
  const ctx = probe.getContext("2d", {willReadFrequently: true});
  const drawn = (selector) => {
    const canvas = document.querySelector(selector + " canvas");
    if (!canvas || !canvas.width || !canvas.height) return false;
    ctx.clearRect(0, 0, 24, 24);
    ctx.drawImage(canvas, 0, 0, 24, 24);
    const pixels = ctx.getImageData(0, 0, 24, 24).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) return true;
    return false;
  };
  const timer = setInterval(() => {
    const now = performance.now();
    if (m.done === undefined) {
      for (const bar of document.querySelectorAll('[data-testid="stProgress"]')) {
        const hit = /Plan #(\\d+): done/.exec(bar.textContent || "");
        if (hit) { m.done = now; m.plan = Number(hit[1]); }
      }
      return;
    }
    const id = m.plan;
    if (m.kpis === undefined &&
        document.querySelectorAll(`.st-key-board-kpis-${id} [data-testid="stMetric"]`).length >= 6) m.kpis = now;
    if (m.map === undefined && drawn(`.st-key-board-map-${id}`)) m.map = now;
    if (m.gantt === undefined && drawn(`.st-key-board-gantt-${id}`)) m.gantt = now;
    if (m.kpis !== undefined && m.map !== undefined && m.gantt !== undefined) {
      m.all = Math.max(m.kpis, m.map, m.gantt);
      clearInterval(timer);
    }
  }, 5);
}
"""


def colours(png: bytes) -> Counter[tuple[int, int, int]]:
    """How many pixels of each colour a screenshot has."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return Counter({colour: count for count, colour in image.getcolors(maxcolors=1 << 24) or []})


def has_colour(counts: Counter[tuple[int, int, int]], hex_colour: str, tolerance: int = 10) -> bool:
    """Some pixels within ``tolerance`` of ``hex_colour`` on every channel."""
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return any(all(abs(c - w) <= tolerance for c, w in zip(colour, want, strict=True)) for colour in counts)


def drawn_colours(canvas: Any, wanted: list[str], attempts: int = 20) -> list[str]:
    """The colours of ``wanted`` not (yet) on ``canvas``, after waiting up to 10 s for them.

    Scrolling an element into view for its screenshot can make Streamlit
    redraw the chart, so one look may catch a canvas mid-redraw."""
    missing = wanted
    for _ in range(attempts):
        counts = colours(canvas.screenshot())
        missing = [c for c in wanted if not has_colour(counts, c)]
        if not missing:
            break
        time.sleep(0.5)
    return missing


def install_chromium() -> str | None:
    """Debian's chromium, installed with apt-get when missing and we may; None if impossible."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found:
        return found
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            subprocess.run([*sudo, *command], check=True, env=env, capture_output=True, timeout=900)
        except (OSError, subprocess.SubprocessError):
            return None
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = install_chromium()
    if path is None:
        pytest.skip("Debian's chromium is not installed and `apt-get install chromium` was not possible here")
    return path


@pytest.fixture(scope="module")
def browser_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An API of its own (the AppTest flows change theirs), with no plan yet."""
    server, thread, url = start_api(tmp_path_factory.mktemp("browser-api") / "dispatch.db")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as http:
        yield Api(url, http)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def board_url(browser_api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on a free loopback port, against ``browser_api``."""
    port = free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "streamlit.log").open("w")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
    ]
    env = {**os.environ, "DISPATCH_API_URL": browser_api.url}
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    playwright = sync_api.sync_playwright().start()
    launched = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


def open_board(browser: Any, url: str) -> Any:
    """A new page on the board, signed in with the dispatcher token."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    token = page.get_by_label("Dispatcher token", exact=True).and_(page.locator("input"))
    token.fill(ADMIN)
    token.press("Enter")
    page.get_by_role("tab", name="Plan", exact=True).wait_for()
    return page


def reload_until(page: Any, text: str, tries: int = 5) -> None:
    """Press "Reload from the API" until ``text`` shows: a press made while the board
    still reruns from signing in is lost, and the board's one-minute cache of the day
    then keeps showing what an earlier test loaded."""
    timeout_error = pytest.importorskip("playwright.sync_api").TimeoutError
    for _ in range(tries - 1):
        page.get_by_role("button", name="Reload from the API").click()
        try:
            page.get_by_text(text).wait_for(timeout=WAIT_MS // tries)
            return
        except timeout_error:
            continue
    page.get_by_role("button", name="Reload from the API").click()
    page.get_by_text(text).wait_for()


def optimize(page: Any) -> None:
    limit = page.get_by_label("Time limit (s)").and_(page.locator("input"))
    limit.fill(str(TIME_LIMIT_S))
    page.get_by_role("button", name="Optimize").click()


def test_a_dispatcher_optimizes_the_sample_day_and_sees_map_gantt_kpis_and_unassigned(
    browser: Any, board_url: str, browser_api: Api, tmp_path: Path
) -> None:
    page = open_board(browser, board_url)
    page.get_by_text("No plan for this day yet").wait_for()
    optimize(page)
    page.locator('[class*="st-key-board-gantt-"] canvas').first.wait_for()
    plan = browser_api.newest_plan()
    plan_id = plan["id"]
    routes, unassigned, kpis = plan["routes"], plan["unassigned"], plan["kpis"]
    assert isinstance(routes, list) and isinstance(unassigned, list) and isinstance(kpis, dict)
    page.wait_for_timeout(1000)  # let both canvases finish drawing
    shot = tmp_path / "board.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000
    if target := os.environ.get("BOARD_SCREENSHOT"):
        shutil.copyfile(shot, target)

    busy = [r for r in routes if r["visits"]]
    route_map = page.locator(f".st-key-board-map-{plan_id} canvas")
    assert route_map.bounding_box()["height"] >= 500
    assert not drawn_colours(route_map, [UNASSIGNED_COLOUR])  # the unassigned crosses
    on_map = colours(route_map.screenshot())
    routes_drawn = {c for c, n in on_map.items() if n >= 20 and max(c) - min(c) > 60}  # saturated colours
    assert len(routes_drawn) >= min(len(busy), 20)  # one colour per technician

    gantt = page.locator(f".st-key-board-gantt-{plan_id} canvas")
    assert gantt.bounding_box()["height"] >= ROW_PX * len(busy)  # one row per busy technician
    missing = drawn_colours(gantt, [colour for _, colour, _ in BARS.values()])
    assert not missing, f"bars of these colours were not drawn: {missing}"

    cards = page.locator(f".st-key-board-kpis-{plan_id} [data-testid='stMetric']")
    assert cards.count() == 6
    labels = [cards.nth(i).locator("[data-testid='stMetricLabel']").inner_text().strip() for i in range(6)]
    assert labels == ["Jobs served", "Travel share", "Utilisation", "Overtime", "Partner share", "SLA kept"]
    served = cards.nth(0).locator("[data-testid='stMetricValue']").inner_text().strip()
    assert served == f"{kpis['jobs_served']} / {kpis['jobs_total']}"

    rows = page.locator(f".st-key-board-unassigned-{plan_id} table tbody tr")
    shown = [rows.nth(i).locator("td, th").first.inner_text().strip() for i in range(rows.count())]
    assert sorted(shown) == sorted(u["job_id"] for u in unassigned)

    page.close()


def test_a_200_job_plan_is_drawn_soon_after_its_run_is_done(
    browser: Any, board_url: str, browser_api: Api, tmp_path: Path, record_property: Any
) -> None:
    """Times, in the browser, from the poll seeing the run done to KPIs, map and Gantt drawn.

    The figure goes to the test's properties and ``board-timing.json``; the test
    asserts only that all three appeared (no wall-clock assertion)."""
    jobs = browser_api.http.get("/v1/jobs", params={"date": DAY}).json()
    for i, source in enumerate(jobs[: 200 - len(jobs)], start=1):
        body = {k: v for k, v in source.items() if k not in ("id", "status", "booked")}
        browser_api.http.put(f"/v1/jobs/X{i:03d}", json={**body, "pinned_technician_id": None}).raise_for_status()
    assert len(browser_api.http.get("/v1/jobs", params={"date": DAY}).json()) == 200

    page = open_board(browser, board_url)
    reload_until(page, "200 jobs, 70 technicians working.")
    page.evaluate(TIMING_PROBE)
    optimize(page)
    page.wait_for_function("() => window.__marks && window.__marks.all !== undefined", timeout=WAIT_MS)
    marks = page.evaluate("() => ({...window.__marks, origin: performance.timeOrigin})")
    plan = browser_api.http.get(f"/v1/plans/{marks['plan']}").json()
    assert plan["status"] == "done" and plan["kpis"]["jobs_total"] == 200
    finished_ms = dt.datetime.fromisoformat(plan["finished_at"]).timestamp() * 1000
    timing = {
        "jobs": 200,
        "plan": marks["plan"],
        # From the run's end as the API stored it (includes the board's poll interval).
        "from_run_end_ms": round(marks["origin"] + marks["all"] - finished_ms),
        "kpis_ms": round(marks["kpis"] - marks["done"]),
        "map_ms": round(marks["map"] - marks["done"]),
        "gantt_ms": round(marks["gantt"] - marks["done"]),
        "all_ms": round(marks["all"] - marks["done"]),
    }
    record_property("board_timing", timing)
    (tmp_path / "board-timing.json").write_text(json.dumps(timing, indent=2))
    print(f"board timing: {timing}")
    page.screenshot(path=str(tmp_path / "board-200.png"))
    page.close()


def test_the_today_page_shows_a_row_per_technician_of_the_published_plan(
    browser: Any, board_url: str, browser_api: Api
) -> None:
    """Publish the newest plan of the sample day (made here when the other tests did not),
    open Today from the navigation, find a busy technician's row, the re-plan button and
    the field report form."""
    versions = browser_api.http.get("/v1/plans", params={"date": DAY}).json()
    plan = browser_api.newest_plan() if versions else browser_api.plan()
    assert browser_api.http.post(f"/v1/plans/{plan['id']}/publish").status_code == 200
    routes = plan["routes"]
    assert isinstance(routes, list)
    busy = [r["technician_id"] for r in routes if r["visits"]]

    page = open_board(browser, board_url)
    page.get_by_role("link", name="Today").click()
    rows = page.locator(".st-key-today-summary table tbody tr")
    rows.first.wait_for()
    shown = [rows.nth(i).locator("td, th").first.inner_text().strip() for i in range(rows.count())]
    assert busy[0] in shown and sorted(shown) == sorted(busy)
    page.get_by_text("refreshes every").wait_for()
    page.get_by_role("button", name="Re-plan from now").wait_for()
    page.get_by_role("tab", name="Field report").click()
    page.get_by_role("button", name="Record report").wait_for()
    page.get_by_text("What happened").wait_for()
    page.close()


def test_the_week_page_shades_each_technician_s_day_by_its_load_and_opens_a_day_in_the_day_view(
    browser: Any, board_url: str, browser_api: Api, tmp_path: Path
) -> None:
    """The sample day planned (made here when the other tests did not): its week on the
    Week page, the grid drawn with loaded days shaded green and days off grey, and the
    link back to the day view."""
    if not browser_api.http.get("/v1/plans", params={"date": DAY}).json():
        browser_api.plan()
    page = open_board(browser, board_url)
    page.get_by_role("link", name="Week").click()
    grid = page.locator(".st-key-week-grid canvas").first
    try:
        grid.wait_for(timeout=60_000)
    finally:
        page.screenshot(path=str(tmp_path / "week.png"))
        if target := os.environ.get("WEEK_SCREENSHOT"):
            shutil.copyfile(tmp_path / "week.png", target)
    page.locator(".st-key-week-days canvas").first.wait_for()
    page.wait_for_timeout(1000)  # let the grid finish drawing
    page.screenshot(path=str(tmp_path / "week.png"))
    if target := os.environ.get("WEEK_SCREENSHOT"):
        shutil.copyfile(tmp_path / "week.png", target)
    missing = drawn_colours(page.locator(".st-key-week-grid"), ["#f0f0f0"])
    assert not missing, "no day off shaded grey"
    counts = colours(page.locator(".st-key-week-grid").screenshot())
    assert any(has_colour(counts, c, 4) for c in ("#eef8f0", "#c8ebd0", "#8fd19e", "#f4a3a3")), "no load shaded"
    day = dt.date.fromisoformat(DAY)
    page.get_by_role("link", name=f"Open {day:%a %d %b} in the day view").click()
    page.get_by_role("heading", name=f"Plan {day:%a %d %b %Y}").wait_for()
    page.close()


def test_an_absence_refused_stays_in_the_form_to_be_corrected(browser: Any, board_url: str) -> None:
    """A time mistyped in the absence form is refused with a message, and what the
    dispatcher typed is still there to correct (the form used to empty itself on submit)."""
    page = open_board(browser, board_url)
    page.get_by_role("link", name="Technicians").click()
    field = "[class*='st-key-absence_'][class*='_{}'] input"
    page.locator(field.format("from_time")).first.wait_for()
    page.locator(field.format("from_time")).first.fill("25:00")
    page.locator(field.format("reason")).first.fill("dentist")
    page.get_by_role("button", name="Add absence").click()
    page.get_by_text("An absence's times are written HH:MM").wait_for()
    assert page.locator(field.format("from_time")).first.input_value() == "25:00"
    assert page.locator(field.format("reason")).first.input_value() == "dentist"
    page.close()
