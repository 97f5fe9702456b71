"""The ``dispatch`` command line: plan a day from a file and show it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dispatch.dayfile import DayFileError, load_day
from dispatch.export import plan_geojson, plan_json
from dispatch.kpis import compute_kpis
from dispatch.mapping import Day
from solver import RELOAD_ID, Solution, SolveOptions, prepare, solve
from solver import Progress as SolveProgress

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Plan field installation and repair days.")
console = Console()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the solver does.")] = False) -> None:
    """Plan field installation and repair days."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")


def _clock(day: Day, seconds: int) -> str:
    return day.to_datetime(seconds).strftime("%H:%M")


def print_plan(day: Day, solution: Solution) -> None:
    """Each route as a table, then the unassigned jobs with reasons, then the figures."""
    jobs = day.stops()
    for route in solution.routes:
        name = day.technician_names.get(route.technician_id, "")
        if not route.visits:
            console.print(f"[dim]{route.technician_id} {name}: no visits[/dim]")
            continue
        lunch = ""
        if route.lunch is not None:
            lunch = f", lunch {_clock(day, route.lunch.start_s)}–{_clock(day, route.lunch.end_s)}"
        table = Table(
            title=(
                f"{route.technician_id} {name}: leaves {_clock(day, route.start_s)}, "
                f"back {_clock(day, route.end_s)}{lunch}"
            ),
            title_justify="left",
        )
        for column in ("#", "arrival", "start", "window", "job", "kind", "min", "travel"):
            table.add_column(column, justify="right" if column in ("#", "min", "travel") else "left")
        for seq, visit in enumerate(route.visits, start=1):
            job = jobs[visit.job_id]
            window = " ".join(f"{_clock(day, w.start_s)}–{_clock(day, w.end_s)}" for w in job.windows) or "any"
            if job.deadline_s is not None:
                window += f" by {_clock(day, job.deadline_s)}"
            crew = " (crew)" if job.crew_size == 2 else ""
            if job.id == RELOAD_ID:
                table.add_row(
                    str(seq),
                    _clock(day, visit.arrival_s),
                    _clock(day, visit.start_s),
                    "",
                    "depot",
                    "restock",
                    str(job.duration_s // 60),
                    f"{visit.travel_s / 60:.0f} min",
                )
                continue
            table.add_row(
                str(seq),
                _clock(day, visit.arrival_s),
                _clock(day, visit.start_s),
                window,
                f"{job.id}{crew}",
                f"{job.kind.value} P{job.priority}",
                str(job.duration_s // 60),
                f"{visit.travel_s / 60:.0f} min",
            )
        console.print(table)
    if solution.unassigned:
        table = Table(title="Unassigned jobs", title_justify="left")
        table.add_column("job")
        table.add_column("reason")
        for u in solution.unassigned:
            table.add_row(u.job_id, u.reason)
        console.print(table)
    k = compute_kpis(day.problem, solution)
    console.print(
        f"[bold]Jobs served {k.jobs_served}/{k.jobs_total}[/bold] ({k.served_share:.0%}) · "
        f"travel share {k.travel_share:.1%} · utilisation {k.utilisation:.1%} · "
        f"overtime {k.overtime_min:.0f} min · partner share {k.partner_share:.0%} · "
        f"SLA kept {k.sla_kept}/{k.sla_jobs} · cost {k.cost_eur:,.2f} € · "
        f"solved in {solution.stats.wall_time_s:.1f} s"
    )


def prepare_search() -> None:
    """Have the compiled search ready before the time limit starts counting (it is
    compiled on this machine's first run, about 10 s; loaded from cache after that)."""
    if not prepare():
        with console.status("Preparing the search (compiled on this machine's first run, about 10 s)"):
            prepare(wait=True)


@contextmanager
def progress_bar() -> Iterator[Callable[[SolveProgress], None]]:
    """A transient progress bar on the console; yields the solver's progress callback."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("Optimizing", total=1.0, info="")

        def on_progress(p: SolveProgress) -> None:
            bar.update(task, completed=p.fraction, info=f"{p.phase}, {p.solutions} solutions")

        yield on_progress


@app.command()
def plan(
    file: Annotated[Path, typer.Argument(help="A .json day file, or a .csv of jobs (technicians.csv beside it).")],
    date: Annotated[str | None, typer.Option(help="Plan date YYYY-MM-DD (default: the file's date).")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="Seconds the solver may use.")] = 10.0,
    technicians: Annotated[Path | None, typer.Option(help="Technicians CSV for a jobs CSV.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write OUT.json and OUT.geojson (default: out/plan-DATE).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the search order.")] = 0,
) -> None:
    """Plan one day, print each route and the unassigned jobs, and write the plan."""
    if technicians is not None and file.suffix.lower() != ".csv":
        console.print(
            "[red]Cannot read the day:[/red] --technicians goes with a jobs CSV; a JSON day file holds its "
            "technicians itself",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    try:
        day = load_day(file, date, technicians)
    except DayFileError as exc:
        console.print(f"[red]Cannot read the day:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    problem = day.problem
    target = out or Path("out") / f"plan-{day.date.isoformat()}"
    _check_writable(target.parent, "--out")
    console.print(
        f"Planning {day.date} ({day.region or file.name}): {len(problem.technicians)} technicians, "
        f"{len(problem.jobs)} jobs, {time_limit:g} s"
    )
    prepare_search()
    with progress_bar() as on_progress:
        solution = solve(problem, SolveOptions(time_limit_s=time_limit, seed=seed), progress=on_progress)
    print_plan(day, solution)
    json_path = target.with_name(target.name + ".json")
    geo_path = target.with_name(target.name + ".geojson")
    json_path.write_text(json.dumps(plan_json(day, solution), indent=2, ensure_ascii=False), encoding="utf-8")
    geo_path.write_text(json.dumps(plan_geojson(day, solution), ensure_ascii=False), encoding="utf-8")
    console.print(f"Wrote {json_path} and {geo_path}")


def _check_writable(folder: Path, option: str) -> None:
    """Exit with a message naming ``option`` when ``folder`` cannot be made or written to:
    checked before solving, so that no solve is lost to a path that cannot take it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        console.print(f"[red]Cannot write the plan:[/red] {option}: {folder}: {exc.strerror}", soft_wrap=True)
        raise typer.Exit(2) from None
    if not os.access(folder, os.W_OK):
        console.print(f"[red]Cannot write the plan:[/red] {option}: {folder} is not writable", soft_wrap=True)
        raise typer.Exit(2)


@app.command("solve-vrplib")
def solve_vrplib_command(
    file: Annotated[Path, typer.Argument(help="A VRPLIB VRPTW instance (.vrp), e.g. Solomon C101.")],
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="Seconds the solver may use.")] = 10.0,
    out: Annotated[Path | None, typer.Option(help="Write the routes and cost here (default: out/NAME.json).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the search order.")] = 0,
) -> None:
    """Solve a VRPLIB VRPTW file; write {"routes": [[customer, ...], ...], "cost": distance}.

    Customers are numbered as in the .sol files (1 … n-1, depot left out); the
    cost is the DIMACS distance (truncated to one decimal). Exit 1 when some
    customer could not be served, 2 when the file cannot be read.
    """
    from dispatch.vrplib import VrplibError, load_vrplib, solve_instance

    try:
        instance = load_vrplib(file)
    except VrplibError as exc:
        console.print(f"[red]Cannot read the instance:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(
        f"Solving {instance.name}: {instance.customers} customers, at most {instance.vehicles} vehicles "
        f"of capacity {instance.capacity}, {time_limit:g} s"
    )
    prepare_search()
    with progress_bar() as on_progress:
        result = solve_instance(instance, time_limit, seed=seed, progress=on_progress)
    target = out or Path("out") / f"{instance.name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"routes": result.routes, "cost": result.cost}) + "\n", encoding="utf-8")
    console.print(
        f"[bold]Cost {result.cost:.1f}[/bold] with {len(result.routes)} routes, "
        f"solved in {result.solution.stats.wall_time_s:.1f} s; wrote {target}"
    )
    if result.unserved:
        console.print(f"[red]{len(result.unserved)} customers not served:[/red] {result.unserved}", soft_wrap=True)
        raise typer.Exit(1)
